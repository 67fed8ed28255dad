//! Environments and rollback targets.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The environment a deployment runs in; it selects the SLA policy and whether a reason is
/// required.
#[non_exhaustive]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Development.
    Dev,
    /// Staging / pre-production.
    Staging,
    /// Production: the strictest SLA; a rollback needs a reason.
    Production,
}

impl Environment {
    /// All environments, in order of strictness.
    pub const ALL: [Environment; 3] = [
        Environment::Dev,
        Environment::Staging,
        Environment::Production,
    ];

    /// The canonical lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "dev" | "development" => Ok(Environment::Dev),
            "staging" | "stage" => Ok(Environment::Staging),
            "production" | "prod" => Ok(Environment::Production),
            _ => Err(Error::invalid_input(format!(
                "unknown environment {s:?}: expected one of dev, staging, production"
            ))),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is rolled back: one deployment (service, workload) in one environment.
///
/// `namespace` is whatever grouping the platform uses: a Kubernetes namespace, an ECS cluster.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Target {
    /// The environment.
    pub environment: Environment,
    /// The deployment (Kubernetes Deployment, ECS service, …).
    pub deployment: String,
    /// Namespace, cluster or other grouping, when the platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Target {
    /// A target without a namespace.
    pub fn new(environment: Environment, deployment: impl Into<String>) -> Self {
        Target {
            environment,
            deployment: deployment.into(),
            namespace: None,
        }
    }

    /// Sets the namespace (or cluster).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Checks that the names are usable: non-empty, no whitespace or control characters.
    pub fn validate(&self) -> Result<(), Error> {
        let check = |what: &str, v: &str| {
            if v.is_empty()
                || v.len() > 253
                || v.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                Err(Error::invalid_input(format!(
                    "{what} {v:?} is not valid: expected 1-253 characters without whitespace"
                )))
            } else {
                Ok(())
            }
        };
        check("deployment", &self.deployment)?;
        if let Some(ns) = &self.namespace {
            check("namespace", ns)?;
        }
        Ok(())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.environment, ns, self.deployment),
            None => write!(f, "{}/{}", self.environment, self.deployment),
        }
    }
}
