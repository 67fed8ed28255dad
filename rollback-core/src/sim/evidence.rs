//! Logs and platform events of simulated releases, generated deterministically from templates.

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::Rng;

use super::noise;
use super::scenario::Scenario;
use super::world::{plus, TargetState};
use crate::model::evidence::{EventLevel, LogLine, PlatformEvent};

/// A piece of a log or event template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Lit(String),
    Ts,
    ReqId,
    TraceId,
    UserId,
    Ms(u32, u32),
    Int(i64, i64),
    Bytes(u64, u64),
    Hex(usize),
    Choice(Vec<String>),
    HeapMb,
    HeapPct,
    Pod,
    Version,
    Revision,
    Deployment,
    Ip,
}

const PLACEHOLDERS: &str = "ts, req_id, trace_id, user_id, ms, ms:A..B, int:A..B, bytes:A..B, \
                            hex:N, choice:a|b, heap_mb, heap_pct, pod, version, revision, \
                            deployment, ip";

fn range<T: std::str::FromStr + PartialOrd>(arg: &str, what: &str) -> Result<(T, T), String> {
    let (a, b) = arg.split_once("..").ok_or_else(|| {
        format!("{{{what}:{arg}}} needs a range, expected e.g. {{{what}:10..250}}")
    })?;
    let a: T = a
        .trim()
        .parse()
        .map_err(|_| format!("{{{what}:{arg}}} has a bad lower bound, expected a number"))?;
    let b: T = b
        .trim_start_matches('=')
        .trim()
        .parse()
        .map_err(|_| format!("{{{what}:{arg}}} has a bad upper bound, expected a number"))?;
    if a > b {
        return Err(format!(
            "{{{what}:{arg}}} is an empty range, expected A <= B"
        ));
    }
    Ok((a, b))
}

/// Parses a template with `{placeholder}`s; the error says which placeholder is wrong and what
/// is accepted.
pub(crate) fn parse_template(s: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(format!(
                        "unclosed `{{{name}`, expected `{{placeholder}}` or `{{{{` for a brace"
                    ));
                }
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                let (n, arg) = match name.split_once(':') {
                    Some((n, a)) => (n, Some(a)),
                    None => (name.as_str(), None),
                };
                let part = match (n, arg) {
                    ("ts", None) => Part::Ts,
                    ("req_id", None) => Part::ReqId,
                    ("trace_id", None) => Part::TraceId,
                    ("user_id", None) => Part::UserId,
                    ("ms", None) => Part::Ms(5, 250),
                    ("ms", Some(a)) => {
                        let (a, b) = range(a, "ms")?;
                        Part::Ms(a, b)
                    }
                    ("int", Some(a)) => {
                        let (a, b) = range(a, "int")?;
                        Part::Int(a, b)
                    }
                    ("bytes", Some(a)) => {
                        let (a, b) = range(a, "bytes")?;
                        Part::Bytes(a, b)
                    }
                    ("hex", Some(a)) => Part::Hex(
                        a.parse()
                            .ok()
                            .filter(|n| (1..=64).contains(n))
                            .ok_or_else(|| format!("{{hex:{a}}} needs a length 1..=64"))?,
                    ),
                    ("choice", Some(a)) if !a.is_empty() => {
                        Part::Choice(a.split('|').map(str::to_owned).collect())
                    }
                    ("heap_mb", None) => Part::HeapMb,
                    ("heap_pct", None) => Part::HeapPct,
                    ("pod", None) => Part::Pod,
                    ("version", None) => Part::Version,
                    ("revision", None) => Part::Revision,
                    ("deployment", None) => Part::Deployment,
                    ("ip", None) => Part::Ip,
                    _ => {
                        return Err(format!(
                            "unknown placeholder {{{name}}}, expected one of {PLACEHOLDERS}"
                        ))
                    }
                };
                parts.push(part);
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

/// Values shared by the lines of one occurrence of a template.
struct Occurrence<'a> {
    at: DateTime<Utc>,
    req_id: String,
    trace_id: String,
    pod: &'a str,
    version: &'a str,
    revision: &'a str,
    deployment: &'a str,
    heap_mb: f64,
    heap_pct: f64,
}

fn hex(rng: &mut SmallRng, n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn render(parts: &[Part], o: &Occurrence<'_>, rng: &mut SmallRng) -> String {
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Lit(s) => out.push_str(s),
            Part::Ts => out.push_str(&o.at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            Part::ReqId => out.push_str(&o.req_id),
            Part::TraceId => out.push_str(&o.trace_id),
            Part::UserId => out.push_str(&rng.random_range(10_000..100_000u32).to_string()),
            Part::Ms(a, b) => out.push_str(&rng.random_range(*a..=*b).to_string()),
            Part::Int(a, b) => out.push_str(&rng.random_range(*a..=*b).to_string()),
            Part::Bytes(a, b) => out.push_str(&rng.random_range(*a..=*b).to_string()),
            Part::Hex(n) => out.push_str(&hex(rng, *n)),
            Part::Choice(c) => out.push_str(&c[rng.random_range(0..c.len())]),
            Part::HeapMb => out.push_str(&format!("{:.0}", o.heap_mb)),
            Part::HeapPct => out.push_str(&format!("{:.0}", o.heap_pct)),
            Part::Pod => out.push_str(o.pod),
            Part::Version => out.push_str(o.version),
            Part::Revision => out.push_str(o.revision),
            Part::Deployment => out.push_str(o.deployment),
            Part::Ip => out.push_str(&format!(
                "10.{}.{}.{}",
                rng.random_range(0..4u8),
                rng.random_range(0..=255u8),
                rng.random_range(1..=254u8)
            )),
        }
    }
    out
}

/// Log lines of release `i` in `[start, end)`, oldest first: the newest `limit` of them, and
/// whether more were left out.
pub(crate) fn logs(
    ts: &TargetState,
    sc: &Scenario,
    i: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: usize,
) -> (Vec<LogLine>, bool) {
    let spec = ts.spec(sc, i);
    let rel = &ts.releases[i].release;
    let pods = ts.pods(sc, i);
    let version = rel.version.as_str();
    let mut chunks: Vec<Vec<LogLine>> = Vec::new();
    let mut total = 0usize;
    let first = start.timestamp();
    let mut sec = (end - chrono::Duration::milliseconds(1)).timestamp();
    while sec >= first && total <= limit {
        let Some(t) = DateTime::<Utc>::from_timestamp(sec, 0) else {
            break;
        };
        sec -= 1;
        if !ts.running(i, t) {
            continue;
        }
        let share = ts.share(i, t);
        let x = ts.x(sc, i, t);
        let mut lines: Vec<LogLine> = Vec::new();
        for (j, tpl) in spec.logs.iter().enumerate() {
            let active = match (tpl.from, tpl.until, x) {
                (None, None, _) => true,
                (_, _, None) => false,
                (from, until, Some(x)) => {
                    from.is_none_or(|f| x >= f) && until.is_none_or(|u| x < u)
                }
            };
            if !active {
                continue;
            }
            let factor = if tpl.traffic_scaled { share } else { 1.0 };
            let lambda = tpl.rate / 60.0 * factor;
            if lambda <= 0.0 {
                continue;
            }
            let mut rng = noise::rng(noise::key(
                sc.seed,
                &[version.as_bytes(), b"log", &(j as u64).to_le_bytes()],
                t.timestamp(),
            ));
            let mut n = lambda.floor() as u32;
            if rng.random::<f64>() < lambda.fract() {
                n += 1;
            }
            let (bytes, _) = spec.profile.memory_bytes(x);
            let (pct, _) = spec.profile.memory(x);
            for _ in 0..n {
                let mut at = plus(t, f64::from(rng.random_range(0..1000u32)) / 1000.0);
                let o_pod = &pods[rng.random_range(0..pods.len())];
                let req_id = format!("req_{}", hex(&mut rng, 12));
                let trace_id = hex(&mut rng, 32);
                for line in &tpl.lines {
                    let reps = rng.random_range(line.repeat.0..=line.repeat.1);
                    for _ in 0..reps {
                        let o = Occurrence {
                            at,
                            req_id: req_id.clone(),
                            trace_id: trace_id.clone(),
                            pod: o_pod,
                            version,
                            revision: &rel.revision,
                            deployment: &ts.target.deployment,
                            heap_mb: bytes / 1e6,
                            heap_pct: pct,
                        };
                        let text = render(&line.parts, &o, &mut rng);
                        if at >= start && at < end {
                            lines.push(LogLine {
                                at: Some(at),
                                source: o_pod.clone(),
                                line: text,
                            });
                        }
                        at = plus(at, f64::from(rng.random_range(0..3u32)) / 1000.0);
                    }
                }
            }
        }
        if !lines.is_empty() {
            lines.sort_by_key(|l| l.at);
            total += lines.len();
            chunks.push(lines);
        }
    }
    let truncated = total > limit;
    let mut out: Vec<LogLine> = chunks.into_iter().rev().flatten().collect();
    if out.len() > limit {
        out.drain(..out.len() - limit);
    }
    (out, truncated)
}

/// Platform events of release `i` in `[start, end)`, oldest first.
pub(crate) fn events(
    ts: &TargetState,
    sc: &Scenario,
    i: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<PlatformEvent> {
    let spec = ts.spec(sc, i);
    let rel = &ts.releases[i].release;
    let pods = ts.pods(sc, i);
    let deployment = ts.target.deployment.as_str();
    let mut out = Vec::new();
    let inside = |t: DateTime<Utc>| start <= t && t < end;
    if let Some(d) = rel.deployed_at.filter(|d| inside(*d)) {
        out.push(PlatformEvent {
            at: d,
            level: EventLevel::Normal,
            reason: "ScalingReplicaSet".into(),
            object: format!("deployment/{deployment}"),
            message: format!(
                "Scaled up replica set {} to {}",
                rel.revision,
                spec.release.replicas.desired.max(1)
            ),
            count: 1,
        });
    }
    let anchor = ts.anchor(sc, i);
    if let Some(anchor) = anchor {
        for (j, e) in spec.events.iter().enumerate() {
            let at = plus(anchor, e.at);
            if !inside(at) {
                continue;
            }
            let mut rng = noise::rng(noise::key(
                sc.seed,
                &[rel.version.as_str().as_bytes(), b"event"],
                j as i64,
            ));
            let pod = &pods[rng.random_range(0..pods.len())];
            let o = Occurrence {
                at,
                req_id: String::new(),
                trace_id: String::new(),
                pod,
                version: rel.version.as_str(),
                revision: &rel.revision,
                deployment,
                heap_mb: 0.0,
                heap_pct: 0.0,
            };
            out.push(PlatformEvent {
                at,
                level: e.level,
                reason: e.reason.clone(),
                object: match &e.object {
                    Some(parts) => render(parts, &o, &mut rng),
                    None => format!("pod/{pod}"),
                },
                message: render(&e.message, &o, &mut rng),
                count: e.count,
            });
        }
        // Crash loops: one BackOff (and OOMKilled) event per pod, as of the window's end.
        let last_t = end - chrono::Duration::milliseconds(1);
        let x_end = ts.x(sc, i, last_t);
        let n = pods.len() as u32;
        if ts.running(i, last_t) {
            if let Some(c) = spec.profile.crash(x_end) {
                for (k, pod) in pods.iter().enumerate() {
                    let k = k as u32;
                    let count = spec.profile.pod_restarts(x_end, k, n);
                    if count == 0 {
                        continue;
                    }
                    let stagger = c.every * f64::from(k) / f64::from(n.max(1));
                    let at = plus(anchor, c.onset + stagger + c.every * f64::from(count - 1));
                    if !inside(at) {
                        continue;
                    }
                    if c.reason == "OOMKilled" {
                        out.push(PlatformEvent {
                            at,
                            level: EventLevel::Warning,
                            reason: "OOMKilled".into(),
                            object: format!("pod/{pod}"),
                            message: format!(
                                "Container {deployment} in pod {pod} was OOMKilled (exit code \
                                 137): memory limit reached"
                            ),
                            count,
                        });
                    }
                    out.push(PlatformEvent {
                        at: plus(at, 1.0),
                        level: EventLevel::Warning,
                        reason: "BackOff".into(),
                        object: format!("pod/{pod}"),
                        message: format!(
                            "Back-off restarting failed container {deployment} in pod {pod}"
                        ),
                        count,
                    });
                }
            }
        }
    }
    out.retain(|e| inside(e.at));
    out.sort_by_key(|e| e.at);
    out
}
