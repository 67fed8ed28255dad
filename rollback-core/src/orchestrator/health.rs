//! Stage 6: watch the target until it is stable for N consecutive samples, or fail.

use std::sync::Arc;

use tokio::time::Instant;

use super::run::{Run, Step};
use crate::detect::Verdict;
use crate::journal::JournalRecord;
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::finding::Severity;
use crate::model::release::ReleaseMark;
use crate::platform::Platform;
use crate::report::{HealthSample, HealthWatch, Mark, StageStatus};

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    /// Judges the watched period of `to` against the hour before the failed release was
    /// deployed (when `to` served then), and reports which metrics moved.
    async fn against_baseline(
        &mut self,
        to: &crate::model::release::Release,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Option<crate::judge::JudgeResult> {
        use crate::model::metric::{MetricKind, TimeRange};
        let deployed = self.from.as_ref()?.deployed_at?;
        let step = self.inner.policy.detection.step;
        let watched = TimeRange {
            start: since,
            end: self.now(),
        };
        let before = TimeRange::ending_at(deployed, std::time::Duration::from_secs(3600));
        let kinds = [
            MetricKind::ErrorRate,
            Self::p95(),
            MetricKind::CpuUtilization,
            MetricKind::MemoryUtilization,
        ];
        let mut experiment = Vec::new();
        let mut control = Vec::new();
        for k in kinds {
            let (x, _) = self.query(k.clone(), to, watched, step).await;
            let (y, _) = self.query(k.clone(), to, before, step).await;
            experiment.push((k.clone(), x));
            control.push((k, y));
        }
        match crate::compare::compare(&experiment, &control) {
            Ok(Some(r)) => {
                let moved: Vec<String> = r
                    .metrics
                    .iter()
                    .filter(|m| {
                        matches!(
                            m.label,
                            crate::judge::MetricLabel::High | crate::judge::MetricLabel::Low
                        )
                    })
                    .map(|m| m.explanation.clone())
                    .collect();
                if moved.is_empty() {
                    self.line(Mark::Ok, format!("Against its pre-incident baseline (Mann-Whitney, 98% CI): no metric moved (score {:.0})", r.score));
                } else {
                    self.line(
                        Mark::Warn,
                        format!("Against its pre-incident baseline: {}", moved.join("; ")),
                    );
                }
                Some(r)
            }
            Ok(None) => None,
            Err(e) => {
                self.line(Mark::Warn, format!("baseline comparison not possible: {e}"));
                None
            }
        }
    }

    /// Returns whether the target became stable.
    pub(super) async fn stage_health(&mut self) -> Step<bool> {
        self.begin(Stage::HealthCheck);
        let Some(to) = self.to.clone() else {
            self.end(StageStatus::Skipped);
            return Ok(false);
        };
        let policy = self.inner.policy.health.clone();
        // Each sample reads at least one step of the source's data: a sample shorter than the
        // source's resolution would see nothing and fail closed.
        let step = self.inner.policy.detection.step;
        let window = policy.interval.max(step);
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        self.line(
            Mark::Info,
            format!(
                "Monitoring {} for {} ({} consecutive samples every {} required)",
                to.version,
                humantime::format_duration(policy.duration),
                policy.consecutive,
                humantime::format_duration(policy.interval)
            ),
        );
        let started = Instant::now();
        // A sample every interval for the duration: the count is fixed, so slow metric queries
        // stretch the watch instead of silently dropping samples.
        let max_samples =
            (policy.duration.as_nanos() / policy.interval.as_nanos().max(1)).max(1) as u32;
        let mut consecutive = 0;
        let mut watch = HealthWatch {
            release: to.reference(),
            stable: false,
            samples: Vec::new(),
            baseline: None,
        };
        let watch_start = self.now();
        let mut last = None;
        for _ in 0..max_samples {
            tokio::time::sleep(policy.interval).await;
            let a = self.assess(&to, window, window, step).await;
            let h = match self
                .read("health", || inner.platform.health(&target, &to))
                .await
            {
                Ok(h) => h,
                Err(e) => {
                    self.line(Mark::Warn, format!("health read failed: {e}"));
                    crate::model::health::HealthSnapshot::default()
                }
            };
            let in_sla = a.verdict == Verdict::Healthy && h.is_healthy();
            match a.verdict {
                Verdict::Inconclusive if h.is_healthy() => {}
                _ if in_sla => consecutive += 1,
                _ => consecutive = 0,
            }
            let critical = a.worst() == Some(Severity::Critical);
            watch.samples.push(HealthSample {
                at: self.now(),
                in_sla,
                assessment: a.clone(),
                ready: h.ready,
                desired: h.desired,
            });
            last = Some((a, h));
            if consecutive >= policy.consecutive {
                watch.stable = true;
                break;
            }
            if critical {
                break;
            }
        }
        let elapsed = started.elapsed();
        if let Some((a, h)) = &last {
            for r in &a.readings {
                let bad = a.breaches.iter().any(|b| b.metric == r.metric);
                let text = match r.value {
                    Some(v) => format!(
                        "{}: {} (SLA: < {})",
                        r.metric,
                        r.metric.format_value(v),
                        r.metric.format_value(r.threshold)
                    ),
                    None => format!("{}: no data", r.metric),
                };
                self.line(
                    if bad {
                        Mark::Fail
                    } else if r.value.is_none() {
                        Mark::Warn
                    } else {
                        Mark::Ok
                    },
                    text,
                );
            }
            self.line(
                if h.is_healthy() { Mark::Ok } else { Mark::Fail },
                format!(
                    "Instances ready: {}/{}{}",
                    h.ready,
                    h.desired,
                    if h.problems.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", h.problems.join(", "))
                    }
                ),
            );
        }
        if watch.stable {
            watch.baseline = self.against_baseline(&to, watch_start).await;
        }
        let stable = watch.stable;
        self.report.health.push(watch);
        if stable {
            self.line(
                Mark::Ok,
                format!(
                    "{} stable: {} consecutive in-SLA samples in {}",
                    to.version,
                    policy.consecutive,
                    humantime::format_duration(std::time::Duration::from_secs(elapsed.as_secs()))
                ),
            );
            self.journal(JournalRecord::Verified {
                release: to.reference(),
            })
            .await?;
            self.mark_release(
                &to,
                ReleaseMark::Verified,
                "passed its post-rollback health check",
            )
            .await;
            self.end(StageStatus::Ok);
        } else {
            let why = last
                .as_ref()
                .map(|(a, _)| a.explain())
                .unwrap_or_else(|| "no sample could be taken".into());
            self.line(
                Mark::Fail,
                format!("{} did not stabilise: {why}", to.version),
            );
            self.end(StageStatus::Failed);
        }
        Ok(stable)
    }
}
