//! The one error type of the library: a kind, a temporary flag, the backend and operation, context.
//!
//! Backends map their provider's errors to an [`ErrorKind`] and a `temporary` flag in one place
//! (an HTTP status or AWS error-code table); the orchestrator's retry policy reads
//! [`Error::is_temporary`] and nothing else.

use std::borrow::Cow;
use std::fmt;

/// What went wrong, in terms a caller can act on.
///
/// New kinds may be added: match with a wildcard arm.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The caller's input is wrong (flag, config, scenario, request). Nothing was changed.
    InvalidInput,
    /// A named object (release, deployment, version) does not exist.
    NotFound,
    /// Someone else holds what we need (a lock, a newer resource version).
    Conflict,
    /// A gate or precondition did not hold (unhealthy target, incompatible schema, paused rollout).
    PreconditionFailed,
    /// The backend could not be reached or refused service.
    Unavailable,
    /// The operation did not finish within its deadline.
    TimedOut,
    /// The credentials lack a permission.
    PermissionDenied,
    /// The backend does not support the operation (see its `Capabilities`).
    Unsupported,
    /// The run was cancelled by its caller.
    Cancelled,
    /// Any other backend failure.
    Backend,
}

impl ErrorKind {
    /// A stable, lower-case name for the kind (`"not_found"`, …), as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PreconditionFailed => "precondition_failed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Backend => "backend",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every fallible operation in the library.
///
/// ```
/// use rollback_core::{Error, ErrorKind};
/// let err = Error::new(ErrorKind::Unavailable, "metrics backend returned 503")
///     .temporary()
///     .with_backend("prometheus")
///     .with_operation("query")
///     .with_context("query", "error_rate");
/// assert!(err.is_temporary());
/// assert_eq!(err.kind(), ErrorKind::Unavailable);
/// assert!(err.to_string().contains("503"));
/// ```
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    temporary: bool,
    backend: Option<Cow<'static, str>>,
    operation: Option<&'static str>,
    context: Vec<(&'static str, String)>,
    source: Option<Source>,
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A permanent error of `kind` with a message that says what was wrong (and, for bad input,
    /// what is accepted).
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            message: message.into(),
            temporary: false,
            backend: None,
            operation: None,
            context: Vec::new(),
            source: None,
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error naming the operation.
    pub fn unsupported(operation: &'static str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("operation `{operation}` is not supported by this backend"),
        )
        .with_operation(operation)
    }

    /// Marks the error as temporary: retrying the same call may succeed.
    pub fn temporary(mut self) -> Self {
        self.temporary = true;
        self
    }

    /// Sets whether the error is temporary.
    pub fn set_temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Names the backend that produced the error (`"kubernetes"`, `"sim"`, …).
    pub fn with_backend(mut self, backend: impl Into<Cow<'static, str>>) -> Self {
        self.backend = Some(backend.into());
        self
    }

    /// Names the operation that failed (`"set_traffic"`, …).
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Adds a key-value pair of context. Never put a secret here.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        self.context.push((key, value.to_string()));
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying the same call may succeed.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The message, without backend, operation and context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The backend that produced the error, if known.
    pub fn backend(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    /// The operation that failed, if known.
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    /// Key-value context, in the order it was added.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(backend) = &self.backend {
            write!(f, "{backend}: ")?;
        }
        if let Some(op) = self.operation {
            write!(f, "{op}: ")?;
        }
        f.write_str(&self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        if self.temporary {
            f.write_str(" [temporary]")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("temporary", &self.temporary)
            .field("backend", &self.backend)
            .field("operation", &self.operation)
            .field("context", &self.context)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// A serialisable copy of an [`Error`], as stored in reports and journals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorRecord {
    /// The error's kind.
    pub kind: ErrorKind,
    /// Whether it was temporary.
    pub temporary: bool,
    /// The full rendered message (backend, operation, context, source).
    pub message: String,
}

impl From<&Error> for ErrorRecord {
    fn from(e: &Error) -> Self {
        ErrorRecord {
            kind: e.kind,
            temporary: e.temporary,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for ErrorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_operation_and_context() {
        let e = Error::new(ErrorKind::NotFound, "no such release")
            .with_backend("sim")
            .with_operation("revert")
            .with_context("version", "v9.9.9");
        assert_eq!(
            e.to_string(),
            "sim: revert: no such release (version: v9.9.9)"
        );
        assert!(!e.is_temporary());
    }

    #[test]
    fn unsupported_names_the_operation() {
        let e = Error::unsupported("lock");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("`lock`"));
    }
}
