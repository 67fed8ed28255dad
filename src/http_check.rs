//! The built-in HTTP check: method, URL, expected status, body substring, latency budget.

use std::time::Duration;

use async_trait::async_trait;
use rollback_core::{Check, CheckContext, CheckOutcome, CheckStatus, Error, Result};
use tokio::time::Instant;

/// An HTTP request whose answer must have the expected status, optionally contain a string, and
/// arrive within a latency budget. The URL's query and credentials are never shown in outcomes.
///
/// ```
/// use std::time::Duration;
/// use rollback::HttpCheck;
/// let check = HttpCheck::get("health", "http://127.0.0.1:8080/health")
///     .unwrap()
///     .expect_status(200)
///     .body_contains("ok")
///     .latency_budget(Duration::from_millis(200));
/// assert!(HttpCheck::get("bad", "not a url").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct HttpCheck {
    name: String,
    method: reqwest::Method,
    url: reqwest::Url,
    expect_status: u16,
    body_contains: Option<String>,
    latency_budget: Option<Duration>,
    timeout: Duration,
    client: reqwest::Client,
}

impl HttpCheck {
    /// A `GET` of `url` expecting 200, with a 10 s timeout.
    pub fn get(name: impl Into<String>, url: &str) -> Result<Self> {
        Self::new(name, "GET", url)
    }

    /// A request with any method (`GET`, `HEAD`, `POST`, …).
    pub fn new(name: impl Into<String>, method: &str, url: &str) -> Result<Self> {
        let url = reqwest::Url::parse(url).map_err(|e| {
            Error::invalid_input(format!(
                "http check url {:?} is not valid ({e}): expected an absolute http:// or https:// URL",
                redact_str(url)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid_input(format!(
                "http check url scheme {:?} is not supported: expected http or https",
                url.scheme()
            )));
        }
        let method =
            reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                Error::invalid_input(format!(
                    "http method {method:?} is not valid: expected e.g. GET, HEAD, POST"
                ))
            })?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| {
                Error::invalid_input("cannot build the HTTP client").with_source(e.without_url())
            })?;
        Ok(HttpCheck {
            name: name.into(),
            method,
            url,
            expect_status: 200,
            body_contains: None,
            latency_budget: None,
            timeout: Duration::from_secs(10),
            client,
        })
    }

    /// Expected status code (default 200).
    pub fn expect_status(mut self, status: u16) -> Self {
        self.expect_status = status;
        self
    }

    /// The body must contain this string.
    pub fn body_contains(mut self, needle: impl Into<String>) -> Self {
        self.body_contains = Some(needle.into());
        self
    }

    /// The answer must arrive within this time (else the check fails).
    pub fn latency_budget(mut self, budget: Duration) -> Self {
        self.latency_budget = Some(budget);
        self
    }

    /// Overall timeout (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn shown_url(&self) -> String {
        redact(&self.url)
    }
}

/// `scheme://host:port/path`, without credentials, query or fragment.
fn redact(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

fn redact_str(s: &str) -> String {
    s.split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_string()
}

#[async_trait]
impl Check for HttpCheck {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self, _ctx: &CheckContext) -> CheckOutcome {
        let t0 = Instant::now();
        let req = self
            .client
            .request(self.method.clone(), self.url.clone())
            .timeout(self.timeout);
        let outcome = |status, detail: String| {
            CheckOutcome::new(self.name.clone(), status, detail).with_duration(t0.elapsed())
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!(
                        "no answer within {}",
                        humantime::format_duration(self.timeout)
                    )
                } else if e.is_connect() {
                    "connection failed".to_string()
                } else {
                    e.without_url().to_string()
                };
                return outcome(
                    CheckStatus::Fail,
                    format!("{} {}: {why}", self.method, self.shown_url()),
                );
            }
        };
        let status = resp.status().as_u16();
        let body = if self.body_contains.is_some() {
            match resp.text().await {
                Ok(b) => Some(b),
                Err(e) => {
                    return outcome(
                        CheckStatus::Fail,
                        format!(
                            "{} {}: body unreadable: {}",
                            self.method,
                            self.shown_url(),
                            e.without_url()
                        ),
                    )
                }
            }
        } else {
            None
        };
        let elapsed = t0.elapsed();
        let ms = elapsed.as_millis();
        if status != self.expect_status {
            return outcome(
                CheckStatus::Fail,
                format!("{status} in {ms}ms (expected {})", self.expect_status),
            );
        }
        if let (Some(needle), Some(body)) = (&self.body_contains, &body) {
            if !body.contains(needle.as_str()) {
                return outcome(
                    CheckStatus::Fail,
                    format!("{status} in {ms}ms but the body lacks {needle:?}"),
                );
            }
        }
        if let Some(budget) = self.latency_budget {
            if elapsed > budget {
                return outcome(
                    CheckStatus::Fail,
                    format!(
                        "{status} in {ms}ms, over the {}ms budget",
                        budget.as_millis()
                    ),
                );
            }
            return outcome(
                CheckStatus::Pass,
                format!("{status} OK ({ms}ms, budget {}ms)", budget.as_millis()),
            );
        }
        outcome(CheckStatus::Pass, format!("{status} OK ({ms}ms)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        let u = reqwest::Url::parse("https://user:hunter2@example.invalid/health?token=s3cret")
            .unwrap();
        assert_eq!(redact(&u), "https://example.invalid/health");
        assert_eq!(redact_str("https://u:p@h/x?token=1"), "h/x");
    }

    #[test]
    fn bad_method_and_scheme_are_rejected() {
        assert!(HttpCheck::new("x", "GE T", "http://127.0.0.1/").is_err());
        assert!(HttpCheck::get("x", "ftp://127.0.0.1/").is_err());
    }
}
