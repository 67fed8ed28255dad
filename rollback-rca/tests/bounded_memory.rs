//! The parser's memory stays bounded on an endless stream: tracked clusters never exceed
//! `max_clusters`, however many new templates keep arriving.

#[path = "../benches/corpus.rs"]
mod corpus;

use rollback_rca::logparse::{Parser, ParserConfig};

fn stream(lines: u64, max_clusters: usize) {
    let mut p = Parser::new(
        ParserConfig::new()
            .max_clusters(max_clusters)
            .mask(r"(\d+\.){3}\d+"),
    )
    .unwrap();
    let mut c = corpus::Corpus::new(2026);
    let mut line = String::new();
    let mut peak = 0;
    for _ in 0..lines {
        c.next_line(&mut line);
        p.add(&line);
        peak = peak.max(p.tracked_clusters());
    }
    assert!(peak <= max_clusters, "peak {peak} > bound {max_clusters}");
    assert_eq!(peak, max_clusters, "the stream should reach the bound and evict");
    assert_eq!(p.lines(), lines);
    assert!(p.templates().len() <= max_clusters);
}

#[test]
fn streamed_lines_keep_clusters_within_the_bound() {
    stream(200_000, 500);
}

/// `cargo test --release -p rollback-rca --test bounded_memory -- --ignored` (about a minute).
#[test]
#[ignore = "10 million lines: run in release with --ignored"]
fn ten_million_streamed_lines_keep_clusters_within_the_bound() {
    stream(10_000_000, 10_000);
}
