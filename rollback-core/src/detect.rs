//! SLA evaluation: from metric series to an explained verdict.
//!
//! Pure functions over series, so they are tested without a backend and reused by the detect
//! stage, target selection and the health watch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::finding::Severity;
use crate::model::metric::{MetricKind, Series};
use crate::policy::{NoDataPolicy, Sla, Threshold};

/// One metric outside its SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// Which metric.
    pub metric: MetricKind,
    /// Its value (mean over the evaluation window); `None` when there was no data.
    pub value: Option<f64>,
    /// The SLA bound it broke.
    pub threshold: f64,
    /// HIGH or CRITICAL.
    pub severity: Severity,
    /// Since when it has been out of SLA without interruption, as far as the window shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

impl Breach {
    /// `Error rate: 12.4% (SLA: < 0.1%)`.
    pub fn describe(&self) -> String {
        match self.value {
            Some(v) => format!(
                "{}: {} (SLA: < {})",
                self.metric,
                self.metric.format_value(v),
                self.metric.format_value(self.threshold)
            ),
            None => format!(
                "{}: no data (SLA: < {})",
                self.metric,
                self.metric.format_value(self.threshold)
            ),
        }
    }
}

/// One metric's reading, in or out of SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Which metric.
    pub metric: MetricKind,
    /// Mean over the evaluation window; `None` = no data.
    pub value: Option<f64>,
    /// The SLA bound.
    pub threshold: f64,
}

/// Failed requests over the detection window, by status code.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FailedRequests {
    /// Requests in the window.
    pub total_requests: u64,
    /// Failed (5xx) requests in the window.
    pub failed: u64,
    /// Failed requests per status code, most frequent first.
    pub by_status: Vec<(u16, u64)>,
}

/// The overall conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within SLA.
    Healthy,
    /// Out of SLA (see the breaches).
    Violation,
    /// Not enough data to tell (no-data policy `inconclusive`).
    Inconclusive,
}

/// The result of checking one release against its SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Healthy, violation or inconclusive.
    pub verdict: Verdict,
    /// Every metric read.
    pub readings: Vec<Reading>,
    /// Metrics out of SLA, worst first.
    pub breaches: Vec<Breach>,
    /// Metrics that returned no data.
    pub no_data: Vec<MetricKind>,
    /// Failed requests, when status codes were available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_requests: Option<FailedRequests>,
}

impl Assessment {
    /// The most severe breach, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.breaches.iter().map(|b| b.severity).max()
    }

    /// A one-line explanation: which metrics, what values, against what, since when.
    pub fn explain(&self) -> String {
        match self.verdict {
            Verdict::Healthy => "all SLA metrics within bounds".to_string(),
            Verdict::Inconclusive => format!(
                "inconclusive: no data for {}",
                self.no_data
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Verdict::Violation => self
                .breaches
                .iter()
                .map(|b| {
                    let mut s = format!("{} {}", b.severity, b.describe());
                    if let Some(since) = b.since {
                        s.push_str(&format!(" since {}", since.format("%H:%M:%S")));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Mean of every series' finite samples at or after `since` (series are averaged together:
/// per-instance series of one metric).
pub fn window_mean(series: &[Series], since: DateTime<Utc>) -> Option<f64> {
    let vals: Vec<f64> = series.iter().filter_map(|s| s.mean_since(since)).collect();
    if vals.is_empty() {
        None
    } else {
        Some(vals.iter().sum::<f64>() / vals.len() as f64)
    }
}

/// The start of the last uninterrupted run of samples at or above `threshold`.
pub fn breach_since(series: &[Series], threshold: f64) -> Option<DateTime<Utc>> {
    let mut points: BTreeMap<DateTime<Utc>, (f64, u32)> = BTreeMap::new();
    for s in series {
        for p in s.samples.iter().filter(|p| p.value.is_finite()) {
            let e = points.entry(p.at).or_insert((0.0, 0));
            e.0 += p.value;
            e.1 += 1;
        }
    }
    let mut since = None;
    for (at, (sum, n)) in points {
        if sum / f64::from(n) >= threshold {
            since.get_or_insert(at);
        } else {
            since = None;
        }
    }
    since
}

/// Sums a status-code answer (one series per `code` label) into failed-request counts.
pub fn failed_requests(status_series: &[Series]) -> Option<FailedRequests> {
    if status_series.is_empty() {
        return None;
    }
    let mut by_code: BTreeMap<u16, f64> = BTreeMap::new();
    let mut total = 0.0;
    for s in status_series {
        let Some(code) = s.labels.get("code").and_then(|c| c.parse::<u16>().ok()) else {
            continue;
        };
        let sum: f64 = s
            .samples
            .iter()
            .filter(|p| p.value.is_finite())
            .map(|p| p.value)
            .sum();
        total += sum;
        if code >= 500 {
            *by_code.entry(code).or_default() += sum;
        }
    }
    let mut by_status: Vec<(u16, u64)> = by_code
        .into_iter()
        .map(|(c, n)| (c, n.round() as u64))
        .filter(|(_, n)| *n > 0)
        .collect();
    by_status.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Some(FailedRequests {
        total_requests: total.round() as u64,
        failed: by_status.iter().map(|(_, n)| n).sum(),
        by_status,
    })
}

/// Evaluates the SLA over query answers keyed by metric.
///
/// `answers` holds, per SLA metric, what the source returned (`Err` is treated as no data and
/// recorded by the caller). `since` is the start of the evaluation window; `requests` is the
/// number of requests seen in it (used for the low-traffic rule), when known.
pub fn assess(
    sla: &Sla,
    answers: &BTreeMap<MetricKind, Vec<Series>>,
    since: DateTime<Utc>,
    failed: Option<FailedRequests>,
    requests_in_window: Option<u64>,
    no_data: NoDataPolicy,
) -> Assessment {
    let mut readings = Vec::new();
    let mut breaches = Vec::new();
    let mut missing = Vec::new();
    for (kind, threshold) in sla.checks() {
        let series = answers.get(&kind).map(Vec::as_slice).unwrap_or(&[]);
        let mut value = window_mean(series, since);
        // Too little traffic: an error rate from 3 requests is not evidence either way.
        if kind == MetricKind::ErrorRate && requests_in_window.is_some_and(|n| n < sla.min_requests)
        {
            value = None;
        }
        readings.push(Reading {
            metric: kind.clone(),
            value,
            threshold: threshold.max,
        });
        match value {
            Some(v) => {
                if let Some(severity) = Threshold::severity(&threshold, v) {
                    breaches.push(Breach {
                        since: breach_since(series, threshold.max),
                        metric: kind,
                        value: Some(v),
                        threshold: threshold.max,
                        severity,
                    });
                }
            }
            None => {
                missing.push(kind.clone());
                if no_data == NoDataPolicy::Fail {
                    breaches.push(Breach {
                        metric: kind,
                        value: None,
                        threshold: threshold.max,
                        severity: Severity::High,
                        since: None,
                    });
                }
            }
        }
    }
    breaches.sort_by_key(|b| std::cmp::Reverse(b.severity));
    let verdict = if !breaches.is_empty() {
        Verdict::Violation
    } else if !missing.is_empty() && no_data == NoDataPolicy::Inconclusive {
        Verdict::Inconclusive
    } else {
        Verdict::Healthy
    };
    Assessment {
        verdict,
        readings,
        breaches,
        no_data: missing,
        failed_requests: failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric::{Quantile, Sample};
    use crate::model::target::Environment;

    fn series(start: DateTime<Utc>, vals: &[f64]) -> Vec<Series> {
        vec![Series::new(
            vals.iter()
                .enumerate()
                .map(|(i, v)| Sample {
                    at: start + chrono::Duration::seconds(10 * i as i64),
                    value: *v,
                })
                .collect(),
        )]
    }

    fn t0() -> DateTime<Utc> {
        "2024-01-15T14:27:00Z".parse().unwrap()
    }

    #[test]
    fn critical_error_rate_is_a_violation_with_since() {
        let sla = Sla::default_for(Environment::Production);
        let mut answers = BTreeMap::new();
        answers.insert(
            MetricKind::ErrorRate,
            series(t0(), &[0.0005, 0.02, 0.124, 0.124]),
        );
        answers.insert(MetricKind::Latency(Quantile::P95), series(t0(), &[80.0; 4]));
        answers.insert(MetricKind::CpuUtilization, series(t0(), &[40.0; 4]));
        answers.insert(MetricKind::MemoryUtilization, series(t0(), &[50.0; 4]));
        let a = assess(
            &sla,
            &answers,
            t0() + chrono::Duration::seconds(20),
            None,
            None,
            NoDataPolicy::Fail,
        );
        assert_eq!(a.verdict, Verdict::Violation);
        assert_eq!(a.breaches.len(), 1);
        assert_eq!(a.breaches[0].severity, Severity::Critical);
        assert_eq!(
            a.breaches[0].since,
            Some(t0() + chrono::Duration::seconds(10))
        );
        assert!(a.explain().contains("12.4%"), "{}", a.explain());
    }

    #[test]
    fn no_data_fails_closed_by_default_and_can_be_inconclusive() {
        let sla = Sla::default_for(Environment::Production);
        let answers = BTreeMap::new();
        let a = assess(&sla, &answers, t0(), None, None, NoDataPolicy::Fail);
        assert_eq!(a.verdict, Verdict::Violation);
        assert_eq!(a.no_data.len(), 4);
        let a = assess(&sla, &answers, t0(), None, None, NoDataPolicy::Inconclusive);
        assert_eq!(a.verdict, Verdict::Inconclusive);
        let a = assess(&sla, &answers, t0(), None, None, NoDataPolicy::Pass);
        assert_eq!(a.verdict, Verdict::Healthy);
    }

    #[test]
    fn low_traffic_error_rate_gives_no_verdict() {
        let sla = Sla::default_for(Environment::Production);
        let mut answers = BTreeMap::new();
        answers.insert(MetricKind::ErrorRate, series(t0(), &[0.33]));
        let a = assess(&sla, &answers, t0(), None, Some(3), NoDataPolicy::Pass);
        assert!(a.breaches.is_empty());
        assert_eq!(a.no_data[0], MetricKind::ErrorRate);
    }

    #[test]
    fn failed_requests_sum_5xx_by_code() {
        let mk = |code: &str, v: &[f64]| series(t0(), v).remove(0).with_label("code", code);
        let f = failed_requests(&[
            mk("200", &[100.0, 100.0]),
            mk("500", &[5.0, 6.0]),
            mk("503", &[2.0, 0.0]),
        ])
        .unwrap();
        assert_eq!(f.total_requests, 213);
        assert_eq!(f.failed, 13);
        assert_eq!(f.by_status, vec![(500, 11), (503, 2)]);
    }
}
