//! An in-memory deployment environment for tests, demos and benchmarks (feature `sim`).
//!
//! A [`Scenario`] (a TOML file; see [`scenario`] for the format) describes a deployment: its
//! releases newest first, which one serves how much traffic, each release's health over time
//! (baseline figures and failure modes with onsets), its logs and platform events, and faults to
//! inject. A [`Simulation`] runs it: [`Simulation::platform`] is a [`Platform`](crate::Platform),
//! [`Simulation::metrics`] a [`MetricsSource`](crate::MetricsSource) and
//! [`Simulation::data_guard`] a [`DataGuard`](crate::DataGuard), all answering from the same
//! state and reacting to what the orchestrator does (traffic moves, reverts, scaling, marks,
//! locks). Everything is deterministic from the scenario's seed, and all waiting goes through
//! tokio time.
//!
//! Builtin scenarios ([`Scenario::builtin_names`]): `spec-incident` (the default: v1.3.0
//! failing in production, v1.2.9 warm on green), `staging-canary`, `dev-no-bluegreen`,
//! `healthy`, `cascade`, `gradual-overload`, `latency-regression` (inside the SLA, but
//! slower than before the deploy: only the regression test sees it) and `crash-loop` (pods
//! OOM-killed over and over while the metrics stay within the SLA: only the workload shows
//! it).
//!
//! ```
//! use std::time::Duration;
//! use rollback_core::sim::Simulation;
//! use rollback_core::{MetricKind, MetricQuery, MetricsSource, TimeRange};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> rollback_core::Result<()> {
//! let sim = Simulation::builtin("spec-incident")?;
//! let now = sim.clock().now();
//! let query = MetricQuery::new(
//!     MetricKind::ErrorRate,
//!     sim.target(),
//!     TimeRange::ending_at(now, Duration::from_secs(300)),
//!     Duration::from_secs(10),
//! );
//! let series = sim.metrics().query(&query).await?;
//! let mean = series[0].mean_since(now - chrono::Duration::seconds(60)).unwrap();
//! assert!((mean - 0.124).abs() < 1e-12);
//! # Ok(()) }
//! ```

mod evidence;
mod fault;
mod metrics;
mod noise;
pub mod scenario;
mod simulation;
mod world;

#[cfg(test)]
mod tests;

pub use fault::{Fault, FaultKind, Operation, Times};
pub use scenario::{Router, Scenario, DEFAULT_SCENARIO};
pub use simulation::{CallRecord, SimDataGuard, SimMetrics, SimPlatform, Simulation};
