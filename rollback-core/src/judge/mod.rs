//! The canary judge: decides whether a canary (experiment) behaves like its baseline (control),
//! metric by metric, and scores the whole — Kayenta's NetflixACAJudge, made deterministic.
//!
//! For each metric the judge
//!
//! 1. prepares both samples: NaN values removed or replaced by 0 ([`NanStrategy`]), outliers
//!    optionally removed with IQR fences on R-7 percentiles ([`OutlierConfig`]);
//! 2. runs the Mann-Whitney U test of experiment against control with the asymptotic
//!    confidence interval of the location shift ([`mann_whitney`], numerically R's
//!    `wilcox.test(x, y, exact = FALSE, correct = TRUE, conf.int = TRUE, conf.level = 0.98)`);
//! 3. classifies it as Kayenta's `MannWhitneyClassifier` does: **High** if the interval lies
//!    entirely above `tolerance × |estimate|` (tolerance 0.25) and the effect size (mean ratio or
//!    CLES) reaches the allowed increase; **Low** symmetrically; otherwise **Pass**. Missing data
//!    gives **NoData** (or **NoDataFail** for a metric that must have data);
//! 4. explains the label: a structured [`MetricReason`] (rule, interval, estimate, tolerance band,
//!    effect size, sample summaries) and a one-line [`MetricResult::explanation`].
//!
//! Scoring ([`JudgeResult`]): each group scores `100 × pass / (pass + high + low + no-data-fail)`;
//! the summary is the weighted sum of the group scores (a group with no usable data counts as
//! 100), rounded to two decimals; a critical failure or 50 % or more NoData metrics forces it to
//! 0. The summary is then Pass, Marginal or Fail against the thresholds. Muted metrics are
//! reported but not scored.
//!
//! **Determinism.** Kayenta adds unseeded Gaussian noise when both samples are constant (R's
//! interval is undefined there). This judge does not: identical samples pass, and samples that
//! are each constant but differ get the exact shift as estimate and a degenerate interval at that
//! shift, so they are High or Low by the sign of the difference (see [`mann_whitney`]). Equal
//! inputs always give equal results.
//!
//! **Verification.** `rollback-core/tests/data/judge_vectors.json` holds reference results of R's
//! `wilcox.test` and the Kayenta labels for 66 sample pairs (ties, unequal sizes, heavy tails,
//! identical and constant samples, n = 1 to 1,000), made by `scripts/judge_vectors.R`; the unit
//! tests require agreement within R's root tolerance (the estimates and intervals in fact agree
//! bit for bit) and identical labels. Property tests cover symmetry, shift equivariance and
//! monotonicity of the label under a shift of the canary.
//!
//! # Example
//!
//! ```
//! use rollback_core::judge::{
//!     judge, Direction, GroupConfig, JudgeConfig, MetricConfig, MetricInput, MetricLabel,
//!     ScoreThresholds, Verdict,
//! };
//!
//! let config = JudgeConfig::new(
//!     vec![GroupConfig::new("latency", 50.0), GroupConfig::new("errors", 50.0)],
//!     vec![
//!         MetricConfig::new("p99_ms").direction(Direction::Increase),
//!         MetricConfig::new("error_rate").direction(Direction::Increase).critical(),
//!     ],
//!     ScoreThresholds { pass: 95.0, marginal: 75.0 },
//! );
//! let baseline: Vec<f64> = (0..60).map(|i| 200.0 + f64::from(i % 7)).collect();
//! let canary: Vec<f64> = baseline.iter().map(|v| v * 1.5).collect();
//! let inputs = vec![
//!     MetricInput::new("p99_ms", "latency", canary, baseline.clone()),
//!     MetricInput::new("error_rate", "errors", vec![0.01; 60], vec![0.01; 60]),
//! ];
//! let result = judge(&config, &inputs)?;
//! assert_eq!(result.metrics[0].label, MetricLabel::High);
//! assert_eq!(result.score, 50.0);
//! assert_eq!(result.verdict, Verdict::Fail);
//! println!("{}", result.explanation);
//! # Ok::<(), rollback_core::judge::JudgeError>(())
//! ```

mod classify;
mod config;
mod error;
mod mann_whitney;
mod normal;
mod score;
mod transform;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use classify::{EffectSize, MetricLabel, MetricReason, MetricResult, Rule};
pub use config::{
    Direction, EffectSizeConfig, EffectSizeMeasure, EffectSizeThresholds, GroupConfig, JudgeConfig,
    MetricConfig, NanStrategy, OutlierConfig, OutlierStrategy, ScoreThresholds,
    DEFAULT_CONFIDENCE_LEVEL, DEFAULT_OUTLIER_FACTOR, DEFAULT_TOLERANCE,
};
pub use error::JudgeError;
pub use mann_whitney::{mann_whitney, MannWhitney};
pub use score::{ForcedFailure, GroupScore, JudgeResult, LabelCounts, Verdict, NO_DATA_THRESHOLD};
pub use transform::SampleSummary;

/// The samples of one metric: experiment (canary) and control (baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInput {
    /// Metric name; must have a [`MetricConfig`] of that name.
    pub name: String,
    /// Score group; must be declared in [`JudgeConfig::groups`].
    pub group: String,
    /// Canary values (NaN allowed, see [`NanStrategy`]).
    pub experiment: Vec<f64>,
    /// Baseline values.
    pub control: Vec<f64>,
}

impl MetricInput {
    /// The samples of metric `name` in group `group`.
    pub fn new(
        name: impl Into<String>,
        group: impl Into<String>,
        experiment: Vec<f64>,
        control: Vec<f64>,
    ) -> Self {
        Self {
            name: name.into(),
            group: group.into(),
            experiment,
            control,
        }
    }
}

/// Judges a canary: classifies every metric, scores the groups and the whole, and explains.
///
/// # Errors
///
/// * [`JudgeError::InvalidConfig`] if the configuration does not validate
///   ([`JudgeConfig::validate`]);
/// * [`JudgeError::UnknownMetric`] / [`JudgeError::UnknownGroup`] if an input names a metric
///   or group the configuration does not know (the message lists the accepted names);
/// * [`JudgeError::DuplicateMetric`] if a metric is given twice.
///
/// Problems with the samples themselves (no data, infinite values) are not errors: they are
/// labels of that metric (NoData, NoDataFail, Error).
pub fn judge(config: &JudgeConfig, inputs: &[MetricInput]) -> Result<JudgeResult, JudgeError> {
    config.validate()?;
    let mut seen = BTreeSet::new();
    let mut configs = Vec::with_capacity(inputs.len());
    for input in inputs {
        let Some(cfg) = config.metric(&input.name) else {
            return Err(JudgeError::UnknownMetric {
                metric: input.name.clone(),
                accepted: config.metrics.iter().map(|m| m.name.clone()).collect(),
            });
        };
        if !config.groups.iter().any(|g| g.name == input.group) {
            return Err(JudgeError::UnknownGroup {
                metric: input.name.clone(),
                group: input.group.clone(),
                accepted: config.groups.iter().map(|g| g.name.clone()).collect(),
            });
        }
        if !seen.insert(input.name.as_str()) {
            return Err(JudgeError::DuplicateMetric {
                metric: input.name.clone(),
            });
        }
        configs.push(cfg);
    }
    let results = inputs
        .iter()
        .zip(configs)
        .map(|(input, cfg)| {
            classify::classify(cfg, input, config.confidence_level, config.tolerance)
        })
        .collect();
    Ok(score::score(config, results))
}
