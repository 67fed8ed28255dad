//! Outcomes of gates and smoke tests.

use std::time::Duration;

use super::release::Release;
use super::target::Target;

/// Pass, warn, fail or skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It holds.
    Pass,
    /// It holds, with a caveat worth reading.
    Warn,
    /// It does not hold.
    Fail,
    /// Not run (immediate mode, dry run, not applicable).
    Skipped,
}

/// When a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPhase {
    /// Before the switch: a validation gate.
    Gate,
    /// After the switch: a smoke test.
    Smoke,
}

/// What a check is run against.
#[derive(Debug, Clone)]
pub struct CheckContext {
    /// The target being rolled back.
    pub target: Target,
    /// The release being rolled back to.
    pub release: Release,
    /// Gate or smoke test.
    pub phase: CheckPhase,
}

/// The result of one check.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckOutcome {
    /// The check's name.
    pub name: String,
    /// Pass, warn, fail or skipped.
    pub status: CheckStatus,
    /// What was seen (`200 OK in 45ms`, `connection refused`).
    pub detail: String,
    /// How long it took.
    #[serde(with = "crate::model::duration_ms")]
    pub duration: Duration,
}

impl CheckOutcome {
    /// A new outcome.
    pub fn new(name: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        CheckOutcome {
            name: name.into(),
            status,
            detail: detail.into(),
            duration: Duration::ZERO,
        }
    }

    /// Sets the duration.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Pass or warn.
    pub fn passed(&self) -> bool {
        matches!(self.status, CheckStatus::Pass | CheckStatus::Warn)
    }
}
