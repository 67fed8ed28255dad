//! The `MetricsSource` trait: where SLA metrics come from.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::metric::{MetricQuery, Series};

/// A metrics backend: Prometheus, CloudWatch, the simulation, your own.
///
/// An answer with no series means *no data* (the detector's no-data policy decides what that
/// means); a source must never turn a missing series into zeros.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// A short name for reports and errors.
    fn name(&self) -> &str;

    /// Runs one query. Unsupported kinds → `Unsupported`; bad custom queries → `InvalidInput`.
    async fn query(&self, query: &MetricQuery) -> Result<Vec<Series>>;
}
