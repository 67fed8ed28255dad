//! The built-in analyzer: a failure timeline from the failing release's metric series.
//!
//! It finds when errors first rose above the baseline, when they spiked, when they reached a
//! critical level, and how memory and latency moved. Deeper analyzers (logs, stack traces,
//! failure signatures) live in `rollback-rca`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::analyzer::Analyzer;
use crate::error::Result;
use crate::model::finding::{Finding, FindingKind, Incident, Severity};
use crate::model::metric::{MetricKind, Quantile, Sample, Series};

/// Derives a failure timeline and metric symptoms from an incident's series.
#[derive(Debug, Clone, Default)]
pub struct MetricTimelineAnalyzer {
    _private: (),
}

const NAME: &str = "metric-timeline";

/// Per-timestamp mean over series.
fn merged(series: &[Series]) -> Vec<Sample> {
    let mut points: std::collections::BTreeMap<DateTime<Utc>, (f64, u32)> = Default::default();
    for s in series {
        for p in s.samples.iter().filter(|p| p.value.is_finite()) {
            let e = points.entry(p.at).or_insert((0.0, 0));
            e.0 += p.value;
            e.1 += 1;
        }
    }
    points
        .into_iter()
        .map(|(at, (sum, n))| Sample {
            at,
            value: sum / f64::from(n),
        })
        .collect()
}

fn first_at_or_above(samples: &[Sample], level: f64) -> Option<&Sample> {
    samples.iter().find(|s| s.value >= level)
}

fn baseline(incident: &Incident, kind: &MetricKind, failed: &[Sample]) -> Option<f64> {
    // The stable release's level, else the failing release's first samples.
    let stable = incident
        .stable
        .as_ref()
        .and_then(|s| incident.metric(kind, &s.revision))
        .map(merged)
        .filter(|s| !s.is_empty());
    let src = stable.as_deref().unwrap_or(failed);
    let n = (src.len() / 10).clamp(1, 6).min(src.len());
    if n == 0 {
        return None;
    }
    let mut head: Vec<f64> = src[..n].iter().map(|s| s.value).collect();
    head.sort_by(f64::total_cmp);
    Some(head[head.len() / 2])
}

#[async_trait]
impl Analyzer for MetricTimelineAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let mut out = Vec::new();
        let rev = &incident.failed.revision;
        let version = &incident.failed.version;
        let point = |title: String, at: DateTime<Utc>, severity: Severity, summary: String| {
            let mut f = Finding::new(NAME, FindingKind::Timeline, severity, title, summary);
            f.at = Some(at);
            f.confidence = 0.9;
            f
        };

        if let Some(series) = incident.metric(&MetricKind::ErrorRate, rev) {
            let s = merged(series);
            if let (Some(base), Some(peak)) = (
                baseline(incident, &MetricKind::ErrorRate, &s),
                s.iter().map(|p| p.value).max_by(f64::total_cmp),
            ) {
                let first_level = (base * 3.0).max(base + 0.002);
                if peak > first_level {
                    if let Some(p) = first_at_or_above(&s, first_level) {
                        out.push(point(
                            "First errors detected".into(),
                            p.at,
                            Severity::Medium,
                            format!(
                                "error rate of {version} rose to {:.2}% (baseline {:.2}%)",
                                p.value * 100.0,
                                base * 100.0
                            ),
                        ));
                    }
                    let spike = first_level + (peak - first_level) * 0.5;
                    if let Some(p) = first_at_or_above(&s, spike) {
                        out.push(point(
                            format!("Error rate spike ({:.1}%)", p.value * 100.0),
                            p.at,
                            Severity::High,
                            format!("error rate of {version} passed half its peak"),
                        ));
                    }
                    if let Some(p) = first_at_or_above(&s, peak * 0.95) {
                        out.push(point(
                            format!("Critical error rate reached ({:.1}%)", p.value * 100.0),
                            p.at,
                            Severity::Critical,
                            format!(
                                "error rate of {version} reached {:.1}% (peak {:.1}%)",
                                p.value * 100.0,
                                peak * 100.0
                            ),
                        ));
                    }
                }
            }
        }

        let p95 = MetricKind::Latency(Quantile::P95);
        if let Some(series) = incident.metric(&p95, rev) {
            let s = merged(series);
            if let (Some(base), Some(peak)) = (
                baseline(incident, &p95, &s),
                s.iter().map(|p| p.value).max_by(f64::total_cmp),
            ) {
                if base > 0.0 && peak > base * 3.0 {
                    if let Some(p) = first_at_or_above(&s, base * 3.0) {
                        let mut f = Finding::new(
                            NAME,
                            FindingKind::Symptom,
                            Severity::High,
                            "Latency regression",
                            format!("p95 latency of {version} rose from {base:.0}ms to {peak:.0}ms ({:.0}×)", peak / base),
                        );
                        f.at = Some(p.at);
                        f.confidence = 0.8;
                        f.evidence.push(format!(
                            "p95 {:.0}ms at {}",
                            p.value,
                            p.at.format("%H:%M:%S")
                        ));
                        out.push(f);
                    }
                }
            }
        }

        if let Some(series) = incident.metric(&MetricKind::MemoryBytes, rev) {
            let s = merged(series);
            if let (Some(first), Some(last)) = (
                s.first(),
                s.iter().max_by(|a, b| a.value.total_cmp(&b.value)),
            ) {
                if first.value > 0.0 && last.value > first.value * 2.0 && last.at > first.at {
                    let minutes = (last.at - first.at).num_seconds() as f64 / 60.0;
                    let mut f = Finding::new(
                        NAME,
                        FindingKind::Symptom,
                        Severity::High,
                        "Sustained memory growth",
                        format!(
                            "memory of {version} grew from {:.0} MB to {:.0} MB in {:.0} minutes",
                            first.value / 1e6,
                            last.value / 1e6,
                            minutes
                        ),
                    );
                    f.at = Some(first.at);
                    f.confidence = 0.8;
                    out.push(f);
                }
            }
        }
        Ok(out)
    }
}
