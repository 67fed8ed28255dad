//! Stage 8: gather the incident, run the analyzers within a budget, rank, write the report.

use std::fmt::Write as _;
use std::sync::Arc;

use futures::future::join_all;
use tokio::time::Instant;

use super::run::Run;
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::evidence::Evidence;
use crate::model::finding::{Finding, FindingKind, Incident, IncidentMetric};
use crate::model::metric::{MetricKind, Quantile, TimeRange};
use crate::platform::Platform;
use crate::report::{Mark, RootCause, StageStatus};

const RCA_METRICS: [MetricKind; 6] = [
    MetricKind::ErrorRate,
    MetricKind::Latency(Quantile::P95),
    MetricKind::CpuUtilization,
    MetricKind::MemoryUtilization,
    MetricKind::MemoryBytes,
    MetricKind::RequestRate,
];

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_rca(&mut self) {
        self.begin(Stage::RootCause);
        let Some(failed) = self.from.clone() else {
            self.end(StageStatus::Skipped);
            return;
        };
        let stable = self.to.clone();
        let now = self.now();
        let policy = self.inner.policy.clone();
        let earliest = TimeRange::ending_at(now, policy.target.history).start;
        let start = failed.deployed_at.map_or(
            TimeRange::ending_at(now, policy.detection.window).start,
            |d| d.max(earliest),
        );
        // Include a little of the time before the deploy, for the baseline.
        let window = TimeRange {
            start: start - chrono::Duration::seconds(120),
            end: now,
        };
        let step = (window.duration() / 360).max(policy.detection.step);
        let mut incident = Incident::new(self.req.target.clone(), failed.clone(), window);
        incident.stable = stable.clone();
        incident.trigger = self.report.trigger.clone();
        incident.rollback_at = self
            .report
            .stages
            .iter()
            .find(|s| s.stage == Stage::Execute)
            .map(|s| s.started_at);

        // Metrics of both releases, concurrently.
        let mut wanted = Vec::new();
        for r in std::iter::once(&failed).chain(stable.as_ref()) {
            for k in RCA_METRICS {
                wanted.push((k, r.clone()));
            }
        }
        let answers = join_all(
            wanted
                .iter()
                .map(|(k, r)| self.query(k.clone(), r, window, step)),
        )
        .await;
        for ((kind, r), (series, _)) in wanted.into_iter().zip(answers) {
            incident.metrics.push(IncidentMetric {
                kind,
                release: r.reference(),
                series,
            });
        }
        // Evidence of both releases.
        if self
            .inner
            .platform
            .capabilities_for(&self.req.target)
            .evidence
        {
            let inner = Arc::clone(&self.inner);
            let target = self.req.target.clone();
            match self
                .read("evidence", || {
                    inner.platform.evidence(&target, &failed, &window)
                })
                .await
            {
                Ok(e) => incident.failed_evidence = e,
                Err(e) => self.line(Mark::Warn, format!("evidence of {}: {e}", failed.version)),
            }
            if let Some(s) = &stable {
                match self
                    .read("evidence", || inner.platform.evidence(&target, s, &window))
                    .await
                {
                    Ok(e) => incident.baseline_evidence = e,
                    Err(e) => self.line(Mark::Warn, format!("evidence of {}: {e}", s.version)),
                }
            }
        }
        // Secrets a service wrote into its own logs must not reach reports or notifications.
        for e in [
            &mut incident.failed_evidence,
            &mut incident.baseline_evidence,
        ] {
            for l in &mut e.logs {
                l.line = crate::redact::scrub(&l.line);
            }
            for ev in &mut e.events {
                ev.message = crate::redact::scrub(&ev.message);
            }
        }
        self.line(
            Mark::Info,
            format!(
                "Analyzing {} log lines and {} events of {} against {}",
                incident.failed_evidence.logs.len(),
                incident.failed_evidence.events.len(),
                failed.version,
                stable
                    .as_ref()
                    .map_or("no baseline".to_string(), |s| s.version.to_string())
            ),
        );

        // Analyzers run concurrently and share one deadline.
        let deadline = Instant::now() + policy.rca_budget;
        let analyzers = self.inner.analyzers.clone();
        let results = join_all(analyzers.iter().map(|a| {
            let incident = &incident;
            async move {
                let r = tokio::time::timeout_at(deadline, a.analyze(incident)).await;
                (a.name().to_string(), r)
            }
        }))
        .await;
        let mut findings: Vec<Finding> = Vec::new();
        let mut errors = Vec::new();
        for (name, r) in results {
            match r {
                Ok(Ok(f)) => findings.extend(f),
                Ok(Err(e)) => errors.push((name, e.to_string())),
                Err(_) => errors.push((
                    name,
                    format!(
                        "did not finish within the {} budget",
                        humantime::format_duration(policy.rca_budget)
                    ),
                )),
            }
        }
        let reporter = Arc::clone(&self.inner.rca_reporter);
        let findings = reporter.rank(findings);
        for (name, e) in &errors {
            self.line(Mark::Warn, format!("analyzer {name}: {e}"));
        }
        let causes: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Cause)
            .collect();
        for (i, f) in causes.iter().take(5).enumerate() {
            let loc = f
                .location
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            self.line(
                Mark::Info,
                format!("{}. {}{loc} — {}", i + 1, f.title, f.severity),
            );
        }
        if causes.is_empty() {
            self.line(
                Mark::Info,
                format!("{} findings, no root cause identified", findings.len()),
            );
        }
        let files = reporter.render(&incident, &findings);
        let markdown = files.iter().find(|f| f.name == "rca.md").map_or_else(
            || render_markdown(&incident, &findings),
            |f| f.contents.clone(),
        );
        let mut rc = RootCause {
            findings,
            analyzer_errors: errors,
            markdown,
            markdown_path: None,
            json_path: None,
            files: Vec::new(),
        };
        if let Some(dir) = self.run_dir() {
            let written = async {
                tokio::fs::create_dir_all(&dir).await?;
                let mut paths = Vec::new();
                for f in &files {
                    // Reporter-chosen names stay inside the run directory.
                    let name = std::path::Path::new(&f.name)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "report".into());
                    let path = dir.join(name);
                    tokio::fs::write(&path, f.contents.as_bytes()).await?;
                    paths.push(path);
                }
                Ok::<_, std::io::Error>(paths)
            }
            .await;
            match written {
                Ok(paths) => {
                    for p in &paths {
                        let shown = p.display().to_string();
                        match p.extension().and_then(|e| e.to_str()) {
                            Some("md") => rc.markdown_path = Some(shown.clone()),
                            Some("json") => rc.json_path = Some(shown.clone()),
                            _ => {}
                        }
                        self.line(Mark::Ok, format!("RCA report: {shown}"));
                        rc.files.push(shown);
                    }
                }
                Err(e) => self.line(
                    Mark::Warn,
                    format!("could not write the RCA report to {}: {e}", dir.display()),
                ),
            }
        }
        self.failed_evidence = Some(incident.failed_evidence);
        self.report.root_cause = Some(rc);
        self.end(StageStatus::Ok);
    }

    pub(super) fn run_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.report_dir.as_ref().map(|d| d.join(&self.run_id))
    }
}

/// Sorts findings by severity and confidence and drops duplicates (same title and location).
pub fn rank(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| b.rank_score().total_cmp(&a.rank_score()));
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        if !out
            .iter()
            .any(|o| o.title == f.title && o.location == f.location)
        {
            out.push(f);
        }
    }
    out
}

/// Renders the RCA report in Markdown: failure timeline, root causes with location, issue,
/// impact and evidence, and recommended fixes.
pub fn render_markdown(incident: &Incident, findings: &[Finding]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Root Cause Analysis: {} {}",
        incident.target.deployment, incident.failed.version
    );
    let _ = writeln!(md);
    let _ = writeln!(md, "- **Environment:** {}", incident.target.environment);
    let _ = writeln!(md, "- **Failed release:** {}", incident.failed.version);
    if let Some(s) = &incident.stable {
        let _ = writeln!(md, "- **Rolled back to:** {}", s.version);
    }
    let _ = writeln!(
        md,
        "- **Window:** {} – {}",
        incident.window.start.format("%Y-%m-%d %H:%M:%S UTC"),
        incident.window.end.format("%H:%M:%S UTC")
    );
    let _ = writeln!(md);
    write_trigger(&mut md, incident);

    let mut timeline: Vec<(chrono::DateTime<chrono::Utc>, String)> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Timeline)
        .filter_map(|f| f.at.map(|at| (at, f.title.clone())))
        .collect();
    if let Some(d) = incident.failed.deployed_at {
        timeline.push((d, format!("Deployment {} started", incident.failed.version)));
    }
    if let Some(r) = incident.rollback_at {
        timeline.push((r, "Rollback initiated".into()));
    }
    timeline.extend(trigger_points(incident));
    timeline.sort();
    timeline.dedup();
    let _ = writeln!(md, "## Failure Timeline");
    let _ = writeln!(md);
    if timeline.is_empty() {
        let _ = writeln!(md, "_No timeline could be derived._");
    }
    for (at, what) in &timeline {
        let _ = writeln!(md, "- **{}** — {}", at.format("%H:%M:%S"), what);
    }
    let _ = writeln!(md);

    let causes: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Cause)
        .collect();
    let _ = writeln!(md, "## Root Causes Identified");
    let _ = writeln!(md);
    if causes.is_empty() {
        let _ = writeln!(md, "_No root cause could be identified from the evidence._");
        let _ = writeln!(md);
    }
    for (i, f) in causes.iter().enumerate() {
        let _ = writeln!(
            md,
            "### {}. {} ({}, confidence {:.0}%)",
            i + 1,
            f.title,
            f.severity,
            f.confidence * 100.0
        );
        let _ = writeln!(md);
        if let Some(l) = &f.location {
            let _ = writeln!(md, "- **Location:** `{l}`");
        }
        let _ = writeln!(md, "- **Issue:** {}", f.summary);
        if let Some(imp) = &f.impact {
            let _ = writeln!(md, "- **Impact:** {imp}");
        }
        if !f.evidence.is_empty() {
            let _ = writeln!(md, "- **Evidence:**");
            let _ = writeln!(md);
            let _ = writeln!(md, "  ```");
            for e in f.evidence.iter().take(8) {
                let _ = writeln!(md, "  {}", e.replace('\n', "\n  "));
            }
            let _ = writeln!(md, "  ```");
        }
        let _ = writeln!(md);
    }
    let others: Vec<&Finding> = findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::Symptom | FindingKind::Change))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(md, "## Other Observations");
        let _ = writeln!(md);
        for f in others {
            let _ = writeln!(md, "- **{}** ({}): {}", f.title, f.severity, f.summary);
        }
        let _ = writeln!(md);
    }
    let fixes: Vec<(&Finding, &String)> = causes
        .iter()
        .filter_map(|f| f.recommendation.as_ref().map(|r| (*f, r)))
        .collect();
    let _ = writeln!(md, "## Recommended Fixes");
    let _ = writeln!(md);
    if fixes.is_empty() {
        let _ = writeln!(md, "_None derived; see the evidence above._");
    }
    for (i, (f, r)) in fixes.iter().enumerate() {
        let loc = f
            .location
            .as_ref()
            .map(|l| format!(" (`{l}`)"))
            .unwrap_or_default();
        let _ = writeln!(md, "{}. **{}**{loc}: {r}", i + 1, f.title);
    }
    md
}

/// The `## Why It Was Rolled Back` section: the detect stage's decision and each signal behind
/// it (nothing without a trigger).
pub fn write_trigger(md: &mut String, incident: &Incident) {
    let Some(t) = &incident.trigger else { return };
    let _ = writeln!(md, "## Why It Was Rolled Back");
    let _ = writeln!(md);
    let _ = writeln!(md, "**Decision:** {}", t.decision);
    let _ = writeln!(md);
    for s in &t.signals {
        let _ = writeln!(md, "- {s}");
    }
    if !t.signals.is_empty() {
        let _ = writeln!(md);
    }
}

/// The trigger's points on the failure timeline: when its first signal went out of bounds,
/// and when the rollback was decided.
pub fn trigger_points(incident: &Incident) -> Vec<(chrono::DateTime<chrono::Utc>, String)> {
    let Some(t) = &incident.trigger else {
        return Vec::new();
    };
    let mut points = Vec::new();
    if let Some(since) = t.since {
        points.push((since, "First signal out of bounds".to_string()));
    }
    if let Some(at) = t.at {
        points.push((at, format!("Rollback decided: {}", t.decision)));
    }
    points
}

/// Evidence lines for export, one JSON object per line.
pub(crate) fn evidence_jsonl(e: &Evidence) -> String {
    let mut out = String::new();
    for l in &e.logs {
        if let Ok(s) = serde_json::to_string(l) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    for ev in &e.events {
        if let Ok(s) = serde_json::to_string(ev) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    out
}
