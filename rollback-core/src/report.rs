//! The serialisable record of one rollback run: outcome, per-stage details, final state.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::Assessment;
use crate::error::{ErrorKind, ErrorRecord};
use crate::model::check::CheckOutcome;
use crate::model::event::Stage;
use crate::model::finding::Finding;
use crate::model::release::ReleaseRef;
use crate::model::target::Target;
use crate::model::traffic::TrafficSplit;
use crate::request::{RollbackRequest, Strategy};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Traffic is on the target, which passed its health check (and smoke tests).
    RolledBack,
    /// No SLA violation, no `to`, not forced: nothing was done.
    NothingToDo,
    /// A previous run already rolled back to the target: nothing was done.
    AlreadyDone,
    /// Not enough data to decide: nothing was done.
    Inconclusive,
    /// Dry run: the plan was made, nothing was changed.
    DryRun,
    /// The request was invalid (bad input, unknown version): nothing was changed.
    Rejected,
    /// A gate failed or another rollback holds the lock: nothing was changed.
    Aborted,
    /// The rollback failed; `final_state` says where traffic is.
    Failed,
    /// The caller cancelled the run; `final_state` says where traffic is.
    Cancelled,
}

impl Outcome {
    /// The reference command's exit code: 0 rolled back or dry run, 1 failed/aborted, 2 bad
    /// input, 3 nothing to do / already done, 4 inconclusive, 130 cancelled.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::RolledBack | Outcome::DryRun => 0,
            Outcome::Failed | Outcome::Aborted => 1,
            Outcome::Rejected => 2,
            Outcome::NothingToDo | Outcome::AlreadyDone => 3,
            Outcome::Inconclusive => 4,
            Outcome::Cancelled => 130,
        }
    }

    /// Whether the system was left unchanged by this run.
    pub fn changed_nothing(self) -> bool {
        matches!(
            self,
            Outcome::NothingToDo
                | Outcome::AlreadyDone
                | Outcome::Inconclusive
                | Outcome::DryRun
                | Outcome::Rejected
                | Outcome::Aborted
        )
    }
}

/// How a stage went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Done.
    Ok,
    /// Done, with something worth reading.
    Warn,
    /// Failed.
    Failed,
    /// Not run.
    Skipped,
}

/// The mark in front of a detail line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// ✅
    Ok,
    /// ⚠️
    Warn,
    /// ❌
    Fail,
    /// Plain information.
    Info,
}

/// One line of a stage's details, as printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Its mark.
    pub mark: Mark,
    /// The text.
    pub text: String,
}

/// What one stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Which stage.
    pub stage: Stage,
    /// How it went.
    pub status: StageStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    #[serde(with = "crate::model::duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// Detail lines.
    pub lines: Vec<Line>,
}

/// Cost estimate of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyCost {
    /// The strategy.
    pub strategy: Strategy,
    /// Whether it is possible here.
    pub available: bool,
    /// Expected full downtime.
    #[serde(with = "crate::model::duration_ms", rename = "downtime_ms")]
    pub downtime: Duration,
    /// Expected time to complete.
    #[serde(with = "crate::model::duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// Why / caveats.
    pub note: String,
}

/// What the rollback will cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// Per strategy.
    pub strategies: Vec<StrategyCost>,
    /// Whether data is preserved (no restore).
    pub data_preserved: bool,
    /// Requests per second now (from metrics), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<f64>,
    /// Estimated in-flight requests (Little's law: rate × p95 latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight_requests: Option<u64>,
    /// What happens to user sessions.
    pub sessions: String,
}

/// How one candidate release was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The release.
    pub release: ReleaseRef,
    /// Whether it qualifies.
    pub eligible: bool,
    /// Error rate over its live history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// p95 latency (ms) over its live history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    /// Uptime (success ratio, percent) over its live history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_percent: Option<f64>,
    /// Why it was chosen or skipped.
    pub reason: String,
}

/// One step of the execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStep {
    /// What was done (`set_traffic`, `revert`, `restore`).
    pub action: String,
    /// The split after the step, for traffic steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<TrafficSplit>,
    /// When it completed.
    pub at: DateTime<Utc>,
    /// How long it took.
    #[serde(with = "crate::model::duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// Whether it succeeded.
    pub ok: bool,
    /// Details.
    pub detail: String,
}

/// What the execute stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// The strategy used.
    pub strategy: Strategy,
    /// The steps, in order.
    pub steps: Vec<ExecutionStep>,
    /// Time during which no healthy release served traffic.
    #[serde(with = "crate::model::duration_ms", rename = "downtime_ms")]
    pub downtime: Duration,
}

/// One sample of the health watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSample {
    /// When.
    pub at: DateTime<Utc>,
    /// In SLA (and capacity ready)?
    pub in_sla: bool,
    /// The readings.
    pub assessment: Assessment,
    /// Ready / desired instances.
    pub ready: u32,
    /// Desired instances.
    pub desired: u32,
}

/// The health watch of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthWatch {
    /// The release watched.
    pub release: ReleaseRef,
    /// Whether it became stable.
    pub stable: bool,
    /// Every sample.
    pub samples: Vec<HealthSample>,
    /// The watched period against the release's own pre-incident baseline (canary judge), when
    /// both had data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::judge::JudgeResult>,
}

/// The root-cause stage's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// All findings, ranked best first.
    pub findings: Vec<Finding>,
    /// Analyzers that failed or ran out of time, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyzer_errors: Vec<(String, String)>,
    /// The Markdown report.
    pub markdown: String,
    /// Where the Markdown report was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown_path: Option<String>,
    /// Where the JSON report was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// Every report file written (Markdown, JSON, HTML, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// One notifier call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The channel.
    pub channel: String,
    /// The event kind delivered.
    pub event: crate::model::event::EventKind,
    /// Whether it was delivered.
    pub delivered: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    #[serde(with = "crate::model::duration_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// Where things stand when the run ends, read back from the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    /// The traffic split (if it could be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficSplit>,
    /// In words: what serves traffic and whether it is healthy.
    pub summary: String,
}

/// The record of one rollback run.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackReport {
    /// Unique id of the run (journal, notifications).
    pub run_id: String,
    /// What was rolled back.
    pub target: Target,
    /// The request as given.
    pub request: RollbackRequest,
    /// How it ended.
    pub outcome: Outcome,
    /// One sentence.
    pub summary: String,
    /// The failing release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ReleaseRef>,
    /// The release rolled back to (after a cascade: the last one tried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ReleaseRef>,
    /// The strategy used or planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Whether this run resumed a crashed one.
    pub resumed: bool,
    /// Whether the gates were skipped (`immediate`).
    pub gates_skipped: bool,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    #[serde(with = "crate::model::duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// Per stage, in order.
    pub stages: Vec<StageReport>,
    /// The detect stage's assessment of the failing release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<Assessment>,
    /// The sequential test's verdict on the failing release (beside `detection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<crate::sequential::DetectorVerdict>,
    /// The detect stage's verdict on the failing release's workload (readiness, restarts,
    /// platform problems); `None` when the policy turns it off or the health could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<crate::workload::WorkloadVerdict>,
    /// Why the rollback started: the detect stage's decision and its signals (`None` when it
    /// did not decide one, e.g. nothing to do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<crate::model::finding::Trigger>,
    /// The impact estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// Candidates considered, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// Gate outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<CheckOutcome>,
    /// Execution, per target tried (more than one after a cascade).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executions: Vec<Execution>,
    /// Health watches, per target tried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<HealthWatch>,
    /// Smoke test outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smoke_tests: Vec<CheckOutcome>,
    /// Root-cause analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCause>,
    /// Notifier deliveries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Delivery>,
    /// Where things stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_state: Option<FinalState>,
    /// The error that ended the run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
    /// Mutating calls this run made (0 for dry runs and no-ops).
    pub mutating_calls: u32,
}

impl RollbackReport {
    /// The report of one stage, if it ran.
    pub fn stage(&self, stage: Stage) -> Option<&StageReport> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    /// The error kind that ended the run, if any.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(|e| e.kind)
    }
}
