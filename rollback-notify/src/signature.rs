//! HMAC-SHA256 signatures of webhook deliveries, and their verification for receivers.
//!
//! # How a receiver verifies a delivery
//!
//! Every request carries two headers:
//!
//! - `X-Signature-Timestamp`: the Unix time (seconds) at which it was signed;
//! - `X-Signature`: `sha256=` followed by the lower-case hex HMAC-SHA256, keyed with the shared
//!   secret, of `timestamp + "." + body` (the raw request body bytes, before any JSON parsing).
//!
//! To accept a request:
//!
//! 1. read the raw body and both headers;
//! 2. reject it if the timestamp is not an integer or is more than 5 minutes
//!    ([`DEFAULT_TOLERANCE`]) away from your clock: this is the replay protection, and it is
//!    why the timestamp is inside the signed text;
//! 3. compute the HMAC over `timestamp + "." + body` and compare it with the header **in
//!    constant time** (never with `==` on strings);
//! 4. optionally remember `(timestamp, signature)` pairs for the tolerance window and reject
//!    repeats, which closes the window entirely.
//!
//! Receivers written in Rust call [`verify_signature`]:
//!
//! ```
//! use std::time::Duration;
//! use rollback_notify::{sign, verify_signature, DEFAULT_TOLERANCE};
//! let body = br#"{"run_id":"r1"}"#;
//! let ts = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
//! let header = sign(b"shared-secret", &ts, body);
//! assert!(verify_signature(b"shared-secret", &ts, body, &header, DEFAULT_TOLERANCE).is_ok());
//! assert!(verify_signature(b"wrong-secret", &ts, body, &header, DEFAULT_TOLERANCE).is_err());
//! ```
//!
//! In a shell, for a quick check:
//! `printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET"`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the signature (`sha256=<hex>`).
pub const SIGNATURE_HEADER: &str = "X-Signature";
/// The header with the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";
/// The recommended window for accepting a timestamp: 5 minutes either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

const PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The timestamp header is not a Unix time in seconds.
    BadTimestamp,
    /// The timestamp is further from now than the tolerance (a replay or a skewed clock).
    Expired {
        /// How far the timestamp is from now, in seconds.
        skew_secs: u64,
    },
    /// The signature header is not `sha256=` followed by 64 hex digits.
    Malformed,
    /// The signature does not match the body, timestamp and secret.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::BadTimestamp => f.write_str("timestamp is not a Unix time in seconds"),
            SignatureError::Expired { skew_secs } => write!(
                f,
                "timestamp is {skew_secs}s away from now, outside the accepted window"
            ),
            SignatureError::Malformed => {
                f.write_str("signature is not `sha256=` followed by 64 hex digits")
            }
            SignatureError::Mismatch => f.write_str("signature does not match"),
        }
    }
}

impl std::error::Error for SignatureError {}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Signature` value for `body` signed at `timestamp`: `sha256=<hex>`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Verifies a delivery against the current time; see the module docs for the procedure.
pub fn verify_signature(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    verify_signature_at(
        secret,
        timestamp,
        body,
        signature,
        tolerance,
        SystemTime::now(),
    )
}

/// [`verify_signature`] with an explicit "now".
pub fn verify_signature_at(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), SignatureError> {
    let ts: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| SignatureError::BadTimestamp)?
        .as_secs();
    let skew = now.abs_diff(ts);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::Expired { skew_secs: skew });
    }
    let hex = signature
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let tag = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    mac(secret, timestamp.trim(), body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac 'k'
        let s = sign(b"k", "1700000000", b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64, "{s}");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
        assert_eq!(
            verify_signature_at(b"k", "1700000000", b"{}", &s, DEFAULT_TOLERANCE, now),
            Ok(())
        );
    }

    #[test]
    fn old_timestamps_are_rejected_as_replays() {
        let s = sign(b"k", "1700000000", b"{}");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 301);
        assert_eq!(
            verify_signature_at(b"k", "1700000000", b"{}", &s, DEFAULT_TOLERANCE, now),
            Err(SignatureError::Expired { skew_secs: 301 })
        );
    }

    #[test]
    fn tampered_body_or_timestamp_is_a_mismatch() {
        let s = sign(b"k", "1700000000", b"{}");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            verify_signature_at(b"k", "1700000000", b"{ }", &s, DEFAULT_TOLERANCE, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature_at(b"k", "1700000001", b"{}", &s, DEFAULT_TOLERANCE, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature_at(b"k", "1700000000", b"{}", "sha1=00", DEFAULT_TOLERANCE, now),
            Err(SignatureError::Malformed)
        );
    }
}
