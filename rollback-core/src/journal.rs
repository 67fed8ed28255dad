//! The run journal: JSON lines that let a crashed run resume and a finished one be recognised.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, ErrorKind, Result};
use crate::model::release::ReleaseRef;
use crate::model::target::Target;
use crate::model::traffic::TrafficSplit;
use crate::report::Outcome;
use crate::request::Strategy;

/// One journal record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum JournalRecord {
    /// The plan, written just before the first mutating call.
    Planned {
        /// The failing release.
        from: ReleaseRef,
        /// The target release.
        to: ReleaseRef,
        /// The strategy.
        strategy: Strategy,
        /// The lock holder identity of the run.
        holder: String,
    },
    /// A mutating step completed.
    Step {
        /// What was done.
        action: String,
        /// The split after it, for traffic steps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        split: Option<TrafficSplit>,
    },
    /// The health check failed; the run cascades to a new target.
    Cascaded {
        /// The release that failed its health check.
        failed: ReleaseRef,
        /// The new target.
        to: ReleaseRef,
        /// The new strategy.
        strategy: Strategy,
    },
    /// The target passed its health check.
    Verified {
        /// The release.
        release: ReleaseRef,
    },
    /// The run ended.
    Finished {
        /// How.
        outcome: Outcome,
        /// Where traffic was left, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ReleaseRef>,
    },
}

/// A record with its run, target and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The run.
    pub run_id: String,
    /// The target.
    pub target: Target,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    #[serde(flatten)]
    pub record: JournalRecord,
}

/// Durable storage of journal entries. Appends must be durable when they return.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Journal: Send + Sync {
    /// Appends one entry.
    async fn append(&self, entry: &JournalEntry) -> Result<()>;
    /// All entries of a target, oldest first.
    async fn history(&self, target: &Target) -> Result<Vec<JournalEntry>>;
}

/// A journal in memory: survives a crashed run within the process, not the process.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<HashMap<Target, Vec<JournalEntry>>>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<()> {
        self.entries
            .lock()
            .map_err(|_| Error::new(ErrorKind::Backend, "journal lock poisoned"))?
            .entry(entry.target.clone())
            .or_default()
            .push(entry.clone());
        Ok(())
    }

    async fn history(&self, target: &Target) -> Result<Vec<JournalEntry>> {
        Ok(self
            .entries
            .lock()
            .map_err(|_| Error::new(ErrorKind::Backend, "journal lock poisoned"))?
            .get(target)
            .cloned()
            .unwrap_or_default())
    }
}

/// A journal of JSON-lines files, one per target, in a directory.
#[derive(Debug, Clone)]
pub struct FileJournal {
    dir: PathBuf,
}

impl FileJournal {
    /// A journal in `dir` (created on first append).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileJournal { dir: dir.into() }
    }

    fn path(&self, target: &Target) -> PathBuf {
        let name: String = target
            .to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{name}.jsonl"))
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("cannot {what} journal {}", path.display()),
    )
    .with_backend("journal")
    .with_source(e)
}

#[async_trait]
impl Journal for FileJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<()> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| io_err("create", &self.dir, e))?;
        let path = self.path(&entry.target);
        let mut line = serde_json::to_string(entry).map_err(|e| {
            Error::new(ErrorKind::Backend, "cannot encode journal entry").with_source(e)
        })?;
        line.push('\n');
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|e| io_err("open", &path, e))?;
        f.write_all(line.as_bytes())
            .await
            .map_err(|e| io_err("write", &path, e))?;
        f.sync_data().await.map_err(|e| io_err("sync", &path, e))?;
        Ok(())
    }

    async fn history(&self, target: &Target) -> Result<Vec<JournalEntry>> {
        let path = self.path(target);
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &path, e)),
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(e) => out.push(e),
                // A torn last line is what a crash mid-write leaves: ignore it.
                Err(_) if i + 1 == text.lines().count() => {}
                Err(e) => {
                    return Err(Error::invalid_input(format!(
                        "journal {} line {} is not a journal entry: {e}",
                        path.display(),
                        i + 1
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// What the journal says about a target's last run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LastRun {
    /// No run, or the last one ended without changing anything.
    None,
    /// The last run finished having rolled back to `to`.
    Finished {
        /// Where it went.
        to: ReleaseRef,
    },
    /// The last run started executing and never finished.
    Unfinished(Box<Unfinished>),
}

/// A crashed run's state, reconstructed from its records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unfinished {
    pub run_id: String,
    pub from: ReleaseRef,
    pub to: ReleaseRef,
    pub strategy: Strategy,
    pub holder: String,
    pub steps: Vec<JournalRecord>,
    pub verified: bool,
}

pub(crate) fn last_run(history: &[JournalEntry]) -> LastRun {
    // Walk runs in order; the last one that planned something decides.
    let Some(last_plan) = history
        .iter()
        .rposition(|e| matches!(e.record, JournalRecord::Planned { .. }))
    else {
        return LastRun::None;
    };
    let run_id = &history[last_plan].run_id;
    let mut state = match &history[last_plan].record {
        JournalRecord::Planned {
            from,
            to,
            strategy,
            holder,
        } => Unfinished {
            run_id: run_id.clone(),
            from: from.clone(),
            to: to.clone(),
            strategy: *strategy,
            holder: holder.clone(),
            steps: Vec::new(),
            verified: false,
        },
        _ => return LastRun::None,
    };
    for e in history[last_plan + 1..]
        .iter()
        .filter(|e| &e.run_id == run_id)
    {
        match &e.record {
            JournalRecord::Step { .. } => state.steps.push(e.record.clone()),
            JournalRecord::Cascaded {
                failed,
                to,
                strategy,
            } => {
                state.from = failed.clone();
                state.to = to.clone();
                state.strategy = *strategy;
                state.steps.clear();
                state.verified = false;
            }
            JournalRecord::Verified { .. } => state.verified = true,
            JournalRecord::Finished { outcome, to } => {
                return match (outcome, to) {
                    (Outcome::RolledBack, Some(to)) => LastRun::Finished { to: to.clone() },
                    _ => LastRun::None,
                }
            }
            JournalRecord::Planned { .. } => {}
        }
    }
    LastRun::Unfinished(Box::new(state))
}
