//! End-to-end behaviour of the orchestrator on the simulation, under virtual time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rollback_core::journal::{Journal, JournalEntry, JournalRecord, MemoryJournal};
use rollback_core::report::StageStatus;
use rollback_core::sim::{Fault, FaultKind, Operation, Simulation};
use rollback_core::*;

fn orchestrator(
    sim: &Simulation,
) -> OrchestratorBuilder<rollback_core::sim::SimPlatform, rollback_core::sim::SimMetrics> {
    orchestrator_with(sim, sim.metrics())
}

/// The simulation's platform and clock with other metrics (a wrapper around its own).
fn orchestrator_with<M: MetricsSource + 'static>(
    sim: &Simulation,
    metrics: M,
) -> OrchestratorBuilder<rollback_core::sim::SimPlatform, M> {
    Orchestrator::builder(sim.platform(), metrics).clock(sim.clock())
}

fn request(sim: &Simulation) -> RollbackRequest {
    RollbackRequest::new(sim.target()).reason("High error rate")
}

/// A run of the simulation's default request under `policy`.
async fn run_with_policy(sim: &Simulation, policy: policy::Policy) -> RollbackReport {
    orchestrator(sim)
        .policy(policy)
        .build()
        .unwrap()
        .run(request(sim))
        .await
}

fn version(r: &Option<ReleaseRef>) -> String {
    r.as_ref()
        .map(|r| r.version.to_string())
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn spec_incident_switches_instantly_to_the_verified_warm_release() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator(&sim).report_dir(dir.path()).build().unwrap();
    let r = o.run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.from), "v1.3.0");
    assert_eq!(version(&r.to), "v1.2.9");
    assert_eq!(r.strategy, Some(Strategy::Instant));
    assert_eq!(r.executions[0].downtime, Duration::ZERO);
    // Detection as in the spec.
    let d = r.detection.as_ref().unwrap();
    let value = |k: MetricKind| {
        d.readings
            .iter()
            .find(|x| x.metric == k)
            .unwrap()
            .value
            .unwrap()
    };
    assert!((value(MetricKind::ErrorRate) - 0.124).abs() < 1e-9);
    assert!((value(MetricKind::Latency(Quantile::P95)) - 3245.0).abs() < 1e-6);
    assert!((value(MetricKind::CpuUtilization) - 98.0).abs() < 1e-6);
    assert!((value(MetricKind::MemoryUtilization) - 92.0).abs() < 1e-6);
    let sev = |k: MetricKind| d.breaches.iter().find(|b| b.metric == k).unwrap().severity;
    assert_eq!(sev(MetricKind::ErrorRate), Severity::Critical);
    assert_eq!(sev(MetricKind::Latency(Quantile::P95)), Severity::Critical);
    assert_eq!(sev(MetricKind::CpuUtilization), Severity::High);
    assert_eq!(sev(MetricKind::MemoryUtilization), Severity::High);
    let f = d.failed_requests.as_ref().unwrap();
    assert_eq!(f.failed, 1234);
    assert_eq!(f.by_status, vec![(500, 827), (503, 284), (504, 123)]);
    // The target was chosen from its own healthy history.
    let c = r
        .candidates
        .iter()
        .find(|c| c.release.version.to_string() == "v1.2.9")
        .unwrap();
    assert!(c.eligible);
    assert!((c.error_rate.unwrap() - 0.0002).abs() < 1e-4);
    assert!((c.uptime_percent.unwrap() - 99.98).abs() < 0.01);
    // One switch, health verified, failed release scaled down and kept, report written.
    let t = sim.traffic(&sim.target()).unwrap();
    assert!(t.is_all_to(&r.to.as_ref().unwrap().revision));
    assert!(r.health.last().unwrap().stable);
    let releases = sim.releases(&sim.target()).unwrap();
    let failed = releases
        .iter()
        .find(|x| x.version.to_string() == "v1.3.0")
        .unwrap();
    assert_eq!(failed.replicas.desired, 0);
    assert_eq!(failed.mark, ReleaseMark::Failed);
    assert_eq!(releases.len(), 3, "clean-up never deletes a release");
    let rc = r.root_cause.as_ref().unwrap();
    assert!(std::path::Path::new(rc.markdown_path.as_ref().unwrap()).exists());
    assert!(std::path::Path::new(rc.json_path.as_ref().unwrap()).exists());
    assert!(rc.markdown.contains("## Failure Timeline"));
    assert!(dir
        .path()
        .join(&r.run_id)
        .join("logs-v1.3.0.jsonl")
        .exists());
    // Every stage reported, in order.
    let stages: Vec<Stage> = r.stages.iter().map(|s| s.stage).collect();
    assert_eq!(stages, Stage::ALL.to_vec());
    let set_traffic = sim
        .calls()
        .iter()
        .filter(|c| c.operation == Operation::SetTraffic)
        .count();
    assert_eq!(set_traffic, 1, "an instant switch is one traffic call");
    // The report serialises.
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"outcome\":\"rolled_back\""));
}

#[tokio::test(start_paused = true)]
async fn healthy_scenario_does_nothing_and_makes_no_mutating_call() {
    let sim = Simulation::builtin("healthy").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo);
    assert_eq!(r.summary, "no SLA violation — nothing to roll back");
    assert_eq!(sim.mutating_calls(), 0);
    assert_eq!(r.mutating_calls, 0);
    assert!(sim.calls().iter().all(|c| c.operation != Operation::Lock));
}

#[tokio::test(start_paused = true)]
async fn production_without_a_reason_is_rejected_before_any_call() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let r = orchestrator(&sim)
        .build()
        .unwrap()
        .run(RollbackRequest::new(sim.target()))
        .await;
    assert_eq!(r.outcome, Outcome::Rejected);
    assert_eq!(r.outcome.exit_code(), 2);
    let e = r.error.unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("--reason"), "{}", e.message);
    assert!(sim.calls().is_empty(), "no call at all: {:?}", sim.calls());
}

#[tokio::test(start_paused = true)]
async fn unknown_to_version_is_rejected_listing_the_releases() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let req = request(&sim).to(Version::parse("v9.9.9").unwrap());
    let r = orchestrator(&sim).build().unwrap().run(req).await;
    assert_eq!(r.outcome, Outcome::Rejected);
    let e = r.error.unwrap();
    assert_eq!(e.kind, ErrorKind::NotFound);
    for v in ["v9.9.9", "v1.3.0", "v1.2.9", "v1.2.8"] {
        assert!(e.message.contains(v), "{} should name {v}", e.message);
    }
    assert_eq!(sim.mutating_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn to_equal_to_the_current_release_is_rejected() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let req = request(&sim).to(Version::parse("1.3.0").unwrap());
    let r = orchestrator(&sim).build().unwrap().run(req).await;
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.error.unwrap().message.contains("current release"));
    assert_eq!(sim.mutating_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn explicit_to_skips_the_newer_candidate() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let req = request(&sim).to(Version::parse("v1.2.8").unwrap());
    let r = orchestrator(&sim).build().unwrap().run(req).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.to), "v1.2.8");
    assert_eq!(r.strategy, Some(Strategy::Full), "v1.2.8 has no warm slot");
}

#[tokio::test(start_paused = true)]
async fn immediate_skips_the_gates_and_records_it() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let gate = Arc::new(CountingCheck::new(CheckStatus::Fail));
    let o = orchestrator(&sim).gate(gate.clone()).build().unwrap();
    let r = o.run(request(&sim).immediate(true)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert!(r.gates_skipped);
    assert_eq!(
        gate.runs.load(Ordering::SeqCst),
        0,
        "the failing gate was not run"
    );
    assert!(r.gates.iter().all(|g| g.status == CheckStatus::Skipped));
    let v = r.stage(Stage::Validate).unwrap();
    assert_eq!(v.status, StageStatus::Warn);
    assert!(v.lines.iter().any(|l| l.text.contains("--immediate")));
    assert!(
        v.lines.iter().any(|l| l.text.contains("lock acquired")),
        "the lock is still taken"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_gate_aborts_with_its_reason_and_changes_nothing() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let o = orchestrator(&sim)
        .gate(Arc::new(CountingCheck::new(CheckStatus::Fail)))
        .build()
        .unwrap();
    let r = o.run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::Aborted);
    let e = r.error.unwrap();
    assert_eq!(e.kind, ErrorKind::PreconditionFailed);
    assert!(e.message.contains("redis unreachable"), "{}", e.message);
    assert_eq!(sim.mutating_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn staging_canary_is_rolled_back_gradually() {
    let sim = Simulation::builtin("staging-canary").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(r.strategy, Some(Strategy::Gradual));
    let splits: Vec<u8> = r.executions[0]
        .steps
        .iter()
        .filter_map(|s| s.split.as_ref())
        .map(|s| s.percent_for(&r.to.as_ref().unwrap().revision))
        .collect();
    assert_eq!(
        splits,
        vec![75, 100],
        "the stable release already had 70 %: only the steps above it"
    );
    assert!(sim
        .traffic(&sim.target())
        .unwrap()
        .is_all_to(&r.to.unwrap().revision));
}

#[tokio::test(start_paused = true)]
async fn dev_without_blue_green_reverts_the_workload() {
    let sim = Simulation::builtin("dev-no-bluegreen").unwrap();
    let r = orchestrator(&sim)
        .build()
        .unwrap()
        .run(RollbackRequest::new(sim.target()))
        .await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(r.strategy, Some(Strategy::Full));
    assert!(sim.calls().iter().any(|c| c.operation == Operation::Revert));
    assert!(sim
        .calls()
        .iter()
        .all(|c| c.operation != Operation::SetTraffic));
}

#[tokio::test(start_paused = true)]
async fn gradual_shift_halts_and_restores_when_the_target_degrades() {
    let sim = Simulation::builtin("gradual-overload").unwrap();
    // The scenario's stable release was overloaded while it served everything (its capacity is
    // below the full load), so its history does not qualify it: the operator names it.
    let req = request(&sim).to(Version::parse("v3.0.4").unwrap());
    let r = orchestrator(&sim).build().unwrap().run(req).await;
    assert_eq!(r.outcome, Outcome::Failed, "{}", r.summary);
    let e = r.error.as_ref().unwrap();
    assert!(e.message.contains("gradual shift halted"), "{}", e.message);
    let exec = &r.executions[0];
    let last = exec.steps.last().unwrap().split.clone().unwrap();
    let now = sim.traffic(&sim.target()).unwrap();
    assert_eq!(now, last, "the restored split is what the platform holds");
    let to = r.to.as_ref().unwrap();
    assert!(now.percent_for(&to.revision) < 100);
    assert_eq!(r.final_state.as_ref().unwrap().traffic.as_ref(), Some(&now));
    // It went up, degraded, and came back down.
    let shares: Vec<u8> = exec
        .steps
        .iter()
        .filter_map(|s| s.split.as_ref())
        .map(|s| s.percent_for(&to.revision))
        .collect();
    let peak = *shares.iter().max().unwrap();
    assert!(peak > *shares.last().unwrap(), "{shares:?}");
    // People are told.
    assert!(r.stage(Stage::Notify).is_some());
}

#[tokio::test(start_paused = true)]
async fn health_check_failure_cascades_to_the_next_stable_release() {
    let sim = Simulation::builtin("cascade").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.to), "v1.2.8");
    assert_eq!(r.executions.len(), 2);
    assert!(!r.health[0].stable);
    assert!(r.health[1].stable);
    let releases = sim.releases(&sim.target()).unwrap();
    let bad = releases
        .iter()
        .find(|x| x.version.to_string() == "v1.2.9")
        .unwrap();
    assert_eq!(
        bad.mark,
        ReleaseMark::Failed,
        "the failed target is marked for next time"
    );
    assert!(sim
        .traffic(&sim.target())
        .unwrap()
        .is_all_to(&r.to.unwrap().revision));
}

#[tokio::test(start_paused = true)]
async fn without_cascade_a_failed_health_check_fails_and_says_where_traffic_is() {
    let sim = Simulation::builtin("cascade").unwrap();
    let mut policy = policy::Policy::default();
    policy.health.cascade = false;
    let r = run_with_policy(&sim, policy).await;
    assert_eq!(r.outcome, Outcome::Failed);
    let fs = r.final_state.unwrap();
    assert_eq!(fs.traffic, Some(sim.traffic(&sim.target()).unwrap()));
    assert!(fs.summary.contains("v1.2.9"), "{}", fs.summary);
}

#[tokio::test(start_paused = true)]
async fn dry_run_makes_no_mutating_call_and_prints_the_plan() {
    for scenario in [
        "spec-incident",
        "staging-canary",
        "dev-no-bluegreen",
        "cascade",
    ] {
        let sim = Simulation::builtin(scenario).unwrap();
        let r = orchestrator(&sim)
            .build()
            .unwrap()
            .run(request(&sim).dry_run(true))
            .await;
        assert_eq!(r.outcome, Outcome::DryRun, "{scenario}: {}", r.summary);
        assert_eq!(sim.mutating_calls(), 0, "{scenario}");
        assert!(sim
            .calls()
            .iter()
            .all(|c| !matches!(c.operation, Operation::Lock | Operation::Unlock)));
        assert!(r.summary.contains("would roll back"), "{}", r.summary);
    }
}

#[tokio::test(start_paused = true)]
async fn a_second_rollback_of_the_same_target_gets_a_conflict_naming_the_holder() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    // Two orchestrators (two processes) on one platform: the platform lease decides.
    let first = orchestrator(&sim).identity("deployer-a").build().unwrap();
    let second = orchestrator(&sim).identity("deployer-b").build().unwrap();
    let mut run = first.start(request(&sim));
    // Let the first run take its lease.
    while let Some(p) = run.next_progress().await {
        if matches!(&p, Progress::StageStarted(Stage::Execute)) {
            break;
        }
    }
    let r2 = second.run(request(&sim)).await;
    assert_eq!(r2.outcome, Outcome::Aborted, "{}", r2.summary);
    let e = r2.error.unwrap();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("deployer-a"), "{}", e.message);
    let r1 = run.report().await.unwrap();
    assert_eq!(r1.outcome, Outcome::RolledBack);

    // Within one orchestrator, the in-process lock answers first.
    let sim = Simulation::builtin("spec-incident").unwrap();
    let o = orchestrator(&sim).identity("deployer-c").build().unwrap();
    let mut run = o.start(request(&sim));
    run.next_progress().await;
    let r2 = o.run(request(&sim)).await;
    assert_eq!(r2.outcome, Outcome::Aborted);
    assert!(r2.error.unwrap().message.contains("deployer-c"));
    run.cancel();
    let _ = run.report().await;
}

#[tokio::test(start_paused = true)]
async fn rerun_after_success_is_a_noop_that_says_so() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let o = orchestrator(&sim).build().unwrap();
    let r = o.run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack);
    let before = sim.mutating_calls();
    let again = o.run(request(&sim)).await;
    assert_eq!(again.outcome, Outcome::AlreadyDone);
    assert_eq!(again.summary, "already on v1.2.9: nothing to do");
    assert_eq!(sim.mutating_calls(), before);
    assert_eq!(again.outcome.exit_code(), 3);
}

/// A journal that hangs forever on its `n`-th append, as a process that died there would.
struct CrashingJournal {
    inner: Arc<MemoryJournal>,
    crash_on: usize,
    appends: AtomicUsize,
    crashed: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl Journal for CrashingJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<()> {
        if self.appends.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_on {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.append(entry).await
    }
    async fn history(&self, target: &Target) -> Result<Vec<JournalEntry>> {
        self.inner.history(target).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_at_each_step_boundary_then_a_rerun_converges() {
    for scenario in ["spec-incident", "staging-canary", "dev-no-bluegreen"] {
        // How many journal appends does an uninterrupted run make?
        let sim = Simulation::builtin(scenario).unwrap();
        let journal = Arc::new(MemoryJournal::new());
        let r = orchestrator(&sim)
            .journal(journal.clone())
            .build()
            .unwrap()
            .run(request(&sim))
            .await;
        assert_eq!(r.outcome, Outcome::RolledBack, "{scenario}");
        let boundaries = journal.history(&sim.target()).await.unwrap().len();
        assert!(boundaries >= 4, "{scenario}: {boundaries}");

        for crash_on in 1..=boundaries {
            let sim = Simulation::builtin(scenario).unwrap();
            let store = Arc::new(MemoryJournal::new());
            let crashed = Arc::new(tokio::sync::Notify::new());
            let crashing = Arc::new(CrashingJournal {
                inner: store.clone(),
                crash_on,
                appends: AtomicUsize::new(0),
                crashed: crashed.clone(),
            });
            let o = orchestrator(&sim)
                .journal(crashing)
                .identity("node-1")
                .build()
                .unwrap();
            let run = o.start(request(&sim));
            crashed.notified().await;
            run.abort();
            // The crashed holder's lease expires.
            tokio::time::sleep(policy::Policy::default().lock_ttl + Duration::from_secs(1)).await;

            let o = orchestrator(&sim)
                .journal(store.clone())
                .identity("node-2")
                .build()
                .unwrap();
            let r = o.run(request(&sim)).await;
            assert!(
                matches!(r.outcome, Outcome::RolledBack | Outcome::AlreadyDone),
                "{scenario}, crash on append {crash_on}: {:?} {}",
                r.outcome,
                r.summary
            );
            let history = store.history(&sim.target()).await.unwrap();
            let to = history
                .iter()
                .rev()
                .find_map(|e| match &e.record {
                    JournalRecord::Finished {
                        outcome: Outcome::RolledBack,
                        to,
                    } => to.clone(),
                    _ => None,
                })
                .unwrap_or_else(|| {
                    panic!("{scenario}, crash on {crash_on}: no finished record in {history:?}")
                });
            let traffic = sim.traffic(&sim.target()).unwrap();
            assert!(
                traffic.is_all_to(&to.revision),
                "{scenario}, crash on {crash_on}: {traffic}"
            );
            // A third run is a no-op.
            let again = o.run(request(&sim)).await;
            assert_eq!(
                again.outcome,
                Outcome::AlreadyDone,
                "{scenario}, crash on {crash_on}"
            );
        }
    }
}

struct HangingNotifier;

#[async_trait]
impl Notifier for HangingNotifier {
    fn name(&self) -> &str {
        "hangs"
    }
    async fn notify(&self, _: &Event) -> Result<()> {
        std::future::pending().await
    }
}

#[derive(Default)]
struct RecordingNotifier {
    events: Mutex<Vec<Event>>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn notify(&self, e: &Event) -> Result<()> {
        self.events.lock().unwrap().push(e.clone());
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_notifier_that_never_answers_does_not_delay_the_run_beyond_its_timeout() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let recorder = Arc::new(RecordingNotifier::default());
    let policy = policy::Policy {
        notify_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let with_hang = orchestrator(&sim)
        .policy(policy.clone())
        .notifier(Arc::new(HangingNotifier))
        .notifier(recorder.clone())
        .build()
        .unwrap();
    let r = with_hang.run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack);
    let notify = r.stage(Stage::Notify).unwrap();
    assert!(
        notify.duration <= Duration::from_secs(5),
        "{:?}",
        notify.duration
    );
    assert_eq!(notify.status, StageStatus::Warn);
    let hang: Vec<_> = r
        .notifications
        .iter()
        .filter(|d| d.channel == "hangs")
        .collect();
    assert!(hang
        .iter()
        .all(|d| !d.delivered && d.error.as_deref().unwrap().contains("no answer within 5s")));
    let kinds: Vec<EventKind> = recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Started, EventKind::Succeeded]);
    let done = recorder.events.lock().unwrap()[1].clone();
    assert_eq!(done.to.unwrap().to_string(), "v1.2.9");
    assert!(done.report_markdown.unwrap().contains("Root Cause"));
    assert!(!done.metrics.is_empty());
}

#[tokio::test(start_paused = true)]
async fn temporary_errors_are_retried_and_permanent_ones_fail_with_the_state() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    sim.inject(Fault::new(Operation::SetTraffic, FaultKind::Unavailable).times(2));
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);

    let sim = Simulation::builtin("spec-incident").unwrap();
    sim.inject(Fault::new(Operation::SetTraffic, FaultKind::PermissionDenied).always());
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.error_kind(), Some(ErrorKind::PermissionDenied));
    let set_traffic = sim
        .calls()
        .iter()
        .filter(|c| c.operation == Operation::SetTraffic)
        .count();
    assert_eq!(set_traffic, 1, "permanent errors are not retried");
    let fs = r.final_state.unwrap();
    assert!(fs.summary.contains("v1.3.0 100%"), "{}", fs.summary);
}

#[tokio::test(start_paused = true)]
async fn cancelling_leaves_a_valid_split_and_says_where_traffic_is() {
    let sim = Simulation::builtin("staging-canary").unwrap();
    let o = orchestrator(&sim).build().unwrap();
    let mut run = o.start(request(&sim));
    while let Some(p) = run.next_progress().await {
        if let Progress::Line(Stage::Execute, l) = &p {
            if l.text.contains("75%") {
                run.cancel();
            }
        }
    }
    let r = run.report().await.unwrap();
    assert_eq!(r.outcome, Outcome::Cancelled);
    assert_eq!(r.outcome.exit_code(), 130);
    let now = sim.traffic(&sim.target()).unwrap();
    assert_eq!(r.final_state.unwrap().traffic, Some(now));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_deployment_is_rejected_as_not_found() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let t = Target::new(Environment::Production, "nope");
    let r = orchestrator(&sim)
        .build()
        .unwrap()
        .run(RollbackRequest::new(t).reason("x"))
        .await;
    assert_eq!(r.outcome, Outcome::Rejected);
    assert_eq!(r.error_kind(), Some(ErrorKind::NotFound));
}

struct CountingCheck {
    status: CheckStatus,
    runs: AtomicUsize,
}

impl CountingCheck {
    fn new(status: CheckStatus) -> Self {
        CountingCheck {
            status,
            runs: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Check for CountingCheck {
    fn name(&self) -> &str {
        "redis"
    }
    async fn run(&self, _: &CheckContext) -> CheckOutcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let detail = if self.status == CheckStatus::Fail {
            "redis unreachable"
        } else {
            "ok"
        };
        CheckOutcome::new("redis", self.status, detail)
    }
}

/// v1.2.9 is verified and its 24 h mean is within SLA, but its latency was climbing in its
/// last hours: the judge against its own history skips it for v1.2.8.
const DEGRADING_STANDBY: &str = r#"
name = "degrading-standby"
seed = 5
now = "2024-01-15T14:30:00Z"
environment = "production"
deployment = "api-service"
router = "blue-green"
request_rate = 40.0
traffic = { "v1.3.0" = 100 }

[[releases]]
version = "v1.3.0"
slot = "blue"
state = "serving"
replicas = 4
deployed_at = "-9m"
error_rate = 0.0003
latency_p95 = 80.0

[[releases.failures]]
kind = "error_rate"
onset = "2m"
over = "2m"
to = 0.1

[[releases]]
version = "v1.2.9"
slot = "green"
state = "standby"
mark = "verified"
replicas = 4
deployed_at = "-2d"
retired_at = "-9m"
error_rate = 0.0002
latency_p95 = 55.0

[[releases.failures]]
kind = "latency"
onset = "1d18h"
over = "5h"
to = 95.0

[[releases]]
version = "v1.2.8"
state = "inactive"
mark = "verified"
deployed_at = "-6d"
retired_at = "-2d"
error_rate = 0.0002
latency_p95 = 60.0
"#;

#[tokio::test(start_paused = true)]
async fn a_candidate_degrading_at_the_end_of_its_history_is_skipped() {
    let scenario = rollback_core::sim::Scenario::from_toml(DEGRADING_STANDBY).unwrap();
    let sim = Simulation::new(scenario.clone(), scenario.clock());
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    let skipped = r
        .candidates
        .iter()
        .find(|c| c.release.version.to_string() == "v1.2.9")
        .unwrap();
    assert!(!skipped.eligible, "{}", skipped.reason);
    assert!(
        skipped
            .reason
            .contains("degrading at the end of its history"),
        "{}",
        skipped.reason
    );
    assert!(
        skipped.latency_p95_ms.unwrap() < 100.0,
        "its mean alone would have passed"
    );
    assert_eq!(version(&r.to), "v1.2.8", "{}", r.summary);
}

/// A service that logs its own secrets: they do not reach the RCA report, the exported logs or
/// the notifications.
const LEAKY_LOGS: &str = r#"
name = "leaky-logs"
seed = 3
now = "2024-01-15T14:30:00Z"
environment = "staging"
deployment = "billing"
router = "blue-green"
request_rate = 40.0
traffic = { "v2" = 100 }

[[releases]]
version = "v2"
slot = "blue"
state = "serving"
replicas = 2
deployed_at = "-9m"
error_rate = 0.0003
latency_p95 = 80.0

[[releases.failures]]
kind = "error_rate"
onset = "2m"
over = "1m"
to = 0.2

[[releases.logs]]
rate = 30
lines = ["{ts} ERROR [db] connect failed: postgres://billing:Sup3rS3cret@db.internal:5432/billing password=Sup3rS3cret token=tok_live_4242"]

[[releases]]
version = "v1"
slot = "green"
state = "standby"
mark = "verified"
replicas = 2
deployed_at = "-2d"
retired_at = "-9m"
error_rate = 0.0002
latency_p95 = 60.0
"#;

#[tokio::test(start_paused = true)]
async fn secrets_in_service_logs_never_reach_reports_exports_or_events() {
    let scenario = rollback_core::sim::Scenario::from_toml(LEAKY_LOGS).unwrap();
    let sim = Simulation::new(scenario.clone(), scenario.clock());
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(RecordingNotifier::default());
    let o = orchestrator(&sim)
        .report_dir(dir.path())
        .notifier(recorder.clone())
        .build()
        .unwrap();
    let r = o.run(RollbackRequest::new(sim.target())).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let mut everything = serde_json::to_string(&r).unwrap();
    for e in recorder.events.lock().unwrap().iter() {
        everything.push_str(&serde_json::to_string(e).unwrap());
    }
    for entry in std::fs::read_dir(dir.path().join(&r.run_id)).unwrap() {
        everything.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(
        everything.contains("[REDACTED]"),
        "the evidence was exported"
    );
    for secret in ["Sup3rS3cret", "tok_live_4242"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(start_paused = true)]
async fn a_release_inside_its_sla_but_slower_than_before_the_deploy_is_rolled_back() {
    let sim = Simulation::builtin("latency-regression").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.to), "v3.0.4");
    // The window means saw nothing; the regression test did, and says against what.
    assert!(r.detection.as_ref().unwrap().breaches.is_empty());
    let v = r.sequential.as_ref().expect("sequential verdict");
    let m = v.breaches().next().expect("a breach");
    assert_eq!(m.test, rollback_core::sequential::TestKind::LatencyShift);
    assert_eq!(m.threshold, 250.0);
    assert_eq!(m.reference, Some(0.0));
    assert!(
        m.explanation
            .contains("against the 1h before the deploy: requests slower than 250ms: 3.8"),
        "{}",
        m.explanation
    );
    let stage = &r.stages[0];
    assert!(
        stage.lines.iter().any(|l| l
            .text
            .contains("YES (HIGH regression against the baseline: latency distribution)")),
        "{:#?}",
        stage.lines
    );
    // Turned off, the same release is left alone: its SLA holds.
    let sim = Simulation::builtin("latency-regression").unwrap();
    let mut policy = policy::Policy::default();
    policy.detection.sequential.regression.enabled = false;
    let r = run_with_policy(&sim, policy).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert_eq!(sim.mutating_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_canary_is_compared_with_the_stable_release_serving_beside_it() {
    use rollback_core::sequential::TestKind;
    let sim = Simulation::builtin("staging-canary").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    let stage = &r.stages[0];
    assert!(
        stage
            .lines
            .iter()
            .any(|l| l.text.contains("Baseline: v2.3.1 beside it, step by step")),
        "{:#?}",
        stage.lines
    );
    let v = r.sequential.as_ref().expect("sequential verdict");
    // The canary against its neighbour, step by step: errors and the latency distribution.
    for test in [TestKind::ErrorRegression, TestKind::LatencyShift] {
        let m = v
            .breaches()
            .find(|m| m.test == test)
            .unwrap_or_else(|| panic!("{test:?}: {}", v.explanation));
        assert!(
            m.explanation.contains("against v2.3.1 beside it")
                && m.explanation.contains("over the same steps"),
            "{}",
            m.explanation
        );
        assert!(m.reference.unwrap() < m.estimate.unwrap().rate / 4.0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_canary_failing_exactly_like_its_neighbour_is_not_rolled_back() {
    // A dependency outage: the v2.4.0 canary and the stable v2.3.1 beside it both fail ~6 %
    // of requests from the same moment. Rolling the canary back would not help.
    let text = include_str!("../scenarios/staging-canary.toml").replace(
        "[releases.attributes]\nimage = \"registry.example.com/checkout-api:v2.3.1\"",
        "[[releases.failures]]\nkind = \"error_rate\"\nonset = \"71h41m\"\nover = \"4m\"\nto = 0.08\n\n\
         [[releases.failures]]\nkind = \"latency\"\nonset = \"71h41m\"\nover = \"4m\"\nto = 420.0\n\n\
         [releases.attributes]\nimage = \"registry.example.com/checkout-api:v2.3.1\"",
    );
    // (v2.3.1 was deployed 3 days ago: 71h41m after that is 19 minutes ago, the canary's
    // onset.)
    let scenario = rollback_core::sim::Scenario::from_toml(&text).unwrap();
    let clock = scenario.clock();
    let sim = Simulation::new(scenario, clock);
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert!(r.summary.contains("a shared cause"), "{}", r.summary);
    assert_eq!(sim.mutating_calls(), 0);
    let lines = &r.stages[0].lines;
    assert!(
        lines
            .iter()
            .any(|l| l.text.contains("Shared with the stable release")
                && l.text.contains("Error rate")),
        "{lines:#?}"
    );
    // With the regression tests off the detector has no control, and the shared cause is
    // still recognised from the window comparison.
    let sim3 = Simulation::new(
        rollback_core::sim::Scenario::from_toml(&text).unwrap(),
        rollback_core::sim::Scenario::from_toml(&text)
            .unwrap()
            .clock(),
    );
    let mut policy = policy::Policy::default();
    policy.detection.sequential.regression.enabled = false;
    let r = run_with_policy(&sim3, policy).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert!(r.summary.contains("a shared cause"), "{}", r.summary);
    // The operator can still insist.
    let sim2 = Simulation::new(
        rollback_core::sim::Scenario::from_toml(&text).unwrap(),
        rollback_core::sim::Scenario::from_toml(&text)
            .unwrap()
            .clock(),
    );
    let r = orchestrator(&sim2)
        .build()
        .unwrap()
        .run(request(&sim2).force(true))
        .await;
    assert_ne!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
}

// ----- the workload signal of the detect stage ----------------------------------------------

fn detect_lines(r: &RollbackReport) -> Vec<String> {
    r.stage(Stage::Detect)
        .map(|s| s.lines.iter().map(|l| l.text.clone()).collect())
        .unwrap_or_default()
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> Option<&'a String> {
    lines.iter().find(|l| l.contains(needle))
}

fn health_calls(sim: &Simulation) -> usize {
    sim.calls()
        .iter()
        .filter(|c| c.operation == Operation::Health)
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_crash_looping_release_with_healthy_metrics_is_rolled_back_for_its_workload() {
    use rollback_core::workload::{WorkloadFailure, WorkloadStatus};
    let sim = Simulation::builtin("crash-loop").unwrap();
    let recorder = Arc::new(RecordingNotifier::default());
    let r = orchestrator(&sim)
        .notifier(recorder.clone())
        .build()
        .unwrap()
        .run(request(&sim))
        .await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.from), "v5.2.0");
    assert_eq!(version(&r.to), "v5.1.3");
    // The metrics saw nothing.
    let d = r.detection.as_ref().unwrap();
    assert!(d.breaches.is_empty(), "{}", d.explain());
    assert_eq!(r.sequential.as_ref().unwrap().breaches().count(), 0);
    // The workload did, and the report says why.
    let w = r.workload.as_ref().expect("workload verdict");
    assert_eq!(w.status, WorkloadStatus::Failing);
    assert_eq!(w.severity, Some(Severity::Critical));
    assert_eq!((w.health.ready, w.health.desired), (2, 4));
    assert!(w.failures.iter().any(|f| matches!(
        f,
        WorkloadFailure::Problem { matched, .. } if matched == "CrashLoopBackOff"
    )));
    assert!(w
        .failures
        .iter()
        .any(|f| matches!(f, WorkloadFailure::Restarts { limit: 5, .. })));
    let lines = detect_lines(&r);
    let line = line_with(&lines, "Workload: ").expect("workload line");
    assert!(
        line.starts_with("Workload: 2/4 ready, ")
            && line.contains("restarts (limit 5); CrashLoopBackOff, OOMKilled - CRITICAL"),
        "{line}"
    );
    let decision = line_with(&lines, "Rollback recommended").unwrap();
    assert!(
        decision.starts_with(
            "Rollback recommended: YES (CRITICAL workload failure: CrashLoopBackOff, OOMKilled, "
        ) && decision.ends_with("restarts (limit 5))"),
        "{decision}"
    );
    // The notification is as severe as the workload failure (the metrics alone: none).
    let events = recorder.events.lock().unwrap();
    assert_eq!(events[0].kind, EventKind::Started);
    assert_eq!(events[0].severity, Severity::Critical);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["workload"]["status"], "failing");
}

#[tokio::test(start_paused = true)]
async fn a_healthy_workload_leaves_the_decision_to_the_metrics() {
    use rollback_core::workload::WorkloadStatus;
    // A failing canary with healthy pods: rolled back for its SLA, as before.
    let sim = Simulation::builtin("staging-canary").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let lines = detect_lines(&r);
    assert_eq!(
        line_with(&lines, "Workload: ").map(String::as_str),
        Some("Workload: 2/2 ready, 0 restarts")
    );
    assert_eq!(
        line_with(&lines, "Rollback recommended").map(String::as_str),
        Some("Rollback recommended: YES (critical SLA breach)")
    );
    assert_eq!(r.workload.as_ref().unwrap().status, WorkloadStatus::Healthy);
    // A healthy release with healthy pods: nothing to do, as before.
    let sim = Simulation::builtin("healthy").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo);
    assert_eq!(r.summary, "no SLA violation — nothing to roll back");
    assert_eq!(sim.mutating_calls(), 0);
    let stage = r.stage(Stage::Detect).unwrap();
    let line = stage
        .lines
        .iter()
        .find(|l| l.text.starts_with("Workload: "))
        .unwrap();
    assert_eq!(line.mark, report::Mark::Ok, "{}", line.text);
}

#[tokio::test(start_paused = true)]
async fn a_health_read_failure_is_reported_and_the_metrics_still_decide() {
    // Permanent: the crash loop goes unseen, the healthy metrics decide — and say so.
    let sim = Simulation::builtin("crash-loop").unwrap();
    sim.inject(Fault::new(Operation::Health, FaultKind::PermissionDenied));
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert!(r.workload.is_none());
    let lines = detect_lines(&r);
    let warn = line_with(&lines, "Workload: ").expect("a line about the workload");
    assert!(
        warn.contains("the health of v5.2.0 could not be read")
            && warn.contains("permission_denied")
            && warn.ends_with("deciding on metrics alone"),
        "{warn}"
    );
    assert_eq!(health_calls(&sim), 1, "a permanent error is not retried");
    // A failing release is still rolled back for its metrics.
    let sim = Simulation::builtin("spec-incident").unwrap();
    sim.inject(Fault::new(Operation::Health, FaultKind::Backend));
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert!(r.workload.is_none());
    assert_eq!(
        line_with(&detect_lines(&r), "Rollback recommended").map(String::as_str),
        Some("Rollback recommended: YES (critical SLA breach)")
    );
    // Temporary errors go through the retry policy like every other read.
    let sim = Simulation::builtin("crash-loop").unwrap();
    sim.inject(Fault::new(Operation::Health, FaultKind::Unavailable).times(2));
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert!(r.workload.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_disabled_workload_policy_reads_no_health_and_changes_nothing() {
    let sim = Simulation::builtin("crash-loop").unwrap();
    let policy = policy::Policy::from_toml("[detection]\nworkload = { enabled = false }").unwrap();
    let r = run_with_policy(&sim, policy).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert_eq!(r.summary, "no SLA violation — nothing to roll back");
    assert!(r.workload.is_none());
    assert!(line_with(&detect_lines(&r), "Workload").is_none());
    assert_eq!(health_calls(&sim), 0);
    assert_eq!(sim.mutating_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_release_within_its_grace_period_is_not_judged() {
    use rollback_core::workload::WorkloadStatus;
    // The same crash loop 90 s after the deploy: the rollout may still be starting.
    let text = include_str!("../scenarios/crash-loop.toml")
        .replace("deployed_at = \"-14m\"", "deployed_at = \"-90s\"")
        .replace("retired_at = \"-14m\"", "retired_at = \"-90s\"")
        .replace(
            "onset = \"5m\"\nevery = \"90s\"",
            "onset = \"10s\"\nevery = \"20s\"",
        );
    let scenario = rollback_core::sim::Scenario::from_toml(&text).unwrap();
    let fresh = || {
        let s = scenario.clone();
        let clock = s.clock();
        Simulation::new(s, clock)
    };
    let sim = fresh();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    let w = r.workload.as_ref().unwrap();
    assert_eq!(w.status, WorkloadStatus::NotJudged);
    assert!(!w.health.problems.is_empty(), "the crash loop is there");
    let line = line_with(&detect_lines(&r), "Workload: ").unwrap().clone();
    assert!(
        line.contains("not judged (deployed 1m 30s ago, within the 2m grace period)"),
        "{line}"
    );
    // Past a shorter grace period, the same snapshot is judged.
    let sim = fresh();
    let policy = policy::Policy::from_toml("[detection.workload]\ngrace_period = \"1m\"").unwrap();
    let r = run_with_policy(&sim, policy).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
}

#[tokio::test(start_paused = true)]
async fn restarts_alone_are_a_high_failure_held_to_the_trigger() {
    // Only restarts count: the listed problems are emptied.
    let sim = Simulation::builtin("crash-loop").unwrap();
    let policy = policy::Policy::from_toml("[detection.workload]\nfailure_problems = []").unwrap();
    let r = orchestrator(&sim)
        .policy(policy.clone())
        .build()
        .unwrap()
        .run(request(&sim))
        .await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let decision = line_with(&detect_lines(&r), "Rollback recommended")
        .unwrap()
        .clone();
    assert!(
        decision.starts_with("Rollback recommended: YES (HIGH workload failure: ")
            && decision.ends_with(" restarts (limit 5))"),
        "{decision}"
    );
    // With a CRITICAL trigger the same failure does not start a rollback, and says why.
    let sim = Simulation::builtin("crash-loop").unwrap();
    let mut policy = policy;
    policy.detection.trigger = Severity::Critical;
    let r = run_with_policy(&sim, policy).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert!(
        r.summary
            .starts_with("workload degraded below the rollback trigger: HIGH workload failure: "),
        "{}",
        r.summary
    );
}

/// A canary beside its stable release, both healthy by their metrics; `{stable}` takes the
/// stable release's failures.
const CANARY_PAIR: &str = r#"
name = "canary-pair"
seed = 5
now = "2024-03-04T10:15:00Z"
environment = "staging"
deployment = "checkout-api"
namespace = "staging"
router = "weighted"
request_rate = 120.0
traffic = { "v2.4.0" = 20, "v2.3.1" = 80 }

[[releases]]
version = "v2.4.0"
slot = "canary"
state = "serving"
replicas = 2
deployed_at = "-25m"
error_rate = 0.002
latency_p95 = 140.0
cpu = 40.0
memory = 50.0

[[releases.failures]]
kind = "crash_loop"
onset = "15m"
every = "2m"
unready = 1
reason = "OOMKilled"

[[releases]]
version = "v2.3.1"
slot = "stable"
state = "serving"
mark = "verified"
replicas = 5
deployed_at = "-3d"
error_rate = 0.002
latency_p95 = 140.0
cpu = 40.0
memory = 50.0
{stable}

[[releases]]
version = "v2.3.0"
state = "inactive"
mark = "verified"
deployed_at = "-9d"
retired_at = "-3d"
error_rate = 0.002
latency_p95 = 140.0
"#;

fn canary_pair(stable: &str) -> Simulation {
    let scenario =
        rollback_core::sim::Scenario::from_toml(&CANARY_PAIR.replace("{stable}", stable)).unwrap();
    let clock = scenario.clock();
    Simulation::new(scenario, clock)
}

#[tokio::test(start_paused = true)]
async fn a_canary_whose_neighbour_fails_its_workload_the_same_way_is_not_rolled_back() {
    // Node memory pressure: the stable release's pods are OOM-killed too, from the same
    // moment (3 days after its deploy less 10 minutes).
    let same = "\n[[releases.failures]]\nkind = \"crash_loop\"\nonset = \"71h50m\"\nevery = \"2m\"\nunready = 1\nreason = \"OOMKilled\"\n";
    let sim = canary_pair(same);
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert_eq!(
        r.summary,
        "v2.3.1 beside v2.4.0 fails its workload the same way — a shared cause; rolling back would not help"
    );
    assert_eq!(sim.mutating_calls(), 0);
    let w = r.workload.as_ref().unwrap();
    assert_eq!(
        w.shared_with.as_ref().map(|s| s.version.to_string()),
        Some("v2.3.1".to_string())
    );
    assert_eq!(w.severity, Some(Severity::Critical));
    assert_eq!(w.counted_severity(), None);
    let lines = detect_lines(&r);
    assert!(
        line_with(&lines, "Workload: ")
            .unwrap()
            .ends_with("- CRITICAL, shared: v2.3.1 beside it fails the same way"),
        "{lines:#?}"
    );
    assert!(
        line_with(
            &lines,
            "Shared with the stable release, not this one's: workload: CrashLoopBackOff, OOMKilled"
        )
        .is_some(),
        "{lines:#?}"
    );
    // The operator can still insist.
    let sim = canary_pair(same);
    let r = orchestrator(&sim)
        .build()
        .unwrap()
        .run(request(&sim).force(true))
        .await;
    assert_ne!(r.outcome, Outcome::NothingToDo, "{}", r.summary);
    assert_eq!(
        line_with(&detect_lines(&r), "Rollback recommended").map(String::as_str),
        Some("Rollback recommended: NO — proceeding because the operator asked")
    );
    // A healthy neighbour: the crash loop is the canary's own.
    let sim = canary_pair("");
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.to), "v2.3.1");
    assert!(r.workload.as_ref().unwrap().shared_with.is_none());
    assert!(
        line_with(&detect_lines(&r), "Rollback recommended")
            .unwrap()
            .starts_with(
                "Rollback recommended: YES (CRITICAL workload failure: CrashLoopBackOff, OOMKilled"
            ),
        "{:#?}",
        detect_lines(&r)
    );
}

#[tokio::test(start_paused = true)]
async fn an_invalid_workload_policy_is_refused_before_any_call() {
    let sim = Simulation::builtin("crash-loop").unwrap();
    let mut policy = policy::Policy::default();
    policy.detection.workload.grace_period = Duration::from_secs(7200);
    let err = orchestrator(&sim).policy(policy).build().err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("detection.workload: restart_window"),
        "{err}"
    );
    assert!(sim.calls().is_empty());
}

/// The simulation's metrics, with one kind answering no data for one release (a new release
/// whose series lost a label, say).
struct WithoutData<M> {
    inner: M,
    kind: MetricKind,
    version: &'static str,
}

#[async_trait]
impl<M: MetricsSource> MetricsSource for WithoutData<M> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn query(&self, query: &MetricQuery) -> Result<Vec<Series>> {
        let theirs = query
            .release
            .as_ref()
            .is_some_and(|r| r.version.as_str() == self.version);
        if query.kind == self.kind && theirs {
            return Ok(Vec::new());
        }
        self.inner.query(query).await
    }
}

/// A run of `scenario` whose memory queries answer no data for the release `version`, under
/// `no_data`.
async fn run_without_memory_data(
    scenario: &str,
    version: &'static str,
    no_data: policy::NoDataPolicy,
) -> (Simulation, RollbackReport) {
    let sim = Simulation::builtin(scenario).unwrap();
    let metrics = WithoutData {
        inner: sim.metrics(),
        kind: MetricKind::MemoryUtilization,
        version,
    };
    let mut policy = policy::Policy::default();
    policy.detection.no_data = no_data;
    let r = orchestrator_with(&sim, metrics)
        .policy(policy)
        .build()
        .unwrap()
        .run(request(&sim))
        .await;
    (sim, r)
}

#[tokio::test(start_paused = true)]
async fn a_conclusive_breach_is_not_hidden_by_another_metrics_missing_data() {
    use policy::NoDataPolicy;
    // Memory says nothing, so the window verdict is inconclusive; the latency distribution's
    // sequential test is conclusive, and a breach is a breach whatever another metric lacks.
    let (sim, r) =
        run_without_memory_data("latency-regression", "v3.1.0", NoDataPolicy::Inconclusive).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    assert_eq!(version(&r.to), "v3.0.4");
    let a = r.detection.as_ref().unwrap();
    assert_eq!(a.no_data, vec![MetricKind::MemoryUtilization]);
    assert!(r.sequential.as_ref().unwrap().worst().is_some());
    assert!(sim.mutating_calls() > 0);
    // Nothing conclusive besides the missing metric: inconclusive, and nothing changes.
    let (sim, r) = run_without_memory_data("healthy", "v1.3.0", NoDataPolicy::Inconclusive).await;
    assert_eq!(r.outcome, Outcome::Inconclusive, "{}", r.summary);
    assert_eq!(sim.mutating_calls(), 0);
    // Under `pass` the missing metric is ignored and the breach decides, as before.
    let (_, r) = run_without_memory_data("latency-regression", "v3.1.0", NoDataPolicy::Pass).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
}

#[tokio::test(start_paused = true)]
async fn the_report_and_the_root_cause_analysis_say_what_tripped_the_rollback() {
    // A regression inside the SLA: the decision names it, the signal says against what.
    let sim = Simulation::builtin("latency-regression").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let t = r.trigger.as_ref().expect("a trigger");
    assert_eq!(
        t.decision,
        "HIGH regression against the baseline: latency distribution"
    );
    assert_eq!(t.signals.len(), 1, "{:?}", t.signals);
    assert!(
        t.signals[0].contains("against the 1h before the deploy: requests slower than 250ms"),
        "{}",
        t.signals[0]
    );
    let onset = r
        .sequential
        .as_ref()
        .unwrap()
        .breaches()
        .next()
        .unwrap()
        .onset;
    assert_eq!(t.since, onset);
    assert!(t.since.unwrap() < t.at.unwrap());
    let md = &r.root_cause.as_ref().expect("an RCA").markdown;
    let why = md.find("## Why It Was Rolled Back").expect("the section");
    assert!(why < md.find("## Failure Timeline").unwrap(), "{md}");
    assert!(
        md.contains("**Decision:** HIGH regression against the baseline: latency distribution"),
        "{md}"
    );
    assert!(md.contains("— First signal out of bounds"), "{md}");
    assert!(
        md.contains("— Rollback decided: HIGH regression against the baseline"),
        "{md}"
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap()["trigger"]["decision"],
        "HIGH regression against the baseline: latency distribution"
    );

    // Notifications carry the trigger; without an operator's reason (outside production) its
    // decision is their reason.
    let sim = Simulation::builtin("staging-canary").unwrap();
    let recorder = Arc::new(RecordingNotifier::default());
    let r = orchestrator(&sim)
        .notifier(recorder.clone())
        .build()
        .unwrap()
        .run(RollbackRequest::new(sim.target()))
        .await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let t = r.trigger.as_ref().expect("a trigger");
    {
        let events = recorder.events.lock().unwrap();
        assert_eq!(events[0].kind, EventKind::Started);
        assert_eq!(events[0].trigger.as_ref(), Some(t));
        assert_eq!(events[0].reason.as_deref(), Some(t.decision.as_str()));
    }

    // A crash loop with healthy metrics: the workload is the signal.
    let sim = Simulation::builtin("crash-loop").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    let t = r.trigger.as_ref().expect("a trigger");
    assert!(
        t.decision
            .starts_with("CRITICAL workload failure: CrashLoopBackOff"),
        "{}",
        t.decision
    );
    assert_eq!(t.signals.len(), 1, "{:?}", t.signals);
    assert!(
        t.signals[0].starts_with("Workload: 2/4 ready, "),
        "{:?}",
        t.signals
    );

    // Nothing wrong, but the operator chose a release: that is the decision.
    let sim = Simulation::builtin("healthy").unwrap();
    let req = request(&sim).to(Version::parse("v1.2.9").unwrap());
    let r = orchestrator(&sim).build().unwrap().run(req).await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let t = r.trigger.as_ref().expect("a trigger");
    assert_eq!(
        t.decision,
        "the operator asked for a rollback to a chosen release: High error rate"
    );
    assert!(t.signals.is_empty() && t.since.is_none(), "{t:?}");

    // Nothing to do: no trigger.
    let sim = Simulation::builtin("healthy").unwrap();
    let r = orchestrator(&sim).build().unwrap().run(request(&sim)).await;
    assert_eq!(r.outcome, Outcome::NothingToDo);
    assert!(r.trigger.is_none());
}

/// The simulation's metrics, with the failing release's window metrics (error rate, latency,
/// CPU, memory) answered with healthy constants: only the sequential tests, which read the
/// status codes and the latency histogram, see the failure.
struct HealthyWindow<M> {
    inner: M,
    failing: String,
}

#[async_trait]
impl<M: MetricsSource> MetricsSource for HealthyWindow<M> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn query(&self, query: &MetricQuery) -> Result<Vec<Series>> {
        let healthy = match query.kind {
            MetricKind::ErrorRate => 0.0001,
            MetricKind::Latency(_) => 40.0,
            MetricKind::CpuUtilization | MetricKind::MemoryUtilization => 30.0,
            _ => return self.inner.query(query).await,
        };
        let failing = query
            .release
            .as_ref()
            .is_some_and(|r| r.version.as_str() == self.failing);
        if !failing {
            return self.inner.query(query).await;
        }
        let step = chrono::Duration::from_std(query.step).unwrap();
        let mut samples = Vec::new();
        let mut at = query.range.start;
        while at < query.range.end {
            samples.push(Sample { at, value: healthy });
            at += step;
        }
        Ok(vec![Series::new(samples)])
    }
}

#[tokio::test(start_paused = true)]
async fn the_started_event_is_as_severe_as_the_worst_signal_the_sequential_tests_included() {
    let sim = Simulation::builtin("cascade").unwrap();
    let releases = sim.platform().releases(&sim.target()).await.unwrap();
    let metrics = HealthyWindow {
        inner: sim.metrics(),
        failing: releases[0].version.to_string(),
    };
    let recorder = Arc::new(RecordingNotifier::default());
    let r = orchestrator_with(&sim, metrics)
        .notifier(recorder.clone())
        .build()
        .unwrap()
        .run(request(&sim))
        .await;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    // The window saw nothing; the sequential error test a critical breach.
    let window = r.detection.as_ref().unwrap();
    assert_eq!(window.worst(), None, "{}", window.explain());
    assert_eq!(
        r.sequential.as_ref().unwrap().worst(),
        Some(Severity::Critical)
    );
    let events = recorder.events.lock().unwrap();
    assert_eq!(events[0].kind, EventKind::Started);
    assert_eq!(events[0].severity, Severity::Critical);
}
