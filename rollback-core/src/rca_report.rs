//! How the root-cause stage ranks findings and which report files it writes.
//!
//! The default ranks by severity and confidence and writes `rca.md` and `rca.json`;
//! `rollback-rca` provides a reporter that merges findings across analyzers and adds a
//! self-contained HTML page with charts.

use crate::model::finding::{Finding, Incident};

/// One report file: its name inside the run's report directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// File name (`rca.md`, `rca.html`, …); `rca.md` is also kept in the report.
    pub name: String,
    /// Contents.
    pub contents: String,
}

/// Ranks findings and renders the RCA report files.
pub trait RcaReporter: Send + Sync {
    /// Orders (and may merge) the findings of all analyzers, best first.
    fn rank(&self, findings: Vec<Finding>) -> Vec<Finding> {
        crate::orchestrator::rank(findings)
    }

    /// The report files for an incident and its ranked findings. One of them should be
    /// `rca.md`.
    fn render(&self, incident: &Incident, findings: &[Finding]) -> Vec<ReportFile>;
}

/// The built-in reporter: Markdown (the product spec's RCA shape) and JSON.
#[derive(Debug, Clone, Default)]
pub struct DefaultRcaReporter {
    _private: (),
}

impl RcaReporter for DefaultRcaReporter {
    fn render(&self, incident: &Incident, findings: &[Finding]) -> Vec<ReportFile> {
        let json = serde_json::json!({
            "target": incident.target,
            "failed": incident.failed.reference(),
            "stable": incident.stable.as_ref().map(|s| s.reference()),
            "window": incident.window,
            "findings": findings,
        });
        vec![
            ReportFile {
                name: "rca.md".into(),
                contents: crate::orchestrator::render_markdown(incident, findings),
            },
            ReportFile {
                name: "rca.json".into(),
                contents: serde_json::to_string_pretty(&json).unwrap_or_default(),
            },
        ]
    }
}
