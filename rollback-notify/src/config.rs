//! The `[notify]` configuration (serde, TOML) and [`build`], which turns it into notifiers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rollback_core::{Environment, Error, Notifier, Result, Severity};
use serde::{Deserialize, Serialize};

use crate::filter::EventFilter;
use crate::retry::RetryPolicy;
use crate::secret::EnvLookup;

/// The notification section of a config file: a list of channels.
///
/// ```
/// let cfg: rollback_notify::NotifyConfig = toml::from_str(r#"
///     [[channels]]
///     type = "slack"
///     webhook_url_env = "SLACK_WEBHOOK_URL"
///     min_severity = "high"
///
///     [[channels]]
///     type = "pagerduty"
///     routing_key_env = "PD_ROUTING_KEY"
///     environments = ["production"]
/// "#).unwrap();
/// assert_eq!(cfg.channels.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The channels, each tagged by `type`.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
}

/// One channel, tagged by `type = "slack" | "pagerduty" | "email" | "github" | "teams" |
/// "webhook"`.
///
/// Every variant parses whatever features are enabled, so a config file is checked the same
/// everywhere; [`build`] fails with a clear error for a channel whose feature is off.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelConfig {
    /// Slack (feature `slack`).
    Slack(SlackConfig),
    /// PagerDuty Events API v2 (feature `pagerduty`).
    Pagerduty(PagerDutyConfig),
    /// Email over SMTP (feature `email`).
    Email(EmailConfig),
    /// GitHub issues (feature `github`).
    Github(GithubConfig),
    /// Microsoft Teams (feature `teams`).
    Teams(TeamsConfig),
    /// Signed generic webhook (feature `webhook`).
    Webhook(WebhookConfig),
}

impl ChannelConfig {
    /// The `type` tag (`"slack"`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Pagerduty(_) => "pagerduty",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Github(_) => "github",
            ChannelConfig::Teams(_) => "teams",
            ChannelConfig::Webhook(_) => "webhook",
        }
    }

    /// The options every channel has.
    pub fn common(&self) -> &CommonConfig {
        match self {
            ChannelConfig::Slack(c) => &c.common,
            ChannelConfig::Pagerduty(c) => &c.common,
            ChannelConfig::Email(c) => &c.common,
            ChannelConfig::Github(c) => &c.common,
            ChannelConfig::Teams(c) => &c.common,
            ChannelConfig::Webhook(c) => &c.common,
        }
    }

    /// The channel's name in reports: `name`, else the type.
    pub fn name(&self) -> &str {
        self.common()
            .name
            .as_deref()
            .unwrap_or_else(|| self.type_name())
    }
}

/// Options every channel has: name, filter, timeouts and retries.
///
/// They sit next to the channel's own fields in the config file (serde cannot combine
/// `flatten` with `deny_unknown_fields`, so each channel's struct repeats them through a macro;
/// in Rust they are reached as `config.common`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonConfig {
    /// The channel's name in reports (default: the type). Must be unique.
    pub name: Option<String>,
    /// Only events at least this severe: `info`, `low`, `medium`, `high`, `critical`.
    /// A failed rollback is always sent.
    pub min_severity: Option<Severity>,
    /// Only these environments (`dev`, `staging`, `production`; empty = all).
    pub environments: Vec<Environment>,
    /// Also send per-stage events (default `false`: summaries only).
    pub stage_events: bool,
    /// Deadline of one delivery, retries included (default `30s`).
    pub timeout: Option<Duration>,
    /// Deadline of one attempt (default `10s`).
    pub attempt_timeout: Option<Duration>,
    /// Retries of a temporary failure (default 3, at most 10).
    pub retries: Option<u32>,
}

/// What the builders get from the common options.
pub(crate) struct Resolved {
    pub(crate) name: String,
    pub(crate) filter: EventFilter,
    pub(crate) retry: RetryPolicy,
}

impl CommonConfig {
    pub(crate) fn resolve(&self, type_name: &str) -> Result<Resolved> {
        let name = self.name.clone().unwrap_or_else(|| type_name.to_owned());
        if name.trim().is_empty() {
            return Err(Error::invalid_input(format!(
                "{type_name} channel: `name` is empty: expected a short name such as \
                 \"{type_name}-oncall\""
            )));
        }
        let mut filter = EventFilter::default()
            .environments(self.environments.iter().copied())
            .stage_events(self.stage_events);
        if let Some(s) = self.min_severity {
            filter = filter.min_severity(s);
        }
        let mut retry = RetryPolicy::default();
        if let Some(t) = self.timeout {
            if t.is_zero() {
                return Err(Error::invalid_input(format!(
                    "channel `{name}`: `timeout` is zero: expected a duration such as \"30s\""
                )));
            }
            retry = retry.timeout(t);
        }
        if let Some(t) = self.attempt_timeout {
            if t.is_zero() {
                return Err(Error::invalid_input(format!(
                    "channel `{name}`: `attempt_timeout` is zero: expected a duration such as \
                     \"10s\""
                )));
            }
            retry = retry.attempt_timeout(t);
        }
        if let Some(r) = self.retries {
            if r > 10 {
                return Err(Error::invalid_input(format!(
                    "channel `{name}`: `retries` = {r} is too many: expected 0 to 10"
                )));
            }
            retry = retry.max_retries(r);
        }
        Ok(Resolved {
            name,
            filter,
            retry,
        })
    }
}

/// Declares a channel config struct with its own fields plus the common ones.
macro_rules! channel_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        /// Serde shape of the struct (own fields followed by the common ones).
        #[derive(Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            $(
                $(#[$fmeta])*
                $field: $ty,
            )*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none", with = "severity_opt")]
            min_severity: Option<Severity>,
            #[serde(default, skip_serializing_if = "Vec::is_empty", with = "environments")]
            environments: Vec<Environment>,
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            stage_events: bool,
            #[serde(default, skip_serializing_if = "Option::is_none", with = "humantime_serde")]
            timeout: Option<Duration>,
            #[serde(default, skip_serializing_if = "Option::is_none", with = "humantime_serde")]
            attempt_timeout: Option<Duration>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            retries: Option<u32>,
        }

        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(from = "Raw", into = "Raw")]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
            /// Name, filter, timeouts and retries.
            #[serde(skip)]
            pub common: CommonConfig,
        }

        impl From<Raw> for $name {
            fn from(r: Raw) -> Self {
                $name {
                    $($field: r.$field,)*
                    common: CommonConfig {
                        name: r.name,
                        min_severity: r.min_severity,
                        environments: r.environments,
                        stage_events: r.stage_events,
                        timeout: r.timeout,
                        attempt_timeout: r.attempt_timeout,
                        retries: r.retries,
                    },
                }
            }
        }

        impl From<$name> for Raw {
            fn from(c: $name) -> Self {
                Raw {
                    $($field: c.$field,)*
                    name: c.common.name,
                    min_severity: c.common.min_severity,
                    environments: c.common.environments,
                    stage_events: c.common.stage_events,
                    timeout: c.common.timeout,
                    attempt_timeout: c.common.attempt_timeout,
                    retries: c.common.retries,
                }
            }
        }
    };
}

mod slack_cfg {
    use super::*;
    channel_config! {
        /// Slack: an incoming webhook (`webhook_url_env`) or `chat.postMessage` with a bot token
        /// (`token_env` + `channel`).
        pub struct SlackConfig {
            /// Environment variable holding the incoming-webhook URL (a secret).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub webhook_url_env: Option<String>,
            /// Environment variable holding the bot token (`xoxb-…`, a secret).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub token_env: Option<String>,
            /// The channel for `chat.postMessage` (`#deploys` or an id such as `C0123456`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub channel: Option<String>,
            /// Web API base URL (default `https://slack.com/api`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub api_url: Option<String>,
            /// Text put before the message on a failed rollback (`<!here>`, `<!subteam^S0123>`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub mention_on_failure: Option<String>,
            /// How many root-cause findings to show (default 5).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_findings: Option<usize>,
        }
    }
}
pub use slack_cfg::SlackConfig;

mod pagerduty_cfg {
    use super::*;
    channel_config! {
        /// PagerDuty Events API v2.
        pub struct PagerDutyConfig {
            /// Environment variable holding the integration's routing key (a secret).
            pub routing_key_env: String,
            /// Events API URL (default `https://events.pagerduty.com/v2/enqueue`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub url: Option<String>,
            /// `payload.source` (default: the target, `production/shop/checkout`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub source: Option<String>,
            /// `client_url`: a link shown in PagerDuty (dashboard, runbook).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub client_url: Option<String>,
            /// How many root-cause findings go into `custom_details` (default 5).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_findings: Option<usize>,
        }
    }
}
pub use pagerduty_cfg::PagerDutyConfig;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS (required), port 587 by default.
    #[default]
    Starttls,
    /// Implicit TLS from the first byte ("SMTPS"), port 465 by default.
    Tls,
    /// No encryption: only to a loopback host (a local relay), port 25 by default.
    None,
}

mod email_cfg {
    use super::*;
    channel_config! {
        /// Email over SMTP.
        pub struct EmailConfig {
            /// SMTP server host name.
            pub host: String,
            /// Port (default 587 for `starttls`, 465 for `tls`, 25 for `none`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub port: Option<u16>,
            /// `starttls` (default), `tls`, or `none` (loopback hosts only).
            #[serde(default)]
            pub tls: EmailTls,
            /// A PEM file with one or more CA certificates to trust for this server, in addition
            /// to the system's roots: for a relay whose certificate is issued by an internal CA.
            /// Only with `tls = "starttls"` or `"tls"`; read and checked when the channel is
            /// built.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ca_file: Option<std::path::PathBuf>,
            /// SMTP user name (needs `password_env`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub username: Option<String>,
            /// Environment variable holding the SMTP password (a secret).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub password_env: Option<String>,
            /// Sender (`Rollback Bot <rollback@example.com>`).
            pub from: String,
            /// Recipients.
            pub to: Vec<String>,
            /// Subject prefix (default `[rollback]`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub subject_prefix: Option<String>,
            /// Attach the RCA report when there is one (default `true`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub attach_report: Option<bool>,
            /// How many root-cause findings the summary shows (default 5).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_findings: Option<usize>,
        }
    }
}
pub use email_cfg::EmailConfig;

mod github_cfg {
    use super::*;
    channel_config! {
        /// A GitHub issue per incident.
        pub struct GithubConfig {
            /// `owner/name` of the repository.
            pub repository: String,
            /// Environment variable holding the token (needs `issues: write`; a secret).
            pub token_env: String,
            /// API base URL (default `https://api.github.com`; GitHub Enterprise:
            /// `https://HOST/api/v3`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub api_url: Option<String>,
            /// Labels of the issue (default `["rollback"]`). The first one is also used to find
            /// an existing issue of the same incident.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub labels: Option<Vec<String>>,
            /// Comment on the existing issue when a later event of the same incident arrives
            /// (default `true`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub comment_on_update: Option<bool>,
        }
    }
}
pub use github_cfg::GithubConfig;

mod teams_cfg {
    use super::*;
    channel_config! {
        /// Microsoft Teams: a Workflows (Power Automate) or incoming webhook.
        pub struct TeamsConfig {
            /// Environment variable holding the webhook URL (a secret).
            pub webhook_url_env: String,
            /// How many root-cause findings to show (default 5).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_findings: Option<usize>,
        }
    }
}
pub use teams_cfg::TeamsConfig;

mod webhook_cfg {
    use super::*;
    channel_config! {
        /// A generic webhook: the event as JSON, signed with HMAC-SHA256.
        pub struct WebhookConfig {
            /// Environment variable holding the URL (treated as a secret).
            pub url_env: String,
            /// Environment variable holding the HMAC key (a secret).
            pub secret_env: String,
            /// Extra headers with plain values.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub headers: BTreeMap<String, String>,
            /// Extra headers whose values are secrets: header name → environment variable.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub secret_headers: BTreeMap<String, String>,
            /// Include `report_markdown` in the JSON (default `true`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub include_report: Option<bool>,
        }
    }
}
pub use webhook_cfg::WebhookConfig;

/// Severity names in config files, case-insensitive.
mod severity_opt {
    use rollback_core::Severity;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string().to_ascii_lowercase()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Severity>, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_severity(&s)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a severity name (`info`, `low`, `medium`, `high`, `critical`; any case).
pub fn parse_severity(s: &str) -> Result<Severity> {
    match s.to_ascii_lowercase().as_str() {
        "info" => Ok(Severity::Info),
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        _ => Err(Error::invalid_input(format!(
            "unknown severity {s:?}: expected one of info, low, medium, high, critical"
        ))),
    }
}

/// Environment names in config files (`prod` etc. accepted, as on the command line).
mod environments {
    use rollback_core::Environment;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[Environment], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|e| e.as_str()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Environment>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| s.parse::<Environment>().map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Builds the notifiers of `config`, reading secrets from the process environment.
///
/// Fails before anything is sent, with an [`rollback_core::ErrorKind::InvalidInput`] error
/// that names the channel and what is wrong: a missing environment variable (by name, never
/// its value), a plain SMTP connection to a non-loopback host, a channel whose cargo feature
/// is off, two channels with the same name.
pub fn build(config: &NotifyConfig) -> Result<Vec<Arc<dyn Notifier>>> {
    build_with_env(config, &|name| std::env::var(name).ok())
}

/// Like [`build`], with a custom environment lookup (tests, secrets from a vault).
pub fn build_with_env(
    config: &NotifyConfig,
    env: &EnvLookup<'_>,
) -> Result<Vec<Arc<dyn Notifier>>> {
    let mut names: Vec<&str> = Vec::new();
    for ch in &config.channels {
        let name = ch.name();
        if names.contains(&name) {
            return Err(Error::invalid_input(format!(
                "two notification channels are named `{name}`: set a distinct `name` on each"
            )));
        }
        names.push(name);
    }
    config
        .channels
        .iter()
        .map(|ch| build_channel(ch, env))
        .collect()
}

#[allow(unused_variables)]
fn build_channel(ch: &ChannelConfig, env: &EnvLookup<'_>) -> Result<Arc<dyn Notifier>> {
    let prefix = |e: Error| -> Error {
        Error::new(
            e.kind(),
            format!(
                "notification channel `{}` ({}): {}",
                ch.name(),
                ch.type_name(),
                e.message()
            ),
        )
    };
    match ch {
        #[cfg(feature = "slack")]
        ChannelConfig::Slack(c) => Ok(Arc::new(
            crate::slack::SlackNotifier::from_config(c, env).map_err(prefix)?,
        )),
        #[cfg(feature = "pagerduty")]
        ChannelConfig::Pagerduty(c) => Ok(Arc::new(
            crate::pagerduty::PagerDutyNotifier::from_config(c, env).map_err(prefix)?,
        )),
        #[cfg(feature = "email")]
        ChannelConfig::Email(c) => Ok(Arc::new(
            crate::email::EmailNotifier::from_config(c, env).map_err(prefix)?,
        )),
        #[cfg(feature = "github")]
        ChannelConfig::Github(c) => Ok(Arc::new(
            crate::github::GithubNotifier::from_config(c, env).map_err(prefix)?,
        )),
        #[cfg(feature = "teams")]
        ChannelConfig::Teams(c) => Ok(Arc::new(
            crate::teams::TeamsNotifier::from_config(c, env).map_err(prefix)?,
        )),
        #[cfg(feature = "webhook")]
        ChannelConfig::Webhook(c) => Ok(Arc::new(
            crate::webhook::WebhookNotifier::from_config(c, env).map_err(prefix)?,
        )),
        #[allow(unreachable_patterns)]
        other => Err(Error::new(
            rollback_core::ErrorKind::Unsupported,
            format!(
                "notification channel `{}` has type `{}`, but this build lacks the cargo feature \
                 `{}` of rollback-notify: enable it (or `all`)",
                other.name(),
                other.type_name(),
                other.type_name()
            ),
        )),
    }
}

/// Reads the env var named by `field` (whose value is `var`) as a secret.
pub(crate) fn secret(var: &str, field: &str, env: &EnvLookup<'_>) -> Result<crate::Secret> {
    crate::Secret::from_lookup(var, field, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let err = toml::from_str::<NotifyConfig>(
            r#"
            [[channels]]
            type = "slack"
            webhook_url_env = "X"
            webhook_ulr = "typo"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("webhook_ulr"), "{err}");
    }

    #[test]
    fn unknown_type_lists_the_accepted_ones() {
        let err = toml::from_str::<NotifyConfig>("[[channels]]\ntype = \"fax\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fax") && err.contains("slack"), "{err}");
    }

    #[test]
    fn common_options_parse_next_to_channel_fields() {
        let cfg: NotifyConfig = toml::from_str(
            r#"
            [[channels]]
            type = "teams"
            name = "teams-sre"
            webhook_url_env = "TEAMS_URL"
            min_severity = "High"
            environments = ["prod", "staging"]
            stage_events = true
            timeout = "20s"
            attempt_timeout = "5s"
            retries = 2
            "#,
        )
        .unwrap();
        let ChannelConfig::Teams(t) = &cfg.channels[0] else {
            panic!("not teams")
        };
        assert_eq!(t.common.name.as_deref(), Some("teams-sre"));
        assert_eq!(t.common.min_severity, Some(Severity::High));
        assert_eq!(
            t.common.environments,
            vec![Environment::Production, Environment::Staging]
        );
        assert_eq!(t.common.timeout, Some(Duration::from_secs(20)));
        assert_eq!(t.common.retries, Some(2));
        // Round trip.
        let back: NotifyConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn bad_severity_lists_accepted_values() {
        let err = toml::from_str::<NotifyConfig>(
            "[[channels]]\ntype = \"teams\"\nwebhook_url_env = \"X\"\nmin_severity = \"urgent\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("critical"), "{err}");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let cfg: NotifyConfig = toml::from_str(
            "[[channels]]\ntype = \"teams\"\nwebhook_url_env = \"A\"\n\
             [[channels]]\ntype = \"teams\"\nwebhook_url_env = \"B\"\n",
        )
        .unwrap();
        let err = build_with_env(&cfg, &|_| Some("https://x.invalid/a".into()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("named `teams`"), "{err}");
    }

    #[test]
    fn too_many_retries_is_rejected() {
        let c = CommonConfig {
            retries: Some(50),
            ..Default::default()
        };
        let err = c.resolve("slack").err().unwrap();
        assert!(err.to_string().contains("0 to 10"), "{err}");
    }
}
