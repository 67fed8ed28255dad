//! [`StackTraceAnalyzer`]: stack traces grouped by exception and message, located at their first
//! application frame, ranked by how much more often they occur in the failing release.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rollback_core::{
    Analyzer, Finding, FindingKind, Incident, LogLine, Result, Severity, SourceLocation,
};
use rustc_hash::FxHashMap;

use crate::common::{baseline_name, clip, thousands};
use crate::entries::for_each_entry;
use crate::stacktrace::{message_template, PathRules, StackTrace, TraceParser};

const NAME: &str = "stack-traces";
/// Distinct (exception, message) groups kept; further new groups are counted as "other".
const MAX_GROUPS: usize = 2000;

/// Parses the stack traces in the logs of both releases (JavaScript/TypeScript, Java, Python,
/// Go, Rust, .NET; see [`TraceParser`]), groups them by exception type and message template,
/// and reports each group that occurs in the failing release and not (or far less) in the
/// baseline, located at its most frequent first application frame.
///
/// ```
/// use rollback_rca::StackTraceAnalyzer;
/// use rollback_rca::stacktrace::PathRules;
/// let analyzer = StackTraceAnalyzer::new(
///     PathRules::new().strip_prefixes(["/srv/checkout/"]).library_function("com.acme.framework."),
/// );
/// # let _ = analyzer;
/// ```
#[derive(Debug, Clone, Default)]
pub struct StackTraceAnalyzer {
    parser: TraceParser,
}

impl StackTraceAnalyzer {
    /// An analyzer with `rules` for library frames and repository-relative paths.
    pub fn new(rules: PathRules) -> Self {
        StackTraceAnalyzer {
            parser: TraceParser::with_rules(rules),
        }
    }
}

#[derive(Default)]
struct Group {
    exception: Option<String>,
    message: Option<String>,
    failed: u64,
    baseline: u64,
    locations: FxHashMap<SourceLocation, (u64, u64)>,
    first: Option<DateTime<Utc>>,
    example: Option<String>,
}

fn location_key(t: &StackTrace) -> Option<SourceLocation> {
    t.application_frame().map(|f| {
        let mut l = f.location();
        l.column = None;
        l
    })
}

fn scan(
    parser: &TraceParser,
    logs: &[LogLine],
    failed: bool,
    groups: &mut FxHashMap<(String, String), Group>,
) -> u64 {
    let mut entries = 0u64;
    for_each_entry(logs, |e| {
        entries += 1;
        let Some(t) = parser.parse(&e.lines) else {
            return;
        };
        let key = (
            t.exception.clone().unwrap_or_default(),
            message_template(t.message.as_deref().unwrap_or("")),
        );
        if !groups.contains_key(&key) && groups.len() >= MAX_GROUPS {
            return;
        }
        let g = groups.entry(key).or_default();
        if g.exception.is_none() {
            g.exception = t.exception.clone();
            g.message = t.message.clone();
        }
        let loc = location_key(&t);
        if failed {
            g.failed += 1;
            if g.first.is_none() {
                g.first = e.at;
            }
            if g.example.is_none() {
                g.example = Some(e.excerpt(12));
            }
        } else {
            g.baseline += 1;
        }
        if let Some(l) = loc {
            if g.locations.len() < 64 || g.locations.contains_key(&l) {
                let c = g.locations.entry(l).or_default();
                if failed {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
    });
    entries
}

#[async_trait]
impl Analyzer for StackTraceAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let mut groups: FxHashMap<(String, String), Group> = FxHashMap::default();
        let total_b = scan(
            &self.parser,
            &incident.baseline_evidence.logs,
            false,
            &mut groups,
        );
        let total_f = scan(
            &self.parser,
            &incident.failed_evidence.logs,
            true,
            &mut groups,
        );
        let version = &incident.failed.version;
        let base = baseline_name(incident);
        let mut out: Vec<(f64, Finding)> = Vec::new();
        for g in groups.values() {
            if g.failed == 0 {
                continue;
            }
            let share_f = g.failed as f64 / total_f.max(1) as f64;
            let share_b = g.baseline.max(1) as f64 / total_b.max(1) as f64;
            let ratio = share_f / share_b;
            let new = g.baseline == 0;
            if !new && ratio < 3.0 {
                continue;
            }
            // Locations ranked by occurrences in the failing release beyond the baseline's.
            let mut locs: Vec<(&SourceLocation, u64, u64)> = g
                .locations
                .iter()
                .map(|(l, (f, b))| (l, *f, *b))
                .filter(|(_, f, _)| *f > 0)
                .collect();
            locs.sort_by(|a, b| {
                (b.1.saturating_sub(b.2))
                    .cmp(&a.1.saturating_sub(a.2))
                    .then_with(|| a.0.cmp(b.0))
            });
            let headline = match (&g.exception, &g.message) {
                (Some(t), Some(m)) if !m.is_empty() => format!("{t}: {m}"),
                (Some(t), _) => t.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => "stack trace".into(),
            };
            let top = locs.first().map(|(l, _, _)| (*l).clone());
            let title = match &top {
                Some(l) => format!("{} at {l}", clip(&headline, 90)),
                None => format!("{} (no application frame)", clip(&headline, 90)),
            };
            let summary = format!(
                "{} stack traces `{}` in {version}{}",
                thousands(g.failed),
                clip(&headline, 160),
                if new {
                    format!(", none in {base}")
                } else {
                    format!(
                        " vs {} in {base} ({ratio:.0}× its share)",
                        thousands(g.baseline)
                    )
                }
            );
            let severity = if g.exception.is_some() {
                Severity::High
            } else {
                Severity::Medium
            };
            let kind = if top.is_some() {
                FindingKind::Cause
            } else {
                FindingKind::Symptom
            };
            let mut f = Finding::new(NAME, kind, severity, title, summary);
            f.location = top;
            f.at = g.first;
            f.confidence =
                (0.55_f64 + if new { 0.15 } else { 0.0 } + if g.failed >= 10 { 0.1 } else { 0.0 })
                    .min(0.8);
            f.evidence.push(format!(
                "{} × in {version}, {} × in {base}",
                thousands(g.failed),
                thousands(g.baseline)
            ));
            if locs.len() > 1 {
                f.evidence.push(format!(
                    "first application frames: {}",
                    locs.iter()
                        .take(5)
                        .map(|(l, n, _)| format!("{l} ({n})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(x) = &g.example {
                f.evidence.push(x.clone());
            }
            let score = (g.failed.saturating_sub(g.baseline) as f64 + 1.0).ln()
                * if g.exception.is_some() { 2.0 } else { 1.0 };
            out.push((score, f));
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(out.into_iter().take(20).map(|(_, f)| f).collect())
    }
}
