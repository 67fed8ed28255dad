//! [`PrometheusSource`]: the [`MetricsSource`] over the Prometheus HTTP API.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use rollback_core::{
    Error, ErrorKind, MetricKind, MetricQuery, MetricsSource, Quantile, ReleaseRef, Result, Series,
    Target, TimeRange,
};

use crate::config::{redact_url, AuthConfig, LabelNames, LatencyUnit, PrometheusConfig};
use crate::error_map::{map_failure, Call, Failure};
use crate::histogram::le_to_millis;
use crate::response::{into_series, ApiResponse};
use crate::secret::{Auth, Secret};
use crate::template::{check_name, defaults, promql_duration, Template, Vars};
use crate::validate::{KindOutcome, ValidationReport};

/// Prometheus refuses range queries of more than this many points per series.
const MAX_POINTS: u128 = 11_000;

/// How many bytes of a non-API error body are kept in an error message.
const BODY_SNIPPET: usize = 300;

const QUERY_RANGE: &str = "/api/v1/query_range";
const QUERY: &str = "/api/v1/query";

/// A [`MetricsSource`] that answers metric queries from a Prometheus server.
///
/// Each [`MetricKind`] has a PromQL template (defaults for common instrumentation, overridable in
/// the configuration); a query renders its template for the target and release, runs it with
/// `/api/v1/query_range`, and returns one [`Series`] per result series with its labels. An empty
/// result is returned as an empty `Vec` — *no data* — never as zeros.
///
/// A [`MetricKind::LatencyHistogram`] answer has its `le` labels converted from
/// `metrics.latency_unit` to milliseconds (`0.25` → `250`, `+Inf` unchanged); a series without
/// `le`, or with one that is not a non-negative number or `+Inf`, fails the query with
/// [`ErrorKind::InvalidInput`].
///
/// ```no_run
/// use std::time::Duration;
/// use rollback_core::{Environment, MetricKind, MetricQuery, MetricsSource, Target, TimeRange};
/// use rollback_prometheus::{PrometheusConfig, PrometheusSource};
///
/// # async fn run() -> rollback_core::Result<()> {
/// let source = PrometheusSource::new(PrometheusConfig::new("http://prometheus:9090"))?;
/// let target = Target::new(Environment::Production, "checkout").with_namespace("shop");
/// let range = TimeRange::ending_at(chrono::Utc::now(), Duration::from_secs(600));
/// let query = MetricQuery::new(MetricKind::ErrorRate, target, range, Duration::from_secs(60));
/// for series in source.query(&query).await? {
///     println!("{:?}: {:?}", series.labels, series.last());
/// }
/// # Ok(()) }
/// ```
///
/// Clones share the HTTP connection pool.
#[derive(Clone)]
pub struct PrometheusSource {
    client: reqwest::Client,
    /// The base URL without a trailing slash.
    base_url: String,
    timeout: Duration,
    rate_window: Duration,
    labels: LabelNames,
    /// The unit of the histogram's `le` labels, converted to milliseconds in answers.
    latency_unit: LatencyUnit,
    templates: Templates,
    auth: Option<Auth>,
    /// The `Authorization` header built from `auth`, marked sensitive.
    auth_header: Option<HeaderValue>,
}

#[derive(Clone)]
struct Templates {
    error_rate: Template,
    request_rate: Template,
    latency: Template,
    cpu: Template,
    memory: Template,
    memory_bytes: Template,
    status_codes: Template,
    latency_histogram: Template,
    custom: BTreeMap<String, Template>,
}

fn configure_error(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
        .with_backend("prometheus")
        .with_operation("configure")
}

impl PrometheusSource {
    /// Builds a source from its configuration.
    ///
    /// Everything is checked here, before any query: the URL (http or https, no credentials in
    /// it), label and metric names, every template (unknown placeholders are reported with the
    /// list of accepted ones), and the secret's environment variable, which is read now.
    pub fn new(config: PrometheusConfig) -> Result<Self> {
        let base_url = check_url(&config.url)?;
        if config.timeout.is_zero() {
            return Err(configure_error(
                "timeout must be positive: expected a duration such as \"10s\"".into(),
            ));
        }
        if config.rate_window.is_zero() {
            return Err(configure_error(
                "rate_window must be positive: expected a duration such as \"2m\"".into(),
            ));
        }
        let l = &config.labels;
        check_name("labels.deployment", &l.deployment, false)?;
        check_name("labels.namespace", &l.namespace, false)?;
        check_name("labels.version", &l.version, false)?;
        check_name("labels.status", &l.status, false)?;
        check_name("labels.pod", &l.pod, false)?;
        if let Some(rev) = &l.revision {
            check_name("labels.revision", rev, false)?;
        }
        check_name("metrics.requests", &config.metrics.requests, true)?;
        check_name(
            "metrics.latency_histogram",
            &config.metrics.latency_histogram,
            true,
        )?;

        let d = defaults(&config.metrics, &config.labels);
        let o = &config.templates;
        let pick = |name: &str, over: &Option<String>, default: &str, quantile: bool| {
            Template::parse(name, over.as_deref().unwrap_or(default), quantile)
        };
        let mut custom = BTreeMap::new();
        for (name, src) in &config.custom {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(configure_error(format!(
                    "custom query name {name:?} is not valid: expected a non-empty name without \
                     whitespace"
                )));
            }
            custom.insert(
                name.clone(),
                Template::parse(&format!("custom.{name}"), src, false)?,
            );
        }
        let templates = Templates {
            error_rate: pick("error_rate", &o.error_rate, &d.error_rate, false)?,
            request_rate: pick("request_rate", &o.request_rate, &d.request_rate, false)?,
            latency: pick("latency", &o.latency, &d.latency, true)?,
            cpu: pick("cpu", &o.cpu, &d.cpu, false)?,
            memory: pick("memory", &o.memory, &d.memory, false)?,
            memory_bytes: pick("memory_bytes", &o.memory_bytes, &d.memory_bytes, false)?,
            status_codes: pick("status_codes", &o.status_codes, &d.status_codes, false)?,
            latency_histogram: pick(
                "latency_histogram",
                &o.latency_histogram,
                &d.latency_histogram,
                false,
            )?,
            custom,
        };
        // The counted kinds are read as range selectors: their templates must be selectors.
        let example_target = Target::new(rollback_core::Environment::Production, "example")
            .with_namespace("example");
        let example_release = ReleaseRef {
            version: rollback_core::Version::parse("v1.0.0").expect("a valid version"),
            revision: "example-1".into(),
        };
        for (name, template, src) in [
            ("status_codes", &templates.status_codes, &o.status_codes),
            (
                "latency_histogram",
                &templates.latency_histogram,
                &o.latency_histogram,
            ),
        ] {
            let rendered = template.render(&Vars {
                target: &example_target,
                release: Some(&example_release),
                window: config.rate_window,
                step: config.rate_window,
                quantile: None,
                labels: &config.labels,
            })?;
            if !crate::counts::is_vector_selector(&rendered) {
                return Err(configure_error(format!(
                    "templates.{name} must select the counters themselves, as one vector \
                     selector such as 'http_requests_total{{{{selector}}}}' (a metric name and \
                     label matchers, no function, aggregation or range): the source reads \
                     their raw samples and counts them per step; got {:?}",
                    src.as_deref().unwrap_or_default()
                )));
            }
        }

        let auth = match &config.auth {
            None => None,
            Some(AuthConfig::Bearer { token_env }) => {
                Some(Auth::Bearer(Secret::from_env(token_env, "auth.token_env")?))
            }
            Some(AuthConfig::Basic {
                username,
                password_env,
            }) => Some(Auth::Basic {
                username: username.clone(),
                password: Secret::from_env(password_env, "auth.password_env")?,
            }),
        };

        let auth_header = auth.as_ref().map(auth_header).transpose()?;

        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            // A redirect would turn the POST into a GET without the query; report it instead.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("rollback-prometheus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Backend,
                    "could not build the HTTP client for Prometheus",
                )
                .with_backend("prometheus")
                .with_operation("configure")
                .with_source(e.without_url())
            })?;

        Ok(PrometheusSource {
            client,
            base_url,
            timeout: config.timeout,
            rate_window: config.rate_window,
            labels: config.labels,
            latency_unit: config.metrics.latency_unit,
            templates,
            auth,
            auth_header,
        })
    }

    /// Replaces the authentication (for credentials that come from elsewhere than an
    /// environment variable, e.g. a secret store).
    ///
    /// Fails with [`ErrorKind::InvalidInput`] if the secret cannot be sent in an HTTP header
    /// (a control character in it); the error does not show the secret.
    pub fn with_auth(mut self, auth: Auth) -> Result<Self> {
        self.auth_header = Some(auth_header(&auth)?);
        self.auth = Some(auth);
        Ok(self)
    }

    /// The metric kinds this source can answer: every built-in kind (latency at p50, p95 and
    /// p99, and the latency histogram) and every configured custom query. Handy for
    /// [`validate`](Self::validate).
    pub fn kinds(&self) -> Vec<MetricKind> {
        let mut kinds = vec![
            MetricKind::ErrorRate,
            MetricKind::RequestRate,
            MetricKind::Latency(Quantile::P50),
            MetricKind::Latency(Quantile::P95),
            MetricKind::Latency(Quantile::P99),
            MetricKind::CpuUtilization,
            MetricKind::MemoryUtilization,
            MetricKind::MemoryBytes,
            MetricKind::StatusCodes,
            MetricKind::LatencyHistogram,
        ];
        kinds.extend(
            self.templates
                .custom
                .keys()
                .map(|k| MetricKind::Custom(k.clone())),
        );
        kinds
    }

    /// The template source text used for `kind`.
    pub fn template(&self, kind: &MetricKind) -> Result<&str> {
        Ok(self.template_for(kind)?.source())
    }

    fn template_for(&self, kind: &MetricKind) -> Result<&Template> {
        let t = &self.templates;
        Ok(match kind {
            MetricKind::ErrorRate => &t.error_rate,
            MetricKind::RequestRate => &t.request_rate,
            MetricKind::Latency(_) => &t.latency,
            MetricKind::CpuUtilization => &t.cpu,
            MetricKind::MemoryUtilization => &t.memory,
            MetricKind::MemoryBytes => &t.memory_bytes,
            MetricKind::StatusCodes => &t.status_codes,
            MetricKind::LatencyHistogram => &t.latency_histogram,
            MetricKind::Custom(name) => t.custom.get(name).ok_or_else(|| {
                let known: Vec<&str> = t.custom.keys().map(String::as_str).collect();
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "no custom query named {name:?}: configured custom queries are [{}]",
                        known.join(", ")
                    ),
                )
                .with_backend("prometheus")
                .with_operation("query")
            })?,
            other => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "metric kind {} is not supported by the Prometheus source",
                        other.name()
                    ),
                )
                .with_backend("prometheus")
                .with_operation("query"))
            }
        })
    }

    /// The `{window}` used for a query at `step`: the larger of the step and `rate_window`.
    fn window(&self, step: Duration) -> Duration {
        step.max(self.rate_window)
    }

    /// Renders the PromQL that [`query`](MetricsSource::query) would run for `query`, without
    /// running it (for dry runs, reports and debugging). For `StatusCodes` and
    /// `LatencyHistogram` it is the selector whose raw samples are read and counted (the crate
    /// docs, *Exact counts per step*).
    pub fn render(&self, query: &MetricQuery) -> Result<String> {
        self.render_parts(
            &query.kind,
            &query.target,
            query.release.as_ref(),
            query.step,
        )
    }

    fn render_parts(
        &self,
        kind: &MetricKind,
        target: &Target,
        release: Option<&ReleaseRef>,
        step: Duration,
    ) -> Result<String> {
        target
            .validate()
            .map_err(|e| e.with_backend("prometheus").with_operation("query"))?;
        let template = self.template_for(kind)?;
        let quantile = match kind {
            MetricKind::Latency(q) => Some(*q),
            _ => None,
        };
        template.render(&Vars {
            target,
            release,
            window: self.window(step),
            step,
            quantile,
            labels: &self.labels,
        })
    }

    /// Runs the template of `kind` as an instant query at `at` (`{step}` and `{window}` are
    /// `rate_window`). Each series of the answer has one sample; a `LatencyHistogram` answer's
    /// `le` labels are in milliseconds, as from [`query`](MetricsSource::query).
    pub async fn instant(
        &self,
        kind: &MetricKind,
        target: &Target,
        release: Option<&ReleaseRef>,
        at: DateTime<Utc>,
    ) -> Result<Vec<Series>> {
        let promql = self.render_parts(kind, target, release, self.rate_window)?;
        if let Some(by) = self.counted_by(kind) {
            // The count over the `rate_window` before `at`: a range of one point at `at`.
            let range = TimeRange {
                start: at,
                end: at + chrono::Duration::milliseconds(1),
            };
            let series = self
                .counts(kind, by, &promql, range, self.rate_window)
                .await?;
            return self.post_process(kind, series);
        }
        let series = self
            .run(QUERY, &kind.name(), &promql, &[("time", unix(at))])
            .await?;
        self.post_process(kind, series)
    }

    /// The label a kind's answer is counted by, for the kinds answered with exact per-step
    /// counts of counters (see [`crate::counts`]): `StatusCodes` by the status label,
    /// `LatencyHistogram` by `le`.
    fn counted_by(&self, kind: &MetricKind) -> Option<&str> {
        match kind {
            MetricKind::StatusCodes => Some(&self.labels.status),
            MetricKind::LatencyHistogram => Some("le"),
            _ => None,
        }
    }

    /// Reads the raw samples of a counter template's series (one instant query of it as a
    /// range selector reaching a step and [`LOOKBACK`](crate::counts::LOOKBACK) before
    /// `range`) and turns them into exact counts per step of `range`, summed by `by`.
    async fn counts(
        &self,
        kind: &MetricKind,
        by: &str,
        promql: &str,
        range: TimeRange,
        step: Duration,
    ) -> Result<Vec<Series>> {
        check_range(range, step)?;
        let invalid = |msg: String| {
            Error::new(ErrorKind::InvalidInput, msg)
                .with_backend("prometheus")
                .with_operation("query")
        };
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        if step_ms < 1 {
            return Err(invalid(format!(
                "step {step:?} is shorter than a millisecond: expected a duration such as 60s"
            )));
        }
        let span_ms = (range.end - range.start).num_milliseconds();
        let grid = crate::counts::Grid {
            first: range.start,
            step: chrono::Duration::milliseconds(step_ms),
            points: usize::try_from((span_ms + step_ms - 1) / step_ms).unwrap_or(0),
        };
        let span = grid.span().to_std().unwrap_or(Duration::ZERO);
        let selector = format!("{promql}[{}]", promql_duration(span));
        let mut counters = self
            .run(
                QUERY,
                &kind.name(),
                &selector,
                &[("time", unix(grid.last()))],
            )
            .await?;
        if *kind == MetricKind::LatencyHistogram {
            // Bounds in milliseconds before grouping: `1` and `1.0` are one bucket.
            counters = le_to_millis(counters, self.latency_unit, &kind.name(), &selector)?;
        }
        crate::counts::per_step(counters, by, &grid).map_err(|detail| {
            invalid(format!("{} answer of Prometheus: {detail}", kind.name()))
                .with_context("promql", selector.as_str())
        })
    }

    /// Runs raw PromQL as an instant query (`/api/v1/query`) at `at`.
    ///
    /// `promql` is sent as is: do not build it from untrusted input (templates escape values;
    /// this method cannot).
    pub async fn query_instant(&self, promql: &str, at: DateTime<Utc>) -> Result<Vec<Series>> {
        self.run(QUERY, "promql", promql, &[("time", unix(at))])
            .await
    }

    /// Runs raw PromQL as a range query (`/api/v1/query_range`) over `range` at `step`.
    ///
    /// Samples are at `range.start + k * step`, strictly before `range.end` (the range is
    /// half-open). Same caution as [`query_instant`](Self::query_instant) about untrusted input.
    pub async fn query_range(
        &self,
        promql: &str,
        range: TimeRange,
        step: Duration,
    ) -> Result<Vec<Series>> {
        self.range("promql", promql, range, step).await
    }

    async fn range(
        &self,
        what: &str,
        promql: &str,
        range: TimeRange,
        step: Duration,
    ) -> Result<Vec<Series>> {
        check_range(range, step)?;
        // The API's end is inclusive; ours is exclusive.
        let end = range.end - chrono::Duration::milliseconds(1);
        let step_param = format!("{:.3}", step.as_secs_f64());
        let series = self
            .run(
                QUERY_RANGE,
                what,
                promql,
                &[
                    ("start", unix(range.start)),
                    ("end", unix(end)),
                    ("step", step_param),
                ],
            )
            .await?;
        Ok(series
            .into_iter()
            .filter_map(|mut s| {
                s.samples.retain(|x| range.contains(x.at));
                (!s.samples.is_empty()).then_some(s)
            })
            .collect())
    }

    /// Sends one API request and decodes the answer; every failure goes through `map_failure`.
    async fn run(
        &self,
        endpoint: &'static str,
        what: &str,
        promql: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>> {
        let base = redact_url(&self.base_url);
        let call = Call {
            endpoint,
            base_url: &base,
            query: what,
            promql,
            timeout: self.timeout,
            auth: self.auth.as_ref(),
        };
        tracing::debug!(endpoint, query = what, promql, "querying Prometheus");
        let mut form: Vec<(&str, &str)> = vec![("query", promql)];
        let timeout = promql_duration(self.timeout);
        form.push(("timeout", &timeout));
        form.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let mut request = self
            .client
            .post(format!("{}{endpoint}", self.base_url))
            .form(&form);
        if let Some(value) = &self.auth_header {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| map_failure(Failure::Transport(e), &call))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| map_failure(Failure::Transport(e), &call))?;
        let parsed = serde_json::from_slice::<ApiResponse>(&body);
        let answer = match parsed {
            Ok(answer) if status.is_success() && answer.status == "success" => answer,
            Ok(answer) => {
                return Err(map_failure(
                    Failure::Api {
                        status,
                        error_type: answer.error_type,
                        error: answer.error,
                        body: None,
                    },
                    &call,
                ))
            }
            Err(e) if status.is_success() => {
                return Err(map_failure(Failure::Decode(e.to_string()), &call))
            }
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let snippet: String = text.chars().take(BODY_SNIPPET).collect();
                return Err(map_failure(
                    Failure::Api {
                        status,
                        error_type: None,
                        error: None,
                        body: Some(snippet),
                    },
                    &call,
                ));
            }
        };
        for w in answer.warnings.iter().chain(&answer.infos) {
            tracing::warn!(query = what, warning = %w, "Prometheus annotated the answer");
        }
        let Some(data) = answer.data else {
            return Err(map_failure(
                Failure::Decode("a success answer without `data`".into()),
                &call,
            ));
        };
        into_series(data).map_err(|detail| map_failure(Failure::Decode(detail), &call))
    }

    /// Puts an answer into the kind's shape: the status label renamed to `code` for
    /// `StatusCodes`, the series of a `LatencyHistogram` in the order of their bounds.
    fn post_process(&self, kind: &MetricKind, mut series: Vec<Series>) -> Result<Vec<Series>> {
        match kind {
            MetricKind::StatusCodes if self.labels.status != "code" => {
                for s in &mut series {
                    if let Some(code) = s.labels.remove(&self.labels.status) {
                        s.labels.insert("code".into(), code);
                    }
                }
                Ok(series)
            }
            MetricKind::LatencyHistogram => {
                // `le` is in milliseconds already (see `counts`): one series per bound, in
                // the order of the bounds.
                let bound = |s: &Series| match s.labels.get("le").map(String::as_str) {
                    Some("+Inf") => f64::INFINITY,
                    le => le.and_then(|l| l.parse::<f64>().ok()).unwrap_or(f64::NAN),
                };
                series.sort_by(|a, b| bound(a).total_cmp(&bound(b)));
                Ok(series)
            }
            _ => Ok(series),
        }
    }

    /// Runs each kind's query once, as an instant query now, and reports which return no data.
    ///
    /// Call it when loading a configuration, so that a wrong label or metric name is reported
    /// before a rollback depends on it. Fails only if `target` itself is invalid; each query's
    /// own failure is in the report.
    pub async fn validate(
        &self,
        kinds: &[MetricKind],
        target: &Target,
    ) -> Result<ValidationReport> {
        self.validate_at(kinds, target, Utc::now()).await
    }

    /// [`validate`](Self::validate) at a given time.
    pub async fn validate_at(
        &self,
        kinds: &[MetricKind],
        target: &Target,
        at: DateTime<Utc>,
    ) -> Result<ValidationReport> {
        target
            .validate()
            .map_err(|e| e.with_backend("prometheus").with_operation("validate"))?;
        let mut outcomes = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let promql = self
                .render_parts(kind, target, None, self.rate_window)
                .unwrap_or_default();
            let outcome = match self.instant(kind, target, None, at).await {
                Ok(series) if series.is_empty() => KindOutcome::NoData,
                Ok(series) => KindOutcome::Data {
                    series: series.len(),
                },
                Err(e) => KindOutcome::Failed(e),
            };
            outcomes.push((kind.clone(), promql, outcome));
        }
        Ok(ValidationReport::new(target.clone(), at, outcomes))
    }
}

#[async_trait]
impl MetricsSource for PrometheusSource {
    fn name(&self) -> &str {
        "prometheus"
    }

    async fn query(&self, query: &MetricQuery) -> Result<Vec<Series>> {
        let promql = self.render(query)?;
        let series = match self.counted_by(&query.kind) {
            Some(by) => {
                self.counts(&query.kind, by, &promql, query.range, query.step)
                    .await?
            }
            None => {
                self.range(&query.kind.name(), &promql, query.range, query.step)
                    .await?
            }
        };
        self.post_process(&query.kind, series)
    }
}

impl fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("base_url", &redact_url(&self.base_url))
            .field("timeout", &self.timeout)
            .field("rate_window", &self.rate_window)
            .field("labels", &self.labels)
            .field("latency_unit", &self.latency_unit)
            .field("custom", &self.templates.custom.keys().collect::<Vec<_>>())
            .field("auth", &self.auth.as_ref().map(Auth::scheme))
            .finish()
    }
}

/// The `Authorization` header for `auth`, marked sensitive so that HTTP logs never show it.
fn auth_header(auth: &Auth) -> Result<HeaderValue> {
    let raw = match auth {
        Auth::Bearer(token) => format!("Bearer {}", token.expose()),
        Auth::Basic { username, password } => format!(
            "Basic {}",
            crate::secret::base64(format!("{username}:{}", password.expose()).as_bytes())
        ),
    };
    let mut value = HeaderValue::from_str(&raw).map_err(|_| {
        configure_error(format!(
            "the {} credentials contain characters that cannot be sent in an HTTP header: \
             expected visible ASCII characters",
            auth.scheme()
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Unix seconds with millisecond precision, as the API takes them.
fn unix(t: DateTime<Utc>) -> String {
    let ms = t.timestamp_millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn check_url(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        configure_error(format!(
            "url {:?} is not a valid URL ({e}): expected e.g. \"http://prometheus:9090\"",
            redact_url(url)
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(configure_error(format!(
            "url scheme {:?} is not supported: expected http or https",
            parsed.scheme()
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(configure_error(
            "url contains credentials (user:password@): expected them in [auth], with the secret \
             in an environment variable"
                .into(),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(configure_error(format!(
            "url {:?} has a query or fragment: expected a base URL such as \
             \"http://prometheus:9090\"",
            redact_url(url)
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

fn check_range(range: TimeRange, step: Duration) -> Result<()> {
    let invalid = |msg: String| {
        Error::new(ErrorKind::InvalidInput, msg)
            .with_backend("prometheus")
            .with_operation("query")
    };
    if step.is_zero() {
        return Err(invalid(
            "step must be positive: expected a duration such as 60s".into(),
        ));
    }
    if range.end <= range.start {
        return Err(invalid(format!(
            "time range {} .. {} is empty: expected start before end",
            range.start, range.end
        )));
    }
    let points = range.duration().as_millis() / step.as_millis().max(1);
    if points > MAX_POINTS {
        return Err(invalid(format!(
            "time range of {} at step {} has {points} points: Prometheus accepts at most \
             {MAX_POINTS}; expected a larger step or a shorter range",
            humantime::format_duration(range.duration()),
            humantime::format_duration(step)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollback_core::Environment;

    #[test]
    fn url_with_credentials_is_rejected_without_echoing_them() {
        let err = PrometheusSource::new(PrometheusConfig::new("http://ops:hunter2@prom:9090"))
            .expect_err("credentials in url");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("[auth]"), "{err}");
    }

    #[test]
    fn non_http_url_is_rejected() {
        let err = PrometheusSource::new(PrometheusConfig::new("ftp://prom")).expect_err("ftp");
        assert!(err.to_string().contains("http or https"), "{err}");
    }

    #[test]
    fn a_count_template_that_is_not_a_selector_fails_construction() {
        for (key, over) in [
            (
                "status_codes",
                "sum by (code) (increase(x{ {selector} }[{step}]))",
            ),
            (
                "latency_histogram",
                "sum by (le, instance) (x_bucket{ {selector} })",
            ),
            ("status_codes", "x{ {selector} }[5m]"),
        ] {
            let toml = format!("url = \"http://p\"\n[templates]\n{key} = '{over}'");
            let config = PrometheusConfig::from_toml_str(&toml).expect("parses");
            let err = PrometheusSource::new(config).expect_err(key);
            let msg = err.to_string();
            assert!(
                msg.contains(&format!(
                    "templates.{key} must select the counters themselves"
                )) && msg.contains(over),
                "{msg}"
            );
        }
        // A selector with extra matchers, and one whose values hold parentheses, are fine.
        let toml = "url = \"http://p\"\n[templates]\nstatus_codes = \
                    'http_requests_total{ {selector},handler=~\"/api/(v1|v2)\" }'\n\
                    latency_histogram = 'duration_bucket{ {selector} }'";
        PrometheusSource::new(PrometheusConfig::from_toml_str(toml).expect("parses"))
            .expect("selector templates are accepted");
    }

    #[test]
    fn unknown_placeholder_in_an_override_fails_construction() {
        let mut c = PrometheusConfig::new("http://prom:9090");
        c.custom.insert("q".into(), "sum(x{d=\"{app}\"})".into());
        let err = PrometheusSource::new(c).expect_err("bad placeholder");
        assert!(err.to_string().contains("{app}"), "{err}");
        assert!(err.to_string().contains("{deployment}"), "{err}");
    }

    #[test]
    fn invalid_label_name_fails_construction() {
        let mut c = PrometheusConfig::new("http://prom:9090");
        c.labels.deployment = "app\"}".into();
        assert!(PrometheusSource::new(c).is_err());
    }

    #[test]
    fn unknown_custom_query_lists_the_configured_ones() {
        let mut c = PrometheusConfig::new("http://prom:9090");
        c.custom.insert("queue".into(), "max(q)".into());
        let s = PrometheusSource::new(c).expect("valid");
        let q = MetricQuery::new(
            MetricKind::Custom("nope".into()),
            Target::new(Environment::Dev, "api"),
            TimeRange::ending_at(Utc::now(), Duration::from_secs(60)),
            Duration::from_secs(15),
        );
        let err = s.render(&q).expect_err("unknown custom");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("[queue]"), "{err}");
    }

    #[test]
    fn window_is_at_least_the_step() {
        let s = PrometheusSource::new(PrometheusConfig::new("http://prom:9090")).expect("valid");
        let q = MetricQuery::new(
            MetricKind::RequestRate,
            Target::new(Environment::Dev, "api"),
            TimeRange::ending_at(Utc::now(), Duration::from_secs(3600)),
            Duration::from_secs(300),
        );
        assert_eq!(
            s.render(&q).expect("renders"),
            r#"sum(rate(http_requests_total{deployment="api"}[300s]))"#
        );
    }

    #[test]
    fn too_many_points_and_empty_ranges_are_rejected_before_sending() {
        let now = Utc::now();
        let long = TimeRange::ending_at(now, Duration::from_secs(86_400 * 30));
        let err = check_range(long, Duration::from_secs(1)).expect_err("too many");
        assert!(err.to_string().contains("at most 11000"), "{err}");
        let empty = TimeRange {
            start: now,
            end: now,
        };
        assert!(check_range(empty, Duration::from_secs(1)).is_err());
        assert!(check_range(long, Duration::ZERO).is_err());
    }

    #[test]
    fn unix_time_has_millisecond_precision() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_700_000_000_123).expect("time");
        assert_eq!(unix(t), "1700000000.123");
    }
}
