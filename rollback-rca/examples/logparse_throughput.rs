//! Drives the log-template-mining benchmarks (see `benches/compare.sh`).
//!
//! ```text
//! logparse_throughput generate N FILE   write N corpus lines to FILE
//! logparse_throughput parse FILE        mine FILE, print lines/s and the template count
//! logparse_throughput stream N          mine N generated lines without storing them and check
//!                                       that the tracked clusters never exceed the bound
//! logparse_throughput accuracy N        group accuracy of both strategies on N generated lines
//!                                       against the generator's own event labels
//! ```
//! Settings shared with `drain3_throughput.py`: similarity 0.5, depth 4, 100 children,
//! 10 000 clusters, one IPv4 mask.

#[path = "../benches/corpus.rs"]
mod corpus;

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use rollback_rca::logparse::{group_accuracy, Parser, ParserConfig, Strategy};

const SEED: u64 = 2026;
const MAX_CLUSTERS: usize = 10_000;

fn parser() -> Parser {
    parser_with(Strategy::Improved)
}

fn parser_with(strategy: Strategy) -> Parser {
    let config = ParserConfig::new()
        .strategy(strategy)
        .similarity(0.5)
        .depth(4)
        .max_children(100)
        .max_clusters(MAX_CLUSTERS)
        .mask(r"(\d+\.){3}\d+");
    match Parser::new(config) {
        Ok(p) => p,
        Err(e) => panic!("benchmark settings are valid: {e}"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    match argv.as_slice() {
        ["generate", n, file] => {
            let Ok(n) = n.parse::<u64>() else {
                eprintln!("N must be a whole number of lines, got {n:?}");
                return ExitCode::from(2);
            };
            let f = match std::fs::File::create(file) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("cannot create {file}: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut w = BufWriter::new(f);
            let mut c = corpus::Corpus::new(SEED);
            let mut line = String::new();
            for _ in 0..n {
                c.next_line(&mut line);
                if writeln!(w, "{line}").is_err() {
                    eprintln!("cannot write {file}");
                    return ExitCode::from(2);
                }
            }
            if w.flush().is_err() {
                eprintln!("cannot write {file}");
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        ["parse", file] => {
            let f = match std::fs::File::open(file) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("cannot open {file}: {e}");
                    return ExitCode::from(2);
                }
            };
            let lines: Vec<String> = std::io::BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .collect();
            let mut p = parser();
            let start = Instant::now();
            for l in &lines {
                p.add(l);
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "rust lines={} seconds={:.3} lines_per_sec={:.0} templates={}",
                lines.len(),
                secs,
                lines.len() as f64 / secs,
                p.templates().len()
            );
            ExitCode::SUCCESS
        }
        ["stream", n] => {
            let Ok(n) = n.parse::<u64>() else {
                eprintln!("N must be a whole number of lines, got {n:?}");
                return ExitCode::from(2);
            };
            let mut p = parser();
            let mut c = corpus::Corpus::new(SEED);
            let mut line = String::new();
            let mut peak = 0;
            let start = Instant::now();
            for _ in 0..n {
                c.next_line(&mut line);
                p.add(&line);
                peak = peak.max(p.tracked_clusters());
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "stream lines={n} seconds={secs:.1} lines_per_sec={:.0} peak_tracked_clusters={peak} bound={MAX_CLUSTERS} templates={}",
                n as f64 / secs,
                p.templates().len()
            );
            if peak > MAX_CLUSTERS {
                eprintln!("tracked clusters reached {peak}, above the bound {MAX_CLUSTERS}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        ["accuracy", n] => {
            let Ok(n) = n.parse::<u64>() else {
                eprintln!("N must be a whole number of lines, got {n:?}");
                return ExitCode::from(2);
            };
            for (name, strategy) in [("improved", Strategy::Improved), ("drain", Strategy::Drain)] {
                let mut p = parser_with(strategy);
                let mut c = corpus::Corpus::new(SEED);
                let mut line = String::new();
                let mut truth = Vec::new();
                let mut ids = Vec::new();
                for _ in 0..n {
                    truth.push(c.next_line(&mut line));
                    ids.push(p.add(&line));
                }
                let parsed: Vec<u64> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| p.resolve(*id).map_or(u64::MAX - i as u64, |c| c.get()))
                    .collect();
                match group_accuracy(&truth, &parsed) {
                    Ok(acc) => println!(
                        "{name} lines={n} group_accuracy={acc:.4} templates={}",
                        p.templates().len()
                    ),
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: logparse_throughput generate N FILE | parse FILE | stream N | accuracy N"
            );
            ExitCode::from(2)
        }
    }
}
