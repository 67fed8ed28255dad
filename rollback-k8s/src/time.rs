//! Kubernetes timestamps as chrono times.

use chrono::{DateTime, Utc};
use k8s_openapi::jiff::Timestamp;

/// The instant inside a `Time` or `MicroTime` (`t.0`); `None` outside chrono's range.
pub(crate) fn to_chrono(ts: &Timestamp) -> Option<DateTime<Utc>> {
    // jiff keeps a negative sub-second part for instants before 1970; chrono wants it positive.
    let (secs, nanos) = match ts.subsec_nanosecond() {
        n if n < 0 => (ts.as_second() - 1, (n + 1_000_000_000) as u32),
        n => (ts.as_second(), n as u32),
    };
    DateTime::<Utc>::from_timestamp(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_keep_their_nanoseconds_on_both_sides_of_1970() {
        for (secs, nanos) in [(1_700_000_000i64, 5_000i32), (0, 0), (-2, 250_000_000)] {
            let ts = Timestamp::new(secs, nanos).unwrap();
            let want = DateTime::<Utc>::from_timestamp(secs, nanos as u32).unwrap();
            assert_eq!(to_chrono(&ts), Some(want), "{secs}.{nanos}");
        }
    }
}
