//! Classification of one metric, experiment (canary) against control (baseline), following
//! Kayenta's `MannWhitneyClassifier` rule for rule.

use serde::{Deserialize, Serialize};

use super::config::{
    Direction, EffectSizeMeasure, EffectSizeThresholds, MetricConfig, NanStrategy,
};
use super::mann_whitney::{mann_whitney_sorted, MannWhitney};
use super::transform::{mean, prepare, SampleSummary};
use super::MetricInput;

/// The classification of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetricLabel {
    /// No significant change, or a change too small to matter.
    Pass,
    /// The experiment is higher than the control.
    High,
    /// The experiment is lower than the control.
    Low,
    /// One of the samples has no data (counts towards the 50 % no-data rule).
    NoData,
    /// One of the samples has no data and the metric must have data: counts as a failure in its
    /// group (Kayenta's `NodataFailMetric`).
    NoDataFail,
    /// The samples could not be compared (e.g. they hold infinite values); not scored.
    Error,
}

impl MetricLabel {
    /// The label as a word for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricLabel::Pass => "Pass",
            MetricLabel::High => "High",
            MetricLabel::Low => "Low",
            MetricLabel::NoData => "NoData",
            MetricLabel::NoDataFail => "NoDataFail",
            MetricLabel::Error => "Error",
        }
    }
}

/// The rule that decided a metric's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A sample was empty after NaN removal: NoData, or NoDataFail for a non-critical metric that
    /// must have data.
    MissingData,
    /// A sample was empty under the replace-NaN strategy: Pass (Kayenta's behaviour).
    MissingDataTolerated,
    /// A sample held an infinite value: Error.
    NonFiniteValue,
    /// Both samples hold the same values: Pass.
    IdenticalSamples,
    /// Every value of both samples is the same number: Pass.
    SingleValue,
    /// The interval lies above `+tolerance × |estimate|` and the effect size reaches the allowed
    /// increase: High.
    IntervalAboveTolerance,
    /// The interval lies below `-tolerance × |estimate|` and the effect size reaches the allowed
    /// decrease: Low.
    IntervalBelowTolerance,
    /// The interval overlaps the tolerance band: Pass.
    IntervalWithinTolerance,
    /// The interval clears the band in a direction that counts, but the effect size is within
    /// the allowed change: Pass.
    EffectSizeWithinAllowed,
    /// The interval clears the band in a direction the metric ignores: Pass.
    DirectionIgnored,
}

/// The effect size of a metric and the thresholds it was held against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffectSize {
    /// The measure used.
    pub measure: EffectSizeMeasure,
    /// Its value; `None` when it cannot be computed (a mean of 0), in which case it is ignored.
    pub value: Option<f64>,
    /// The thresholds, with defaults applied.
    pub thresholds: EffectSizeThresholds,
}

/// Why a metric got its label: the rule, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReason {
    /// The rule that fired.
    pub rule: Rule,
    /// Direction of change that counts for this metric.
    pub direction: Direction,
    /// The Mann-Whitney test of experiment against control, when it was run.
    pub mann_whitney: Option<MannWhitney>,
    /// The tolerance band `(-t·|estimate|, +t·|estimate|)` the interval was held against.
    pub tolerance_band: Option<(f64, f64)>,
    /// The effect size, when the test was run.
    pub effect_size: Option<EffectSize>,
    /// `mean(experiment) / mean(control)` (Kayenta's "deviation"), when defined.
    pub mean_ratio: Option<f64>,
    /// The experiment (canary) sample.
    pub experiment: SampleSummary,
    /// The control (baseline) sample.
    pub control: SampleSummary,
}

/// The judgement of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Metric name.
    pub name: String,
    /// Score group.
    pub group: String,
    /// The label.
    pub label: MetricLabel,
    /// The metric is critical and failed beyond its critical effect size, or has no data: the
    /// whole judgement fails.
    pub critical: bool,
    /// The metric is muted: reported but not scored.
    pub muted: bool,
    /// Structured reason.
    pub reason: MetricReason,
    /// One line for reports and notifications.
    pub explanation: String,
}

/// Classifies one metric. `cfg.name == input.name` is the caller's business.
pub(crate) fn classify(
    cfg: &MetricConfig,
    input: &MetricInput,
    confidence_level: f64,
    tolerance: f64,
) -> MetricResult {
    let experiment = prepare(&input.experiment, cfg.nan_strategy, cfg.outliers);
    let control = prepare(&input.control, cfg.nan_strategy, cfg.outliers);
    let thresholds = cfg.effect_size.thresholds();
    let mut reason = MetricReason {
        rule: Rule::IntervalWithinTolerance,
        direction: cfg.direction,
        mann_whitney: None,
        tolerance_band: None,
        effect_size: None,
        mean_ratio: None,
        experiment: experiment.summary.clone(),
        control: control.summary.clone(),
    };
    let (x, y) = (&experiment.values, &control.values);

    let (label, critical) = if x.is_empty() || y.is_empty() {
        match cfg.nan_strategy {
            NanStrategy::Remove => {
                reason.rule = Rule::MissingData;
                if cfg.must_have_data && !cfg.critical {
                    (MetricLabel::NoDataFail, false)
                } else {
                    (MetricLabel::NoData, cfg.critical)
                }
            }
            NanStrategy::Replace => {
                reason.rule = Rule::MissingDataTolerated;
                (MetricLabel::Pass, false)
            }
        }
    } else if x == y {
        reason.rule = Rule::IdenticalSamples;
        (MetricLabel::Pass, false)
    } else if x[0] == x[x.len() - 1] && y[0] == y[y.len() - 1] && x[0] == y[0] {
        reason.rule = Rule::SingleValue;
        (MetricLabel::Pass, false)
    } else if x.iter().chain(y.iter()).any(|v| v.is_infinite()) {
        reason.rule = Rule::NonFiniteValue;
        (MetricLabel::Error, false)
    } else {
        let mw = mann_whitney_sorted(x, y, confidence_level);
        let mean_ratio = mean_ratio(x, y);
        let effect = match cfg.effect_size.measure {
            EffectSizeMeasure::MeanRatio => mean_ratio,
            EffectSizeMeasure::Cles => Some(mw.w / (x.len() as f64 * y.len() as f64)),
        };
        let bound = tolerance * mw.estimate.abs();
        let (lower_bound, upper_bound) = (-bound, bound);
        let above = mw.ci.0 > upper_bound;
        let below = mw.ci.1 < lower_bound;
        // An effect size that cannot be computed is ignored, as in Kayenta.
        let reaches = |limit: f64, increase: bool| match effect {
            None => true,
            Some(e) if increase => e >= limit,
            Some(e) => e <= limit,
        };
        let is_high =
            cfg.direction.allows_increase() && above && reaches(thresholds.allowed_increase, true);
        let is_low =
            cfg.direction.allows_decrease() && below && reaches(thresholds.allowed_decrease, false);
        let (label, rule) = if is_high {
            (MetricLabel::High, Rule::IntervalAboveTolerance)
        } else if is_low {
            (MetricLabel::Low, Rule::IntervalBelowTolerance)
        } else if (above && cfg.direction.allows_increase())
            || (below && cfg.direction.allows_decrease())
        {
            (MetricLabel::Pass, Rule::EffectSizeWithinAllowed)
        } else if above || below {
            (MetricLabel::Pass, Rule::DirectionIgnored)
        } else {
            (MetricLabel::Pass, Rule::IntervalWithinTolerance)
        };
        let critical = cfg.critical
            && match label {
                MetricLabel::High => reaches(thresholds.critical_increase, true),
                MetricLabel::Low => reaches(thresholds.critical_decrease, false),
                _ => false,
            };
        reason.rule = rule;
        reason.mann_whitney = Some(mw);
        reason.tolerance_band = Some((lower_bound, upper_bound));
        reason.effect_size = Some(EffectSize {
            measure: cfg.effect_size.measure,
            value: effect,
            thresholds,
        });
        reason.mean_ratio = mean_ratio;
        (label, critical)
    };

    let explanation = explain(
        &input.name,
        label,
        critical,
        cfg.muted,
        &reason,
        confidence_level,
    );
    MetricResult {
        name: input.name.clone(),
        group: input.group.clone(),
        label,
        critical,
        muted: cfg.muted,
        reason,
        explanation,
    }
}

/// `mean(experiment) / mean(control)`, undefined when either mean is 0 (Kayenta's `meanRatio`).
fn mean_ratio(experiment: &[f64], control: &[f64]) -> Option<f64> {
    let (e, c) = (mean(experiment)?, mean(control)?);
    (e != 0.0 && c != 0.0).then(|| e / c)
}

/// Compact number formatting for explanations.
pub(crate) fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e6).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.3e}")
    }
}

fn explain(
    name: &str,
    label: MetricLabel,
    critical: bool,
    muted: bool,
    reason: &MetricReason,
    confidence_level: f64,
) -> String {
    let mut text = format!("{name}: {}", label.as_str());
    if critical {
        text.push_str(" (critical)");
    }
    text.push_str(" — ");
    let detail = match reason.rule {
        Rule::MissingData | Rule::MissingDataTolerated => {
            let which = match (reason.experiment.count, reason.control.count) {
                (0, 0) => "canary and baseline have",
                (0, _) => "canary has",
                _ => "baseline has",
            };
            let tail = if reason.rule == Rule::MissingDataTolerated {
                "; tolerated because NaN values are replaced"
            } else {
                ""
            };
            format!("{which} no data{tail}")
        }
        Rule::NonFiniteValue => "a sample holds an infinite value; not compared".into(),
        Rule::IdenticalSamples => "canary and baseline data are identical".into(),
        Rule::SingleValue => "every canary and baseline value is the same number".into(),
        _ => match (reason.mann_whitney, reason.tolerance_band) {
            (Some(mw), Some((_, band))) => {
                let verdict = match reason.rule {
                    Rule::IntervalAboveTolerance => "canary is higher than baseline",
                    Rule::IntervalBelowTolerance => "canary is lower than baseline",
                    Rule::EffectSizeWithinAllowed => "change is within the allowed effect size",
                    Rule::DirectionIgnored => "change is in a direction this metric ignores",
                    _ => "no significant change",
                };
                let mut s = format!(
                    "{verdict}: shift {} ({}% CI {} to {}, tolerance ±{})",
                    num(mw.estimate),
                    num(confidence_level * 100.0),
                    num(mw.ci.0),
                    num(mw.ci.1),
                    num(band),
                );
                if let Some(effect) = reason.effect_size {
                    let name = match effect.measure {
                        EffectSizeMeasure::MeanRatio => "mean ratio",
                        EffectSizeMeasure::Cles => "CLES",
                    };
                    match effect.value {
                        Some(v) => s.push_str(&format!(", {name} {}", num(v))),
                        None => s.push_str(&format!(", {name} undefined")),
                    }
                }
                s
            }
            _ => "no comparison".into(),
        },
    };
    text.push_str(&detail);
    if muted {
        text.push_str(" [muted]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::config::EffectSizeConfig;

    fn input(experiment: Vec<f64>, control: Vec<f64>) -> MetricInput {
        MetricInput {
            name: "latency".into(),
            group: "g".into(),
            experiment,
            control,
        }
    }

    fn run(cfg: &MetricConfig, experiment: Vec<f64>, control: Vec<f64>) -> MetricResult {
        classify(cfg, &input(experiment, control), 0.98, 0.25)
    }

    fn base() -> Vec<f64> {
        (0..40).map(|i| 100.0 + f64::from(i % 10)).collect()
    }

    fn shifted(by: f64) -> Vec<f64> {
        base().into_iter().map(|v| v + by).collect()
    }

    #[test]
    fn clearly_higher_canary_is_high_and_lower_is_low() {
        let cfg = MetricConfig::new("latency");
        let high = run(&cfg, shifted(20.0), base());
        assert_eq!(
            (high.label, high.reason.rule),
            (MetricLabel::High, Rule::IntervalAboveTolerance)
        );
        let low = run(&cfg, shifted(-20.0), base());
        assert_eq!(
            (low.label, low.reason.rule),
            (MetricLabel::Low, Rule::IntervalBelowTolerance)
        );
        assert!(
            high.explanation
                .starts_with("latency: High — canary is higher"),
            "{}",
            high.explanation
        );
    }

    #[test]
    fn increase_only_metric_ignores_a_decrease() {
        let cfg = MetricConfig::new("latency").direction(Direction::Increase);
        let r = run(&cfg, shifted(-20.0), base());
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Pass, Rule::DirectionIgnored)
        );
    }

    #[test]
    fn change_within_allowed_mean_ratio_passes() {
        let cfg = MetricConfig::new("latency").effect_size(EffectSizeConfig {
            allowed_increase: Some(1.5),
            ..EffectSizeConfig::default()
        });
        let r = run(&cfg, shifted(20.0), base());
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Pass, Rule::EffectSizeWithinAllowed)
        );
    }

    #[test]
    fn critical_metric_fails_critically_only_beyond_critical_increase() {
        let mild = MetricConfig::new("latency")
            .critical()
            .effect_size(EffectSizeConfig {
                critical_increase: Some(1.5),
                ..EffectSizeConfig::default()
            });
        let r = run(&mild, shifted(20.0), base());
        assert_eq!((r.label, r.critical), (MetricLabel::High, false));
        let strict = MetricConfig::new("latency").critical();
        let r = run(&strict, shifted(20.0), base());
        assert_eq!((r.label, r.critical), (MetricLabel::High, true));
    }

    #[test]
    fn missing_data_is_nodata_or_nodata_fail_or_tolerated() {
        let cfg = MetricConfig::new("latency");
        let r = run(&cfg, vec![f64::NAN], base());
        assert_eq!(
            (r.label, r.critical, r.reason.rule),
            (MetricLabel::NoData, false, Rule::MissingData)
        );
        let r = run(&cfg.clone().must_have_data(), vec![], base());
        assert_eq!(r.label, MetricLabel::NoDataFail);
        let r = run(&cfg.clone().must_have_data().critical(), vec![], base());
        assert_eq!((r.label, r.critical), (MetricLabel::NoData, true));
        let r = run(
            &cfg.clone().nan_strategy(NanStrategy::Replace),
            vec![],
            base(),
        );
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Pass, Rule::MissingDataTolerated)
        );
    }

    #[test]
    fn identical_and_single_valued_samples_pass() {
        let cfg = MetricConfig::new("latency");
        let mut reversed = base();
        reversed.reverse();
        let r = run(&cfg, reversed, base());
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Pass, Rule::IdenticalSamples)
        );
        let r = run(&cfg, vec![3.0; 5], vec![3.0; 2]);
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Pass, Rule::SingleValue)
        );
    }

    #[test]
    fn constant_but_different_samples_are_classified_by_the_difference() {
        let cfg = MetricConfig::new("latency");
        let r = run(&cfg, vec![5.0; 10], vec![3.0; 10]);
        assert_eq!(r.label, MetricLabel::High);
        let mw = r.reason.mann_whitney.expect("test ran");
        assert_eq!((mw.estimate, mw.ci), (2.0, (2.0, 2.0)));
        let r = run(&cfg, vec![3.0; 10], vec![5.0; 10]);
        assert_eq!(r.label, MetricLabel::Low);
    }

    #[test]
    fn infinite_values_are_an_error_label() {
        let r = run(
            &MetricConfig::new("latency"),
            vec![1.0, f64::INFINITY],
            base(),
        );
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Error, Rule::NonFiniteValue)
        );
    }

    #[test]
    fn zero_mean_makes_the_effect_size_undefined_and_ignored() {
        let cfg = MetricConfig::new("errors");
        let control = vec![0.0; 30];
        let experiment: Vec<f64> = (0..30).map(|i| f64::from(i % 3)).collect();
        let r = run(&cfg, experiment, control);
        assert_eq!(r.reason.effect_size.and_then(|e| e.value), None);
        assert_eq!(r.label, MetricLabel::High);
    }

    #[test]
    fn outliers_are_removed_before_the_test_when_asked() {
        let cfg = MetricConfig::new("latency").remove_outliers(3.0);
        let mut experiment = base();
        experiment.push(1e9);
        let r = run(&cfg, experiment, base());
        assert_eq!(r.reason.experiment.outliers_removed, 1);
        assert_eq!(
            (r.label, r.reason.rule),
            (MetricLabel::Pass, Rule::IdenticalSamples)
        );
    }
}
