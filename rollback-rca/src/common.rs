//! Helpers the analyzers share: log levels, metric series of an incident, evidence formatting.

use chrono::{DateTime, Utc};
use regex::Regex;
use rollback_core::{Incident, MetricKind, Sample, Severity};

/// How loud a log entry is, from its level word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Level {
    Other,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub(crate) fn of(re: &Regex, line: &str) -> Level {
        let head: String = line.chars().take(80).collect();
        match re
            .captures(&head)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_ascii_uppercase())
        {
            Some(l) => match l.as_str() {
                "FATAL" | "CRITICAL" | "CRIT" | "PANIC" | "EMERG" | "ALERT" => Level::Fatal,
                "ERROR" | "ERR" | "SEVERE" | "E" => Level::Error,
                "WARN" | "WARNING" | "W" => Level::Warn,
                "INFO" | "NOTICE" | "I" => Level::Info,
                "DEBUG" | "TRACE" | "FINE" | "FINER" | "D" => Level::Debug,
                _ => Level::Other,
            },
            None => Level::Other,
        }
    }

    pub(crate) fn severity(self) -> Severity {
        match self {
            Level::Fatal => Severity::Critical,
            Level::Error => Severity::High,
            Level::Warn => Severity::Medium,
            Level::Info | Level::Other => Severity::Low,
            Level::Debug => Severity::Info,
        }
    }
}

pub(crate) fn level_regex() -> Regex {
    Regex::new(
        r#"(?i)(?:^|[\s\[|"=:])(FATAL|CRITICAL|CRIT|PANIC|EMERG|ALERT|ERROR|ERR|SEVERE|WARN|WARNING|INFO|NOTICE|DEBUG|TRACE|FINE|FINER)(?:$|[\s\]|":,])"#,
    )
    .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
}

/// Per-timestamp mean over the series of `kind` for `revision`, oldest first.
pub(crate) fn merged(incident: &Incident, kind: &MetricKind, revision: &str) -> Vec<Sample> {
    let mut points: std::collections::BTreeMap<DateTime<Utc>, (f64, u32)> = Default::default();
    for s in incident.metric(kind, revision).unwrap_or_default() {
        for p in s.samples.iter().filter(|p| p.value.is_finite()) {
            let e = points.entry(p.at).or_insert((0.0, 0));
            e.0 += p.value;
            e.1 += 1;
        }
    }
    points
        .into_iter()
        .map(|(at, (sum, n))| Sample {
            at,
            value: sum / f64::from(n),
        })
        .collect()
}

/// Mean of the samples at or after `since`.
pub(crate) fn mean_since(s: &[Sample], since: DateTime<Utc>) -> Option<f64> {
    let v: Vec<f64> = s
        .iter()
        .filter(|p| p.at >= since)
        .map(|p| p.value)
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Least-squares slope per minute and R² of the samples.
pub(crate) fn trend(s: &[Sample]) -> Option<(f64, f64)> {
    if s.len() < 4 {
        return None;
    }
    let t0 = s[0].at;
    let xs: Vec<f64> = s
        .iter()
        .map(|p| (p.at - t0).num_milliseconds() as f64 / 60_000.0)
        .collect();
    let n = s.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = s.iter().map(|p| p.value).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, p) in xs.iter().zip(s) {
        sxy += (x - mx) * (p.value - my);
        sxx += (x - mx) * (x - mx);
        syy += (p.value - my) * (p.value - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy > 0.0 {
        (sxy * sxy) / (sxx * syy)
    } else {
        0.0
    };
    Some((slope, r2))
}

/// When the failure window of interest starts: the failed release's deploy, else the window start.
pub(crate) fn since_deploy(incident: &Incident) -> DateTime<Utc> {
    incident
        .failed
        .deployed_at
        .filter(|d| *d > incident.window.start)
        .unwrap_or(incident.window.start)
}

/// The baseline release's version for sentences (`v1.2.9`), or `the baseline`.
pub(crate) fn baseline_name(incident: &Incident) -> String {
    incident
        .stable
        .as_ref()
        .map_or_else(|| "the baseline".to_string(), |s| s.version.to_string())
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `1234` → `1,234`.
pub(crate) fn thousands(n: u64) -> String {
    rollback_core::model::metric::group_thousands(i64::try_from(n).unwrap_or(i64::MAX))
}
