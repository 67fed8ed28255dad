//! Stage 7: the configured functional checks against the target.

use std::sync::Arc;

use futures::future::join_all;
use tokio::time::Instant;

use super::run::{Run, Step};
use crate::metrics_source::MetricsSource;
use crate::model::check::{CheckContext, CheckPhase, CheckStatus};
use crate::model::event::Stage;
use crate::platform::Platform;
use crate::report::{Mark, StageStatus};

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_smoke(&mut self) -> Step {
        self.begin(Stage::SmokeTest);
        let Some(to) = self.to.clone() else {
            self.end(StageStatus::Skipped);
            return Ok(());
        };
        let inner = Arc::clone(&self.inner);
        if inner.smoke_tests.is_empty() {
            self.line(Mark::Info, "No smoke tests configured");
            self.end(StageStatus::Skipped);
            return Ok(());
        }
        let ctx = CheckContext {
            target: self.req.target.clone(),
            release: to,
            phase: CheckPhase::Smoke,
        };
        let outcomes = join_all(inner.smoke_tests.iter().map(|c| {
            let ctx = &ctx;
            async move {
                let t0 = Instant::now();
                let mut o = c.run(ctx).await;
                if o.duration.is_zero() {
                    o.duration = t0.elapsed();
                }
                o
            }
        }))
        .await;
        let mut failed = 0;
        for o in &outcomes {
            let mark = match o.status {
                CheckStatus::Pass => Mark::Ok,
                CheckStatus::Warn => Mark::Warn,
                CheckStatus::Fail => {
                    failed += 1;
                    Mark::Fail
                }
                CheckStatus::Skipped => Mark::Info,
            };
            self.line(mark, format!("{}: {}", o.name, o.detail));
        }
        let passed = outcomes.len() - failed;
        self.line(
            if failed == 0 { Mark::Ok } else { Mark::Fail },
            format!("{passed}/{} smoke tests passed", outcomes.len()),
        );
        self.report.smoke_tests = outcomes;
        self.smoke_failed = failed > 0;
        self.end(if failed == 0 {
            StageStatus::Ok
        } else {
            StageStatus::Failed
        });
        Ok(())
    }
}
