//! Time and AWS API calls per rollback against the moto server (`scripts/ci/moto.sh`, then
//! `source /tmp/rollback-test-moto/env.sh`). Without `ROLLBACK_TEST_MOTO` it prints a note and
//! measures nothing.
//!
//! ```text
//! cargo bench -p rollback-ecs --bench ecs_rollback
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rollback_core::{Environment, Platform, TrafficSplit};
use rollback_ecs::EcsPlatform;

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("ROLLBACK_TEST_MOTO") else {
        eprintln!("ecs_rollback: ROLLBACK_TEST_MOTO is not set; run scripts/ci/moto.sh first. Nothing measured.");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    // Full revert of a single service (UpdateService + wait for COMPLETED), alternating between
    // the two task definitions so that every iteration is a real revert.
    let (single, single_target, releases) = rt.block_on(async {
        let clients = common::clients(&url).await;
        let w = common::single_service(&clients, "bench-full").await;
        let p = EcsPlatform::new(clients, w.config(&url)).expect("platform");
        let t = p.default_target(Environment::Production).expect("target");
        let rs = p.releases(&t).await.expect("releases");
        (p, t, rs)
    });
    rt.block_on(async {
        single.clients().reset_api_calls();
        single
            .revert(&single_target, &releases[1])
            .await
            .expect("revert");
        let calls = single.clients().api_calls();
        eprintln!(
            "ecs_rollback: full revert = {} API operations ({} HTTP attempts): {:?}",
            calls.total(),
            calls.attempts,
            calls.operations
        );
        single
            .revert(&single_target, &releases[0])
            .await
            .expect("revert back");
    });
    let mut g = c.benchmark_group("ecs_rollback");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("full_revert_single_service", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    single
                        .revert(&single_target, &releases[(i as usize + 1) % 2])
                        .await
                        .expect("revert");
                }
                start.elapsed()
            })
        })
    });

    // Instant blue/green switch (one ModifyListener after reading services, listener, target
    // health), alternating between the slots.
    let (pair, pair_target, slots) = rt.block_on(async {
        let clients = common::clients(&url).await;
        let w = common::blue_green(&clients, &url, "bench-bg").await;
        let p = EcsPlatform::new(clients, w.config(&url)).expect("platform");
        let t = p.default_target(Environment::Production).expect("target");
        let rs = p.releases(&t).await.expect("releases");
        let blue = rs
            .iter()
            .find(|r| r.slot.as_deref() == Some("blue"))
            .expect("blue")
            .clone();
        let green = rs
            .iter()
            .find(|r| r.slot.as_deref() == Some("green"))
            .expect("green")
            .clone();
        (p, t, [blue, green])
    });
    rt.block_on(async {
        pair.clients().reset_api_calls();
        pair.set_traffic(&pair_target, &TrafficSplit::all_to(&slots[0]))
            .await
            .expect("switch");
        let calls = pair.clients().api_calls();
        eprintln!(
            "ecs_rollback: instant switch = {} API operations: {:?}",
            calls.total(),
            calls.operations
        );
    });
    g.bench_function("instant_switch_blue_green", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let to = &slots[(i as usize + 1) % 2];
                    pair.set_traffic(&pair_target, &TrafficSplit::all_to(to))
                        .await
                        .expect("switch");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
