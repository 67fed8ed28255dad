//! Metric queries and series: what a [`MetricsSource`](crate::MetricsSource) is asked and answers.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::release::ReleaseRef;
use super::target::Target;
use crate::error::Error;

/// A latency quantile in per-mille (`950` = p95).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u16", into = "u16")]
pub struct Quantile(u16);

impl Quantile {
    /// The median.
    pub const P50: Quantile = Quantile(500);
    /// The 95th percentile.
    pub const P95: Quantile = Quantile(950);
    /// The 99th percentile.
    pub const P99: Quantile = Quantile(990);

    /// A quantile from per-mille, 1–999.
    pub fn per_mille(p: u16) -> Result<Self, Error> {
        Self::try_from(p)
    }

    /// The quantile as a fraction (`0.95`).
    pub fn as_fraction(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl TryFrom<u16> for Quantile {
    type Error = Error;
    fn try_from(p: u16) -> Result<Self, Error> {
        if (1..=999).contains(&p) {
            Ok(Quantile(p))
        } else {
            Err(Error::invalid_input(format!(
                "quantile {p} per mille is out of range: expected 1-999 (950 = p95)"
            )))
        }
    }
}

impl From<Quantile> for u16 {
    fn from(q: Quantile) -> u16 {
        q.0
    }
}

impl fmt::Display for Quantile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % 10 == 0 {
            write!(f, "p{}", self.0 / 10)
        } else {
            write!(f, "p{}", f64::from(self.0) / 10.0)
        }
    }
}

/// What to measure. Units are fixed per kind so that every source agrees.
#[non_exhaustive]
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Failed requests / all requests, a ratio in 0–1 (5xx count as failed).
    ErrorRate,
    /// Requests per second.
    RequestRate,
    /// Request latency at a quantile, in milliseconds.
    Latency(Quantile),
    /// CPU use, percent of the limit (or of the reserved CPU).
    CpuUtilization,
    /// Memory use, percent of the limit.
    MemoryUtilization,
    /// Memory use, bytes (working set).
    MemoryBytes,
    /// Responses per step, one series per status code, labelled `code`.
    StatusCodes,
    /// Responses per step at or below each latency bound, one series per bound, labelled `le`
    /// (milliseconds, `+Inf` included): a Prometheus histogram's buckets, cumulative in `le`.
    LatencyHistogram,
    /// A named query the source is configured with.
    Custom(String),
}

impl MetricKind {
    /// A short stable name (`error_rate`, `latency_p95`, …).
    pub fn name(&self) -> String {
        match self {
            MetricKind::ErrorRate => "error_rate".into(),
            MetricKind::RequestRate => "request_rate".into(),
            MetricKind::Latency(q) => format!("latency_{q}"),
            MetricKind::CpuUtilization => "cpu".into(),
            MetricKind::MemoryUtilization => "memory".into(),
            MetricKind::MemoryBytes => "memory_bytes".into(),
            MetricKind::StatusCodes => "status_codes".into(),
            MetricKind::LatencyHistogram => "latency_histogram".into(),
            MetricKind::Custom(n) => format!("custom:{n}"),
        }
    }

    /// Formats a value of this kind for people (`12.4%`, `3,245ms`, `892 MB`).
    pub fn format_value(&self, v: f64) -> String {
        match self {
            MetricKind::ErrorRate => format_percent(v * 100.0),
            MetricKind::RequestRate => format!("{v:.1} req/s"),
            MetricKind::Latency(_) => format!("{}ms", group_thousands(v.round() as i64)),
            MetricKind::CpuUtilization | MetricKind::MemoryUtilization => format_percent(v),
            MetricKind::MemoryBytes => format!("{} MB", group_thousands((v / 1e6).round() as i64)),
            MetricKind::StatusCodes | MetricKind::LatencyHistogram => {
                group_thousands(v.round() as i64)
            }
            MetricKind::Custom(_) => format!("{v:.4}"),
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricKind::ErrorRate => f.write_str("Error rate"),
            MetricKind::RequestRate => f.write_str("Request rate"),
            MetricKind::Latency(q) => write!(f, "Response time ({q})"),
            MetricKind::CpuUtilization => f.write_str("CPU usage"),
            MetricKind::MemoryUtilization => f.write_str("Memory usage"),
            MetricKind::MemoryBytes => f.write_str("Memory"),
            MetricKind::StatusCodes => f.write_str("Responses by status"),
            MetricKind::LatencyHistogram => f.write_str("Latency distribution"),
            MetricKind::Custom(n) => write!(f, "{n}"),
        }
    }
}

/// A percentage with as many decimals as it needs (`12.4%`, `0.02%`, `98%`).
pub fn format_percent(p: f64) -> String {
    // Enough decimals that 99.98 % does not print as 100 % and 0.02 % does not print as 0 %.
    let s = if p >= 1.0 {
        format!("{p:.2}")
    } else {
        format!("{p:.3}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}%")
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn percentages_keep_their_significant_digits() {
        assert_eq!(format_percent(12.4), "12.4%");
        assert_eq!(format_percent(99.98), "99.98%");
        assert_eq!(format_percent(0.02), "0.02%");
        assert_eq!(format_percent(98.0), "98%");
        assert_eq!(MetricKind::ErrorRate.format_value(0.124), "12.4%");
        assert_eq!(
            MetricKind::Latency(Quantile::P95).format_value(3245.0),
            "3,245ms"
        );
        assert_eq!(group_thousands(1234), "1,234");
    }
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A half-open time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeRange {
    /// The range ending at `end` and lasting `len`.
    pub fn ending_at(end: DateTime<Utc>, len: Duration) -> Self {
        let len = chrono::Duration::from_std(len).unwrap_or(chrono::Duration::MAX);
        TimeRange {
            start: end
                .checked_sub_signed(len)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end,
        }
    }

    /// Its length (zero if inverted).
    pub fn duration(&self) -> Duration {
        (self.end - self.start).to_std().unwrap_or_default()
    }

    /// Whether `t` lies in the range.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// A request for one metric of one target (optionally one release) over a time range.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricQuery {
    /// What to measure.
    pub kind: MetricKind,
    /// Whose metric.
    pub target: Target,
    /// Restrict to one release; `None` = the whole target.
    pub release: Option<ReleaseRef>,
    /// When.
    pub range: TimeRange,
    /// Resolution.
    #[serde(with = "crate::model::duration_serde")]
    pub step: Duration,
}

impl MetricQuery {
    /// A query over `range` at `step`.
    pub fn new(kind: MetricKind, target: Target, range: TimeRange, step: Duration) -> Self {
        MetricQuery {
            kind,
            target,
            release: None,
            range,
            step,
        }
    }

    /// Restricts the query to one release.
    pub fn for_release(mut self, release: ReleaseRef) -> Self {
        self.release = Some(release);
        self
    }
}

/// One value at one time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    /// When.
    pub at: DateTime<Utc>,
    /// The value, in the unit of the query's [`MetricKind`].
    pub value: f64,
}

/// A time series with its labels. A source answers a query with zero or more series; zero means
/// *no data*, never zero.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Series {
    /// Labels (`code` = `503`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Samples in time order.
    pub samples: Vec<Sample>,
}

impl Series {
    /// An unlabelled series.
    pub fn new(samples: Vec<Sample>) -> Self {
        Series {
            labels: BTreeMap::new(),
            samples,
        }
    }

    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Mean of the finite samples at or after `since`, if any.
    pub fn mean_since(&self, since: DateTime<Utc>) -> Option<f64> {
        let vals: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.at >= since && s.value.is_finite())
            .map(|s| s.value)
            .collect();
        if vals.is_empty() {
            None
        } else {
            Some(vals.iter().sum::<f64>() / vals.len() as f64)
        }
    }

    /// The last finite sample.
    pub fn last(&self) -> Option<Sample> {
        self.samples
            .iter()
            .rev()
            .find(|s| s.value.is_finite())
            .copied()
    }
}
