//! Configuration of the canary judge: score groups and their weights, score thresholds, and the
//! per-metric analysis settings of Kayenta's `canary` analysis configuration.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::JudgeError;

/// Confidence level Kayenta's NetflixACAJudge uses for the Mann-Whitney interval.
pub const DEFAULT_CONFIDENCE_LEVEL: f64 = 0.98;
/// Kayenta's tolerance: the interval must clear `tolerance × |estimate|` to count as a change.
pub const DEFAULT_TOLERANCE: f64 = 0.25;
/// Kayenta's default outlier factor (`outliers.outlierFactor`).
pub const DEFAULT_OUTLIER_FACTOR: f64 = 3.0;

/// The whole judge configuration: groups and weights, thresholds and one entry per metric.
///
/// Field names are snake_case; Kayenta's camelCase spellings (`mustHaveData`, `effectSize`,
/// `allowedIncrease`, …) are accepted as aliases when deserialising.
///
/// # Example
///
/// ```
/// use rollback_core::judge::{GroupConfig, JudgeConfig, MetricConfig, ScoreThresholds};
///
/// let config = JudgeConfig::new(
///     vec![GroupConfig::new("latency", 60.0), GroupConfig::new("errors", 40.0)],
///     vec![MetricConfig::new("p99_latency"), MetricConfig::new("error_rate").critical()],
///     ScoreThresholds { pass: 90.0, marginal: 75.0 },
/// );
/// config.validate()?;
/// # Ok::<(), rollback_core::judge::JudgeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// Score groups; every metric input names one. Weights must add up to 100.
    pub groups: Vec<GroupConfig>,
    /// Analysis settings, one per metric name.
    pub metrics: Vec<MetricConfig>,
    /// Summary-score thresholds for Pass and Marginal.
    pub thresholds: ScoreThresholds,
    /// Confidence level of the Mann-Whitney interval (Kayenta: 0.98).
    #[serde(default = "default_confidence_level", alias = "confLevel")]
    pub confidence_level: f64,
    /// Fraction of `|estimate|` the interval must clear (Kayenta: 0.25).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
}

fn default_confidence_level() -> f64 {
    DEFAULT_CONFIDENCE_LEVEL
}

fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}

fn default_outlier_factor() -> f64 {
    DEFAULT_OUTLIER_FACTOR
}

impl JudgeConfig {
    /// A configuration with Kayenta's confidence level (0.98) and tolerance (0.25).
    pub fn new(
        groups: Vec<GroupConfig>,
        metrics: Vec<MetricConfig>,
        thresholds: ScoreThresholds,
    ) -> Self {
        Self {
            groups,
            metrics,
            thresholds,
            confidence_level: DEFAULT_CONFIDENCE_LEVEL,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Checks every field; [`judge`](super::judge()) calls this first.
    ///
    /// # Errors
    ///
    /// [`JudgeError::InvalidConfig`] naming the first offending field, what is wrong and what is
    /// accepted.
    pub fn validate(&self) -> Result<(), JudgeError> {
        let invalid = |field: String, problem: String, accepted: &str| JudgeError::InvalidConfig {
            field,
            problem,
            accepted: accepted.to_string(),
        };
        if self.groups.is_empty() {
            return Err(invalid(
                "groups".into(),
                "is empty".into(),
                "at least one group with a weight",
            ));
        }
        let mut names = BTreeSet::new();
        let mut weight_sum = 0.0;
        for (i, group) in self.groups.iter().enumerate() {
            if group.name.trim().is_empty() {
                return Err(invalid(
                    format!("groups[{i}].name"),
                    "is empty".into(),
                    "a non-empty group name",
                ));
            }
            if !names.insert(group.name.as_str()) {
                return Err(invalid(
                    format!("groups[{i}].name"),
                    format!("repeats the group `{}`", group.name),
                    "each group declared once",
                ));
            }
            if !(group.weight.is_finite() && group.weight >= 0.0) {
                return Err(invalid(
                    format!("groups[{i}].weight"),
                    format!("is {}", group.weight),
                    "a finite weight >= 0",
                ));
            }
            weight_sum += group.weight;
        }
        if (weight_sum - 100.0).abs() > 1e-6 {
            return Err(invalid(
                "groups[].weight".into(),
                format!("adds up to {weight_sum}"),
                "weights that add up to 100",
            ));
        }
        let t = &self.thresholds;
        if !(t.pass.is_finite() && (0.0..=100.0).contains(&t.pass)) {
            return Err(invalid(
                "thresholds.pass".into(),
                format!("is {}", t.pass),
                "a number from 0 to 100",
            ));
        }
        if !(t.marginal.is_finite() && (0.0..=t.pass).contains(&t.marginal)) {
            return Err(invalid(
                "thresholds.marginal".into(),
                format!("is {} (pass is {})", t.marginal, t.pass),
                "a number from 0 to thresholds.pass",
            ));
        }
        if !(self.confidence_level > 0.0 && self.confidence_level < 1.0) {
            return Err(invalid(
                "confidence_level".into(),
                format!("is {}", self.confidence_level),
                "a number with 0 < level < 1, e.g. 0.98",
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(invalid(
                "tolerance".into(),
                format!("is {}", self.tolerance),
                "a finite number >= 0, e.g. 0.25",
            ));
        }
        let mut metric_names = BTreeSet::new();
        for (i, metric) in self.metrics.iter().enumerate() {
            if metric.name.trim().is_empty() {
                return Err(invalid(
                    format!("metrics[{i}].name"),
                    "is empty".into(),
                    "a non-empty metric name",
                ));
            }
            if !metric_names.insert(metric.name.as_str()) {
                return Err(invalid(
                    format!("metrics[{i}].name"),
                    format!("repeats the metric `{}`", metric.name),
                    "each metric configured once",
                ));
            }
            metric.validate(i)?;
        }
        Ok(())
    }

    /// The configuration of the metric called `name`, if any.
    pub fn metric(&self, name: &str) -> Option<&MetricConfig> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// A score group and its weight in the summary score (percent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Group name, as named by [`MetricInput::group`](super::MetricInput::group).
    pub name: String,
    /// Weight in percent; the weights of all groups add up to 100.
    pub weight: f64,
}

impl GroupConfig {
    /// A group called `name` with weight `weight` (percent).
    pub fn new(name: impl Into<String>, weight: f64) -> Self {
        Self {
            name: name.into(),
            weight,
        }
    }
}

/// Summary-score thresholds (0–100): `score >= pass` is Pass, `score >= marginal` is Marginal,
/// anything lower is Fail.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreThresholds {
    /// Lowest score that passes.
    pub pass: f64,
    /// Lowest score that is marginal.
    pub marginal: f64,
}

/// Analysis settings of one metric (Kayenta's `analysisConfigurations.canary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// Metric name, as named by [`MetricInput::name`](super::MetricInput::name).
    pub name: String,
    /// Which changes count against the canary (default: either).
    #[serde(default)]
    pub direction: Direction,
    /// What to do with NaN values (default: remove).
    #[serde(default, alias = "nanStrategy")]
    pub nan_strategy: NanStrategy,
    /// Outlier handling (default: keep).
    #[serde(default)]
    pub outliers: OutlierConfig,
    /// Effect-size measure and the allowed and critical changes.
    #[serde(default, alias = "effectSize")]
    pub effect_size: EffectSizeConfig,
    /// A critical metric that fails (beyond its critical effect size) or has no data fails the
    /// whole judgement.
    #[serde(default)]
    pub critical: bool,
    /// Missing data counts as a failure of this metric in its group score.
    #[serde(default, alias = "mustHaveData")]
    pub must_have_data: bool,
    /// The metric is classified and reported but takes no part in the score.
    #[serde(default)]
    pub muted: bool,
}

impl MetricConfig {
    /// Kayenta's defaults for the metric `name`: direction either, NaN removed, outliers kept,
    /// mean-ratio effect size with no allowed change, not critical, data not required, not muted.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            direction: Direction::default(),
            nan_strategy: NanStrategy::default(),
            outliers: OutlierConfig::default(),
            effect_size: EffectSizeConfig::default(),
            critical: false,
            must_have_data: false,
            muted: false,
        }
    }

    /// Sets the direction of change that counts.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Sets the NaN strategy.
    pub fn nan_strategy(mut self, strategy: NanStrategy) -> Self {
        self.nan_strategy = strategy;
        self
    }

    /// Removes outliers beyond `factor` interquartile ranges (see [`OutlierConfig`]).
    pub fn remove_outliers(mut self, factor: f64) -> Self {
        self.outliers = OutlierConfig {
            strategy: OutlierStrategy::Remove,
            factor,
        };
        self
    }

    /// Sets the effect-size measure and thresholds.
    pub fn effect_size(mut self, effect_size: EffectSizeConfig) -> Self {
        self.effect_size = effect_size;
        self
    }

    /// Marks the metric critical.
    pub fn critical(mut self) -> Self {
        self.critical = true;
        self
    }

    /// Marks the metric as one that must have data.
    pub fn must_have_data(mut self) -> Self {
        self.must_have_data = true;
        self
    }

    /// Mutes the metric: reported, not scored.
    pub fn muted(mut self) -> Self {
        self.muted = true;
        self
    }

    fn validate(&self, index: usize) -> Result<(), JudgeError> {
        let field = |name: &str| format!("metrics[{index}].{name}");
        if self.outliers.strategy == OutlierStrategy::Remove
            && !(self.outliers.factor.is_finite() && self.outliers.factor > 0.0)
        {
            return Err(JudgeError::InvalidConfig {
                field: field("outliers.factor"),
                problem: format!("is {}", self.outliers.factor),
                accepted: "a finite factor > 0, e.g. 3.0".into(),
            });
        }
        let t = self.effect_size.thresholds();
        let checks = [
            ("effect_size.allowed_increase", t.allowed_increase),
            ("effect_size.allowed_decrease", t.allowed_decrease),
            ("effect_size.critical_increase", t.critical_increase),
            ("effect_size.critical_decrease", t.critical_decrease),
        ];
        for (name, value) in checks {
            let ok = match self.effect_size.measure {
                EffectSizeMeasure::MeanRatio => value.is_finite() && value > 0.0,
                EffectSizeMeasure::Cles => (0.0..=1.0).contains(&value),
            };
            if !ok {
                let accepted = match self.effect_size.measure {
                    EffectSizeMeasure::MeanRatio => "a mean ratio > 0, e.g. 1.1 for +10 %",
                    EffectSizeMeasure::Cles => "a probability from 0 to 1, e.g. 0.6",
                };
                return Err(JudgeError::InvalidConfig {
                    field: field(name),
                    problem: format!("is {value}"),
                    accepted: accepted.into(),
                });
            }
        }
        Ok(())
    }
}

/// Which direction of change counts against the canary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only an increase (e.g. latency, errors) can fail the metric.
    Increase,
    /// Only a decrease (e.g. throughput, success rate) can fail the metric.
    Decrease,
    /// Both directions can fail the metric.
    #[default]
    Either,
}

impl Direction {
    pub(crate) fn allows_increase(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }

    pub(crate) fn allows_decrease(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}

/// What to do with NaN values before the comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop them; a sample left empty is "no data".
    #[default]
    Remove,
    /// Replace them with 0; an empty sample then passes (Kayenta's behaviour).
    Replace,
}

/// Outlier handling (Kayenta's `outliers: {strategy, outlierFactor}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierConfig {
    /// Keep or remove outliers (default: keep).
    #[serde(default)]
    pub strategy: OutlierStrategy,
    /// IQR factor of the fences (default 3.0).
    #[serde(default = "default_outlier_factor", alias = "outlierFactor")]
    pub factor: f64,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self {
            strategy: OutlierStrategy::Keep,
            factor: DEFAULT_OUTLIER_FACTOR,
        }
    }
}

/// Whether outliers are removed before the comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    /// Keep every value.
    #[default]
    Keep,
    /// Remove values outside the fences `min(P1, Q1 - factor·IQR)` and
    /// `max(P99, Q3 + factor·IQR)` (R-7 percentiles), as Kayenta's `IQRDetector` with
    /// `reduceSensitivity = true`.
    Remove,
}

/// Effect-size measure and thresholds (Kayenta's `effectSize`).
///
/// A metric is High only if its interval says so *and* the effect size is at least
/// `allowed_increase`; Low only if the effect size is at most `allowed_decrease`. A critical
/// metric fails the whole judgement only beyond `critical_increase` / `critical_decrease`.
/// Unset thresholds default to the "no change" value of the measure: 1.0 for the mean ratio,
/// 0.5 for CLES. When the effect size cannot be computed (a mean of 0) it is ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectSizeConfig {
    /// The measure (default: mean ratio).
    #[serde(default)]
    pub measure: EffectSizeMeasure,
    /// Smallest effect size that is a real increase.
    #[serde(default, alias = "allowedIncrease")]
    pub allowed_increase: Option<f64>,
    /// Largest effect size that is a real decrease.
    #[serde(default, alias = "allowedDecrease")]
    pub allowed_decrease: Option<f64>,
    /// Smallest effect size of a critical increase.
    #[serde(default, alias = "criticalIncrease")]
    pub critical_increase: Option<f64>,
    /// Largest effect size of a critical decrease.
    #[serde(default, alias = "criticalDecrease")]
    pub critical_decrease: Option<f64>,
}

impl EffectSizeConfig {
    /// The thresholds with unset ones replaced by the measure's neutral value.
    pub fn thresholds(&self) -> EffectSizeThresholds {
        let neutral = self.measure.neutral();
        EffectSizeThresholds {
            allowed_increase: self.allowed_increase.unwrap_or(neutral),
            allowed_decrease: self.allowed_decrease.unwrap_or(neutral),
            critical_increase: self.critical_increase.unwrap_or(neutral),
            critical_decrease: self.critical_decrease.unwrap_or(neutral),
        }
    }
}

/// Effect-size thresholds with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffectSizeThresholds {
    /// Smallest effect size that is a real increase.
    pub allowed_increase: f64,
    /// Largest effect size that is a real decrease.
    pub allowed_decrease: f64,
    /// Smallest effect size of a critical increase.
    pub critical_increase: f64,
    /// Largest effect size of a critical decrease.
    pub critical_decrease: f64,
}

/// How the size of a change is measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EffectSizeMeasure {
    /// `mean(experiment) / mean(control)`; undefined when either mean is 0.
    #[default]
    #[serde(rename = "meanRatio", alias = "mean_ratio")]
    MeanRatio,
    /// Common-language effect size: the probability that an experiment value exceeds a control
    /// value, ties counting one half (`W / (n_x n_y)`).
    #[serde(rename = "cles")]
    Cles,
}

impl EffectSizeMeasure {
    /// The value meaning "no change": 1 for the mean ratio, 0.5 for CLES.
    pub fn neutral(self) -> f64 {
        match self {
            EffectSizeMeasure::MeanRatio => 1.0,
            EffectSizeMeasure::Cles => 0.5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> JudgeConfig {
        JudgeConfig::new(
            vec![GroupConfig::new("a", 70.0), GroupConfig::new("b", 30.0)],
            vec![MetricConfig::new("m1"), MetricConfig::new("m2")],
            ScoreThresholds {
                pass: 90.0,
                marginal: 75.0,
            },
        )
    }

    fn field_of(err: JudgeError) -> String {
        match err {
            JudgeError::InvalidConfig { field, .. } => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn valid_config_passes_validation() {
        assert_eq!(valid().validate(), Ok(()));
    }

    #[test]
    fn weights_not_adding_up_to_100_are_rejected_naming_the_field() {
        let mut c = valid();
        c.groups[1].weight = 20.0;
        let err = c.validate().expect_err("weights add up to 90");
        assert!(err.to_string().contains("add up to 100"), "{err}");
        assert_eq!(field_of(err), "groups[].weight");
    }

    #[test]
    fn marginal_above_pass_is_rejected() {
        let mut c = valid();
        c.thresholds.marginal = 95.0;
        assert_eq!(
            field_of(c.validate().expect_err("marginal > pass")),
            "thresholds.marginal"
        );
    }

    #[test]
    fn duplicate_groups_and_metrics_are_rejected() {
        let mut c = valid();
        c.groups[1].name = "a".into();
        assert_eq!(
            field_of(c.validate().expect_err("dup group")),
            "groups[1].name"
        );
        let mut c = valid();
        c.metrics[1].name = "m1".into();
        assert_eq!(
            field_of(c.validate().expect_err("dup metric")),
            "metrics[1].name"
        );
    }

    #[test]
    fn cles_thresholds_must_be_probabilities() {
        let mut c = valid();
        c.metrics[0].effect_size = EffectSizeConfig {
            measure: EffectSizeMeasure::Cles,
            allowed_increase: Some(1.5),
            ..EffectSizeConfig::default()
        };
        assert_eq!(
            field_of(c.validate().expect_err("cles 1.5")),
            "metrics[0].effect_size.allowed_increase"
        );
    }

    #[test]
    fn kayenta_spellings_deserialize() {
        let json = r#"{
            "groups": [{"name": "g", "weight": 100}],
            "thresholds": {"pass": 95, "marginal": 75},
            "metrics": [{
                "name": "latency",
                "direction": "increase",
                "nanStrategy": "replace",
                "mustHaveData": true,
                "outliers": {"strategy": "remove", "outlierFactor": 2.5},
                "effectSize": {"measure": "cles", "allowedIncrease": 0.6, "criticalIncrease": 0.8}
            }]
        }"#;
        let c: JudgeConfig = serde_json::from_str(json).expect("kayenta-style config parses");
        assert_eq!(c.confidence_level, DEFAULT_CONFIDENCE_LEVEL);
        let m = &c.metrics[0];
        assert_eq!(m.direction, Direction::Increase);
        assert_eq!(m.nan_strategy, NanStrategy::Replace);
        assert!(m.must_have_data);
        assert_eq!(m.outliers.strategy, OutlierStrategy::Remove);
        assert_eq!(m.outliers.factor, 2.5);
        let t = m.effect_size.thresholds();
        assert_eq!(
            (t.allowed_increase, t.allowed_decrease, t.critical_increase),
            (0.6, 0.5, 0.8)
        );
        assert_eq!(c.validate(), Ok(()));
    }
}
