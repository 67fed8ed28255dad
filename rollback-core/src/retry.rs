//! Bounded retries of temporary errors with exponential backoff, on tokio time.

use std::future::Future;

use tokio::time::{sleep, timeout_at, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::policy::RetryPolicy;

/// Calls `f` until it succeeds, fails permanently, runs out of attempts, or passes the policy's
/// call deadline. Only errors marked temporary are retried.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, operation: &'static str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = Instant::now() + policy.call_timeout;
    let mut backoff = policy.initial_backoff;
    let mut attempt = 1;
    loop {
        let err = match timeout_at(deadline, f()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "no answer within {} ({attempt} attempt(s))",
                        humantime::format_duration(policy.call_timeout)
                    ),
                )
                .with_operation(operation)
                .temporary())
            }
        };
        if !err.is_temporary() || attempt >= policy.attempts {
            return Err(err);
        }
        let now = Instant::now();
        if now + backoff >= deadline {
            return Err(err);
        }
        tracing::debug!(operation, attempt, error = %err, "temporary error; retrying");
        sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn temporary_errors_are_retried_then_succeed() {
        let calls = AtomicU32::new(0);
        let r = retry(&RetryPolicy::default(), "op", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Error::new(ErrorKind::Unavailable, "503").temporary())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = retry(&RetryPolicy::default(), "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::new(ErrorKind::PermissionDenied, "403"))
        })
        .await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = retry(&RetryPolicy::default(), "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::new(ErrorKind::Unavailable, "503").temporary())
        })
        .await;
        assert!(r.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            RetryPolicy::default().attempts
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_call_times_out() {
        let policy = RetryPolicy {
            call_timeout: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let r: Result<()> = retry(&policy, "op", std::future::pending).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(e.is_temporary());
    }
}
