//! The configuration file of the reference command and of embedders: policy, gates, smoke
//! tests (and, with the backends' features, their settings). TOML, every field validated.
//!
//! ```toml
//! [policy.health]
//! interval = "10s"
//! duration = "60s"
//!
//! [[gates]]
//! type = "tcp"
//! name = "redis reachable"
//! address = "127.0.0.1:6379"
//!
//! [[smoke_tests]]
//! type = "http"
//! name = "GET /health"
//! url = "http://127.0.0.1:8080/health"
//! expect_status = 200
//! body_contains = "ok"
//! latency_budget = "200ms"
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rollback_core::checks::TcpCheck;
use rollback_core::policy::{toml_de, Policy};
use rollback_core::{Check, Error, Result};
use serde::Deserialize;

/// One gate or smoke test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CheckConfig {
    /// A TCP connect check.
    Tcp {
        /// Display name.
        name: String,
        /// `host:port`.
        address: String,
        /// Connect timeout (default 5 s).
        #[serde(default = "five_seconds", with = "humantime_serde")]
        timeout: Duration,
    },
    /// An HTTP check (feature `http-check`).
    Http {
        /// Display name.
        name: String,
        /// Absolute URL.
        url: String,
        /// Method (default GET).
        #[serde(default = "get")]
        method: String,
        /// Expected status (default 200).
        #[serde(default = "two_hundred")]
        expect_status: u16,
        /// The body must contain this.
        #[serde(default)]
        body_contains: Option<String>,
        /// Latency budget.
        #[serde(default, with = "humantime_serde")]
        latency_budget: Option<Duration>,
        /// Timeout (default 5 s).
        #[serde(default = "five_seconds", with = "humantime_serde")]
        timeout: Duration,
    },
}

fn five_seconds() -> Duration {
    Duration::from_secs(5)
}
fn get() -> String {
    "GET".into()
}
fn two_hundred() -> u16 {
    200
}

impl CheckConfig {
    /// Builds the check.
    pub fn build(&self) -> Result<Arc<dyn Check>> {
        match self {
            CheckConfig::Tcp {
                name,
                address,
                timeout,
            } => Ok(Arc::new(TcpCheck::new(
                name.clone(),
                address.clone(),
                *timeout,
            )?)),
            #[cfg(feature = "http-check")]
            CheckConfig::Http {
                name,
                url,
                method,
                expect_status,
                body_contains,
                latency_budget,
                timeout,
            } => {
                let mut c = crate::HttpCheck::new(name.clone(), method, url)?
                    .expect_status(*expect_status)
                    .timeout(*timeout);
                if let Some(b) = body_contains {
                    c = c.body_contains(b.clone());
                }
                if let Some(l) = latency_budget {
                    c = c.latency_budget(*l);
                }
                Ok(Arc::new(c))
            }
            #[cfg(not(feature = "http-check"))]
            CheckConfig::Http { name, .. } => Err(Error::invalid_input(format!(
                "check {name:?} is an http check, but this build lacks the `http-check` feature"
            ))),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The rollback policy.
    #[serde(default)]
    pub policy: Policy,
    /// Validation gates (dependencies).
    #[serde(default)]
    pub gates: Vec<CheckConfig>,
    /// Smoke tests.
    #[serde(default)]
    pub smoke_tests: Vec<CheckConfig>,
    /// Notification channels (`[[notify.channels]]`; needs a notification feature to build).
    #[cfg(any(
        feature = "slack",
        feature = "pagerduty",
        feature = "email",
        feature = "github",
        feature = "teams",
        feature = "webhook"
    ))]
    #[serde(default)]
    pub notify: rollback_notify::NotifyConfig,
    /// How targets map to Kubernetes objects (`[kubernetes]`, feature `kube`).
    #[cfg(feature = "kube")]
    #[serde(default)]
    pub kubernetes: rollback_k8s::KubeConfig,
    /// The Prometheus metrics source (`[prometheus]`, feature `prometheus`).
    #[cfg(feature = "prometheus")]
    #[serde(default)]
    pub prometheus: Option<rollback_prometheus::PrometheusConfig>,
}

impl Config {
    /// Parses and validates a configuration.
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: Config = toml_de(text)?;
        cfg.policy.validate()?;
        for c in cfg.gates.iter().chain(&cfg.smoke_tests) {
            c.build()?;
        }
        Ok(cfg)
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid_input(format!("cannot read config file {}: {e}", path.display()))
        })?;
        Self::from_toml(&text).map_err(|e| {
            Error::invalid_input(format!("config file {}: {}", path.display(), e.message()))
        })
    }

    /// The gates, built.
    pub fn build_gates(&self) -> Result<Vec<Arc<dyn Check>>> {
        self.gates.iter().map(CheckConfig::build).collect()
    }

    /// The notification channels, built (secrets read from the environment variables the
    /// config names).
    #[cfg(any(
        feature = "slack",
        feature = "pagerduty",
        feature = "email",
        feature = "github",
        feature = "teams",
        feature = "webhook"
    ))]
    pub fn build_notifiers(&self) -> Result<Vec<Arc<dyn rollback_core::Notifier>>> {
        rollback_notify::build(&self.notify)
    }

    /// The smoke tests, built.
    pub fn build_smoke_tests(&self) -> Result<Vec<Arc<dyn Check>>> {
        self.smoke_tests.iter().map(CheckConfig::build).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_policy() {
        let c = Config::from_toml(
            r#"
            [policy.health]
            consecutive = 3
            [[gates]]
            type = "tcp"
            name = "redis"
            address = "127.0.0.1:6379"
            [[smoke_tests]]
            type = "http"
            name = "health"
            url = "http://127.0.0.1:8080/health"
            latency_budget = "200ms"
            "#,
        )
        .unwrap();
        assert_eq!(c.policy.health.consecutive, 3);
        assert_eq!(c.gates.len(), 1);
        assert_eq!(c.build_smoke_tests().unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::from_toml("[[gates]]\ntype = \"tcp\"\nname = \"x\"\nadress = \"a:1\"")
            .unwrap_err();
        assert!(e.to_string().contains("adress"), "{e}");
        let e = Config::from_toml("[[gates]]\ntype = \"udp\"\nname = \"x\"").unwrap_err();
        assert!(e.to_string().contains("udp"), "{e}");
        let e = Config::from_toml("[[gates]]\ntype = \"tcp\"\nname = \"x\"\naddress = \"nope\"")
            .unwrap_err();
        assert!(e.to_string().contains("host:port"), "{e}");
    }
}
