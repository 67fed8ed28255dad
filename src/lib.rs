//! # rollback
//!
//! Intelligent rollback orchestration for failing deployments. When a release goes bad,
//! `rollback` detects it from SLA metrics and from its workload's health (crash loops,
//! instances never ready; see [`workload`]), picks a release with a *verified healthy* history to
//! return to (never blindly N-1), validates, switches back — instantly (blue-green), gradually
//! (reverse canary) or by reverting the workload — confirms health, runs smoke tests, explains
//! the failure in a root-cause report, cleans up and tells people.
//!
//! This crate is the facade: it re-exports [`rollback_core`] and adds backends by feature.
//!
//! | feature | what it adds |
//! |---|---|
//! | `sim` (default) | the in-memory simulation platform and its scenarios ([`sim`]) |
//! | `http-check` (default) | [`HttpCheck`], the HTTP gate / smoke test |
//! | `rca` (default) | root-cause analyzers (logs, stack traces, failure signatures, release diff) and the HTML report ([`rca`]) |
//! | `ecs` | the Amazon ECS platform and CloudWatch metrics ([`ecs`]) |
//! | `kube` | the Kubernetes platform ([`k8s`]) |
//! | `prometheus` | the Prometheus metrics source ([`prometheus`]) |
//! | `notify` | every notification channel ([`notify`]); or one each: `slack`, `pagerduty`, `email`, `github`, `teams`, `webhook` |
//! | `mock` | mockall mocks of every trait (`MockPlatform`, `MockMetricsSource`, …) |
//! | `testkit` | the conformance suite for your own `Platform` ([`testkit`]) |
//!
//! ## Quick start
//!
//! ```
//! use rollback::sim::Simulation;
//! use rollback::{Environment, Orchestrator, Outcome, RollbackRequest, Target};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> rollback::Result<()> {
//! let sim = Simulation::builtin("spec-incident")?;
//! let orchestrator = Orchestrator::builder(sim.platform(), sim.metrics())
//!     .clock(sim.clock())
//!     .build()?;
//! let target = Target::new(Environment::Production, "api-service").with_namespace("production");
//! let request = RollbackRequest::new(target).reason("High error rate");
//! let report = orchestrator.run(request).await;
//! assert_eq!(report.outcome, Outcome::RolledBack);
//! assert_eq!(report.to.unwrap().version.to_string(), "v1.2.9");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod config;
#[cfg(feature = "http-check")]
mod http_check;

#[cfg(feature = "http-check")]
pub use http_check::HttpCheck;
pub use rollback_core::*;
/// The Amazon ECS platform and CloudWatch metrics (feature `ecs`).
#[cfg(feature = "ecs")]
pub use rollback_ecs as ecs;
/// The Kubernetes platform (feature `kube`).
#[cfg(feature = "kube")]
pub use rollback_k8s as k8s;
/// Notification channels (features `notify`, `slack`, `pagerduty`, `email`, `github`, `teams`,
/// `webhook`).
#[cfg(any(
    feature = "slack",
    feature = "pagerduty",
    feature = "email",
    feature = "github",
    feature = "teams",
    feature = "webhook"
))]
pub use rollback_notify as notify;
/// The Prometheus metrics source (feature `prometheus`).
#[cfg(feature = "prometheus")]
pub use rollback_prometheus as prometheus;
/// Root-cause analyzers and the HTML report (feature `rca`, default).
#[cfg(feature = "rca")]
pub use rollback_rca as rca;

/// The README's code, compiled as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
