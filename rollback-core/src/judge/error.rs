//! Errors of the canary judge: invalid configuration, inputs that do not match it, and samples
//! the Mann-Whitney test cannot use.

/// Why the judge (or [`mann_whitney`](super::mann_whitney)) refused its input.
///
/// Every message says what was wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// A field of the [`JudgeConfig`](super::JudgeConfig) is out of range or inconsistent.
    #[error("invalid judge config: `{field}` {problem}; accepted: {accepted}")]
    InvalidConfig {
        /// Path of the offending field, e.g. `thresholds.marginal` or `metrics[2].name`.
        field: String,
        /// What is wrong with it.
        problem: String,
        /// What would be accepted.
        accepted: String,
    },
    /// A [`MetricInput`](super::MetricInput) names a group the config does not declare.
    #[error(
        "metric `{metric}` is in group `{group}`, which the judge config does not declare; \
         accepted groups: {}",
        accepted.join(", ")
    )]
    UnknownGroup {
        /// Name of the metric.
        metric: String,
        /// The undeclared group it names.
        group: String,
        /// The groups the config declares.
        accepted: Vec<String>,
    },
    /// A [`MetricInput`](super::MetricInput) has no [`MetricConfig`](super::MetricConfig).
    #[error(
        "metric `{metric}` has no entry in the judge config's `metrics`; configured metrics: {}",
        accepted.join(", ")
    )]
    UnknownMetric {
        /// Name of the metric.
        metric: String,
        /// The metrics the config describes.
        accepted: Vec<String>,
    },
    /// The same metric name appears twice in the inputs.
    #[error("metric `{metric}` is given twice; each metric must be judged once")]
    DuplicateMetric {
        /// Name of the metric.
        metric: String,
    },
    /// A sample handed to the Mann-Whitney test is empty.
    #[error("sample `{which}` is empty; the test needs at least one observation in each sample")]
    EmptySample {
        /// `x` or `y`.
        which: &'static str,
    },
    /// A sample handed to the Mann-Whitney test holds a NaN or an infinity.
    #[error(
        "sample `{which}` holds the non-finite value {value} at index {index}; only finite \
         numbers are accepted"
    )]
    NonFiniteSample {
        /// `x` or `y`.
        which: &'static str,
        /// Position of the first non-finite value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The confidence level is not strictly between 0 and 1.
    #[error("confidence level {value} is out of range; accepted: a number with 0 < level < 1")]
    InvalidConfidenceLevel {
        /// The level given.
        value: f64,
    },
}
