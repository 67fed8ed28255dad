//! The result of [`PrometheusSource::validate`](crate::PrometheusSource::validate): which
//! configured queries return data for a target.
//!
//! Every kind is *required* — no data fails [`ValidationReport::into_result`] — except
//! [`MetricKind::LatencyHistogram`], which is *optional* (see [`is_optional`]): the detectors
//! that read it work without it, so a source without a histogram is reported, not rejected.

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

/// Whether `kind` is optional in a [`ValidationReport`]: its query returning no data is
/// reported but does not make the report fail. Only [`MetricKind::LatencyHistogram`] is: it
/// feeds the latency-distribution regression test, which is skipped without it (a
/// `Baseline` without a latency histogram), whereas the other kinds are the SLA metrics
/// themselves.
pub fn is_optional(kind: &MetricKind) -> bool {
    matches!(kind, MetricKind::LatencyHistogram)
}

/// One line of a [`ValidationReport`].
#[non_exhaustive]
#[derive(Debug)]
pub struct KindCheck {
    /// The metric kind.
    pub kind: MetricKind,
    /// Whether the kind is optional ([`is_optional`]): no data for it is reported, not fatal.
    /// A failed query is fatal either way.
    pub optional: bool,
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
                    optional: is_optional(&kind),
                    kind,
                    promql,
                    outcome,
                })
                .collect(),
        }
    }

    /// Whether every query returned data, except optional kinds ([`is_optional`]), which may
    /// also return none. Any failed query makes it false.
    pub fn is_ok(&self) -> bool {
        self.checks.iter().all(|c| match c.outcome {
            KindOutcome::Data { .. } => true,
            KindOutcome::NoData => c.optional,
            KindOutcome::Failed(_) => false,
        })
    }

    /// The kinds whose query returned no data, optional ones included.
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

    /// `Ok(self)` if [`is_ok`](Self::is_ok) (every required query returned data, none failed),
    /// otherwise an [`ErrorKind::InvalidInput`] error that lists the kinds without data and the
    /// failures.
    pub fn into_result(self) -> Result<Self> {
        if self.is_ok() {
            return Ok(self);
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the Prometheus configuration does not fit {}: {self}expected every configured \
                 query to return data, optional ones excepted (check metric and label names in \
                 [metrics] and [labels])",
                self.target
            ),
        )
        .with_backend("prometheus")
        .with_operation("validate"))
    }
}

impl fmt::Display for ValidationReport {
    /// One line per query: `ok error_rate (1 series)`, `NO DATA cpu: <promql>`,
    /// `NO DATA (optional) latency_histogram: <promql>`, `FAILED latency_p95: <error>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.outcome {
                KindOutcome::Data { series } => {
                    writeln!(f, "ok {} ({series} series)", c.kind.name())?
                }
                KindOutcome::NoData if c.optional => {
                    writeln!(f, "NO DATA (optional) {}: {}", c.kind.name(), c.promql)?
                }
                KindOutcome::NoData => writeln!(f, "NO DATA {}: {}", c.kind.name(), c.promql)?,
                KindOutcome::Failed(e) => writeln!(f, "FAILED {}: {e}", c.kind.name())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollback_core::Environment;

    fn report(outcomes: Vec<(MetricKind, KindOutcome)>) -> ValidationReport {
        ValidationReport::new(
            Target::new(Environment::Production, "checkout"),
            DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            outcomes
                .into_iter()
                .map(|(k, o)| {
                    let promql = format!("promql of {}", k.name());
                    (k, promql, o)
                })
                .collect(),
        )
    }

    #[test]
    fn only_the_latency_histogram_is_optional() {
        assert!(is_optional(&MetricKind::LatencyHistogram));
        for k in [
            MetricKind::ErrorRate,
            MetricKind::StatusCodes,
            MetricKind::Latency(rollback_core::Quantile::P95),
            MetricKind::Custom("x".into()),
        ] {
            assert!(!is_optional(&k), "{}", k.name());
        }
    }

    #[test]
    fn an_optional_kind_without_data_is_reported_but_not_fatal() {
        let r = report(vec![
            (MetricKind::ErrorRate, KindOutcome::Data { series: 1 }),
            (MetricKind::LatencyHistogram, KindOutcome::NoData),
        ]);
        assert!(r.is_ok(), "{r}");
        assert_eq!(r.no_data(), [&MetricKind::LatencyHistogram]);
        assert!(r.checks[1].optional);
        assert!(
            r.to_string()
                .contains("NO DATA (optional) latency_histogram: promql of latency_histogram"),
            "{r}"
        );
        assert!(r.into_result().is_ok());
    }

    #[test]
    fn a_required_kind_without_data_or_a_failed_optional_one_is_fatal() {
        let r = report(vec![
            (MetricKind::StatusCodes, KindOutcome::NoData),
            (MetricKind::LatencyHistogram, KindOutcome::NoData),
        ]);
        assert!(!r.is_ok());
        let err = r.into_result().expect_err("status codes are required");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("NO DATA status_codes"), "{err}");
        assert!(
            err.to_string()
                .contains("NO DATA (optional) latency_histogram"),
            "{err}"
        );

        let r = report(vec![(
            MetricKind::LatencyHistogram,
            KindOutcome::Failed(Error::invalid_input("no le")),
        )]);
        assert!(!r.is_ok());
        assert!(r.to_string().contains("FAILED latency_histogram"), "{r}");
    }
}
