//! Rollback of 100 Deployments on the in-memory API server (`kube-fake-client`): time per
//! rollback (`KubePlatform::releases` + `revert`, as the orchestrator's full strategy calls them)
//! and API calls per rollback. The simulated controller runs between rollbacks, untimed.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-shared cargo bench -p rollback-k8s --bench k8s_rollback`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{cluster, Cluster, NS};
use criterion::{criterion_group, criterion_main, Criterion};
use rollback_core::{Environment, Platform, Target};
use rollback_k8s::{KubeConfig, KubePlatform, Mode};

const DEPLOYMENTS: usize = 100;

fn target(i: usize) -> Target {
    Target::new(Environment::Staging, format!("svc-{i}")).with_namespace(NS)
}

async fn fixture() -> (Cluster, KubePlatform) {
    let c = cluster().await;
    for i in 0..DEPLOYMENTS {
        let name = format!("svc-{i}");
        c.deploy(&name, &name, "registry.local/app:v1.0.0", 2, &[])
            .await;
        c.set_image(&name, "registry.local/app:v1.1.0").await;
    }
    let p = KubePlatform::new(c.client.clone(), KubeConfig::new(Mode::Rollout)).unwrap();
    (c, p)
}

/// Rolls deployment `i` back to its previous ReplicaSet (the releases alternate) and returns
/// the time spent in platform calls.
async fn rollback_one(c: &Cluster, p: &KubePlatform, i: usize) -> Duration {
    let t = target(i);
    let start = Instant::now();
    let releases = p.releases(&t).await.unwrap();
    p.revert(&t, &releases[1]).await.unwrap();
    let spent = start.elapsed();
    c.reconcile_one(&t.deployment).await;
    spent
}

fn bench(crit: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (c, p) = rt.block_on(fixture());

    // API calls per rollback, counted by the layer in front of the fake.
    c.state.reset_counts();
    rt.block_on(async {
        for i in 0..DEPLOYMENTS {
            rollback_one(&c, &p, i).await;
        }
    });
    let (reads, writes) = (c.state.reads(), c.state.writes());
    println!(
        "api calls per rollback: {:.1} reads, {:.1} writes ({} rollbacks: {:?})",
        reads as f64 / DEPLOYMENTS as f64,
        writes as f64 / DEPLOYMENTS as f64,
        DEPLOYMENTS,
        c.state.write_breakdown()
    );

    let mut group = crit.benchmark_group("k8s_rollback");
    group.sample_size(10);
    group.bench_function("full_revert_per_rollback_of_100_deployments", |b| {
        let mut next = 0usize;
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rollback_one(&c, &p, next % DEPLOYMENTS).await;
                    next += 1;
                }
                total
            })
        })
    });
    group.bench_function("rollback_all_100_deployments_concurrently", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let plans = futures::future::join_all((0..DEPLOYMENTS).map(|i| {
                        let p = p.clone();
                        async move {
                            let t = target(i);
                            let rs = p.releases(&t).await.unwrap();
                            p.revert(&t, &rs[1]).await.unwrap();
                        }
                    }))
                    .await;
                    total += start.elapsed();
                    drop(plans);
                    for i in 0..DEPLOYMENTS {
                        c.reconcile_one(&target(i).deployment).await;
                    }
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
