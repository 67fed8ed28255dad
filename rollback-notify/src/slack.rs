//! Slack: a Block Kit message through an incoming webhook or `chat.postMessage`.
//!
//! The message has a header with the status, a fields section (environment, deployment,
//! from → to, severity, duration), the reason, the summary, what tripped the rollback (the
//! decision and up to five signals), key metrics, the top root causes
//! and a context line with the report location. It stays inside Slack's limits: at most 50
//! blocks, 150 characters of header, 3,000 characters per section text, 10 fields of at most
//! 2,000 characters; whatever does not fit ends in `…and N more`.

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use rollback_core::{ErrorKind, Event, EventKind, Notifier, Result};
use serde_json::{json, Value};

use crate::config::{secret, SlackConfig};
use crate::filter::EventFilter;
use crate::format;
use crate::http::{bearer, parse_secret_url, parse_url, HttpChannel, HttpResponse, Verdict};
use crate::secret::{EnvLookup, Redactor, Secret};

/// Most blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Most characters in a header block's text.
pub const MAX_HEADER_CHARS: usize = 150;
/// Most characters in a section block's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Most fields in a section block.
pub const MAX_FIELDS: usize = 10;
/// Most characters in one section field (or context element).
pub const MAX_FIELD_CHARS: usize = 2000;

const DEFAULT_API_URL: &str = "https://slack.com/api";

enum Destination {
    Webhook(Secret),
    Api {
        token: Secret,
        channel: String,
        url: reqwest::Url,
    },
}

/// Posts rollback events to Slack.
///
/// Built from a [`SlackConfig`]: either an incoming webhook (`webhook_url_env`) or a bot token
/// (`token_env`) and a `channel` for `chat.postMessage`. The webhook URL and the token are
/// secrets and never appear in errors, logs or `Debug` output.
pub struct SlackNotifier {
    name: String,
    filter: EventFilter,
    http: HttpChannel,
    dest: Destination,
    mention_on_failure: Option<String>,
    max_findings: usize,
}

impl std::fmt::Debug for SlackNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("SlackNotifier");
        d.field("name", &self.name).field("filter", &self.filter);
        match &self.dest {
            Destination::Webhook(_) => d.field("webhook_url", &"***"),
            Destination::Api { channel, url, .. } => d
                .field("channel", channel)
                .field("api_url", &url.as_str())
                .field("token", &"***"),
        };
        d.finish_non_exhaustive()
    }
}

impl SlackNotifier {
    /// Builds the channel from its config, reading secrets through `env`.
    pub fn from_config(config: &SlackConfig, env: &EnvLookup<'_>) -> Result<Self> {
        let resolved = config.common.resolve("slack")?;
        let dest = match (&config.webhook_url_env, &config.token_env) {
            (Some(var), None) => {
                if config.channel.is_some() {
                    return Err(rollback_core::Error::invalid_input(
                        "`channel` cannot be used with `webhook_url_env` (an incoming webhook \
                         posts to its own channel): remove it, or use `token_env`",
                    ));
                }
                let url = secret(var, "webhook_url_env", env)?;
                parse_secret_url("webhook_url_env", &url)?;
                Destination::Webhook(url)
            }
            (None, Some(var)) => {
                let channel = config
                    .channel
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| {
                        rollback_core::Error::invalid_input(
                            "`token_env` needs `channel` (e.g. \"#deploys\" or \"C0123456789\")",
                        )
                    })?;
                let token = secret(var, "token_env", env)?;
                let base = parse_url(
                    "api_url",
                    config.api_url.as_deref().unwrap_or(DEFAULT_API_URL),
                )?;
                let url = crate::http::join_path(&base, &["chat.postMessage"]);
                Destination::Api {
                    token,
                    channel,
                    url,
                }
            }
            _ => {
                return Err(rollback_core::Error::invalid_input(
                    "set exactly one of `webhook_url_env` (incoming webhook) or `token_env` + \
                     `channel` (chat.postMessage)",
                ))
            }
        };
        let redactor = match &dest {
            Destination::Webhook(s) => Redactor::new([s]),
            Destination::Api { token, .. } => Redactor::new([token]),
        };
        let http = HttpChannel::new(resolved.name.clone(), resolved.retry, redactor)?;
        Ok(SlackNotifier {
            name: resolved.name,
            filter: resolved.filter,
            http,
            dest,
            mention_on_failure: config.mention_on_failure.clone(),
            max_findings: config.max_findings.unwrap_or(5),
        })
    }

    fn verdict_api(&self, resp: &HttpResponse) -> Verdict {
        if !resp.status.is_success() {
            return self.http.default_verdict("chat.postMessage", resp);
        }
        let body: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) => v,
            Err(_) => {
                return Verdict::Fail(self.http.error(
                    ErrorKind::Backend,
                    "chat.postMessage",
                    &format!(
                        "Slack answered HTTP {} with a body that is not JSON: {}",
                        resp.status,
                        resp.body_snippet(200)
                    ),
                ))
            }
        };
        if body.get("ok").and_then(Value::as_bool) == Some(true) {
            return Verdict::Done;
        }
        let code = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        let (kind, temporary) = slack_error_kind(code);
        let err = self
            .http
            .error(
                kind,
                "chat.postMessage",
                &format!("Slack refused the message: {code}"),
            )
            .set_temporary(temporary);
        if temporary {
            Verdict::Retry(err)
        } else {
            Verdict::Fail(err)
        }
    }
}

/// Maps a Slack Web API `error` code to a kind and whether it is temporary.
fn slack_error_kind(code: &str) -> (ErrorKind, bool) {
    match code {
        "not_authed"
        | "invalid_auth"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "no_permission"
        | "missing_scope"
        | "not_allowed_token_type"
        | "ekm_access_denied"
        | "access_denied"
        | "restricted_action" => (ErrorKind::PermissionDenied, false),
        "channel_not_found" | "is_archived" | "user_not_found" => (ErrorKind::NotFound, false),
        "not_in_channel" => (ErrorKind::PermissionDenied, false),
        "ratelimited"
        | "rate_limited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout" => (ErrorKind::Unavailable, true),
        "msg_too_long"
        | "no_text"
        | "invalid_blocks"
        | "invalid_blocks_format"
        | "too_many_attachments"
        | "msg_blocks_too_long"
        | "invalid_arguments"
        | "invalid_arg_name"
        | "invalid_json"
        | "json_not_object" => (ErrorKind::InvalidInput, false),
        _ => (ErrorKind::Backend, false),
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &Event) -> bool {
        self.filter.accepts(event)
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let mut message = message(event, self.max_findings, self.mention_on_failure.as_deref());
        match &self.dest {
            Destination::Webhook(url) => {
                let url = parse_secret_url("webhook_url_env", url)?;
                let body = serde_json::to_vec(&message).map_err(|e| {
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
                        |r| self.http.default_verdict("post", r),
                    )
                    .await?;
            }
            Destination::Api {
                token,
                channel,
                url,
            } => {
                if let Value::Object(m) = &mut message {
                    m.insert("channel".into(), json!(channel));
                    m.insert("unfurl_links".into(), json!(false));
                    m.insert("unfurl_media".into(), json!(false));
                }
                let body = serde_json::to_vec(&message).map_err(|e| {
                    self.http.error(
                        ErrorKind::Backend,
                        "chat.postMessage",
                        &format!("encoding JSON: {e}"),
                    )
                })?;
                self.http
                    .send(
                        "chat.postMessage",
                        |c| {
                            Ok(c.post(url.clone())
                                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                                .header(AUTHORIZATION, bearer(token)?)
                                .body(body.clone()))
                        },
                        |r| self.verdict_api(r),
                    )
                    .await?;
            }
        }
        tracing::info!(channel = %self.name, run_id = %event.run_id, "Slack message delivered");
        Ok(())
    }
}

/// Escapes text for Slack `mrkdwn` (`&`, `<`, `>`).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn section(text: String) -> Value {
    json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format::truncate(&text, MAX_SECTION_CHARS)}
    })
}

fn context(texts: Vec<String>) -> Value {
    let elements: Vec<Value> = texts
        .into_iter()
        .take(10)
        .map(|t| json!({"type": "mrkdwn", "text": format::truncate(&t, MAX_FIELD_CHARS)}))
        .collect();
    json!({"type": "context", "elements": elements})
}

/// The Block Kit message (`text` fallback + `blocks`) for `event`.
pub(crate) fn message(event: &Event, max_findings: usize, mention: Option<&str>) -> Value {
    let (emoji, status) = format::status(event);
    let mut blocks: Vec<Value> = Vec::new();

    blocks.push(json!({
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": format::truncate(&format::headline(event), MAX_HEADER_CHARS),
            "emoji": true
        }
    }));

    if event.kind == EventKind::Failed {
        if let Some(m) = mention.filter(|m| !m.trim().is_empty()) {
            // Deliberately not escaped: `<!here>` and `<!subteam^…>` are Slack syntax.
            blocks.push(section(format!("{m} {emoji} *{}*", esc(&status))));
        }
    }

    let mut fields = vec![
        format!("*Environment*\n{}", event.target.environment),
        format!("*Deployment*\n`{}`", esc(&event.target.to_string())),
    ];
    if let Some(v) = format::versions(event) {
        fields.push(format!("*From → To*\n{}", esc(&v)));
    }
    fields.push(format!("*Severity*\n{}", event.severity));
    if let Some(d) = event.duration {
        fields.push(format!("*Duration*\n{}", format::duration(d)));
    }
    if let Some(stage) = event.stage {
        fields.push(format!("*Stage*\n{}/10 {}", stage.number(), stage.title()));
    }
    let fields: Vec<Value> = fields
        .into_iter()
        .take(MAX_FIELDS)
        .map(|t| json!({"type": "mrkdwn", "text": format::truncate(&t, MAX_FIELD_CHARS)}))
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));

    if let Some(r) = event.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        blocks.push(section(format!("*Reason*\n{}", esc(r))));
    }
    if !event.summary.trim().is_empty() {
        blocks.push(section(esc(&event.summary)));
    }
    if let Some((decision, signals)) = format::trigger_lines(event) {
        let mut title = "*What tripped it*\n".to_string();
        if let Some(d) = decision {
            title.push_str(&format!("{}\n", esc(d)));
        }
        let lines: Vec<String> = signals.iter().map(|l| format!("• {}", esc(l))).collect();
        let body = format::fit_lines(
            &lines,
            MAX_SECTION_CHARS.saturating_sub(title.chars().count()),
        );
        blocks.push(section(format!("{title}{body}")));
    }

    if !event.metrics.is_empty() {
        let title = "*Key metrics*\n";
        let lines: Vec<String> = event
            .metrics
            .iter()
            .map(|m| format!("• {}", esc(&format::metric_line(m))))
            .collect();
        let body = format::fit_lines(&lines, MAX_SECTION_CHARS - title.chars().count());
        blocks.push(section(format!("{title}{body}")));
    }

    // Blocks kept free for the findings' overflow line and the context line.
    let reserved = 2;
    let findings = format::top_findings(event);
    if !findings.is_empty() && blocks.len() + reserved + 2 <= MAX_BLOCKS {
        blocks.push(json!({"type": "divider"}));
        blocks.push(section("*Top root causes*".to_owned()));
        let room = MAX_BLOCKS - reserved - blocks.len();
        let shown = findings.len().min(max_findings).min(room);
        for (i, f) in findings.iter().take(shown).enumerate() {
            let mut t = format!(
                "*{}. {}*\n{}",
                i + 1,
                esc(&format::finding_title(f)),
                esc(&f.summary)
            );
            if let Some(imp) = &f.impact {
                t.push_str(&format!("\n_Impact:_ {}", esc(imp)));
            }
            if let Some(r) = &f.recommendation {
                t.push_str(&format!("\n_Fix:_ {}", esc(r)));
            }
            blocks.push(section(t));
        }
        if findings.len() > shown {
            blocks.push(context(vec![format!(
                "…and {} more findings in the report",
                findings.len() - shown
            )]));
        }
    }

    let mut ctx = Vec::new();
    if let Some(p) = &event.report_path {
        ctx.push(format!("Report: `{}`", esc(p)));
    }
    ctx.push(format!(
        "Run `{}` · {}",
        esc(&event.run_id),
        event.at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    blocks.push(context(ctx));

    if blocks.len() > MAX_BLOCKS {
        let dropped = blocks.len() - (MAX_BLOCKS - 1);
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(context(vec![format!("…and {dropped} more")]));
    }

    let mut text = esc(&format::headline(event));
    if let Some(r) = &event.reason {
        text.push_str(" — ");
        text.push_str(&esc(r));
    }
    if event.kind == EventKind::Failed {
        if let Some(m) = mention.filter(|m| !m.trim().is_empty()) {
            text = format!("{m} {text}");
        }
    }
    json!({
        "text": format::truncate(&text, MAX_SECTION_CHARS),
        "blocks": blocks,
    })
}
