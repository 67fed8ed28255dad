//! Stage 5: switch back — instant, gradual, full revert or database restore — and the cascade
//! to an older release when the target fails its health check.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::run::{Run, Step, Stop};
use crate::detect::Verdict;
use crate::error::{Error, ErrorKind, Result};
use crate::journal::JournalRecord;
use crate::metrics_source::MetricsSource;
use crate::model::event::{EventKind, Stage};
use crate::model::release::{Release, ReleaseMark, ReleaseState};
use crate::model::traffic::TrafficSplit;
use crate::platform::Platform;
use crate::report::{Execution, ExecutionStep, Mark, Outcome, StageStatus};
use crate::request::Strategy;

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_execute(&mut self) -> Step {
        self.begin(Stage::Execute);
        let (Some(from), Some(to), Some(strategy)) =
            (self.from.clone(), self.to.clone(), self.strategy)
        else {
            self.end(StageStatus::Skipped);
            return Ok(());
        };
        if !self.executing && self.resume.is_none() {
            self.journal(JournalRecord::Planned {
                from: from.reference(),
                to: to.reference(),
                strategy,
                holder: self.holder.clone(),
            })
            .await?;
        }
        if !self.executing && self.req.notify {
            self.dispatch(EventKind::Started, None);
        }
        self.executing = true;
        self.line(Mark::Info, format!("Strategy: {}", strategy.describe()));
        let mut exec = Execution {
            strategy,
            steps: Vec::new(),
            downtime: Duration::ZERO,
        };
        let started = Instant::now();
        let result = match strategy {
            Strategy::Instant => self.exec_instant(&to, &mut exec).await,
            Strategy::Gradual => self.exec_gradual(&from, &to, &mut exec).await,
            Strategy::Full => self.exec_full(&to, &mut exec).await,
            Strategy::Database => self.exec_database(&to, &mut exec).await,
        };
        self.report.executions.push(exec);
        match result {
            Ok(()) => {
                self.line(
                    Mark::Ok,
                    format!(
                        "Rollback executed in {} — downtime: 0 seconds",
                        humantime::format_duration(round_ms(started.elapsed()))
                    ),
                );
                self.end(StageStatus::Ok);
                Ok(())
            }
            Err(e) => {
                self.line(Mark::Fail, format!("Execution failed: {e}"));
                self.end(StageStatus::Failed);
                Err(Stop::from(e))
            }
        }
    }

    fn record(
        &mut self,
        exec: &mut Execution,
        action: &str,
        split: Option<TrafficSplit>,
        t0: Instant,
        ok: bool,
        detail: String,
    ) {
        exec.steps.push(ExecutionStep {
            action: action.to_string(),
            split,
            at: self.now(),
            duration: t0.elapsed(),
            ok,
            detail,
        });
    }

    /// One journalled mutating step (not a traffic change): call, record, journal.
    async fn step<F, Fut>(
        &mut self,
        exec: &mut Execution,
        action: &'static str,
        detail: String,
        f: F,
    ) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let t0 = Instant::now();
        let r = self.mutate(action, f).await;
        self.record(exec, action, None, t0, r.is_ok(), detail);
        r?;
        self.journal(JournalRecord::Step {
            action: action.into(),
            split: None,
        })
        .await
        .map_err(stop_to_error)
    }

    async fn set_split(&mut self, exec: &mut Execution, split: TrafficSplit) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        // Invariant 1: never move traffic to a release without ready capacity.
        for w in split.weights() {
            let Some(r) = self
                .releases
                .iter()
                .find(|r| r.revision == w.release.revision)
                .cloned()
            else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("release {} is not listed", w.release.version),
                ));
            };
            let h = self
                .read("health", || inner.platform.health(&target, &r))
                .await?;
            if !h.has_ready_capacity() {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "{} has no ready capacity ({}/{} ready): traffic not moved",
                        r.version, h.ready, h.desired
                    ),
                ));
            }
        }
        let t0 = Instant::now();
        let r = self
            .mutate("set_traffic", || {
                inner.platform.set_traffic(&target, &split)
            })
            .await;
        let ok = r.is_ok();
        let detail = match &r {
            Ok(()) => format!("traffic: {split}"),
            Err(e) => format!("set_traffic failed: {e}"),
        };
        self.record(exec, "set_traffic", Some(split.clone()), t0, ok, detail);
        r?;
        self.traffic = Some(split.clone());
        self.journal(JournalRecord::Step {
            action: "set_traffic".into(),
            split: Some(split),
        })
        .await
        .map_err(stop_to_error)?;
        Ok(())
    }

    /// Makes sure `to` has ready capacity, scaling it up when the platform can.
    async fn ensure_capacity(&mut self, to: &Release, exec: &mut Execution) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let h = self
            .read("health", || inner.platform.health(&target, to))
            .await?;
        if h.is_healthy() {
            return Ok(());
        }
        if !inner.platform.capabilities_for(&self.req.target).scale {
            if h.has_ready_capacity() {
                return Ok(());
            }
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!(
                    "{} has no ready capacity and the platform cannot scale it",
                    to.version
                ),
            ));
        }
        let want = self
            .from
            .as_ref()
            .map_or(1, |f| f.replicas.desired)
            .max(h.desired)
            .max(1);
        let t0 = Instant::now();
        let r = self
            .mutate("scale", || inner.platform.scale(&target, to, want))
            .await;
        self.record(
            exec,
            "scale",
            None,
            t0,
            r.is_ok(),
            format!("scale {} to {want}", to.version),
        );
        r?;
        self.line(
            Mark::Info,
            format!("Scaling {} to {want} instances", to.version),
        );
        self.wait_ready(to).await
    }

    /// Polls the health of `to` until all its instances are ready, within the rollout timeout.
    async fn wait_ready(&mut self, to: &Release) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let deadline = Instant::now() + self.inner.policy.rollout_timeout;
        let poll = Duration::from_secs(5).min(self.inner.policy.health.interval);
        loop {
            let h = self
                .read("health", || inner.platform.health(&target, to))
                .await?;
            if h.is_healthy() {
                self.line(
                    Mark::Ok,
                    format!("{}: {}/{} instances ready", to.version, h.ready, h.desired),
                );
                return Ok(());
            }
            if Instant::now() + poll > deadline {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "{} not ready within {} ({}/{} ready{})",
                        to.version,
                        humantime::format_duration(self.inner.policy.rollout_timeout),
                        h.ready,
                        h.desired,
                        if h.problems.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", h.problems.join(", "))
                        }
                    ),
                ));
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn exec_instant(&mut self, to: &Release, exec: &mut Execution) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        if self.resume.is_some() {
            let now = self
                .read("traffic", || inner.platform.traffic(&target))
                .await?;
            if now.is_all_to(&to.revision) {
                self.line(
                    Mark::Ok,
                    format!(
                        "Traffic already on {} (switched before the interruption)",
                        to.version
                    ),
                );
                return Ok(());
            }
        }
        self.ensure_capacity(to, exec).await?;
        self.line(
            Mark::Info,
            format!("Switching traffic to {}...", to.version),
        );
        self.set_split(exec, TrafficSplit::all_to(to)).await?;
        self.line(Mark::Ok, format!("Traffic switched to {}", to.version));
        Ok(())
    }

    async fn exec_gradual(
        &mut self,
        from: &Release,
        to: &Release,
        exec: &mut Execution,
    ) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let start = self
            .read("traffic", || inner.platform.traffic(&target))
            .await?;
        self.traffic = Some(start.clone());
        let mut safe = start.clone();
        let have = start.percent_for(&to.revision);
        self.ensure_capacity(to, exec).await?;
        let steps: Vec<u8> = self
            .inner
            .policy
            .gradual
            .steps
            .iter()
            .copied()
            .filter(|p| *p > have)
            .collect();
        let pause = self.inner.policy.gradual.pause;
        let interval = self.inner.policy.health.interval.min(pause);
        // As in the health watch: each observation reads at least one step of data.
        let step = self.inner.policy.detection.step;
        let window = interval.max(step);
        for p in steps {
            let split = TrafficSplit::shift(from, to, p)?;
            self.set_split(exec, split.clone()).await?;
            self.line(Mark::Ok, format!("{p}% of traffic on {}", to.version));
            if p == 100 {
                break;
            }
            // Observe the target at this share before moving more traffic.
            let observe_until = Instant::now() + pause;
            while Instant::now() < observe_until {
                tokio::time::sleep(interval).await;
                let a = self.assess(to, window, window, step).await;
                let health = self
                    .read("health", || inner.platform.health(&target, to))
                    .await?;
                if a.verdict == Verdict::Violation || !health.has_ready_capacity() {
                    let why = if a.verdict == Verdict::Violation {
                        a.explain()
                    } else {
                        format!("no ready capacity ({}/{})", health.ready, health.desired)
                    };
                    self.line(
                        Mark::Fail,
                        format!("{} degraded at {p}%: {why}", to.version),
                    );
                    // Restore the last split at which the target was healthy.
                    self.set_split(exec, safe.clone()).await?;
                    self.line(
                        Mark::Warn,
                        format!("Traffic restored to the last safe split: {safe}"),
                    );
                    return Err(Error::new(
                        ErrorKind::PreconditionFailed,
                        format!("gradual shift halted: {} degraded at {p}% ({why}); traffic restored to {safe}", to.version),
                    ));
                }
            }
            safe = split;
        }
        Ok(())
    }

    async fn exec_full(&mut self, to: &Release, exec: &mut Execution) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        if self.resume.is_some() {
            let releases = self
                .read("releases", || inner.platform.releases(&target))
                .await?;
            let serving = releases
                .iter()
                .find(|r| r.revision == to.revision && r.state == ReleaseState::Serving);
            if serving.is_some() {
                self.line(
                    Mark::Ok,
                    format!(
                        "{} already deployed (reverted before the interruption)",
                        to.version
                    ),
                );
                return self.wait_ready(to).await;
            }
        }
        self.line(
            Mark::Info,
            format!("Reverting the workload to {}...", to.version),
        );
        let t0 = Instant::now();
        let r = self
            .mutate("revert", || inner.platform.revert(&target, to))
            .await;
        self.record(
            exec,
            "revert",
            None,
            t0,
            r.is_ok(),
            format!("revert to {}", to.version),
        );
        r?;
        self.journal(JournalRecord::Step {
            action: "revert".into(),
            split: None,
        })
        .await
        .map_err(stop_to_error)?;
        self.wait_ready(to).await?;
        // Re-read: the revert changes which release serves.
        self.releases = self
            .read("releases", || inner.platform.releases(&target))
            .await?;
        self.traffic = Some(
            self.read("traffic", || inner.platform.traffic(&target))
                .await?,
        );
        Ok(())
    }

    async fn exec_database(&mut self, to: &Release, exec: &mut Execution) -> Result<()> {
        // Invariant 3: never a restore while preserving data (checked again here on purpose).
        if self.req.preserve_data {
            return Err(Error::invalid_input(
                "database restore refused: preserve_data is on",
            ));
        }
        let Some(guard) = self.inner.data_guard.clone() else {
            return Err(Error::invalid_input("database restore needs a data guard"));
        };
        let target = self.req.target.clone();
        self.line(
            Mark::Warn,
            format!("Restoring data for {} (preserve_data = false)", to.version),
        );
        let detail = format!("restore data for {}", to.version);
        self.step(exec, "restore", detail, || guard.restore(&target, to))
            .await?;
        self.exec_full(to, exec).await
    }

    /// The target failed its health check: mark it failed and, once, move on to the next
    /// eligible older release.
    pub(super) async fn cascade(&mut self) -> Step {
        let Some(failed) = self.to.clone() else {
            return Err(Stop::from(Error::new(
                ErrorKind::Backend,
                "no target to cascade from",
            )));
        };
        self.mark_release(
            &failed,
            ReleaseMark::Failed,
            "failed its post-rollback health check",
        )
        .await;
        // Cascade once: the second execution is the cascade.
        let allowed = self.inner.policy.health.cascade && self.report.executions.len() < 2;
        if !allowed {
            return Err(Stop::Error(
                Outcome::Failed,
                Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "{} failed its health check after the rollback and no cascade is allowed",
                        failed.version
                    ),
                ),
            ));
        }
        self.begin(Stage::Target);
        self.line(
            Mark::Warn,
            format!(
                "{} failed its health check: cascading to the next stable release",
                failed.version
            ),
        );
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        self.releases = self
            .read("releases", || inner.platform.releases(&target))
            .await?;
        self.traffic = Some(
            self.read("traffic", || inner.platform.traffic(&target))
                .await?,
        );
        let mut next = None;
        for r in std::mem::take(&mut self.fallbacks) {
            let Some(fresh) = self
                .releases
                .iter()
                .find(|x| x.revision == r.revision)
                .cloned()
            else {
                continue;
            };
            if next.is_some() {
                self.fallbacks.push(fresh);
                continue;
            }
            let c = self.judge_candidate(&fresh).await;
            self.line(
                if c.eligible { Mark::Ok } else { Mark::Info },
                format!(
                    "{} {}: {}",
                    if c.eligible { "Target" } else { "Skipped" },
                    fresh.version,
                    c.reason
                ),
            );
            let ok = c.eligible;
            self.report.candidates.push(c);
            if ok {
                next = Some(fresh);
            }
        }
        let Some(next) = next else {
            self.end(StageStatus::Failed);
            return Err(Stop::Error(
                Outcome::Failed,
                Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "{} failed its health check and no older release is eligible to cascade to",
                        failed.version
                    ),
                ),
            ));
        };
        let from = self
            .releases
            .iter()
            .find(|r| r.revision == failed.revision)
            .cloned()
            .unwrap_or(failed.clone());
        let strategy = self.choose_strategy(&from, &next)?;
        self.line(
            Mark::Info,
            format!("Cascade target: {} ({})", next.version, strategy.describe()),
        );
        self.journal(JournalRecord::Cascaded {
            failed: failed.reference(),
            to: next.reference(),
            strategy,
        })
        .await?;
        self.from = Some(from);
        self.to = Some(next);
        self.strategy = Some(strategy);
        self.end(StageStatus::Warn);
        Ok(())
    }

    /// Records a mark on a release when the platform supports marks; failures are logged only.
    pub(super) async fn mark_release(&mut self, r: &Release, mark: ReleaseMark, reason: &str) {
        if !self.inner.platform.capabilities_for(&self.req.target).mark {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        if let Err(e) = self
            .mutate("mark", || inner.platform.mark(&target, r, mark, reason))
            .await
        {
            tracing::warn!(error = %e, release = %r.version, "could not record the release mark");
        }
    }
}

fn stop_to_error(s: Stop) -> Error {
    match s {
        Stop::Error(_, e) => e,
        Stop::Done(_, msg) => Error::new(ErrorKind::Backend, msg),
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
