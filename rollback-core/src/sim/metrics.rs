//! Metric series of the simulated world: per release or traffic-weighted for the whole target.

use chrono::{DateTime, Utc};

use super::noise;
use super::scenario::Scenario;
use super::world::{plus, seconds_between, TargetState};
use crate::error::{Error, Result};
use crate::model::metric::{MetricKind, MetricQuery, Sample, Series};

/// The most points one query may ask for (Prometheus refuses more than 11,000 too).
const MAX_POINTS: f64 = 11_000.0;

/// The custom metrics the simulation answers.
pub(crate) const CUSTOM: [&str; 1] = ["uptime"];

/// Runs a query against a snapshot of one target.
pub(crate) fn query(
    ts: &TargetState,
    sc: &Scenario,
    q: &MetricQuery,
    now: DateTime<Utc>,
) -> Result<Vec<Series>> {
    let step = q.step.as_secs_f64();
    if step <= 0.0 {
        return Err(Error::invalid_input(format!(
            "query step is {:?}, expected a positive duration such as 10s",
            q.step
        )));
    }
    if let MetricKind::Custom(name) = &q.kind {
        if !CUSTOM.contains(&name.as_str()) {
            return Err(Error::invalid_input(format!(
                "custom query {name:?} is not known to the simulation, expected one of {}",
                CUSTOM.join(", ")
            )));
        }
    }
    let span = seconds_between(q.range.start, q.range.end);
    if span / step > MAX_POINTS {
        return Err(Error::invalid_input(format!(
            "query asks for {:.0} points ({span}s at a {step}s step), expected at most {MAX_POINTS}: \
             use a larger step or a shorter range",
            span / step
        )));
    }
    let releases: Vec<usize> = match &q.release {
        Some(r) => vec![ts.find(&r.revision, &r.version).ok_or_else(|| {
            Error::new(
                crate::ErrorKind::NotFound,
                format!(
                    "release {} ({}) is not a release of {}, expected one of {}",
                    r.version,
                    r.revision,
                    ts.target,
                    ts.known()
                ),
            )
        })?],
        None => (0..ts.releases.len()).collect(),
    };
    let per_release = q.release.is_some();
    let end = q.range.end.min(plus(now, 0.001));
    let mut times = Vec::new();
    let mut k = 0u32;
    loop {
        let t = plus(q.range.start, step * f64::from(k));
        if t >= end {
            break;
        }
        times.push(t);
        k += 1;
    }
    let label = |s: Series| -> Series {
        match &q.release {
            Some(r) => s.with_label("release", r.version.to_string()),
            None => s,
        }
    };
    if q.kind == MetricKind::StatusCodes {
        return Ok(status_codes(ts, sc, &releases, &times, step, end)
            .into_iter()
            .map(label)
            .collect());
    }
    if q.kind == MetricKind::LatencyHistogram {
        return Ok(latency_histogram(ts, sc, &releases, &times, step, end)
            .into_iter()
            .map(label)
            .collect());
    }
    let mut samples = Vec::new();
    for t in times {
        let value = if per_release {
            point(ts, sc, releases[0], &q.kind, t).map(|(v, _)| v)
        } else {
            mix(ts, sc, &q.kind, t)
        };
        if let Some(value) = value {
            samples.push(Sample { at: t, value });
        }
    }
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![label(Series::new(samples))])
}

/// One release's value at `t` and its traffic share; `None` when it did not run (or, for
/// request metrics, received no traffic).
fn point(
    ts: &TargetState,
    sc: &Scenario,
    i: usize,
    kind: &MetricKind,
    t: DateTime<Utc>,
) -> Option<(f64, f64)> {
    if !ts.running(i, t) {
        return None;
    }
    let spec = ts.spec(sc, i);
    let p = &spec.profile;
    let share = ts.share(i, t);
    let rps = sc.request_rate * share;
    let x = ts.x(sc, i, t);
    let needs_traffic = matches!(kind, MetricKind::ErrorRate | MetricKind::Latency(_));
    if needs_traffic && share <= 0.0 {
        return None;
    }
    let (v, exact) = match kind {
        MetricKind::ErrorRate => p.error_rate(x, rps),
        MetricKind::Latency(q) => p.latency(u16::from(*q), x, rps),
        MetricKind::CpuUtilization => p.cpu(x, rps),
        MetricKind::MemoryUtilization => p.memory(x),
        MetricKind::MemoryBytes => p.memory_bytes(x),
        MetricKind::RequestRate => (rps, share <= 0.0),
        MetricKind::Custom(_) => (
            p.uptime(x, ts.releases[i].release.replicas.desired.max(1)),
            true,
        ),
        _ => return None,
    };
    let v = if exact || p.noise == 0.0 {
        v
    } else {
        let key = noise::key(
            sc.seed,
            &[
                spec.release.version.as_str().as_bytes(),
                kind.name().as_bytes(),
            ],
            t.timestamp_millis(),
        );
        v * (1.0 + p.noise * noise::unit(key))
    };
    let v = match kind {
        MetricKind::ErrorRate | MetricKind::Custom(_) => v.clamp(0.0, 1.0),
        MetricKind::CpuUtilization | MetricKind::MemoryUtilization => v.clamp(0.0, 100.0),
        _ => v.max(0.0),
    };
    Some((v, share))
}

/// The whole target at `t`: traffic-weighted over the releases receiving traffic (request rate:
/// summed).
fn mix(ts: &TargetState, sc: &Scenario, kind: &MetricKind, t: DateTime<Utc>) -> Option<f64> {
    let mut sum = 0.0;
    let mut weight = 0.0;
    for i in 0..ts.releases.len() {
        if let Some((v, share)) = point(ts, sc, i, kind, t) {
            if share <= 0.0 {
                continue;
            }
            if *kind == MetricKind::RequestRate {
                sum += v;
                weight = 1.0;
            } else {
                sum += v * share;
                weight += share;
            }
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

/// Responses per step by status code. Counts are integers whose sum over the query equals the
/// rounded integral of the request rate (carried rounding), so totals over a window are exact.
fn status_codes(
    ts: &TargetState,
    sc: &Scenario,
    releases: &[usize],
    times: &[DateTime<Utc>],
    step: f64,
    end: DateTime<Utc>,
) -> Vec<Series> {
    let mut codes: Vec<u16> = vec![200];
    for &i in releases {
        for (c, _) in &ts.spec(sc, i).profile.codes {
            if !codes.contains(c) {
                codes.push(*c);
            }
        }
    }
    codes[1..].sort_unstable();
    let series = integrate(
        ts,
        sc,
        releases,
        times,
        step,
        end,
        codes.len(),
        |add, rel| {
            let (er, _) = rel.profile.error_rate(rel.x, rel.rps);
            add[0] += rel.requests * (1.0 - er);
            for (c, s) in &rel.profile.codes {
                if let Some(k) = codes.iter().position(|x| x == c) {
                    add[k] += rel.requests * er * s;
                }
            }
        },
    );
    if series[0].is_empty() {
        return Vec::new();
    }
    codes
        .iter()
        .zip(series)
        .map(|(c, samples)| Series::new(samples).with_label("code", c.to_string()))
        .collect()
}

/// Bucket bounds (ms) of the simulated latency histogram, as a Prometheus client's defaults
/// scaled to milliseconds; `+Inf` is added.
pub(crate) const HISTOGRAM_BOUNDS: [f64; 11] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// The share of a release's requests at or below `bound` ms at `x`, from the profile's
/// quantile curve (inverted by bisection over per-mille quantiles).
fn share_at_or_below(p: &super::scenario::Profile, x: Option<f64>, rps: f64, bound: f64) -> f64 {
    let q = |m: u16| p.latency(m, x, rps).0;
    if bound < q(1) {
        return 0.0;
    }
    if bound >= q(999) {
        return 1.0;
    }
    let (mut lo, mut hi) = (1u16, 999u16); // q(lo) <= bound < q(hi)
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if q(mid) <= bound {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    f64::from(lo) / 1000.0
}

/// Responses per step at or below each bound, one series per `le` (ms, `+Inf` last), with the
/// same carried rounding as the status codes so totals over a window are exact.
fn latency_histogram(
    ts: &TargetState,
    sc: &Scenario,
    releases: &[usize],
    times: &[DateTime<Utc>],
    step: f64,
    end: DateTime<Utc>,
) -> Vec<Series> {
    let n = HISTOGRAM_BOUNDS.len() + 1;
    let mut series = integrate(ts, sc, releases, times, step, end, n, |add, rel| {
        for (k, b) in HISTOGRAM_BOUNDS.iter().enumerate() {
            add[k] += rel.requests * share_at_or_below(rel.profile, rel.x, rel.rps, *b);
        }
        add[n - 1] += rel.requests;
    });
    // Rounding is carried per bound: keep every step's histogram cumulative in `le`.
    for i in 0..series.first().map_or(0, Vec::len) {
        let mut run = 0.0f64;
        for s in series.iter_mut() {
            run = run.max(s[i].value);
            s[i].value = run;
        }
    }
    if series[0].is_empty() {
        return Vec::new();
    }
    HISTOGRAM_BOUNDS
        .iter()
        .map(|b| format!("{b}"))
        .chain(std::iter::once("+Inf".to_string()))
        .zip(series)
        .map(|(le, samples)| Series::new(samples).with_label("le", le))
        .collect()
}

/// What one release contributes to one piece of a step.
struct Piece<'a> {
    profile: &'a super::scenario::Profile,
    x: Option<f64>,
    rps: f64,
    /// Requests it served in the piece.
    requests: f64,
}

/// Integrates per-release request flows over each step in pieces of at most 1 s (600 pieces
/// for long steps) and returns `n` count series, one sample per step in which some release
/// served: `add(counts, piece)` adds a piece's contribution to the running totals. Totals
/// are carried with rounding, so each series' counts are integers that sum to the rounded
/// integral over the query.
#[allow(clippy::too_many_arguments)]
fn integrate(
    ts: &TargetState,
    sc: &Scenario,
    releases: &[usize],
    times: &[DateTime<Utc>],
    step: f64,
    end: DateTime<Utc>,
    n: usize,
    mut add: impl FnMut(&mut [f64], &Piece<'_>),
) -> Vec<Vec<Sample>> {
    let dt = if step <= 600.0 { 1.0 } else { step / 600.0 };
    let mut cumulative = vec![0.0f64; n];
    let mut series: Vec<Vec<Sample>> = vec![Vec::new(); n];
    for &t0 in times {
        let t1 = plus(t0, step).min(end);
        let len = seconds_between(t0, t1);
        let before: Vec<f64> = cumulative.iter().map(|c| c.round()).collect();
        let mut served = false;
        let mut a = 0.0;
        while a < len {
            let piece = dt.min(len - a);
            let mid = plus(t0, a + piece / 2.0);
            for &i in releases {
                let share = ts.share(i, mid);
                if share <= 0.0 || !ts.running(i, mid) {
                    continue;
                }
                served = true;
                let rps = sc.request_rate * share;
                add(
                    &mut cumulative,
                    &Piece {
                        profile: &ts.spec(sc, i).profile,
                        x: ts.x(sc, i, mid),
                        rps,
                        requests: rps * piece,
                    },
                );
            }
            a += piece;
        }
        if served {
            for k in 0..n {
                series[k].push(Sample {
                    at: t0,
                    value: cumulative[k].round() - before[k],
                });
            }
        }
    }
    series
}
