//! Safety invariants 1–4 of the design hold under random fault schedules on every backend call.
//!
//! 1. Traffic weights always sum to 100, and traffic never sits on a release with no ready
//!    capacity.
//! 2. After a failure the report says exactly where traffic is (what the platform holds).
//! 3. `preserve_data` ⇒ no data restore, ever.
//! 4. Clean-up never deletes a release (it only scales down), and never scales down the release
//!    that serves.

use std::sync::Arc;

use proptest::prelude::{
    any, prop, prop_assert, prop_assert_eq, proptest, ProptestConfig, Strategy as _,
};
use rollback_core::sim::{Fault, FaultKind, Operation, Simulation};
use rollback_core::*;

fn fault() -> impl proptest::strategy::Strategy<Value = Fault> {
    let ops = prop::sample::select(vec![
        Operation::Releases,
        Operation::Traffic,
        Operation::Health,
        Operation::SetTraffic,
        Operation::Revert,
        Operation::Scale,
        Operation::Evidence,
        Operation::Lock,
        Operation::Unlock,
        Operation::Mark,
        Operation::Query,
        Operation::Restore,
    ]);
    let kinds = prop::sample::select(FaultKind::ALL.to_vec());
    (ops, kinds, any::<bool>(), 0u32..6, 1u32..4).prop_map(|(op, kind, temporary, after, times)| {
        Fault::new(op, kind)
            .temporary(temporary)
            .after(after)
            .times(times)
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_fault_schedules_never_break_the_safety_invariants(
        scenario in prop::sample::select(vec!["spec-incident", "staging-canary", "dev-no-bluegreen", "cascade", "gradual-overload"]),
        faults in prop::collection::vec(fault(), 0..6),
        immediate in any::<bool>(),
        database in any::<bool>(),
    ) {
        runtime().block_on(async {
            let sim = Simulation::builtin(scenario).unwrap();
            let target = sim.target();
            let releases_before = sim.releases(&target).unwrap();
            let traffic_before = sim.traffic(&target).unwrap();
            for f in faults {
                sim.inject(f);
            }
            let o = Orchestrator::builder(sim.platform(), sim.metrics())
                .clock(sim.clock())
                .data_guard(Arc::new(sim.data_guard()))
                .build()
                .unwrap();
            let mut req = RollbackRequest::new(target.clone()).reason("property test").immediate(immediate);
            if scenario == "gradual-overload" {
                req = req.to(Version::parse("v3.0.4").unwrap());
            }
            if database {
                req = req.preserve_data(false).strategy(StrategyChoice::Forced(rollback_core::Strategy::Database));
            }
            let r = o.run(req.clone()).await;

            // 1. The split the platform holds is valid and, if we moved it, only on releases with
            //    ready capacity (a failing release may have had none before we started).
            let traffic = sim.traffic(&target).unwrap();
            let sum: u32 = traffic.weights().iter().map(|w| u32::from(w.percent)).sum();
            prop_assert_eq!(sum, 100);
            let releases = sim.releases(&target).unwrap();
            for w in traffic.weights().iter().filter(|w| traffic_before.percent_for(&w.release.revision) < w.percent) {
                let rel = releases.iter().find(|x| x.revision == w.release.revision).unwrap();
                prop_assert!(rel.replicas.ready > 0, "{} holds {}% with no ready capacity ({:?}: {})", rel.version, w.percent, r.outcome, r.summary);
            }
            for step in r.executions.iter().flat_map(|e| e.steps.iter()) {
                if let Some(s) = &step.split {
                    prop_assert_eq!(s.weights().iter().map(|w| u32::from(w.percent)).sum::<u32>(), 100);
                }
            }
            // 2. Whatever happened, a run that changed things says where traffic is.
            if r.mutating_calls > 0 && r.outcome != Outcome::RolledBack {
                let fs = r.final_state.as_ref().expect("a final state after changes");
                if let Some(t) = &fs.traffic {
                    prop_assert_eq!(t, &traffic, "the report's traffic is the platform's");
                } else {
                    prop_assert!(fs.summary.contains("could not be read"), "{}", fs.summary);
                }
            }
            if r.outcome == Outcome::RolledBack {
                prop_assert!(traffic.is_all_to(&r.to.as_ref().unwrap().revision));
            }
            // A run that ends without changes made none.
            if matches!(r.outcome, Outcome::Rejected | Outcome::Aborted | Outcome::NothingToDo | Outcome::DryRun | Outcome::Inconclusive) {
                prop_assert_eq!(sim.calls().iter().filter(|c| c.mutating && c.operation != Operation::Mark).count(), 0, "{:?}: {}", r.outcome, r.summary);
            }
            // 3. preserve_data ⇒ no restore.
            if req.preserve_data {
                prop_assert_eq!(sim.data_restores(), 0);
            }
            // 4. Nothing deleted; what serves keeps its capacity.
            prop_assert_eq!(releases.len(), releases_before.len());
            for before in &releases_before {
                prop_assert!(releases.iter().any(|x| x.revision == before.revision), "{} disappeared", before.version);
            }
            for w in traffic.weights() {
                let rel = releases.iter().find(|x| x.revision == w.release.revision).unwrap();
                prop_assert!(rel.replicas.desired > 0, "{} serves but was scaled to 0", rel.version);
            }
            Ok(())
        })?;
    }
}
