//! Stages of a rollback and the events notifiers receive.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::finding::{Finding, Severity};
use super::target::Target;
use super::version::Version;

/// The ten stages of a rollback, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Read SLA metrics; decide whether a rollback is warranted.
    Detect,
    /// Estimate what the rollback costs.
    Impact,
    /// Pick the release to return to.
    Target,
    /// Gates before touching anything.
    Validate,
    /// Switch back.
    Execute,
    /// Watch the target until stable.
    HealthCheck,
    /// Functional checks.
    SmokeTest,
    /// Explain the failure.
    RootCause,
    /// Scale the failed release down, export its evidence.
    Cleanup,
    /// Tell people.
    Notify,
}

impl Stage {
    /// All stages in execution order.
    pub const ALL: [Stage; 10] = [
        Stage::Detect,
        Stage::Impact,
        Stage::Target,
        Stage::Validate,
        Stage::Execute,
        Stage::HealthCheck,
        Stage::SmokeTest,
        Stage::RootCause,
        Stage::Cleanup,
        Stage::Notify,
    ];

    /// 1-based position.
    pub fn number(self) -> usize {
        self as usize + 1
    }

    /// The banner title of the stage.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Detect => "Detecting Failure",
            Stage::Impact => "Analyzing Impact",
            Stage::Target => "Selecting Rollback Target",
            Stage::Validate => "Pre-Rollback Validation",
            Stage::Execute => "Executing Rollback",
            Stage::HealthCheck => "Health Verification",
            Stage::SmokeTest => "Smoke Tests",
            Stage::RootCause => "Root Cause Analysis",
            Stage::Cleanup => "Cleanup",
            Stage::Notify => "Notifications",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// What an [`Event`] announces.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A rollback is starting (after the target was chosen and validated).
    Started,
    /// A stage finished (only channels that want stage events get these).
    StageFinished,
    /// The rollback finished and the target is healthy.
    Succeeded,
    /// The rollback failed; the event says in what state the system is.
    Failed,
    /// Nothing was wrong; nothing was done.
    NothingToDo,
}

/// A headline metric for notifications (`Error rate: 12.4% (SLA < 0.1%)`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyMetric {
    /// The metric's display name.
    pub name: String,
    /// Its value, formatted.
    pub value: String,
    /// The threshold it is compared to, formatted, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
}

/// A notification: everything a person needs at 3 a.m. Never carries a secret.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// The rollback run; equal for all events of one run (use it to pair trigger/resolve).
    pub run_id: String,
    /// What is announced.
    pub kind: EventKind,
    /// The stage, for stage events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// How serious.
    pub severity: Severity,
    /// What is rolled back.
    pub target: Target,
    /// The failing release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Version>,
    /// The release rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Version>,
    /// Why (the operator's reason, or the detection's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What tripped the rollback: the detect stage's decision and its signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<super::finding::Trigger>,
    /// One paragraph.
    pub summary: String,
    /// Headline metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<KeyMetric>,
    /// Top root-cause findings, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Where the RCA report was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_path: Option<String>,
    /// The RCA report in Markdown, for channels that carry a body (issues, email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_markdown: Option<String>,
    /// How long the run (or stage) took.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_ms")]
    pub duration: Option<Duration>,
    /// When the event was made.
    pub at: DateTime<Utc>,
}

impl Event {
    /// A new event with the required fields.
    pub fn new(
        run_id: impl Into<String>,
        kind: EventKind,
        severity: Severity,
        target: Target,
        summary: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Event {
            run_id: run_id.into(),
            kind,
            stage: None,
            severity,
            target,
            from: None,
            to: None,
            reason: None,
            trigger: None,
            summary: summary.into(),
            metrics: Vec::new(),
            findings: Vec::new(),
            report_path: None,
            report_markdown: None,
            duration: None,
            at,
        }
    }

    /// A key that is the same for every event of one incident on one target (PagerDuty
    /// `dedup_key`, GitHub issue marker).
    pub fn incident_key(&self) -> String {
        format!("rollback:{}:{}", self.target, self.run_id)
    }
}

mod opt_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms = <Option<u64> as serde::Deserialize>::deserialize(d)?;
        Ok(ms.map(Duration::from_millis))
    }
}
