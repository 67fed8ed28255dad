//! The `Notifier` trait: telling people.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::event::Event;

/// A notification channel: Slack, PagerDuty, email, your own.
///
/// The orchestrator calls every channel concurrently with a timeout; an error or a hang is
/// recorded in the report and never fails or stalls the rollback.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    /// A short name for reports (`slack`, `pagerduty`).
    fn name(&self) -> &str;

    /// Whether this channel wants `event` (severity, environment, stage events). Default: all.
    fn wants(&self, event: &Event) -> bool {
        let _ = event;
        true
    }

    /// Delivers one event. Errors must not contain secrets.
    async fn notify(&self, event: &Event) -> Result<()>;
}
