//! A TCP connect check: is a dependency (Redis, a database, a downstream) reachable?

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::check::Check;
use crate::error::{Error, Result};
use crate::model::check::{CheckContext, CheckOutcome, CheckStatus};

/// Passes when a TCP connection to `host:port` opens within the timeout.
///
/// ```
/// use std::time::Duration;
/// use rollback_core::checks::TcpCheck;
/// let check = TcpCheck::new("redis", "127.0.0.1:6379", Duration::from_secs(2)).unwrap();
/// assert!(TcpCheck::new("bad", "no-port", Duration::from_secs(2)).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct TcpCheck {
    name: String,
    address: String,
    timeout: Duration,
}

impl TcpCheck {
    /// A check of `address` (`host:port`).
    pub fn new(
        name: impl Into<String>,
        address: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self> {
        let address = address.into();
        let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(Error::invalid_input(format!(
                "tcp check address {address:?} is not valid: expected host:port, e.g. 127.0.0.1:6379"
            )));
        }
        if timeout.is_zero() {
            return Err(Error::invalid_input(
                "tcp check timeout must be greater than zero",
            ));
        }
        Ok(TcpCheck {
            name: name.into(),
            address,
            timeout,
        })
    }
}

#[async_trait]
impl Check for TcpCheck {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self, _ctx: &CheckContext) -> CheckOutcome {
        let t0 = Instant::now();
        let r =
            tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&self.address)).await;
        let (status, detail) = match r {
            Ok(Ok(_)) => (
                CheckStatus::Pass,
                format!(
                    "{} reachable in {}ms",
                    self.address,
                    t0.elapsed().as_millis()
                ),
            ),
            Ok(Err(e)) => (
                CheckStatus::Fail,
                format!("{} unreachable: {e}", self.address),
            ),
            Err(_) => (
                CheckStatus::Fail,
                format!(
                    "{} did not accept a connection within {}",
                    self.address,
                    humantime::format_duration(self.timeout)
                ),
            ),
        };
        CheckOutcome::new(self.name.clone(), status, detail).with_duration(t0.elapsed())
    }
}
