//! In-process lock table: one run per target per orchestrator, whatever the platform offers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::model::target::Target;

#[derive(Debug, Default, Clone)]
pub(crate) struct LockTable {
    held: Arc<Mutex<HashMap<Target, String>>>,
}

/// Releases the in-process lock when dropped (also when a run's task is aborted).
pub(crate) struct LocalLock {
    table: LockTable,
    target: Target,
}

impl LockTable {
    pub(crate) fn acquire(&self, target: &Target, holder: &str) -> Result<LocalLock> {
        let mut held = self
            .held
            .lock()
            .map_err(|_| Error::new(ErrorKind::Backend, "lock table poisoned"))?;
        if let Some(other) = held.get(target) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("another rollback of {target} is in progress, held by {other}"),
            )
            .with_context("holder", other));
        }
        held.insert(target.clone(), holder.to_string());
        Ok(LocalLock {
            table: self.clone(),
            target: target.clone(),
        })
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if let Ok(mut held) = self.table.held.lock() {
            held.remove(&self.target);
        }
    }
}
