//! Scrubs secrets out of text the tool did not write (log lines, event messages) before it goes
//! into reports, exports or notifications.
//!
//! It masks the value after a secret-looking key (`password=`, `token: `, `api_key=`,
//! `Authorization: Bearer …`, `secret=`, …), credentials in URLs (`https://user:pass@host`), and
//! AWS access key ids. It is a safety net, not a guarantee: services should not log secrets.

const KEYS: [&str; 12] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "authorization",
    "private_key",
    "client_secret",
];

/// The mask that replaces a secret.
pub const MASK: &str = "[REDACTED]";

/// Returns `line` with secrets masked.
///
/// ```
/// use rollback_core::redact::scrub;
/// assert_eq!(scrub("login ok password=hunter2 user=bob"), "login ok password=[REDACTED] user=bob");
/// assert_eq!(scrub("Authorization: Bearer eyJhbGciOi.x.y"), "Authorization: Bearer [REDACTED]");
/// assert_eq!(scrub("GET https://admin:s3cret@db.internal/x"), "GET https://admin:[REDACTED]@db.internal/x");
/// assert_eq!(scrub("key AKIAIOSFODNN7EXAMPLE used"), "key [REDACTED] used");
/// assert_eq!(scrub("took 42ms"), "took 42ms");
/// ```
pub fn scrub(line: &str) -> String {
    let mut out = scrub_keys(line);
    out = scrub_url_passwords(&out);
    scrub_aws_keys(&out)
}

fn is_value_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | '&' | '"' | '\'' | ')' | '}' | ']')
}

fn scrub_keys(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let bytes = line.as_bytes();
    while i < line.len() {
        let hit = KEYS.iter().find(|k| {
            lower[i..].starts_with(*k)
                && (i == 0 || !(bytes[i - 1] as char).is_ascii_alphanumeric())
        });
        let Some(key) = hit else {
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        // Key, optional quote, separator (= or :), spaces, optional quote / scheme word.
        let mut j = i + key.len();
        let rest = &line[j..];
        let skip = rest.len() - rest.trim_start_matches(['"', '\'', ' ']).len();
        j += skip;
        let rest = &line[j..];
        let Some(sep) = rest.chars().next().filter(|c| *c == '=' || *c == ':') else {
            out.push_str(&line[i..j]);
            i = j;
            continue;
        };
        j += sep.len_utf8();
        let rest = &line[j..];
        j += rest.len() - rest.trim_start_matches([' ', '"', '\'']).len();
        // `Authorization: Bearer xyz` / `Basic xyz`: keep the scheme, mask the credential.
        for scheme in ["bearer ", "basic ", "token "] {
            if lower[j..].starts_with(scheme) {
                j += scheme.len();
            }
        }
        let end = line[j..].find(is_value_end).map_or(line.len(), |e| j + e);
        out.push_str(&line[i..j]);
        if end > j {
            out.push_str(MASK);
        }
        i = end;
    }
    out
}

fn scrub_url_passwords(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let auth_end = tail.find(is_value_end).unwrap_or(tail.len());
        let authority = &tail[..auth_end];
        match (authority.find('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at && !authority[..at].contains('/') => {
                out.push_str(&tail[..colon + 1]);
                out.push_str(MASK);
                rest = &tail[at..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

fn scrub_aws_keys(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let r = &line[i..];
        let prefix_ok = (r.starts_with("AKIA") || r.starts_with("ASIA"))
            && (i == 0 || !line.as_bytes()[i - 1].is_ascii_alphanumeric());
        if prefix_ok
            && r.len() >= 20
            && r.as_bytes()[..20]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && r.as_bytes()
                .get(20)
                .is_none_or(|b| !b.is_ascii_alphanumeric())
        {
            out.push_str(MASK);
            i += 20;
            continue;
        }
        let c = r.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_header_forms_are_masked() {
        assert_eq!(
            scrub(r#"{"password":"p4ss","user":"x"}"#),
            r#"{"password":"[REDACTED]","user":"x"}"#
        );
        assert_eq!(scrub("x-api-key: abc123"), "x-api-key: [REDACTED]");
        assert_eq!(scrub("db_password = 'pw'"), "db_password = '[REDACTED]'");
    }

    #[test]
    fn ordinary_lines_are_left_alone() {
        for l in [
            "2024-01-15T14:27:03.412Z ERROR [api] GET /users 500 45ms",
            "at CacheService.set (/app/src/services/cache.service.ts:156:12)",
            "tokens processed: 12", // `tokens` is not `token` followed by a separator
            "http://db.internal:5432/app",
        ] {
            assert_eq!(scrub(l), l);
        }
    }
}
