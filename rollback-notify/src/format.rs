//! Text every channel shares: the headline, from → to, metric and finding lines, truncation.

use std::time::Duration;

use rollback_core::{Event, EventKind, Finding, KeyMetric};

/// Emoji and status words for an event.
pub(crate) fn status(event: &Event) -> (&'static str, String) {
    match event.kind {
        EventKind::Started => ("⏪", "Rollback started".to_owned()),
        EventKind::Succeeded => ("✅", "Rollback succeeded".to_owned()),
        EventKind::Failed => ("🚨", "Rollback FAILED".to_owned()),
        EventKind::NothingToDo => ("ℹ️", "No rollback needed".to_owned()),
        EventKind::StageFinished => match event.stage {
            Some(stage) => (
                "▶️",
                format!("Stage {}/10 finished: {}", stage.number(), stage.title()),
            ),
            None => ("▶️", "Stage finished".to_owned()),
        },
        _ => ("ℹ️", "Rollback update".to_owned()),
    }
}

/// `v1.3.0 → v1.2.9`, with `?` for an unknown side; `None` when both are unknown.
pub(crate) fn versions(event: &Event) -> Option<String> {
    match (&event.from, &event.to) {
        (None, None) => None,
        (from, to) => Some(format!(
            "{} → {}",
            from.as_ref().map_or("?", |v| v.as_str()),
            to.as_ref().map_or("?", |v| v.as_str())
        )),
    }
}

/// `✅ Rollback succeeded: checkout v1.3.0 → v1.2.9 (production)`.
pub(crate) fn headline(event: &Event) -> String {
    let (emoji, status) = status(event);
    let mut s = format!("{emoji} {status}: {}", event.target.deployment);
    if let Some(v) = versions(event) {
        s.push(' ');
        s.push_str(&v);
    }
    s.push_str(&format!(" ({})", event.target.environment));
    s
}

/// The headline without the emoji, for channels that show plain text (PagerDuty, titles).
pub(crate) fn headline_plain(event: &Event) -> String {
    let (_, status) = status(event);
    let mut s = format!("{status}: {}", event.target.deployment);
    if let Some(v) = versions(event) {
        s.push(' ');
        s.push_str(&v);
    }
    s.push_str(&format!(" ({})", event.target.environment));
    s
}

/// `Error rate: 12.4% (SLA < 0.1%)`.
pub(crate) fn metric_line(m: &KeyMetric) -> String {
    match &m.threshold {
        Some(t) => format!("{}: {} ({t})", m.name, m.value),
        None => format!("{}: {}", m.name, m.value),
    }
}

/// `Memory leak in cache service (HIGH, 87%) at src/cache.ts:42`.
pub(crate) fn finding_title(f: &Finding) -> String {
    let mut s = format!(
        "{} ({}, {:.0}%)",
        f.title,
        f.severity,
        f.confidence.clamp(0.0, 1.0) * 100.0
    );
    if let Some(loc) = &f.location {
        s.push_str(&format!(" at {loc}"));
    }
    s
}

/// The findings worth showing: causes first (as ranked by the analyzers), best first.
pub(crate) fn top_findings(event: &Event) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = event.findings.iter().collect();
    v.sort_by(|a, b| {
        b.rank_score()
            .partial_cmp(&a.rank_score())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    v
}

/// A duration as people read it (`2m 14s`, `850ms`).
pub(crate) fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Joins `lines` with newlines within `max` characters; lines that do not fit are replaced by
/// `…and N more` (the whole result stays within `max`).
pub(crate) fn fit_lines(lines: &[String], max: usize) -> String {
    let joined = lines.join("\n");
    if joined.chars().count() <= max {
        return joined;
    }
    let total = lines.len();
    let mut out = String::new();
    let mut used = 0usize;
    for (i, line) in lines.iter().enumerate() {
        let rest = total - i - 1;
        let sep = usize::from(!out.is_empty());
        let line_len = line.chars().count();
        // Room to keep for the `…and N more` trailer if later lines do not fit.
        let trailer = if rest > 0 {
            format!("\n…and {rest} more").chars().count()
        } else {
            0
        };
        if used + sep + line_len + trailer <= max {
            if sep == 1 {
                out.push('\n');
            }
            out.push_str(line);
            used += sep + line_len;
            continue;
        }
        // This line does not fit whole.
        let more = total - i;
        let tail = format!("…and {more} more");
        let sep_tail = usize::from(!out.is_empty());
        if used + sep_tail + tail.chars().count() <= max {
            if sep_tail == 1 {
                out.push('\n');
            }
            out.push_str(&tail);
        } else {
            out = truncate(&out, max);
        }
        return out;
    }
    out
}

/// The most signals a message lists (the report has them all).
pub(crate) const MAX_SIGNALS: usize = 5;

/// What tripped the rollback, when the run decided one: the decision, unless it is already the
/// event's reason (then `None`), and up to [`MAX_SIGNALS`] signals with an `…and N more` line.
pub(crate) fn trigger_lines(event: &Event) -> Option<(Option<&str>, Vec<String>)> {
    let t = event.trigger.as_ref()?;
    let decision =
        Some(t.decision.as_str()).filter(|d| event.reason.as_deref() != Some(*d) && !d.is_empty());
    let mut signals: Vec<String> = t.signals.iter().take(MAX_SIGNALS).cloned().collect();
    if t.signals.len() > MAX_SIGNALS {
        signals.push(format!(
            "…and {} more in the report",
            t.signals.len() - MAX_SIGNALS
        ));
    }
    (decision.is_some() || !signals.is_empty()).then_some((decision, signals))
}

/// A plain-text summary of the event (email text part, webhook-less channels).
pub(crate) fn plain_text(event: &Event, max_findings: usize) -> String {
    let mut s = String::new();
    s.push_str(&headline(event));
    s.push_str("\n\n");
    s.push_str(&format!("Environment: {}\n", event.target.environment));
    s.push_str(&format!("Deployment:  {}\n", event.target));
    if let Some(v) = versions(event) {
        s.push_str(&format!("Versions:    {v}\n"));
    }
    s.push_str(&format!("Severity:    {}\n", event.severity));
    if let Some(d) = event.duration {
        s.push_str(&format!("Duration:    {}\n", duration(d)));
    }
    if let Some(r) = &event.reason {
        s.push_str(&format!("Reason:      {r}\n"));
    }
    let tripped = trigger_lines(event);
    if let Some(d) = tripped.as_ref().and_then(|t| t.0) {
        s.push_str(&format!("Decided:     {d}\n"));
    }
    s.push_str(&format!("Run:         {}\n", event.run_id));
    s.push_str(&format!("At:          {}\n", event.at.to_rfc3339()));
    s.push('\n');
    s.push_str(&event.summary);
    s.push('\n');
    if let Some((_, signals)) = tripped.filter(|t| !t.1.is_empty()) {
        s.push_str("\nWhat tripped it:\n");
        for line in signals {
            s.push_str(&format!("  - {line}\n"));
        }
    }
    if !event.metrics.is_empty() {
        s.push_str("\nKey metrics:\n");
        for m in &event.metrics {
            s.push_str(&format!("  - {}\n", metric_line(m)));
        }
    }
    let findings = top_findings(event);
    if !findings.is_empty() {
        s.push_str("\nTop root causes:\n");
        for (i, f) in findings.iter().take(max_findings).enumerate() {
            s.push_str(&format!(
                "  {}. {}\n     {}\n",
                i + 1,
                finding_title(f),
                f.summary
            ));
            if let Some(r) = &f.recommendation {
                s.push_str(&format!("     Fix: {r}\n"));
            }
        }
        if findings.len() > max_findings {
            s.push_str(&format!(
                "  …and {} more findings\n",
                findings.len() - max_findings
            ));
        }
    }
    if let Some(p) = &event.report_path {
        s.push_str(&format!("\nReport: {p}\n"));
    }
    s
}

/// A Markdown summary of the event (GitHub issue body without a report, issue comments).
pub(crate) fn markdown(event: &Event, max_findings: usize) -> String {
    let mut s = format!("## {}\n\n", headline(event));
    s.push_str("| | |\n|---|---|\n");
    s.push_str(&format!("| Environment | {} |\n", event.target.environment));
    s.push_str(&format!("| Deployment | `{}` |\n", event.target));
    if let Some(v) = versions(event) {
        s.push_str(&format!("| Versions | {v} |\n"));
    }
    s.push_str(&format!("| Severity | {} |\n", event.severity));
    if let Some(d) = event.duration {
        s.push_str(&format!("| Duration | {} |\n", duration(d)));
    }
    if let Some(r) = &event.reason {
        s.push_str(&format!("| Reason | {} |\n", r.replace('|', "\\|")));
    }
    let tripped = trigger_lines(event);
    if let Some(d) = tripped.as_ref().and_then(|t| t.0) {
        s.push_str(&format!("| Decided | {} |\n", d.replace('|', "\\|")));
    }
    s.push_str(&format!("| Run | `{}` |\n\n", event.run_id));
    s.push_str(&event.summary);
    s.push('\n');
    if let Some((_, signals)) = tripped.filter(|t| !t.1.is_empty()) {
        s.push_str("\n### What tripped it\n\n");
        for line in signals {
            s.push_str(&format!("- {line}\n"));
        }
    }
    if !event.metrics.is_empty() {
        s.push_str("\n### Key metrics\n\n");
        for m in &event.metrics {
            s.push_str(&format!("- {}\n", metric_line(m)));
        }
    }
    let findings = top_findings(event);
    if !findings.is_empty() {
        s.push_str("\n### Top root causes\n\n");
        for (i, f) in findings.iter().take(max_findings).enumerate() {
            s.push_str(&format!(
                "{}. **{}**: {}\n",
                i + 1,
                finding_title(f),
                f.summary
            ));
        }
        if findings.len() > max_findings {
            s.push_str(&format!(
                "\n…and {} more findings\n",
                findings.len() - max_findings
            ));
        }
    }
    if let Some(p) = &event.report_path {
        s.push_str(&format!("\nReport: `{p}`\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn fit_lines_says_how_many_were_left_out() {
        let lines: Vec<String> = (0..100).map(|i| format!("line number {i}")).collect();
        let out = fit_lines(&lines, 100);
        assert!(out.chars().count() <= 100, "{out}");
        assert!(out.contains("more"), "{out}");
        let shown = out.lines().count() - 1;
        assert!(
            out.ends_with(&format!("…and {} more", 100 - shown)),
            "{out}"
        );
    }

    #[test]
    fn fit_lines_keeps_everything_that_fits() {
        let lines = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(fit_lines(&lines, 10), "a\nb");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_secs(134)), "2m 14s");
        assert_eq!(duration(Duration::from_secs(3725)), "1h 2m 5s");
    }
}
