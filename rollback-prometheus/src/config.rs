//! The configuration of a [`PrometheusSource`](crate::PrometheusSource), as read from TOML.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rollback_core::{Error, ErrorKind, Result};

/// Configuration of a Prometheus metrics source.
///
/// Every field but `url` has a default; unknown keys are rejected so that a typo is reported
/// rather than silently ignored.
///
/// ```
/// use rollback_prometheus::PrometheusConfig;
/// let config = PrometheusConfig::from_toml_str(r#"
///     url = "http://prometheus.monitoring:9090"
///     timeout = "5s"
///
///     [labels]
///     deployment = "app"
///
///     [custom]
///     queue_depth = 'max(queue_depth{ {selector} })'
/// "#).unwrap();
/// assert_eq!(config.labels.deployment, "app");
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL of the Prometheus server (`http://prometheus:9090`, or with a path prefix,
    /// `https://gateway/prometheus`). Must not contain credentials: use [`auth`](Self::auth).
    pub url: String,
    /// Deadline of one HTTP request (also sent to Prometheus as the query timeout).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The shortest window of `rate()` / `increase()` (`{window}` is the larger of this and the
    /// query step). Make it at least four scrape intervals.
    #[serde(default = "default_rate_window", with = "humantime_serde")]
    pub rate_window: Duration,
    /// Label names of your instrumentation.
    #[serde(default)]
    pub labels: LabelNames,
    /// Metric names of your instrumentation, used by the default templates.
    #[serde(default)]
    pub metrics: MetricNames,
    /// PromQL templates that replace the defaults, per metric kind.
    #[serde(default)]
    pub templates: TemplateOverrides,
    /// Named custom queries (`MetricKind::Custom(name)`), as PromQL templates.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
    /// How to authenticate; `None` sends no credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_rate_window() -> Duration {
    Duration::from_secs(120)
}

impl PrometheusConfig {
    /// A configuration with defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        PrometheusConfig {
            url: url.into(),
            timeout: default_timeout(),
            rate_window: default_rate_window(),
            labels: LabelNames::default(),
            metrics: MetricNames::default(),
            templates: TemplateOverrides::default(),
            custom: BTreeMap::new(),
            auth: None,
        }
    }

    /// Parses a configuration from TOML text.
    ///
    /// The error says which key is wrong and what is accepted (serde's message), never a value
    /// of a secret: secrets are not in the file, only the names of the variables holding them.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("invalid Prometheus configuration: {}", e.message()),
            )
            .with_backend("prometheus")
            .with_operation("configure")
            .with_context(
                "accepted keys",
                "url, timeout, rate_window, [labels], [metrics], [templates], [custom], [auth]",
            )
        })
    }
}

impl fmt::Debug for PrometheusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("rate_window", &self.rate_window)
            .field("labels", &self.labels)
            .field("metrics", &self.metrics)
            .field("templates", &self.templates)
            .field("custom", &self.custom)
            .field("auth", &self.auth)
            .finish()
    }
}

/// `scheme://user:pass@host/…` → `scheme://***@host/…`; other URLs unchanged.
pub(crate) fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some(at) = authority.rfind('@') {
            return format!("{scheme}://***@{}{tail}", &authority[at + 1..]);
        }
    }
    url.to_string()
}

/// Label names used to select a deployment's series.
///
/// `{selector}` expands to `deployment="…"`, plus `namespace="…"` when the target has a
/// namespace, plus `version="…"` (and `revision="…"` when [`revision`](Self::revision) is set)
/// when the query names a release — each with the label name configured here.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelNames {
    /// Label holding the deployment name (default `deployment`).
    pub deployment: String,
    /// Label holding the namespace (default `namespace`; cAdvisor and kube-state-metrics use it).
    pub namespace: String,
    /// Label holding the release version (default `version`).
    pub version: String,
    /// Label holding the platform revision, if your series carry one (default: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Label holding the HTTP status code on the request counter (default `code`).
    pub status: String,
    /// Label holding the pod name on cAdvisor / kube-state-metrics series (default `pod`).
    pub pod: String,
}

impl Default for LabelNames {
    fn default() -> Self {
        LabelNames {
            deployment: "deployment".into(),
            namespace: "namespace".into(),
            version: "version".into(),
            revision: None,
            status: "code".into(),
            pod: "pod".into(),
        }
    }
}

/// The unit of the latency histogram's buckets (`metrics.latency_unit`: `"seconds"` or
/// `"milliseconds"`; any other value is a configuration error naming these two).
///
/// Answers are always in milliseconds: the default `Latency(q)` template multiplies by 1000 for
/// seconds, and the `le` label of every `LatencyHistogram` series is converted (`0.25` → `250`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyUnit {
    /// Buckets in seconds (the Prometheus convention): latencies and `le` bounds are multiplied
    /// by 1000.
    #[default]
    Seconds,
    /// Buckets in milliseconds: used as they are.
    Milliseconds,
}

impl LatencyUnit {
    /// The configuration value: `seconds` or `milliseconds`.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyUnit::Seconds => "seconds",
            LatencyUnit::Milliseconds => "milliseconds",
        }
    }

    /// The power of ten that turns a value in this unit into milliseconds.
    pub(crate) fn millis_exponent(self) -> i32 {
        match self {
            LatencyUnit::Seconds => 3,
            LatencyUnit::Milliseconds => 0,
        }
    }
}

impl fmt::Display for LatencyUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metric names used by the default templates.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricNames {
    /// The request counter, with a status-code label (default `http_requests_total`).
    pub requests: String,
    /// The latency histogram's base name, without `_bucket` (default
    /// `http_request_duration_seconds`).
    pub latency_histogram: String,
    /// The unit of the histogram's `le` buckets (default `seconds`; or `milliseconds`).
    pub latency_unit: LatencyUnit,
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames {
            requests: "http_requests_total".into(),
            latency_histogram: "http_request_duration_seconds".into(),
            latency_unit: LatencyUnit::Seconds,
        }
    }
}

/// PromQL templates replacing the defaults, one optional field per metric kind.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateOverrides {
    /// `MetricKind::ErrorRate`: a ratio in 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<String>,
    /// `MetricKind::RequestRate`: requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<String>,
    /// `MetricKind::Latency(q)`: milliseconds; the only template that may use `{quantile}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// `MetricKind::CpuUtilization`: percent of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// `MetricKind::MemoryUtilization`: percent of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `MetricKind::MemoryBytes`: bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<String>,
    /// `MetricKind::StatusCodes`: responses per step, one series per status-code label value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_codes: Option<String>,
    /// `MetricKind::LatencyHistogram`: responses per step at or below each bucket bound, one
    /// series per `le` label value in [`MetricNames::latency_unit`] (converted to milliseconds
    /// in the answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
}

/// How to authenticate, as configured: the secret itself is read from an environment variable
/// when the source is built, so it never sits in a file.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: Bearer <token>`, the token read from `token_env`.
    Bearer {
        /// Name of the environment variable holding the token.
        token_env: String,
    },
    /// HTTP basic authentication, the password read from `password_env`.
    Basic {
        /// The user name.
        username: String,
        /// Name of the environment variable holding the password.
        password_env: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_toml_takes_defaults() {
        let c = PrometheusConfig::from_toml_str(r#"url = "http://p:9090""#).expect("valid");
        assert_eq!(c, PrometheusConfig::new("http://p:9090"));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.metrics.requests, "http_requests_total");
    }

    #[test]
    fn full_toml_is_read() {
        let c = PrometheusConfig::from_toml_str(
            r#"
            url = "https://gw/prometheus"
            timeout = "3s"
            rate_window = "5m"
            [labels]
            deployment = "app"
            version = "app_version"
            revision = "rs"
            status = "status"
            [metrics]
            requests = "requests_total"
            latency_histogram = "latency_ms"
            latency_unit = "milliseconds"
            [templates]
            cpu = "sum(my_cpu{ {selector} })"
            [custom]
            queue = "max(queue_depth)"
            [auth]
            type = "basic"
            username = "ops"
            password_env = "PROM_PASSWORD"
            "#,
        )
        .expect("valid");
        assert_eq!(c.rate_window, Duration::from_secs(300));
        assert_eq!(c.labels.revision.as_deref(), Some("rs"));
        assert_eq!(c.metrics.latency_unit, LatencyUnit::Milliseconds);
        assert_eq!(c.custom["queue"], "max(queue_depth)");
        assert_eq!(
            c.auth,
            Some(AuthConfig::Basic {
                username: "ops".into(),
                password_env: "PROM_PASSWORD".into()
            })
        );
    }

    #[test]
    fn unknown_key_is_rejected_with_the_accepted_keys() {
        let err = PrometheusConfig::from_toml_str("url = \"http://p\"\ntimout = \"3s\"")
            .expect_err("typo");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains("timout"), "{msg}");
        assert!(msg.contains("timeout"), "{msg}");
    }

    #[test]
    fn latency_unit_accepts_seconds_and_milliseconds_only() {
        let unit = |v: &str| {
            PrometheusConfig::from_toml_str(&format!(
                "url = \"http://p\"\n[metrics]\nlatency_unit = \"{v}\""
            ))
            .map(|c| c.metrics.latency_unit)
        };
        assert_eq!(unit("seconds").expect("valid"), LatencyUnit::Seconds);
        assert_eq!(
            unit("milliseconds").expect("valid"),
            LatencyUnit::Milliseconds
        );
        let err = unit("ms").expect_err("not a unit name");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains("`ms`"), "{msg}");
        assert!(msg.contains("`seconds`"), "{msg}");
        assert!(msg.contains("`milliseconds`"), "{msg}");
        assert_eq!(LatencyUnit::Milliseconds.to_string(), "milliseconds");
    }

    #[test]
    fn latency_histogram_template_can_be_overridden() {
        let c = PrometheusConfig::from_toml_str(
            "url = \"http://p\"\n[templates]\nlatency_histogram = 'sum by (le) (x{ {selector} })'",
        )
        .expect("valid");
        assert_eq!(
            c.templates.latency_histogram.as_deref(),
            Some("sum by (le) (x{ {selector} })")
        );
    }

    #[test]
    fn unknown_key_in_auth_is_rejected() {
        let err = PrometheusConfig::from_toml_str(
            "url = \"http://p\"\n[auth]\ntype = \"bearer\"\ntoken = \"literal\"",
        )
        .expect_err("token literal not accepted");
        assert!(err.to_string().contains("token"), "{err}");
        assert!(!err.to_string().contains("literal"), "{err}");
    }

    #[test]
    fn readme_configuration_example_is_valid() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").expect("toml block") + "```toml\n".len();
        let len = readme[start..].find("```").expect("end of block");
        let c = PrometheusConfig::from_toml_str(&readme[start..start + len]).expect("valid");
        assert_eq!(c.custom.len(), 1);
        assert_eq!(c.rate_window, Duration::from_secs(120));
    }

    #[test]
    fn debug_redacts_credentials_in_the_url() {
        let c = PrometheusConfig::new("https://ops:hunter2@prom.example/api");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("https://***@prom.example/api"), "{dbg}");
    }
}
