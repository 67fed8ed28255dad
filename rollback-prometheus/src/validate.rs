//! The result of [`PrometheusSource::validate`](crate::PrometheusSource::validate): which
//! configured queries return data for a target.

use std::fmt;

use chrono::{DateTime, Utc};
use rollback_core::{Error, ErrorKind, MetricKind, Result, Target};

/// What one kind's query returned when validated.
#[non_exhaustive]
#[derive(Debug)]
pub enum KindOutcome {
    /// The query returned this many series.
    Data {
        /// Number of series.
        series: usize,
    },
    /// The query ran but returned nothing: wrong metric or label names, or no traffic.
    NoData,
    /// The query failed (bad PromQL, server unreachable, missing `{namespace}`, …).
    Failed(Error),
}

/// One line of a [`ValidationReport`].
#[non_exhaustive]
#[derive(Debug)]
pub struct KindCheck {
    /// The metric kind.
    pub kind: MetricKind,
    /// The PromQL that ran (empty if it could not be rendered).
    pub promql: String,
    /// What it returned.
    pub outcome: KindOutcome,
}

/// Which configured queries return data for a target, from one instant query each.
#[derive(Debug)]
pub struct ValidationReport {
    /// The target the queries were rendered for.
    pub target: Target,
    /// When the instant queries were evaluated.
    pub at: DateTime<Utc>,
    /// One entry per kind, in the order asked.
    pub checks: Vec<KindCheck>,
}

impl ValidationReport {
    pub(crate) fn new(
        target: Target,
        at: DateTime<Utc>,
        outcomes: Vec<(MetricKind, String, KindOutcome)>,
    ) -> Self {
        ValidationReport {
            target,
            at,
            checks: outcomes
                .into_iter()
                .map(|(kind, promql, outcome)| KindCheck {
                    kind,
                    promql,
                    outcome,
                })
                .collect(),
        }
    }

    /// Whether every query returned data.
    pub fn is_ok(&self) -> bool {
        self.checks
            .iter()
            .all(|c| matches!(c.outcome, KindOutcome::Data { .. }))
    }

    /// The kinds whose query returned no data.
    pub fn no_data(&self) -> Vec<&MetricKind> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, KindOutcome::NoData))
            .map(|c| &c.kind)
            .collect()
    }

    /// The kinds whose query failed, with the error.
    pub fn failed(&self) -> Vec<(&MetricKind, &Error)> {
        self.checks
            .iter()
            .filter_map(|c| match &c.outcome {
                KindOutcome::Failed(e) => Some((&c.kind, e)),
                _ => None,
            })
            .collect()
    }

    /// `Ok(self)` if every query returned data, otherwise an [`ErrorKind::InvalidInput`] error
    /// that lists the kinds without data and the failures.
    pub fn into_result(self) -> Result<Self> {
        if self.is_ok() {
            return Ok(self);
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the Prometheus configuration does not fit {}: {self}expected every configured \
                 query to return data (check metric and label names in [metrics] and [labels])",
                self.target
            ),
        )
        .with_backend("prometheus")
        .with_operation("validate"))
    }
}

impl fmt::Display for ValidationReport {
    /// One line per query: `ok error_rate (1 series)`, `NO DATA cpu: <promql>`,
    /// `FAILED latency_p95: <error>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.outcome {
                KindOutcome::Data { series } => {
                    writeln!(f, "ok {} ({series} series)", c.kind.name())?
                }
                KindOutcome::NoData => writeln!(f, "NO DATA {}: {}", c.kind.name(), c.promql)?,
                KindOutcome::Failed(e) => writeln!(f, "FAILED {}: {e}", c.kind.name())?,
            }
        }
        Ok(())
    }
}
