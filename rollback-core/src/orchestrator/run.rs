//! One run: its state, stage bookkeeping, calls with retries, and the pipeline of stages.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::lock::LocalLock;
use super::{Inner, Progress};
use crate::clock::Clock;
use crate::detect::{self, Assessment};
use crate::error::{Error, ErrorKind, ErrorRecord, Result};
use crate::journal::{last_run, JournalEntry, JournalRecord, LastRun, Unfinished};
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::evidence::Evidence;
use crate::model::metric::{MetricKind, MetricQuery, Quantile, Series, TimeRange};
use crate::model::release::Release;
use crate::model::traffic::TrafficSplit;
use crate::platform::{Lease, Platform};
use crate::report::{
    Delivery, FinalState, Line, Mark, Outcome, RollbackReport, StageReport, StageStatus,
};
use crate::request::{RollbackRequest, Strategy};

/// Why the pipeline stopped early.
pub(super) enum Stop {
    /// A clean stop with an outcome and a summary.
    Done(Outcome, String),
    /// An error with the outcome it leads to.
    Error(Outcome, Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        let outcome = if e.kind() == ErrorKind::Cancelled {
            Outcome::Cancelled
        } else {
            Outcome::Failed
        };
        Stop::Error(outcome, e)
    }
}

pub(super) type Step<T = ()> = std::result::Result<T, Stop>;

struct OpenStage {
    stage: Stage,
    started_at: DateTime<Utc>,
    started: Instant,
    lines: Vec<Line>,
}

/// The state of one run.
pub(super) struct Run<P, M> {
    pub inner: Arc<Inner<P, M>>,
    pub req: RollbackRequest,
    pub run_id: String,
    pub holder: String,
    pub clock: Clock,
    pub report: RollbackReport,
    progress: mpsc::UnboundedSender<Progress>,
    open: Option<OpenStage>,
    started: Instant,
    pub releases: Vec<Release>,
    pub traffic: Option<TrafficSplit>,
    pub from: Option<Release>,
    pub to: Option<Release>,
    pub strategy: Option<Strategy>,
    /// Eligible candidates not (yet) used, for a cascade.
    pub fallbacks: Vec<Release>,
    pub resume: Option<Unfinished>,
    /// Set once the first mutating call of the execution was attempted.
    pub executing: bool,
    pub lease: Option<Lease>,
    pub lease_lost: Arc<AtomicBool>,
    renewal: Option<AbortOnDrop>,
    _local_lock: Option<LocalLock>,
    pub deliveries: Vec<JoinHandle<Delivery>>,
    pub failed_evidence: Option<Evidence>,
    pub smoke_failed: bool,
}

pub(super) async fn execute<P: Platform + 'static, M: MetricsSource + 'static>(
    inner: Arc<Inner<P, M>>,
    req: RollbackRequest,
    progress: mpsc::UnboundedSender<Progress>,
    mut cancel: watch::Receiver<bool>,
) -> RollbackReport {
    let clock = inner.clock.clone().unwrap_or_else(Clock::system);
    let now = clock.now();
    // Unique across runs and processes: the virtual clock may read the same in every process.
    let entropy = format!(
        "{}|{}|{:?}|{}|{}",
        req.target,
        std::process::id(),
        std::time::SystemTime::now(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed),
        now.timestamp_nanos_opt().unwrap_or(0)
    );
    let run_id = format!(
        "rb-{}-{:08x}",
        now.format("%Y%m%dT%H%M%S"),
        fxhash(&entropy)
    );
    let holder = format!("{}:{run_id}", inner.identity);
    let report = RollbackReport {
        run_id: run_id.clone(),
        target: req.target.clone(),
        request: req.clone(),
        outcome: Outcome::Failed,
        summary: String::new(),
        from: None,
        to: None,
        strategy: None,
        resumed: false,
        gates_skipped: false,
        started_at: now,
        duration: Duration::ZERO,
        stages: Vec::new(),
        detection: None,
        sequential: None,
        workload: None,
        trigger: None,
        impact: None,
        candidates: Vec::new(),
        gates: Vec::new(),
        executions: Vec::new(),
        health: Vec::new(),
        smoke_tests: Vec::new(),
        root_cause: None,
        notifications: Vec::new(),
        final_state: None,
        error: None,
        mutating_calls: 0,
    };
    let mut run = Run {
        inner,
        req,
        run_id,
        holder,
        clock,
        report,
        progress,
        open: None,
        started: Instant::now(),
        releases: Vec::new(),
        traffic: None,
        from: None,
        to: None,
        strategy: None,
        fallbacks: Vec::new(),
        resume: None,
        executing: false,
        lease: None,
        lease_lost: Arc::new(AtomicBool::new(false)),
        renewal: None,
        _local_lock: None,
        deliveries: Vec::new(),
        failed_evidence: None,
        smoke_failed: false,
    };
    let result = tokio::select! {
        biased;
        r = run.pipeline() => r,
        _ = cancelled(&mut cancel) => Err(Stop::Error(
            Outcome::Cancelled,
            Error::new(ErrorKind::Cancelled, "the run was cancelled by its caller"),
        )),
    };
    run.finish(result).await
}

/// Aborts a background task when dropped: a crashed or cancelled run stops renewing its lease.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn fxhash(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

async fn cancelled(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow() {
            return;
        }
        if rx.changed().await.is_err() {
            // The handle is gone: nobody can cancel any more.
            std::future::pending::<()>().await;
        }
    }
}

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    // ----- stage bookkeeping -------------------------------------------------------------

    pub fn begin(&mut self, stage: Stage) {
        self.close_open(StageStatus::Failed);
        let _ = self.progress.send(Progress::StageStarted(stage));
        self.open = Some(OpenStage {
            stage,
            started_at: self.clock.now(),
            started: Instant::now(),
            lines: Vec::new(),
        });
    }

    pub fn line(&mut self, mark: Mark, text: impl Into<String>) {
        let line = Line {
            mark,
            text: text.into(),
        };
        if let Some(open) = &mut self.open {
            let _ = self.progress.send(Progress::Line(open.stage, line.clone()));
            open.lines.push(line);
        }
    }

    pub fn end(&mut self, status: StageStatus) {
        if let Some(open) = self.open.take() {
            let report = StageReport {
                stage: open.stage,
                status,
                started_at: open.started_at,
                duration: open.started.elapsed(),
                lines: open.lines,
            };
            let _ = self.progress.send(Progress::StageFinished(report.clone()));
            self.report.stages.push(report);
        }
    }

    fn close_open(&mut self, status: StageStatus) {
        if self.open.is_some() {
            self.end(status);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The failing release's version, or an empty string before it is known.
    pub fn failed_version(&self) -> String {
        self.from
            .as_ref()
            .map(|r| r.version.to_string())
            .unwrap_or_default()
    }

    /// The target release's version, or an empty string before it is known.
    pub fn target_version(&self) -> String {
        self.to
            .as_ref()
            .map(|r| r.version.to_string())
            .unwrap_or_default()
    }

    pub fn started_elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    // ----- calls -------------------------------------------------------------------------

    /// A read-only call with retries.
    pub async fn read<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        crate::retry::retry(&self.inner.policy.retry, op, f).await
    }

    /// A mutating call with retries. Refused in dry runs and after the lease was lost.
    pub async fn mutate<T, F, Fut>(&mut self, op: &'static str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if self.req.dry_run {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!("internal error: mutating call `{op}` attempted in a dry run"),
            ));
        }
        if self.lease_lost.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "the lock on {} was lost; `{op}` not attempted",
                    self.req.target
                ),
            ));
        }
        self.report.mutating_calls += 1;
        crate::retry::retry(&self.inner.policy.retry, op, f).await
    }

    /// Appends to the journal. A journal that cannot be written stops the run before the next
    /// mutating call (a run we could not resume must not start changing things).
    pub async fn journal(&mut self, record: JournalRecord) -> Step {
        let entry = JournalEntry {
            run_id: self.run_id.clone(),
            target: self.req.target.clone(),
            at: self.now(),
            record,
        };
        let inner = Arc::clone(&self.inner);
        self.read("journal.append", || inner.journal.append(&entry))
            .await?;
        Ok(())
    }

    /// Queries one metric of one release with retries; an error becomes no data plus a warning.
    pub async fn query(
        &self,
        kind: MetricKind,
        release: &Release,
        range: TimeRange,
        step: Duration,
    ) -> (Vec<Series>, Option<Error>) {
        self.query_for(kind, Some(release), range, step).await
    }

    /// As [`Run::query`]; `None` asks for the whole target (every release, traffic-weighted).
    pub async fn query_for(
        &self,
        kind: MetricKind,
        release: Option<&Release>,
        range: TimeRange,
        step: Duration,
    ) -> (Vec<Series>, Option<Error>) {
        let mut q = MetricQuery::new(kind, self.req.target.clone(), range, step);
        if let Some(r) = release {
            q = q.for_release(r.reference());
        }
        match self.read("query", || self.inner.metrics.query(&q)).await {
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e)),
        }
    }

    /// Reads the SLA metrics of `release` over `window` ending now and assesses the most recent
    /// `evaluation` of it.
    pub async fn assess(
        &mut self,
        release: &Release,
        window: Duration,
        evaluation: Duration,
        step: Duration,
    ) -> Assessment {
        self.assess_with_series(release, window, evaluation, step)
            .await
            .0
    }

    /// As [`Run::assess`], also returning the status-code and p95 series it read.
    pub async fn assess_with_series(
        &mut self,
        release: &Release,
        window: Duration,
        evaluation: Duration,
        step: Duration,
    ) -> (Assessment, Vec<Series>, Vec<Series>) {
        let now = self.now();
        let range = TimeRange::ending_at(now, window);
        let since = now - chrono::Duration::from_std(evaluation).unwrap_or_default();
        let sla = self
            .inner
            .policy
            .sla
            .for_env(self.req.target.environment)
            .clone();
        let mut kinds: Vec<MetricKind> = sla.checks().iter().map(|(k, _)| k.clone()).collect();
        kinds.push(MetricKind::StatusCodes);
        let answers = join_all(
            kinds
                .iter()
                .map(|k| self.query(k.clone(), release, range, step)),
        )
        .await;
        let mut by_kind = BTreeMap::new();
        let mut status = Vec::new();
        for (kind, (series, err)) in kinds.into_iter().zip(answers) {
            if let Some(e) = err {
                self.line(
                    Mark::Warn,
                    format!("{kind}: query failed, treated as no data: {e}"),
                );
            }
            if kind == MetricKind::StatusCodes {
                status = series;
            } else {
                by_kind.insert(kind, series);
            }
        }
        let failed = detect::failed_requests(&status);
        let recent: Vec<Series> = status
            .iter()
            .map(|s| Series {
                labels: s.labels.clone(),
                samples: s
                    .samples
                    .iter()
                    .filter(|p| p.at >= since)
                    .copied()
                    .collect(),
            })
            .collect();
        let requests = detect::failed_requests(&recent).map(|f| f.total_requests);
        let p95 = by_kind.get(&Self::p95()).cloned().unwrap_or_default();
        let a = detect::assess(
            &sla,
            &by_kind,
            since,
            failed,
            requests,
            self.inner.policy.detection.no_data,
        );
        (a, status, p95)
    }

    // ----- the pipeline ------------------------------------------------------------------

    async fn pipeline(&mut self) -> Step {
        if let Err(e) = self.req.validate() {
            return Err(Stop::Error(Outcome::Rejected, e));
        }
        let local = self
            .inner
            .locks
            .acquire(&self.req.target, &self.holder)
            .map_err(|e| Stop::Error(Outcome::Aborted, e))?;
        self._local_lock = Some(local);

        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let history = self
            .read("journal.history", || inner.journal.history(&target))
            .await?;
        match last_run(&history) {
            LastRun::Unfinished(u) if !self.req.dry_run => {
                self.resume = Some(*u);
            }
            LastRun::Finished { to } => {
                let traffic = self
                    .read("traffic", || inner.platform.traffic(&target))
                    .await?;
                if traffic.is_all_to(&to.revision)
                    && self.req.to.as_ref().is_none_or(|v| *v == to.version)
                {
                    self.begin(Stage::Detect);
                    self.line(
                        Mark::Ok,
                        format!(
                            "Already on {} (a previous run rolled back to it)",
                            to.version
                        ),
                    );
                    self.end(StageStatus::Skipped);
                    self.report.to = Some(to.clone());
                    return Err(Stop::Done(
                        Outcome::AlreadyDone,
                        format!("already on {}: nothing to do", to.version),
                    ));
                }
            }
            _ => {}
        }

        if self.resume.is_some() {
            self.resume_plan().await?;
        } else {
            self.stage_detect().await?;
        }
        self.stage_impact().await?;
        if self.resume.is_none() {
            self.stage_target().await?;
        }
        self.stage_validate().await?;
        if self.req.dry_run {
            self.print_plan();
            return Err(Stop::Done(Outcome::DryRun, self.dry_run_summary()));
        }
        self.execute_and_verify().await?;
        self.stage_smoke().await?;
        Ok(())
    }

    /// Execute → health check, cascading once per remaining candidate if policy allows.
    async fn execute_and_verify(&mut self) -> Step {
        loop {
            self.stage_execute().await?;
            if self.stage_health().await? {
                return Ok(());
            }
            self.cascade().await?;
        }
    }

    async fn finish(mut self, result: Step) -> RollbackReport {
        let open_status = if result.is_ok() {
            StageStatus::Ok
        } else {
            StageStatus::Failed
        };
        self.close_open(open_status);
        let (outcome, summary, error) = match result {
            Ok(()) if self.smoke_failed => (
                Outcome::Failed,
                format!(
                    "rolled back to {0} but smoke tests failed; traffic stays on {0}",
                    self.target_version()
                ),
                None,
            ),
            Ok(()) => (
                Outcome::RolledBack,
                format!(
                    "rolled back {} ({}) from {} to {}",
                    self.req.target.deployment,
                    self.req.target.environment,
                    self.failed_version(),
                    self.target_version()
                ),
                None,
            ),
            Err(Stop::Done(outcome, summary)) => (outcome, summary, None),
            Err(Stop::Error(outcome, e)) => {
                // A failure before anything was changed leaves the system as it was: say so.
                let outcome = if outcome == Outcome::Failed
                    && !self.executing
                    && self.report.mutating_calls == 0
                {
                    Outcome::Aborted
                } else {
                    outcome
                };
                let summary = match outcome {
                    Outcome::Rejected => format!("rejected: {e}"),
                    Outcome::Aborted => format!("aborted before any change: {e}"),
                    Outcome::Cancelled => "cancelled by the caller".to_string(),
                    _ => format!("rollback failed: {e}"),
                };
                (outcome, summary, Some(ErrorRecord::from(&e)))
            }
        };
        self.report.outcome = outcome;
        self.report.summary = summary;
        self.report.error = error;

        // A run that changed things always explains itself and tells people, even when it
        // failed; cleanup only follows success.
        if self.executing {
            if outcome == Outcome::RolledBack {
                if self.req.analyze_failure {
                    self.stage_rca().await;
                }
                self.stage_cleanup().await;
            } else if self.req.analyze_failure && outcome != Outcome::Cancelled {
                self.stage_rca().await;
            }
            if self.req.notify {
                self.stage_notify().await;
            }
            let to = match outcome {
                Outcome::RolledBack => self.to.as_ref().map(Release::reference),
                _ => None,
            };
            if outcome != Outcome::Cancelled {
                if let Err(Stop::Error(_, e)) =
                    self.journal(JournalRecord::Finished { outcome, to }).await
                {
                    tracing::warn!(error = %e, "could not journal the end of the run");
                }
            }
        }
        if self.executing || self.report.mutating_calls > 0 {
            self.final_state().await;
        }
        self.release_lock().await;
        self.report.from = self.from.as_ref().map(Release::reference);
        if self.report.to.is_none() {
            self.report.to = self.to.as_ref().map(Release::reference);
        }
        self.report.strategy = self.strategy;
        self.report.duration = self.started.elapsed();
        let _ = self.progress.send(Progress::Finished(outcome));
        self.report
    }

    /// Reads where traffic stands and writes it into the report in words.
    async fn final_state(&mut self) {
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let traffic = self
            .read("traffic", || inner.platform.traffic(&target))
            .await;
        let state = match traffic {
            Ok(t) => {
                let healthy = match &self.to {
                    Some(to)
                        if t.is_all_to(&to.revision)
                            && self.report.outcome == Outcome::RolledBack =>
                    {
                        format!("; {} verified healthy", to.version)
                    }
                    _ => String::new(),
                };
                FinalState {
                    summary: format!("traffic: {t}{healthy}"),
                    traffic: Some(t),
                }
            }
            Err(e) => FinalState {
                traffic: None,
                summary: format!(
                    "traffic could not be read back ({e}); last split we set: {}",
                    self.report
                        .executions
                        .iter()
                        .flat_map(|x| x.steps.iter())
                        .filter_map(|s| s.split.as_ref())
                        .next_back()
                        .map_or("none".to_string(), ToString::to_string)
                ),
            },
        };
        self.report.final_state = Some(state);
    }

    // ----- lock --------------------------------------------------------------------------

    /// Takes the platform lease (if the platform has one) and renews it while the run lasts.
    pub async fn take_lease(&mut self) -> Result<Option<Lease>> {
        if !self.inner.platform.capabilities_for(&self.req.target).lock {
            return Ok(None);
        }
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let holder = self.holder.clone();
        let ttl = self.inner.policy.lock_ttl;
        let lease = self
            .mutate("lock", || inner.platform.lock(&target, &holder, ttl))
            .await?;
        self.lease = Some(lease.clone());
        let lost = Arc::clone(&self.lease_lost);
        let inner = Arc::clone(&self.inner);
        self.renewal = Some(AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                match inner.platform.lock(&target, &holder, ttl).await {
                    Ok(_) => {}
                    Err(e) if e.is_temporary() => continue,
                    Err(_) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        })));
        Ok(Some(lease))
    }

    async fn release_lock(&mut self) {
        self.renewal = None;
        if let Some(lease) = self.lease.take() {
            let inner = Arc::clone(&self.inner);
            let target = self.req.target.clone();
            self.report.mutating_calls += 1;
            if let Err(e) = self
                .read("unlock", || inner.platform.unlock(&target, &lease))
                .await
            {
                tracing::warn!(error = %e, "could not release the lease; it will expire");
            }
        }
        self._local_lock = None;
    }

    // ----- resume ------------------------------------------------------------------------

    async fn resume_plan(&mut self) -> Step {
        let Some(u) = self.resume.clone() else {
            return Ok(());
        };
        self.begin(Stage::Detect);
        self.line(
            Mark::Warn,
            format!(
                "Resuming run {} that stopped before finishing: {} → {} ({})",
                u.run_id, u.from.version, u.to.version, u.strategy
            ),
        );
        // Continue as the crashed run: same id, same lock holder, so its lease is ours.
        self.run_id = u.run_id.clone();
        self.report.run_id = u.run_id.clone();
        self.holder = u.holder.clone();
        self.report.resumed = true;
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        self.releases = self
            .read("releases", || inner.platform.releases(&target))
            .await?;
        self.traffic = Some(
            self.read("traffic", || inner.platform.traffic(&target))
                .await?,
        );
        let find = |r: &crate::model::release::ReleaseRef| {
            self.releases
                .iter()
                .find(|x| x.revision == r.revision)
                .cloned()
        };
        let (Some(from), Some(to)) = (find(&u.from), find(&u.to)) else {
            return Err(Stop::Error(
                Outcome::Failed,
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "cannot resume run {}: release {} or {} no longer exists",
                        u.run_id, u.from.version, u.to.version
                    ),
                ),
            ));
        };
        self.from = Some(from);
        self.to = Some(to);
        self.strategy = Some(u.strategy);
        self.end(StageStatus::Warn);
        Ok(())
    }

    /// The Execute stage of a dry run: the steps the run would take, none taken.
    fn print_plan(&mut self) {
        let (Some(from), Some(to), Some(strategy)) =
            (self.from.clone(), self.to.clone(), self.strategy)
        else {
            return;
        };
        let p = self.inner.policy.clone();
        self.begin(Stage::Execute);
        let mut steps: Vec<String> = Vec::new();
        steps.push("take the rollback lock".into());
        match strategy {
            Strategy::Instant => {
                steps.push(format!("switch all traffic to {} in one call", to.version))
            }
            Strategy::Gradual => {
                let have = self
                    .traffic
                    .as_ref()
                    .map_or(0, |t| t.percent_for(&to.revision));
                let shares: Vec<String> = p
                    .gradual
                    .steps
                    .iter()
                    .filter(|s| **s > have)
                    .map(|s| format!("{s}%"))
                    .collect();
                steps.push(format!(
                    "shift traffic to {} in steps of {}, observing {} after each",
                    to.version,
                    shares.join(" → "),
                    humantime::format_duration(p.gradual.pause)
                ));
            }
            Strategy::Full => steps.push(format!(
                "revert the workload to {} and wait until it is ready",
                to.version
            )),
            Strategy::Database => {
                steps.push(format!(
                    "restore data for {} (preserve_data = false)",
                    to.version
                ));
                steps.push(format!("revert the workload to {}", to.version));
            }
        }
        steps.push(format!(
            "watch {} for {} ({} consecutive in-SLA samples)",
            to.version,
            humantime::format_duration(p.health.duration),
            p.health.consecutive
        ));
        steps.push(format!(
            "run {} smoke test(s)",
            self.inner.smoke_tests.len()
        ));
        if self.req.analyze_failure {
            steps.push(format!(
                "analyze {} with {} analyzer(s)",
                from.version,
                self.inner.analyzers.len()
            ));
        }
        steps.push(format!(
            "scale {} to 0 after {} (artifact kept)",
            from.version,
            humantime::format_duration(p.cleanup_delay)
        ));
        if self.req.notify {
            steps.push(format!("notify {} channel(s)", self.inner.notifiers.len()));
        }
        for (i, s) in steps.iter().enumerate() {
            self.line(Mark::Info, format!("Plan step {}: would {s}", i + 1));
        }
        self.end(StageStatus::Skipped);
    }

    fn dry_run_summary(&self) -> String {
        format!(
            "dry run: would roll back {} from {} to {} ({}); nothing was changed",
            self.req.target,
            self.failed_version(),
            self.target_version(),
            self.strategy
                .map(Strategy::describe)
                .unwrap_or("no strategy"),
        )
    }

    /// The p95 latency kind.
    pub fn p95() -> MetricKind {
        MetricKind::Latency(Quantile::P95)
    }
}
