//! Orchestration overhead and concurrency on the simulation.
//!
//! - `rollback/spec_incident`: one full rollback of the spec incident with zero-latency backends,
//!   RCA and notifications off, on virtual time (waits cost nothing): what the orchestrator itself
//!   costs per rollback.
//! - `concurrent/1000_targets_10ms_calls`: 1,000 targets rolled back at once through one
//!   orchestrator, every platform and metrics call taking 10 ms of real time. Compared with one
//!   rollback alone under the same latency (its critical path of sequential calls): the ratio is
//!   printed and should stay within 1.5×.
//!
//! Run: `cargo bench --bench orchestrator` (figures in BENCHMARKS.md).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rollback::policy::Policy;
use rollback::sim::Simulation;
use rollback::{Orchestrator, Outcome, RollbackRequest, Target};

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

fn request(target: Target) -> RollbackRequest {
    RollbackRequest::new(target)
        .reason("benchmark")
        .analyze_failure(false)
        .notify(false)
}

fn one_rollback(c: &mut Criterion) {
    let rt = paused_runtime();
    c.bench_function("rollback/spec_incident", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let sim = Simulation::builtin("spec-incident").expect("builtin scenario");
                let o = Orchestrator::builder(sim.platform(), sim.metrics())
                    .clock(sim.clock())
                    .build()
                    .expect("orchestrator");
                let req = request(sim.target());
                let t0 = Instant::now();
                let r = o.run(req).await;
                total += t0.elapsed();
                assert_eq!(r.outcome, Outcome::RolledBack);
            }
            total
        })
    });
}

/// A policy on a millisecond scale (metrics at a 10 ms step, a 40 ms health watch, no clean-up
/// delay), so that the 10 ms calls dominate the run.
fn quick_policy() -> Policy {
    let mut p = Policy::default();
    p.detection.window = Duration::from_millis(300);
    p.detection.evaluation = Duration::from_millis(100);
    p.detection.step = Duration::from_millis(10);
    p.health.interval = Duration::from_millis(20);
    p.health.duration = Duration::from_millis(40);
    p.health.consecutive = 2;
    p.cleanup_delay = Duration::ZERO;
    // A 20 ms sample holds about one request: turn the low-traffic guard off.
    p.sla.production.min_requests = 0;
    p
}

/// Runs `n` rollbacks at once (each on its own target copy) with 10 ms per backend call and
/// returns the wall time.
async fn concurrent(n: usize) -> Duration {
    let scenario = rollback::sim::Scenario::builtin("spec-incident").expect("builtin scenario");
    let sim = Simulation::new(scenario.clone(), scenario.clock());
    let mut targets = vec![sim.target()];
    for i in 1..n {
        targets.push(
            sim.add_target_copy(&format!("api-service-{i}"))
                .expect("copy"),
        );
    }
    sim.set_call_latency(Duration::from_millis(10));
    let o = Orchestrator::builder(sim.platform(), sim.metrics())
        .clock(sim.clock())
        .policy(quick_policy())
        .build()
        .expect("orchestrator");
    let t0 = Instant::now();
    let runs: Vec<_> = targets.into_iter().map(|t| o.start(request(t))).collect();
    for run in runs {
        let r = run.report().await.expect("run");
        if r.outcome != Outcome::RolledBack {
            for st in &r.stages {
                eprintln!(
                    "{:?}: {:?}",
                    st.stage,
                    st.lines.iter().map(|l| &l.text).collect::<Vec<_>>()
                );
            }
            panic!("{}", r.summary);
        }
    }
    t0.elapsed()
}

fn thousand_targets(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let alone = rt.block_on(async {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            best = best.min(concurrent(1).await);
        }
        best
    });
    let mut runs: Vec<Duration> = (0..5).map(|_| rt.block_on(concurrent(1000))).collect();
    runs.sort();
    let all = runs[2];
    println!(
        "concurrency: one rollback alone {:.1} ms (best of 5: the lower bound); 1,000 at once {:.1} ms (median of 5); ratio {:.2}x",
        alone.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e3,
        all.as_secs_f64() / alone.as_secs_f64()
    );
    let mut g = c.benchmark_group("concurrent");
    g.sample_size(10);
    g.bench_function("1000_targets_10ms_calls", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += concurrent(1000).await;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, one_rollback, thousand_targets);
criterion_main!(benches);
