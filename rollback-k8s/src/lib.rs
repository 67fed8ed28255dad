//! # rollback-k8s
//!
//! The Kubernetes backend of `rollback`: [`KubePlatform`] implements
//! [`rollback_core::Platform`] over Deployments and their ReplicaSets, blue-green Services,
//! Gateway API `HTTPRoute`s, `coordination.k8s.io` Leases, pod logs and events.
//!
//! | mode (`KubeConfig::mode`) | releases | strategies | capabilities |
//! |---|---|---|---|
//! | `rollout` (default) | the ReplicaSets of one Deployment, by `deployment.kubernetes.io/revision` | full revert (`kubectl rollout undo` mechanics) | revert, evidence, lock, mark |
//! | `blue-green` | the current ReplicaSet of each slot Deployment | instant: one patch of the Service selector | traffic switch, scale, evidence, lock, mark |
//! | `gateway` | as `blue-green` | instant and gradual: one patch of the `HTTPRoute` weights per step | traffic switch, weighted traffic, scale, evidence, lock, mark |
//! | `replica-ratio` | as `blue-green`, one Service selects both slots | gradual by replica counts (no traffic router) | traffic switch, weighted traffic, scale, evidence, lock, mark |
//!
//! A release's revision is its ReplicaSet's name; its version is the label (or annotation)
//! `app.kubernetes.io/version` (configurable), else the image tag. Verified/failed marks are
//! annotations on the ReplicaSet (`rollback.dev/mark`, `rollback.dev/mark-reason`), so the next
//! run knows which revisions were good.
//!
//! ```no_run
//! # async fn demo() -> rollback_core::Result<()> {
//! use rollback_core::{Environment, Platform, Target};
//! use rollback_k8s::{KubeConfig, KubePlatform, Mode};
//!
//! let config: KubeConfig = toml::from_str(r#"
//!     mode = "blue-green"
//!     service = "{deployment}"
//! "#).map_err(|e| rollback_core::Error::invalid_input(e.to_string()))?;
//! let platform = KubePlatform::try_default(config).await?;
//! let target = Target::new(Environment::Production, "api").with_namespace("shop");
//! println!("traffic: {}", platform.traffic(&target).await?);
//! # Ok(()) }
//! ```
//!
//! The minimal RBAC Role is in `rbac.yaml` next to this crate's `Cargo.toml`; its README says
//! which call needs which verb.
#![warn(missing_docs)]

mod config;
mod error_map;
mod evidence;
mod health;
mod layout;
mod lease;
mod platform;
pub mod readiness;
mod revert;
pub mod template;
mod time;
mod traffic;

pub use config::{KubeConfig, Mode, DEFAULT_SLOT_LABEL, DEFAULT_VERSION_LABEL};
pub use error_map::BACKEND;
pub use lease::lease_name;
pub use platform::{KubePlatform, MARK_ANNOTATION, MARK_REASON_ANNOTATION, REVISION_ANNOTATION};
pub use traffic::httproute_resource;
