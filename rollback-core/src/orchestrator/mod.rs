//! The orchestrator: runs the ten stages of a rollback against a platform and a metrics source.
//!
//! ```no_run
//! # async fn demo<P: rollback_core::Platform + 'static, M: rollback_core::MetricsSource + 'static>(platform: P, metrics: M) -> rollback_core::Result<()> {
//! use rollback_core::orchestrator::Orchestrator;
//! use rollback_core::request::RollbackRequest;
//! use rollback_core::{Environment, Target};
//!
//! let orchestrator = Orchestrator::builder(platform, metrics).build()?;
//! let request = RollbackRequest::new(Target::new(Environment::Production, "api-service"))
//!     .reason("High error rate");
//! let mut run = orchestrator.start(request);
//! while let Some(progress) = run.next_progress().await {
//!     println!("{progress:?}");
//! }
//! let report = run.report().await?;
//! println!("{:?}: {}", report.outcome, report.summary);
//! # Ok(()) }
//! ```

mod cleanup;
mod detect;
mod execute;
mod health;
mod impact;
mod lock;
mod notify;
mod rca;
mod run;
mod select;
mod smoke;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::analyzer::Analyzer;
use crate::check::Check;
use crate::clock::Clock;
use crate::data_guard::DataGuard;
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Journal, MemoryJournal};
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::notifier::Notifier;
use crate::platform::Platform;
use crate::policy::Policy;
use crate::report::{Line, Outcome, RollbackReport, StageReport};
use crate::request::RollbackRequest;
use crate::timeline::MetricTimelineAnalyzer;

pub use rca::{rank, render_markdown, trigger_points, write_trigger};

/// What a running rollback reports as it goes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A stage began.
    StageStarted(Stage),
    /// A detail line of the current stage.
    Line(Stage, Line),
    /// A stage ended.
    StageFinished(StageReport),
    /// The run ended.
    Finished(Outcome),
}

pub(crate) struct Inner<P, M> {
    pub platform: P,
    pub metrics: M,
    pub policy: Policy,
    pub notifiers: Vec<Arc<dyn Notifier>>,
    pub analyzers: Vec<Arc<dyn Analyzer>>,
    pub gates: Vec<Arc<dyn Check>>,
    pub smoke_tests: Vec<Arc<dyn Check>>,
    pub data_guard: Option<Arc<dyn DataGuard>>,
    pub rca_reporter: Arc<dyn crate::rca_report::RcaReporter>,
    pub journal: Arc<dyn Journal>,
    pub report_dir: Option<PathBuf>,
    pub clock: Option<Clock>,
    pub identity: String,
    pub locks: lock::LockTable,
}

/// Runs rollbacks. Cheap to clone; one orchestrator serves any number of concurrent runs (one
/// per target at a time).
pub struct Orchestrator<P, M> {
    inner: Arc<Inner<P, M>>,
}

impl<P, M> Clone for Orchestrator<P, M> {
    fn clone(&self) -> Self {
        Orchestrator {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// Builds an [`Orchestrator`].
pub struct OrchestratorBuilder<P, M> {
    inner: Inner<P, M>,
}

impl<P: Platform + 'static, M: MetricsSource + 'static> Orchestrator<P, M> {
    /// Starts building an orchestrator over a platform and a metrics source.
    pub fn builder(platform: P, metrics: M) -> OrchestratorBuilder<P, M> {
        OrchestratorBuilder {
            inner: Inner {
                platform,
                metrics,
                policy: Policy::default(),
                notifiers: Vec::new(),
                analyzers: vec![
                    Arc::new(MetricTimelineAnalyzer::default()),
                    Arc::new(crate::compare::MetricShiftAnalyzer::default()),
                ],
                gates: Vec::new(),
                smoke_tests: Vec::new(),
                data_guard: None,
                rca_reporter: Arc::new(crate::rca_report::DefaultRcaReporter::default()),
                journal: Arc::new(MemoryJournal::new()),
                report_dir: None,
                clock: None,
                identity: default_identity(),
                locks: lock::LockTable::default(),
            },
        }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.inner.platform
    }

    /// The metrics source.
    pub fn metrics(&self) -> &M {
        &self.inner.metrics
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Starts a rollback on the tokio runtime and returns its handle.
    pub fn start(&self, request: RollbackRequest) -> RunHandle {
        let (progress_tx, progress_rx) = mpsc::unbounded_channel();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let inner = Arc::clone(&self.inner);
        let task =
            tokio::spawn(async move { run::execute(inner, request, progress_tx, cancel_rx).await });
        RunHandle {
            progress: progress_rx,
            cancel: cancel_tx,
            task,
        }
    }

    /// Runs a rollback to the end and returns its report (no progress stream, no cancellation).
    pub async fn run(&self, request: RollbackRequest) -> RollbackReport {
        let (progress_tx, _) = mpsc::unbounded_channel();
        let (_cancel_tx, cancel_rx) = watch::channel(false);
        run::execute(Arc::clone(&self.inner), request, progress_tx, cancel_rx).await
    }
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("rollback@{host}/{}", std::process::id())
}

impl<P: Platform + 'static, M: MetricsSource + 'static> OrchestratorBuilder<P, M> {
    /// Sets the policy (validated by [`build`](Self::build)).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.inner.policy = policy;
        self
    }

    /// Adds a notification channel.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.inner.notifiers.push(notifier);
        self
    }

    /// Adds an analyzer (the built-in metric timeline and metric shift analyzers are always
    /// there).
    pub fn analyzer(mut self, analyzer: Arc<dyn Analyzer>) -> Self {
        self.inner.analyzers.push(analyzer);
        self
    }

    /// Adds a validation gate (runs before the switch; skipped by `immediate`).
    pub fn gate(mut self, check: Arc<dyn Check>) -> Self {
        self.inner.gates.push(check);
        self
    }

    /// Adds a smoke test (runs after the health check).
    pub fn smoke_test(mut self, check: Arc<dyn Check>) -> Self {
        self.inner.smoke_tests.push(check);
        self
    }

    /// Sets the data guard (database compatibility gate; opt-in restore).
    pub fn data_guard(mut self, guard: Arc<dyn DataGuard>) -> Self {
        self.inner.data_guard = Some(guard);
        self
    }

    /// Sets how findings are ranked and which RCA report files are written (default: Markdown
    /// and JSON; `rollback-rca` adds merging and an HTML page).
    pub fn rca_reporter(mut self, reporter: Arc<dyn crate::rca_report::RcaReporter>) -> Self {
        self.inner.rca_reporter = reporter;
        self
    }

    /// Sets the journal (default: in memory).
    pub fn journal(mut self, journal: Arc<dyn Journal>) -> Self {
        self.inner.journal = journal;
        self
    }

    /// Writes RCA reports and exported evidence under `dir/<run id>/`.
    pub fn report_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.inner.report_dir = Some(dir.into());
        self
    }

    /// Sets the clock (default: system time, advancing with tokio time).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.inner.clock = Some(clock);
        self
    }

    /// Sets the lock-holder identity (default `rollback@<host>/<pid>`).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.inner.identity = identity.into();
        self
    }

    /// Validates the configuration and builds the orchestrator.
    pub fn build(self) -> Result<Orchestrator<P, M>> {
        self.inner.policy.validate()?;
        if self.inner.identity.trim().is_empty() {
            return Err(Error::invalid_input("identity must not be empty"));
        }
        Ok(Orchestrator {
            inner: Arc::new(self.inner),
        })
    }
}

/// A running rollback: a progress stream, cancellation, and the final report.
pub struct RunHandle {
    progress: mpsc::UnboundedReceiver<Progress>,
    cancel: watch::Sender<bool>,
    task: JoinHandle<RollbackReport>,
}

impl RunHandle {
    /// The next progress event; `None` once the run has ended and all events were read.
    pub async fn next_progress(&mut self) -> Option<Progress> {
        self.progress.recv().await
    }

    /// Asks the run to stop at the next safe point. Traffic is left on a valid split and the
    /// report says where.
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
    }

    /// Waits for the run to end and returns its report.
    pub async fn report(self) -> Result<RollbackReport> {
        self.task.await.map_err(|e| {
            Error::new(ErrorKind::Backend, "the rollback task ended abnormally").with_source(e)
        })
    }

    /// Stops the run abruptly, as a crash would (for tests of the journal).
    pub fn abort(self) {
        self.task.abort();
    }
}
