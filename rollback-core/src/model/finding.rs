//! Root-cause findings and the incident analyzers look at.

use std::fmt;

use chrono::{DateTime, Utc};

use super::evidence::Evidence;
use super::metric::{MetricKind, Series, TimeRange};
use super::release::{Release, ReleaseRef};
use super::target::Target;

/// How serious a breach, finding or notification is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// For the record.
    Info,
    /// Worth a look.
    Low,
    /// Degraded.
    Medium,
    /// Clearly out of SLA.
    High,
    /// Out of SLA by far: rollback warranted.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        })
    }
}

/// What kind of statement a finding makes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A probable cause of the failure.
    Cause,
    /// An observed symptom (a spike, restarts).
    Symptom,
    /// A point on the failure timeline.
    Timeline,
    /// A difference between the failed and the stable release.
    Change,
}

/// A place in the source code.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SourceLocation {
    /// File path as it appears in traces (`src/services/cache.service.ts`).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Enclosing function, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One conclusion of an analyzer, with the evidence behind it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// The analyzer that made it.
    pub analyzer: String,
    /// Cause, symptom, timeline point or change.
    pub kind: FindingKind,
    /// One line (`Memory leak in cache service`).
    pub title: String,
    /// How serious.
    pub severity: Severity,
    /// How sure, 0–1.
    pub confidence: f64,
    /// What happened, in a sentence or two.
    pub summary: String,
    /// Where in the code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
    /// When it happened (for timeline points) or started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// What it did to users or the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// Evidence lines: log excerpts, metric values, event messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
}

impl Finding {
    /// A finding with the required fields; set the rest directly.
    pub fn new(
        analyzer: impl Into<String>,
        kind: FindingKind,
        severity: Severity,
        title: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Finding {
            analyzer: analyzer.into(),
            kind,
            title: title.into(),
            severity,
            confidence: 0.5,
            summary: summary.into(),
            location: None,
            at: None,
            impact: None,
            evidence: Vec::new(),
            recommendation: None,
        }
    }

    /// Ranking key: severity first, then confidence.
    pub fn rank_score(&self) -> f64 {
        (self.severity as u8) as f64 + self.confidence.clamp(0.0, 1.0)
    }
}

/// Why the rollback started: the detect stage's decision and the signals behind it, for the
/// root-cause report and notifications ("what tripped it" next to "what caused it").
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Trigger {
    /// The decision in one line: `HIGH regression against the baseline: latency distribution`,
    /// `critical SLA breach; CRITICAL workload failure: …`, or that an operator asked.
    pub decision: String,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// When the earliest of its signals was first out of bounds (a window breach's start, a
    /// sequential test's onset), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Each signal, explained: which metric or workload check, what value, against what,
    /// since when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<String>,
}

impl Trigger {
    /// A trigger with its decision only.
    pub fn new(decision: impl Into<String>) -> Self {
        Trigger {
            decision: decision.into(),
            ..Trigger::default()
        }
    }
}

/// Series of one metric for one release, as gathered for an incident.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncidentMetric {
    /// The metric.
    pub kind: MetricKind,
    /// Whose.
    pub release: ReleaseRef,
    /// What the source returned (empty = no data).
    pub series: Vec<Series>,
}

/// Everything the analyzers get to explain a failure.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    /// What failed.
    pub target: Target,
    /// The failing release.
    pub failed: Release,
    /// The release rolled back to (the baseline), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<Release>,
    /// From the failed release's deploy (or the window start) to now.
    pub window: TimeRange,
    /// When the rollback was initiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_at: Option<DateTime<Utc>>,
    /// Metric series of both releases.
    pub metrics: Vec<IncidentMetric>,
    /// Logs and events of the failed release.
    pub failed_evidence: Evidence,
    /// Logs and events of the stable release over the same window (the baseline).
    pub baseline_evidence: Evidence,
    /// Why the rollback started, when the detect stage decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

impl Incident {
    /// An incident with no metrics or evidence yet.
    pub fn new(target: Target, failed: Release, window: TimeRange) -> Self {
        Incident {
            target,
            failed,
            stable: None,
            window,
            rollback_at: None,
            metrics: Vec::new(),
            failed_evidence: Evidence::default(),
            baseline_evidence: Evidence::default(),
            trigger: None,
        }
    }

    /// The series of `kind` for `revision`, if gathered.
    pub fn metric(&self, kind: &MetricKind, revision: &str) -> Option<&[Series]> {
        self.metrics
            .iter()
            .find(|m| &m.kind == kind && m.release.revision == revision)
            .map(|m| m.series.as_slice())
    }
}
