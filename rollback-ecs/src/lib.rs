//! # rollback-ecs
//!
//! Amazon ECS as a [`Platform`](rollback_core::Platform) of `rollback`, and CloudWatch as its
//! [`MetricsSource`](rollback_core::MetricsSource).
//!
//! | what | how |
//! |---|---|
//! | releases | the task-definition revisions of the service's family, with ECS deployment history (`ListServiceDeployments`, else `DescribeServices`); version from a task-definition tag or the image tag |
//! | full revert | `UpdateService` to the target task definition, waiting for the rollout to complete; an in-flight deployment away from the target is rolled back by ECS (`StopServiceDeployment` with `ROLLBACK`, or `ContinueServiceDeployment` with `ROLLBACK` at a paused lifecycle hook) |
//! | instant / gradual | a blue/green pair of services behind one ALB listener (or rule) forwarding to two weighted target groups: one `ModifyListener`/`ModifyRule` per step; a target group without healthy targets never gets weight |
//! | health, evidence | running/desired/pending, failed tasks, stopped tasks' reasons and exit codes (`OutOfMemoryError`), circuit breaker, service events, CloudWatch Logs |
//! | clean-up | `scale` sets desiredCount; task definitions are never deregistered |
//! | lock | a DynamoDB conditional write with a TTL attribute ([`lock`] module docs) |
//! | marks | tags `rollback:mark` = `verified`/`failed` on the task definition |
//! | metrics | [`CloudWatchMetrics`]: ALB 5xx/requests, `TargetResponseTime` percentiles, ECS CPU/memory, custom metrics |
//!
//! All AWS errors go through one table ([`error_map::classify`]): throttling and server errors
//! are temporary, `ClientException`/`InvalidParameterException` are invalid input with AWS's
//! message, access denied names the IAM action.
//!
//! ## The reference command's `--platform ecs --cluster C --service S`
//!
//! ```no_run
//! # async fn demo() -> rollback_core::Result<()> {
//! use rollback_core::{Environment, Orchestrator, RollbackRequest};
//! use rollback_ecs::{CloudWatchMetrics, EcsPlatform};
//!
//! // Standard AWS credential chain and region.
//! let platform = EcsPlatform::for_service("prod", "web").await?;
//! let metrics = CloudWatchMetrics::for_platform(&platform);
//! let target = platform.default_target(Environment::Production)?;
//! let orchestrator = Orchestrator::builder(platform, metrics).build()?;
//! let report = orchestrator
//!     .start(RollbackRequest::new(target).reason("5xx after deploy"))
//!     .report()
//!     .await?;
//! println!("{:?}", report.outcome);
//! # Ok(()) }
//! ```
//!
//! ## A blue/green pair from a config file
//!
//! ```no_run
//! # async fn demo(text: &str) -> rollback_core::Result<()> {
//! let config: rollback_ecs::EcsConfig = toml::from_str(text)
//!     .map_err(|e| rollback_core::Error::invalid_input(e.to_string()))?;
//! let platform = rollback_ecs::EcsPlatform::from_config(config).await?;
//! # let _ = platform;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod clients;
mod config;
pub mod error_map;
mod evidence;
pub mod lock;
mod metrics;
mod platform;
mod releases;

pub use clients::{ApiCalls, AwsClients};
pub use config::{BlueGreenConfig, DeploymentHistory, EcsConfig, SlotConfig};
pub use metrics::{CloudWatchMetrics, CustomMetric};
pub use platform::EcsPlatform;
pub use releases::{MARKED_AT_TAG, MARK_REASON_TAG, MARK_TAG};
