//! Criterion benchmark of the log template miner on the generated corpus (`benches/corpus.rs`).
//!
//! `cargo bench -p rollback-rca --bench logparse`; `benches/compare.sh` runs the same corpus
//! through Drain3 for the ratio.

#[path = "corpus.rs"]
mod corpus;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rollback_rca::logparse::{Parser, ParserConfig, Strategy};

const LINES: usize = 200_000;

fn lines() -> Vec<String> {
    let mut c = corpus::Corpus::new(2026);
    let mut line = String::new();
    (0..LINES)
        .map(|_| {
            c.next_line(&mut line);
            line.clone()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let mut group = c.benchmark_group("logparse");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(10);
    for (name, strategy) in [("improved", Strategy::Improved), ("drain", Strategy::Drain)] {
        group.bench_function(format!("{name}_200k_lines"), |b| {
            b.iter(|| {
                let config = ParserConfig::new()
                    .similarity(0.5)
                    .depth(4)
                    .max_clusters(10_000)
                    .mask(r"(\d+\.){3}\d+")
                    .strategy(strategy);
                let Ok(mut p) = Parser::new(config) else {
                    return 0;
                };
                for l in &lines {
                    black_box(p.add(l));
                }
                p.tracked_clusters()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
