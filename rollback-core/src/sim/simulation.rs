//! The [`Simulation`] handle and its [`Platform`], [`MetricsSource`] and [`DataGuard`] views.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::evidence;
use super::fault::{ActiveFault, Fault, Operation};
use super::metrics;
use super::scenario::{Router, Scenario};
use super::world::{plus, start_running, stop_running, PendingRevert, TargetState};
use crate::clock::Clock;
use crate::data_guard::DataGuard;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics_source::MetricsSource;
use crate::model::check::{CheckOutcome, CheckStatus};
use crate::model::evidence::Evidence;
use crate::model::health::HealthSnapshot;
use crate::model::metric::{MetricQuery, Series, TimeRange};
use crate::model::release::{Release, ReleaseMark, ReleaseState};
use crate::model::target::Target;
use crate::model::traffic::TrafficSplit;
use crate::platform::{Capabilities, Lease, Platform};

/// One call the simulation received, for assertions on what the orchestrator did.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The operation.
    pub operation: Operation,
    /// The target it was about.
    pub target: Target,
    /// Whether the operation changes the deployment ([`Operation::is_mutating`]).
    pub mutating: bool,
    /// Whether it succeeded.
    pub ok: bool,
}

struct State {
    targets: HashMap<Target, TargetState>,
    /// Targets in the order they were added.
    order: Vec<Target>,
    faults: Vec<ActiveFault>,
    calls: Vec<CallRecord>,
    call_latency: Duration,
    data_restores: u32,
    lease_seq: u64,
}

struct Inner {
    scenario: Scenario,
    clock: Clock,
    state: Mutex<State>,
}

/// An in-memory deployment environment, deterministic from its scenario's seed.
///
/// Cheap to clone (an `Arc` inside); every clone and every view ([`Simulation::platform`],
/// [`Simulation::metrics`], [`Simulation::data_guard`]) shares the same state. All waiting
/// (call latency, pods becoming ready, lease expiry) follows the [`Clock`], i.e. tokio time, so
/// tests run under `#[tokio::test(start_paused = true)]`.
///
/// ```
/// use rollback_core::sim::Simulation;
/// use rollback_core::{Platform, TrafficSplit};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> rollback_core::Result<()> {
/// let sim = Simulation::builtin("spec-incident")?;
/// let platform = sim.platform();
/// let target = sim.target();
/// let releases = platform.releases(&target).await?;      // v1.3.0, v1.2.9, v1.2.8
/// platform.set_traffic(&target, &TrafficSplit::all_to(&releases[1])).await?;
/// assert!(sim.traffic(&target)?.is_all_to(&releases[1].revision));
/// assert_eq!(sim.mutating_calls(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Simulation {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("scenario", &self.inner.scenario.name)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(message: String) -> Error {
    Error::new(ErrorKind::NotFound, message)
}

impl Simulation {
    /// A simulation of `scenario` whose time is `clock` (usually [`Scenario::clock`]).
    pub fn new(scenario: Scenario, clock: Clock) -> Self {
        let target = scenario.target();
        let ts = TargetState::from_scenario(&scenario, target.clone());
        let state = State {
            targets: HashMap::from([(target.clone(), ts)]),
            order: vec![target],
            faults: scenario
                .faults
                .iter()
                .cloned()
                .map(ActiveFault::new)
                .collect(),
            calls: Vec::new(),
            call_latency: scenario.call_latency,
            data_restores: 0,
            lease_seq: 0,
        };
        Simulation {
            inner: Arc::new(Inner {
                scenario,
                clock,
                state: Mutex::new(state),
            }),
        }
    }

    /// A simulation of a builtin scenario ([`Scenario::builtin`]) on a clock starting at the
    /// scenario's `now`. Must be called inside a tokio runtime.
    pub fn builtin(name: &str) -> Result<Self> {
        let scenario = Scenario::builtin(name)?;
        let clock = scenario.clock();
        Ok(Self::new(scenario, clock))
    }

    /// The scenario it simulates.
    pub fn scenario(&self) -> &Scenario {
        &self.inner.scenario
    }

    /// Its clock.
    pub fn clock(&self) -> Clock {
        self.inner.clock.clone()
    }

    /// The [`Platform`] view.
    pub fn platform(&self) -> SimPlatform {
        SimPlatform { sim: self.clone() }
    }

    /// The [`MetricsSource`] view.
    pub fn metrics(&self) -> SimMetrics {
        SimMetrics { sim: self.clone() }
    }

    /// The [`DataGuard`] view: compatible unless the scenario says `data_compatible = false`;
    /// restores are counted ([`Simulation::data_restores`]).
    pub fn data_guard(&self) -> SimDataGuard {
        SimDataGuard { sim: self.clone() }
    }

    /// The scenario's target.
    pub fn target(&self) -> Target {
        self.inner.scenario.target()
    }

    /// Every simulated target, in the order they were added.
    pub fn targets(&self) -> Vec<Target> {
        lock(&self.inner.state).order.clone()
    }

    /// Adds a target identical to the scenario's (as it was at the start) under another
    /// deployment name, and returns it. For benchmarks of many concurrent rollbacks.
    ///
    /// Fails with `InvalidInput` when the name is not usable or already taken.
    pub fn add_target_copy(&self, deployment: &str) -> Result<Target> {
        let mut target = self.target();
        target.deployment = deployment.to_owned();
        target.validate()?;
        let mut st = lock(&self.inner.state);
        if st.targets.contains_key(&target) {
            return Err(Error::invalid_input(format!(
                "deployment {deployment:?} is already simulated, expected a new name"
            )));
        }
        let ts = TargetState::from_scenario(&self.inner.scenario, target.clone());
        st.targets.insert(target.clone(), ts);
        st.order.push(target.clone());
        Ok(target)
    }

    /// Makes every platform and metrics call sleep `latency` (tokio time) before it runs.
    pub fn set_call_latency(&self, latency: Duration) {
        lock(&self.inner.state).call_latency = latency;
    }

    /// Schedules a fault; its call counting starts now.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.state).faults.push(ActiveFault::new(fault));
    }

    /// Removes every scheduled fault (including the scenario's).
    pub fn clear_faults(&self) {
        lock(&self.inner.state).faults.clear();
    }

    /// Every call received so far, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        lock(&self.inner.state).calls.clone()
    }

    /// How many mutating calls were received (successful or not).
    pub fn mutating_calls(&self) -> usize {
        lock(&self.inner.state)
            .calls
            .iter()
            .filter(|c| c.mutating)
            .count()
    }

    /// How many data restores were performed.
    pub fn data_restores(&self) -> u32 {
        lock(&self.inner.state).data_restores
    }

    /// The current traffic split of a target (inspection; not recorded as a call).
    pub fn traffic(&self, target: &Target) -> Result<TrafficSplit> {
        self.with_target(target, |ts, _, _| split_of(ts))
    }

    /// The current releases of a target, newest first (inspection; not recorded as a call).
    pub fn releases(&self, target: &Target) -> Result<Vec<Release>> {
        self.with_target(target, |ts, sc, now| {
            Ok((0..ts.releases.len())
                .map(|i| ts.release_view(sc, i, now))
                .collect())
        })
    }

    /// The live lease on a target, if any (inspection).
    pub fn lease(&self, target: &Target) -> Result<Option<Lease>> {
        self.with_target(target, |ts, _, now| {
            Ok(ts.lease.clone().filter(|l| l.expires_at > now))
        })
    }

    /// Runs `f` on a settled target under the lock.
    fn with_target<T>(
        &self,
        target: &Target,
        f: impl FnOnce(&mut TargetState, &Scenario, DateTime<Utc>) -> Result<T>,
    ) -> Result<T> {
        let now = self.inner.clock.now();
        let mut st = lock(&self.inner.state);
        let known = || {
            let mut names: Vec<String> = st.order.iter().take(5).map(|t| t.to_string()).collect();
            if st.order.len() > 5 {
                names.push(format!("… ({} in all)", st.order.len()));
            }
            names.join(", ")
        };
        if !st.targets.contains_key(target) {
            return Err(not_found(format!(
                "target {target} is not simulated, expected one of {}",
                known()
            )));
        }
        let ts = st
            .targets
            .get_mut(target)
            .ok_or_else(|| not_found(format!("target {target} is not simulated")))?;
        ts.settle(now);
        f(ts, &self.inner.scenario, now)
    }

    /// Call latency and faults; a fault's error is recorded and returned.
    async fn enter(&self, op: Operation, target: &Target) -> Result<()> {
        let latency = lock(&self.inner.state).call_latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let (extra, error) = {
            let mut st = lock(&self.inner.state);
            let mut extra = Duration::ZERO;
            let mut error = None;
            for f in &mut st.faults {
                if f.on_call(op) {
                    extra += f.fault.latency;
                    if error.is_none() {
                        error = f.fault.error(&target.to_string());
                    }
                }
            }
            (extra, error)
        };
        if !extra.is_zero() {
            tokio::time::sleep(extra).await;
        }
        match error {
            Some(e) => self.finish(op, target, Err(e)),
            None => Ok(()),
        }
    }

    /// Records the call and names backend and operation in an error.
    fn finish<T>(&self, op: Operation, target: &Target, result: Result<T>) -> Result<T> {
        lock(&self.inner.state).calls.push(CallRecord {
            operation: op,
            target: target.clone(),
            mutating: op.is_mutating(),
            ok: result.is_ok(),
        });
        result.map_err(|e| {
            let e = if e.backend().is_none() {
                e.with_backend("sim")
            } else {
                e
            };
            if e.operation().is_none() {
                e.with_operation(op.as_str())
            } else {
                e
            }
        })
    }

    /// A whole call: latency, faults, the operation on the settled target, accounting.
    async fn call<T>(
        &self,
        op: Operation,
        target: &Target,
        f: impl FnOnce(&mut TargetState, &Scenario, DateTime<Utc>) -> Result<T>,
    ) -> Result<T> {
        self.enter(op, target).await?;
        let result = self.with_target(target, f);
        self.finish(op, target, result)
    }

    fn next_lease_seq(&self) -> u64 {
        let mut st = lock(&self.inner.state);
        st.lease_seq += 1;
        st.lease_seq
    }
}

fn split_of(ts: &TargetState) -> Result<TrafficSplit> {
    TrafficSplit::new(
        ts.current_split()
            .iter()
            .map(|(i, p)| (ts.releases[*i].release.reference(), *p))
            .collect(),
    )
}

fn find(ts: &TargetState, release: &Release) -> Result<usize> {
    ts.find(&release.revision, &release.version).ok_or_else(|| {
        not_found(format!(
            "release {} ({}) is not a release of {}, expected one of {}",
            release.version,
            release.revision,
            ts.target,
            ts.known()
        ))
    })
}

fn set_traffic(
    ts: &mut TargetState,
    sc: &Scenario,
    now: DateTime<Utc>,
    split: &TrafficSplit,
) -> Result<()> {
    match sc.router {
        Router::None => return Err(Error::unsupported("set_traffic")),
        Router::BlueGreen if split.weights().len() != 1 => {
            return Err(Error::invalid_input(format!(
                "split {split} divides traffic, but the blue-green router of {} sends all traffic \
                 to one release: expected 100% to one release",
                ts.target
            )))
        }
        _ => {}
    }
    let mut new = Vec::new();
    for w in split.weights() {
        let i = ts
            .find(&w.release.revision, &w.release.version)
            .ok_or_else(|| {
                not_found(format!(
                    "release {} ({}) in the split is not a release of {}, expected one of {}",
                    w.release.version,
                    w.release.revision,
                    ts.target,
                    ts.known()
                ))
            })?;
        let ready = ts.effective_ready(sc, i, now);
        if ready == 0 {
            let r = &ts.releases[i].release;
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!(
                    "{} has no ready capacity (0 of {} replicas ready): traffic only moves to \
                     releases with ready replicas",
                    r.version, r.replicas.desired
                ),
            ));
        }
        new.push((i, w.percent));
    }
    new.sort_by_key(|(i, _)| *i);
    if ts.current_split() == new.as_slice() {
        return Ok(());
    }
    ts.pending_revert = None;
    ts.history.push((now, new.clone()));
    for (i, r) in ts.releases.iter_mut().enumerate() {
        if new.iter().any(|(j, _)| *j == i) {
            r.release.state = ReleaseState::Serving;
            r.release.retired_at = None;
            r.traffic_since.get_or_insert(now);
        } else if r.release.state == ReleaseState::Serving {
            r.release.state = ReleaseState::Standby;
            r.release.retired_at = Some(now);
        }
    }
    Ok(())
}

fn revert(ts: &mut TargetState, sc: &Scenario, now: DateTime<Utc>, to: &Release) -> Result<()> {
    let idx = find(ts, to)?;
    if ts.pending_revert.as_ref().is_some_and(|p| p.to == idx) {
        return Ok(());
    }
    if ts.current_split() == [(idx, 100)] && ts.releases[idx].release.state == ReleaseState::Serving
    {
        return Ok(());
    }
    let from: Vec<usize> = (0..ts.releases.len())
        .filter(|&i| {
            i != idx
                && (ts.releases[i].release.state == ReleaseState::Serving
                    || ts.current_split().iter().any(|(j, _)| *j == i))
        })
        .collect();
    let desired = {
        let own = ts.releases[idx].release.replicas.desired;
        let old = from
            .iter()
            .map(|&i| ts.releases[i].release.replicas.desired)
            .max()
            .unwrap_or(0);
        let spec = ts.spec(sc, idx).release.replicas.desired;
        own.max(if own == 0 { old.max(spec) } else { 0 }).max(1)
    };
    for &i in &from {
        ts.releases[i].release.state = ReleaseState::Inactive;
    }
    let r = &mut ts.releases[idx];
    r.release.state = ReleaseState::Serving;
    r.release.replicas.desired = desired;
    start_running(r, now);
    let rollout = chrono::Duration::from_std(sc.rollout_time).unwrap_or_default();
    let startup = chrono::Duration::from_std(sc.startup_time).unwrap_or_default();
    if r.release.replicas.ready > 0 {
        if r.release.replicas.ready < desired {
            r.pending_ready = Some((desired, now + startup));
        }
        ts.complete_revert(&PendingRevert {
            at: now,
            to: idx,
            from,
        });
    } else {
        r.pending_ready = Some((desired, now + rollout));
        ts.pending_revert = Some(PendingRevert {
            at: now + rollout,
            to: idx,
            from,
        });
    }
    Ok(())
}

fn scale(
    ts: &mut TargetState,
    sc: &Scenario,
    now: DateTime<Utc>,
    release: &Release,
    replicas: u32,
) -> Result<()> {
    let idx = find(ts, release)?;
    let share = ts
        .current_split()
        .iter()
        .find(|(j, _)| *j == idx)
        .map_or(0, |(_, p)| *p);
    if replicas == 0 && share > 0 {
        return Err(Error::new(
            ErrorKind::PreconditionFailed,
            format!(
                "{} receives {share}% of traffic: scaling it to 0 would leave that traffic \
                 without capacity; move the traffic first",
                release.version
            ),
        ));
    }
    let startup = chrono::Duration::from_std(sc.startup_time).unwrap_or_default();
    let r = &mut ts.releases[idx];
    let target_ready = r.pending_ready.map_or(r.release.replicas.ready, |(n, _)| n);
    if r.release.replicas.desired == replicas && target_ready == replicas {
        return Ok(());
    }
    r.release.replicas.desired = replicas;
    if replicas <= r.release.replicas.ready {
        r.release.replicas.ready = replicas;
        r.pending_ready = None;
    } else {
        r.pending_ready = Some((replicas, now + startup));
    }
    if replicas == 0 {
        if r.release.state != ReleaseState::Serving {
            r.release.state = ReleaseState::Inactive;
        }
        r.release.retired_at.get_or_insert(now);
        stop_running(r, now);
    } else if r.release.state == ReleaseState::Inactive {
        r.release.state = ReleaseState::Standby;
        start_running(r, now);
    }
    Ok(())
}

/// The simulation as a [`Platform`] (name `sim`). Capabilities follow the scenario's router.
#[derive(Debug, Clone)]
pub struct SimPlatform {
    sim: Simulation,
}

impl SimPlatform {
    /// The simulation behind it.
    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }
}

#[async_trait]
impl Platform for SimPlatform {
    fn name(&self) -> &str {
        "sim"
    }

    fn capabilities(&self) -> Capabilities {
        self.sim.inner.scenario.capabilities()
    }

    async fn releases(&self, target: &Target) -> Result<Vec<Release>> {
        self.sim
            .call(Operation::Releases, target, |ts, sc, now| {
                Ok((0..ts.releases.len())
                    .map(|i| ts.release_view(sc, i, now))
                    .collect())
            })
            .await
    }

    async fn traffic(&self, target: &Target) -> Result<TrafficSplit> {
        self.sim
            .call(Operation::Traffic, target, |ts, _, _| split_of(ts))
            .await
    }

    async fn health(&self, target: &Target, release: &Release) -> Result<HealthSnapshot> {
        self.sim
            .call(Operation::Health, target, |ts, sc, now| {
                let i = find(ts, release)?;
                let r = &ts.releases[i].release;
                let ready = ts.effective_ready(sc, i, now);
                let profile = &ts.spec(sc, i).profile;
                let x = ts.x(sc, i, now);
                let running = ts.running(i, now);
                let pods = ts.pods(sc, i).len() as u32;
                // Restarts stop counting when the pods stop.
                let restarts = match ts.releases[i].running.last() {
                    Some((_, end)) => {
                        let x = ts.x(sc, i, end.map_or(now, |e| e.min(now)));
                        (0..pods).map(|k| profile.pod_restarts(x, k, pods)).sum()
                    }
                    None => 0,
                };
                let mut problems = Vec::new();
                if running && r.replicas.desired > 0 {
                    if let Some(c) = profile.crash(x) {
                        problems.push("CrashLoopBackOff".to_owned());
                        if c.reason == "OOMKilled" {
                            problems.push("OOMKilled".to_owned());
                        }
                    }
                }
                Ok(HealthSnapshot {
                    desired: r.replicas.desired,
                    ready,
                    available: ready,
                    restarts,
                    problems,
                    observed_at: Some(now),
                })
            })
            .await
    }

    async fn set_traffic(&self, target: &Target, split: &TrafficSplit) -> Result<()> {
        self.sim
            .call(Operation::SetTraffic, target, |ts, sc, now| {
                set_traffic(ts, sc, now, split)
            })
            .await
    }

    async fn revert(&self, target: &Target, to: &Release) -> Result<()> {
        self.sim
            .call(Operation::Revert, target, |ts, sc, now| {
                revert(ts, sc, now, to)
            })
            .await
    }

    async fn scale(&self, target: &Target, release: &Release, replicas: u32) -> Result<()> {
        self.sim
            .call(Operation::Scale, target, |ts, sc, now| {
                scale(ts, sc, now, release, replicas)
            })
            .await
    }

    async fn evidence(
        &self,
        target: &Target,
        release: &Release,
        window: &TimeRange,
    ) -> Result<Evidence> {
        let op = Operation::Evidence;
        self.sim.enter(op, target).await?;
        let snapshot = self.sim.with_target(target, |ts, _, now| {
            let i = find(ts, release)?;
            Ok((ts.clone(), i, now))
        });
        let result = snapshot.map(|(ts, i, now)| {
            let sc = &self.sim.inner.scenario;
            let end = window.end.min(plus(now, 0.001));
            let (logs, truncated) =
                evidence::logs(&ts, sc, i, window.start, end, sc.evidence_limit);
            let events = evidence::events(&ts, sc, i, window.start, end);
            let mut ev = Evidence::new(logs, events);
            ev.truncated = truncated;
            ev
        });
        self.sim.finish(op, target, result)
    }

    async fn lock(&self, target: &Target, holder: &str, ttl: Duration) -> Result<Lease> {
        let seq = self.sim.next_lease_seq();
        self.sim
            .call(Operation::Lock, target, |ts, _, now| {
                if holder.trim().is_empty() {
                    return Err(Error::invalid_input(
                        "lock holder is empty, expected a name such as `rollback@host-1`",
                    ));
                }
                let ttl = chrono::Duration::from_std(ttl).map_err(|_| {
                    Error::invalid_input(format!("lock ttl {ttl:?} is too long, expected minutes"))
                })?;
                let mut token = format!("sim-lease-{seq}");
                if let Some(l) = ts.lease.as_ref().filter(|l| l.expires_at > now) {
                    if l.holder != holder {
                        return Err(Error::new(
                            ErrorKind::Conflict,
                            format!(
                                "{} is locked by {} until {}",
                                ts.target,
                                l.holder,
                                l.expires_at.to_rfc3339()
                            ),
                        )
                        .with_context("holder", l.holder.clone()));
                    }
                    token = l.token.clone();
                }
                let lease = Lease {
                    holder: holder.to_owned(),
                    expires_at: now + ttl,
                    token,
                };
                ts.lease = Some(lease.clone());
                Ok(lease)
            })
            .await
    }

    async fn unlock(&self, target: &Target, lease: &Lease) -> Result<()> {
        self.sim
            .call(Operation::Unlock, target, |ts, _, now| {
                match ts.lease.as_ref() {
                    Some(l) if l.token == lease.token => {
                        ts.lease = None;
                        Ok(())
                    }
                    Some(l) if l.expires_at > now => Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "{} is locked by {}, not by this lease of {}",
                            ts.target, l.holder, lease.holder
                        ),
                    )),
                    _ => Ok(()),
                }
            })
            .await
    }

    async fn mark(
        &self,
        target: &Target,
        release: &Release,
        mark: ReleaseMark,
        reason: &str,
    ) -> Result<()> {
        self.sim
            .call(Operation::Mark, target, |ts, _, _| {
                let i = find(ts, release)?;
                let r = &mut ts.releases[i];
                r.release.mark = mark;
                r.mark_reason = Some(reason.to_owned());
                Ok(())
            })
            .await
    }
}

/// The simulation as a [`MetricsSource`] (name `sim`).
///
/// A query for one release answers that release's profile at each step, only at times its pods
/// ran (error rate and latency: only when it also received traffic); where it never ran there
/// is no series at all. A query for the whole target mixes the releases by their traffic share
/// (request rate: summed). Noise is keyed by seed, release, metric and time, so the same query
/// always gives the same answer; on a failure plateau values are exact. `StatusCodes` answers
/// one series per code (`code` label: `200` and each failure code) with integer counts per step
/// whose sum over any query range is exact. The only custom query is `uptime` (ratio 0–1);
/// other custom names are `InvalidInput`. Samples lie in `[range.start, range.end)` at
/// `range.start + k·step` and never after the clock's now.
#[derive(Debug, Clone)]
pub struct SimMetrics {
    sim: Simulation,
}

#[async_trait]
impl MetricsSource for SimMetrics {
    fn name(&self) -> &str {
        "sim"
    }

    async fn query(&self, query: &MetricQuery) -> Result<Vec<Series>> {
        let op = Operation::Query;
        let target = &query.target;
        self.sim.enter(op, target).await?;
        let snapshot = self
            .sim
            .with_target(target, |ts, _, now| Ok((ts.clone(), now)));
        let result = snapshot
            .and_then(|(ts, now)| metrics::query(&ts, &self.sim.inner.scenario, query, now));
        self.sim.finish(op, target, result)
    }
}

/// The simulation as a [`DataGuard`] (name `sim`).
#[derive(Debug, Clone)]
pub struct SimDataGuard {
    sim: Simulation,
}

#[async_trait]
impl DataGuard for SimDataGuard {
    fn name(&self) -> &str {
        "sim"
    }

    async fn compatible(
        &self,
        target: &Target,
        from: &Release,
        to: &Release,
    ) -> Result<CheckOutcome> {
        self.sim.with_target(target, |_, sc, _| {
            Ok(if sc.data_compatible {
                CheckOutcome::new(
                    "database compatibility",
                    CheckStatus::Pass,
                    format!("schema of {} is readable by {}", from.version, to.version),
                )
            } else {
                CheckOutcome::new(
                    "database compatibility",
                    CheckStatus::Fail,
                    format!(
                        "{} migrated the schema in a way {} cannot read",
                        from.version, to.version
                    ),
                )
            })
        })
    }

    async fn restore(&self, target: &Target, to: &Release) -> Result<()> {
        self.sim
            .call(Operation::Restore, target, |ts, _, _| {
                find(ts, to)?;
                Ok(())
            })
            .await?;
        lock(&self.sim.inner.state).data_restores += 1;
        Ok(())
    }
}
