//! What the caller asks for: the options of one rollback.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::target::{Environment, Target};
use crate::model::version::Version;

/// How to switch back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyChoice {
    /// Decide from the platform's state: a warm blue-green slot → instant; a canary in progress
    /// → gradual; otherwise full revert.
    #[default]
    Auto,
    /// Force one strategy.
    Forced(Strategy),
}

/// A concrete way of switching back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Blue-green: all traffic to the warm target in one call.
    Instant,
    /// Reverse canary: traffic back to the target in steps, paced by its health.
    Gradual,
    /// The workload's desired state reverted to the target release.
    Full,
    /// Opt-in: restore data for the target, then revert. Never with `preserve_data`.
    Database,
}

impl Strategy {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Instant => "instant",
            Strategy::Gradual => "gradual",
            Strategy::Full => "full",
            Strategy::Database => "database",
        }
    }

    /// How people call it in reports.
    pub fn describe(self) -> &'static str {
        match self {
            Strategy::Instant => "Instant (Blue-Green Switch)",
            Strategy::Gradual => "Gradual (Reverse Canary)",
            Strategy::Full => "Full (Workload Revert)",
            Strategy::Database => "Database Restore + Revert",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StrategyChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => StrategyChoice::Auto,
            "instant" | "blue-green" => StrategyChoice::Forced(Strategy::Instant),
            "gradual" | "canary" => StrategyChoice::Forced(Strategy::Gradual),
            "full" | "revert" => StrategyChoice::Forced(Strategy::Full),
            "database" => StrategyChoice::Forced(Strategy::Database),
            _ => {
                return Err(Error::invalid_input(format!(
                    "unknown strategy {s:?}: expected one of auto, instant, gradual, full, database"
                )))
            }
        })
    }
}

/// The options of one rollback (the spec's flags).
///
/// ```
/// use rollback_core::{Environment, Target};
/// use rollback_core::request::RollbackRequest;
/// let req = RollbackRequest::new(Target::new(Environment::Production, "api-service"))
///     .reason("High error rate");
/// assert!(req.preserve_data && req.analyze_failure && req.notify);
/// req.validate().unwrap();
/// let no_reason = RollbackRequest::new(Target::new(Environment::Production, "api-service"));
/// assert!(no_reason.validate().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// What to roll back.
    pub target: Target,
    /// Roll back to this version instead of choosing one.
    pub to: Option<Version>,
    /// Why; required in production.
    pub reason: Option<String>,
    /// Skip the validation gates (recorded in the report). The lock is still taken.
    pub immediate: bool,
    /// Run root-cause analysis (default true).
    pub analyze_failure: bool,
    /// Send notifications (default true).
    pub notify: bool,
    /// Never restore data (default true).
    pub preserve_data: bool,
    /// How to switch back (default auto).
    pub strategy: StrategyChoice,
    /// Plan only: no mutating call at all.
    pub dry_run: bool,
    /// Roll back even when no SLA violation is detected.
    pub force: bool,
}

impl RollbackRequest {
    /// A request with the defaults: choose the target, run the gates, analyze, notify, preserve
    /// data, auto strategy.
    pub fn new(target: Target) -> Self {
        RollbackRequest {
            target,
            to: None,
            reason: None,
            immediate: false,
            analyze_failure: true,
            notify: true,
            preserve_data: true,
            strategy: StrategyChoice::Auto,
            dry_run: false,
            force: false,
        }
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Names the release to return to.
    pub fn to(mut self, version: Version) -> Self {
        self.to = Some(version);
        self
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: StrategyChoice) -> Self {
        self.strategy = strategy;
        self
    }

    /// Skips the gates.
    pub fn immediate(mut self, yes: bool) -> Self {
        self.immediate = yes;
        self
    }

    /// Plan only.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Roll back even without an SLA violation.
    pub fn force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }

    /// Sets `analyze_failure`.
    pub fn analyze_failure(mut self, yes: bool) -> Self {
        self.analyze_failure = yes;
        self
    }

    /// Sets `notify`.
    pub fn notify(mut self, yes: bool) -> Self {
        self.notify = yes;
        self
    }

    /// Sets `preserve_data`.
    pub fn preserve_data(mut self, yes: bool) -> Self {
        self.preserve_data = yes;
        self
    }

    /// Checks the request on its own (before any call): names valid, a reason in production,
    /// no database strategy while preserving data.
    pub fn validate(&self) -> Result<()> {
        self.target.validate()?;
        let reason = self.reason.as_deref().map(str::trim).unwrap_or("");
        if self.target.environment == Environment::Production && reason.is_empty() {
            return Err(Error::invalid_input(
                "a reason is required for a production rollback: pass --reason \"…\" (e.g. \"High error rate\")",
            ));
        }
        if reason.len() > 1000 {
            return Err(Error::invalid_input(format!(
                "reason is {} characters long: at most 1000 are accepted",
                reason.len()
            )));
        }
        if self.strategy == StrategyChoice::Forced(Strategy::Database) && self.preserve_data {
            return Err(Error::invalid_input(
                "strategy `database` restores data and cannot run with preserve_data = true: pass --preserve-data false to opt in",
            ));
        }
        Ok(())
    }
}
