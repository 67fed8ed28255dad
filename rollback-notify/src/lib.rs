//! # rollback-notify
//!
//! Notification channels for `rollback`: people learn about a rollback from these messages,
//! often at 3 a.m. on a phone, so every channel carries the same facts (environment,
//! from → to version, reason, key metrics, top root causes, report location), stays inside its
//! provider's limits, retries what is worth retrying, and never holds the rollback up.
//!
//! | feature     | channel                                                          |
//! |-------------|------------------------------------------------------------------|
//! | `slack`     | [`SlackNotifier`]: incoming webhook or `chat.postMessage`, Block Kit |
//! | `pagerduty` | [`PagerDutyNotifier`]: Events API v2, trigger/resolve paired by `dedup_key` |
//! | `email`     | [`EmailNotifier`]: SMTP (STARTTLS, TLS; plain only to loopback), text + HTML, report attached |
//! | `github`    | [`GithubNotifier`]: one issue per incident, body = the RCA report |
//! | `teams`     | [`TeamsNotifier`]: Workflows / incoming webhook, Adaptive Card    |
//! | `webhook`   | [`WebhookNotifier`]: the event as JSON, HMAC-SHA256 signed ([`verify_signature`]) |
//! | `all`       | every channel                                                    |
//!
//! No channel is on by default.
//!
//! ## From a config file
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: rollback_notify::NotifyConfig = toml::from_str(r##"
//!     [[channels]]
//!     type = "slack"
//!     token_env = "SLACK_BOT_TOKEN"
//!     channel = "#deploys"
//!     min_severity = "medium"
//! "##)?;
//! let notifiers = rollback_notify::build(&config)?; // reads SLACK_BOT_TOKEN
//! # Ok(()) }
//! ```
//!
//! Each channel is a [`rollback_core::Notifier`]: the orchestrator calls `wants` (the
//! channel's [`EventFilter`]) and then `notify`. [`notify_all`] does the same fan-out for
//! callers that use the channels directly.
//!
//! ## Failures and secrets
//!
//! A failed delivery is a [`rollback_core::Error`] whose backend is the channel's name, whose
//! kind comes from one status table (429 and 5xx are temporary and retried, honouring
//! `Retry-After`; other 4xx are not), and which never contains a secret: webhook URLs, tokens,
//! routing keys and passwords live in [`Secret`], are read from environment variables named in
//! the config, and are stripped from transport errors and echoed response bodies.
#![warn(missing_docs)]

// Shared helpers: with only some channels enabled, parts of them go unused.
#[cfg_attr(not(feature = "all"), allow(dead_code))]
mod config;
mod fanout;
mod filter;
// Shared helpers: with only some channels enabled, parts of them go unused.
#[cfg_attr(not(feature = "all"), allow(dead_code))]
mod format;
// Shared helpers: with only some channels enabled, parts of them go unused.
#[cfg_attr(not(feature = "all"), allow(dead_code))]
mod retry;
#[cfg_attr(not(feature = "all"), allow(dead_code))]
mod secret;

#[cfg(any(
    feature = "slack",
    feature = "pagerduty",
    feature = "github",
    feature = "teams",
    feature = "webhook"
))]
#[cfg_attr(not(feature = "all"), allow(dead_code))]
mod http;

#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "pagerduty")]
pub mod pagerduty;
#[cfg(feature = "webhook")]
pub mod signature;
#[cfg(feature = "slack")]
pub mod slack;
#[cfg(feature = "teams")]
pub mod teams;
#[cfg(feature = "webhook")]
pub mod webhook;

/// An error and its sources, joined by `: ` (without repeats).
#[allow(dead_code)]
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

pub use config::{
    build, build_with_env, parse_severity, ChannelConfig, CommonConfig, EmailConfig, EmailTls,
    GithubConfig, NotifyConfig, PagerDutyConfig, SlackConfig, TeamsConfig, WebhookConfig,
};
pub use fanout::{notify_all, Delivery, DeliveryOutcome};
pub use filter::EventFilter;
pub use retry::{parse_retry_after, RetryPolicy};
pub use secret::{EnvLookup, Secret};

#[cfg(feature = "email")]
pub use email::EmailNotifier;
#[cfg(feature = "github")]
pub use github::GithubNotifier;
#[cfg(feature = "pagerduty")]
pub use pagerduty::PagerDutyNotifier;
#[cfg(feature = "webhook")]
pub use signature::{
    sign, verify_signature, verify_signature_at, SignatureError, DEFAULT_TOLERANCE,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
#[cfg(feature = "slack")]
pub use slack::SlackNotifier;
#[cfg(feature = "teams")]
pub use teams::TeamsNotifier;
#[cfg(feature = "webhook")]
pub use webhook::WebhookNotifier;
