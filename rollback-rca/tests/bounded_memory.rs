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
    assert_eq!(
        peak, max_clusters,
        "the stream should reach the bound and evict"
    );
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

/// Random short messages over a tiny vocabulary make clusters merge, forward and get evicted in
/// every order; the bound and id resolution must hold throughout.
#[test]
fn merges_and_evictions_keep_every_invariant_under_churn() {
    let words = [
        "a", "b", "c", "d", "e", "f", "x1", "<*>", "[1,", "2]", "/p", "k=1",
    ];
    for max_clusters in [1, 2, 3, 5, 8, 13] {
        let mut p = Parser::new(ParserConfig::new().max_clusters(max_clusters).depth(5)).unwrap();
        let mut rng = corpus::Rng::new(max_clusters as u64);
        let mut line = String::new();
        for _ in 0..20_000 {
            line.clear();
            for k in 0..1 + rng.below(7) {
                if k > 0 {
                    line.push(' ');
                }
                line.push_str(words[rng.below(words.len() as u64) as usize]);
            }
            let id = p.add(&line);
            assert!(p.tracked_clusters() <= max_clusters);
            let rep = p.resolve(id).expect("the cluster just used is kept");
            assert_eq!(
                p.resolve(rep),
                Some(rep),
                "a representative resolves to itself"
            );
            let summary = p
                .cluster_summary(id)
                .expect("summary of the cluster just used");
            assert!(summary.count >= 1);
        }
        let templates = p.templates();
        assert!(templates.len() <= max_clusters);
        let counted: u64 = p.clusters().iter().map(|c| c.count).sum();
        assert!(counted <= p.lines());
    }
}
