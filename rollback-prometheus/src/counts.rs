//! Exact per-step counts from counters.
//!
//! The sequential tests of `rollback-core` treat `StatusCodes` and `LatencyHistogram` answers
//! as *counts*: their false-alarm guarantee holds for the number of requests and errors that
//! really happened in each step. PromQL's `increase(x[step])` is not that. It extrapolates the
//! increase between the first and last sample inside the window to the window's full length
//! (a 10 s step over a 15 s scrape interval doubles a count, or answers nothing), and it never
//! counts the first value of a series created inside the window, which is exactly how the
//! first errors of a bad release arrive: a client library creates the `code="500"` child of a
//! counter at its first 500.
//!
//! So the source reads the counters' raw samples (one instant query of the template as a
//! range selector, `<selector>[<span>]`) and counts here:
//!
//! * the increment of a sample is its value minus the series' previous sample;
//! * a value below that is a counter reset (a restarted process): the increment is the value;
//! * a series whose first sample comes after the baseline point (one step before the range)
//!   was created then: the increment is its value (the one case this overcounts is a series
//!   that existed but had no sample in the [`LOOKBACK`] before the baseline point, such as a
//!   target Prometheus only started to scrape inside the range);
//! * the count of the step ending at `t` is the sum of the increments of the samples in
//!   `(t − step, t]`, over the series with the same value of the grouping label.
//!
//! Every scrape is seen, whatever the step: the counts are whole numbers, and only a restart
//! between two scrapes hides what the process counted since the earlier one (no reading of a
//! counter can see those). A step shorter than the scrape interval gives steps of 0 and steps
//! holding a whole scrape's increments. A series that stops being scraped stops answering
//! within 2.5 scrape intervals (`presence`), as a stale series does in a range query.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rollback_core::{Sample, Series};

/// Prometheus's default `--query.lookback-delta`: how far back the read reaches for a series'
/// last sample before the baseline point, and the longest a series stays present after its
/// last sample.
pub(crate) const LOOKBACK: Duration = Duration::minutes(5);

/// A series stays present for this many scrape intervals after its last sample (one missed
/// scrape is not a gap; a target that stopped being scraped is gone within seconds).
const PRESENT_FOR_INTERVALS: i32 = 5;

/// The median spacing of consecutive samples of `series` (its scrape interval), if any has two.
fn scrape_interval<'a>(series: impl IntoIterator<Item = &'a Series>) -> Option<Duration> {
    let mut gaps: Vec<i64> = series
        .into_iter()
        .flat_map(|s| {
            s.samples
                .windows(2)
                .map(|w| (w[1].at - w[0].at).num_milliseconds())
        })
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    let mid = gaps.len() / 2;
    let (_, median, _) = gaps.select_nth_unstable(mid);
    Some(Duration::milliseconds(*median))
}

/// How long a series stays present after its last sample: 2.5 of its scrape intervals (of the
/// whole answer's when it has fewer than two samples), at most [`LOOKBACK`]; the lookback when
/// no interval is known. Prometheus marks the series of a target that disappears stale at its
/// next missed scrape, so a range query stops answering for it at once; the raw samples of a
/// range selector carry no staleness markers, so this is how the counts stop too, rather than
/// answering zeros for five minutes after a release's pods are gone.
fn presence(interval: Option<Duration>) -> Duration {
    interval.map_or(LOOKBACK, |i| (i * PRESENT_FOR_INTERVALS / 2).min(LOOKBACK))
}

/// The points of a range query: `first + k·step` for `k < points`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub first: DateTime<Utc>,
    pub step: Duration,
    pub points: usize,
}

impl Grid {
    /// The last point.
    pub fn last(&self) -> DateTime<Utc> {
        self.first + self.step * (self.points.max(1) as i32 - 1)
    }

    /// The baseline point: one step before the first.
    pub fn baseline(&self) -> DateTime<Utc> {
        self.first - self.step
    }

    /// The length of the range selector that holds every sample the counts need: from a
    /// [`LOOKBACK`] before the baseline point to the last point.
    pub fn span(&self) -> Duration {
        self.last() - self.baseline() + LOOKBACK
    }

    /// The index of the step a sample at `at` (after the baseline point) belongs to: the first
    /// point at or after it.
    fn bin(&self, at: DateTime<Utc>) -> usize {
        let since = (at - self.baseline()).num_milliseconds();
        let step = self.step.num_milliseconds().max(1);
        ((since + step - 1) / step - 1).max(0) as usize
    }

    fn point(&self, k: usize) -> DateTime<Utc> {
        self.first + self.step * k as i32
    }
}

/// Per-step counts of `series` (the raw samples of cumulative counters), summed by the label
/// `by`, at the points of `grid`.
///
/// A point is in the answer for a group when one of its series has a sample at or before it
/// and less than 2.5 scrape intervals old (at most [`LOOKBACK`]; see `presence`) or inside
/// the point's step. Fails with a message naming the offending series when a
/// series lacks `by` or a value is not a counter's (negative, NaN or infinite).
pub(crate) fn per_step(
    mut series: Vec<Series>,
    by: &str,
    grid: &Grid,
) -> Result<Vec<Series>, String> {
    // The group's count and whether it is present, per point.
    let mut groups: BTreeMap<String, Vec<(f64, bool)>> = BTreeMap::new();
    let baseline = grid.baseline();
    for s in &mut series {
        s.samples.sort_by_key(|x| x.at);
    }
    let answer_interval = scrape_interval(&series);
    for s in &mut series {
        let Some(group) = s.labels.get(by) else {
            return Err(format!(
                "series {} has no `{by}` label: the template must select counters that carry it",
                describe(s)
            ));
        };
        if let Some(x) = s
            .samples
            .iter()
            .find(|x| !(x.value.is_finite() && x.value >= 0.0))
        {
            return Err(format!(
                "series {} has the value {} at {}: a counter is a finite number ≥ 0 \
                 (select the counter itself, not a rate or a difference)",
                describe(s),
                x.value,
                x.at.to_rfc3339()
            ));
        }
        let points = groups
            .entry(group.clone())
            .or_insert_with(|| vec![(0.0, false); grid.points]);
        // A step that holds a sample always has a point, however long the step.
        let present_for = presence(scrape_interval([&*s]).or(answer_interval)).max(grid.step);
        let mut last: Option<f64> = None;
        let mut next = 0; // the next sample not yet at or before the point being marked
        for (k, point) in points.iter_mut().enumerate() {
            let at = grid.point(k);
            while next < s.samples.len() && s.samples[next].at <= at {
                next += 1;
            }
            let recent = next
                .checked_sub(1)
                .is_some_and(|i| at - s.samples[i].at < present_for);
            point.1 |= recent;
        }
        for x in &s.samples {
            if x.at > baseline && x.at <= grid.last() {
                let increment = match last {
                    Some(before) if x.value >= before => x.value - before,
                    // A reset, or a series created since the baseline: it counted from zero.
                    _ => x.value,
                };
                points[grid.bin(x.at)].0 += increment;
            }
            last = Some(x.value);
        }
    }
    Ok(groups
        .into_iter()
        .filter_map(|(group, points)| {
            let samples: Vec<Sample> = points
                .into_iter()
                .enumerate()
                .filter(|(_, (_, present))| *present)
                .map(|(k, (value, _))| Sample {
                    at: grid.point(k),
                    value,
                })
                .collect();
            (!samples.is_empty()).then(|| {
                let mut s = Series::new(samples);
                s.labels.insert(by.to_string(), group);
                s
            })
        })
        .collect())
}

/// `{a="1",b="2"}`, for error messages (label values of metrics are not secrets).
fn describe(s: &Series) -> String {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", labels.join(","))
}

/// Whether `promql` is one vector selector (`name`, `name{matchers}` or `{matchers}`), the
/// only expression a range selector can be applied to.
pub(crate) fn is_vector_selector(promql: &str) -> bool {
    let text = promql.trim();
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return !name.is_empty();
    }
    let Some(mut inner) = rest.strip_prefix('{') else {
        return false;
    };
    // Matchers up to the closing brace, skipping quoted strings; nothing may follow it.
    loop {
        let Some(i) = inner.find(['"', '\'', '`', '}', '{', '(', ')', '[']) else {
            return false;
        };
        let c = inner.as_bytes()[i] as char;
        match c {
            '}' => return inner[i + 1..].trim().is_empty(),
            '"' | '\'' | '`' => {
                let mut chars = inner[i + 1..].char_indices();
                let mut end = None;
                while let Some((j, d)) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        end = Some(i + 1 + j + 1);
                        break;
                    }
                }
                let Some(end) = end else { return false };
                inner = &inner[end..];
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    /// Points at 10, 20, … (`points` of them) with a 10 s step: the baseline is 0.
    fn grid(points: usize) -> Grid {
        Grid {
            first: t(10),
            step: Duration::seconds(10),
            points,
        }
    }

    fn counter(labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        let mut s = Series::new(
            points
                .iter()
                .map(|&(at, value)| Sample { at: t(at), value })
                .collect(),
        );
        for (k, v) in labels {
            s.labels.insert(k.to_string(), v.to_string());
        }
        s
    }

    fn values(s: &Series) -> Vec<(i64, f64)> {
        s.samples
            .iter()
            .map(|x| (x.at.timestamp() - 1_700_000_000, x.value))
            .collect()
    }

    #[test]
    fn the_grid_bins_a_sample_into_the_step_ending_at_or_after_it() {
        let g = grid(3);
        assert_eq!((g.baseline(), g.last()), (t(0), t(30)));
        assert_eq!(g.span(), Duration::seconds(30 + 300));
        for (at, k) in [(1, 0), (10, 0), (11, 1), (20, 1), (29, 2), (30, 2)] {
            assert_eq!(g.bin(t(at)), k, "{at}");
        }
    }

    #[test]
    fn steps_sum_the_increments_of_their_samples() {
        // Scraped every 5 s: two samples per step.
        let s = counter(
            &[("code", "200")],
            &[
                (-5, 90.0),
                (0, 100.0),
                (5, 110.0),
                (10, 130.0),
                (15, 130.0),
                (20, 130.0),
            ],
        );
        let out = per_step(vec![s], "code", &grid(3)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].labels["code"], "200");
        // At 30 the series is still present (its last sample is 10 s old): a count of 0.
        assert_eq!(values(&out[0]), [(10, 30.0), (20, 0.0), (30, 0.0)]);
    }

    #[test]
    fn a_reset_between_two_points_loses_nothing_that_was_scraped() {
        // A pod restarted between 12 and 14: 5 counted before it, then 3 and 4 after it.
        let s = counter(
            &[("code", "500")],
            &[(0, 40.0), (6, 45.0), (12, 50.0), (14, 3.0), (18, 7.0)],
        );
        let out = per_step(vec![s], "code", &grid(2)).unwrap();
        assert_eq!(values(&out[0]), [(10, 5.0), (20, 5.0 + 3.0 + 4.0)]);
    }

    #[test]
    fn a_series_created_inside_the_range_counts_its_first_value() {
        // The first 503s create the child `code="503"` with the value 3: `increase()` would
        // report nothing for that step.
        let ok = counter(
            &[("code", "200"), ("pod", "a")],
            &[(0, 10.0), (10, 20.0), (20, 30.0)],
        );
        let new = counter(&[("code", "503"), ("pod", "a")], &[(15, 3.0), (20, 4.0)]);
        let out = per_step(vec![ok, new], "code", &grid(2)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].labels["code"], "503");
        // Absent at 10, present from 20 on.
        assert_eq!(values(&out[1]), [(20, 4.0)]);
    }

    #[test]
    fn a_series_older_than_the_baseline_is_its_own_baseline() {
        // Its last sample before the baseline point is 4 minutes old: not a new series.
        let s = counter(&[("code", "200")], &[(-240, 50.0), (20, 52.0)]);
        let out = per_step(vec![s], "code", &grid(2)).unwrap();
        assert_eq!(values(&out[0]), [(10, 0.0), (20, 2.0)]);
    }

    #[test]
    fn series_of_a_group_are_summed_and_stale_series_drop_out() {
        let a = counter(
            &[("le", "+Inf"), ("pod", "a")],
            &[(0, 1.0), (10, 4.0), (30, 6.0)],
        );
        let b = counter(
            &[("le", "+Inf"), ("pod", "b")],
            &[(0, 0.0), (10, 1.0), (20, 2.0)],
        );
        let out = per_step(vec![a, b], "le", &grid(3)).unwrap();
        assert_eq!(values(&out[0]), [(10, 4.0), (20, 1.0), (30, 2.0)]);
        // Nothing newer than the lookback: no point.
        let old = counter(&[("le", "+Inf")], &[(-400, 5.0)]);
        assert!(per_step(vec![old], "le", &grid(3)).unwrap().is_empty());
    }

    #[test]
    fn a_series_that_stops_being_scraped_is_gone_within_a_few_intervals_one_gap_is_not() {
        // Scraped every 10 s; a missed scrape at 50; the pod is gone after 80.
        let points: Vec<(i64, f64)> = [0, 10, 20, 30, 40, 60, 70, 80]
            .iter()
            .map(|&t| (t, t as f64))
            .collect();
        let s = counter(&[("code", "200")], &points);
        let out = per_step(vec![s], "code", &grid(20)).unwrap();
        let at: Vec<i64> = values(&out[0]).iter().map(|p| p.0).collect();
        // Present through 100 (20 s after the last sample < 25 s), not at 110 or later.
        assert_eq!(at, (1..=10).map(|k| 10 * k).collect::<Vec<_>>());
        assert_eq!(
            values(&out[0])[4],
            (50, 0.0),
            "the missed scrape is a count of 0"
        );
    }

    #[test]
    fn each_series_is_present_for_its_own_scrape_interval() {
        // `200` scraped every 10 s, `500` every 60 s (another job): the slow one has no gaps.
        let fast_points: Vec<(i64, f64)> = (0..=12).map(|k| (10 * k, k as f64)).collect();
        let fast = counter(&[("code", "200")], &fast_points);
        let slow = counter(&[("code", "500")], &[(0, 1.0), (60, 2.0), (120, 3.0)]);
        let out = per_step(vec![fast, slow], "code", &grid(12)).unwrap();
        let at: Vec<i64> = values(&out[1]).iter().map(|p| p.0).collect();
        assert_eq!(at, (1..=12).map(|k| 10 * k).collect::<Vec<_>>());
    }

    #[test]
    fn a_series_without_the_label_or_with_a_non_counter_value_is_refused_by_name() {
        let s = counter(&[("status", "200")], &[(0, 1.0)]);
        let e = per_step(vec![s], "code", &grid(1)).unwrap_err();
        assert!(e.contains(r#"{status="200"} has no `code` label"#), "{e}");
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let s = counter(&[("code", "200")], &[(0, 1.0), (10, bad)]);
            let e = per_step(vec![s], "code", &grid(1)).unwrap_err();
            assert!(e.contains("a counter is a finite number ≥ 0"), "{e}");
        }
    }

    #[test]
    fn vector_selectors_are_told_from_other_expressions() {
        for ok in [
            "http_requests_total",
            r#"http_requests_total{deployment="a",path=~"/(v1|v2)/}{"}"#,
            r#"{__name__="x", code!='5\'00'}"#,
            "job:requests:total { a = `(` } ",
        ] {
            assert!(is_vector_selector(ok), "{ok}");
        }
        for bad in [
            "sum(x)",
            "sum by (code) (x{a=\"b\"})",
            "x{a=\"b\"} * 2",
            "x{a=\"b\"}[5m]",
            "x{a=\"b}",
            "x{a=\"b\"} offset 5m",
            "1x",
            "",
        ] {
            assert!(!is_vector_selector(bad), "{bad}");
        }
    }

    proptest! {
        /// Whatever the scrape times, restarts and step: the counts are whole, and they add up
        /// to what the scrapes saw after the baseline point (what each scrape's process had
        /// counted since the previous scrape, or since its restart), unless a restarted
        /// counter had already passed its previous scraped value (no reading can see that
        /// restart; the count is then lower).
        #[test]
        fn counts_add_up_to_what_was_scraped(
            increments in proptest::collection::vec((0u32..50, proptest::bool::weighted(0.1)), 1..80),
            scrape_every in 1i64..20,
            step in 1i64..40,
        ) {
            let points = 1 + 80 / step as usize;
            let g = Grid { first: t(step), step: Duration::seconds(step), points };
            let last = (g.last() - t(0)).num_seconds();
            // One increment a second from t(1) on; a scrape every `scrape_every` seconds.
            let mut value = 1_000.0;
            let mut scrapes = vec![(0, value)];
            let (mut seen, mut since_scrape, mut hidden_restart) = (0.0, 0.0, false);
            let mut restarted = false;
            for (i, (inc, restart)) in increments.iter().enumerate() {
                let at = i as i64 + 1;
                if *restart {
                    value = 0.0;
                    since_scrape = 0.0;
                    restarted = true;
                }
                value += f64::from(*inc);
                since_scrape += f64::from(*inc);
                if at % scrape_every == 0 {
                    let before = scrapes.last().unwrap().1;
                    if at <= last {
                        seen += since_scrape;
                        hidden_restart |= restarted && value >= before;
                    }
                    scrapes.push((at, value));
                    since_scrape = 0.0;
                    restarted = false;
                }
            }
            let s = counter(&[("code", "200")], &scrapes);
            let out = per_step(vec![s], "code", &g).unwrap();
            let counts: Vec<f64> = out.iter().flat_map(|s| &s.samples).map(|x| x.value).collect();
            prop_assert!(counts.iter().all(|x| x.fract() == 0.0));
            let total: f64 = counts.iter().sum();
            if hidden_restart {
                prop_assert!(total <= seen, "{} > {}", total, seen);
            } else {
                prop_assert_eq!(total, seen);
            }
        }
    }
}
