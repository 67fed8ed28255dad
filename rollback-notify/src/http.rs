//! HTTP delivery shared by the HTTP channels: attempts, retries, and the one table that maps an
//! HTTP status to an error kind.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use rollback_core::{Error, ErrorKind, Result};
use tokio::time::Instant;

use crate::retry::{parse_retry_after, RetryPolicy};
use crate::secret::Redactor;

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("rollback-notify/", env!("CARGO_PKG_VERSION"));

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    /// The body as (lossy) text, cut to `max` characters.
    pub(crate) fn body_snippet(&self, max: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        let mut out: String = text.chars().take(max).collect();
        if text.chars().count() > max {
            out.push('…');
        }
        out
    }
}

/// What to do with a response.
pub(crate) enum Verdict {
    /// Delivered.
    Done,
    /// A temporary failure: retry if the budget allows.
    Retry(Error),
    /// A temporary failure with a provider-given wait (before the `Retry-After` cap).
    RetryIn(Error, Duration),
    /// A permanent failure.
    Fail(Error),
}

/// What [`HttpChannel::send_guarded`] ended with.
pub(crate) enum Sent<T> {
    /// The server accepted this attempt.
    Response(HttpResponse),
    /// The recheck found the effect of an earlier attempt whose answer was lost.
    Found(T),
}

/// Why one attempt did not succeed.
enum Failed {
    /// Not worth retrying.
    Permanent(Error),
    /// Worth retrying, after the provider's wait if it gave one.
    Temporary {
        error: Error,
        retry_after: Option<Duration>,
        /// Whether the server may have applied the request although the attempt failed.
        may_have_reached: bool,
    },
}

/// One HTTP channel's client, name, retry policy and redactor.
#[derive(Clone)]
pub(crate) struct HttpChannel {
    client: reqwest::Client,
    name: Cow<'static, str>,
    retry: RetryPolicy,
    redactor: Redactor,
}

impl std::fmt::Debug for HttpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpChannel")
            .field("name", &self.name)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpChannel {
    /// A channel named `name` (the `backend` of its errors).
    pub(crate) fn new(
        name: impl Into<Cow<'static, str>>,
        retry: RetryPolicy,
        redactor: Redactor,
    ) -> Result<Self> {
        let name = name.into();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Backend,
                    format!(
                        "could not create the HTTP client: {}",
                        crate::error_chain(&e.without_url())
                    ),
                )
                .with_backend(name.clone())
            })?;
        Ok(HttpChannel {
            client,
            name,
            retry,
            redactor,
        })
    }

    /// An error of this channel (backend = name, operation = `op`), message redacted.
    pub(crate) fn error(&self, kind: ErrorKind, op: &'static str, message: &str) -> Error {
        Error::new(kind, self.redactor.redact(message))
            .with_backend(self.name.to_string())
            .with_operation(op)
    }

    /// The default verdict: 2xx delivered, 408/429/5xx retried, other statuses failed.
    pub(crate) fn default_verdict(&self, op: &'static str, resp: &HttpResponse) -> Verdict {
        if resp.status.is_success() {
            return Verdict::Done;
        }
        let err = self.status_error(op, resp);
        if err.is_temporary() {
            Verdict::Retry(err)
        } else {
            Verdict::Fail(err)
        }
    }

    /// Maps a non-success status to an error: the one status table of the HTTP channels.
    pub(crate) fn status_error(&self, op: &'static str, resp: &HttpResponse) -> Error {
        let status = resp.status;
        let (kind, temporary, what) = match status.as_u16() {
            400 => (
                ErrorKind::InvalidInput,
                false,
                "rejected the message as invalid",
            ),
            401 => (
                ErrorKind::PermissionDenied,
                false,
                "rejected the credentials (check the token or webhook)",
            ),
            403 => (
                ErrorKind::PermissionDenied,
                false,
                "refused the request (token lacks a permission, or the webhook is disabled)",
            ),
            404 => (
                ErrorKind::NotFound,
                false,
                "does not know the endpoint (revoked webhook, wrong channel or repository?)",
            ),
            408 => (ErrorKind::TimedOut, true, "timed out reading the request"),
            409 => (ErrorKind::Conflict, false, "reported a conflict"),
            410 => (
                ErrorKind::NotFound,
                false,
                "says the endpoint is gone (archived channel, deleted webhook)",
            ),
            413 => (
                ErrorKind::InvalidInput,
                false,
                "says the message is too large",
            ),
            422 => (
                ErrorKind::InvalidInput,
                false,
                "could not process the message",
            ),
            429 => (ErrorKind::Unavailable, true, "is rate limiting us"),
            500..=599 => (ErrorKind::Unavailable, true, "had a server error"),
            300..=399 => (
                ErrorKind::Backend,
                false,
                "redirected the request (check the configured URL)",
            ),
            _ => (
                ErrorKind::Backend,
                false,
                "answered with an unexpected status",
            ),
        };
        let snippet = resp.body_snippet(200);
        let msg = if snippet.is_empty() {
            format!("the server {what}: HTTP {status}")
        } else {
            format!("the server {what}: HTTP {status}: {snippet}")
        };
        self.error(kind, op, &msg).set_temporary(temporary)
    }

    /// Sends a request built by `build` (called once per attempt), retrying temporary failures
    /// within the policy's budget; `classify` decides what a response means.
    ///
    /// Only for requests that may safely be repeated: a request that creates something uses
    /// [`HttpChannel::send_guarded`].
    pub(crate) async fn send<B, C>(
        &self,
        op: &'static str,
        build: B,
        classify: C,
    ) -> Result<HttpResponse>
    where
        B: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder>,
        C: Fn(&HttpResponse) -> Verdict,
    {
        let never = || std::future::ready(Ok(None::<std::convert::Infallible>));
        match self.send_guarded(op, build, classify, never).await? {
            Sent::Response(resp) => Ok(resp),
            Sent::Found(never) => match never {},
        }
    }

    /// Like [`HttpChannel::send`], for a request that must not take effect twice (creating an
    /// issue). Once an attempt failed in a way that may have reached the server anyway (no
    /// answer in time, the connection dropped after the request went out, a 5xx from a proxy
    /// in front of a backend that did the work), every later attempt first calls `recheck`,
    /// which looks for the effect of the earlier attempt: `Ok(Some(found))` ends the delivery
    /// with [`Sent::Found`] instead of sending again, `Ok(None)` sends again, and a temporary
    /// error counts as a failed attempt (nothing is sent until a recheck has answered). When
    /// the budget runs out in that state, the error says that the outcome is unknown.
    pub(crate) async fn send_guarded<B, C, R, F, T>(
        &self,
        op: &'static str,
        build: B,
        classify: C,
        mut recheck: R,
    ) -> Result<Sent<T>>
    where
        B: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder>,
        C: Fn(&HttpResponse) -> Verdict,
        R: FnMut() -> F,
        F: std::future::Future<Output = Result<Option<T>>>,
    {
        let started = Instant::now();
        let deadline = started + self.retry.get_timeout();
        let mut retry: u32 = 0;
        // Whether an earlier attempt may have been applied by the server.
        let mut uncertain = false;
        let unknown = |e: Error, uncertain: bool| {
            if uncertain {
                e.with_context(
                    "outcome",
                    "unknown: an earlier attempt may have been applied by the server",
                )
            } else {
                e
            }
        };
        loop {
            let now = Instant::now();
            let remaining = deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                return Err(unknown(
                    self.timed_out(op, self.retry.get_timeout(), retry),
                    uncertain,
                ));
            }
            let checked = if uncertain {
                match recheck().await {
                    Ok(Some(found)) => {
                        tracing::info!(
                            channel = %self.name,
                            op,
                            attempt = retry + 1,
                            "an earlier attempt had been applied: not sending again"
                        );
                        return Ok(Sent::Found(found));
                    }
                    Ok(None) => None,
                    Err(e) if e.is_temporary() => Some(e),
                    Err(e) => return Err(unknown(e.with_context("attempts", retry), true)),
                }
            } else {
                None
            };
            let (err, retry_after) = match checked {
                Some(e) => (e, None),
                None => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(unknown(
                            self.timed_out(op, self.retry.get_timeout(), retry),
                            uncertain,
                        ));
                    }
                    let attempt_budget = remaining.min(self.retry.get_attempt_timeout());
                    match self
                        .attempt(op, &build, &classify, attempt_budget, retry)
                        .await
                    {
                        Ok(resp) => return Ok(Sent::Response(resp)),
                        Err(Failed::Permanent(e)) => return Err(unknown(e, uncertain)),
                        Err(Failed::Temporary {
                            error,
                            retry_after,
                            may_have_reached,
                        }) => {
                            uncertain |= may_have_reached;
                            (error, retry_after)
                        }
                    }
                }
            };
            if !err.is_temporary() || retry >= self.retry.get_max_retries() {
                return Err(unknown(err.with_context("attempts", retry + 1), uncertain));
            }
            let wait = self.retry.wait_before_retry(retry, retry_after);
            if Instant::now() + wait >= deadline {
                return Err(unknown(
                    err.with_context("attempts", retry + 1).with_context(
                        "gave_up",
                        format!(
                            "waiting {} more would exceed the {} budget",
                            humantime::format_duration(wait),
                            humantime::format_duration(self.retry.get_timeout())
                        ),
                    ),
                    uncertain,
                ));
            }
            tracing::warn!(
                channel = %self.name,
                op,
                attempt = retry + 1,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %err,
                "delivery failed, retrying"
            );
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    /// One attempt within `budget`: the response when `classify` accepts it, else why not.
    async fn attempt<B, C>(
        &self,
        op: &'static str,
        build: &B,
        classify: &C,
        budget: Duration,
        retry: u32,
    ) -> std::result::Result<HttpResponse, Failed>
    where
        B: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder>,
        C: Fn(&HttpResponse) -> Verdict,
    {
        let request = build(&self.client).map_err(Failed::Permanent)?;
        let attempt = async {
            let resp = request.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(HttpResponse {
                status,
                headers,
                body,
            })
        };
        let (error, retry_after, may_have_reached) = match tokio::time::timeout(budget, attempt)
            .await
        {
            // The request may have been sent and applied; only its answer is missing.
            Err(_) => (
                self.error(
                    ErrorKind::TimedOut,
                    op,
                    &format!("no response within {}", humantime::format_duration(budget)),
                )
                .temporary(),
                None,
                true,
            ),
            Ok(Err(e)) => {
                // A refused or failed connection never carried the request.
                let reached = !e.is_connect() && !e.is_builder();
                (self.transport_error(op, e), None, reached)
            }
            Ok(Ok(resp)) => {
                tracing::debug!(channel = %self.name, op, status = resp.status.as_u16(), attempt = retry + 1, "response");
                match classify(&resp) {
                    Verdict::Done => return Ok(resp),
                    Verdict::Fail(e) => return Err(Failed::Permanent(e)),
                    // A 5xx may come from a proxy whose backend did the work; 408, 429 and
                    // rate limits say that the request was not processed.
                    Verdict::RetryIn(e, wait) => (e, Some(wait), resp.status.is_server_error()),
                    Verdict::Retry(e) => {
                        let ra = resp
                            .headers
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, SystemTime::now()));
                        (e, ra, resp.status.is_server_error())
                    }
                }
            }
        };
        if error.is_temporary() {
            Err(Failed::Temporary {
                error,
                retry_after,
                may_have_reached,
            })
        } else {
            Err(Failed::Permanent(error.with_context("attempts", retry + 1)))
        }
    }

    fn timed_out(&self, op: &'static str, budget: Duration, retries: u32) -> Error {
        self.error(
            ErrorKind::TimedOut,
            op,
            &format!(
                "not delivered within the {} budget",
                humantime::format_duration(budget)
            ),
        )
        .temporary()
        .with_context("attempts", retries + 1)
    }

    /// Maps a transport error; the URL (a secret for webhooks) is stripped first.
    pub(crate) fn transport_error(&self, op: &'static str, e: reqwest::Error) -> Error {
        let (kind, temporary, what) = if e.is_builder() {
            (
                ErrorKind::InvalidInput,
                false,
                "could not build the request (check the configured URL)",
            )
        } else if e.is_connect() {
            (ErrorKind::Unavailable, true, "could not connect")
        } else if e.is_timeout() {
            (ErrorKind::TimedOut, true, "timed out")
        } else if e.is_decode() || e.is_body() {
            (ErrorKind::Unavailable, true, "could not read the response")
        } else if e.is_redirect() {
            (ErrorKind::Backend, false, "too many redirects")
        } else {
            (ErrorKind::Unavailable, true, "request failed")
        };
        let chain = crate::error_chain(&e.without_url());
        self.error(kind, op, &format!("{what}: {chain}"))
            .set_temporary(temporary)
    }
}

/// An `Authorization: Bearer …` value, marked sensitive so that it is never printed.
pub(crate) fn bearer(token: &crate::Secret) -> Result<reqwest::header::HeaderValue> {
    let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| {
            Error::invalid_input(
                "the token has characters that are not valid in an HTTP header (visible ASCII \
                 expected)",
            )
        })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Parses a configured base URL (non-secret), with a clear error.
pub(crate) fn parse_url(field: &str, value: &str) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(value).map_err(|e| {
        Error::invalid_input(format!(
            "`{field}` = {value:?} is not a valid URL ({e}): expected e.g. https://host/path"
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(Error::invalid_input(format!(
            "`{field}` = {value:?} has scheme {:?}: expected https (or http for local tests)",
            url.scheme()
        )));
    }
    Ok(url)
}

/// Parses a secret URL; the error never repeats the value.
pub(crate) fn parse_secret_url(field: &str, value: &crate::Secret) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(value.expose()).map_err(|e| {
        Error::invalid_input(format!(
            "the URL in the variable named by `{field}` is not valid ({e}): expected e.g. \
             https://host/path"
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(Error::invalid_input(format!(
            "the URL in the variable named by `{field}` has scheme {:?}: expected https (or http \
             for local tests)",
            url.scheme()
        )));
    }
    Ok(url)
}

/// Appends `segments` to `base`'s path (`https://api/` + `repos/o/r` → `https://api/repos/o/r`).
pub(crate) fn join_path(base: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    url
}
