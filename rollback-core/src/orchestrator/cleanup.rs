//! Stage 9: after a delay, scale the failed release to zero (never delete it), mark it failed,
//! and export its evidence.

use std::sync::Arc;

use super::rca::evidence_jsonl;
use super::run::Run;
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::metric::TimeRange;
use crate::model::release::ReleaseMark;
use crate::platform::Platform;
use crate::report::{Mark, StageStatus};

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_cleanup(&mut self) {
        self.begin(Stage::Cleanup);
        let (Some(failed), Some(to)) = (self.from.clone(), self.to.clone()) else {
            self.end(StageStatus::Skipped);
            return;
        };
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let caps = inner.platform.capabilities_for(&self.req.target);
        let mut status = StageStatus::Ok;
        self.mark_release(&failed, ReleaseMark::Failed, "rolled back")
            .await;

        // Invariant 4: only ever scale down, and never the release now serving.
        let serving_elsewhere = self
            .traffic
            .as_ref()
            .is_some_and(|t| t.percent_for(&failed.revision) == 0);
        if caps.scale && failed.revision != to.revision && serving_elsewhere {
            let delay = inner.policy.cleanup_delay;
            if !delay.is_zero() {
                self.line(
                    Mark::Info,
                    format!(
                        "Waiting {} before scaling down {}",
                        humantime::format_duration(delay),
                        failed.version
                    ),
                );
                tokio::time::sleep(delay).await;
            }
            match self
                .mutate("scale", || inner.platform.scale(&target, &failed, 0))
                .await
            {
                Ok(()) => self.line(
                    Mark::Ok,
                    format!(
                        "Scaled down failed release {} to 0 (artifact kept)",
                        failed.version
                    ),
                ),
                Err(e) => {
                    status = StageStatus::Warn;
                    self.line(
                        Mark::Warn,
                        format!("Could not scale down {}: {e}", failed.version),
                    );
                }
            }
        } else if !caps.scale {
            self.line(
                Mark::Info,
                "Platform cannot scale: failed release left as is",
            );
        } else {
            self.line(
                Mark::Info,
                format!("{} still receives traffic: not scaled down", failed.version),
            );
        }
        self.line(
            Mark::Ok,
            format!("Artifact of {} retained for investigation", failed.version),
        );

        // Export the failed release's evidence (logs, events).
        if let Some(dir) = self.run_dir() {
            let evidence = match self.failed_evidence.take() {
                Some(e) => Some(e),
                None if caps.evidence => {
                    let window = TimeRange::ending_at(self.now(), inner.policy.detection.window);
                    self.read("evidence", || {
                        inner.platform.evidence(&target, &failed, &window)
                    })
                    .await
                    .ok()
                }
                None => None,
            };
            if let Some(mut e) = evidence {
                for l in &mut e.logs {
                    l.line = crate::redact::scrub(&l.line);
                }
                let path = dir.join(format!("logs-{}.jsonl", failed.version));
                let body = evidence_jsonl(&e);
                let r = async {
                    tokio::fs::create_dir_all(&dir).await?;
                    tokio::fs::write(&path, body).await
                }
                .await;
                match r {
                    Ok(()) => self.line(
                        Mark::Ok,
                        format!("Exported {} log lines to {}", e.logs.len(), path.display()),
                    ),
                    Err(err) => {
                        status = StageStatus::Warn;
                        self.line(
                            Mark::Warn,
                            format!("Could not export logs to {}: {err}", path.display()),
                        );
                    }
                }
            }
        }
        self.end(status);
    }
}
