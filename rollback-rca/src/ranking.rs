//! Ranking and merging findings of several analyzers, and the default analyzer set.

use std::sync::Arc;

use async_trait::async_trait;
use rollback_core::{Analyzer, Finding, FindingKind, Incident, Result};

use crate::{LogTemplateAnalyzer, ReleaseDiffAnalyzer, SignatureAnalyzer, StackTraceAnalyzer};

/// Most evidence lines a merged finding keeps.
const MAX_EVIDENCE: usize = 16;

fn kind_rank(k: FindingKind) -> u8 {
    match k {
        FindingKind::Cause => 0,
        FindingKind::Symptom => 1,
        FindingKind::Change => 2,
        _ => 3,
    }
}

fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    kind_rank(a.kind)
        .cmp(&kind_rank(b.kind))
        .then(b.severity.cmp(&a.severity))
        .then(b.recommendation.is_some().cmp(&a.recommendation.is_some()))
        .then(b.confidence.total_cmp(&a.confidence))
        .then_with(|| a.title.cmp(&b.title))
}

/// Merges findings that name the same code location (`file:line`) and ranks the result.
///
/// * Merging: of findings at one location, the best ranked one is kept; it takes the highest
///   severity and confidence of the group (+0.05 per other analyzer that agrees, at most 0.99),
///   the earliest time, the evidence of all (de-duplicated, at most 16 lines) and, when it has
///   none, the first impact and recommendation of the others. Its summary notes the other
///   analyzers' titles. A merged finding is a cause if any of its parts is.
/// * Duplicates (same title, same location) are dropped.
/// * Ranking: causes first, then symptoms, changes and timeline points; within each, severity,
///   then findings with a recommendation (the actionable explanation of a location wins over a
///   bare stack trace), then confidence. (Timeline points are for the timeline, not the ranking.)
///
/// ```
/// use rollback_core::{Finding, FindingKind, Severity, SourceLocation};
/// use rollback_rca::rank_and_merge;
///
/// let at = SourceLocation { file: "src/a.ts".into(), line: 3, column: None, function: None };
/// let mut a = Finding::new("stack-traces", FindingKind::Cause, Severity::High, "TypeError at src/a.ts:3", "…");
/// a.location = Some(at.clone());
/// let mut b = Finding::new("failure-signatures", FindingKind::Cause, Severity::Critical, "Uncaught exception", "…");
/// b.location = Some(at);
/// let ranked = rank_and_merge(vec![a, b]);
/// assert_eq!(ranked.len(), 1);
/// assert_eq!(ranked[0].title, "Uncaught exception");
/// ```
pub fn rank_and_merge(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(order);
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        let same_place = |o: &Finding| match (&o.location, &f.location) {
            (Some(a), Some(b)) => a.file == b.file && a.line == b.line,
            _ => false,
        };
        if let Some(o) = out.iter_mut().find(|o| same_place(o)) {
            merge_into(o, f);
            continue;
        }
        if out
            .iter()
            .any(|o| o.title == f.title && o.location == f.location && o.kind == f.kind)
        {
            continue;
        }
        out.push(f);
    }
    out.sort_by(order);
    out
}

fn merge_into(o: &mut Finding, f: Finding) {
    if f.kind == FindingKind::Cause {
        o.kind = FindingKind::Cause;
    }
    o.severity = o.severity.max(f.severity);
    let agree = if f.analyzer != o.analyzer { 0.05 } else { 0.0 };
    o.confidence = (o.confidence.max(f.confidence) + agree).min(0.99);
    o.at = match (o.at, f.at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if o.location.as_ref().is_some_and(|l| l.function.is_none()) {
        if let (Some(l), Some(fl)) = (o.location.as_mut(), f.location.as_ref()) {
            l.function.clone_from(&fl.function);
            l.column = l.column.or(fl.column);
        }
    }
    if o.impact.is_none() {
        o.impact = f.impact;
    }
    if o.recommendation.is_none() {
        o.recommendation = f.recommendation;
    }
    let note = format!("{} also found: {}", f.analyzer, f.title);
    if !o.summary.contains(&note) && o.title != f.title {
        o.summary = format!("{} ({note}.)", o.summary.trim_end());
    }
    for e in f.evidence {
        if o.evidence.len() >= MAX_EVIDENCE {
            break;
        }
        if !o.evidence.contains(&e) {
            o.evidence.push(e);
        }
    }
}

/// The analyzers of this crate with their default settings: log templates, stack traces,
/// failure signatures and the release diff. (The orchestrator always runs the core's metric
/// timeline analyzer too.)
pub fn default_analyzers() -> Vec<Arc<dyn Analyzer>> {
    vec![
        Arc::new(LogTemplateAnalyzer::default()),
        Arc::new(StackTraceAnalyzer::default()),
        Arc::new(SignatureAnalyzer::default()),
        Arc::new(ReleaseDiffAnalyzer::default()),
    ]
}

/// One analyzer that runs several (by default [`default_analyzers`]) and returns their findings
/// merged and ranked with [`rank_and_merge`].
///
/// Register it instead of the individual analyzers while the orchestrator ranks without
/// merging: findings of several analyzers about one code location then arrive as one.
/// An analyzer that fails is skipped; its error is reported only if all fail.
///
/// ```
/// use std::sync::Arc;
/// use rollback_core::sim::Simulation;
/// use rollback_core::Orchestrator;
/// use rollback_rca::RootCauseAnalyzer;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> rollback_core::Result<()> {
/// let sim = Simulation::builtin("spec-incident")?;
/// let orchestrator = Orchestrator::builder(sim.platform(), sim.metrics())
///     .clock(sim.clock())
///     .analyzer(Arc::new(RootCauseAnalyzer::default()))
///     .build()?;
/// # let _ = orchestrator; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RootCauseAnalyzer {
    analyzers: Vec<Arc<dyn Analyzer>>,
}

impl std::fmt::Debug for RootCauseAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.analyzers.iter().map(|a| a.name()))
            .finish()
    }
}

impl Default for RootCauseAnalyzer {
    fn default() -> Self {
        Self::new(default_analyzers())
    }
}

impl RootCauseAnalyzer {
    /// Runs `analyzers` (concurrently) and merges their findings.
    pub fn new(analyzers: Vec<Arc<dyn Analyzer>>) -> Self {
        RootCauseAnalyzer { analyzers }
    }
}

#[async_trait]
impl Analyzer for RootCauseAnalyzer {
    fn name(&self) -> &str {
        "root-cause"
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let results =
            futures::future::join_all(self.analyzers.iter().map(|a| a.analyze(incident))).await;
        let mut all = Vec::new();
        let mut last_err = None;
        let mut ok = 0usize;
        for r in results {
            match r {
                Ok(f) => {
                    ok += 1;
                    all.extend(f);
                }
                Err(e) => last_err = Some(e),
            }
        }
        match (ok, last_err) {
            (0, Some(e)) => Err(e),
            _ => Ok(rank_and_merge(all)),
        }
    }
}
