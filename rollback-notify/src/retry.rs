//! How long a channel may take and how it retries: time budget, per-attempt timeout, backoff,
//! `Retry-After`.

use std::time::{Duration, SystemTime};

/// Timeouts and retries of one channel.
///
/// A delivery makes up to `1 + max_retries` attempts, each bounded by `attempt_timeout`, all
/// within `timeout`. Between attempts it waits the provider's `Retry-After` (seconds or an HTTP
/// date, capped at `max_retry_after`) or else an exponential backoff (`initial_backoff` doubling
/// up to `max_backoff`). A wait that would not end inside the budget is not started: the
/// delivery fails at once with the provider's last error. All waiting goes through
/// `tokio::time`, so tests can run it under a paused clock.
///
/// ```
/// use std::time::Duration;
/// use rollback_notify::RetryPolicy;
/// let p = RetryPolicy::default().max_retries(2).timeout(Duration::from_secs(10));
/// assert_eq!(p.get_max_retries(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    attempt_timeout: Duration,
    timeout: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 500 ms backoff doubling to 8 s, `Retry-After` capped at 60 s, 10 s per attempt,
    /// 30 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How many times a temporary failure (429, 5xx, connection error, timeout) is retried.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The first backoff; it doubles on each retry up to [`RetryPolicy::max_backoff`].
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The longest backoff between two attempts.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest `Retry-After` honoured; longer values are cut to this.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The deadline of one attempt (connect, send, read the response).
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.attempt_timeout = d;
        self
    }

    /// The deadline of the whole delivery, retries and waits included.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// See [`RetryPolicy::max_retries`].
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// See [`RetryPolicy::attempt_timeout`].
    pub fn get_attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// See [`RetryPolicy::timeout`].
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The backoff before retry number `retry` (0-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The wait before the next attempt: the `Retry-After` value if there is one (capped), else
    /// the backoff.
    pub(crate) fn wait_before_retry(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.backoff(retry),
        }
    }
}

/// Parses an HTTP `Retry-After` value: delay-seconds (`"120"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), relative to `now`. A date in the past is zero; anything
/// else unparseable is `None`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use rollback_notify::parse_retry_after;
/// assert_eq!(parse_retry_after("7", SystemTime::now()), Some(Duration::from_secs(7)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        return None;
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(500));
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(10), Duration::from_secs(8));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(8));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_is_capped() {
        let p = RetryPolicy::default().max_retry_after(Duration::from_secs(5));
        assert_eq!(
            p.wait_before_retry(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
        assert_eq!(p.wait_before_retry(1, None), Duration::from_secs(1));
    }
}
