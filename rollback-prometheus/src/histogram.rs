//! The `le` labels of a `LatencyHistogram` answer: checked and converted to milliseconds.

use rollback_core::{Error, ErrorKind, Result, Series};

use crate::config::LatencyUnit;

/// Rewrites the `le` label of every series from `unit` to milliseconds (`0.25` s → `250`;
/// `+Inf` stays `+Inf`), in the shortest text that reads back as the same number.
///
/// A series without `le`, or with an `le` that is not a non-negative number or `+Inf`, is an
/// [`ErrorKind::InvalidInput`] error naming the labels, the value and what is expected: the
/// template does not return a histogram's buckets. `query` and `promql` go into its context.
pub(crate) fn le_to_millis(
    series: Vec<Series>,
    unit: LatencyUnit,
    query: &str,
    promql: &str,
) -> Result<Vec<Series>> {
    let invalid = |message: String| {
        Error::new(ErrorKind::InvalidInput, message)
            .with_backend("prometheus")
            .with_operation("query")
            .with_context("query", query)
            .with_context("promql", promql)
    };
    series
        .into_iter()
        .map(|mut s| {
            let Some(le) = s.labels.get("le") else {
                return Err(invalid(format!(
                    "latency histogram series without an `le` label (labels: {:?}): expected one \
                     series per bucket bound labelled `le`, as the `…_bucket{{…}}` counters of \
                     a Prometheus histogram are",
                    s.labels
                )));
            };
            let Some(ms) = bound_in_millis(le, unit) else {
                return Err(invalid(format!(
                    "latency histogram series labelled le = {le:?} (labels: {:?}): expected a \
                     non-negative number of {unit} (metrics.latency_unit = \"{unit}\") or +Inf",
                    s.labels
                )));
            };
            s.labels.insert("le".into(), ms);
            Ok(s)
        })
        .collect()
}

/// One bucket bound in `unit` as milliseconds, or `None` if it is not a non-negative decimal
/// number (optionally with an exponent) or `+Inf`.
///
/// The decimal point is moved in the text (`0.25` → `0.25e3`) before the number is parsed, so
/// the result is the double nearest to the exact bound: `0.005` s is `5`, never
/// `5.000000000000001`.
pub(crate) fn bound_in_millis(le: &str, unit: LatencyUnit) -> Option<String> {
    let le = le.trim();
    if matches!(le, "+Inf" | "Inf" | "+inf" | "inf") {
        return Some("+Inf".into());
    }
    let (mantissa, exponent) = match le.find(['e', 'E']) {
        Some(i) => (&le[..i], le[i + 1..].parse::<i32>().ok()?),
        None => (le, 0),
    };
    let digits = mantissa.strip_prefix('+').unwrap_or(mantissa);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let exponent = exponent.checked_add(unit.millis_exponent())?;
    let ms = format!("{digits}e{exponent}").parse::<f64>().ok()?;
    ms.is_finite().then(|| format!("{ms}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollback_core::Sample;

    fn series(labels: &[(&str, &str)]) -> Series {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let mut s = Series::new(vec![Sample { at, value: 4.0 }]);
        for (k, v) in labels {
            s = s.with_label(*k, *v);
        }
        s
    }

    #[test]
    fn seconds_become_milliseconds_exactly() {
        let ms = |le| bound_in_millis(le, LatencyUnit::Seconds);
        for (le, expected) in [
            ("0.005", "5"),
            ("0.01", "10"),
            ("0.025", "25"),
            ("0.05", "50"),
            ("0.1", "100"),
            ("0.25", "250"),
            ("0.5", "500"),
            ("1", "1000"),
            ("1.0", "1000"),
            ("2.5", "2500"),
            ("10", "10000"),
            ("0.0625", "62.5"),
            // 0.0041 * 1000.0 and 0.0082 * 1000.0 are 4.1000000000000005 and 8.200000000000001
            // in floating point; moving the decimal point first gives the exact bound.
            ("0.0041", "4.1"),
            ("0.0082", "8.2"),
            ("0.0001", "0.1"),
            ("1e-05", "0.01"),
            ("2.5E+1", "25000"),
            (".5", "500"),
            ("+0.3", "300"),
            ("0", "0"),
            (" 0.25 ", "250"),
            ("+Inf", "+Inf"),
            ("Inf", "+Inf"),
        ] {
            assert_eq!(ms(le).as_deref(), Some(expected), "le = {le:?}");
        }
    }

    #[test]
    fn milliseconds_are_kept_in_canonical_form() {
        let ms = |le| bound_in_millis(le, LatencyUnit::Milliseconds);
        assert_eq!(ms("250").as_deref(), Some("250"));
        assert_eq!(ms("250.0").as_deref(), Some("250"));
        assert_eq!(ms("62.5").as_deref(), Some("62.5"));
        assert_eq!(ms("1e3").as_deref(), Some("1000"));
        assert_eq!(ms("+Inf").as_deref(), Some("+Inf"));
    }

    #[test]
    fn bounds_that_are_not_non_negative_numbers_are_rejected() {
        for le in [
            "",
            " ",
            "abc",
            "-0.5",
            "-Inf",
            "NaN",
            "nan",
            "infinity",
            "0x10",
            "1,5",
            "1.2.3",
            "1e",
            "e3",
            ".",
            "+",
            "1e99999999999",
            "1e400",
            "5s",
            "0.25 s",
        ] {
            assert_eq!(
                bound_in_millis(le, LatencyUnit::Seconds),
                None,
                "le = {le:?}"
            );
        }
    }

    #[test]
    fn le_labels_are_rewritten_and_other_labels_kept() {
        let out = le_to_millis(
            vec![
                series(&[("le", "0.25"), ("instance", "a")]),
                series(&[("le", "+Inf")]),
            ],
            LatencyUnit::Seconds,
            "latency_histogram",
            "q",
        )
        .expect("valid buckets");
        assert_eq!(out[0].labels["le"], "250");
        assert_eq!(out[0].labels["instance"], "a");
        assert_eq!(out[0].samples[0].value, 4.0);
        assert_eq!(out[1].labels["le"], "+Inf");
    }

    #[test]
    fn a_series_without_le_is_invalid_input_saying_what_is_expected() {
        let err = le_to_millis(
            vec![series(&[("le", "0.1")]), series(&[("code", "200")])],
            LatencyUnit::Seconds,
            "latency_histogram",
            "sum(x)",
        )
        .expect_err("no le");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.is_temporary());
        let msg = err.to_string();
        assert!(msg.contains("without an `le` label"), "{msg}");
        assert!(msg.contains("\"code\": \"200\""), "{msg}");
        assert!(msg.contains("`…_bucket{…}` counters"), "{msg}");
        assert!(
            msg.contains("sum(x)"),
            "the PromQL is in the context: {msg}"
        );
    }

    #[test]
    fn an_unparsable_le_is_invalid_input_naming_the_value_and_the_unit() {
        let err = le_to_millis(
            vec![series(&[("le", "fast")])],
            LatencyUnit::Milliseconds,
            "latency_histogram",
            "q",
        )
        .expect_err("not a number");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains("le = \"fast\""), "{msg}");
        assert!(msg.contains("non-negative number of milliseconds"), "{msg}");
        assert!(msg.contains("+Inf"), "{msg}");
    }

    #[test]
    fn converted_series_parse_as_a_core_latency_histogram() {
        let les = ["0.05", "0.1", "0.25", "+Inf"];
        let counts = [10.0, 30.0, 50.0, 60.0];
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let raw = les
            .iter()
            .zip(counts)
            .map(|(le, c)| Series::new(vec![Sample { at, value: c }]).with_label("le", *le))
            .collect();
        let out = le_to_millis(raw, LatencyUnit::Seconds, "latency_histogram", "q")
            .expect("valid buckets");
        let steps = rollback_core::sequential::LatencyHistogram::from_series(&out)
            .expect("a core histogram");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].0, at);
        assert_eq!(
            steps[0].1.buckets,
            [(50.0, 10), (100.0, 30), (250.0, 50), (f64::INFINITY, 60)]
        );
    }
}
