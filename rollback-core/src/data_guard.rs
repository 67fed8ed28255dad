//! The `DataGuard` trait: database compatibility and opt-in restore.

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::check::CheckOutcome;
use crate::model::release::Release;
use crate::model::target::Target;

/// Knows whether a release can run against today's data, and (optionally) how to restore data
/// for it. The orchestrator never calls [`DataGuard::restore`] while `preserve_data` is on.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DataGuard: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// Whether `to` is compatible with the schema/data `from` left behind.
    async fn compatible(
        &self,
        target: &Target,
        from: &Release,
        to: &Release,
    ) -> Result<CheckOutcome>;

    /// Restores data to what `to` expects (destructive; opt-in).
    async fn restore(&self, target: &Target, to: &Release) -> Result<()> {
        let _ = (target, to);
        Err(Error::unsupported("restore"))
    }
}
