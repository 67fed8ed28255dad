//! Root-cause analysis building blocks for the `rollback` library.
//!
//! When a release fails, its logs usually say why — buried under thousands of lines that differ
//! only in ids, timestamps and addresses. This crate turns such a log stream into a short list of
//! *templates* (`Deleting block <*> file <*>`) with counts and example lines, so an analyzer can
//! tell which kinds of message are new or surging in the failed release.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`logparse`] | an online, bounded-memory Drain-style log template miner, the Loghub log-format syntax and the Loghub group-accuracy metric |
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
pub use report::{render_html, render_json, render_markdown};
pub use signatures::SignatureAnalyzer;
pub use stack_analyzer::StackTraceAnalyzer;
pub use template_analyzer::{default_config as default_template_config, LogTemplateAnalyzer};
