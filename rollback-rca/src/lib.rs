//! Root-cause analysis for the `rollback` library: the report an SRE would write in the first
//! ten minutes — when it started, what broke, where in the code, with what evidence, what to fix.
//!
//! When a release fails, its logs usually say why — buried under thousands of lines that differ
//! only in ids, timestamps and addresses. The analyzers here read an
//! [`Incident`](rollback_core::Incident) (metrics, logs and events of the failed release and of
//! the baseline, the two releases' attributes) and return [`Finding`](rollback_core::Finding)s:
//!
//! | analyzer | finds |
//! | --- | --- |
//! | [`LogTemplateAnalyzer`] | log templates new in, or sharply more frequent in, the failed release ([`logparse`]) |
//! | [`StackTraceAnalyzer`] | stack traces (JS/TS, Java, Python, Go, Rust, .NET) grouped by exception and message, located at their first application frame ([`stacktrace`]) |
//! | [`SignatureAnalyzer`] | failure signatures with evidence and a fix: memory leak, OOM kills, N+1 queries, pool exhaustion, unhandled rejections / uncaught exceptions, crash loops, dependency failures, configuration errors at start-up, latency regressions without errors, CPU saturation |
//! | [`ReleaseDiffAnalyzer`] | image, environment variable *names*, resources and configuration that changed |
//!
//! [`rank_and_merge`] merges findings about one code location and ranks causes first;
//! [`RootCauseAnalyzer`] runs [`default_analyzers`] and does that for you. [`render_markdown`],
//! [`render_json`] and [`render_html`] (self-contained, inline SVG charts drawn by `plotters`)
//! write the report.
//!
//! ```no_run
//! use std::sync::Arc;
//! use rollback_core::sim::Simulation;
//! use rollback_core::{Orchestrator, RollbackRequest};
//! use rollback_rca::RootCauseAnalyzer;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> rollback_core::Result<()> {
//! let sim = Simulation::builtin("spec-incident")?;
//! let report = Orchestrator::builder(sim.platform(), sim.metrics())
//!     .clock(sim.clock())
//!     .analyzer(Arc::new(RootCauseAnalyzer::default()))
//!     .build()?
//!     .run(RollbackRequest::new(sim.target()).reason("High error rate"))
//!     .await;
//! for f in report.root_cause.iter().flat_map(|rc| &rc.findings) {
//!     println!("{} {:?}", f.title, f.location);
//! }
//! # Ok(()) }
//! ```
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`logparse`] | an online, bounded-memory Drain-style log template miner, the Loghub log-format syntax and the Loghub group-accuracy metric |
//! | [`entries`] | multi-line log entries (a line and its stack trace), per instance, in one pass |
//! | [`stacktrace`] | stack-trace frames, exceptions, application frames and repository-relative paths |
//!
//! The `cli` feature (on by default) builds the `loghub_eval` command, which scores the parser on
//! datasets in the Loghub layout (see `BENCHMARKS.md` at the repository root).
//!
//! ```
//! use rollback_rca::logparse::{Parser, ParserConfig};
//!
//! let config = ParserConfig::new()
//!     .format("<Date> <Time> <Level> <Component>: <Content>")
//!     .mask(r"blk_-?\d+");
//! let mut parser = Parser::new(config)?;
//! let a = parser.add("081109 203615 INFO dfs.DataNode: Deleting block blk_38865 file /data/1");
//! let b = parser.add("081109 203807 INFO dfs.DataNode: Deleting block blk_-6952 file /data/7");
//! assert_eq!(parser.resolve(a), parser.resolve(b));
//! assert_eq!(parser.template(b).as_deref(), Some("Deleting block <*> file <*>"));
//! # Ok::<(), rollback_rca::logparse::ConfigError>(())
//! ```
#![warn(missing_docs)]

mod common;
pub mod entries;
pub mod logparse;
mod ranking;
mod release_diff;
mod report;
mod signatures;
mod stack_analyzer;
pub mod stacktrace;
mod template_analyzer;

pub use ranking::{default_analyzers, rank_and_merge, RootCauseAnalyzer};
pub use release_diff::ReleaseDiffAnalyzer;
pub use report::{render_html, render_json, render_markdown, RcaReport};
pub use signatures::SignatureAnalyzer;
pub use stack_analyzer::StackTraceAnalyzer;
pub use template_analyzer::{default_config as default_template_config, LogTemplateAnalyzer};
