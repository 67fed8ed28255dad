//! GitHub issues: one issue per incident, its body the RCA report in Markdown.
//!
//! The issue is titled `Rollback: <deployment> <from> → <to> (<environment>)`, labelled
//! (default `rollback`), and its body starts with the marker
//! `<!-- rollback-incident: KEY -->` where `KEY` is [`Event::incident_key`]. Before creating
//! an issue the channel looks for one carrying the marker (open or closed issues with the first
//! label, or the search API when no label is configured) and remembers the issues it created,
//! so an incident never gets a second issue; a later event of the same incident becomes a
//! comment instead (unless `comment_on_update = false`).
//!
//! A create whose answer is lost (no answer within `attempt_timeout`, a dropped connection, a
//! 5xx) may have opened the issue anyway, so it is not simply sent again: before each retry the
//! channel looks for the marker once more and reuses the issue it finds. The search API indexes
//! new issues with a delay, so this look-up is reliable with a label (the default) and
//! best-effort without one. Comments are guarded the same way: each starts with
//! `<!-- rollback-event: KEY:KIND:MILLIS -->` ([`event_marker`]), and a comment whose answer
//! was lost is looked for among the issue's recent comments before it is posted again.
//!
//! Only finished rollbacks (`Succeeded`, `Failed`) are filed.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use rollback_core::{Error, ErrorKind, Event, EventKind, Notifier, Result};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::{secret, GithubConfig};
use crate::filter::EventFilter;
use crate::format;
use crate::http::{bearer, join_path, parse_url, HttpChannel, HttpResponse, Sent, Verdict};
use crate::secret::{EnvLookup, Redactor, Secret};

/// The public API's base URL.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version requested.
pub const API_VERSION: &str = "2022-11-28";
/// Most characters in an issue body.
pub const MAX_BODY_CHARS: usize = 65_536;
/// Most characters in an issue title.
pub const MAX_TITLE_CHARS: usize = 256;

/// Files finished rollbacks as GitHub issues.
pub struct GithubNotifier {
    name: String,
    filter: EventFilter,
    http: HttpChannel,
    token: Secret,
    api: reqwest::Url,
    owner: String,
    repo: String,
    labels: Vec<String>,
    comment_on_update: bool,
    /// Incident key → issue number, for issues this process created or found.
    known: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for GithubNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubNotifier")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .field("api_url", &self.api.as_str())
            .field("repository", &format!("{}/{}", self.owner, self.repo))
            .field("labels", &self.labels)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// How the incident's issue came to be.
enum Created {
    /// This call opened it.
    New(u64),
    /// An earlier attempt whose answer was lost had opened it; found by its marker.
    Found(u64),
}

/// The marker put in the issue body to find it again.
pub fn incident_marker(event: &Event) -> String {
    format!("<!-- rollback-incident: {} -->", event.incident_key())
}

/// The marker put in a comment's body, to find it again when the answer to its POST is lost:
/// the incident, the event's kind and its time.
pub fn event_marker(event: &Event) -> String {
    format!(
        "<!-- rollback-event: {}:{:?}:{} -->",
        event.incident_key(),
        event.kind,
        event.at.timestamp_millis()
    )
}

/// Whether an issue or comment of the API's answers has `marker` in its body.
fn carries(item: &Value, marker: &str) -> bool {
    item.get("body")
        .and_then(Value::as_str)
        .is_some_and(|b| b.contains(marker))
}

/// `Rollback: checkout v1.3.0 → v1.2.9 (production)`.
pub fn issue_title(event: &Event) -> String {
    let from = event.from.as_ref().map_or("?", |v| v.as_str());
    let to = event.to.as_ref().map_or("?", |v| v.as_str());
    format::truncate(
        &format!(
            "Rollback: {} {from} → {to} ({})",
            event.target.deployment, event.target.environment
        ),
        MAX_TITLE_CHARS,
    )
}

impl GithubNotifier {
    /// Builds the channel from its config, reading the token through `env`.
    pub fn from_config(config: &GithubConfig, env: &EnvLookup<'_>) -> Result<Self> {
        let resolved = config.common.resolve("github")?;
        let (owner, repo) = config
            .repository
            .split_once('/')
            .filter(|(o, r)| {
                let ok = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                };
                ok(o) && ok(r)
            })
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "`repository` = {:?} is not valid: expected \"owner/name\"",
                    config.repository
                ))
            })?;
        let token = secret(&config.token_env, "token_env", env)?;
        let api = parse_url(
            "api_url",
            config.api_url.as_deref().unwrap_or(DEFAULT_API_URL),
        )?;
        let labels = config
            .labels
            .clone()
            .unwrap_or_else(|| vec!["rollback".to_owned()]);
        if labels
            .iter()
            .any(|l| l.trim().is_empty() || l.contains(','))
        {
            return Err(Error::invalid_input(
                "`labels` has an empty label or one with a comma: expected names such as \
                 \"rollback\"",
            ));
        }
        let http = HttpChannel::new(
            resolved.name.clone(),
            resolved.retry,
            Redactor::new([&token]),
        )?;
        Ok(GithubNotifier {
            name: resolved.name,
            filter: resolved.filter,
            http,
            token,
            api,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            labels,
            comment_on_update: config.comment_on_update.unwrap_or(true),
            known: Mutex::new(HashMap::new()),
        })
    }

    fn request(
        &self,
        c: &reqwest::Client,
        method: reqwest::Method,
        url: &reqwest::Url,
    ) -> Result<reqwest::RequestBuilder> {
        Ok(c.request(method, url.clone())
            .header(AUTHORIZATION, bearer(&self.token)?)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION))
    }

    /// GitHub's rate limits answer 403 (or 429) with `Retry-After` or
    /// `x-ratelimit-remaining: 0`; those are retried, other 403s are not.
    fn verdict(&self, op: &'static str, resp: &HttpResponse) -> Verdict {
        let status = resp.status.as_u16();
        if status == 403 || status == 429 {
            let header = |n: &str| resp.headers.get(n).and_then(|v| v.to_str().ok());
            let exhausted = header("x-ratelimit-remaining") == Some("0");
            if header("retry-after").is_some() || exhausted || status == 429 {
                let err = self
                    .http
                    .error(
                        ErrorKind::Unavailable,
                        op,
                        &format!("GitHub rate limit hit: HTTP {}", resp.status),
                    )
                    .temporary();
                if header("retry-after").is_none() {
                    if let Some(reset) =
                        header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())
                    {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0);
                        return Verdict::RetryIn(
                            err,
                            Duration::from_secs(reset.saturating_sub(now)),
                        );
                    }
                }
                return Verdict::Retry(err);
            }
        }
        self.http.default_verdict(op, resp)
    }

    fn parse_json(&self, op: &'static str, resp: &HttpResponse) -> Result<Value> {
        serde_json::from_slice(&resp.body).map_err(|e| {
            self.http.error(
                ErrorKind::Backend,
                op,
                &format!("GitHub answered with a body that is not the expected JSON: {e}"),
            )
        })
    }

    /// GETs `url` and decodes the JSON answer.
    async fn get_json(&self, op: &'static str, url: &reqwest::Url) -> Result<Value> {
        let resp = self
            .http
            .send(
                op,
                |c| self.request(c, reqwest::Method::GET, url),
                |r| self.verdict(op, r),
            )
            .await?;
        self.parse_json(op, &resp)
    }

    /// Looks for an issue with the incident's marker.
    async fn find_existing(&self, marker: &str, key: &str) -> Result<Option<u64>> {
        let items: Vec<Value> = if let Some(label) = self.labels.first() {
            let mut url = join_path(&self.api, &["repos", &self.owner, &self.repo, "issues"]);
            url.query_pairs_mut()
                .append_pair("state", "all")
                .append_pair("labels", label)
                .append_pair("sort", "created")
                .append_pair("direction", "desc")
                .append_pair("per_page", "100");
            match self.get_json("list_issues", &url).await? {
                Value::Array(a) => a,
                _ => Vec::new(),
            }
        } else {
            let mut url = join_path(&self.api, &["search", "issues"]);
            let q = format!(
                "repo:{}/{} is:issue in:body \"{}\"",
                self.owner, self.repo, key
            );
            url.query_pairs_mut()
                .append_pair("q", &q)
                .append_pair("per_page", "20");
            match self
                .get_json("search_issues", &url)
                .await?
                .get_mut("items")
                .map(Value::take)
            {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            }
        };
        Ok(items
            .iter()
            .filter(|i| i.get("pull_request").is_none())
            .find(|i| carries(i, marker))
            .and_then(|i| i.get("number").and_then(Value::as_u64)))
    }

    /// Opens the incident's issue; see [`Created`].
    async fn create_issue(&self, event: &Event, marker: &str, key: &str) -> Result<Created> {
        let report = match &event.report_markdown {
            Some(md) if !md.trim().is_empty() => md.clone(),
            _ => format::markdown(event, 10),
        };
        let notice = "\n\n…(truncated: see the full report)";
        let budget = MAX_BODY_CHARS - marker.chars().count() - notice.chars().count() - 2;
        let mut body = format!("{marker}\n\n");
        if report.chars().count() > budget {
            body.extend(report.chars().take(budget));
            body.push_str(notice);
        } else {
            body.push_str(&report);
        }
        let payload = serde_json::to_vec(&json!({
            "title": issue_title(event),
            "body": body,
            "labels": self.labels,
        }))
        .map_err(|e| {
            self.http.error(
                ErrorKind::Backend,
                "create_issue",
                &format!("encoding JSON: {e}"),
            )
        })?;
        let url = join_path(&self.api, &["repos", &self.owner, &self.repo, "issues"]);
        // A create whose answer was lost (a timeout, a 502 from GitHub's front end) may have
        // opened the issue all the same: before sending it again, look for the marker.
        let sent = self
            .http
            .send_guarded(
                "create_issue",
                |c| {
                    Ok(self
                        .request(c, reqwest::Method::POST, &url)?
                        .header(CONTENT_TYPE, "application/json")
                        .body(payload.clone()))
                },
                |r| self.verdict("create_issue", r),
                || self.find_existing(marker, key),
            )
            .await
            .map_err(|e| e.with_context("repository", format!("{}/{}", self.owner, self.repo)))?;
        let resp = match sent {
            Sent::Response(resp) => resp,
            Sent::Found(number) => return Ok(Created::Found(number)),
        };
        self.parse_json("create_issue", &resp)?
            .get("number")
            .and_then(Value::as_u64)
            .map(Created::New)
            .ok_or_else(|| {
                self.http.error(
                    ErrorKind::Backend,
                    "create_issue",
                    "GitHub created the issue but its answer has no issue number",
                )
            })
    }

    /// Comments on the incident's issue. A comment whose answer was lost is looked for (by
    /// its event marker, among the issue's comments of the last minutes) before it is sent
    /// again, so a retried POST cannot comment twice.
    async fn comment(&self, number: u64, event: &Event) -> Result<()> {
        let marker = event_marker(event);
        let body = format!("{marker}\n\n{}", format::markdown(event, 5));
        let payload = serde_json::to_vec(&json!({ "body": body })).map_err(|e| {
            self.http.error(
                ErrorKind::Backend,
                "comment",
                &format!("encoding JSON: {e}"),
            )
        })?;
        let url = join_path(
            &self.api,
            &[
                "repos",
                &self.owner,
                &self.repo,
                "issues",
                &number.to_string(),
                "comments",
            ],
        );
        // Comments updated since shortly before the first attempt (with room for clock skew).
        let since = (chrono::Utc::now() - chrono::Duration::minutes(10))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.http
            .send_guarded(
                "comment",
                |c| {
                    Ok(self
                        .request(c, reqwest::Method::POST, &url)?
                        .header(CONTENT_TYPE, "application/json")
                        .body(payload.clone()))
                },
                |r| self.verdict("comment", r),
                || self.find_comment(&url, &marker, &since),
            )
            .await?;
        Ok(())
    }

    /// The id of a comment of the issue at `comments_url` updated since `since` whose body
    /// carries `marker`.
    async fn find_comment(
        &self,
        comments_url: &reqwest::Url,
        marker: &str,
        since: &str,
    ) -> Result<Option<u64>> {
        let mut url = comments_url.clone();
        url.query_pairs_mut()
            .append_pair("since", since)
            .append_pair("per_page", "100");
        let comments = match self.get_json("list_comments", &url).await? {
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        Ok(comments
            .iter()
            .find(|c| carries(c, marker))
            .map(|c| c.get("id").and_then(Value::as_u64).unwrap_or_default()))
    }
}

#[async_trait]
impl Notifier for GithubNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &Event) -> bool {
        matches!(event.kind, EventKind::Succeeded | EventKind::Failed) && self.filter.accepts(event)
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let key = event.incident_key();
        let marker = incident_marker(event);
        // Held across the look-up and the creation, so two events of one incident cannot both
        // create an issue.
        let mut known = self.known.lock().await;
        let existing = match known.get(&key) {
            Some(n) => Some(*n),
            None => self.find_existing(&marker, &key).await?,
        };
        match existing {
            Some(number) => {
                known.insert(key, number);
                drop(known);
                if self.comment_on_update {
                    self.comment(number, event).await?;
                    tracing::info!(channel = %self.name, issue = number, "commented on the incident's issue");
                } else {
                    tracing::info!(channel = %self.name, issue = number, "incident already has an issue");
                }
            }
            None => match self.create_issue(event, &marker, &key).await? {
                Created::New(number) => {
                    known.insert(key, number);
                    tracing::info!(channel = %self.name, issue = number, "created an issue");
                }
                Created::Found(number) => {
                    // The issue holds this event's report already: no comment.
                    known.insert(key, number);
                    tracing::info!(
                        channel = %self.name,
                        issue = number,
                        "an earlier create whose answer was lost had opened the issue: reusing it"
                    );
                }
            },
        }
        Ok(())
    }
}
