//! A notifier that appends every event as one JSON line to a file (or standard error): the
//! audit trail of what a rollback announced, and a channel that needs no network.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, ErrorKind, Result};
use crate::model::event::Event;
use crate::notifier::Notifier;

enum Sink {
    File(PathBuf),
    Stderr,
}

/// Writes each [`Event`] as a JSON line.
///
/// ```no_run
/// use std::sync::Arc;
/// use rollback_core::JsonLinesNotifier;
/// let audit = Arc::new(JsonLinesNotifier::to_file("rollback-reports/events.jsonl"));
/// ```
pub struct JsonLinesNotifier {
    sink: Sink,
}

impl JsonLinesNotifier {
    /// Appends to `path` (created, with its directory, on the first event).
    pub fn to_file(path: impl Into<PathBuf>) -> Self {
        JsonLinesNotifier {
            sink: Sink::File(path.into()),
        }
    }

    /// Writes to standard error.
    pub fn to_stderr() -> Self {
        JsonLinesNotifier { sink: Sink::Stderr }
    }
}

#[async_trait]
impl Notifier for JsonLinesNotifier {
    fn name(&self) -> &str {
        "jsonl"
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let mut line = serde_json::to_string(event).map_err(|e| {
            Error::new(ErrorKind::Backend, "cannot encode the event").with_source(e)
        })?;
        line.push('\n');
        match &self.sink {
            Sink::Stderr => std::io::stderr().write_all(line.as_bytes()).map_err(|e| {
                Error::new(ErrorKind::Unavailable, "cannot write to stderr")
                    .with_backend("jsonl")
                    .with_source(e)
            }),
            Sink::File(path) => {
                let fail = |what: &str, e: std::io::Error| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("cannot {what} {}", path.display()),
                    )
                    .with_backend("jsonl")
                    .with_source(e)
                };
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| fail("create the directory of", e))?;
                }
                let mut f = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| fail("open", e))?;
                f.write_all(line.as_bytes())
                    .await
                    .map_err(|e| fail("write", e))?;
                f.flush().await.map_err(|e| fail("flush", e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::EventKind;
    use crate::model::finding::Severity;
    use crate::model::target::{Environment, Target};

    #[tokio::test]
    async fn events_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/events.jsonl");
        let n = JsonLinesNotifier::to_file(&path);
        let t = Target::new(Environment::Staging, "web");
        for kind in [EventKind::Started, EventKind::Succeeded] {
            let e = Event::new(
                "run-1",
                kind,
                Severity::High,
                t.clone(),
                "summary",
                chrono::Utc::now(),
            );
            n.notify(&e).await.unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].kind, EventKind::Succeeded);
    }

    #[tokio::test]
    async fn an_unwritable_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let n = JsonLinesNotifier::to_file(dir.path().join("file/events.jsonl"));
        let e = Event::new(
            "r",
            EventKind::Started,
            Severity::High,
            Target::new(Environment::Dev, "w"),
            "s",
            chrono::Utc::now(),
        );
        let err = n.notify(&e).await.unwrap_err();
        assert!(err.to_string().contains("jsonl"), "{err}");
    }
}
