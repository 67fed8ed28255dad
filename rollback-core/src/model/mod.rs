//! The data model: targets, versions, releases, traffic, health, metrics, evidence, findings.

pub mod check;
pub mod event;
pub mod evidence;
pub mod finding;
pub mod health;
pub mod metric;
pub mod release;
pub mod target;
pub mod traffic;
pub mod version;

/// Serde for `Duration` as human-readable text (`"10s"`, `"1m 30s"`), used in config files.
pub mod duration_serde {
    pub use humantime_serde::{deserialize, serialize};
}

/// Serde for `Duration` as whole milliseconds, used in reports.
pub mod duration_ms {
    use std::time::Duration;

    /// Serialises as milliseconds.
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Deserialises from milliseconds.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = <u64 as serde::Deserialize>::deserialize(d)?;
        Ok(Duration::from_millis(ms))
    }
}
