//! Wall-clock time that follows tokio's (possibly paused) clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// The time source of the orchestrator and the simulation.
///
/// It is anchored at a wall-clock instant and advances with `tokio::time`, so under
/// `#[tokio::test(start_paused = true)]` a one-minute health watch advances it by one minute in
/// microseconds, and in production it is the real time.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<(DateTime<Utc>, Instant)>,
}

impl Clock {
    /// A clock reading the system time now, advancing with tokio's clock.
    ///
    /// Must be called inside a tokio runtime.
    pub fn system() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `start` now and advances with tokio's clock.
    ///
    /// Must be called inside a tokio runtime.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Clock {
            inner: Arc::new((start, Instant::now())),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        let (anchor, at) = *self.inner;
        let elapsed = Instant::now().saturating_duration_since(at);
        anchor + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
    }
}
