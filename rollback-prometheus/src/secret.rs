//! Credentials for Prometheus (bearer token, basic-auth password) held so that they never leak.

use std::fmt;

use rollback_core::{Error, ErrorKind, Result};

/// A secret string (a token or a password).
///
/// It has no `Display`, its `Debug` prints `Secret(***)`, and it is never serialised. The only
/// way to read it is [`Secret::expose`], which this crate calls once per request, to build the
/// `Authorization` header (marked sensitive, so the HTTP stack does not log it either).
///
/// ```
/// use rollback_prometheus::Secret;
/// let token = Secret::new("s3cr3t-token");
/// assert_eq!(format!("{token:?}"), "Secret(***)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads the secret from the environment variable `var`.
    ///
    /// Fails with [`ErrorKind::InvalidInput`] naming the variable (never its value) when it is
    /// unset, empty or not valid Unicode.
    pub fn from_env(var: &str, what: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret(v)),
            Ok(_) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "environment variable {var} (named by {what}) is empty: \
                     expected it to hold the secret"
                ),
            )
            .with_backend("prometheus")),
            Err(std::env::VarError::NotPresent) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "environment variable {var} (named by {what}) is not set: \
                     expected it to hold the secret"
                ),
            )
            .with_backend("prometheus")),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "environment variable {var} (named by {what}) is not valid UTF-8: \
                     expected a UTF-8 secret"
                ),
            )
            .with_backend("prometheus")),
        }
    }

    /// The secret value. Use it only to authenticate a request; never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How requests to Prometheus authenticate.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// HTTP basic authentication.
    Basic {
        /// The user name (not a secret; it may appear in errors).
        username: String,
        /// The password.
        password: Secret,
    },
}

impl Auth {
    /// The secret values, for scrubbing text that comes back from the server.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::Bearer(t) => vec![t.expose()],
            Auth::Basic { password, .. } => vec![password.expose()],
        }
    }

    /// A short name of the scheme, for Debug output and errors.
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Auth::Bearer(_) => "bearer",
            Auth::Basic { .. } => "basic",
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"***")
                .finish(),
        }
    }
}

/// Replaces every occurrence of the secrets in `text` with `***`.
///
/// Used on text we did not write (Prometheus's and proxies' error bodies), in case a server
/// echoes a header back.
pub(crate) fn scrub(text: &str, auth: Option<&Auth>) -> String {
    let mut out = text.to_string();
    if let Some(auth) = auth {
        for s in auth.secrets() {
            if !s.is_empty() {
                out = out.replace(s, "***");
            }
        }
        // A basic-auth header carries `user:password` in base64; scrub that encoding too.
        if let Auth::Basic { username, password } = auth {
            let encoded = base64(format!("{username}:{}", password.expose()).as_bytes());
            out = out.replace(&encoded, "***");
        }
    }
    out
}

/// Standard base64 with padding (only used to recognise an echoed basic-auth header).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_secret_and_auth_hides_the_value() {
        let token = Secret::new("tok-123");
        assert!(!format!("{token:?}").contains("tok-123"));
        let auth = Auth::Basic {
            username: "ops".into(),
            password: Secret::new("pw-456"),
        };
        let dbg = format!("{auth:?}");
        assert!(dbg.contains("ops"));
        assert!(!dbg.contains("pw-456"));
        assert!(!format!("{:?}", Auth::Bearer(token)).contains("tok-123"));
    }

    #[test]
    fn scrub_removes_plain_and_base64_encoded_secrets() {
        let auth = Auth::Basic {
            username: "Aladdin".into(),
            password: Secret::new("open sesame"),
        };
        let text = "echo: open sesame / Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
        assert_eq!(scrub(text, Some(&auth)), "echo: *** / Basic ***");
    }

    #[test]
    fn missing_env_var_error_names_the_variable() {
        let err = Secret::from_env("ROLLBACK_PROM_TEST_SURELY_UNSET", "auth.token_env")
            .expect_err("unset variable");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("ROLLBACK_PROM_TEST_SURELY_UNSET"));
        assert!(err.to_string().contains("auth.token_env"));
    }
}
