//! # rollback-prometheus
//!
//! A [`MetricsSource`](rollback_core::MetricsSource) that reads the SLA metrics of a deployment
//! from Prometheus, over its HTTP API (`/api/v1/query_range`, `/api/v1/query`).
//!
//! Each [`MetricKind`](rollback_core::MetricKind) is answered by a PromQL *template* with
//! placeholders for the target and release. The defaults fit common instrumentation:
//!
//! | kind | default (default names) | unit |
//! |---|---|---|
//! | `ErrorRate` | `(sum(rate(http_requests_total{{selector},code=~"5.."}[{window}])) or vector(0)) / sum(rate(http_requests_total{{selector}}[{window}]))` | ratio 0–1 |
//! | `RequestRate` | `sum(rate(http_requests_total{{selector}}[{window}]))` | req/s |
//! | `Latency(q)` | `1000 * histogram_quantile({quantile}, sum by (le) (rate(http_request_duration_seconds_bucket{{selector}}[{window}])))` | ms |
//! | `CpuUtilization` | `100 * sum(rate(container_cpu_usage_seconds_total{{pod_selector},container!="",container!="POD"}[{window}])) / sum(kube_pod_container_resource_limits{{pod_selector},resource="cpu"})` | % of limit |
//! | `MemoryUtilization` | `100 * sum(container_memory_working_set_bytes{{pod_selector},…}) / sum(kube_pod_container_resource_limits{{pod_selector},resource="memory"})` | % of limit |
//! | `MemoryBytes` | `sum(container_memory_working_set_bytes{{pod_selector},container!="",container!="POD"})` | bytes |
//! | `StatusCodes` | `http_requests_total{{selector}}`, counted per step (below) | responses per step, one series per `code` |
//! | `LatencyHistogram` | `http_request_duration_seconds_bucket{{selector}}`, counted per step (below) | responses per step at or below each `le` (ms) |
//! | `Custom(name)` | `[custom] name = "…"` in the configuration | as written |
//!
//! ## Placeholders
//!
//! * `{deployment}`, `{namespace}`, `{version}`, `{revision}` — values, **inside double quotes**
//!   (`app="{deployment}"`). They are escaped for the string (and, after `=~`, for the regex),
//!   so no value can inject PromQL.
//! * `{selector}` — `deployment="…"[,namespace="…"][,version="…"]` with the configured label
//!   names; the version only when the query names a release.
//! * `{pod_selector}` — `namespace="…",pod=~"<deployment>-[a-z0-9]+-[a-z0-9]+"`, or, for a release,
//!   `pod=~"<revision>-[a-z0-9]+"` (a Kubernetes release's revision is its ReplicaSet name).
//! * `{window}` — the larger of the step and `rate_window`; `{step}` — the query step;
//!   `{quantile}` — `0.95` for p95 (latency template only).
//!
//! Templates are checked when the source is built: an unknown placeholder is an error that lists
//! the accepted ones.
//!
//! ## Exact counts per step
//!
//! The sequential tests of `rollback-core` need the *number* of responses (by code, or at or
//! below each latency bound) in each step, and their false-alarm guarantee holds only for real
//! counts. `increase(x[step])` is not one: it extrapolates to the window's length (a step
//! shorter than two scrape intervals doubles or drops counts) and misses the first value of a
//! series created inside the window, which is how a release's first 500s arrive. So the
//! `StatusCodes` and `LatencyHistogram` templates are **vector selectors of the counters**, and
//! the source reads their raw samples (one instant query of `<selector>[<span>]`) and counts
//! every scrape: a drop is a counter reset (the increment is the new value), a series first
//! seen inside the range counts its first value, and each step sums the increments of the
//! samples in `(t − step, t]` by status code (by `le`). The counts are whole numbers whatever
//! the step and the scrape interval. An override of these two templates must be one selector
//! (a metric name and label matchers, e.g. `http_requests_total{{selector},handler!="/health"}`);
//! anything else is refused when the source is built.

//! ## Latency unit
//!
//! `metrics.latency_unit` (`"seconds"`, the default, or `"milliseconds"`) is the unit of the
//! histogram's `le` bounds. Answers are in milliseconds either way: the default `Latency(q)`
//! template multiplies by 1000 for seconds, and the `le` label of every `LatencyHistogram`
//! series is converted (`0.25` → `250`; `+Inf` stays `+Inf`). A series without `le`, or with an
//! `le` that is not a non-negative number or `+Inf`, fails the query with `InvalidInput`.
//! In a [`ValidationReport`], `LatencyHistogram` is optional ([`is_optional`]): no data for it is
//! reported but does not fail the report.
//!
//! ## Example
//!
//! ```no_run
//! use std::time::Duration;
//! use rollback_core::{Environment, MetricKind, MetricQuery, MetricsSource, Quantile, Target, TimeRange};
//! use rollback_prometheus::{PrometheusConfig, PrometheusSource};
//!
//! # async fn run() -> rollback_core::Result<()> {
//! let config = PrometheusConfig::from_toml_str(r#"
//!     url = "http://prometheus.monitoring:9090"
//!     [labels]
//!     deployment = "app"
//!     [auth]
//!     type = "bearer"
//!     token_env = "PROMETHEUS_TOKEN"
//! "#)?;
//! let source = PrometheusSource::new(config)?;
//! let target = Target::new(Environment::Production, "checkout").with_namespace("shop");
//!
//! // Before relying on it: does every query return data for this target?
//! let report = source.validate(&source.kinds(), &target).await?;
//! print!("{report}");
//!
//! let range = TimeRange::ending_at(chrono::Utc::now(), Duration::from_secs(900));
//! let p95 = MetricQuery::new(MetricKind::Latency(Quantile::P95), target, range, Duration::from_secs(60));
//! let series = source.query(&p95).await?;
//! if series.is_empty() {
//!     println!("no data");
//! }
//! # Ok(()) }
//! ```
//!
//! ## Errors
//!
//! Bad PromQL (HTTP 400/422) is `InvalidInput` with Prometheus's own message; 5xx, timeouts and
//! connection failures are temporary `Unavailable` / `TimedOut`; 401/403 are `PermissionDenied`.
//! Credentials are read from environment variables and never appear in `Debug` output or errors.
//!
//! See the crate README for the configuration reference.
#![warn(missing_docs)]

mod config;
mod counts;
mod error_map;
mod histogram;
mod response;
mod secret;
mod source;
mod template;
mod validate;

pub use config::{
    AuthConfig, LabelNames, LatencyUnit, MetricNames, PrometheusConfig, TemplateOverrides,
};
pub use secret::{Auth, Secret};
pub use source::PrometheusSource;
pub use template::PLACEHOLDERS;
pub use validate::{is_optional, KindCheck, KindOutcome, ValidationReport};

/// The README's example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
