//! Parser settings and the errors a bad setting produces.

/// Which clustering the [`Parser`](super::Parser) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Drain as published (He et al., ICWS 2017) and as logparser's `Drain.py` runs it, quirks
    /// included: the baseline to compare against.
    Drain,
    /// Drain plus parameter generalisation, exact matching of short messages, merging of
    /// clusters whose templates agree once parameters are collapsed, and turning a position into
    /// a parameter once it takes several values across otherwise identical templates.
    #[default]
    Improved,
}

/// Settings of a [`Parser`](super::Parser), built with chained setters and checked by
/// [`Parser::new`](super::Parser::new).
///
/// ```
/// use rollback_rca::logparse::{ParserConfig, Strategy};
/// let config = ParserConfig::new()
///     .format(r"\[<Time>\] \[<Level>\] <Content>")
///     .mask(r"(\d+\.){3}\d+")
///     .similarity(0.5)
///     .depth(4)
///     .strategy(Strategy::Improved);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct ParserConfig {
    pub(crate) similarity: f64,
    pub(crate) depth: usize,
    pub(crate) max_children: usize,
    pub(crate) max_clusters: usize,
    pub(crate) max_examples: usize,
    pub(crate) strategy: Strategy,
    pub(crate) format: Option<String>,
    pub(crate) masks: Vec<String>,
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self {
            similarity: 0.5,
            depth: 4,
            max_children: 100,
            max_clusters: 10_000,
            max_examples: 3,
            strategy: Strategy::default(),
            format: None,
            masks: Vec::new(),
        }
    }
}

impl ParserConfig {
    /// The defaults: similarity 0.5, depth 4, 100 children, 10 000 clusters, 3 examples, the
    /// improved strategy, no header format (the whole line is the message) and no masks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Minimum share of a template's tokens a message must match to join it (Drain's `st`),
    /// between 0.0 and 1.0.
    pub fn similarity(mut self, similarity: f64) -> Self {
        self.similarity = similarity;
        self
    }

    /// Depth of the prefix tree counting the root and the token-count layer, so `depth - 2`
    /// leading tokens route a message (Drain's `depth`); at least 3.
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Maximum children of a tree node before new tokens share the wildcard child; at least 2.
    pub fn max_children(mut self, max_children: usize) -> Self {
        self.max_children = max_children;
        self
    }

    /// Maximum clusters kept in memory; past it the least recently used one is forgotten.
    /// At least 1.
    pub fn max_clusters(mut self, max_clusters: usize) -> Self {
        self.max_clusters = max_clusters;
        self
    }

    /// Example lines kept per cluster (each cut to 512 bytes).
    pub fn max_examples(mut self, max_examples: usize) -> Self {
        self.max_examples = max_examples;
        self
    }

    /// The clustering strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// A header format in the Loghub syntax (see [`LogFormat`](super::LogFormat)); only its
    /// `<Content>` is mined. Lines that do not match it are mined whole.
    pub fn format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }

    /// Adds a masking regular expression: each match in a message becomes `<*>` before
    /// tokenising. Masks apply in the order they were added.
    pub fn mask(mut self, regex: impl Into<String>) -> Self {
        self.masks.push(regex.into());
        self
    }

    /// Adds several masks, in order.
    pub fn masks<I, S>(mut self, regexes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.masks.extend(regexes.into_iter().map(Into::into));
        self
    }
}

/// A setting that [`Parser::new`](super::Parser::new) or [`LogFormat::new`](super::LogFormat::new)
/// refused, with what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Similarity outside `0.0..=1.0` (or not a number).
    #[error("similarity must be a number from 0.0 to 1.0, got {0}")]
    Similarity(f64),
    /// Depth below 3.
    #[error("depth must be at least 3 (root, token-count layer, one token layer), got {0}")]
    Depth(usize),
    /// Fewer than 2 children per node.
    #[error("max_children must be at least 2, got {0}")]
    MaxChildren(usize),
    /// Zero clusters.
    #[error("max_clusters must be at least 1, got 0")]
    MaxClusters,
    /// The log format has no `<Content>` field.
    #[error(
        "log format {0:?} has no <Content> field; name the header fields in angle brackets and \
         the message as <Content>, e.g. \"<Date> <Time> <Level> <Component>: <Content>\""
    )]
    FormatWithoutContent(String),
    /// The log format is not valid.
    #[error("log format {format:?} is not valid: {reason}")]
    Format {
        /// The format as given.
        format: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A mask is not a valid regular expression.
    #[error("mask {pattern:?} is not a valid regular expression (Rust `regex` syntax): {reason}")]
    Mask {
        /// The mask as given.
        pattern: String,
        /// The regex compiler's message.
        reason: String,
    },
}
