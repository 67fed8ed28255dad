//! Stage 4: gates before touching anything, then the lock.

use std::sync::Arc;

use futures::future::join_all;
use tokio::time::Instant;

use super::run::{Run, Step, Stop};
use crate::error::{Error, ErrorKind};
use crate::metrics_source::MetricsSource;
use crate::model::check::{CheckContext, CheckOutcome, CheckPhase, CheckStatus};
use crate::model::event::Stage;
use crate::platform::Platform;
use crate::report::{Mark, Outcome, StageStatus};
use crate::request::Strategy;

fn mark_of(s: CheckStatus) -> Mark {
    match s {
        CheckStatus::Pass => Mark::Ok,
        CheckStatus::Warn => Mark::Warn,
        CheckStatus::Fail => Mark::Fail,
        CheckStatus::Skipped => Mark::Info,
    }
}

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_validate(&mut self) -> Step {
        self.begin(Stage::Validate);
        let (Some(from), Some(to), Some(strategy)) =
            (self.from.clone(), self.to.clone(), self.strategy)
        else {
            self.end(StageStatus::Skipped);
            return Ok(());
        };
        let mut outcomes = Vec::new();
        if self.req.immediate || self.resume.is_some() {
            let why = if self.req.immediate {
                "skipped (--immediate)"
            } else {
                "skipped (resumed run; gates passed before)"
            };
            for name in [
                "target capacity",
                "database compatibility",
                "dependencies",
                "traffic layer",
            ] {
                outcomes.push(CheckOutcome::new(name, CheckStatus::Skipped, why));
            }
            self.report.gates_skipped = true;
            self.line(Mark::Warn, format!("Validation gates {why}"));
        } else {
            let inner = Arc::clone(&self.inner);
            let target = self.req.target.clone();
            let caps = inner.platform.capabilities_for(&self.req.target);

            // 1. Target capacity.
            let t0 = Instant::now();
            let capacity = match strategy {
                Strategy::Full | Strategy::Database => CheckOutcome::new(
                    "target capacity",
                    CheckStatus::Pass,
                    format!("{} will be started by the revert (its artifact is retained)", to.version),
                ),
                Strategy::Instant | Strategy::Gradual => {
                    match self.read("health", || inner.platform.health(&target, &to)).await {
                        Ok(h) if h.is_healthy() => CheckOutcome::new(
                            "target capacity",
                            CheckStatus::Pass,
                            format!("Target environment healthy ({}/{} instances ready)", h.ready, h.desired),
                        ),
                        Ok(h) if caps.scale && h.problems.is_empty() => CheckOutcome::new(
                            "target capacity",
                            CheckStatus::Warn,
                            format!(
                                "{}/{} instances ready: will scale {} up to {} before moving traffic",
                                h.ready,
                                h.desired,
                                to.version,
                                from.replicas.desired.max(h.desired).max(1)
                            ),
                        ),
                        Ok(h) => CheckOutcome::new(
                            "target capacity",
                            CheckStatus::Fail,
                            format!(
                                "{}/{} instances ready{}",
                                h.ready,
                                h.desired,
                                if h.problems.is_empty() { String::new() } else { format!(": {}", h.problems.join(", ")) }
                            ),
                        ),
                        Err(e) => CheckOutcome::new("target capacity", CheckStatus::Fail, format!("cannot read health: {e}")),
                    }
                }
            }
            .with_duration(t0.elapsed());
            outcomes.push(capacity);

            // 2. Database compatibility.
            let t0 = Instant::now();
            let db = match &inner.data_guard {
                Some(g) => match self
                    .read("data_guard.compatible", || {
                        g.compatible(&target, &from, &to)
                    })
                    .await
                {
                    Ok(o) => o,
                    Err(e) => CheckOutcome::new(
                        "database compatibility",
                        CheckStatus::Fail,
                        e.to_string(),
                    ),
                },
                None => CheckOutcome::new(
                    "database compatibility",
                    CheckStatus::Skipped,
                    "no data guard configured",
                ),
            }
            .with_duration(t0.elapsed());
            outcomes.push(db);

            // 3. Dependencies (configured gates), concurrently.
            let ctx = CheckContext {
                target: target.clone(),
                release: to.clone(),
                phase: CheckPhase::Gate,
            };
            let gate_outcomes = join_all(inner.gates.iter().map(|g| {
                let ctx = &ctx;
                async move {
                    let t0 = Instant::now();
                    let mut o = g.run(ctx).await;
                    if o.duration.is_zero() {
                        o.duration = t0.elapsed();
                    }
                    o
                }
            }))
            .await;
            outcomes.extend(gate_outcomes);

            // 4. Traffic layer.
            let t0 = Instant::now();
            let needs_traffic = matches!(strategy, Strategy::Instant | Strategy::Gradual);
            let traffic = if !needs_traffic {
                CheckOutcome::new(
                    "traffic layer",
                    CheckStatus::Skipped,
                    "not used by this strategy",
                )
            } else {
                match self
                    .read("traffic", || inner.platform.traffic(&target))
                    .await
                {
                    Ok(t) => {
                        self.traffic = Some(t.clone());
                        CheckOutcome::new(
                            "traffic layer",
                            CheckStatus::Pass,
                            format!("Load balancer ready (now: {t})"),
                        )
                    }
                    Err(e) => CheckOutcome::new(
                        "traffic layer",
                        CheckStatus::Fail,
                        format!("cannot read traffic: {e}"),
                    ),
                }
            }
            .with_duration(t0.elapsed());
            outcomes.push(traffic);
        }

        for o in &outcomes {
            if o.status != CheckStatus::Skipped || !self.report.gates_skipped {
                self.line(mark_of(o.status), format!("{}: {}", o.name, o.detail));
            }
        }
        let failed: Vec<String> = outcomes
            .iter()
            .filter(|o| o.status == CheckStatus::Fail)
            .map(|o| format!("{}: {}", o.name, o.detail))
            .collect();
        self.report.gates = outcomes;
        if !failed.is_empty() {
            self.end(StageStatus::Failed);
            return Err(Stop::Error(
                Outcome::Aborted,
                Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "validation failed: {} (pass --immediate to skip the gates)",
                        failed.join("; ")
                    ),
                ),
            ));
        }

        // 5. Lock (always, also when immediate).
        if self.req.dry_run {
            self.line(
                Mark::Info,
                "Rollback lock: not taken (dry run makes no mutating call)",
            );
        } else {
            match self.take_lease().await {
                Ok(Some(lease)) => self.line(
                    Mark::Ok,
                    format!(
                        "Rollback lock acquired (lease until {})",
                        lease.expires_at.format("%H:%M:%S")
                    ),
                ),
                Ok(None) => self.line(Mark::Ok, "Rollback lock acquired (in-process)"),
                Err(e) => {
                    self.line(Mark::Fail, format!("Rollback lock: {e}"));
                    self.end(StageStatus::Failed);
                    let outcome = if e.kind() == ErrorKind::Conflict {
                        Outcome::Aborted
                    } else {
                        Outcome::Failed
                    };
                    return Err(Stop::Error(outcome, e));
                }
            }
        }
        self.end(if self.report.gates_skipped {
            StageStatus::Warn
        } else {
            StageStatus::Ok
        });
        Ok(())
    }
}
