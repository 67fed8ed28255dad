//! Scenario files: the TOML format that describes a simulated deployment and how it fails.
//!
//! A scenario is parsed with unknown fields refused, then validated; every validation error
//! names the field path and says what is accepted, e.g.
//! `releases[2].error_rate: -1 is out of range, expected 0..=1`.
//!
//! # Format
//!
//! ```toml
//! name = "example"
//! description = "v2 fails after its deploy; v1 is warm on green"
//! seed = 7
//! now = "2024-01-15T14:30:00Z"      # RFC 3339: when the rollback starts
//! environment = "production"         # dev | staging | production
//! deployment = "api-service"
//! namespace = "payments"             # optional
//! router = "blue-green"              # blue-green | weighted | none
//! request_rate = 40.0                # req/s the whole deployment receives (default 50)
//! rollout_time = "20s"               # revert: new pods ready after this (default 20s)
//! startup_time = "15s"               # scale up: new pods ready after this (default 15s)
//! traffic = { "v2.0.0" = 100 }       # version → percent; sums to 100
//!
//! [[releases]]                       # newest first
//! version = "v2.0.0"
//! slot = "blue"
//! state = "serving"                  # serving | standby | inactive
//! mark = "unknown"                   # unknown | verified | failed
//! replicas = 4                       # or { desired = 4, ready = 3 }
//! deployed_at = "-9m"                # RFC 3339, or an offset before `now`
//! error_rate = 0.0002                # baseline health: ratio 0..=1
//! latency_p95 = 90.0                 # ms (also latency_p50, latency_p99)
//! cpu = 40.0                         # percent (also memory; memory_bytes; uptime 0..=1)
//! status_codes = { "500" = 0.7, "503" = 0.3 }  # shares of failed requests
//!
//! [[releases.failures]]              # error_rate | latency | cpu | memory | memory_growth | crash_loop
//! kind = "error_rate"
//! onset = "2m30s"                    # after the deploy (or first traffic, see below)
//! over = "1m"                        # ramp length; the value holds (noise-free) afterwards
//! to = 0.05
//!
//! [[releases.logs]]
//! rate = 30                          # occurrences per minute (at 100 % traffic)
//! lines = ["{ts} INFO [api] GET /api/v1/users 200 {ms:5..80}ms req_id={req_id}"]
//!
//! [[releases.events]]
//! at = "6m"
//! level = "warning"
//! reason = "BackOff"
//! message = "Back-off restarting failed container api in pod {pod}"
//!
//! [[faults]]
//! operation = "set_traffic"          # releases | traffic | health | set_traffic | revert | …
//! kind = "unavailable"               # unavailable | timed_out | conflict | permission_denied | backend | not_found
//! after = 1                          # let the first call through
//! times = 2                          # or "always"
//! latency = "2s"
//! ```
//!
//! Further release fields: `revision` (default derived from deployment and version),
//! `retired_at`, `attributes` (a string table: `image`, `env.NAME`, `resources.memory`),
//! `capacity_rps` (above this received rate the release overloads: errors and latency rise),
//! `noise` (relative noise amplitude, default 0.02), `degrades_after_traffic` (failure onsets
//! and event times count from the first time the release receives traffic in the simulation,
//! not from its deploy). Failure fields: `kind`, `onset`, `over`, `from`, `to`, and for
//! `memory_growth` `percent` (memory % reached at `to` bytes); for `crash_loop` `every`
//! (restart period per pod, default 1m), `unready` (pods not ready, default half) and `reason`
//! (`OOMKilled`, `Error`). Log lines may carry placeholders: `{ts}`, `{req_id}`, `{trace_id}`,
//! `{user_id}`, `{ms}`, `{ms:A..B}`, `{int:A..B}`, `{bytes:A..B}`, `{hex:N}`,
//! `{choice:a|b|c}`, `{heap_mb}`, `{heap_pct}`, `{pod}`, `{version}`, `{revision}`,
//! `{deployment}`, `{ip}`; `{{` and `}}` for braces. A line may be a table
//! `{ line = "…", repeat = "20..40" }`. Log `from`/`until` bound a template in time (offsets
//! like onsets), `traffic_scaled = false` keeps its rate when the release has no traffic.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::evidence::{parse_template, Part};
use super::fault::{Fault, FaultKind, Operation, Times};
use super::noise;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::model::evidence::EventLevel;
use crate::model::release::{Release, ReleaseMark, ReleaseState, Replicas};
use crate::model::target::{Environment, Target};
use crate::model::version::Version;
use crate::platform::Capabilities;

/// The name of the default builtin scenario: the spec's production incident.
pub const DEFAULT_SCENARIO: &str = "spec-incident";

const BUILTINS: [(&str, &str); 8] = [
    (
        "spec-incident",
        include_str!("../../scenarios/spec-incident.toml"),
    ),
    (
        "staging-canary",
        include_str!("../../scenarios/staging-canary.toml"),
    ),
    (
        "dev-no-bluegreen",
        include_str!("../../scenarios/dev-no-bluegreen.toml"),
    ),
    ("healthy", include_str!("../../scenarios/healthy.toml")),
    ("cascade", include_str!("../../scenarios/cascade.toml")),
    (
        "gradual-overload",
        include_str!("../../scenarios/gradual-overload.toml"),
    ),
    (
        "latency-regression",
        include_str!("../../scenarios/latency-regression.toml"),
    ),
    (
        "crash-loop",
        include_str!("../../scenarios/crash-loop.toml"),
    ),
];

/// How traffic reaches the releases of the simulated deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Router {
    /// Two slots; all traffic goes to one of them (`traffic_switch`).
    BlueGreen,
    /// Arbitrary weights (`traffic_switch` and `weighted_traffic`).
    Weighted,
    /// No router: traffic follows the workload; only `revert` moves it.
    None,
}

impl Router {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Router::BlueGreen => "blue-green",
            Router::Weighted => "weighted",
            Router::None => "none",
        }
    }

    /// What a simulated platform with this router supports: `revert`, `scale`, `evidence`,
    /// `lock` and `mark` always; `traffic_switch` unless the router is `none`; and
    /// `weighted_traffic` for `weighted`.
    pub fn capabilities(self) -> Capabilities {
        Capabilities {
            traffic_switch: self != Router::None,
            weighted_traffic: self == Router::Weighted,
            revert: true,
            scale: true,
            evidence: true,
            lock: true,
            mark: true,
        }
    }
}

/// A linear ramp of one metric from `from` (default: the value reached so far) to `to`, starting
/// `onset` seconds after the release's anchor and lasting `over` seconds; `to` holds afterwards.
#[derive(Debug, Clone)]
pub(crate) struct Ramp {
    pub onset: f64,
    pub over: f64,
    pub from: Option<f64>,
    pub to: f64,
}

/// Pods restarting over and over.
#[derive(Debug, Clone)]
pub(crate) struct CrashLoop {
    pub onset: f64,
    pub every: f64,
    pub unready: Option<u32>,
    pub reason: String,
}

/// A release's health over time.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub error_rate: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub cpu: f64,
    pub memory: f64,
    pub memory_bytes: f64,
    pub uptime: f64,
    pub capacity_rps: Option<f64>,
    pub noise: f64,
    /// Failure status codes with their shares (normalised to sum 1).
    pub codes: Vec<(u16, f64)>,
    pub degrades_after_traffic: bool,
    pub error_ramps: Vec<Ramp>,
    pub latency_ramps: Vec<Ramp>,
    pub cpu_ramps: Vec<Ramp>,
    pub memory_ramps: Vec<Ramp>,
    pub bytes_ramps: Vec<Ramp>,
    pub crash_loops: Vec<CrashLoop>,
}

/// One line of a log template.
#[derive(Debug, Clone)]
pub(crate) struct LineTemplate {
    pub parts: Vec<Part>,
    pub repeat: (u32, u32),
}

/// A kind of log output of a release, written at a rate.
#[derive(Debug, Clone)]
pub(crate) struct LogTemplate {
    pub rate: f64,
    pub from: Option<f64>,
    pub until: Option<f64>,
    pub traffic_scaled: bool,
    pub lines: Vec<LineTemplate>,
}

/// A platform event at a time relative to the release's anchor.
#[derive(Debug, Clone)]
pub(crate) struct EventSpec {
    pub at: f64,
    pub level: EventLevel,
    pub reason: String,
    pub object: Option<Vec<Part>>,
    pub message: Vec<Part>,
    pub count: u32,
}

/// A release as the scenario describes it.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseSpec {
    pub release: Release,
    pub profile: Profile,
    pub logs: Vec<LogTemplate>,
    pub events: Vec<EventSpec>,
}

/// A validated simulation scenario: a deployment, its releases with their health over time,
/// logs and events, and scheduled faults.
///
/// Load one from TOML with [`Scenario::from_toml`] or take a builtin with
/// [`Scenario::builtin`]. The format is described in the [module docs](self).
///
/// ```
/// use rollback_core::sim::Scenario;
/// let s = Scenario::builtin("spec-incident").unwrap();
/// assert_eq!(s.target().deployment, "api-service");
/// assert!(Scenario::builtin_names().contains(&"cascade"));
/// ```
#[derive(Debug, Clone)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) seed: u64,
    pub(crate) now: DateTime<Utc>,
    pub(crate) target: Target,
    pub(crate) router: Router,
    pub(crate) request_rate: f64,
    pub(crate) rollout_time: Duration,
    pub(crate) startup_time: Duration,
    pub(crate) call_latency: Duration,
    pub(crate) evidence_limit: usize,
    pub(crate) data_compatible: bool,
    pub(crate) releases: Arc<Vec<ReleaseSpec>>,
    /// Index into `releases` → percent.
    pub(crate) traffic: Vec<(usize, u8)>,
    pub(crate) faults: Vec<Fault>,
}

impl Scenario {
    /// Parses and validates a scenario file.
    ///
    /// Errors are [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field
    /// path and what is accepted.
    pub fn from_toml(text: &str) -> Result<Scenario> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            Error::invalid_input(format!(
                "scenario is not valid: {}",
                e.to_string().trim_end()
            ))
        })?;
        raw.validate()
    }

    /// A scenario shipped with the library, by name (see [`Scenario::builtin_names`]).
    pub fn builtin(name: &str) -> Result<Scenario> {
        let text = BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                Error::new(
                    crate::ErrorKind::NotFound,
                    format!(
                        "no builtin scenario named {name:?}: expected one of {}",
                        Self::builtin_names().join(", ")
                    ),
                )
            })?;
        Self::from_toml(text).map_err(|e| e.with_context("scenario", name))
    }

    /// The names of the builtin scenarios; the first is the default ([`DEFAULT_SCENARIO`]).
    pub fn builtin_names() -> &'static [&'static str] {
        const NAMES: [&str; 8] = [
            BUILTINS[0].0,
            BUILTINS[1].0,
            BUILTINS[2].0,
            BUILTINS[3].0,
            BUILTINS[4].0,
            BUILTINS[5].0,
            BUILTINS[6].0,
            BUILTINS[7].0,
        ];
        &NAMES
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it shows.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The seed of its noise and log generation.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The same scenario with another seed: same shapes, different noise and log details.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The wall-clock time at which the rollback starts.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// A clock that reads [`Scenario::now`] now and advances with tokio time.
    ///
    /// Must be called inside a tokio runtime.
    pub fn clock(&self) -> Clock {
        Clock::starting_at(self.now)
    }

    /// The deployment the scenario simulates.
    pub fn target(&self) -> Target {
        self.target.clone()
    }

    /// The router.
    pub fn router(&self) -> Router {
        self.router
    }

    /// What the simulated platform supports (from the router).
    pub fn capabilities(&self) -> Capabilities {
        self.router.capabilities()
    }

    /// The releases as they stand at [`Scenario::now`], newest first.
    pub fn releases(&self) -> Vec<Release> {
        self.releases.iter().map(|r| r.release.clone()).collect()
    }

    /// The faults the scenario schedules.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Requests per second the whole deployment receives.
    pub fn request_rate(&self) -> f64 {
        self.request_rate
    }
}

// ---------------------------------------------------------------------------------------------
// The file format as parsed, before validation.

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    now: String,
    environment: String,
    deployment: String,
    namespace: Option<String>,
    router: Option<String>,
    request_rate: Option<f64>,
    rollout_time: Option<String>,
    startup_time: Option<String>,
    call_latency: Option<String>,
    evidence_limit: Option<u32>,
    data_compatible: Option<bool>,
    #[serde(default)]
    traffic: BTreeMap<String, i64>,
    #[serde(default)]
    releases: Vec<RawRelease>,
    #[serde(default)]
    faults: Vec<RawFault>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    version: String,
    revision: Option<String>,
    slot: Option<String>,
    state: Option<String>,
    mark: Option<String>,
    replicas: Option<RawReplicas>,
    deployed_at: Option<String>,
    retired_at: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    error_rate: Option<f64>,
    latency_p50: Option<f64>,
    latency_p95: Option<f64>,
    latency_p99: Option<f64>,
    cpu: Option<f64>,
    memory: Option<f64>,
    memory_bytes: Option<f64>,
    uptime: Option<f64>,
    capacity_rps: Option<f64>,
    noise: Option<f64>,
    #[serde(default)]
    status_codes: BTreeMap<String, f64>,
    #[serde(default)]
    degrades_after_traffic: bool,
    #[serde(default)]
    failures: Vec<RawFailure>,
    #[serde(default)]
    logs: Vec<RawLog>,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RawReplicas {
    Count(i64),
    Detail(RawReplicaCounts),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplicaCounts {
    desired: i64,
    ready: Option<i64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFailure {
    kind: String,
    onset: Option<String>,
    over: Option<String>,
    from: Option<f64>,
    to: Option<f64>,
    percent: Option<f64>,
    every: Option<String>,
    unready: Option<i64>,
    reason: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    rate: f64,
    lines: Vec<RawLine>,
    from: Option<String>,
    until: Option<String>,
    traffic_scaled: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RawLine {
    Text(String),
    Repeated(RawRepeatedLine),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeatedLine {
    line: String,
    repeat: RawCount,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RawCount {
    Number(i64),
    Text(String),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    at: String,
    level: Option<String>,
    reason: String,
    message: String,
    object: Option<String>,
    count: Option<i64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    operation: String,
    kind: Option<String>,
    temporary: Option<bool>,
    after: Option<i64>,
    times: Option<RawCount>,
    latency: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Validation.

fn bad(path: impl std::fmt::Display, msg: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("{path}: {msg}"))
}

fn duration(path: &str, s: &str) -> Result<Duration> {
    humantime::parse_duration(s.trim()).map_err(|_| {
        bad(
            path,
            format!("{s:?} is not a duration, expected e.g. \"90s\", \"2m 30s\" or \"1h\""),
        )
    })
}

fn secs(path: &str, s: &Option<String>, default: f64) -> Result<f64> {
    match s {
        Some(s) => Ok(duration(path, s)?.as_secs_f64()),
        None => Ok(default),
    }
}

fn instant(path: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let t = s.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rest) = t.strip_prefix('-') {
        let d = duration(path, rest).map_err(|_| {
            bad(
                path,
                format!(
                    "{s:?} is not a time, expected RFC 3339 (\"2024-01-15T14:21:00Z\") or an \
                     offset before `now` (\"-9m\", \"-2d\")"
                ),
            )
        })?;
        let d = chrono::Duration::from_std(d)
            .map_err(|_| bad(path, format!("{s:?} is too far in the past")))?;
        return now
            .checked_sub_signed(d)
            .ok_or_else(|| bad(path, format!("{s:?} is too far in the past")));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            bad(
                path,
                format!(
                    "{s:?} is not a time, expected RFC 3339 (\"2024-01-15T14:21:00Z\") or an \
                     offset before `now` (\"-9m\", \"-2d\")"
                ),
            )
        })
}

fn in_range(path: &str, v: f64, lo: f64, hi: f64, accepted: &str) -> Result<f64> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(bad(
            path,
            format!("{v} is out of range, expected {accepted}"),
        ))
    }
}

fn positive(path: &str, v: f64, unit: &str) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(
            path,
            format!("{v} is out of range, expected a positive number of {unit}"),
        ))
    }
}

fn count_range(path: &str, c: &RawCount) -> Result<(u32, u32)> {
    let parse = |s: &str| s.trim().parse::<u32>().ok();
    let r = match c {
        RawCount::Number(n) => u32::try_from(*n).ok().map(|n| (n, n)),
        RawCount::Text(s) => match s.split_once("..") {
            Some((a, b)) => parse(a).zip(parse(b.trim_start_matches('='))),
            None => parse(s).map(|n| (n, n)),
        },
    };
    match r {
        Some((a, b)) if a <= b && b <= 10_000 => Ok((a, b)),
        _ => Err(bad(
            path,
            "is not a count, expected a number 0..=10000 or a range like \"20..40\"",
        )),
    }
}

impl RawScenario {
    fn validate(self) -> Result<Scenario> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(bad("name", "is empty, expected a short scenario name"));
        }
        let ctx = |e: Error| e.with_context("scenario", name.clone());
        self.validate_named(&name).map_err(ctx)
    }

    fn validate_named(self, name: &str) -> Result<Scenario> {
        let now = DateTime::parse_from_rfc3339(self.now.trim())
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                bad(
                    "now",
                    format!(
                        "{:?} is not a time, expected RFC 3339 like \"2024-01-15T14:30:00Z\"",
                        self.now
                    ),
                )
            })?;
        let environment: Environment = self.environment.parse().map_err(|_| {
            bad(
                "environment",
                format!(
                    "{:?} is not an environment, expected one of dev, staging, production",
                    self.environment
                ),
            )
        })?;
        let mut target = Target::new(environment, self.deployment.clone());
        if let Some(ns) = &self.namespace {
            target = target.with_namespace(ns.clone());
        }
        target
            .validate()
            .map_err(|e| bad("deployment/namespace", e.message()))?;
        let router = match self.router.as_deref().unwrap_or("blue-green") {
            "blue-green" | "bluegreen" => Router::BlueGreen,
            "weighted" => Router::Weighted,
            "none" => Router::None,
            other => {
                return Err(bad(
                    "router",
                    format!(
                        "{other:?} is not a router, expected one of blue-green, weighted, none"
                    ),
                ))
            }
        };
        let request_rate = match self.request_rate {
            Some(r) => positive("request_rate", r, "requests per second")?,
            None => 50.0,
        };
        let rollout_time = Duration::from_secs_f64(secs("rollout_time", &self.rollout_time, 20.0)?);
        let startup_time = Duration::from_secs_f64(secs("startup_time", &self.startup_time, 15.0)?);
        let call_latency = Duration::from_secs_f64(secs("call_latency", &self.call_latency, 0.0)?);
        let evidence_limit = match self.evidence_limit {
            Some(0) => {
                return Err(bad(
                    "evidence_limit",
                    "0 is out of range, expected 1 or more",
                ))
            }
            Some(n) => n as usize,
            None => 5000,
        };

        if self.releases.is_empty() {
            return Err(bad(
                "releases",
                "is empty, expected at least one [[releases]] entry",
            ));
        }
        let mut releases = Vec::with_capacity(self.releases.len());
        let mut versions: Vec<Version> = Vec::new();
        let mut revisions: HashSet<String> = HashSet::new();
        for (i, raw) in self.releases.into_iter().enumerate() {
            let spec = raw.validate(i, now, &self.deployment)?;
            if let Some(j) = versions.iter().position(|v| *v == spec.release.version) {
                return Err(bad(
                    format!("releases[{i}].version"),
                    format!(
                        "{} duplicates releases[{j}].version, expected each version once",
                        spec.release.version
                    ),
                ));
            }
            if !revisions.insert(spec.release.revision.clone()) {
                return Err(bad(
                    format!("releases[{i}].revision"),
                    format!(
                        "{:?} is used by another release, expected each revision once",
                        spec.release.revision
                    ),
                ));
            }
            versions.push(spec.release.version.clone());
            releases.push(spec);
        }
        // Newest first, by deploy time where known.
        for i in 1..releases.len() {
            let (a, b) = (&releases[i - 1].release, &releases[i].release);
            if let (Some(ta), Some(tb)) = (a.deployed_at, b.deployed_at) {
                if tb > ta {
                    return Err(bad(
                        format!("releases[{i}].deployed_at"),
                        format!(
                            "{} was deployed after releases[{}] ({}), expected releases listed \
                             newest first",
                            b.version,
                            i - 1,
                            a.version
                        ),
                    ));
                }
            }
        }
        // Inactive releases that served once stopped when the next one came.
        for i in 1..releases.len() {
            let next_deploy = releases[i - 1].release.deployed_at;
            let r = &mut releases[i].release;
            if r.state == ReleaseState::Inactive
                && r.retired_at.is_none()
                && r.deployed_at.is_some()
            {
                r.retired_at = next_deploy;
            }
        }

        // Traffic.
        let mut traffic = Vec::new();
        let mut sum: i64 = 0;
        for (version, percent) in &self.traffic {
            let path = format!("traffic.{version:?}");
            let idx = Version::parse(version)
                .ok()
                .and_then(|v| versions.iter().position(|x| *x == v))
                .ok_or_else(|| {
                    bad(
                        &path,
                        format!(
                            "{version} is not a release of this scenario, expected one of {}",
                            versions
                                .iter()
                                .map(|v| v.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            let p = u8::try_from(*percent)
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| {
                    bad(
                        &path,
                        format!("{percent} is out of range, expected 0..=100"),
                    )
                })?;
            sum += i64::from(p);
            if p > 0 {
                traffic.push((idx, p));
            }
        }
        if sum != 100 {
            return Err(bad(
                "traffic",
                format!("weights sum to {sum}, expected exactly 100"),
            ));
        }
        traffic.sort_by_key(|(i, _)| *i);
        for (i, spec) in releases.iter().enumerate() {
            let r = &spec.release;
            let weight = traffic.iter().find(|(j, _)| *j == i).map_or(0, |(_, p)| *p);
            if weight > 0 && r.state != ReleaseState::Serving {
                return Err(bad(
                    format!("releases[{i}].state"),
                    format!(
                        "{} receives {weight}% of traffic but is not serving, expected state \
                         \"serving\"",
                        r.version
                    ),
                ));
            }
            if weight > 0 && r.replicas.ready == 0 {
                return Err(bad(
                    format!("releases[{i}].replicas"),
                    format!(
                        "{} receives {weight}% of traffic with no ready replicas, expected at \
                         least 1 ready",
                        r.version
                    ),
                ));
            }
            if weight == 0 && r.state == ReleaseState::Serving {
                return Err(bad(
                    format!("releases[{i}].state"),
                    format!(
                        "{} is serving but receives no traffic, expected \"standby\" or \
                         \"inactive\" (or a share in `traffic`)",
                        r.version
                    ),
                ));
            }
        }
        if router != Router::Weighted && traffic.len() != 1 {
            return Err(bad(
                "traffic",
                format!(
                    "splits traffic between {} releases, but router {:?} sends all traffic to \
                     one release; expected one version at 100 (or router = \"weighted\")",
                    traffic.len(),
                    router.as_str()
                ),
            ));
        }

        let mut faults = Vec::new();
        for (i, f) in self.faults.into_iter().enumerate() {
            faults.push(f.validate(i)?);
        }

        Ok(Scenario {
            name: name.to_owned(),
            description: self.description,
            seed: self.seed,
            now,
            target,
            router,
            request_rate,
            rollout_time,
            startup_time,
            call_latency,
            evidence_limit,
            data_compatible: self.data_compatible.unwrap_or(true),
            releases: Arc::new(releases),
            traffic,
            faults,
        })
    }
}

impl RawRelease {
    fn validate(self, i: usize, now: DateTime<Utc>, deployment: &str) -> Result<ReleaseSpec> {
        let p = |field: &str| format!("releases[{i}].{field}");
        let version = Version::parse(&self.version).map_err(|e| bad(p("version"), e.message()))?;
        let revision = match self.revision {
            Some(r) if !r.trim().is_empty() => r,
            Some(_) => return Err(bad(p("revision"), "is empty, expected a revision name")),
            None => {
                let h = noise::key(0, &[deployment.as_bytes(), version.as_str().as_bytes()], 0);
                format!("{deployment}-{}", &format!("{h:016x}")[..9])
            }
        };
        let state = match self.state.as_deref() {
            Some("serving") => ReleaseState::Serving,
            Some("standby") => ReleaseState::Standby,
            Some("inactive") | None => ReleaseState::Inactive,
            Some(other) => {
                return Err(bad(
                    p("state"),
                    format!("{other:?} is not a state, expected one of serving, standby, inactive"),
                ))
            }
        };
        let mark = match self.mark.as_deref() {
            Some("unknown") | None => ReleaseMark::Unknown,
            Some("verified") => ReleaseMark::Verified,
            Some("failed") => ReleaseMark::Failed,
            Some(other) => {
                return Err(bad(
                    p("mark"),
                    format!("{other:?} is not a mark, expected one of unknown, verified, failed"),
                ))
            }
        };
        let replicas = match self.replicas {
            None if state == ReleaseState::Inactive => Replicas::default(),
            None => Replicas {
                desired: 3,
                ready: 3,
            },
            Some(raw) => {
                let (d, r) = match raw {
                    RawReplicas::Count(n) => (n, n),
                    RawReplicas::Detail(c) => (c.desired, c.ready.unwrap_or(c.desired)),
                };
                let desired = u32::try_from(d)
                    .ok()
                    .filter(|d| *d <= 10_000)
                    .ok_or_else(|| {
                        bad(
                            p("replicas"),
                            format!("{d} is out of range, expected 0..=10000"),
                        )
                    })?;
                let ready =
                    u32::try_from(r)
                        .ok()
                        .filter(|r| *r <= desired)
                        .ok_or_else(|| {
                            bad(
                        p("replicas.ready"),
                        format!("{r} is out of range, expected 0..={desired} (the desired count)"),
                    )
                        })?;
                Replicas { desired, ready }
            }
        };
        if state != ReleaseState::Inactive && replicas.desired == 0 {
            return Err(bad(
                p("replicas"),
                "is 0 for a running release, expected at least 1 (or state \"inactive\")",
            ));
        }
        if state == ReleaseState::Inactive && replicas.ready > 0 {
            return Err(bad(
                p("replicas"),
                "has ready replicas for an inactive release, expected 0 (or state \"standby\")",
            ));
        }
        let deployed_at = self
            .deployed_at
            .as_deref()
            .map(|s| instant(&p("deployed_at"), s, now))
            .transpose()?;
        let retired_at = self
            .retired_at
            .as_deref()
            .map(|s| instant(&p("retired_at"), s, now))
            .transpose()?;
        if deployed_at.is_none() && state != ReleaseState::Inactive {
            return Err(bad(
                p("deployed_at"),
                "is missing, expected an RFC 3339 time or an offset like \"-9m\" (required for \
                 serving and standby releases)",
            ));
        }
        if let Some(d) = deployed_at {
            if d > now {
                return Err(bad(
                    p("deployed_at"),
                    "is after `now`, expected a time before it",
                ));
            }
        }
        if let (Some(d), Some(r)) = (deployed_at, retired_at) {
            if r < d {
                return Err(bad(
                    p("retired_at"),
                    "is before deployed_at, expected a later time",
                ));
            }
        }
        if state == ReleaseState::Serving && retired_at.is_some() {
            return Err(bad(
                p("retired_at"),
                "is set on a serving release, expected it only on standby or inactive releases",
            ));
        }

        let mut attributes = self.attributes;
        for key in attributes.keys() {
            if key.trim().is_empty() {
                return Err(bad(
                    p("attributes"),
                    "has an empty key, expected names like \"image\"",
                ));
            }
        }
        attributes
            .entry("image".into())
            .or_insert_with(|| format!("registry.example.com/{deployment}:{version}"));

        // Baseline health.
        let error_rate = in_range(
            &p("error_rate"),
            self.error_rate.unwrap_or(0.0005),
            0.0,
            1.0,
            "0..=1",
        )?;
        let p95 = positive(
            &p("latency_p95"),
            self.latency_p95.unwrap_or(80.0),
            "milliseconds",
        )?;
        let p50 = positive(
            &p("latency_p50"),
            self.latency_p50.unwrap_or(p95 * 0.45),
            "milliseconds",
        )?;
        let p99 = positive(
            &p("latency_p99"),
            self.latency_p99.unwrap_or(p95 * 1.6),
            "milliseconds",
        )?;
        if !(p50 <= p95 && p95 <= p99) {
            return Err(bad(
                p("latency_p50"),
                format!(
                    "p50 {p50}, p95 {p95}, p99 {p99} are out of order, expected p50 <= p95 <= p99"
                ),
            ));
        }
        let cpu = in_range(
            &p("cpu"),
            self.cpu.unwrap_or(35.0),
            0.0,
            100.0,
            "0..=100 (percent)",
        )?;
        let memory = in_range(
            &p("memory"),
            self.memory.unwrap_or(50.0),
            0.0,
            100.0,
            "0..=100 (percent)",
        )?;
        let memory_bytes = in_range(
            &p("memory_bytes"),
            self.memory_bytes.unwrap_or(256e6),
            0.0,
            1e15,
            "0..=1e15 (bytes)",
        )?;
        let uptime = in_range(
            &p("uptime"),
            self.uptime.unwrap_or(0.9999),
            0.0,
            1.0,
            "0..=1",
        )?;
        let capacity_rps = self
            .capacity_rps
            .map(|c| positive(&p("capacity_rps"), c, "requests per second"))
            .transpose()?;
        let noise = in_range(
            &p("noise"),
            self.noise.unwrap_or(0.02),
            0.0,
            1.0,
            "0..=1 (relative amplitude)",
        )?;
        let mut codes = Vec::new();
        for (code, share) in &self.status_codes {
            let path = format!("releases[{i}].status_codes.{code:?}");
            let c: u16 = code
                .parse()
                .ok()
                .filter(|c| (400..=599).contains(c))
                .ok_or_else(|| bad(&path, "is not a failure status code, expected 400..=599"))?;
            let s = in_range(&path, *share, 0.0, 1e9, "a share >= 0")?;
            if s > 0.0 {
                codes.push((c, s));
            }
        }
        if codes.is_empty() {
            codes.push((500, 1.0));
        }
        let total: f64 = codes.iter().map(|(_, s)| s).sum();
        for (_, s) in &mut codes {
            *s /= total;
        }

        let mut profile = Profile {
            error_rate,
            p50,
            p95,
            p99,
            cpu,
            memory,
            memory_bytes,
            uptime,
            capacity_rps,
            noise,
            codes,
            degrades_after_traffic: self.degrades_after_traffic,
            error_ramps: Vec::new(),
            latency_ramps: Vec::new(),
            cpu_ramps: Vec::new(),
            memory_ramps: Vec::new(),
            bytes_ramps: Vec::new(),
            crash_loops: Vec::new(),
        };
        if !self.failures.is_empty() && deployed_at.is_none() && !self.degrades_after_traffic {
            return Err(bad(
                p("failures"),
                "need a time to count onsets from, expected deployed_at (or \
                 degrades_after_traffic = true)",
            ));
        }
        for (j, f) in self.failures.into_iter().enumerate() {
            f.validate(&format!("releases[{i}].failures[{j}]"), &mut profile)?;
        }
        for ramps in [
            &mut profile.error_ramps,
            &mut profile.latency_ramps,
            &mut profile.cpu_ramps,
            &mut profile.memory_ramps,
            &mut profile.bytes_ramps,
        ] {
            ramps.sort_by(|a, b| a.onset.total_cmp(&b.onset));
        }
        profile
            .crash_loops
            .sort_by(|a, b| a.onset.total_cmp(&b.onset));

        let mut logs = Vec::new();
        for (j, l) in self.logs.into_iter().enumerate() {
            let path = format!("releases[{i}].logs[{j}]");
            let rate = in_range(
                &format!("{path}.rate"),
                l.rate,
                0.0,
                1e6,
                "0..=1000000 (per minute)",
            )?;
            if l.lines.is_empty() {
                return Err(bad(
                    format!("{path}.lines"),
                    "is empty, expected at least one line",
                ));
            }
            let mut lines = Vec::new();
            for (k, line) in l.lines.into_iter().enumerate() {
                let lp = format!("{path}.lines[{k}]");
                let (text, repeat) = match line {
                    RawLine::Text(t) => (t, (1, 1)),
                    RawLine::Repeated(r) => {
                        let rep = count_range(&format!("{lp}.repeat"), &r.repeat)?;
                        (r.line, rep)
                    }
                };
                let parts = parse_template(&text).map_err(|m| bad(&lp, m))?;
                lines.push(LineTemplate { parts, repeat });
            }
            logs.push(LogTemplate {
                rate,
                from: l
                    .from
                    .as_ref()
                    .map(|s| duration(&format!("{path}.from"), s))
                    .transpose()?
                    .map(|d| d.as_secs_f64()),
                until: l
                    .until
                    .as_ref()
                    .map(|s| duration(&format!("{path}.until"), s))
                    .transpose()?
                    .map(|d| d.as_secs_f64()),
                traffic_scaled: l.traffic_scaled.unwrap_or(true),
                lines,
            });
        }

        let mut events = Vec::new();
        for (j, e) in self.events.into_iter().enumerate() {
            let path = format!("releases[{i}].events[{j}]");
            let level = match e.level.as_deref() {
                Some("normal") => EventLevel::Normal,
                Some("warning") | None => EventLevel::Warning,
                Some(other) => {
                    return Err(bad(
                        format!("{path}.level"),
                        format!("{other:?} is not an event level, expected normal or warning"),
                    ))
                }
            };
            if e.reason.trim().is_empty() {
                return Err(bad(
                    format!("{path}.reason"),
                    "is empty, expected e.g. \"BackOff\"",
                ));
            }
            let count = u32::try_from(e.count.unwrap_or(1))
                .ok()
                .filter(|c| *c >= 1)
                .ok_or_else(|| {
                    bad(
                        format!("{path}.count"),
                        "is out of range, expected 1 or more",
                    )
                })?;
            events.push(EventSpec {
                at: duration(&format!("{path}.at"), &e.at)?.as_secs_f64(),
                level,
                reason: e.reason,
                object: e
                    .object
                    .as_deref()
                    .map(|o| parse_template(o).map_err(|m| bad(format!("{path}.object"), m)))
                    .transpose()?,
                message: parse_template(&e.message)
                    .map_err(|m| bad(format!("{path}.message"), m))?,
                count,
            });
        }

        let mut release = Release::new(version, revision);
        release.state = state;
        release.mark = mark;
        release.slot = self.slot;
        release.deployed_at = deployed_at;
        release.retired_at = retired_at;
        release.replicas = replicas;
        release.attributes = attributes;
        Ok(ReleaseSpec {
            release,
            profile,
            logs,
            events,
        })
    }
}

impl RawFailure {
    fn validate(self, path: &str, profile: &mut Profile) -> Result<()> {
        let f = |field: &str| format!("{path}.{field}");
        let onset = secs(&f("onset"), &self.onset, 0.0)?;
        let over = secs(&f("over"), &self.over, 0.0)?;
        let need_to = || {
            self.to.ok_or_else(|| {
                bad(
                    f("to"),
                    format!("is missing, expected the value {} reaches", self.kind),
                )
            })
        };
        let ramp = |to: f64, from: Option<f64>| Ramp {
            onset,
            over,
            from,
            to,
        };
        match self.kind.as_str() {
            "error_rate" => {
                let to = in_range(&f("to"), need_to()?, 0.0, 1.0, "0..=1")?;
                let from = self
                    .from
                    .map(|v| in_range(&f("from"), v, 0.0, 1.0, "0..=1"))
                    .transpose()?;
                profile.error_ramps.push(ramp(to, from));
            }
            "latency" => {
                let to = positive(&f("to"), need_to()?, "milliseconds (p95)")?;
                let from = self
                    .from
                    .map(|v| positive(&f("from"), v, "milliseconds (p95)"))
                    .transpose()?;
                profile.latency_ramps.push(ramp(to, from));
            }
            "cpu" | "memory" => {
                let to = in_range(&f("to"), need_to()?, 0.0, 100.0, "0..=100 (percent)")?;
                let from = self
                    .from
                    .map(|v| in_range(&f("from"), v, 0.0, 100.0, "0..=100 (percent)"))
                    .transpose()?;
                if self.kind == "cpu" {
                    profile.cpu_ramps.push(ramp(to, from));
                } else {
                    profile.memory_ramps.push(ramp(to, from));
                }
            }
            "memory_growth" => {
                let to = positive(&f("to"), need_to()?, "bytes")?;
                let from = self
                    .from
                    .map(|v| positive(&f("from"), v, "bytes"))
                    .transpose()?;
                let percent = match self.percent {
                    Some(pc) => in_range(&f("percent"), pc, 0.0, 100.0, "0..=100 (percent)")?,
                    None => (profile.memory * to / profile.memory_bytes.max(1.0)).min(100.0),
                };
                profile.bytes_ramps.push(ramp(to, from));
                profile.memory_ramps.push(ramp(percent, None));
            }
            "crash_loop" => {
                let every = secs(&f("every"), &self.every, 60.0)?;
                if every <= 0.0 {
                    return Err(bad(f("every"), "is zero, expected a positive duration"));
                }
                let unready = self
                    .unready
                    .map(|u| {
                        u32::try_from(u).map_err(|_| {
                            bad(
                                f("unready"),
                                format!("{u} is out of range, expected 0 or more"),
                            )
                        })
                    })
                    .transpose()?;
                profile.crash_loops.push(CrashLoop {
                    onset,
                    every,
                    unready,
                    reason: self.reason.unwrap_or_else(|| "Error".into()),
                });
            }
            other => {
                return Err(bad(
                    f("kind"),
                    format!(
                        "{other:?} is not a failure kind, expected one of error_rate, latency, \
                         cpu, memory, memory_growth, crash_loop"
                    ),
                ))
            }
        }
        Ok(())
    }
}

impl RawFault {
    fn validate(self, i: usize) -> Result<Fault> {
        let p = |field: &str| format!("faults[{i}].{field}");
        let operation: Operation = self
            .operation
            .parse()
            .map_err(|e: Error| bad(p("operation"), e.message()))?;
        let kind = self
            .kind
            .as_deref()
            .map(|k| {
                k.parse::<FaultKind>()
                    .map_err(|e| bad(p("kind"), e.message()))
            })
            .transpose()?;
        let latency = self
            .latency
            .as_deref()
            .map(|l| duration(&p("latency"), l))
            .transpose()?
            .unwrap_or_default();
        if kind.is_none() && latency.is_zero() {
            return Err(bad(
                format!("faults[{i}]"),
                "has neither kind nor latency, expected a kind (unavailable, timed_out, …), a \
                 latency, or both",
            ));
        }
        let after = u32::try_from(self.after.unwrap_or(0))
            .map_err(|_| bad(p("after"), "is out of range, expected 0 or more"))?;
        let times = match self.times {
            None => Times::Count(1),
            Some(RawCount::Text(t)) if t == "always" => Times::Always,
            Some(RawCount::Number(n)) if n >= 1 => {
                Times::Count(u32::try_from(n).unwrap_or(u32::MAX))
            }
            Some(_) => {
                return Err(bad(
                    p("times"),
                    "is out of range, expected a number >= 1 or \"always\"",
                ))
            }
        };
        Ok(Fault {
            operation,
            kind,
            temporary: self
                .temporary
                .unwrap_or_else(|| kind.is_some_and(FaultKind::temporary_by_default)),
            after,
            times,
            latency,
        })
    }
}
