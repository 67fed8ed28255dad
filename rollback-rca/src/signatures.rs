//! [`SignatureAnalyzer`]: known failure signatures — memory leak, OOM kills, N+1 queries,
//! connection-pool exhaustion, unhandled rejections and uncaught exceptions, crash loops,
//! dependency failures, configuration errors at start-up, latency regressions without errors,
//! CPU saturation — each with its evidence, a recommended fix and, when a stack trace sits in the
//! same request or next to it, the code location.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use regex::Regex;
use rollback_core::{
    Analyzer, Evidence, Finding, FindingKind, Incident, MetricKind, Quantile, Result, Severity,
    SourceLocation,
};
use rustc_hash::FxHashMap;

use crate::common::{baseline_name, clip, mean_since, merged, since_deploy, thousands, trend};
use crate::entries::{for_each_entry, request_id, request_id_regex, LogEntry};
use crate::stacktrace::{message_template, PathRules, TraceParser};

const NAME: &str = "failure-signatures";
const MAX_SAMPLES: usize = 200;
const MAX_EXAMPLES: usize = 4;
const MAX_TRACES: usize = 20_000;
const MAX_REQUESTS: usize = 50_000;

/// Detects failure signatures from metrics, logs and platform events (see the module docs).
///
/// The patterns are generic (message shapes of Node.js, JVM, Python, Go and .NET runtimes and
/// their common libraries, metric trends, Kubernetes/ECS event reasons), not strings of one
/// incident. A signature found in the baseline as much as in the failing release is not
/// reported.
///
/// ```
/// use rollback_rca::SignatureAnalyzer;
/// let analyzer = SignatureAnalyzer::default().n_plus_one_threshold(20);
/// # let _ = analyzer;
/// ```
#[derive(Debug, Clone)]
pub struct SignatureAnalyzer {
    traces: TraceParser,
    n_plus_one: u32,
    patterns: Patterns,
}

impl Default for SignatureAnalyzer {
    fn default() -> Self {
        Self::new(PathRules::default())
    }
}

#[derive(Debug, Clone)]
struct Patterns {
    request_id: Regex,
    heap_oom: Regex,
    memory_pressure: Regex,
    pool: Regex,
    uncaught: Regex,
    rejection: Regex,
    exit: Regex,
    boot: Regex,
    config: Regex,
    config_name: Regex,
    dependency: Regex,
    host: Regex,
    query: Regex,
    queries_per_request: Regex,
    throttle: Regex,
}

fn re(s: &str) -> Regex {
    Regex::new(s).unwrap_or_else(|e| unreachable!("constant regex {s}: {e}"))
}

impl Patterns {
    fn new() -> Self {
        Patterns {
            request_id: request_id_regex(),
            heap_oom: re(
                r"(?i)(JavaScript heap out of memory|Reached heap limit|java\.lang\.OutOfMemoryError|OutOfMemoryError|\bMemoryError\b|runtime: out of memory|fatal error: out of memory|Cannot allocate memory|memory allocation of \d+ bytes failed|System\.OutOfMemoryException|heap out of memory)",
            ),
            memory_pressure: re(
                r"(?i)(heap usage high|memory usage (?:is )?high|GC overhead limit|Mark-sweep .*(?:took|reclaimed)|long GC pause|exceeds (?:soft |hard )?limit|no eviction|evict(?:ion)? (?:disabled|policy)|high memory)",
            ),
            pool: re(
                r"(?i)(connection pool (?:is )?exhausted|pool exhausted|Connection is not available, request timed out|too many clients already|remaining connection slots are reserved|timeout (?:acquiring|waiting for) (?:a )?connection|acquire (?:connection )?timeout|could not (?:obtain|get|acquire) (?:a )?(?:database |jdbc |db )?connection|QueuePool limit of size \d+ overflow \d+ reached|pool timeout|Timeout expired\.\s+The timeout period elapsed prior to obtaining a connection)",
            ),
            uncaught: re(
                r#"(?i)(uncaughtException|Uncaught (?:exception|error|TypeError|ReferenceError)|Exception in thread "[^"]*"|Unhandled exception\.|(?:^|\s)panic: |panicked at |Fatal Python error|terminate called after throwing)"#,
            ),
            rejection: re(
                r"(?i)(UnhandledPromiseRejection|Unhandled promise rejection|unhandledRejection|Unhandled Rejection at)",
            ),
            exit: re(
                r"(?i)(process exit(?:ing|ed)? with (?:exit )?(?:code|status) [1-9]|exit(?:ed|ing)? (?:with )?(?:code|status)[ =:]+[1-9]|exit status [1-9]|terminated with exit code [1-9]|exited unexpectedly|shutting down due to|Application (?:run|startup) failed|worker .* exited|node:\d+\) .*process exit)",
            ),
            boot: re(
                r"(?i)(starting (?:up|server|service|application|api|worker)|starting [\w-]+ v?\d|booting|listening on|server (?:started|listening)|Started \w+Application|Application startup)",
            ),
            config: re(
                r"(?i)((?:missing|not set|is not defined|undefined|is required|must be set|no value (?:for|provided)|unset|cannot be (?:empty|blank)|invalid value)\b.{0,60}\b(?:env(?:ironment)?(?: variable)?|config(?:uration)?|setting|option|property|secret)|\b(?:env(?:ironment)? variable|config(?:uration)?(?: key| value| option| property)?|setting|property|secret)\b.{0,60}\b(?:missing|not set|is required|must be set|undefined|not defined|is empty|not found|invalid)|ImproperlyConfigured|ConfigurationError|ConfigError|InvalidConfiguration|(?-i:KeyError: '[A-Z][A-Z0-9_]{2,}')|Could not resolve placeholder)",
            ),
            config_name: re(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,}[0-9]*)\b"),
            dependency: re(
                r"(?i)(ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|timed out|timeout|connection refused|connection reset|no route to host|deadline exceeded|\bUNAVAILABLE\b|name or service not known|unreachable)",
            ),
            host: re(
                r#"(?i)(?:https?|redis|rediss|postgres(?:ql)?|mysql|mongodb|amqp|grpc)://(?:[^@/\s]+@)?(?P<url>[a-z0-9.-]+)(?::\d+)?|\b(?P<ip>(?:\d{1,3}\.){3}\d{1,3}(?::\d{2,5})?)\b|\b(?P<hp>[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+:\d{2,5})\b|\b(?:to|host|upstream|connect(?:ing)? to)[= ]+["']?(?P<name>[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+|[a-z][a-z0-9]*-[a-z0-9-]+)"#,
            ),
            query: re(
                r"(?i)\b(SELECT\s.+?\sFROM\s.+|INSERT\s+INTO\s.+|UPDATE\s+\S+\s+SET\s.+|DELETE\s+FROM\s.+)",
            ),
            queries_per_request: re(
                r"(?i)\b(?:db|sql|database)?:?\s*(\d+)\s+(?:db |sql |database )?queries\b",
            ),
            throttle: re(r"(?i)(cpu throttl|throttled|CPUThrottlingHigh)"),
        }
    }
}

impl SignatureAnalyzer {
    /// An analyzer whose stack-trace locations follow `rules`.
    pub fn new(rules: PathRules) -> Self {
        SignatureAnalyzer {
            traces: TraceParser::with_rules(rules),
            n_plus_one: 10,
            patterns: Patterns::new(),
        }
    }

    /// Similar queries one request must issue to count as an N+1 pattern (default 10).
    pub fn n_plus_one_threshold(mut self, n: u32) -> Self {
        self.n_plus_one = n.max(2);
        self
    }
}

/// Where a signature line was seen, to find the stack trace next to it.
#[derive(Debug, Clone)]
struct Sample {
    at: Option<DateTime<Utc>>,
    source: String,
    request: Option<String>,
    own: Option<SourceLocation>,
    headline: String,
}

#[derive(Debug, Default)]
struct Hits {
    count: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    examples: Vec<String>,
    samples: Vec<Sample>,
}

impl Hits {
    fn add(&mut self, e: &LogEntry, sample: Sample) {
        self.count += 1;
        if self.first.is_none() {
            self.first = e.at;
        }
        if e.at.is_some() {
            self.last = e.at;
        }
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(e.excerpt(10));
        }
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(sample);
        }
    }
}

#[derive(Debug)]
struct TraceRec {
    at: Option<DateTime<Utc>>,
    source: String,
    request: Option<String>,
    location: SourceLocation,
    headline: String,
}

#[derive(Debug, Default)]
struct Request {
    /// Query template → (count, first line).
    queries: FxHashMap<String, (u32, String)>,
    at: Option<DateTime<Utc>>,
}

/// Everything one pass over one release's evidence gathers.
#[derive(Debug, Default)]
struct Scan {
    entries: u64,
    heap_oom: Hits,
    memory_pressure: Hits,
    pool: Hits,
    uncaught: Hits,
    rejection: Hits,
    exit: Hits,
    boots: Hits,
    config: Hits,
    config_names: BTreeSet<String>,
    throttle: Hits,
    dependency: FxHashMap<String, Hits>,
    dependency_total: u64,
    /// N+1: (query template) → (requests over the threshold, max queries in one, example, samples).
    n_plus_one: FxHashMap<String, (u64, u32, Hits)>,
    max_queries_per_request: u32,
    requests: FxHashMap<String, Request>,
    traces: Vec<TraceRec>,
}

impl SignatureAnalyzer {
    fn scan(&self, evidence: &Evidence) -> Scan {
        let p = &self.patterns;
        let mut s = Scan::default();
        for_each_entry(&evidence.logs, |e| {
            s.entries += 1;
            let text = e.lines.join("\n");
            let head = e.head();
            let request = e
                .lines
                .iter()
                .find_map(|l| request_id(&p.request_id, l))
                .map(str::to_string);
            let trace = self.traces.parse(&e.lines);
            let own = trace.as_ref().and_then(|t| t.application_frame()).map(|f| {
                let mut l = f.location();
                l.column = None;
                l
            });
            if let (Some(t), Some(loc)) = (&trace, &own) {
                if s.traces.len() < MAX_TRACES {
                    s.traces.push(TraceRec {
                        at: e.at,
                        source: e.source.clone(),
                        request: request.clone(),
                        location: loc.clone(),
                        headline: t.headline(),
                    });
                }
            }
            let sample = || Sample {
                at: e.at,
                source: e.source.clone(),
                request: request.clone(),
                own: own.clone(),
                headline: self.traces.message_of(head).to_string(),
            };
            if p.heap_oom.is_match(&text) {
                s.heap_oom.add(&e, sample());
            } else if p.memory_pressure.is_match(head) {
                s.memory_pressure.add(&e, sample());
            }
            if p.pool.is_match(&text) {
                s.pool.add(&e, sample());
            }
            if p.rejection.is_match(&text) {
                s.rejection.add(&e, sample());
            } else if p.uncaught.is_match(&text) {
                s.uncaught.add(&e, sample());
            }
            if p.exit.is_match(&text) {
                s.exit.add(&e, sample());
            }
            if p.boot.is_match(head) {
                s.boots.add(&e, sample());
            }
            if p.config.is_match(&text) {
                for l in &e.lines {
                    if let Some(m) = p.config.find(l) {
                        for c in p.config_name.captures_iter(&l[m.start()..]) {
                            if s.config_names.len() < 16 {
                                s.config_names.insert(c[1].to_string());
                            }
                        }
                    }
                }
                s.config.add(&e, sample());
            }
            if p.throttle.is_match(head) {
                s.throttle.add(&e, sample());
            }
            if !p.pool.is_match(&text) && p.dependency.is_match(head) {
                s.dependency_total += 1;
                if let Some(c) = p.host.captures(head) {
                    let host = ["url", "ip", "hp", "name"]
                        .iter()
                        .find_map(|k| c.name(k))
                        .map(|m| m.as_str().to_ascii_lowercase());
                    if let Some(host) = host {
                        if s.dependency.len() < 1000 || s.dependency.contains_key(&host) {
                            s.dependency.entry(host).or_default().add(&e, sample());
                        }
                    }
                }
            }
            if let Some(c) = p.queries_per_request.captures(head) {
                if let Some(n) = c.get(1).and_then(|m| m.as_str().parse::<u32>().ok()) {
                    s.max_queries_per_request = s.max_queries_per_request.max(n);
                }
            }
            if let (Some(q), Some(r)) = (p.query.captures(head), &request) {
                let tpl = message_template(&q[1]);
                let tpl = tpl
                    .split(" req_id")
                    .next()
                    .unwrap_or(&tpl)
                    .trim_end_matches(|c: char| {
                        c == '('
                            || c == '<'
                            || c == '*'
                            || c == '>'
                            || c == ')'
                            || c.is_whitespace()
                    })
                    .to_string();
                if s.requests.len() >= MAX_REQUESTS && !s.requests.contains_key(r) {
                    let done = std::mem::take(&mut s.requests);
                    for (_, req) in done {
                        close_request(self.n_plus_one, req, &mut s.n_plus_one);
                    }
                }
                let req = s.requests.entry(r.clone()).or_default();
                if req.queries.len() < 64 || req.queries.contains_key(&tpl) {
                    req.queries
                        .entry(tpl)
                        .or_insert_with(|| (0, head.to_string()))
                        .0 += 1;
                }
                if req.at.is_none() {
                    req.at = e.at;
                }
            }
        });
        for (id, req) in std::mem::take(&mut s.requests) {
            let at = req.at;
            let before = s.n_plus_one.values().map(|v| v.0).sum::<u64>();
            close_request(self.n_plus_one, req, &mut s.n_plus_one);
            let after = s.n_plus_one.values().map(|v| v.0).sum::<u64>();
            if after > before {
                // Remember the request for location lookup.
                if let Some((_, _, hits)) = s.n_plus_one.values_mut().max_by_key(|v| v.0) {
                    if hits.samples.len() < MAX_SAMPLES {
                        hits.samples.push(Sample {
                            at,
                            source: String::new(),
                            request: Some(id),
                            own: None,
                            headline: String::new(),
                        });
                    }
                }
            }
        }
        s.traces.sort_by_key(|t| t.at);
        s
    }
}

fn close_request(threshold: u32, req: Request, out: &mut FxHashMap<String, (u64, u32, Hits)>) {
    for (tpl, (n, example)) in req.queries {
        if n >= threshold {
            let e = out.entry(tpl).or_default();
            e.0 += 1;
            e.1 = e.1.max(n);
            e.2.count += u64::from(n);
            if e.2.first.is_none_or(|f| req.at.is_some_and(|a| a < f)) {
                e.2.first = req.at;
            }
            if e.2.examples.len() < 2 {
                e.2.examples
                    .push(format!("{example}   (×{n} in this request)"));
            }
        }
    }
}

/// The code location the samples point at: a trace in the same entry, else one with the same
/// request id, else one from the same source within a second; the most voted location wins.
fn locate(scan: &Scan, samples: &[Sample]) -> Option<(SourceLocation, String, usize)> {
    let mut votes: FxHashMap<&SourceLocation, (usize, &str)> = FxHashMap::default();
    let second = chrono::Duration::seconds(1);
    for s in samples {
        let found: Option<(&SourceLocation, &str)> = if let Some(own) = &s.own {
            scan.traces
                .iter()
                .find(|t| &t.location == own)
                .map(|t| (&t.location, t.headline.as_str()))
        } else {
            None
        };
        let found = found
            .or_else(|| {
                let r = s.request.as_deref()?;
                scan.traces
                    .iter()
                    .filter(|t| t.request.as_deref() == Some(r))
                    .min_by_key(|t| match (t.at, s.at) {
                        (Some(a), Some(b)) => (a - b).num_milliseconds().abs(),
                        _ => i64::MAX,
                    })
                    .map(|t| (&t.location, t.headline.as_str()))
            })
            .or_else(|| {
                let at = s.at?;
                if s.source.is_empty() {
                    return None;
                }
                let lo = scan.traces.partition_point(|t| t.at < Some(at - second));
                scan.traces[lo..]
                    .iter()
                    .take_while(|t| t.at <= Some(at + second))
                    .filter(|t| t.source == s.source)
                    .min_by_key(|t| {
                        let d = t.at.map_or(i64::MAX, |a| (a - at).num_milliseconds().abs());
                        // Prefer a trace whose message shares words with the line.
                        let shared = shared_prefix_words(&t.headline, &s.headline);
                        d - 500 * shared as i64
                    })
                    .map(|t| (&t.location, t.headline.as_str()))
            });
        if let Some((l, h)) = found {
            votes.entry(l).or_insert((0, h)).0 += 1;
        }
    }
    let ((loc, (n, headline)), total) = {
        let total: usize = votes.values().map(|v| v.0).sum();
        let best = votes
            .into_iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| b.0.cmp(a.0)))?;
        (best, total)
    };
    let _ = total;
    (n * 5 >= samples.len().min(20)).then(|| (loc.clone(), headline.to_string(), n))
}

fn shared_prefix_words(a: &str, b: &str) -> usize {
    let wa: BTreeSet<&str> = a.split_whitespace().filter(|w| w.len() > 3).collect();
    b.split_whitespace()
        .filter(|w| w.len() > 3 && wa.contains(w))
        .count()
        .min(8)
}

fn events_matching<'a>(
    evidence: &'a Evidence,
    f: impl Fn(&rollback_core::PlatformEvent) -> bool + 'a,
) -> Vec<&'a rollback_core::PlatformEvent> {
    evidence.events.iter().filter(|e| f(e)).collect()
}

fn event_line(e: &rollback_core::PlatformEvent) -> String {
    format!(
        "{} {} {} ×{}: {}",
        e.at.format("%H:%M:%S"),
        e.reason,
        e.object,
        e.count,
        e.message
    )
}

/// Whether a count in the failing release is clearly above the baseline's (share of log entries,
/// baseline floored at one).
fn elevated(f: u64, f_total: u64, b: u64, b_total: u64) -> bool {
    if f == 0 {
        return false;
    }
    if b == 0 || b_total == 0 {
        return true;
    }
    let rf = f as f64 / f_total.max(1) as f64;
    let rb = b as f64 / b_total as f64;
    rf >= 3.0 * rb
}

struct Ctx<'a> {
    incident: &'a Incident,
    version: String,
    base: String,
}

impl Ctx<'_> {
    fn finding(
        &self,
        kind: FindingKind,
        severity: Severity,
        title: impl Into<String>,
        summary: impl Into<String>,
    ) -> Finding {
        let _ = self.incident;
        Finding::new(NAME, kind, severity, title, summary)
    }
}

fn attach(f: &mut Finding, scan: &Scan, samples: &[Sample]) {
    if let Some((loc, headline, n)) = locate(scan, samples) {
        f.evidence.push(format!(
            "stack trace next to {n} of these lines: {} at {loc}{}",
            clip(&headline, 140),
            loc.function
                .as_deref()
                .map(|fun| format!(" in {fun}"))
                .unwrap_or_default()
        ));
        f.location = Some(loc);
    }
}

fn hits_evidence(f: &mut Finding, h: &Hits, what: &str, version: &str) {
    let span = match (h.first, h.last) {
        (Some(a), Some(b)) if a != b => {
            format!(
                " between {} and {}",
                a.format("%H:%M:%S"),
                b.format("%H:%M:%S")
            )
        }
        (Some(a), _) => format!(" at {}", a.format("%H:%M:%S")),
        _ => String::new(),
    };
    f.evidence
        .push(format!("{} {what} in {version}{span}", thousands(h.count)));
    f.evidence.extend(h.examples.iter().take(2).cloned());
}

fn loc_text(f: &Finding) -> String {
    f.location
        .as_ref()
        .map(|l| format!(" at `{l}`"))
        .unwrap_or_default()
}

#[async_trait]
impl Analyzer for SignatureAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let fs = self.scan(&incident.failed_evidence);
        let bs = self.scan(&incident.baseline_evidence);
        let ctx = Ctx {
            incident,
            version: incident.failed.version.to_string(),
            base: baseline_name(incident),
        };
        let mut out = Vec::new();
        let rev = &incident.failed.revision;
        let since = since_deploy(incident);
        let ev = &incident.failed_evidence;

        // Events: OOM kills, crash loops, restarts.
        let oom_events = events_matching(ev, |e| {
            e.reason.contains("OOMKill")
                || e.message.contains("OOMKilled")
                || e.message.contains("exit code 137")
                || e.message.contains("OutOfMemory")
        });
        let oom_kills: u64 = oom_events.iter().map(|e| u64::from(e.count.max(1))).sum();
        let backoff = events_matching(ev, |e| {
            e.reason.contains("BackOff")
                || e.reason.contains("CrashLoop")
                || e.message.contains("Back-off restarting")
                || e.message.contains("CrashLoopBackOff")
        });
        let restarts: u64 = backoff.iter().map(|e| u64::from(e.count.max(1))).sum();
        let restart_boots = fs
            .boots
            .count
            .saturating_sub(u64::from(incident.failed.replicas.desired.max(1)));

        // 1. Memory leak / heap exhaustion.
        let mem = merged(incident, &MetricKind::MemoryBytes, rev);
        let mem: Vec<_> = mem.into_iter().filter(|p| p.at >= since).collect();
        let util = merged(incident, &MetricKind::MemoryUtilization, rev);
        let growth = trend(&mem).and_then(|(slope, r2)| {
            let first = mem.first()?.value;
            let peak = mem.iter().map(|p| p.value).max_by(f64::total_cmp)?;
            let rising = mem.windows(2).filter(|w| w[1].value >= w[0].value).count() as f64
                / (mem.len() - 1).max(1) as f64;
            (slope > 0.0 && r2 >= 0.5 && peak >= first * 1.5 && rising >= 0.5)
                .then_some((first, peak, slope))
        });
        let stable_growth = incident.stable.as_ref().and_then(|s| {
            let m = merged(incident, &MetricKind::MemoryBytes, &s.revision);
            trend(&m).map(|(slope, _)| slope)
        });
        let oom_lines = elevated(fs.heap_oom.count, fs.entries, bs.heap_oom.count, bs.entries);
        if growth.is_some() || oom_lines {
            let util_last = util.last().map(|p| p.value);
            let critical = oom_lines || oom_kills > 0 || util_last.is_some_and(|u| u >= 90.0);
            let title = if growth.is_some() {
                "Memory leak: memory grows until the process runs out of memory"
            } else {
                "Out of memory: the heap is exhausted"
            };
            let mut summary = String::new();
            if let Some((first, peak, slope)) = growth {
                summary.push_str(&format!(
                    "Memory of {} grew steadily from {:.0} MB to {:.0} MB (+{:.0} MB/min)",
                    ctx.version,
                    first / 1e6,
                    peak / 1e6,
                    slope / 1e6
                ));
                if let Some(u) = util_last {
                    summary.push_str(&format!(", {u:.0}% of its limit"));
                }
                summary.push_str(". ");
            }
            if fs.heap_oom.count > 0 {
                summary.push_str(&format!(
                    "The runtime reported heap exhaustion {} times",
                    thousands(fs.heap_oom.count)
                ));
                summary.push_str(if oom_kills > 0 { "; " } else { "." });
            }
            if oom_kills > 0 {
                summary.push_str(&format!(
                    "the platform OOM-killed containers {} times.",
                    thousands(oom_kills)
                ));
            }
            let mut f = ctx.finding(
                FindingKind::Cause,
                if critical {
                    Severity::Critical
                } else {
                    Severity::High
                },
                title,
                summary.trim().to_string(),
            );
            f.confidence = if growth.is_some() && oom_lines {
                0.95
            } else {
                0.8
            };
            f.at = mem
                .iter()
                .zip(mem.iter().skip(1))
                .find(|(a, b)| b.value > a.value * 1.05)
                .map(|(a, _)| a.at)
                .or(fs.heap_oom.first);
            if let Some((first, peak, slope)) = growth {
                f.evidence.push(format!(
                    "memory_bytes {:.0} MB → {:.0} MB, slope +{:.1} MB/min{}",
                    first / 1e6,
                    peak / 1e6,
                    slope / 1e6,
                    stable_growth
                        .map(|s| format!(" ({} : {:+.1} MB/min)", ctx.base, s / 1e6))
                        .unwrap_or_default()
                ));
                if let (Some(u), Some((us, _))) = (util_last, trend(&util)) {
                    if us > 0.0 && u < 100.0 {
                        f.evidence.push(format!(
                            "memory at {u:.0}% of the limit, reaching 100% in about {:.0} min at this rate",
                            (100.0 - u) / us
                        ));
                    }
                }
            }
            if fs.heap_oom.count > 0 {
                hits_evidence(&mut f, &fs.heap_oom, "out-of-memory errors", &ctx.version);
            }
            if fs.memory_pressure.count > 0 {
                f.evidence.push(format!(
                    "{} memory-pressure warnings, e.g.: {}",
                    thousands(fs.memory_pressure.count),
                    fs.memory_pressure
                        .examples
                        .first()
                        .map_or("", |s| s.as_str())
                ));
            }
            for e in oom_events.iter().take(3) {
                f.evidence.push(event_line(e));
            }
            let mut samples = fs.heap_oom.samples.clone();
            samples.extend(
                fs.memory_pressure
                    .samples
                    .iter()
                    .filter(|s| s.own.is_some())
                    .cloned(),
            );
            attach(&mut f, &fs, &samples);
            let removed = removed_limits(incident);
            if !removed.is_empty() {
                f.evidence.push(format!(
                    "set in {} but not in {}: {}",
                    ctx.base,
                    ctx.version,
                    removed.join(", ")
                ));
            }
            f.impact = Some(format!(
                "Containers of {} exhaust their memory and restart{}; requests in flight fail and latency rises during garbage collection.",
                ctx.version,
                if restarts > 0 { format!(" ({} restarts)", thousands(restarts)) } else { String::new() }
            ));
            f.recommendation = Some(format!(
                "Bound what grows{}: give the cache or collection a maximum size with eviction (LRU) or a TTL, or release the references it keeps{}; compare heap snapshots of {} and {} to confirm.",
                loc_text(&f),
                if removed.is_empty() { String::new() } else { format!(" (restore {})", removed.join(", ")) },
                ctx.base,
                ctx.version
            ));
            out.push(f);
        } else if oom_kills > 0 {
            let mut f = ctx.finding(
                FindingKind::Cause,
                Severity::High,
                "Containers killed for exceeding their memory limit",
                format!(
                    "The platform OOM-killed containers of {} {} times.",
                    ctx.version,
                    thousands(oom_kills)
                ),
            );
            f.confidence = 0.75;
            f.at = oom_events.first().map(|e| e.at);
            for e in oom_events.iter().take(4) {
                f.evidence.push(event_line(e));
            }
            f.recommendation = Some(
                "Compare the memory profile with the baseline; raise the memory limit only if the new release legitimately needs more.".into(),
            );
            out.push(f);
        }

        // 2. N+1 queries.
        let mut plus: Vec<(&String, &(u64, u32, Hits))> = fs.n_plus_one.iter().collect();
        plus.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(b.0)));
        if let Some((tpl, (requests, max, hits))) = plus.first() {
            let in_base = bs.n_plus_one.get(*tpl).map_or(0, |v| v.0);
            let mut f = ctx.finding(
                FindingKind::Cause,
                if in_base == 0 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                "N+1 query pattern: one query per item inside a request",
                format!(
                    "{} requests of {} ran the same query up to {max} times each (`{}`){}.",
                    thousands(*requests),
                    ctx.version,
                    clip(tpl, 120),
                    if in_base == 0 {
                        format!("; {} never did", ctx.base)
                    } else {
                        format!("; {} did in {} requests", ctx.base, thousands(in_base))
                    }
                ),
            );
            f.confidence = if in_base == 0 { 0.9 } else { 0.6 };
            f.at = hits.first;
            f.evidence.push(format!(
                "{} requests with ≥ {} `{}` queries each (max {max}) in {}, {} in {}",
                thousands(*requests),
                self.n_plus_one,
                clip(tpl, 100),
                ctx.version,
                thousands(in_base),
                ctx.base
            ));
            if fs.max_queries_per_request >= self.n_plus_one {
                f.evidence.push(format!(
                    "up to {} queries per request reported by the service (baseline: {})",
                    fs.max_queries_per_request, bs.max_queries_per_request
                ));
            }
            f.evidence.extend(hits.examples.iter().cloned());
            attach(&mut f, &fs, &hits.samples);
            f.impact = Some(
                "Each request holds a database connection for dozens of round trips: latency grows with the page size and the connection pool runs dry under load.".into(),
            );
            f.recommendation = Some(format!(
                "Load the related rows in one query{} (a JOIN, `WHERE … IN (…)` or the ORM's eager loading / DataLoader batching) instead of one query per item.",
                loc_text(&f)
            ));
            out.push(f);
        }

        // 3. Connection-pool exhaustion.
        if elevated(fs.pool.count, fs.entries, bs.pool.count, bs.entries) && fs.pool.count >= 2 {
            let mut f = ctx.finding(
                FindingKind::Cause,
                Severity::High,
                "Database connection pool exhausted",
                format!(
                    "Requests of {} waited for a database connection and timed out {} times.",
                    ctx.version,
                    thousands(fs.pool.count)
                ),
            );
            f.confidence = 0.75;
            f.at = fs.pool.first;
            hits_evidence(&mut f, &fs.pool, "pool timeouts", &ctx.version);
            attach(&mut f, &fs, &fs.pool.samples);
            f.impact = Some("Requests queue for connections and fail with timeouts (5xx).".into());
            f.recommendation = Some(format!(
                "Find what holds connections{}: long transactions, N+1 query loops, connections not returned to the pool; set query timeouts, then size the pool to the database's limits.",
                loc_text(&f)
            ));
            out.push(f);
        }

        // 4. Unhandled rejection / uncaught exception → process exits.
        let exits = fs.exit.count + restart_boots + restarts;
        for (hits, base_hits, rejection) in [
            (&fs.rejection, &bs.rejection, true),
            (&fs.uncaught, &bs.uncaught, false),
        ] {
            if !elevated(hits.count, fs.entries, base_hits.count, bs.entries) {
                continue;
            }
            let crashes = exits > 0;
            let go_or_rust_panic = hits.examples.iter().any(|x| x.contains("panic"));
            let title = if rejection {
                "Unhandled promise rejection crashes the process (missing error handling)"
            } else if go_or_rust_panic {
                "Unrecovered panic crashes the process"
            } else {
                "Uncaught exception (missing error handling)"
            };
            let mut f = ctx.finding(
                FindingKind::Cause,
                if crashes {
                    Severity::Critical
                } else {
                    Severity::High
                },
                title,
                format!(
                    "{} {} in {}{}.",
                    thousands(hits.count),
                    if rejection {
                        "unhandled promise rejections"
                    } else {
                        "uncaught exceptions or panics"
                    },
                    ctx.version,
                    if crashes {
                        format!(
                            ", followed by {} process exits or restarts",
                            thousands(exits)
                        )
                    } else {
                        String::new()
                    }
                ),
            );
            f.confidence = if crashes { 0.9 } else { 0.75 };
            f.at = hits.first;
            hits_evidence(&mut f, hits, "unhandled errors", &ctx.version);
            if fs.exit.count > 0 {
                f.evidence.push(format!(
                    "{} process exits, e.g.: {}",
                    thousands(fs.exit.count),
                    fs.exit.examples.first().map_or("", |s| s.as_str())
                ));
            }
            if restart_boots > 0 {
                f.evidence.push(format!(
                    "{} restarts seen as start-up lines",
                    thousands(restart_boots)
                ));
            }
            attach(&mut f, &fs, &hits.samples);
            f.impact = Some(
                "The process exits on the error: every request in flight on that instance fails and capacity drops while it restarts.".into(),
            );
            f.recommendation = Some(if rejection {
                format!(
                    "Await the promise and handle its failure{} (try/catch around the await, or `.catch`), answer the request with an error instead of crashing; add a timeout/fallback for the call that fails.",
                    loc_text(&f)
                )
            } else {
                format!(
                    "Handle the error where it is raised{} (check the value before use, catch and answer with an error); keep a last-resort handler that logs and keeps serving.",
                    loc_text(&f)
                )
            });
            out.push(f);
        }

        // 5. Crash loop.
        if restarts > 0 {
            let mut f = ctx.finding(
                FindingKind::Symptom,
                Severity::High,
                "Crash loop: containers keep restarting",
                format!(
                    "The platform restarted containers of {} {} times (back-off){}.",
                    ctx.version,
                    thousands(restarts),
                    if oom_kills > 0 {
                        format!(", {} of them OOM kills", thousands(oom_kills))
                    } else {
                        String::new()
                    }
                ),
            );
            f.confidence = 0.85;
            f.at = backoff.first().map(|e| e.at);
            for e in backoff.iter().take(4) {
                f.evidence.push(event_line(e));
            }
            out.push(f);
        }

        // 6. Dependency failure: errors concentrated on one downstream host.
        let mut deps: Vec<(&String, &Hits)> = fs.dependency.iter().collect();
        deps.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        if let Some((host, hits)) = deps.first() {
            let base_n = bs.dependency.get(*host).map_or(0, |h| h.count);
            let share = hits.count as f64 / fs.dependency_total.max(1) as f64;
            if hits.count >= 5
                && share >= 0.5
                && elevated(hits.count, fs.entries, base_n, bs.entries)
            {
                let mut f = ctx.finding(
                    FindingKind::Cause,
                    Severity::High,
                    format!("Dependency failure: {host} times out or refuses connections"),
                    format!(
                        "{} calls from {} to {host} failed (timeouts, refused or reset connections), {:.0}% of all such errors; {} in {}.",
                        thousands(hits.count),
                        ctx.version,
                        share * 100.0,
                        thousands(base_n),
                        ctx.base
                    ),
                );
                f.confidence = 0.75;
                f.at = hits.first;
                hits_evidence(
                    &mut f,
                    hits,
                    &format!("failed calls to {host}"),
                    &ctx.version,
                );
                attach(&mut f, &fs, &hits.samples);
                f.impact = Some(format!(
                    "Requests that need {host} fail or wait for the full timeout."
                ));
                f.recommendation = Some(format!(
                    "Check {host} (health, network policy, credentials, address in the new configuration); give the client a short timeout, retries with back-off and a circuit breaker{}.",
                    loc_text(&f)
                ));
                out.push(f);
            }
        }

        // 7. Configuration error at start-up.
        if elevated(fs.config.count, fs.entries, bs.config.count, bs.entries) {
            let at_boot = fs
                .config
                .first
                .is_some_and(|t| t <= since + chrono::Duration::minutes(3))
                || fs.boots.count > 0
                || fs.exit.count > 0;
            if at_boot {
                let names: Vec<String> = fs.config_names.iter().cloned().collect();
                let mut f = ctx.finding(
                    FindingKind::Cause,
                    if fs.exit.count > 0 || restarts > 0 {
                        Severity::Critical
                    } else {
                        Severity::High
                    },
                    if names.is_empty() {
                        "Configuration error at start-up".to_string()
                    } else {
                        format!("Configuration error at start-up: {}", names.join(", "))
                    },
                    format!(
                        "{} reported missing or invalid configuration {} times{}.",
                        ctx.version,
                        thousands(fs.config.count),
                        if fs.exit.count > 0 {
                            ", then exited"
                        } else {
                            ""
                        }
                    ),
                );
                f.confidence = 0.85;
                f.at = fs.config.first;
                hits_evidence(&mut f, &fs.config, "configuration errors", &ctx.version);
                let removed = removed_env(incident);
                let related: Vec<&String> = removed
                    .iter()
                    .filter(|r| names.iter().any(|n| r.ends_with(n.as_str())))
                    .collect();
                if !removed.is_empty() {
                    f.evidence.push(format!(
                        "set for {} but not for {}: {}",
                        ctx.base,
                        ctx.version,
                        removed.join(", ")
                    ));
                }
                attach(&mut f, &fs, &fs.config.samples);
                f.impact =
                    Some("The service cannot start: no capacity from the new release.".into());
                f.recommendation = Some(if related.is_empty() {
                    "Provide the missing setting in the deployment (environment, config map, secret reference) and validate configuration in CI before deploying.".to_string()
                } else {
                    format!(
                        "Restore {} in the deployment of {}, and validate configuration in CI before deploying.",
                        related.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                        ctx.version
                    )
                });
                out.push(f);
            }
        }

        // 8. Latency regression without errors; 9. CPU saturation.
        let tail_start = incident.window.end - (incident.window.end - since) / 3;
        let p95 = MetricKind::Latency(Quantile::P95);
        let lat_f = mean_since(&merged(incident, &p95, rev), tail_start);
        let err_f = mean_since(&merged(incident, &MetricKind::ErrorRate, rev), tail_start);
        let stable_rev = incident.stable.as_ref().map(|s| s.revision.as_str());
        let stable_mean = |k: &MetricKind| {
            stable_rev.and_then(|r| {
                let s = merged(incident, k, r);
                s.iter()
                    .map(|p| p.value)
                    .sum::<f64>()
                    .checked_div_len(s.len())
            })
        };
        let lat_b = stable_mean(&p95);
        let err_b = stable_mean(&MetricKind::ErrorRate).unwrap_or(0.0);
        if let (Some(lf), Some(lb)) = (lat_f, lat_b) {
            let quiet = err_f.is_none_or(|e| e < (err_b * 2.0).max(err_b + 0.005));
            if lb > 0.0 && lf >= 2.0 * lb && quiet {
                let mut f = ctx.finding(
                    FindingKind::Cause,
                    Severity::Medium,
                    "Latency regression without errors",
                    format!(
                        "p95 latency of {} is {lf:.0} ms against {lb:.0} ms for {} ({:.1}×) while the error rate stays normal.",
                        ctx.version, ctx.base, lf / lb
                    ),
                );
                f.confidence = 0.7;
                f.evidence.push(format!(
                    "p95 {lf:.0} ms vs {lb:.0} ms; error rate {:.2}% vs {:.2}%",
                    err_f.unwrap_or(0.0) * 100.0,
                    err_b * 100.0
                ));
                f.recommendation = Some("Profile the slow path of the new release (new queries, synchronous calls, missing indexes, smaller caches) and compare traces with the baseline.".into());
                out.push(f);
            }
        }
        let cpu = mean_since(
            &merged(incident, &MetricKind::CpuUtilization, rev),
            tail_start,
        );
        let cpu_b = stable_mean(&MetricKind::CpuUtilization);
        if cpu.is_some_and(|c| c >= 90.0) || fs.throttle.count >= 3 {
            let c = cpu.unwrap_or(0.0);
            let mut f = ctx.finding(
                FindingKind::Symptom,
                Severity::High,
                if fs.throttle.count >= 3 {
                    "CPU throttling"
                } else {
                    "CPU saturation"
                },
                format!(
                    "CPU of {} averaged {c:.0}% of its limit at the end of the window{}.",
                    ctx.version,
                    cpu_b
                        .map(|b| format!(" ({} : {b:.0}%)", ctx.base))
                        .unwrap_or_default()
                ),
            );
            f.confidence = 0.7;
            if fs.throttle.count > 0 {
                hits_evidence(&mut f, &fs.throttle, "throttling messages", &ctx.version);
            }
            f.recommendation = Some("Find the hot path (profile); garbage collection under memory pressure and per-item query loops show up as CPU too.".into());
            out.push(f);
        }
        Ok(out)
    }
}

trait CheckedDivLen {
    fn checked_div_len(self, n: usize) -> Option<f64>;
}

impl CheckedDivLen for f64 {
    fn checked_div_len(self, n: usize) -> Option<f64> {
        (n > 0).then(|| self / n as f64)
    }
}

/// `env.*` names set for the stable release but not for the failed one.
fn removed_env(incident: &Incident) -> Vec<String> {
    let Some(stable) = &incident.stable else {
        return Vec::new();
    };
    stable
        .attributes
        .keys()
        .filter(|k| k.starts_with("env.") && !incident.failed.attributes.contains_key(*k))
        .cloned()
        .collect()
}

/// Removed settings whose names suggest a size or memory limit.
fn removed_limits(incident: &Incident) -> Vec<String> {
    let Some(stable) = &incident.stable else {
        return Vec::new();
    };
    stable
        .attributes
        .keys()
        .filter(|k| !incident.failed.attributes.contains_key(*k))
        .filter(|k| {
            let u = k.to_ascii_uppercase();
            [
                "MAX", "LIMIT", "SIZE", "EVICT", "TTL", "CAPACITY", "HEAP", "MEMORY",
            ]
            .iter()
            .any(|w| u.contains(w))
        })
        .cloned()
        .collect()
}
