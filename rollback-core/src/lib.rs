//! # rollback-core
//!
//! The traits, data model, errors and orchestrator of `rollback`, plus an in-memory simulation
//! (feature `sim`), mockall mocks (feature `mock`) and a conformance suite for platforms
//! (feature `testkit`). Most users depend on the `rollback` facade crate, which re-exports this
//! crate and adds the backends by feature.
#![warn(missing_docs)]

pub mod analyzer;
pub mod check;
pub mod checks;
pub mod clock;
pub mod compare;
pub mod data_guard;
pub mod detect;
pub mod error;
pub mod journal;
pub mod jsonl_notifier;
pub mod judge;
pub mod metrics_source;
pub mod model;
pub mod notifier;
pub mod orchestrator;
pub mod platform;
pub mod policy;
pub mod rca_report;
pub mod redact;
pub mod report;
pub mod request;
pub mod retry;
pub mod sequential;
#[cfg(feature = "sim")]
pub mod sim;
pub mod timeline;
pub mod workload;

pub use analyzer::Analyzer;
pub use check::Check;
pub use checks::TcpCheck;
pub use clock::Clock;
pub use data_guard::DataGuard;
pub use error::{Error, ErrorKind, ErrorRecord, Result};
pub use jsonl_notifier::JsonLinesNotifier;
pub use metrics_source::MetricsSource;
pub use model::check::{CheckContext, CheckOutcome, CheckPhase, CheckStatus};
pub use model::event::{Event, EventKind, KeyMetric, Stage};
pub use model::evidence::{EventLevel, Evidence, LogLine, PlatformEvent};
pub use model::finding::{
    Finding, FindingKind, Incident, IncidentMetric, Severity, SourceLocation, Trigger,
};
pub use model::health::HealthSnapshot;
pub use model::metric::{MetricKind, MetricQuery, Quantile, Sample, Series, TimeRange};
pub use model::release::{Release, ReleaseMark, ReleaseRef, ReleaseState, Replicas};
pub use model::target::{Environment, Target};
pub use model::traffic::{TrafficSplit, TrafficWeight};
pub use model::version::Version;
pub use notifier::Notifier;
pub use orchestrator::{Orchestrator, OrchestratorBuilder, Progress, RunHandle};
pub use platform::{Capabilities, Lease, Platform};
pub use policy::Policy;
pub use report::{Outcome, RollbackReport};
pub use request::{RollbackRequest, Strategy, StrategyChoice};

#[cfg(feature = "testkit")]
pub mod testkit;
