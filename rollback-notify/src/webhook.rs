//! A generic webhook: the event as JSON, signed with HMAC-SHA256 (see [`crate::signature`]).
//!
//! The body is the [`rollback_core::Event`] serialised with serde (receivers in Rust can
//! deserialise it back into an `Event`). Headers: `Content-Type: application/json`,
//! `X-Rollback-Event` (the event kind, e.g. `succeeded`), `X-Signature-Timestamp`,
//! `X-Signature`, and the configured custom headers. Each retry is signed afresh with a new
//! timestamp.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use rollback_core::{Error, ErrorKind, Event, Notifier, Result};

use crate::config::{secret, WebhookConfig};
use crate::filter::EventFilter;
use crate::http::{parse_secret_url, HttpChannel};
use crate::secret::{EnvLookup, Redactor, Secret};
use crate::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Posts rollback events as signed JSON to a URL.
pub struct WebhookNotifier {
    name: String,
    filter: EventFilter,
    http: HttpChannel,
    url: Secret,
    key: Secret,
    headers: Vec<(HeaderName, HeaderValue)>,
    include_report: bool,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("WebhookNotifier")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .field("url", &"***")
            .field("secret", &"***")
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// Builds the channel from its config, reading the URL, the signing key and secret header
    /// values through `env`.
    pub fn from_config(config: &WebhookConfig, env: &EnvLookup<'_>) -> Result<Self> {
        let resolved = config.common.resolve("webhook")?;
        let url = secret(&config.url_env, "url_env", env)?;
        parse_secret_url("url_env", &url)?;
        let key = secret(&config.secret_env, "secret_env", env)?;
        let mut headers = Vec::new();
        let mut secrets = vec![url.clone(), key.clone()];
        for (name, value) in &config.headers {
            let n = header_name(name)?;
            let v = HeaderValue::from_str(value).map_err(|_| {
                Error::invalid_input(format!(
                    "header `{name}` has a value that is not valid in HTTP (visible ASCII \
                     expected)"
                ))
            })?;
            headers.push((n, v));
        }
        for (name, var) in &config.secret_headers {
            let n = header_name(name)?;
            let s = secret(var, &format!("secret_headers.{name}"), env)?;
            let mut v = HeaderValue::from_str(s.expose()).map_err(|_| {
                Error::invalid_input(format!(
                    "the value of environment variable {var} (header `{name}`) is not valid \
                     in HTTP (visible ASCII expected)"
                ))
            })?;
            v.set_sensitive(true);
            headers.push((n, v));
            secrets.push(s);
        }
        let http = HttpChannel::new(
            resolved.name.clone(),
            resolved.retry,
            Redactor::new(&secrets),
        )?;
        Ok(WebhookNotifier {
            name: resolved.name,
            filter: resolved.filter,
            http,
            url,
            key,
            headers,
            include_report: config.include_report.unwrap_or(true),
        })
    }
}

fn header_name(name: &str) -> Result<HeaderName> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Error::invalid_input(format!(
            "header name {name:?} is not valid: expected letters, digits and `-`"
        ))
    })?;
    let reserved = [
        "content-type",
        "content-length",
        "host",
        "x-signature",
        "x-signature-timestamp",
    ];
    if reserved.contains(&n.as_str()) {
        return Err(Error::invalid_input(format!(
            "header `{name}` is set by the webhook channel itself: remove it from the config"
        )));
    }
    Ok(n)
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &Event) -> bool {
        self.filter.accepts(event)
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let url = parse_secret_url("url_env", &self.url)?;
        let body = if self.include_report || event.report_markdown.is_none() {
            serde_json::to_vec(event)
        } else {
            let mut e = event.clone();
            e.report_markdown = None;
            serde_json::to_vec(&e)
        }
        .map_err(|e| {
            self.http
                .error(ErrorKind::Backend, "post", &format!("encoding JSON: {e}"))
        })?;
        let kind = serde_json::to_value(event.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        self.http
            .send(
                "post",
                |c| {
                    let ts = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0)
                        .to_string();
                    let sig = sign(self.key.expose().as_bytes(), &ts, &body);
                    let mut req = c
                        .post(url.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .header("X-Rollback-Event", kind.as_str())
                        .header(TIMESTAMP_HEADER, ts)
                        .header(SIGNATURE_HEADER, sig);
                    for (n, v) in &self.headers {
                        req = req.header(n.clone(), v.clone());
                    }
                    Ok(req.body(body.clone()))
                },
                |r| self.http.default_verdict("post", r),
            )
            .await?;
        tracing::info!(channel = %self.name, run_id = %event.run_id, "webhook delivered");
        Ok(())
    }
}
