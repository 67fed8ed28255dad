//! Releases of a target: version, platform revision, state, and what we know of their health.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::version::Version;

/// Where a release stands on the platform right now.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Receiving (some) production traffic, or the workload's desired state.
    Serving,
    /// Running with capacity but not serving: a warm blue-green slot.
    Standby,
    /// Known to the platform (revision history, task definition) but not running.
    Inactive,
}

/// What the rollback tool (or the platform) has concluded about a release's health.
///
/// Platforms persist it (annotations, tags) so that the next run knows which releases were good.
#[non_exhaustive]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseMark {
    /// Nothing recorded.
    #[default]
    Unknown,
    /// Verified healthy (it passed a post-deploy or post-rollback health check).
    Verified,
    /// Known to have failed; never a rollback target.
    Failed,
}

/// Desired and ready capacity of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Replicas {
    /// Instances the platform is asked to run.
    pub desired: u32,
    /// Instances ready to serve.
    pub ready: u32,
}

/// One release of a target.
///
/// Construct with [`Release::new`] and set the other public fields.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Release {
    /// The version (image tag, label).
    pub version: Version,
    /// The platform's own id: ReplicaSet name, task-definition ARN, slot name…
    pub revision: String,
    /// Where the release stands now.
    pub state: ReleaseState,
    /// What is known of its health.
    pub mark: ReleaseMark,
    /// The blue-green slot it runs in, if any (`blue`, `green`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// When it started serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<DateTime<Utc>>,
    /// When it stopped serving (`None` while it still serves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<DateTime<Utc>>,
    /// Capacity now.
    pub replicas: Replicas,
    /// Descriptive attributes for diffs and reports: `image`, `env.NAME` (names only, never
    /// values), `resources.memory`, … Never put a secret here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Release {
    /// A release in state [`ReleaseState::Inactive`] with nothing else known.
    pub fn new(version: Version, revision: impl Into<String>) -> Self {
        Release {
            version,
            revision: revision.into(),
            state: ReleaseState::Inactive,
            mark: ReleaseMark::Unknown,
            slot: None,
            deployed_at: None,
            retired_at: None,
            replicas: Replicas::default(),
            attributes: BTreeMap::new(),
        }
    }

    /// A short reference to the release.
    pub fn reference(&self) -> ReleaseRef {
        ReleaseRef {
            version: self.version.clone(),
            revision: self.revision.clone(),
        }
    }
}

/// A release named by version and platform revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ReleaseRef {
    /// The version.
    pub version: Version,
    /// The platform revision.
    pub revision: String,
}

impl std::fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.version)
    }
}
