//! Evidence a platform gathers about a release: log lines and platform events.

use chrono::{DateTime, Utc};

/// One log line of one instance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// When it was written (from the platform's timestamp, when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The instance (pod, task) that wrote it.
    pub source: String,
    /// The raw line.
    pub line: String,
}

/// How serious a platform event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventLevel {
    /// Informational (`Scheduled`, `Pulled`, deployment started).
    Normal,
    /// Something went wrong (`BackOff`, `Unhealthy`, `OOMKilled`, task stopped).
    Warning,
}

/// A platform event: a Kubernetes event, an ECS service event, a stopped task.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlatformEvent {
    /// When it last happened.
    pub at: DateTime<Utc>,
    /// Normal or warning.
    pub level: EventLevel,
    /// A short machine-readable reason (`BackOff`, `OOMKilled`, `Unhealthy`, `DeploymentStarted`).
    pub reason: String,
    /// The object it is about (`pod/api-7d9f-x2`, `task/…`).
    pub object: String,
    /// The message.
    pub message: String,
    /// How many times it happened.
    pub count: u32,
}

/// Logs and events of one release over a window.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// Log lines, oldest first.
    pub logs: Vec<LogLine>,
    /// Platform events, oldest first.
    pub events: Vec<PlatformEvent>,
    /// Set when the platform returned less than it had (tail limits).
    pub truncated: bool,
}

impl Evidence {
    /// Evidence from logs and events.
    pub fn new(logs: Vec<LogLine>, events: Vec<PlatformEvent>) -> Self {
        Evidence {
            logs,
            events,
            truncated: false,
        }
    }

    /// Whether there is nothing at all.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty() && self.events.is_empty()
    }
}
