//! Secrets (webhook URLs, tokens, routing keys, passwords) in a type that never prints them.

use std::fmt;

use rollback_core::Error;
use zeroize::Zeroize;

/// A secret value: a webhook URL, an API token, a routing key, a password.
///
/// `Debug` and `Display` print `Secret(***)`; the value is only reachable through
/// [`Secret::expose`], and its memory is zeroed on drop. It deliberately implements neither
/// `Serialize` nor `Clone`-into-`String`, so it cannot end up in a report by accident.
///
/// ```
/// use rollback_notify::Secret;
/// let s = Secret::new("xoxb-very-secret");
/// assert_eq!(format!("{s:?}"), "Secret(***)");
/// assert_eq!(s.expose(), "xoxb-very-secret");
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
    /// `field` names the config field that named the variable (`token_env`), for the error.
    /// A missing, empty or non-UTF-8 variable is an [`rollback_core::ErrorKind::InvalidInput`]
    /// error that names the variable, never its value.
    pub fn from_env(var: &str, field: &str) -> Result<Self, Error> {
        Self::from_lookup(var, field, &|name| std::env::var(name).ok())
    }

    /// Like [`Secret::from_env`], with a custom variable lookup (for tests and embedding).
    pub fn from_lookup(var: &str, field: &str, lookup: &EnvLookup<'_>) -> Result<Self, Error> {
        if var.is_empty() {
            return Err(Error::invalid_input(format!(
                "`{field}` is empty: expected the name of an environment variable that holds the \
                 secret"
            )));
        }
        match lookup(var) {
            Some(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_owned())),
            Some(_) => Err(Error::invalid_input(format!(
                "environment variable {var} (named by `{field}`) is empty: expected the secret"
            ))),
            None => Err(Error::invalid_input(format!(
                "environment variable {var} (named by `{field}`) is not set (or not UTF-8): set \
                 it to the secret, or change `{field}`"
            ))),
        }
    }

    /// The secret value. Never log, format into an error, or serialise it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Looks up an environment variable by name; `None` when unset.
pub type EnvLookup<'a> = dyn Fn(&str) -> Option<String> + Send + Sync + 'a;

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of known secrets in text that came from outside (response bodies,
/// transport errors) before it goes into an error or a log line.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Secret>,
}

impl Redactor {
    /// A redactor for `secrets` (and, for URLs, their path and query too).
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut out = Vec::new();
        for s in secrets {
            let v = s.expose();
            if v.len() >= 4 {
                out.push(s.clone());
            }
            // A URL's path and query are the secret part (`/services/T0/B0/XXXX`); a server may
            // echo just those.
            if let Some(rest) = v.split_once("://").map(|(_, r)| r) {
                if let Some(i) = rest.find('/') {
                    let path = &rest[i..];
                    if path.len() > 8 {
                        out.push(Secret::new(path));
                    }
                }
            }
        }
        // Longest first, so a URL is replaced before its path.
        out.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        Redactor { secrets: out }
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut t = text.to_owned();
        for s in &self.secrets {
            if t.contains(s.expose()) {
                t = t.replace(s.expose(), "***");
            }
        }
        t
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-distinctive");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }

    #[test]
    fn missing_variable_error_names_variable_not_value() {
        let err = Secret::from_lookup("SLACK_BOT_TOKEN", "token_env", &|_| None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("SLACK_BOT_TOKEN"), "{msg}");
        assert!(msg.contains("token_env"), "{msg}");
    }

    #[test]
    fn empty_variable_is_rejected() {
        let err = Secret::from_lookup("X", "token_env", &|_| Some("  ".into())).unwrap_err();
        assert!(err.to_string().contains("is empty"));
    }

    #[test]
    fn redactor_hides_url_and_its_path() {
        let url = Secret::new("https://hooks.example/services/T000/B000/abcdefSECRET");
        let r = Redactor::new([&url]);
        let out = r.redact(
            "POST https://hooks.example/services/T000/B000/abcdefSECRET failed; path \
             /services/T000/B000/abcdefSECRET",
        );
        assert!(!out.contains("abcdefSECRET"), "{out}");
    }
}
