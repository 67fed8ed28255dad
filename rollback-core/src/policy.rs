//! Rollback policy: SLA thresholds per environment, detection, health watch, gradual steps,
//! retries and timeouts. Loadable from TOML with every field validated.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::finding::Severity;
use crate::model::metric::{MetricKind, Quantile};
use crate::model::target::Environment;

/// What to conclude when a metric query returns no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDataPolicy {
    /// Fail closed (default): a metric without data counts as out of SLA. A release is never
    /// called healthy on missing data.
    #[default]
    Fail,
    /// Missing data makes the verdict inconclusive: the detect stage stops without acting
    /// (unless another metric, a sequential test or the workload breaches: a breach is a
    /// breach whatever another metric lacks), a health sample neither counts nor resets.
    Inconclusive,
    /// Missing data is ignored.
    Pass,
}

/// An upper bound on a metric, with the level above which a breach is critical.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// In SLA while the value is below this.
    pub max: f64,
    /// Breaches at or above this are CRITICAL (else HIGH). `None`: never critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

impl Threshold {
    /// A threshold with a critical level.
    pub const fn new(max: f64, critical: Option<f64>) -> Self {
        Threshold { max, critical }
    }

    /// The severity of `value`, or `None` when in SLA.
    pub fn severity(&self, value: f64) -> Option<Severity> {
        if value < self.max {
            None
        } else if self.critical.is_some_and(|c| value >= c) {
            Some(Severity::Critical)
        } else {
            Some(Severity::High)
        }
    }
}

/// The SLA of one environment. Units as in [`MetricKind`]: error rate as a ratio, latency in ms,
/// CPU and memory in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Error rate (ratio 0–1).
    pub error_rate: Threshold,
    /// p95 latency (ms).
    pub latency_p95_ms: Threshold,
    /// CPU (% of limit).
    pub cpu_percent: Threshold,
    /// Memory (% of limit).
    pub memory_percent: Threshold,
    /// Below this many requests in the evaluation window, the error rate gives no verdict.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
}

fn default_min_requests() -> u64 {
    50
}

impl Sla {
    /// The defaults of an environment: production error rate < 0.1 %, p95 < 100 ms, CPU < 80 %,
    /// memory < 85 %; staging and dev looser.
    pub fn default_for(env: Environment) -> Self {
        match env {
            Environment::Production => Sla {
                error_rate: Threshold::new(0.001, Some(0.01)),
                latency_p95_ms: Threshold::new(100.0, Some(1000.0)),
                cpu_percent: Threshold::new(80.0, None),
                memory_percent: Threshold::new(85.0, None),
                min_requests: default_min_requests(),
            },
            Environment::Staging => Sla {
                error_rate: Threshold::new(0.01, Some(0.05)),
                latency_p95_ms: Threshold::new(300.0, Some(2000.0)),
                cpu_percent: Threshold::new(90.0, None),
                memory_percent: Threshold::new(90.0, None),
                min_requests: 20,
            },
            Environment::Dev => Sla {
                error_rate: Threshold::new(0.05, Some(0.2)),
                latency_p95_ms: Threshold::new(1000.0, Some(5000.0)),
                cpu_percent: Threshold::new(95.0, None),
                memory_percent: Threshold::new(95.0, None),
                min_requests: 5,
            },
        }
    }

    /// The metrics the SLA checks, with their thresholds.
    pub fn checks(&self) -> [(MetricKind, Threshold); 4] {
        [
            (MetricKind::ErrorRate, self.error_rate),
            (MetricKind::Latency(Quantile::P95), self.latency_p95_ms),
            (MetricKind::CpuUtilization, self.cpu_percent),
            (MetricKind::MemoryUtilization, self.memory_percent),
        ]
    }

    fn validate(&self, env: &str) -> Result<()> {
        let check = |name: &str, t: &Threshold, hi: f64| -> Result<()> {
            let ok = t.max.is_finite() && t.max > 0.0 && t.max <= hi;
            let crit_ok = t.critical.is_none_or(|c| c.is_finite() && c >= t.max);
            if !ok || !crit_ok {
                return Err(Error::invalid_input(format!(
                    "sla.{env}.{name}: max must be in (0, {hi}] and critical (if set) at least max; got max = {}, critical = {:?}",
                    t.max, t.critical
                )));
            }
            Ok(())
        };
        check("error_rate", &self.error_rate, 1.0)?;
        check("latency_p95_ms", &self.latency_p95_ms, 3_600_000.0)?;
        check("cpu_percent", &self.cpu_percent, 100.0)?;
        check("memory_percent", &self.memory_percent, 100.0)
    }
}

/// SLA per environment. In a config file, each environment's section overrides only the
/// fields it names; the rest keep that environment's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SlaPoliciesFile")]
pub struct SlaPolicies {
    /// Development.
    pub dev: Sla,
    /// Staging.
    pub staging: Sla,
    /// Production.
    pub production: Sla,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SlaPoliciesFile {
    #[serde(default)]
    dev: SlaOverride,
    #[serde(default)]
    staging: SlaOverride,
    #[serde(default)]
    production: SlaOverride,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SlaOverride {
    error_rate: Option<Threshold>,
    latency_p95_ms: Option<Threshold>,
    cpu_percent: Option<Threshold>,
    memory_percent: Option<Threshold>,
    min_requests: Option<u64>,
}

impl SlaOverride {
    fn apply(self, env: Environment) -> Sla {
        let d = Sla::default_for(env);
        Sla {
            error_rate: self.error_rate.unwrap_or(d.error_rate),
            latency_p95_ms: self.latency_p95_ms.unwrap_or(d.latency_p95_ms),
            cpu_percent: self.cpu_percent.unwrap_or(d.cpu_percent),
            memory_percent: self.memory_percent.unwrap_or(d.memory_percent),
            min_requests: self.min_requests.unwrap_or(d.min_requests),
        }
    }
}

impl From<SlaPoliciesFile> for SlaPolicies {
    fn from(f: SlaPoliciesFile) -> Self {
        SlaPolicies {
            dev: f.dev.apply(Environment::Dev),
            staging: f.staging.apply(Environment::Staging),
            production: f.production.apply(Environment::Production),
        }
    }
}

impl Default for SlaPolicies {
    fn default() -> Self {
        SlaPoliciesFile::default().into()
    }
}

impl SlaPolicies {
    /// The SLA of `env`.
    pub fn for_env(&self, env: Environment) -> &Sla {
        match env {
            Environment::Dev => &self.dev,
            Environment::Staging => &self.staging,
            Environment::Production => &self.production,
        }
    }
}

/// How the detect stage reads metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionPolicy {
    /// How far back to read (default 5 min).
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// The most recent part of the window whose mean is compared to the SLA (default 60 s).
    #[serde(with = "humantime_serde")]
    pub evaluation: Duration,
    /// Query resolution (default 10 s).
    #[serde(with = "humantime_serde")]
    pub step: Duration,
    /// What missing data means (default: fail closed).
    pub no_data: NoDataPolicy,
    /// The lowest breach severity that warrants a rollback when no `to` is given (default HIGH;
    /// CRITICAL makes the tool act only on critical breaches).
    pub trigger: Severity,
    /// The anytime-valid sequential test run beside the window means (see
    /// [`crate::sequential`]): it sees a breach as soon as the evidence is conclusive, without
    /// waiting for a window to fill, at a false-alarm probability of at most `alpha`.
    pub sequential: SequentialPolicy,
    /// The failing release's workload as the platform reports it (readiness, restarts,
    /// problems such as `CrashLoopBackOff`), judged beside the metrics: see
    /// [`crate::workload`].
    pub workload: WorkloadPolicy,
}

/// How the detect stage judges the failing release's workload: what the platform reports of
/// its instances ([`HealthSnapshot`](crate::HealthSnapshot)), beside the metrics. A failure
/// is a breach like a metric's and is enough on its own to roll back; see
/// [`crate::workload`] for the rules.
///
/// In TOML:
///
/// ```
/// use rollback_core::policy::Policy;
/// let policy = Policy::from_toml(r#"
///     [detection]
///     workload = { max_restarts = 3, grace_period = "5m" }
/// "#).unwrap();
/// assert!(policy.detection.workload.enabled);
/// assert_eq!(policy.detection.workload.max_restarts, 3);
/// let err = Policy::from_toml("[detection.workload]\nfailure_problems = [\"\"]").unwrap_err();
/// assert!(err.to_string().contains("detection.workload.failure_problems[0]"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadPolicy {
    /// Judge the workload (default true). When false the platform's health is not read in
    /// the detect stage.
    pub enabled: bool,
    /// A release deployed less than this long ago is not judged: a rollout still starting
    /// has unready instances and may restart once or twice (default 2 min, measured from the
    /// release's `deployed_at`; a release without a deploy time is judged, and the stage says
    /// so). The role of Argo Rollouts' and Flagger's progress deadline, applied to our own
    /// reading.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// More container restarts than this (the platform's running total for the release's
    /// instances) is a HIGH failure (default 5; 0: any restart).
    pub max_restarts: u32,
    /// Restarts are a running total, so they are judged only while the release is younger
    /// than this (default 1 h). Past it, its readiness and current problems still are.
    /// Must be longer than `grace_period`.
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    /// Problems the platform reports that count as failures (CRITICAL): a reported problem
    /// matches when it contains one of these, ignoring case. The default names what
    /// Kubernetes, ECS and the simulation report for instances that cannot start or keep
    /// crashing: `CrashLoopBackOff`, `OOMKilled`, `OutOfMemory`, `ImagePullBackOff`,
    /// `ErrImagePull`, `InvalidImageName`, `CreateContainerConfigError`,
    /// `CreateContainerError`, `RunContainerError`, `ProgressDeadlineExceeded`,
    /// `rollout FAILED`, `circuit breaker`, `failed to start`, `TaskFailedToStart`,
    /// `ContainerExited`. Problems that are not listed (a rollout in progress, pending tasks,
    /// `Unschedulable`, an exit code from a pod's previous run) are shown but not counted.
    pub failure_problems: Vec<String>,
}

impl Default for WorkloadPolicy {
    fn default() -> Self {
        WorkloadPolicy {
            enabled: true,
            grace_period: Duration::from_secs(120),
            max_restarts: 5,
            restart_window: Duration::from_secs(3600),
            failure_problems: [
                "CrashLoopBackOff",
                "OOMKilled",
                "OutOfMemory",
                "ImagePullBackOff",
                "ErrImagePull",
                "InvalidImageName",
                "CreateContainerConfigError",
                "CreateContainerError",
                "RunContainerError",
                "ProgressDeadlineExceeded",
                "rollout FAILED",
                "circuit breaker",
                "failed to start",
                "TaskFailedToStart",
                "ContainerExited",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl WorkloadPolicy {
    fn validate(&self) -> Result<()> {
        if let Some(i) = self
            .failure_problems
            .iter()
            .position(|p| p.trim().is_empty())
        {
            return Err(Error::invalid_input(format!(
                "detection.workload.failure_problems[{i}] is empty: expected the text of a problem to match (ignoring case), e.g. \"CrashLoopBackOff\""
            )));
        }
        if self.restart_window <= self.grace_period {
            return Err(Error::invalid_input(format!(
                "detection.workload: restart_window ({}) must be longer than grace_period ({}), or restarts are never judged; to ignore restarts raise max_restarts instead",
                humantime::format_duration(self.restart_window),
                humantime::format_duration(self.grace_period)
            )));
        }
        Ok(())
    }
}

/// Settings of the sequential test in the detect stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequentialPolicy {
    /// Run it (default true).
    pub enabled: bool,
    /// Bound on the probability of ever flagging a release that is within its SLA (default 0.01).
    pub alpha: f64,
    /// Shortest bad period that may cause a breach on its own, so that error blips of a few
    /// seconds do not (default 15 s; 0 turns it off).
    #[serde(with = "humantime_serde")]
    pub persistence: Duration,
    /// A rate confidently above this multiple of the SLA is flagged at once, without waiting for
    /// `persistence` (default 5; 0 turns it off); likewise a canary whose odds of an error are
    /// confidently this many times the tolerated ratio to its neighbour's. The false-alarm
    /// bound is unchanged.
    pub fast_burn: f64,
    /// The release against its baseline: errors and the latency distribution, even inside
    /// the SLA.
    pub regression: RegressionPolicy,
}

/// Regression tests of the detect stage: the failing release against the stable release
/// beside it (a canary), or against the whole target before the release was deployed. See
/// [`crate::sequential`], *Regression against the baseline*.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegressionPolicy {
    /// Run them (default true). A regression breach is HIGH, so with the default trigger it
    /// starts a rollback even when the SLA holds.
    pub enabled: bool,
    /// How much worse than the baseline is acceptable, as a multiple of the odds of its rate
    /// (default 2: 0.2 % errors against 0.1 %). Must exceed 1; set it above the drift your
    /// service has between the baseline window and now.
    pub tolerance: f64,
    /// The pre-deploy window read when no stable release serves beside the failing one
    /// (default 1 h, ending at the deploy).
    #[serde(with = "humantime_serde")]
    pub baseline_window: Duration,
    /// A baseline with fewer requests is not used (default 1,000).
    pub min_baseline_requests: u64,
}

impl Default for RegressionPolicy {
    fn default() -> Self {
        RegressionPolicy {
            enabled: true,
            tolerance: 2.0,
            baseline_window: Duration::from_secs(3600),
            min_baseline_requests: 1000,
        }
    }
}

impl Default for SequentialPolicy {
    fn default() -> Self {
        SequentialPolicy {
            enabled: true,
            alpha: 0.01,
            persistence: Duration::from_secs(15),
            fast_burn: 5.0,
            regression: RegressionPolicy::default(),
        }
    }
}

impl Default for DetectionPolicy {
    fn default() -> Self {
        DetectionPolicy {
            window: Duration::from_secs(300),
            evaluation: Duration::from_secs(60),
            step: Duration::from_secs(10),
            no_data: NoDataPolicy::Fail,
            trigger: Severity::High,
            sequential: SequentialPolicy::default(),
            workload: WorkloadPolicy::default(),
        }
    }
}

/// How rollback targets are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetPolicy {
    /// How much of a candidate's live history to read (most recent part; default 24 h).
    #[serde(with = "humantime_serde")]
    pub history: Duration,
    /// Minimum uptime (success ratio, percent) over that history. Default: none beyond the
    /// environment's SLA error rate, which already bounds it (production 99.9 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_uptime_percent: Option<f64>,
    /// How many older releases to consider at most (default 10).
    pub max_candidates: usize,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        TargetPolicy {
            history: Duration::from_secs(24 * 3600),
            min_uptime_percent: None,
            max_candidates: 10,
        }
    }
}

/// The post-rollback health watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// Time between samples (default 10 s).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Longest watch (default 60 s).
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Consecutive in-SLA samples that make the target stable (default 6).
    pub consecutive: u32,
    /// On failure, roll back once more to the next older stable release (default true).
    pub cascade: bool,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            interval: Duration::from_secs(10),
            duration: Duration::from_secs(60),
            consecutive: 6,
            cascade: true,
        }
    }
}

/// Gradual (reverse canary) shifts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradualPolicy {
    /// Percent of traffic on the target after each step, ascending, ending at 100
    /// (default 25, 50, 75, 100).
    pub steps: Vec<u8>,
    /// Observation time after each step (default 30 s), sampled every `health.interval`.
    #[serde(with = "humantime_serde")]
    pub pause: Duration,
}

impl Default for GradualPolicy {
    fn default() -> Self {
        GradualPolicy {
            steps: vec![25, 50, 75, 100],
            pause: Duration::from_secs(30),
        }
    }
}

/// Retries of temporary errors, with exponential backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (default 4).
    pub attempts: u32,
    /// First backoff (default 200 ms), doubled each time.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Backoff cap (default 5 s).
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Deadline of one call, attempts included (default 30 s).
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything tunable about a rollback. `Policy::default()` is a sensible production setup.
///
/// ```
/// use rollback_core::policy::Policy;
/// let policy = Policy::from_toml(r#"
///     [health]
///     interval = "5s"
///     duration = "2m"
///     [sla.production.error_rate]
///     max = 0.002
///     critical = 0.02
/// "#).unwrap();
/// assert_eq!(policy.health.consecutive, 6);
/// assert!(Policy::from_toml("[health]\ninterval = \"soon\"").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// SLA per environment.
    pub sla: SlaPolicies,
    /// Detection.
    pub detection: DetectionPolicy,
    /// Target selection.
    pub target: TargetPolicy,
    /// Health watch.
    pub health: HealthPolicy,
    /// Gradual shifts.
    pub gradual: GradualPolicy,
    /// Retries.
    pub retry: RetryPolicy,
    /// Time a full revert may take to become ready (default 10 min).
    #[serde(with = "humantime_serde")]
    pub rollout_timeout: Duration,
    /// Delay before the failed release is scaled to 0 (default 30 s).
    #[serde(with = "humantime_serde")]
    pub cleanup_delay: Duration,
    /// Time budget of all analyzers together (default 30 s).
    #[serde(with = "humantime_serde")]
    pub rca_budget: Duration,
    /// Timeout of each notifier call (default 10 s).
    #[serde(with = "humantime_serde")]
    pub notify_timeout: Duration,
    /// Lease length of the target lock; renewed at a third of it (default 5 min).
    #[serde(with = "humantime_serde")]
    pub lock_ttl: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            sla: SlaPolicies::default(),
            detection: DetectionPolicy::default(),
            target: TargetPolicy::default(),
            health: HealthPolicy::default(),
            gradual: GradualPolicy::default(),
            retry: RetryPolicy::default(),
            rollout_timeout: Duration::from_secs(600),
            cleanup_delay: Duration::from_secs(30),
            rca_budget: Duration::from_secs(30),
            notify_timeout: Duration::from_secs(10),
            lock_ttl: Duration::from_secs(300),
        }
    }
}

impl Policy {
    /// Parses and validates a policy from TOML; missing fields take their defaults.
    pub fn from_toml(text: &str) -> Result<Self> {
        let policy: Policy = toml_de(text)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every value; the error names the field and the accepted range.
    pub fn validate(&self) -> Result<()> {
        for env in Environment::ALL {
            self.sla.for_env(env).validate(env.as_str())?;
        }
        let d = &self.detection;
        nonzero("detection.step", d.step)?;
        if d.evaluation < d.step || d.window < d.evaluation {
            return Err(Error::invalid_input(format!(
                "detection: expected step <= evaluation <= window; got step = {}, evaluation = {}, window = {}",
                humantime::format_duration(d.step),
                humantime::format_duration(d.evaluation),
                humantime::format_duration(d.window)
            )));
        }
        let a = d.sequential.alpha;
        if !(a > 0.0 && a <= 0.5) {
            return Err(Error::invalid_input(format!(
                "detection.sequential.alpha = {a} is out of range: expected a probability in (0, 0.5], e.g. 0.01"
            )));
        }
        let r = &d.sequential.regression;
        if !(r.tolerance.is_finite() && r.tolerance > 1.0) {
            return Err(Error::invalid_input(format!(
                "detection.sequential.regression.tolerance = {} is out of range: expected a multiple of the baseline's odds greater than 1, e.g. 2",
                r.tolerance
            )));
        }
        nonzero(
            "detection.sequential.regression.baseline_window",
            r.baseline_window,
        )?;
        d.workload.validate()?;
        nonzero("target.history", self.target.history)?;
        if let Some(u) = self.target.min_uptime_percent {
            if !(0.0..=100.0).contains(&u) {
                return Err(Error::invalid_input(format!(
                    "target.min_uptime_percent = {u} is out of range: expected 0-100"
                )));
            }
        }
        if self.target.max_candidates == 0 {
            return Err(Error::invalid_input(
                "target.max_candidates must be at least 1",
            ));
        }
        let h = &self.health;
        nonzero("health.interval", h.interval)?;
        if h.consecutive == 0 {
            return Err(Error::invalid_input(
                "health.consecutive must be at least 1",
            ));
        }
        if h.interval * h.consecutive > h.duration {
            return Err(Error::invalid_input(format!(
                "health: {} consecutive samples every {} cannot fit in duration {}: raise duration or lower consecutive",
                h.consecutive,
                humantime::format_duration(h.interval),
                humantime::format_duration(h.duration)
            )));
        }
        let steps = &self.gradual.steps;
        if steps.is_empty()
            || steps.last() != Some(&100)
            || steps.windows(2).any(|w| w[0] >= w[1])
            || steps[0] == 0
        {
            return Err(Error::invalid_input(format!(
                "gradual.steps = {steps:?}: expected strictly ascending percents in 1-100 ending at 100, e.g. [25, 50, 75, 100]"
            )));
        }
        if self.retry.attempts == 0 || self.retry.attempts > 20 {
            return Err(Error::invalid_input(format!(
                "retry.attempts = {}: expected 1-20",
                self.retry.attempts
            )));
        }
        nonzero("retry.call_timeout", self.retry.call_timeout)?;
        nonzero("rollout_timeout", self.rollout_timeout)?;
        nonzero("rca_budget", self.rca_budget)?;
        nonzero("notify_timeout", self.notify_timeout)?;
        nonzero("lock_ttl", self.lock_ttl)?;
        Ok(())
    }
}

fn nonzero(name: &str, d: Duration) -> Result<()> {
    if d.is_zero() {
        Err(Error::invalid_input(format!(
            "{name} must be greater than zero"
        )))
    } else {
        Ok(())
    }
}

/// Deserialises TOML into `T`, turning the parser's message (which names the field and line)
/// into an invalid-input error.
pub fn toml_de<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::invalid_input(format!("invalid configuration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid() {
        Policy::default().validate().unwrap();
    }

    #[test]
    fn severity_follows_thresholds() {
        let sla = Sla::default_for(Environment::Production);
        assert_eq!(sla.error_rate.severity(0.124), Some(Severity::Critical));
        assert_eq!(sla.error_rate.severity(0.0002), None);
        assert_eq!(sla.cpu_percent.severity(98.0), Some(Severity::High));
        assert_eq!(
            sla.latency_p95_ms.severity(3245.0),
            Some(Severity::Critical)
        );
    }

    #[test]
    fn partial_sla_override_keeps_other_defaults() {
        let p = Policy::from_toml("[sla.production.error_rate]\nmax = 0.002").unwrap();
        assert_eq!(p.sla.production.error_rate.max, 0.002);
        assert_eq!(
            p.sla.production.latency_p95_ms,
            Sla::default_for(Environment::Production).latency_p95_ms
        );
        assert_eq!(p.sla.staging, Sla::default_for(Environment::Staging));
    }

    #[test]
    fn unknown_field_is_named() {
        let err = Policy::from_toml("[health]\nintervall = \"5s\"").unwrap_err();
        assert!(err.to_string().contains("intervall"), "{err}");
    }

    #[test]
    fn regression_policy_reads_from_toml_and_bad_values_are_named() {
        let p = Policy::from_toml(
            "[detection.sequential.regression]\ntolerance = 3.0\nbaseline_window = \"30m\"",
        )
        .unwrap();
        let r = &p.detection.sequential.regression;
        assert!(r.enabled);
        assert_eq!(r.tolerance, 3.0);
        assert_eq!(r.baseline_window, Duration::from_secs(1800));
        assert_eq!(r.min_baseline_requests, 1000);
        for (text, needle) in [
            (
                "[detection.sequential.regression]\ntolerance = 0.5",
                "greater than 1",
            ),
            (
                "[detection.sequential.regression]\nbaseline_window = \"0s\"",
                "baseline_window must be greater than zero",
            ),
            (
                "[detection.sequential.regression]\ntolerence = 2",
                "tolerence",
            ),
        ] {
            let err = Policy::from_toml(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn workload_policy_reads_from_toml_with_defaults_for_the_rest() {
        let p = Policy::from_toml(
            "[detection]\nworkload = { max_restarts = 3, grace_period = \"5m\", failure_problems = [\"Evicted\"] }",
        )
        .unwrap();
        let w = &p.detection.workload;
        assert!(w.enabled);
        assert_eq!(w.max_restarts, 3);
        assert_eq!(w.grace_period, Duration::from_secs(300));
        assert_eq!(w.restart_window, Duration::from_secs(3600));
        assert_eq!(w.failure_problems, vec!["Evicted".to_string()]);
        let d = WorkloadPolicy::default();
        assert!(d.failure_problems.iter().any(|p| p == "CrashLoopBackOff"));
        assert!(d.grace_period < d.restart_window);
    }

    #[test]
    fn bad_workload_values_name_the_field_and_what_is_accepted() {
        for (text, needles) in [
            (
                "[detection.workload]\nfailure_problems = [\"OOMKilled\", \"  \"]",
                &[
                    "detection.workload.failure_problems[1] is empty",
                    "e.g. \"CrashLoopBackOff\"",
                ][..],
            ),
            (
                "[detection.workload]\ngrace_period = \"2h\"",
                &["restart_window (1h) must be longer than grace_period (2h)"][..],
            ),
            (
                "[detection.workload]\nmax_restarts = -1",
                &["max_restarts"][..],
            ),
            (
                "[detection.workload]\ngrace_period = \"soon\"",
                &["grace_period"][..],
            ),
            (
                "[detection.workload]\nmax_restart = 3",
                &["max_restart", "max_restarts"][..],
            ),
            ("[detection]\nworkload = true", &["workload"][..]),
        ] {
            let err = Policy::from_toml(text).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput);
            for needle in needles {
                assert!(err.to_string().contains(needle), "{needle}: {err}");
            }
        }
        // Set in code, the same values are refused by `validate` (and so by the builder).
        let mut p = Policy::default();
        p.detection.workload.failure_problems.push(String::new());
        assert!(p.validate().is_err());
    }

    #[test]
    fn bad_steps_are_rejected_with_the_accepted_shape() {
        let err = Policy::from_toml("[gradual]\nsteps = [50, 25]").unwrap_err();
        assert!(err.to_string().contains("ending at 100"), "{err}");
    }
}
