//! The `Analyzer` trait: explaining a failure.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::finding::{Finding, Incident};

/// A root-cause analyzer. Analyzers run concurrently within a time budget; their findings are
/// merged and ranked into the RCA report.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Analyzer: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// Looks at the incident and returns findings, each with its evidence.
    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>>;
}
