//! The simulated world: per-target release state, traffic history and the health curves.

use chrono::{DateTime, Utc};

use super::noise;
use super::scenario::{CrashLoop, Profile, Ramp, ReleaseSpec, Scenario};
use crate::model::release::{Release, ReleaseState};
use crate::model::target::Target;
use crate::platform::Lease;

/// Seconds from `a` to `b` (negative when `b` is earlier).
pub(crate) fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// `t + secs`.
pub(crate) fn plus(t: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    t + chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

/// Value of a chain of ramps at `x` seconds after the anchor, and whether it is on a plateau
/// (exact, noise-free).
fn chain(ramps: &[Ramp], base: f64, x: Option<f64>) -> (f64, bool) {
    let Some(x) = x else {
        return (base, false);
    };
    let Some(k) = ramps.iter().rposition(|r| r.onset <= x) else {
        return (base, false);
    };
    let r = &ramps[k];
    let end = r.onset + r.over;
    if x >= end {
        return (r.to, true);
    }
    let from = r
        .from
        .unwrap_or_else(|| chain(&ramps[..k], base, Some(r.onset)).0);
    (from + (r.to - from) * (x - r.onset) / r.over, false)
}

impl Profile {
    /// How far above its capacity a release is when it receives `rps` (0 when within it).
    pub fn excess(&self, rps: f64) -> f64 {
        match self.capacity_rps {
            Some(cap) if rps > cap => rps / cap - 1.0,
            _ => 0.0,
        }
    }

    /// Error ratio at `x` seconds after the anchor, receiving `rps`.
    pub fn error_rate(&self, x: Option<f64>, rps: f64) -> (f64, bool) {
        let (v, exact) = chain(&self.error_ramps, self.error_rate, x);
        let ex = self.excess(rps);
        if ex > 0.0 {
            ((v + (0.3 * ex).min(0.5)).min(1.0), false)
        } else {
            (v, exact)
        }
    }

    /// Latency in ms at quantile `per_mille`.
    pub fn latency(&self, per_mille: u16, x: Option<f64>, rps: f64) -> (f64, bool) {
        let (p95, exact) = chain(&self.latency_ramps, self.p95, x);
        let q = f64::from(per_mille) / 1000.0;
        let mut v = if per_mille == 950 {
            p95
        } else {
            let base = if q <= 0.5 {
                self.p50 * (0.4 + 0.6 * q / 0.5)
            } else if q <= 0.95 {
                self.p50 + (self.p95 - self.p50) * (q - 0.5) / 0.45
            } else if q <= 0.99 {
                self.p95 + (self.p99 - self.p95) * (q - 0.95) / 0.04
            } else {
                self.p99 + (self.p99 - self.p95) * (q - 0.99) / 0.04
            };
            base * p95 / self.p95
        };
        let ex = self.excess(rps);
        if ex > 0.0 {
            v *= 1.0 + 4.0 * ex;
            return (v, false);
        }
        (v, exact)
    }

    /// CPU percent.
    pub fn cpu(&self, x: Option<f64>, rps: f64) -> (f64, bool) {
        let (v, exact) = chain(&self.cpu_ramps, self.cpu, x);
        let ex = self.excess(rps);
        if ex > 0.0 {
            (v.max((90.0 + 30.0 * ex).min(100.0)), false)
        } else {
            (v, exact)
        }
    }

    /// Memory percent.
    pub fn memory(&self, x: Option<f64>) -> (f64, bool) {
        chain(&self.memory_ramps, self.memory, x)
    }

    /// Memory bytes.
    pub fn memory_bytes(&self, x: Option<f64>) -> (f64, bool) {
        chain(&self.bytes_ramps, self.memory_bytes, x)
    }

    /// The crash loop in effect at `x`, if any.
    pub fn crash(&self, x: Option<f64>) -> Option<&CrashLoop> {
        let x = x?;
        self.crash_loops.iter().rev().find(|c| c.onset <= x)
    }

    /// Pods not ready because of a crash loop, out of `desired`.
    pub fn unready(&self, x: Option<f64>, desired: u32) -> u32 {
        match self.crash(x) {
            Some(c) => c.unready.unwrap_or(desired.div_ceil(2)).min(desired),
            None => 0,
        }
    }

    /// Restarts of pod `i` of `pods` by `x` (restarts are staggered across pods).
    pub fn pod_restarts(&self, x: Option<f64>, i: u32, pods: u32) -> u32 {
        let Some(x) = x else { return 0 };
        let mut total = 0.0;
        for c in self.crash_loops.iter().filter(|c| c.onset <= x) {
            let stagger = c.every * f64::from(i) / f64::from(pods.max(1));
            let since = x - c.onset - stagger;
            if since >= 0.0 {
                total += (since / c.every).floor() + 1.0;
            }
        }
        total as u32
    }

    /// Uptime ratio.
    pub fn uptime(&self, x: Option<f64>, desired: u32) -> f64 {
        let down = self.unready(x, desired);
        if desired == 0 || down == 0 {
            self.uptime
        } else {
            self.uptime * (1.0 - f64::from(down) / f64::from(desired) * 0.5)
        }
    }
}

/// Traffic weights by release index.
pub(crate) type Split = Vec<(usize, u8)>;

/// A release's live state in one target.
#[derive(Debug, Clone)]
pub(crate) struct RelState {
    /// Index into the scenario's releases.
    pub spec: usize,
    /// The release as the platform reports it (before crash-loop readiness is applied).
    pub release: Release,
    /// Ready count to reach, and when.
    pub pending_ready: Option<(u32, DateTime<Utc>)>,
    /// When its pods ran: `[start, end)`, `None` = still running.
    pub running: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// First time it received traffic in the simulation (anchor for `degrades_after_traffic`).
    pub traffic_since: Option<DateTime<Utc>>,
    /// The reason given with the last mark.
    pub mark_reason: Option<String>,
}

/// A revert waiting for the new pods to be ready.
#[derive(Debug, Clone)]
pub(crate) struct PendingRevert {
    pub at: DateTime<Utc>,
    pub to: usize,
    pub from: Vec<usize>,
}

/// One simulated deployment.
#[derive(Debug, Clone)]
pub(crate) struct TargetState {
    pub target: Target,
    pub releases: Vec<RelState>,
    /// Traffic splits from the time given on; sorted by time.
    pub history: Vec<(DateTime<Utc>, Split)>,
    pub lease: Option<Lease>,
    pub pending_revert: Option<PendingRevert>,
}

impl TargetState {
    /// The state a scenario starts in.
    pub fn from_scenario(sc: &Scenario, target: Target) -> Self {
        let releases: Vec<RelState> = sc
            .releases
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let r = &spec.release;
                let running = match r.deployed_at {
                    Some(d) => {
                        let end = if r.state == ReleaseState::Inactive {
                            Some(r.retired_at.unwrap_or(d))
                        } else {
                            None
                        };
                        vec![(d, end)]
                    }
                    None => Vec::new(),
                };
                RelState {
                    spec: i,
                    release: r.clone(),
                    pending_ready: None,
                    running,
                    traffic_since: None,
                    mark_reason: None,
                }
            })
            .collect();
        // Past traffic: each release that served took all of it from its deploy; the current
        // split holds from the newest deploy among its releases.
        let split_start = sc
            .traffic
            .iter()
            .filter_map(|(i, _)| sc.releases[*i].release.deployed_at)
            .max()
            .unwrap_or(sc.now);
        let mut history: Vec<(DateTime<Utc>, Split)> = Vec::new();
        for (i, spec) in sc.releases.iter().enumerate().rev() {
            let r = &spec.release;
            let in_split = sc.traffic.iter().any(|(j, _)| *j == i);
            if let Some(d) = r.deployed_at {
                if d < split_start && (in_split || r.retired_at.is_some()) {
                    history.push((d, vec![(i, 100)]));
                }
            }
        }
        history.sort_by_key(|(t, _)| *t);
        history.push((split_start, sc.traffic.clone()));
        let mut state = TargetState {
            target,
            releases,
            history,
            lease: None,
            pending_revert: None,
        };
        // Releases in the current split with `degrades_after_traffic` took traffic at its start.
        for (i, _) in &sc.traffic {
            state.releases[*i].traffic_since = Some(split_start);
        }
        state
    }

    /// Applies what has completed by `now`: pods becoming ready, reverts finishing.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        if let Some(p) = self.pending_revert.clone() {
            if p.at <= now {
                self.pending_revert = None;
                self.complete_revert(&p);
            }
        }
        for r in &mut self.releases {
            if let Some((n, at)) = r.pending_ready {
                if at <= now {
                    r.release.replicas.ready = n.min(r.release.replicas.desired);
                    r.pending_ready = None;
                }
            }
        }
    }

    /// Moves all traffic to the reverted-to release and stops the old ones, at `p.at`.
    pub fn complete_revert(&mut self, p: &PendingRevert) {
        let at = p.at;
        if let Some((n, ready_at)) = self.releases[p.to].pending_ready {
            if ready_at <= at {
                self.releases[p.to].release.replicas.ready = n;
                self.releases[p.to].pending_ready = None;
            }
        }
        self.history.push((at, vec![(p.to, 100)]));
        let to = &mut self.releases[p.to];
        to.release.retired_at = None;
        if to.release.deployed_at.is_none() {
            to.release.deployed_at = Some(at);
        }
        if to.traffic_since.is_none() {
            to.traffic_since = Some(at);
        }
        for &i in &p.from {
            if i == p.to {
                continue;
            }
            let r = &mut self.releases[i];
            r.release.replicas = Default::default();
            r.pending_ready = None;
            r.release.retired_at = Some(at);
            if r.release.state != ReleaseState::Serving {
                r.release.state = ReleaseState::Inactive;
            }
            stop_running(r, at);
        }
    }

    /// Seconds since the release's anchor (deploy, or first traffic for
    /// `degrades_after_traffic`).
    pub fn x(&self, sc: &Scenario, i: usize, t: DateTime<Utc>) -> Option<f64> {
        self.anchor(sc, i).map(|a| seconds_between(a, t))
    }

    /// What failure onsets and event times of release `i` count from.
    pub fn anchor(&self, sc: &Scenario, i: usize) -> Option<DateTime<Utc>> {
        let r = &self.releases[i];
        if sc.releases[r.spec].profile.degrades_after_traffic {
            r.traffic_since
        } else {
            r.release.deployed_at
        }
    }

    /// The scenario spec of release `i`.
    pub fn spec<'a>(&self, sc: &'a Scenario, i: usize) -> &'a ReleaseSpec {
        &sc.releases[self.releases[i].spec]
    }

    /// Whether release `i`'s pods ran at `t`.
    pub fn running(&self, i: usize, t: DateTime<Utc>) -> bool {
        self.releases[i]
            .running
            .iter()
            .any(|(s, e)| *s <= t && e.is_none_or(|e| t < e))
    }

    /// Release `i`'s share of traffic at `t`, 0–1.
    pub fn share(&self, i: usize, t: DateTime<Utc>) -> f64 {
        let idx = self.history.partition_point(|(at, _)| *at <= t);
        if idx == 0 {
            return 0.0;
        }
        self.history[idx - 1]
            .1
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(0.0, |(_, p)| f64::from(*p) / 100.0)
    }

    /// The current split.
    pub fn current_split(&self) -> &[(usize, u8)] {
        self.history.last().map_or(&[][..], |(_, w)| &w[..])
    }

    /// Ready replicas of release `i` at `now`, crash-looping pods excluded.
    pub fn effective_ready(&self, sc: &Scenario, i: usize, now: DateTime<Utc>) -> u32 {
        let r = &self.releases[i];
        let unready = self
            .spec(sc, i)
            .profile
            .unready(self.x(sc, i, now), r.release.replicas.desired);
        r.release.replicas.ready.saturating_sub(unready)
    }

    /// Release `i` as the platform reports it at `now`.
    pub fn release_view(&self, sc: &Scenario, i: usize, now: DateTime<Utc>) -> Release {
        let mut r = self.releases[i].release.clone();
        r.replicas.ready = self.effective_ready(sc, i, now);
        r
    }

    /// Finds a release by its revision (the platform id).
    pub fn find(&self, revision: &str, _version: &crate::Version) -> Option<usize> {
        // The revision is the platform's id: a release is named by it exactly.
        self.releases
            .iter()
            .position(|r| r.release.revision == revision)
    }

    /// The versions and revisions, for error messages.
    pub fn known(&self) -> String {
        self.releases
            .iter()
            .map(|r| format!("{} ({})", r.release.version, r.release.revision))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Pod names of release `i` (stable per seed and revision).
    pub fn pods(&self, sc: &Scenario, i: usize) -> Vec<String> {
        let r = &self.releases[i];
        let n = r
            .release
            .replicas
            .desired
            .max(self.spec(sc, i).release.replicas.desired)
            .max(1);
        (0..n)
            .map(|k| pod_name(sc.seed, &r.release.revision, k))
            .collect()
    }
}

/// Ends the running interval of a release at `at`.
pub(crate) fn stop_running(r: &mut RelState, at: DateTime<Utc>) {
    if let Some(last) = r.running.last_mut() {
        if last.1.is_none() {
            last.1 = Some(at.max(last.0));
        }
    }
}

/// Starts a running interval at `at` unless one is open.
pub(crate) fn start_running(r: &mut RelState, at: DateTime<Utc>) {
    if r.running.last().is_none_or(|l| l.1.is_some()) {
        r.running.push((at, None));
    }
}

/// `api-service-7d9f8c4b6-x2k4p`.
pub(crate) fn pod_name(seed: u64, revision: &str, k: u32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = noise::key(seed, &[b"pod", revision.as_bytes()], i64::from(k));
    let mut suffix = String::with_capacity(5);
    for _ in 0..5 {
        suffix.push(ALPHABET[(h % ALPHABET.len() as u64) as usize] as char);
        h /= ALPHABET.len() as u64;
    }
    format!("{revision}-{suffix}")
}
