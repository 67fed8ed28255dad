//! [`LogTemplateAnalyzer`]: log templates that are new in, or sharply more frequent in, the
//! failing release than in the baseline.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use regex::Regex;
use rollback_core::{Analyzer, Error, Finding, FindingKind, Incident, LogLine, Result};
use rustc_hash::FxHashMap;

use crate::common::{baseline_name, clip, level_regex, thousands, Level};
use crate::entries::{EntryAssembler, LogEntry};
use crate::logparse::{ClusterId, ConfigError, Parser, ParserConfig};

const NAME: &str = "log-templates";

/// Mines the log templates of the failing release and of the baseline with one
/// [`logparse::Parser`](crate::logparse::Parser) and reports the templates that are new in the
/// failing release, or whose share of the log rose by at least [`ratio`](Self::ratio) times
/// (the baseline count is floored at one line, so a template seen once in the baseline needs a
/// real surge). Each finding carries the counts and example entries (with their stack traces).
///
/// Multi-line entries count once, by their first line. The analysis streams over the lines:
/// memory is bounded by the parser's `max_clusters` and a few examples per template.
///
/// ```
/// use rollback_rca::LogTemplateAnalyzer;
/// use rollback_rca::logparse::ParserConfig;
/// let analyzer = LogTemplateAnalyzer::new(
///     ParserConfig::new().format("<Date> <Time> <Level> <Component>: <Content>"),
/// )?
/// .min_count(5)
/// .ratio(10.0);
/// # let _ = analyzer;
/// # Ok::<(), rollback_rca::logparse::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LogTemplateAnalyzer {
    config: ParserConfig,
    min_count: u64,
    ratio: f64,
    max_findings: usize,
}

impl Default for LogTemplateAnalyzer {
    fn default() -> Self {
        LogTemplateAnalyzer {
            config: default_config(),
            min_count: 3,
            ratio: 5.0,
            max_findings: 12,
        }
    }
}

/// The parser settings [`LogTemplateAnalyzer::default`] uses: no header format (the whole line
/// is mined; timestamps are parameters anyway) and masks for request ids, UUIDs and hex ids.
pub fn default_config() -> ParserConfig {
    ParserConfig::new()
        .mask(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
        .mask(r"\b(?:req|trace|span|sid)_?[0-9a-fA-F]{6,}\b")
        .mask(r"\b[0-9a-fA-F]{16,}\b")
        .max_clusters(5000)
}

impl LogTemplateAnalyzer {
    /// An analyzer mining with `config` (checked here: a bad format or mask is an error).
    pub fn new(config: ParserConfig) -> std::result::Result<Self, ConfigError> {
        Parser::new(config.clone())?;
        Ok(LogTemplateAnalyzer {
            config,
            ..Self::default()
        })
    }

    /// Fewest lines a new template needs in the failing release to be reported (default 3).
    pub fn min_count(mut self, n: u64) -> Self {
        self.min_count = n.max(1);
        self
    }

    /// Rise of a template's share of the log, failing over baseline, that counts as sharp
    /// (default 5).
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = if ratio.is_finite() {
            ratio.max(1.0)
        } else {
            5.0
        };
        self
    }

    /// Most findings reported (default 12), the strongest first.
    pub fn max_findings(mut self, n: usize) -> Self {
        self.max_findings = n;
        self
    }
}

#[derive(Default)]
struct Counts {
    failed: u64,
    baseline: u64,
    level: Option<Level>,
    first: Option<DateTime<Utc>>,
    examples: Vec<String>,
}

struct Miner<'a> {
    parser: Parser,
    counts: FxHashMap<ClusterId, Counts>,
    level_re: &'a Regex,
    max_clusters: usize,
}

impl Miner<'_> {
    fn feed(&mut self, logs: &[LogLine], failed: bool) -> u64 {
        let mut n = 0u64;
        let mut asm = EntryAssembler::new();
        let mut take = |e: LogEntry, m: &mut Self| {
            n += 1;
            let id = m.parser.add(e.head());
            let c = m.counts.entry(id).or_default();
            let level = Level::of(m.level_re, e.head());
            c.level = c.level.max(Some(level));
            if failed {
                c.failed += 1;
                if c.first.is_none() {
                    c.first = e.at;
                }
                if c.examples.len() < 2 {
                    c.examples.push(e.excerpt(8));
                }
            } else {
                c.baseline += 1;
            }
            if m.counts.len() > 4 * m.max_clusters {
                m.compact();
            }
        };
        for l in logs {
            let mut done = Vec::new();
            asm.push(l, |e| done.push(e));
            for e in done {
                take(e, self);
            }
        }
        let mut done = Vec::new();
        asm.finish(|e| done.push(e));
        for e in done {
            take(e, self);
        }
        n
    }

    /// Folds counts of merged clusters into their representative and drops forgotten ones.
    fn compact(&mut self) {
        let mut out: FxHashMap<ClusterId, Counts> = FxHashMap::default();
        for (id, c) in self.counts.drain() {
            let Some(rep) = self.parser.resolve(id) else {
                continue;
            };
            let e = out.entry(rep).or_default();
            e.failed += c.failed;
            e.baseline += c.baseline;
            e.level = e.level.max(c.level);
            e.first = match (e.first, c.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for x in c.examples {
                if e.examples.len() < 2 {
                    e.examples.push(x);
                }
            }
        }
        self.counts = out;
    }
}

#[async_trait]
impl Analyzer for LogTemplateAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let parser = Parser::new(self.config.clone())
            .map_err(|e| Error::invalid_input(format!("log template analyzer settings: {e}")))?;
        let level_re = level_regex();
        let mut miner = Miner {
            parser,
            counts: FxHashMap::default(),
            level_re: &level_re,
            max_clusters: 5000,
        };
        let has_baseline = !incident.baseline_evidence.logs.is_empty();
        let total_b = miner.feed(&incident.baseline_evidence.logs, false);
        let total_f = miner.feed(&incident.failed_evidence.logs, true);
        miner.compact();
        let version = &incident.failed.version;
        let base = baseline_name(incident);
        let mut scored: Vec<(f64, Finding)> = Vec::new();
        for (id, c) in &miner.counts {
            if c.failed < self.min_count {
                continue;
            }
            let level = c.level.unwrap_or(Level::Other);
            let share_f = c.failed as f64 / total_f.max(1) as f64;
            let share_b = (c.baseline.max(1)) as f64 / total_b.max(1) as f64;
            let ratio = share_f / share_b;
            let new = c.baseline == 0;
            let interesting = if has_baseline {
                (new && (level >= Level::Info || c.failed >= 10 * self.min_count))
                    || (!new && ratio >= self.ratio && c.failed >= 10)
            } else {
                level >= Level::Warn
            };
            if !interesting {
                continue;
            }
            let template = miner.parser.template(*id).unwrap_or_default();
            // A leading timestamp parameter says nothing.
            let template = template
                .strip_prefix("<*> ")
                .unwrap_or(&template)
                .to_string();
            let title = if new || !has_baseline {
                format!("New log message: {}", clip(&template, 110))
            } else {
                format!("Log message up {ratio:.0}×: {}", clip(&template, 100))
            };
            let summary = if !has_baseline {
                format!(
                    "`{template}` appeared {} times in {version}",
                    thousands(c.failed)
                )
            } else if new {
                format!(
                    "`{template}` appeared {} times in {version} and never in {base}",
                    thousands(c.failed)
                )
            } else {
                format!(
                    "`{template}` rose from {} lines in {base} to {} in {version} ({ratio:.0}× its share of the log)",
                    thousands(c.baseline),
                    thousands(c.failed)
                )
            };
            let mut f = Finding::new(
                NAME,
                FindingKind::Symptom,
                level.severity().min(rollback_core::Severity::High),
                title,
                summary,
            );
            f.at = c.first;
            f.confidence = if new {
                0.7
            } else {
                (0.5 + ratio.log10() / 10.0).min(0.7)
            };
            f.evidence.push(format!(
                "{} × in {version}, {} × in {base} (template `{}`)",
                thousands(c.failed),
                thousands(c.baseline),
                template
            ));
            f.evidence.extend(c.examples.iter().cloned());
            let weight = match level {
                Level::Fatal => 5.0,
                Level::Error => 4.0,
                Level::Warn => 3.0,
                Level::Info | Level::Other => 1.5,
                Level::Debug => 1.0,
            };
            let novelty = if new { 3.0 } else { ratio.ln().max(1.0) };
            scored.push((weight * novelty * (c.failed as f64).ln_1p(), f));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored
            .into_iter()
            .take(self.max_findings)
            .map(|(_, f)| f)
            .collect())
    }
}
