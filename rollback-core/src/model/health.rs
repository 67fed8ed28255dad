//! Point-in-time health of a release's capacity, as the platform sees it.

use chrono::{DateTime, Utc};

/// The platform's view of a release's instances.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct HealthSnapshot {
    /// Instances asked for.
    pub desired: u32,
    /// Instances passing readiness.
    pub ready: u32,
    /// Instances available (ready for the platform's minimum time).
    pub available: u32,
    /// Container restarts observed in total.
    pub restarts: u32,
    /// Problems the platform reports (`CrashLoopBackOff`, `OOMKilled`, `ProgressDeadlineExceeded`,
    /// stopped-task reasons). Empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// When the snapshot was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<DateTime<Utc>>,
}

impl HealthSnapshot {
    /// A snapshot with the given desired and ready counts (available = ready).
    pub fn new(desired: u32, ready: u32) -> Self {
        HealthSnapshot {
            desired,
            ready,
            available: ready,
            ..Default::default()
        }
    }

    /// At least one instance is ready: traffic may be sent here.
    pub fn has_ready_capacity(&self) -> bool {
        self.ready > 0
    }

    /// Fully healthy: something desired, all of it ready, no reported problems.
    pub fn is_healthy(&self) -> bool {
        self.desired > 0 && self.ready >= self.desired && self.problems.is_empty()
    }
}
