//! The one table from Prometheus failures (HTTP status, API `errorType`, transport errors) to
//! [`ErrorKind`] and the `temporary` flag.

use std::time::Duration;

use reqwest::StatusCode;
use rollback_core::{Error, ErrorKind};

use crate::secret::{scrub, Auth};

/// Something that went wrong talking to Prometheus, before it is mapped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request did not complete (connect, timeout, body read).
    Transport(reqwest::Error),
    /// An answer that says the query failed: a non-2xx status, or `"status": "error"`.
    /// `error_type` and `error` are Prometheus's own, when the body was an API answer.
    Api {
        status: StatusCode,
        error_type: Option<String>,
        error: Option<String>,
        /// The start of a body that was not an API answer (a proxy's error page).
        body: Option<String>,
    },
    /// A 2xx answer that is not a valid API answer.
    Decode(String),
}

/// Where the failure happened, for the error's message and context.
pub(crate) struct Call<'a> {
    /// The API path (`/api/v1/query_range`).
    pub endpoint: &'static str,
    /// The base URL with any credentials removed.
    pub base_url: &'a str,
    /// What was asked (`error_rate`, `custom:queue`, `promql`).
    pub query: &'a str,
    /// The PromQL sent.
    pub promql: &'a str,
    /// The request deadline.
    pub timeout: Duration,
    /// The credentials, only to scrub them from text the server sent back.
    pub auth: Option<&'a Auth>,
}

/// Maps a failure to the library's error: the single place that decides kind and retryability.
///
/// | failure | kind | temporary |
/// |---|---|---|
/// | `errorType` `bad_data` / `execution`, HTTP 400, 422 | `InvalidInput` (Prometheus's message) | no |
/// | HTTP 401, 403 | `PermissionDenied` | no |
/// | HTTP 3xx, 404 | `InvalidInput` (`url` is not the Prometheus API's address) | no |
/// | `errorType` `timeout`, HTTP 408, 504, request deadline | `TimedOut` | yes |
/// | `errorType` `canceled` / `unavailable` / `internal`, HTTP 429, 5xx, connection errors | `Unavailable` | yes |
/// | a body that is not an API answer, other statuses | `Backend` | no |
///
/// Transport errors are stripped of their URL, and text from the server is scrubbed of the
/// configured secrets, so no credential can reach the message.
pub(crate) fn map_failure(failure: Failure, call: &Call<'_>) -> Error {
    let (kind, temporary, message, source) = match failure {
        Failure::Transport(e) => {
            let e = e.without_url();
            if e.is_timeout() {
                (
                    ErrorKind::TimedOut,
                    true,
                    format!(
                        "Prometheus did not answer within the {} timeout",
                        humantime::format_duration(call.timeout)
                    ),
                    Some(e),
                )
            } else if e.is_connect() {
                (
                    ErrorKind::Unavailable,
                    true,
                    format!("could not connect to Prometheus at {}", call.base_url),
                    Some(e),
                )
            } else {
                (
                    ErrorKind::Unavailable,
                    true,
                    "the request to Prometheus failed".to_string(),
                    Some(e),
                )
            }
        }
        Failure::Api {
            status,
            error_type,
            error,
            body,
        } => {
            let said = match (&error, &body) {
                (Some(e), _) => format!(": {}", scrub(e, call.auth)),
                (None, Some(b)) if !b.trim().is_empty() => {
                    format!(": {}", scrub(b.trim(), call.auth))
                }
                _ => String::new(),
            };
            let code = status.as_u16();
            let (kind, temporary, what) = match (error_type.as_deref(), code) {
                (Some("bad_data" | "execution"), _) | (None, 400 | 422) => (
                    ErrorKind::InvalidInput,
                    false,
                    "Prometheus rejected the query".to_string(),
                ),
                (_, 401) => (
                    ErrorKind::PermissionDenied,
                    false,
                    "Prometheus refused the credentials (401 Unauthorized): check [auth] and the \
                     variable it names"
                        .to_string(),
                ),
                (_, 403) => (
                    ErrorKind::PermissionDenied,
                    false,
                    "Prometheus denied access (403 Forbidden): the credentials lack permission"
                        .to_string(),
                ),
                (_, 300..=399) => (
                    ErrorKind::InvalidInput,
                    false,
                    format!(
                        "Prometheus at {} redirected the request ({status}): expected `url` to be \
                         the final address (check http vs https and the path prefix)",
                        call.base_url
                    ),
                ),
                (_, 404) => (
                    ErrorKind::InvalidInput,
                    false,
                    format!(
                        "no Prometheus API at {}{} (404 Not Found): expected `url` to be the \
                         server's base URL",
                        call.base_url, call.endpoint
                    ),
                ),
                (Some("timeout"), _) | (None, 408 | 504) => (
                    ErrorKind::TimedOut,
                    true,
                    format!("Prometheus timed out evaluating the query ({status})"),
                ),
                (Some("canceled" | "unavailable" | "internal"), _) | (None, 429 | 500..=599) => (
                    ErrorKind::Unavailable,
                    true,
                    format!("Prometheus is unavailable ({status})"),
                ),
                (Some(other), _) => (
                    ErrorKind::Backend,
                    false,
                    format!("Prometheus failed with error type {other:?} ({status})"),
                ),
                (None, _) => (
                    ErrorKind::Backend,
                    false,
                    format!("Prometheus answered with unexpected status {status}"),
                ),
            };
            (kind, temporary, format!("{what}{said}"), None)
        }
        Failure::Decode(detail) => (
            ErrorKind::Backend,
            false,
            format!(
                "the answer is not a Prometheus API response ({}): expected JSON with \
                 `status` and `data`; check that `url` points at Prometheus",
                scrub(&detail, call.auth)
            ),
            None,
        ),
    };
    let mut err = Error::new(kind, message)
        .set_temporary(temporary)
        .with_backend("prometheus")
        .with_operation("query")
        .with_context("endpoint", call.endpoint)
        .with_context("query", call.query)
        .with_context("promql", call.promql);
    if let Some(source) = source {
        err = err.with_source(source);
    }
    err
}
