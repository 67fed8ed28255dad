//! Online log template mining: a Drain-style parser with bounded memory.
//!
//! A [`Parser`] reads log lines one at a time and groups them by *template*, the message with its
//! parameters (ids, numbers, addresses, paths, user names…) replaced by `<*>`:
//!
//! 1. a [`LogFormat`] in the Loghub syntax cuts the header (`<Date> <Time> <Level> …`) off and
//!    keeps `<Content>`;
//! 2. masking regexes replace known parameter shapes with `<*>`;
//! 3. Drain's fixed-depth prefix tree (token count, then the first `depth - 2` tokens) picks
//!    candidate clusters, and the most similar one at or above the similarity threshold takes
//!    the message; otherwise a new cluster starts. Positions where a cluster's messages differ
//!    become `<*>`.
//!
//! [`Strategy::Improved`] (the default) adds what Drain lacks:
//!
//! * tokens with digits, paths, URLs and empty bracket pairs are parameters from the start
//!   (`uid=0` keeps its key: `uid=<*>`), and a run of parameters counts as one, so an id list of
//!   any length yields one shape;
//! * a template with fewer than four constants only takes messages that agree on all of them
//!   (`Connection closed` ≠ `Connection reset`), and no match may change more than half of a
//!   template's constants;
//! * clusters whose templates agree once parameter runs are collapsed merge, across token
//!   counts (a parameter with spaces in it);
//! * when otherwise identical templates take three or more values at one position, that
//!   position becomes a parameter and they merge; later values join directly.
//!
//! Merges are recorded, so ids handed out earlier still [`resolve`](Parser::resolve). Memory is
//! bounded by `max_clusters` (least recently used clusters are forgotten first) and the number
//! of examples kept per cluster.
//!
//! [`group_accuracy`] scores a parse against labels the way the Loghub benchmark does.

mod accuracy;
mod config;
mod format;
mod parser;
mod tokenize;
mod tree;

pub use accuracy::{group_accuracy, AccuracyError};
pub use config::{ConfigError, ParserConfig, Strategy};
pub use format::LogFormat;
pub use parser::{ClusterId, ClusterSummary, Parser};
pub use tokenize::WILDCARD;
