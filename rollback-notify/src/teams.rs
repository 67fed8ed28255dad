//! Microsoft Teams: an Adaptive Card through a Workflows (Power Automate) or incoming webhook.
//!
//! The request is a `message` with one attachment of content type
//! `application/vnd.microsoft.card.adaptive` holding an Adaptive Card 1.4: a coloured headline,
//! a fact set (environment, deployment, from → to, severity, duration, reason, decision), the
//! summary, what tripped the rollback (up to five signals), key metrics as facts, the top root causes and the report location. The card is kept under
//! Teams' ~28 KB message limit by dropping findings and cutting long texts.

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use rollback_core::{ErrorKind, Event, EventKind, Notifier, Result};
use serde_json::{json, Value};

use crate::config::{secret, TeamsConfig};
use crate::filter::EventFilter;
use crate::format;
use crate::http::{parse_secret_url, HttpChannel, HttpResponse, Verdict};
use crate::secret::{EnvLookup, Redactor, Secret};

/// The card's schema version.
pub const CARD_VERSION: &str = "1.4";
/// The attachment content type of an Adaptive Card.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The largest request body sent (Teams rejects messages over about 28 KB).
pub const MAX_BODY_BYTES: usize = 25_000;

/// Posts rollback events to a Teams channel.
pub struct TeamsNotifier {
    name: String,
    filter: EventFilter,
    http: HttpChannel,
    url: Secret,
    max_findings: usize,
}

impl std::fmt::Debug for TeamsNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsNotifier")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .field("webhook_url", &"***")
            .finish_non_exhaustive()
    }
}

impl TeamsNotifier {
    /// Builds the channel from its config, reading the webhook URL through `env`.
    pub fn from_config(config: &TeamsConfig, env: &EnvLookup<'_>) -> Result<Self> {
        let resolved = config.common.resolve("teams")?;
        let url = secret(&config.webhook_url_env, "webhook_url_env", env)?;
        parse_secret_url("webhook_url_env", &url)?;
        let http = HttpChannel::new(resolved.name.clone(), resolved.retry, Redactor::new([&url]))?;
        Ok(TeamsNotifier {
            name: resolved.name,
            filter: resolved.filter,
            http,
            url,
            max_findings: config.max_findings.unwrap_or(5),
        })
    }

    fn verdict(&self, resp: &HttpResponse) -> Verdict {
        if !resp.status.is_success() {
            return self.http.default_verdict("post", resp);
        }
        // Legacy connectors answer 200 with an error text instead of a status.
        let text = String::from_utf8_lossy(&resp.body);
        if text.contains("delivery failed") || text.contains("Webhook message delivery") {
            let err = self.http.error(
                ErrorKind::Backend,
                "post",
                &format!("Teams did not deliver the card: {}", resp.body_snippet(200)),
            );
            if text.contains("429") {
                return Verdict::Retry(err.set_temporary(true));
            }
            return Verdict::Fail(err);
        }
        Verdict::Done
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": format::truncate(text, 2000), "wrap": true})
}

/// The Teams message with the Adaptive Card for `event`, within [`MAX_BODY_BYTES`].
pub(crate) fn message(event: &Event, max_findings: usize) -> Value {
    let findings = format::top_findings(event);
    let mut n = findings.len().min(max_findings);
    loop {
        let m = message_with(event, &findings, n);
        let size = serde_json::to_vec(&m).map(|v| v.len()).unwrap_or(0);
        if size <= MAX_BODY_BYTES || n == 0 {
            return m;
        }
        n -= 1;
    }
}

fn message_with(event: &Event, findings: &[&rollback_core::Finding], shown: usize) -> Value {
    let color = match event.kind {
        EventKind::Succeeded => "Good",
        EventKind::Failed => "Attention",
        EventKind::Started => "Warning",
        _ => "Default",
    };
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": format::truncate(&format::headline(event), 300),
        "size": "Large",
        "weight": "Bolder",
        "color": color,
        "wrap": true,
        "style": "heading"
    })];
    let mut facts = vec![
        json!({"title": "Environment", "value": event.target.environment.as_str()}),
        json!({"title": "Deployment", "value": event.target.to_string()}),
    ];
    if let Some(v) = format::versions(event) {
        facts.push(json!({"title": "From → To", "value": v}));
    }
    facts.push(json!({"title": "Severity", "value": event.severity.to_string()}));
    if let Some(d) = event.duration {
        facts.push(json!({"title": "Duration", "value": format::duration(d)}));
    }
    if let Some(r) = &event.reason {
        facts.push(json!({"title": "Reason", "value": format::truncate(r, 1000)}));
    }
    let tripped = format::trigger_lines(event);
    if let Some(d) = tripped.as_ref().and_then(|t| t.0) {
        facts.push(json!({"title": "Decided", "value": format::truncate(d, 1000)}));
    }
    body.push(json!({"type": "FactSet", "facts": facts}));
    if !event.summary.trim().is_empty() {
        body.push(text_block(&event.summary));
    }
    if let Some((_, signals)) = tripped.filter(|t| !t.1.is_empty()) {
        body.push(json!({"type": "TextBlock", "text": "What tripped it", "weight": "Bolder", "separator": true}));
        let list: Vec<String> = signals
            .iter()
            .map(|l| format!("- {}", format::truncate(l, 1000)))
            .collect();
        body.push(text_block(&list.join("\n")));
    }
    if !event.metrics.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "Key metrics", "weight": "Bolder", "separator": true}));
        let facts: Vec<Value> = event
            .metrics
            .iter()
            .take(20)
            .map(|m| {
                let v = match &m.threshold {
                    Some(t) => format!("{} ({t})", m.value),
                    None => m.value.clone(),
                };
                json!({"title": format::truncate(&m.name, 100), "value": format::truncate(&v, 200)})
            })
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
        if event.metrics.len() > 20 {
            body.push(text_block(&format!(
                "…and {} more metrics",
                event.metrics.len() - 20
            )));
        }
    }
    if !findings.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "Top root causes", "weight": "Bolder", "separator": true}));
        for (i, f) in findings.iter().take(shown).enumerate() {
            let mut t = format!(
                "**{}. {}**\n\n{}",
                i + 1,
                format::finding_title(f),
                f.summary
            );
            if let Some(r) = &f.recommendation {
                t.push_str(&format!("\n\nFix: {r}"));
            }
            body.push(text_block(&t));
        }
        if findings.len() > shown {
            body.push(text_block(&format!(
                "…and {} more findings in the report",
                findings.len() - shown
            )));
        }
    }
    let mut footer = format!(
        "Run {} · {}",
        event.run_id,
        event.at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(p) = &event.report_path {
        footer = format!("Report: {p}\n\n{footer}");
    }
    body.push(json!({"type": "TextBlock", "text": format::truncate(&footer, 2000), "wrap": true, "isSubtle": true, "size": "Small", "separator": true}));

    json!({
        "type": "message",
        "attachments": [{
            "contentType": CARD_CONTENT_TYPE,
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": CARD_VERSION,
                "msteams": {"width": "Full"},
                "body": body
            }
        }]
    })
}

#[async_trait]
impl Notifier for TeamsNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &Event) -> bool {
        self.filter.accepts(event)
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let url = parse_secret_url("webhook_url_env", &self.url)?;
        let body = serde_json::to_vec(&message(event, self.max_findings)).map_err(|e| {
            self.http
                .error(ErrorKind::Backend, "post", &format!("encoding JSON: {e}"))
        })?;
        self.http
            .send(
                "post",
                |c| {
                    Ok(c.post(url.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone()))
                },
                |r| self.verdict(r),
            )
            .await?;
        tracing::info!(channel = %self.name, run_id = %event.run_id, "Teams card delivered");
        Ok(())
    }
}
