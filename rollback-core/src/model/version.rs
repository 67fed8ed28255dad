//! Release versions with semver-aware ordering.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::error::Error;

/// A release version as the platform names it (`v1.2.9`, `1.3.0-rc.1`, `rev-42`, an image tag).
///
/// Versions that parse as semver (an optional leading `v`, and `1.2` taken as `1.2.0`) order by
/// semver precedence; others order "naturally" (digit runs compared as numbers, so `rev-10` >
/// `rev-9`); a semver version sorts after a non-semver one. Equality follows ordering, so
/// `v1.2.9 == 1.2.9`. The original spelling is kept for display.
///
/// ```
/// use rollback_core::Version;
/// let a: Version = "v1.2.9".parse().unwrap();
/// let b: Version = "1.10.0".parse().unwrap();
/// assert!(a < b);
/// assert_eq!(a, "1.2.9".parse::<Version>().unwrap());
/// assert_eq!(a.to_string(), "v1.2.9");
/// ```
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    raw: String,
    semver: Option<semver::Version>,
}

impl Version {
    /// Parses a version; fails only on an empty string or one with whitespace or control
    /// characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        s.parse()
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The semver reading of the version, if it has one.
    pub fn semver(&self) -> Option<&semver::Version> {
        self.semver.as_ref()
    }
}

fn parse_semver(s: &str) -> Option<semver::Version> {
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    // `1.2` → `1.2.0` (only plain numeric major.minor).
    let mut parts = s.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(semver::Version::new(
        major.parse().ok()?,
        minor.parse().ok()?,
        0,
    ))
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Err(Error::invalid_input(
                "version is empty: expected e.g. `v1.2.9`, `1.2.9` or a revision name",
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid_input(format!(
                "version {s:?} contains whitespace or control characters: expected e.g. `v1.2.9`"
            )));
        }
        Ok(Version {
            raw: s.to_owned(),
            semver: parse_semver(s),
        })
    }
}

impl TryFrom<String> for Version {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.raw
    }
}

/// Compares digit runs numerically and everything else byte-wise.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let la = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let lb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (&a[..la], &b[..lb]);
                let ta = trim_zeros(da);
                let tb = trim_zeros(db);
                let ord = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[la..];
                b = &b[lb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|c| **c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.semver, &other.semver) {
            (Some(a), Some(b)) => a.cmp_precedence(b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => natural_cmp(&self.raw, &other.raw),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.semver {
            Some(v) => {
                (v.major, v.minor, v.patch).hash(state);
                v.pre.as_str().hash(state);
            }
            None => {
                // Consistent with natural ordering: digit runs hashed without leading zeros.
                let mut rest = self.raw.as_bytes();
                while let Some(&c) = rest.first() {
                    if c.is_ascii_digit() {
                        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                        trim_zeros(&rest[..n]).hash(state);
                        rest = &rest[n..];
                    } else {
                        c.hash(state);
                        rest = &rest[1..];
                    }
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn semver_orders_by_precedence_not_text() {
        assert!(v("v1.2.9") < v("v1.3.0"));
        assert!(v("1.9.0") < v("1.10.0"));
        assert!(v("1.3.0-rc.1") < v("1.3.0"));
        assert_eq!(v("v1.2"), v("1.2.0"));
    }

    #[test]
    fn non_semver_orders_naturally() {
        assert!(v("rev-9") < v("rev-10"));
        assert!(v("build007") == v("build7"));
        assert!(v("abc") < v("v1.0.0"));
    }

    #[test]
    fn rejects_empty_and_whitespace() {
        assert!("".parse::<Version>().is_err());
        assert!("1.2 .3".parse::<Version>().is_err());
    }

    #[test]
    fn equal_versions_hash_equal() {
        use std::collections::HashSet;
        let set: HashSet<Version> = [v("v1.2.9"), v("1.2.9"), v("rev-07"), v("rev-7")]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
    }
}
