//! PagerDuty Events API v2: `trigger` when a rollback starts or fails, `resolve` when it
//! succeeds, paired by one `dedup_key` per target and incident.

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use rollback_core::{ErrorKind, Event, EventKind, Notifier, Result, Severity};
use serde_json::{json, Map, Value};

use crate::config::{secret, PagerDutyConfig};
use crate::filter::EventFilter;
use crate::format;
use crate::http::{parse_url, HttpChannel};
use crate::secret::{EnvLookup, Redactor, Secret};

/// The Events API v2 endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Most characters in `payload.summary`.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Most characters in a `dedup_key`.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;

/// Sends rollback events to PagerDuty.
///
/// | event | action | severity |
/// |---|---|---|
/// | `Started` | `trigger` | from the event: critical → `critical`, high → `error`, medium → `warning`, low/info → `info` |
/// | `Failed` | `trigger` | `critical` |
/// | `Succeeded` | `resolve` | — |
/// | `NothingToDo`, `StageFinished` | not sent (`wants` is false) | |
///
/// The `dedup_key` is [`Event::incident_key`] (hashed down to 255 characters if longer), so
/// the resolve closes the alert the trigger opened. The routing key is a secret.
pub struct PagerDutyNotifier {
    name: String,
    filter: EventFilter,
    http: HttpChannel,
    routing_key: Secret,
    url: reqwest::Url,
    source: Option<String>,
    client_url: Option<String>,
    max_findings: usize,
}

impl std::fmt::Debug for PagerDutyNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDutyNotifier")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .field("url", &self.url.as_str())
            .field("routing_key", &"***")
            .finish_non_exhaustive()
    }
}

impl PagerDutyNotifier {
    /// Builds the channel from its config, reading the routing key through `env`.
    pub fn from_config(config: &PagerDutyConfig, env: &EnvLookup<'_>) -> Result<Self> {
        let resolved = config.common.resolve("pagerduty")?;
        let routing_key = secret(&config.routing_key_env, "routing_key_env", env)?;
        let url = parse_url("url", config.url.as_deref().unwrap_or(DEFAULT_URL))?;
        let http = HttpChannel::new(
            resolved.name.clone(),
            resolved.retry,
            Redactor::new([&routing_key]),
        )?;
        Ok(PagerDutyNotifier {
            name: resolved.name,
            filter: resolved.filter,
            http,
            routing_key,
            url,
            source: config.source.clone(),
            client_url: config.client_url.clone(),
            max_findings: config.max_findings.unwrap_or(5),
        })
    }

    /// The Events API body for `event` (without the routing key), or `None` when PagerDuty
    /// has no use for it.
    fn body(&self, event: &Event) -> Option<Value> {
        let dedup_key = dedup_key(event);
        let action = match event.kind {
            EventKind::Started | EventKind::Failed => "trigger",
            EventKind::Succeeded => "resolve",
            _ => return None,
        };
        if action == "resolve" {
            return Some(json!({
                "event_action": "resolve",
                "dedup_key": dedup_key,
            }));
        }
        let severity = if event.kind == EventKind::Failed {
            "critical"
        } else {
            severity(event.severity)
        };
        let mut summary = format::headline_plain(event);
        if let Some(r) = &event.reason {
            summary.push_str(" — ");
            summary.push_str(r);
        }
        let mut body = json!({
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "client": "rollback",
            "payload": {
                "summary": format::truncate(&summary, MAX_SUMMARY_CHARS),
                "source": self.source.clone().unwrap_or_else(|| event.target.to_string()),
                "severity": severity,
                "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "component": event.target.deployment,
                "group": event.target.environment.as_str(),
                "class": "deployment rollback",
                "custom_details": self.custom_details(event),
            }
        });
        if let (Some(u), Value::Object(m)) = (&self.client_url, &mut body) {
            m.insert("client_url".into(), json!(u));
        }
        if let Some(p) = event
            .report_path
            .as_deref()
            .filter(|p| p.starts_with("https://") || p.starts_with("http://"))
        {
            if let Value::Object(m) = &mut body {
                m.insert("links".into(), json!([{"href": p, "text": "RCA report"}]));
            }
        }
        Some(body)
    }

    fn custom_details(&self, event: &Event) -> Value {
        let mut d = Map::new();
        d.insert("run_id".into(), json!(event.run_id));
        d.insert("target".into(), json!(event.target.to_string()));
        d.insert(
            "environment".into(),
            json!(event.target.environment.as_str()),
        );
        if let Some(v) = &event.from {
            d.insert("from".into(), json!(v.as_str()));
        }
        if let Some(v) = &event.to {
            d.insert("to".into(), json!(v.as_str()));
        }
        if let Some(r) = &event.reason {
            d.insert("reason".into(), json!(r));
        }
        if let Some(t) = &event.trigger {
            d.insert(
                "trigger".into(),
                json!({"decision": t.decision, "signals": t.signals}),
            );
        }
        d.insert("summary".into(), json!(event.summary));
        if let Some(du) = event.duration {
            d.insert("duration".into(), json!(format::duration(du)));
        }
        if !event.metrics.is_empty() {
            let m: Map<String, Value> = event
                .metrics
                .iter()
                .map(|m| {
                    let v = match &m.threshold {
                        Some(t) => format!("{} ({t})", m.value),
                        None => m.value.clone(),
                    };
                    (m.name.clone(), json!(v))
                })
                .collect();
            d.insert("metrics".into(), Value::Object(m));
        }
        let findings = format::top_findings(event);
        if !findings.is_empty() {
            let list: Vec<Value> = findings
                .iter()
                .take(self.max_findings)
                .map(|f| {
                    let mut o = json!({
                        "title": f.title,
                        "severity": f.severity.to_string(),
                        "confidence": f.confidence,
                        "summary": format::truncate(&f.summary, 500),
                    });
                    if let (Some(l), Value::Object(m)) = (&f.location, &mut o) {
                        m.insert("location".into(), json!(l.to_string()));
                    }
                    if let (Some(r), Value::Object(m)) = (&f.recommendation, &mut o) {
                        m.insert("recommendation".into(), json!(format::truncate(r, 500)));
                    }
                    o
                })
                .collect();
            d.insert("findings".into(), Value::Array(list));
            if findings.len() > self.max_findings {
                d.insert(
                    "more_findings".into(),
                    json!(findings.len() - self.max_findings),
                );
            }
        }
        if let Some(p) = &event.report_path {
            d.insert("report".into(), json!(p));
        }
        Value::Object(d)
    }
}

/// PagerDuty's severity for ours.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// [`Event::incident_key`], kept within 255 characters by replacing the tail with a stable hash.
pub fn dedup_key(event: &Event) -> String {
    let key = event.incident_key();
    if key.chars().count() <= MAX_DEDUP_KEY_CHARS {
        return key;
    }
    // FNV-1a 64: stable across builds and processes (a trigger and its resolve may come from
    // different binaries).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let prefix: String = key.chars().take(MAX_DEDUP_KEY_CHARS - 17).collect();
    format!("{prefix}#{h:016x}")
}

#[async_trait]
impl Notifier for PagerDutyNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &Event) -> bool {
        match event.kind {
            EventKind::Started | EventKind::Failed => self.filter.accepts(event),
            // Resolves pass a severity filter: an alert that was triggered must be resolved,
            // and resolving one that never was is harmless.
            EventKind::Succeeded => self.filter.accepts_any_severity(event),
            _ => false,
        }
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let Some(mut body) = self.body(event) else {
            return Ok(());
        };
        if let Value::Object(m) = &mut body {
            m.insert("routing_key".into(), json!(self.routing_key.expose()));
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| {
            self.http.error(
                ErrorKind::Backend,
                "enqueue",
                &format!("encoding JSON: {e}"),
            )
        })?;
        drop(body);
        self.http
            .send(
                "enqueue",
                |c| {
                    Ok(c.post(self.url.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .body(bytes.clone()))
                },
                |r| self.http.default_verdict("enqueue", r),
            )
            .await?;
        tracing::info!(channel = %self.name, run_id = %event.run_id, "PagerDuty event accepted");
        Ok(())
    }
}
