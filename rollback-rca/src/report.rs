//! The RCA report: Markdown in the shape of the product spec's RCA section, JSON, and a
//! self-contained HTML page with charts (SVG drawn by `plotters`, embedded inline, no scripts).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use plotters::prelude::*;
use rollback_core::{Finding, FindingKind, Incident, MetricKind, Quantile, Sample};

use crate::common::merged;

struct TimelinePoint {
    at: DateTime<Utc>,
    what: String,
}

fn timeline(incident: &Incident, findings: &[Finding]) -> Vec<TimelinePoint> {
    let mut t: Vec<TimelinePoint> = Vec::new();
    if let Some(d) = incident.failed.deployed_at {
        t.push(TimelinePoint {
            at: d,
            what: format!("Deployment {} started", incident.failed.version),
        });
    }
    for f in findings {
        let Some(at) = f.at else { continue };
        let what = match f.kind {
            FindingKind::Timeline => f.title.clone(),
            FindingKind::Cause => format!("First sign: {}", f.title),
            _ => continue,
        };
        t.push(TimelinePoint { at, what });
    }
    if let Some(r) = incident.rollback_at {
        t.push(TimelinePoint {
            at: r,
            what: "Rollback initiated".into(),
        });
    }
    for (at, what) in rollback_core::orchestrator::trigger_points(incident) {
        t.push(TimelinePoint { at, what });
    }
    t.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.what.cmp(&b.what)));
    t.dedup_by(|a, b| a.what == b.what);
    t
}

fn causes(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.kind == FindingKind::Cause)
        .collect()
}

/// Renders the RCA report in Markdown: header, **Why It Was Rolled Back** (when the incident has
/// a trigger), **Failure Timeline**, **Root Causes Identified**
/// (each with Location, Issue, Impact, Evidence), **Other Observations**, **Changes Between
/// Releases** and **Recommended Fixes**. Findings are shown in the order given (rank them with
/// [`rank_and_merge`](crate::rank_and_merge) first).
pub fn render_markdown(incident: &Incident, findings: &[Finding]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Root Cause Analysis: {} {}\n",
        incident.target.deployment, incident.failed.version
    );
    let _ = writeln!(md, "- **Environment:** {}", incident.target.environment);
    let _ = writeln!(
        md,
        "- **Failed release:** {} ({})",
        incident.failed.version, incident.failed.revision
    );
    if let Some(s) = &incident.stable {
        let _ = writeln!(md, "- **Rolled back to:** {} ({})", s.version, s.revision);
    }
    let _ = writeln!(
        md,
        "- **Window:** {} – {}\n",
        incident.window.start.format("%Y-%m-%d %H:%M:%S UTC"),
        incident.window.end.format("%H:%M:%S UTC")
    );
    rollback_core::orchestrator::write_trigger(&mut md, incident);

    let _ = writeln!(md, "## Failure Timeline\n");
    let t = timeline(incident, findings);
    if t.is_empty() {
        let _ = writeln!(md, "_No timeline could be derived._");
    }
    for p in &t {
        let _ = writeln!(md, "- **{}** — {}", p.at.format("%H:%M:%S"), p.what);
    }
    let _ = writeln!(md);

    let causes = causes(findings);
    let _ = writeln!(md, "## Root Causes Identified\n");
    if causes.is_empty() {
        let _ = writeln!(
            md,
            "_No root cause could be identified from the evidence._\n"
        );
    }
    for (i, f) in causes.iter().enumerate() {
        let _ = writeln!(
            md,
            "### {}. {} ({}, confidence {:.0}%)\n",
            i + 1,
            f.title,
            f.severity,
            f.confidence * 100.0
        );
        if let Some(l) = &f.location {
            let func = l
                .function
                .as_deref()
                .map(|f| format!(" in `{f}`"))
                .unwrap_or_default();
            let _ = writeln!(md, "- **Location:** `{l}`{func}");
        }
        let _ = writeln!(md, "- **Issue:** {}", f.summary);
        if let Some(imp) = &f.impact {
            let _ = writeln!(md, "- **Impact:** {imp}");
        }
        if !f.evidence.is_empty() {
            let _ = writeln!(md, "- **Evidence:**\n\n  ```");
            for e in f.evidence.iter().take(10) {
                let _ = writeln!(md, "  {}", e.replace("```", "'''").replace('\n', "\n  "));
            }
            let _ = writeln!(md, "  ```");
        }
        let _ = writeln!(md);
    }
    let symptoms: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Symptom)
        .collect();
    if !symptoms.is_empty() {
        let _ = writeln!(md, "## Other Observations\n");
        for f in symptoms {
            let _ = writeln!(md, "- **{}** ({}): {}", f.title, f.severity, f.summary);
        }
        let _ = writeln!(md);
    }
    let changes: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Change)
        .collect();
    if !changes.is_empty() {
        let _ = writeln!(md, "## Changes Between Releases\n");
        for f in changes {
            let _ = writeln!(md, "- **{}** ({})", f.title, f.severity);
            for e in &f.evidence {
                let _ = writeln!(md, "  - {e}");
            }
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "## Recommended Fixes\n");
    let fixes: Vec<(&&Finding, &String)> = causes
        .iter()
        .filter_map(|f| f.recommendation.as_ref().map(|r| (f, r)))
        .collect();
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

/// The report as JSON: target, releases, window, rollback time, the timeline and the findings.
pub fn render_json(incident: &Incident, findings: &[Finding]) -> serde_json::Value {
    serde_json::json!({
        "target": incident.target,
        "failed": incident.failed.reference(),
        "stable": incident.stable.as_ref().map(|s| s.reference()),
        "window": incident.window,
        "rollback_at": incident.rollback_at,
        "trigger": incident.trigger,
        "timeline": timeline(incident, findings)
            .iter()
            .map(|p| serde_json::json!({"at": p.at, "what": p.what}))
            .collect::<Vec<_>>(),
        "findings": findings,
    })
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// One chart: a metric of both releases over minutes since the deploy, with the deploy and the
/// rollback marked. Returns the SVG, or a note when there is no data.
fn chart(incident: &Incident, kind: &MetricKind, title: &str, scale: f64, unit: &str) -> String {
    let zero = incident.failed.deployed_at.unwrap_or(incident.window.start);
    let minutes = |t: DateTime<Utc>| (t - zero).num_milliseconds() as f64 / 60_000.0;
    let to_points = |s: Vec<Sample>| -> Vec<(f64, f64)> {
        s.into_iter()
            .map(|p| (minutes(p.at), p.value * scale))
            .collect()
    };
    let failed = to_points(merged(incident, kind, &incident.failed.revision));
    let stable = incident
        .stable
        .as_ref()
        .map(|s| to_points(merged(incident, kind, &s.revision)))
        .unwrap_or_default();
    if failed.is_empty() && stable.is_empty() {
        return format!("<p class=\"nodata\">{}: no data</p>", esc(title));
    }
    let x0 = minutes(incident.window.start);
    let x1 = minutes(incident.window.end).max(x0 + 1.0);
    let ymax = failed
        .iter()
        .chain(&stable)
        .map(|p| p.1)
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 260)).into_drawing_area();
        let drawn = (|| -> std::result::Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut c = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, 0.0..ymax)?;
            c.configure_mesh()
                .x_desc("minutes since deploy")
                .y_desc(unit)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            let red = RGBColor(200, 40, 40);
            let blue = RGBColor(40, 90, 200);
            if !stable.is_empty() {
                let name = incident
                    .stable
                    .as_ref()
                    .map_or(String::new(), |s| s.version.to_string());
                c.draw_series(LineSeries::new(
                    stable.iter().copied(),
                    blue.stroke_width(2),
                ))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], blue.stroke_width(2))
                });
            }
            c.draw_series(LineSeries::new(failed.iter().copied(), red.stroke_width(2)))?
                .label(incident.failed.version.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2))
                });
            let mark = |x: f64, color: RGBColor| {
                PathElement::new(vec![(x, 0.0), (x, ymax)], color.stroke_width(1))
            };
            if (x0..=x1).contains(&0.0) {
                c.draw_series(std::iter::once(mark(0.0, RGBColor(90, 90, 90))))?
                    .label("deploy")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(90, 90, 90))
                    });
            }
            if let Some(r) = incident
                .rollback_at
                .map(minutes)
                .filter(|r| (x0..=x1).contains(r))
            {
                c.draw_series(std::iter::once(mark(r, RGBColor(20, 150, 60))))?
                    .label("rollback")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(20, 150, 60))
                    });
            }
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()?;
            root.present()?;
            Ok(())
        })();
        if let Err(e) = drawn {
            return format!(
                "<p class=\"nodata\">{}: chart failed ({})</p>",
                esc(title),
                esc(&e.to_string())
            );
        }
    }
    svg
}

const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1160px;margin:24px auto;padding:0 16px;color:#1d1d1f}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}\
.meta{color:#555}.charts{display:flex;flex-wrap:wrap;gap:12px}.charts>div{border:1px solid #e3e3e3;border-radius:6px;padding:4px}\
.cause{border-left:4px solid #c82828;padding:4px 12px;margin:12px 0;background:#fcf6f6}\
.sev{display:inline-block;padding:1px 6px;border-radius:4px;font-size:.8em;color:#fff;background:#888}\
.sev.CRITICAL{background:#a00}.sev.HIGH{background:#d9480f}.sev.MEDIUM{background:#c98500}.sev.LOW{background:#2b7a0b}\
pre{background:#f5f5f7;padding:8px;overflow-x:auto;font-size:.82em;white-space:pre-wrap}code{background:#f0f0f2;padding:0 3px}\
ul.timeline li{margin:2px 0}.nodata{color:#888}";

/// Renders a self-contained HTML page: the report's sections plus charts of error rate, p95
/// latency and memory of both releases over time, deploy and rollback marked. The charts are SVG
/// drawn by `plotters` and embedded inline; the page loads nothing and runs no script.
pub fn render_html(incident: &Incident, findings: &[Finding]) -> String {
    let mut h = String::new();
    let title = format!(
        "Root Cause Analysis: {} {}",
        incident.target.deployment, incident.failed.version
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = writeln!(
        h,
        "<p class=\"meta\">Environment <b>{}</b> · failed <b>{}</b>{} · window {} – {}</p>",
        esc(incident.target.environment.as_str()),
        esc(incident.failed.version.as_str()),
        incident
            .stable
            .as_ref()
            .map(|s| format!(" · rolled back to <b>{}</b>", esc(s.version.as_str())))
            .unwrap_or_default(),
        incident.window.start.format("%Y-%m-%d %H:%M:%S UTC"),
        incident.window.end.format("%H:%M:%S UTC")
    );
    if let Some(t) = &incident.trigger {
        let _ = writeln!(
            h,
            "<h2>Why It Was Rolled Back</h2>\n<p><b>Decision:</b> {}</p>",
            esc(&t.decision)
        );
        if !t.signals.is_empty() {
            let _ = writeln!(h, "<ul class=\"signals\">");
            for s in &t.signals {
                let _ = writeln!(h, "<li>{}</li>", esc(s));
            }
            let _ = writeln!(h, "</ul>");
        }
    }
    let _ = writeln!(h, "<h2>Metrics</h2><div class=\"charts\">");
    for (kind, t, scale, unit) in [
        (MetricKind::ErrorRate, "Error rate", 100.0, "%"),
        (MetricKind::Latency(Quantile::P95), "Latency p95", 1.0, "ms"),
        (MetricKind::MemoryBytes, "Memory", 1e-6, "MB"),
        (MetricKind::CpuUtilization, "CPU", 1.0, "% of limit"),
    ] {
        let _ = writeln!(h, "<div>{}</div>", chart(incident, &kind, t, scale, unit));
    }
    let _ = writeln!(h, "</div>");
    let _ = writeln!(h, "<h2>Failure Timeline</h2><ul class=\"timeline\">");
    for p in timeline(incident, findings) {
        let _ = writeln!(
            h,
            "<li><b>{}</b> — {}</li>",
            p.at.format("%H:%M:%S"),
            esc(&p.what)
        );
    }
    let _ = writeln!(h, "</ul>\n<h2>Root Causes Identified</h2>");
    let causes = causes(findings);
    if causes.is_empty() {
        let _ = writeln!(
            h,
            "<p><i>No root cause could be identified from the evidence.</i></p>"
        );
    }
    for (i, f) in causes.iter().enumerate() {
        let _ = writeln!(
            h,
            "<div class=\"cause\"><h3>{}. {} <span class=\"sev {}\">{}</span> <small>confidence {:.0}%</small></h3>",
            i + 1,
            esc(&f.title),
            f.severity,
            f.severity,
            f.confidence * 100.0
        );
        if let Some(l) = &f.location {
            let _ = writeln!(
                h,
                "<p><b>Location:</b> <code>{}</code>{}</p>",
                esc(&l.to_string()),
                l.function
                    .as_deref()
                    .map(|f| format!(" in <code>{}</code>", esc(f)))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(h, "<p><b>Issue:</b> {}</p>", esc(&f.summary));
        if let Some(i) = &f.impact {
            let _ = writeln!(h, "<p><b>Impact:</b> {}</p>", esc(i));
        }
        if !f.evidence.is_empty() {
            let _ = writeln!(h, "<p><b>Evidence:</b></p><pre>");
            for e in f.evidence.iter().take(10) {
                let _ = writeln!(h, "{}", esc(e));
            }
            let _ = writeln!(h, "</pre>");
        }
        let _ = writeln!(h, "</div>");
    }
    let symptoms: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Symptom)
        .collect();
    if !symptoms.is_empty() {
        let _ = writeln!(h, "<h2>Other Observations</h2><ul>");
        for f in symptoms {
            let _ = writeln!(
                h,
                "<li><b>{}</b> <span class=\"sev {}\">{}</span>: {}</li>",
                esc(&f.title),
                f.severity,
                f.severity,
                esc(&f.summary)
            );
        }
        let _ = writeln!(h, "</ul>");
    }
    let changes: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Change)
        .collect();
    if !changes.is_empty() {
        let _ = writeln!(h, "<h2>Changes Between Releases</h2><ul>");
        for f in changes {
            let _ = writeln!(h, "<li><b>{}</b><ul>", esc(&f.title));
            for e in &f.evidence {
                let _ = writeln!(h, "<li><code>{}</code></li>", esc(e));
            }
            let _ = writeln!(h, "</ul></li>");
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(h, "<h2>Recommended Fixes</h2><ol>");
    for f in causes.iter().filter(|f| f.recommendation.is_some()) {
        let _ = writeln!(
            h,
            "<li><b>{}</b>{}: {}</li>",
            esc(&f.title),
            f.location
                .as_ref()
                .map(|l| format!(" (<code>{}</code>)", esc(&l.to_string())))
                .unwrap_or_default(),
            esc(f.recommendation.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(h, "</ol>\n</body></html>");
    h
}

/// The orchestrator's RCA reporter from this crate: findings merged across analyzers
/// ([`rank_and_merge`](crate::rank_and_merge)), and `rca.md`, `rca.json` and a self-contained
/// `rca.html` with charts.
///
/// ```
/// use std::sync::Arc;
/// # fn demo(sim: rollback_core::sim::Simulation) -> rollback_core::Result<()> {
/// let orchestrator = rollback_core::Orchestrator::builder(sim.platform(), sim.metrics())
///     .analyzer(Arc::new(rollback_rca::RootCauseAnalyzer::default()))
///     .rca_reporter(Arc::new(rollback_rca::RcaReport::default()))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RcaReport {
    _private: (),
}

impl rollback_core::rca_report::RcaReporter for RcaReport {
    fn rank(&self, findings: Vec<Finding>) -> Vec<Finding> {
        crate::rank_and_merge(findings)
    }

    fn render(
        &self,
        incident: &Incident,
        findings: &[Finding],
    ) -> Vec<rollback_core::rca_report::ReportFile> {
        use rollback_core::rca_report::ReportFile;
        vec![
            ReportFile {
                name: "rca.md".into(),
                contents: render_markdown(incident, findings),
            },
            ReportFile {
                name: "rca.json".into(),
                contents: serde_json::to_string_pretty(&render_json(incident, findings))
                    .unwrap_or_default(),
            },
            ReportFile {
                name: "rca.html".into(),
                contents: render_html(incident, findings),
            },
        ]
    }
}
