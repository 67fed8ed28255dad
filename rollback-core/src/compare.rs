//! Release-against-baseline comparison with the canary judge: which metrics moved, and by how
//! much, with a confidence interval.
//!
//! Used by the health watch (the rolled-back-to release against its own pre-incident baseline)
//! and by [`MetricShiftAnalyzer`] in the root-cause stage (the failed release against the
//! stable one).

use async_trait::async_trait;

use crate::analyzer::Analyzer;
use crate::error::{Error, ErrorKind, Result};
use crate::judge::{
    judge, Direction, GroupConfig, JudgeConfig, JudgeResult, MetricConfig, MetricInput,
    MetricLabel, ScoreThresholds,
};
use crate::model::finding::{Finding, FindingKind, Incident, Severity};
use crate::model::metric::{MetricKind, Quantile, Series};

/// The metrics compared, with the direction that counts as worse and whether a move fails the
/// whole comparison.
fn compared() -> [(MetricKind, Direction, bool); 5] {
    [
        (MetricKind::ErrorRate, Direction::Increase, true),
        (
            MetricKind::Latency(Quantile::P95),
            Direction::Increase,
            true,
        ),
        (MetricKind::CpuUtilization, Direction::Increase, false),
        (MetricKind::MemoryUtilization, Direction::Increase, false),
        (MetricKind::MemoryBytes, Direction::Increase, false),
    ]
}

fn values(series: &[Series]) -> Vec<f64> {
    series
        .iter()
        .flat_map(|s| s.samples.iter().map(|p| p.value))
        .filter(|v| v.is_finite())
        .collect()
}

/// Judges `experiment` against `control` per metric kind; kinds missing from either side are
/// left out. Returns `None` when no metric has data on both sides.
pub fn compare(
    experiment: &[(MetricKind, Vec<Series>)],
    control: &[(MetricKind, Vec<Series>)],
) -> Result<Option<JudgeResult>> {
    let mut configs = Vec::new();
    let mut inputs = Vec::new();
    for (kind, direction, critical) in compared() {
        let find = |side: &[(MetricKind, Vec<Series>)]| {
            side.iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, s)| values(s))
        };
        let (Some(x), Some(y)) = (find(experiment), find(control)) else {
            continue;
        };
        if x.is_empty() || y.is_empty() {
            continue;
        }
        let mut cfg = MetricConfig::new(kind.to_string()).direction(direction);
        if critical {
            cfg = cfg.critical();
        }
        configs.push(cfg);
        inputs.push(MetricInput::new(kind.to_string(), "sla", x, y));
    }
    if inputs.is_empty() {
        return Ok(None);
    }
    let config = JudgeConfig::new(
        vec![GroupConfig::new("sla", 100.0)],
        configs,
        ScoreThresholds {
            pass: 75.0,
            marginal: 50.0,
        },
    );
    judge(&config, &inputs)
        .map(Some)
        .map_err(|e| Error::new(ErrorKind::Backend, format!("canary judge: {e}")))
}

/// Root-cause analyzer: which metrics of the failed release moved against the stable release,
/// judged with Mann-Whitney intervals (Kayenta's method, deterministic).
#[derive(Debug, Clone, Default)]
pub struct MetricShiftAnalyzer {
    _private: (),
}

const NAME: &str = "metric-shift";

/// How many of the failed release's most recent samples are compared.
const RECENT_SAMPLES: usize = 30;

#[async_trait]
impl Analyzer for MetricShiftAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let Some(stable) = &incident.stable else {
            return Ok(Vec::new());
        };
        let side = |revision: &str| -> Vec<(MetricKind, Vec<Series>)> {
            incident
                .metrics
                .iter()
                .filter(|m| m.release.revision == revision)
                .map(|m| (m.kind.clone(), m.series.clone()))
                .collect()
        };
        // The failed release as it was when the rollback began (its last samples before it),
        // not its healthy first minutes: a ramp would otherwise blur the comparison.
        let failing: Vec<(MetricKind, Vec<Series>)> = side(&incident.failed.revision)
            .into_iter()
            .map(|(k, series)| {
                let series = series
                    .into_iter()
                    .map(|mut s| {
                        if let Some(at) = incident.rollback_at {
                            s.samples.retain(|p| p.at < at);
                        }
                        let n = s.samples.len();
                        s.samples.drain(..n.saturating_sub(RECENT_SAMPLES));
                        s
                    })
                    .collect();
                (k, series)
            })
            .collect();
        let Some(result) = compare(&failing, &side(&stable.revision))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for m in result
            .metrics
            .iter()
            .filter(|m| matches!(m.label, MetricLabel::High | MetricLabel::Low))
        {
            let severity = if m.critical {
                Severity::High
            } else {
                Severity::Medium
            };
            let mut f = Finding::new(
                NAME,
                FindingKind::Symptom,
                severity,
                format!(
                    "{} moved {} against {}",
                    m.name,
                    if m.label == MetricLabel::High {
                        "up"
                    } else {
                        "down"
                    },
                    stable.version
                ),
                m.explanation.clone(),
            );
            f.confidence = 0.9;
            f.evidence.push(m.explanation.clone());
            out.push(f);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric::Sample;

    fn series(vals: &[f64]) -> Vec<Series> {
        let t0: chrono::DateTime<chrono::Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        vec![Series::new(
            vals.iter()
                .enumerate()
                .map(|(i, v)| Sample {
                    at: t0 + chrono::Duration::seconds(i as i64 * 10),
                    value: *v,
                })
                .collect(),
        )]
    }

    #[test]
    fn a_higher_error_rate_is_labelled_high_and_fails() {
        let bad: Vec<f64> = (0..30).map(|i| 0.12 + f64::from(i % 5) * 0.001).collect();
        let good: Vec<f64> = (0..30)
            .map(|i| 0.0002 + f64::from(i % 3) * 0.0001)
            .collect();
        let r = compare(
            &[(MetricKind::ErrorRate, series(&bad))],
            &[(MetricKind::ErrorRate, series(&good))],
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.metrics[0].label, MetricLabel::High);
        assert_eq!(r.verdict, crate::judge::Verdict::Fail);
    }

    #[test]
    fn the_same_distribution_passes() {
        let a: Vec<f64> = (0..30).map(|i| 80.0 + f64::from(i % 7)).collect();
        let b: Vec<f64> = (0..30).map(|i| 80.0 + f64::from((i + 3) % 7)).collect();
        let r = compare(
            &[(MetricKind::Latency(Quantile::P95), series(&a))],
            &[(MetricKind::Latency(Quantile::P95), series(&b))],
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.metrics[0].label, MetricLabel::Pass);
    }

    #[test]
    fn no_overlap_of_metrics_gives_no_result() {
        let r = compare(
            &[(MetricKind::ErrorRate, series(&[0.1]))],
            &[(MetricKind::CpuUtilization, series(&[1.0]))],
        )
        .unwrap();
        assert!(r.is_none());
    }
}
