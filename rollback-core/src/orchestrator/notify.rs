//! Stage 10: fan out to every notifier concurrently, each with a timeout. A failing or hanging
//! channel is recorded, never fatal.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::time::Instant;

use super::run::Run;
use crate::metrics_source::MetricsSource;
use crate::model::event::{Event, EventKind, KeyMetric, Stage};
use crate::model::finding::{FindingKind, Severity};
use crate::notifier::Notifier;
use crate::platform::Platform;
use crate::report::{Delivery, Mark, Outcome, StageStatus};

/// Delivers one event to one channel within `timeout`.
pub(crate) async fn deliver(n: Arc<dyn Notifier>, event: Event, timeout: Duration) -> Delivery {
    let t0 = Instant::now();
    let r = tokio::time::timeout(timeout, n.notify(&event)).await;
    let (delivered, error) = match r {
        Ok(Ok(())) => (true, None),
        Ok(Err(e)) => (false, Some(e.to_string())),
        Err(_) => (
            false,
            Some(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            )),
        ),
    };
    Delivery {
        channel: n.name().to_string(),
        event: event.kind,
        delivered,
        error,
        duration: t0.elapsed(),
    }
}

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    /// The failing release's workload failure that counted in the detect stage, if any.
    fn workload_failure(&self) -> Option<(Severity, String)> {
        let w = self.report.workload.as_ref()?;
        Some((w.counted_severity()?, w.summary()))
    }

    /// Builds an event describing the run so far.
    pub(super) fn event(&self, kind: EventKind, stage: Option<Stage>) -> Event {
        let severity = match kind {
            EventKind::Failed => Severity::Critical,
            // As severe as the worst signal: window, sequential tests, workload.
            EventKind::Started => self
                .report
                .detection
                .as_ref()
                .and_then(|d| d.worst())
                .max(self.report.sequential.as_ref().and_then(|v| v.worst()))
                .max(self.workload_failure().map(|(sev, _)| sev))
                .unwrap_or(Severity::High),
            EventKind::Succeeded => Severity::Medium,
            _ => Severity::Info,
        };
        let summary = match kind {
            EventKind::Started => format!(
                "Rolling back {} from {} to {} ({})",
                self.req.target,
                self.failed_version(),
                self.target_version(),
                self.strategy.map(|s| s.describe()).unwrap_or("")
            ),
            _ => self.report.summary.clone(),
        };
        let mut e = Event::new(
            self.run_id.clone(),
            kind,
            severity,
            self.req.target.clone(),
            summary,
            self.now(),
        );
        e.stage = stage;
        e.from = self.from.as_ref().map(|r| r.version.clone());
        e.to = self.to.as_ref().map(|r| r.version.clone());
        e.trigger = self.report.trigger.clone();
        e.reason = self.req.reason.clone().or_else(|| {
            if let Some(t) = &self.report.trigger {
                return Some(t.decision.clone());
            }
            let detected: Vec<String> = self
                .report
                .detection
                .as_ref()
                .map(|d| d.explain())
                .into_iter()
                .chain(
                    self.workload_failure()
                        .map(|(sev, summary)| format!("{sev} workload failure: {summary}")),
                )
                .collect();
            (!detected.is_empty()).then(|| detected.join("; "))
        });
        if let Some(d) = &self.report.detection {
            e.metrics = d
                .readings
                .iter()
                .filter_map(|r| {
                    r.value.map(|v| KeyMetric {
                        name: r.metric.to_string(),
                        value: r.metric.format_value(v),
                        threshold: Some(format!("< {}", r.metric.format_value(r.threshold))),
                    })
                })
                .collect();
        }
        if let Some(rc) = &self.report.root_cause {
            e.findings = rc
                .findings
                .iter()
                .filter(|f| f.kind == FindingKind::Cause)
                .take(3)
                .cloned()
                .collect();
            e.report_path = rc.markdown_path.clone();
            e.report_markdown = Some(rc.markdown.clone());
        }
        if matches!(kind, EventKind::Succeeded | EventKind::Failed) {
            e.duration = Some(self.started_elapsed());
        }
        e
    }

    /// Sends an event to the channels that want it, in the background.
    pub(super) fn dispatch(&mut self, kind: EventKind, stage: Option<Stage>) {
        let event = self.event(kind, stage);
        let timeout = self.inner.policy.notify_timeout;
        for n in self.inner.notifiers.iter().filter(|n| n.wants(&event)) {
            self.deliveries
                .push(tokio::spawn(deliver(Arc::clone(n), event.clone(), timeout)));
        }
    }

    pub(super) async fn stage_notify(&mut self) {
        self.begin(Stage::Notify);
        if self.inner.notifiers.is_empty() {
            self.line(Mark::Info, "No notification channels configured");
            self.end(StageStatus::Skipped);
            return;
        }
        let kind = if self.report.outcome == Outcome::RolledBack {
            EventKind::Succeeded
        } else {
            EventKind::Failed
        };
        self.dispatch(kind, None);
        let pending = std::mem::take(&mut self.deliveries);
        let results = join_all(pending).await;
        let mut status = StageStatus::Ok;
        for r in results {
            let d = match r {
                Ok(d) => d,
                Err(e) => Delivery {
                    channel: "unknown".into(),
                    event: kind,
                    delivered: false,
                    error: Some(format!("delivery task failed: {e}")),
                    duration: Duration::ZERO,
                },
            };
            if d.delivered {
                self.line(Mark::Ok, format!("{}: {:?} delivered", d.channel, d.event));
            } else {
                status = StageStatus::Warn;
                self.line(
                    Mark::Warn,
                    format!(
                        "{}: {:?} not delivered: {}",
                        d.channel,
                        d.event,
                        d.error.as_deref().unwrap_or("?")
                    ),
                );
            }
            self.report.notifications.push(d);
        }
        self.end(status);
    }
}
