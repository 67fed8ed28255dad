//! The `Platform` trait: where releases run and traffic is routed.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::evidence::Evidence;
use crate::model::health::HealthSnapshot;
use crate::model::metric::TimeRange;
use crate::model::release::{Release, ReleaseMark};
use crate::model::target::Target;
use crate::model::traffic::TrafficSplit;

/// What a platform can do. The orchestrator picks strategies from it and the conformance suite
/// picks its tests from it.
///
/// ```
/// use rollback_core::Capabilities;
/// let mut caps = Capabilities::default();
/// caps.revert = true;
/// caps.scale = true;
/// assert!(!caps.weighted_traffic);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// `set_traffic` with all traffic to one release (blue-green switch).
    pub traffic_switch: bool,
    /// `set_traffic` with arbitrary weights (gradual shifts).
    pub weighted_traffic: bool,
    /// `revert`: the workload's desired state set back to an older release.
    pub revert: bool,
    /// `scale`.
    pub scale: bool,
    /// `evidence`: logs and events.
    pub evidence: bool,
    /// `lock` / `unlock`: an expiring lease that holds across processes.
    pub lock: bool,
    /// `mark`: persisting verified/failed marks on releases.
    pub mark: bool,
}

/// A held lock on a target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    /// Who holds it.
    pub holder: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
    /// Platform token for renew/release (resource version, lease name…).
    pub token: String,
}

/// A deployment platform: Kubernetes, ECS, the simulation, your own.
///
/// Required: reading releases, traffic and health. Everything that mutates is optional and
/// declared in [`Capabilities`]; the defaults return [`ErrorKind::Unsupported`](crate::ErrorKind).
/// Every mutating call must be idempotent (setting the same split twice is fine): the
/// orchestrator retries temporary errors and resumes crashed runs by repeating the last step.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Platform: Send + Sync {
    /// A short name for reports and errors (`kubernetes`, `ecs`, `sim`).
    fn name(&self) -> &str;

    /// What this platform supports.
    fn capabilities(&self) -> Capabilities;

    /// What this platform supports for one target, when targets differ (a single service
    /// cannot shift weights, a blue-green pair can). Default: [`Platform::capabilities`]. The
    /// orchestrator reads this one.
    fn capabilities_for(&self, target: &Target) -> Capabilities {
        let _ = target;
        self.capabilities()
    }

    /// The target's releases, newest first. Errors with `NotFound` when the target is unknown.
    async fn releases(&self, target: &Target) -> Result<Vec<Release>>;

    /// How traffic is split now.
    async fn traffic(&self, target: &Target) -> Result<TrafficSplit>;

    /// The capacity of one release now.
    async fn health(&self, target: &Target, release: &Release) -> Result<HealthSnapshot>;

    /// Routes traffic as `split` says (mutating).
    async fn set_traffic(&self, target: &Target, split: &TrafficSplit) -> Result<()> {
        let _ = (target, split);
        Err(Error::unsupported("set_traffic"))
    }

    /// Sets the workload's desired state back to `to` (mutating).
    async fn revert(&self, target: &Target, to: &Release) -> Result<()> {
        let _ = (target, to);
        Err(Error::unsupported("revert"))
    }

    /// Scales one release (mutating). Never deletes it.
    async fn scale(&self, target: &Target, release: &Release, replicas: u32) -> Result<()> {
        let _ = (target, release, replicas);
        Err(Error::unsupported("scale"))
    }

    /// Logs and events of a release over a window.
    async fn evidence(
        &self,
        target: &Target,
        release: &Release,
        window: &TimeRange,
    ) -> Result<Evidence> {
        let _ = (target, release, window);
        Err(Error::unsupported("evidence"))
    }

    /// Takes (or renews, for the same holder) the target's lock for `ttl`. A live lease of
    /// another holder → `Conflict` naming that holder; an expired one is taken over.
    async fn lock(&self, target: &Target, holder: &str, ttl: Duration) -> Result<Lease> {
        let _ = (target, holder, ttl);
        Err(Error::unsupported("lock"))
    }

    /// Releases a lease taken with [`Platform::lock`].
    async fn unlock(&self, target: &Target, lease: &Lease) -> Result<()> {
        let _ = (target, lease);
        Err(Error::unsupported("unlock"))
    }

    /// Records a verified/failed mark on a release, with a reason (mutating).
    async fn mark(
        &self,
        target: &Target,
        release: &Release,
        mark: ReleaseMark,
        reason: &str,
    ) -> Result<()> {
        let _ = (target, release, mark, reason);
        Err(Error::unsupported("mark"))
    }
}
