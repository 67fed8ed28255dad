//! Stage 1: read the failing release's SLA metrics and decide whether to act.

use std::sync::Arc;

use super::run::{Run, Step, Stop};
use crate::detect::Verdict;
use crate::error::{Error, ErrorKind};
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::finding::Severity;
use crate::model::metric::group_thousands;
use crate::platform::Platform;
use crate::report::{Mark, Outcome, StageStatus};

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_detect(&mut self) -> Step {
        self.begin(Stage::Detect);
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let releases = self
            .read("releases", || inner.platform.releases(&target))
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound | ErrorKind::InvalidInput => Stop::Error(Outcome::Rejected, e),
                _ => Stop::from(e),
            })?;
        if releases.is_empty() {
            return Err(Stop::Error(
                Outcome::Rejected,
                Error::new(ErrorKind::NotFound, format!("{target} has no releases")),
            ));
        }
        let traffic = self
            .read("traffic", || inner.platform.traffic(&target))
            .await?;
        // The failing release: the newest one receiving traffic (a canary, or the only one).
        let Some(from) = releases
            .iter()
            .find(|r| traffic.percent_for(&r.revision) > 0)
            .cloned()
        else {
            return Err(Stop::from(
                Error::new(
                    ErrorKind::Backend,
                    format!("traffic ({traffic}) goes to no release the platform lists"),
                )
                .with_backend(inner.platform.name().to_string()),
            ));
        };
        let share = traffic.percent_for(&from.revision);
        self.line(
            Mark::Info,
            format!(
                "Current release: {} ({}% of traffic{})",
                from.version,
                share,
                from.slot
                    .as_ref()
                    .map(|s| format!(", {s} slot"))
                    .unwrap_or_default()
            ),
        );

        let policy = self.inner.policy.detection.clone();
        let (assessment, status, p95) = self
            .assess_with_series(&from, policy.window, policy.evaluation, policy.step)
            .await;
        for r in &assessment.readings {
            let breach = assessment.breaches.iter().find(|b| b.metric == r.metric);
            match (r.value, breach) {
                (Some(v), Some(b)) => self.line(
                    Mark::Fail,
                    format!(
                        "{}: {} (SLA: < {}) - {}",
                        r.metric,
                        r.metric.format_value(v),
                        r.metric.format_value(r.threshold),
                        b.severity
                    ),
                ),
                (Some(v), None) => self.line(
                    Mark::Ok,
                    format!(
                        "{}: {} (SLA: < {})",
                        r.metric,
                        r.metric.format_value(v),
                        r.metric.format_value(r.threshold)
                    ),
                ),
                (None, _) => self.line(
                    Mark::Warn,
                    format!(
                        "{}: no data ({})",
                        r.metric,
                        match policy.no_data {
                            crate::policy::NoDataPolicy::Fail => "counted as a breach: fail closed",
                            crate::policy::NoDataPolicy::Inconclusive => "verdict inconclusive",
                            crate::policy::NoDataPolicy::Pass => "ignored",
                        }
                    ),
                ),
            }
        }
        if let Some(f) = &assessment.failed_requests {
            if f.failed > 0 {
                self.line(
                    Mark::Info,
                    format!(
                        "Failed requests: {} in last {}",
                        group_thousands(f.failed as i64),
                        humantime::format_duration(policy.window)
                    ),
                );
                let parts: Vec<String> = f
                    .by_status
                    .iter()
                    .map(|(code, n)| format!("{code}: {:.0}%", *n as f64 * 100.0 / f.failed as f64))
                    .collect();
                self.line(Mark::Info, format!("  {}", parts.join(", ")));
            }
        }
        // The sequential test reads the same window step by step: it sees a breach as soon as
        // the evidence is conclusive, not only when a window's mean crosses the line.
        let sequential = if policy.sequential.enabled {
            let sla = self.inner.policy.sla.for_env(target.environment);
            let mut cfg = crate::sequential::DetectorConfig::from_sla(sla, &policy);
            cfg.alpha = policy.sequential.alpha;
            cfg.persistence = policy.sequential.persistence;
            cfg.fast_burn = policy.sequential.fast_burn;
            match crate::sequential::SequentialDetector::from_series(cfg, &status, Some(&p95), None)
            {
                Ok(d) => Some(d.verdict_at(self.now())),
                Err(e) => {
                    self.line(Mark::Warn, format!("Sequential test not run: {e}"));
                    None
                }
            }
        } else {
            None
        };
        if let Some(v) = &sequential {
            let breach = v.state == crate::sequential::DetectorState::Breach;
            self.line(
                if breach { Mark::Fail } else { Mark::Info },
                format!(
                    "Sequential test (α = {}): {}",
                    policy.sequential.alpha, v.explanation
                ),
            );
        }
        self.releases = releases;
        self.traffic = Some(traffic);
        self.from = Some(from);
        self.report.detection = Some(assessment.clone());
        self.report.sequential = sequential.clone();

        let operator = self.req.to.is_some() || self.req.force;
        // A conclusive sequential breach counts like a window breach of the same severity.
        let worst = assessment
            .worst()
            .max(sequential.as_ref().and_then(|v| v.worst()));
        let assessment = if assessment.verdict == Verdict::Healthy && worst.is_some() {
            let mut a = assessment;
            a.verdict = Verdict::Violation;
            if let Some(v) = &sequential {
                a.breaches.extend(v.to_assessment().breaches);
            }
            a
        } else {
            assessment
        };
        let recommended = worst == Some(Severity::Critical);
        match assessment.verdict {
            Verdict::Healthy if !operator => {
                self.line(Mark::Ok, "No SLA violation");
                self.end(StageStatus::Ok);
                return Err(Stop::Done(
                    Outcome::NothingToDo,
                    "no SLA violation — nothing to roll back".into(),
                ));
            }
            Verdict::Inconclusive if !operator => {
                self.line(Mark::Warn, assessment.explain());
                self.end(StageStatus::Warn);
                return Err(Stop::Done(
                    Outcome::Inconclusive,
                    format!(
                        "{} — not rolling back; pass --to or force to override",
                        assessment.explain()
                    ),
                ));
            }
            Verdict::Violation if !operator && worst < Some(policy.trigger) => {
                self.line(
                    Mark::Warn,
                    format!(
                        "Breaches below the configured trigger ({}): not rolling back",
                        policy.trigger
                    ),
                );
                self.end(StageStatus::Warn);
                return Err(Stop::Done(
                    Outcome::NothingToDo,
                    format!(
                        "SLA degraded below the rollback trigger: {}",
                        assessment.explain()
                    ),
                ));
            }
            _ => {}
        }
        let why = if recommended {
            "YES (critical SLA breach)".to_string()
        } else if assessment.verdict == Verdict::Violation {
            format!("YES ({} SLA breach)", worst.unwrap_or(Severity::High))
        } else {
            "NO — proceeding because the operator asked".to_string()
        };
        self.line(
            if assessment.verdict == Verdict::Violation {
                Mark::Fail
            } else {
                Mark::Info
            },
            format!("Rollback recommended: {why}"),
        );
        self.end(if assessment.verdict == Verdict::Violation {
            StageStatus::Warn
        } else {
            StageStatus::Ok
        });
        Ok(())
    }
}
