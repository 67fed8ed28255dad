//! The `Check` trait: one validation gate or smoke test.

use async_trait::async_trait;

use crate::model::check::{CheckContext, CheckOutcome};

/// A gate (before the switch) or smoke test (after it). A check never errors: a failure is a
/// [`CheckOutcome`] with status `Fail` and a detail that says what was seen.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Check: Send + Sync {
    /// A short name for reports (`GET /health`, `redis reachable`).
    fn name(&self) -> &str;

    /// Runs the check.
    async fn run(&self, ctx: &CheckContext) -> CheckOutcome;
}
