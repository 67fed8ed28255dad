//! Detection delay and false-positive rate of the sequential detector against the rules users
//! have today, on the same simulated traces; plus the throughput of `observe()`.
//!
//! Run: `cargo bench --bench detection` (the comparison prints Markdown tables and writes them
//! to `$CARGO_TARGET_DIR/detection-report.md`, default `target/`). `DETECTION_TRACES=200`
//! scales the trace counts down for a quick look (error traces: that many healthy and half as
//! many failing per cell; latency traces: half as many healthy and a fifth as many failing;
//! default 1000), `DETECTION_TRACES=0` skips the comparison; `DETECTION_REPORT_ONLY=1` skips
//! criterion; `DETECTION_THREADS=1` runs the simulation on one
//! thread (default: all available cores; the figures do not depend on it);
//! `DETECTION_SECTIONS=canary` (comma-separated `errors`, `errors-issue`, `errors-oracle`,
//! `latency`, `canary`, `canary-latency`; default all) runs only those sections of the comparison. Canary error
//! traces are counted like latency traces (half as many healthy, a fifth as many failing),
//! canary latency traces a fifth as many healthy and 2/25 as many failing (200 and 80 by
//! default).
//!
//! # Error traces
//!
//! Per-second request and 5xx counts (the data's native step is 1 s here):
//!
//! * traffic: Poisson with mean `rate × diurnal(t) × burst(t)`; `diurnal` = 1 ± 0.3 over 24 h
//!   with a random phase; traffic bursts arrive every 10 min on average, last 20–120 s and
//!   multiply traffic by 2–4 (and the error rate by 2: load-induced errors);
//! * healthy error rate: 0.1 % × (1 ± 0.5 diurnal) × burst factor, plus *error blips* (a pod
//!   restart, a dependency hiccup) every 30 min on average, 2–10 s at 1–3 %;
//! * failing traces: the same, and from a change time uniform in 5–15 min the error rate is
//!   1 %, 5 % or 12.4 % (noise on traffic continues); watched up to 30 min after the change;
//! * every trace has a *pre-deploy prefix*: the 30 min before it, the same healthy process
//!   (the diurnal curve continued backwards, its own bursts and blips), drawn from a separate
//!   RNG stream so that the watched part is the same as without it. Its totals are the
//!   `Baseline` of the regression rows; the other rules do not use it.
//!
//! Every rule uses the same SLA: error rate < 0.5 %. Rules:
//!
//! * `window-1`: tumbling 60 s windows from the trace start, alarm at the first window whose
//!   error rate is >= 0.5 %;
//! * `window-3`: the same, at the third consecutive bad window;
//! * `cloudwatch-3of3`: a CloudWatch alarm on the metric-math error rate, period 60 s aligned to
//!   the wall-clock minute (traces start at a random second), `GreaterThanThreshold` 0.5 %,
//!   3 of 3 datapoints, evaluated at the end of each period (real CloudWatch adds publishing
//!   lag on top);
//! * `flagger-5x1m`: Flagger's documented example (`interval: 1m`, `threshold: 5`,
//!   request-success-rate `min: 99.5` over `1m`): a check every minute, a failed-check counter
//!   that is never reset during the analysis, and the rollback at the tick after the counter
//!   reaches 5 (Flagger checks the counter before running the next analysis); a window without
//!   requests fails the check (no values found);
//! * `sequential`: [`SequentialDetector`] with `alpha = 0.01`, `p0 = 0.5 %`, `min_requests = 50`;
//!   `sequential-p10s` and `sequential-p15s` add `persistence = 10 s` and `15 s`;
//!   `sequential-p15s-b10` and `-b5` add a fast-burn tier (`fast_burn = 10` / `5`: an uncapped
//!   test of `p ≤ 5 %` / `2.5 %` sharing the evidence budget, so rates confidently above it
//!   skip the persistence wait);
//! * `sequential-p15s-b5-reg2` / `-reg3`: `sequential-p15s-b5` built
//!   [`with_baseline`](SequentialDetector::with_baseline) on the prefix's totals, with the
//!   error-rate regression test on (`RegressionConfig`, tolerance 2 / 3): also alarms when the
//!   rate is confidently above tolerance × the baseline's odds, inside the SLA or not.
//!
//! # Error traces without blips (`errors-issue`)
//!
//! The noise model of the issue that asked for this bench: the error traces above (same
//! seeds, traffic, diurnal drift, bursts with × 2 errors, pre-deploy prefix) without the error
//! blips. The blips are still drawn, and so is each blip second's error count at the blip's
//! rate, so every other draw is unchanged (the traces above do not move); the blip seconds'
//! counts are then redrawn at the rate without the blip from a separate RNG stream (the
//! trace's, or its prefix's, seed XOR 2^61). The same numbers of traces as the error section.
//! Rules: the four rules above; `sequential` (no persistence, no fast tier);
//! `sequential-b5` (no persistence, `fast_burn = 5`); `sequential-reg2` (no persistence, no
//! fast tier, built `with_baseline` on the prefix with `RegressionConfig` tolerance 2); and
//! `sequential-p15s-b5` (the blip model's recommended configuration) for reference.
//!
//! # An oracle's bound (`errors-oracle`)
//!
//! On the same traces without blips: CUSUM and Shiryaev–Roberts detectors that know each
//! second's healthy error rate and the failure rate of the column, with thresholds fitted to
//! the healthy traces themselves (the largest value each statistic reaches on any of them, so
//! no false alarm in-sample): a practical lower bound on any detector's delay at the rules'
//! FPR. `window-1` and `sequential-reg2` run beside them on the same traces.
//!
//! # Latency traces
//!
//! Per-second Prometheus-style latency histograms (`le` = 5, 10, 25, 50, 100, 250, 500, 1000,
//! 2500, 5000 ms, +Inf) at 10, 100 and 1,000 req/s, no errors:
//!
//! * traffic as above (diurnal ± 30 %, bursts every ~10 min, 20–120 s, × 2–4);
//! * latency: a mixture of a body, lognormal with median 40 ms and σ = 0.6 (99 %), and a slow
//!   path, lognormal with median 200 ms and σ = 0.7 (1 %): p50 ≈ 40 ms, p95 ≈ 112 ms,
//!   p99 ≈ 190 ms; every latency is scaled by `1 + 0.2 · diurnal` (the median drifts ± 20 %
//!   over the day) and, during a traffic burst of factor `f`, by `1 + 0.15 · (f − 1)`
//!   (load-dependent slowdown: × 1.15–1.45);
//! * *pause blips* (GC pause, cold start) every 15 min on average, 2–8 s, during which 5–20 %
//!   of requests take a pause, lognormal with median 400 ms and σ = 0.6;
//! * failing traces, from a change time uniform in 5–15 min: `tail` (the slow path takes 3 %
//!   of requests with median 420 ms: p99 × 3), `body` (the body's median 40 → 60 ms: p50
//!   + 50 %), `big` (every latency × 4: p95 × 4); watched up to 30 min after the change;
//! * the same 30-minute pre-deploy prefix from a separate RNG stream; its summed histogram is
//!   the `Baseline` of the shift rows.
//!
//! SLA: p95 < 250 ms (healthy p95 is 112 ms at the median load and 196 ms at the diurnal peak
//! in the largest burst, so healthy traces stay within it except in pause blips). Window
//! quantiles are computed from the summed buckets the way Prometheus' `histogram_quantile`
//! does (linear interpolation inside the bucket, the highest finite bound when the rank falls
//! into +Inf). Rules:
//!
//! * `window-1` / `window-3`: tumbling 60 s windows, alarm at the first / third consecutive
//!   window whose p95 is > 250 ms;
//! * `cloudwatch-3of3`: one-minute p95 periods aligned to the clock minute, 3 of 3 > 250 ms;
//! * `flagger-5x1m`: Flagger's builtin `request-duration` check as documented (`interval: 1m`,
//!   `thresholdRange.max: 500`: p99 ≤ 500 ms), `threshold: 5`, counter never reset;
//! * `sequential-p15s-b5`: the SLA test on slow-request counts (`LatencySource::SlowCounts`:
//!   requests slower than 250 ms against 5 %), same alpha, persistence and fast burn as above
//!   (the error-rate test runs too and sees no errors);
//! * `sequential-p15s-b5-shift2` / `-shift3`: the same built with the prefix as baseline and
//!   `RegressionConfig` tolerance 2 / 3, so the latency-distribution test
//!   (`TestKind::LatencyShift`, fed every step's histogram) runs beside the SLA tests (and the
//!   error-regression test, which sees no errors either).
//!
//! # Canary traces
//!
//! A canary taking 20 % of the traffic beside the stable release (80 %), per-second
//! (requests, errors) of each arm, at 10, 100 and 1,000 req/s in total, from their own RNG
//! streams (the traces above are unchanged):
//!
//! * shared by both arms: the diurnal drift and traffic bursts of the error traces (each arm's
//!   requests are Poisson with its share of the mean), the healthy error rate (0.1 % ± 50 %
//!   diurnal, × 2 in bursts), and *dependency outages* every 30 min on average, 30–180 s,
//!   during which both arms fail 1–5 % of requests;
//! * each arm's own *pod-restart blips*, every 30 min on average, 2–10 s at 1–3 %;
//! * failing traces: from a change time uniform in 5–15 min the canary's error rate is 1 %,
//!   5 % or 12.4 % (at least; an outage above that still counts), the stable release's does
//!   not change; watched up to 30 min after the change.
//!
//! Rules: `window-1`, `window-3`, `cloudwatch-3of3`, `flagger-5x1m` and
//! `sequential-p15s-b5` as above, on the canary's own metrics against the 0.5 % SLA (as
//! Flagger's and Argo Rollouts' canary analyses do); `sequential-p15s-b5-paired2` / `-paired3`:
//! the same detector built [`with_control`](SequentialDetector::with_control) with
//! `RegressionConfig` tolerance 2 / 3 and every observation carrying the stable release's
//! counts of the same second, so the paired test (`TestKind::ErrorRegression` in paired
//! mode: how each second's errors split between the arms, odds ratio at most the tolerance;
//! with its fast tier at 5 × the tolerance) runs beside the SLA test; `-paired2: paired test's alarm` / `-paired3: ...`: the same
//! detectors read for the paired test alone (when it crossed, whatever the SLA test did);
//! `diff-2x-window-1` / `-3`: the comparison people write by hand, tumbling 60 s windows, a
//! window is bad when the canary's error rate is above 2 × the stable release's (a canary
//! error against none in the stable release is bad), alarm at the first / third consecutive
//! bad window.
//!
//! # Canary latency traces
//!
//! The same split (20 % / 80 %) of the latency traces' model, at 10, 100 and 1,000 req/s in
//! total, per-second histograms of both arms, no errors:
//!
//! * shared by both arms: diurnal drift, traffic bursts and their slowdown, and *dependency
//!   slowdowns* every 30 min on average, 30–180 s, during which every latency of both arms is
//!   × 1.5–3 (above × 2.22 the p95 at the median load breaks the 250 ms SLA);
//! * each arm's own pause blips (every 15 min on average, 2–8 s, 5–20 % of requests);
//! * failing traces: the canary's latency changes (`tail`, `body`, `big` as above), the stable
//!   release's does not.
//!
//! Rules: the latency rules above on the canary's own histograms (`sequential-p15s-b5` with
//! the slow-request SLA test, the window rules, CloudWatch, Flagger's p99); `-paired2` /
//! `-paired3`: that detector built `with_control`, every observation carrying both arms'
//! histograms, so the paired latency test (`TestKind::LatencyShift` in paired mode: per
//! histogram bound, how the requests slower than it split between the arms; averaged over
//! the bounds) and the paired error test run beside the SLA tests; and the same detectors
//! read for the paired latency test alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput};
use rollback_core::policy::Threshold;
use rollback_core::sequential::{
    Baseline, ControlCounts, DetectorConfig, LatencyHistogram, LatencySla, LatencySource,
    Observation, RegressionConfig, SequentialDetector, TestKind,
};
use rollback_core::Quantile;

const SLA: f64 = 0.005;
const RATES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
const FAIL_RATES: [f64; 3] = [0.01, 0.05, 0.124];
const HEALTHY_SECS: u64 = 3600;
const WATCH_AFTER_CHANGE: u64 = 1800;
/// The pre-deploy history before every trace: the regression tests' baseline.
const PREFIX_SECS: u64 = 1800;
/// XORed into a trace's seed for its prefix's RNG stream (trace seeds stay below 2^63, and
/// SplitMix64 states `2^63` apart never meet within 2^63 draws).
const PREFIX_STREAM: u64 = 1 << 63;
/// XORed into a trace's (or its prefix's) seed for the stream that draws the error counts of
/// the blip seconds when blips are off (error trace seeds stay below 2^51).
const NO_BLIP_STREAM: u64 = 1 << 61;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.uniform().ln()
    }
    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda < 30.0 {
            let l = (-lambda).exp();
            let (mut k, mut p) = (0u64, 1.0);
            loop {
                p *= self.uniform();
                if p <= l {
                    return k;
                }
                k += 1;
            }
        }
        (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64
    }
    /// Binomial(n, p) by geometric skips: O(n·p + 1).
    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if p <= 0.0 || n == 0 {
            return 0;
        }
        let lq = (1.0 - p).ln();
        let (mut i, mut x) = (0u64, 0u64);
        loop {
            let skip = (self.uniform().ln() / lq).floor();
            if skip >= (n - i) as f64 {
                return x;
            }
            i += skip as u64 + 1;
            x += 1;
            if i >= n {
                return x;
            }
        }
    }
    /// Binomial(n, p) for the latency buckets: exact while `n · min(p, 1 − p) < 30`, the
    /// normal approximation above (the error traces keep the exact `binomial`).
    fn binomial_approx(&mut self, n: u64, p: f64) -> u64 {
        if p >= 1.0 {
            return n;
        }
        if p > 0.5 {
            return n - self.binomial_approx(n, 1.0 - p);
        }
        let mean = n as f64 * p;
        if mean < 30.0 {
            return self.binomial(n, p);
        }
        let sd = (mean * (1.0 - p)).sqrt();
        (mean + sd * self.normal()).round().clamp(0.0, n as f64) as u64
    }
}

/// A period `[start, end)` with a factor.
#[derive(Clone, Copy)]
struct Episode {
    start: f64,
    end: f64,
    factor: f64,
}

fn episodes(rng: &mut Rng, len: f64, every: f64, dur: (f64, f64), f: (f64, f64)) -> Vec<Episode> {
    let mut out = Vec::new();
    let mut t = rng.exponential(every);
    while t < len {
        let d = rng.range(dur.0, dur.1);
        out.push(Episode {
            start: t,
            end: t + d,
            factor: rng.range(f.0, f.1),
        });
        t += d + rng.exponential(every);
    }
    out
}

fn active(eps: &[Episode], t: f64) -> Option<f64> {
    eps.iter()
        .find(|e| e.start <= t && t < e.end)
        .map(|e| e.factor)
}

/// The diurnal curve, in [−1, 1], at `t` seconds from the trace start.
fn diurnal(t: f64, phase: f64) -> f64 {
    (2.0 * std::f64::consts::PI * t / 86_400.0 + phase).sin()
}

/// What the report needs of a trace.
trait Watched {
    /// When the failure starts (`None`: healthy).
    fn change(&self) -> Option<u64>;
}

/// One error trace: per-second (requests, errors).
struct Trace {
    steps: Vec<(u64, u64)>,
    /// Seconds past the wall-clock minute at which the trace starts.
    clock_offset: u64,
    change: Option<u64>,
    /// The diurnal phase (for the drift figures).
    phase: f64,
    /// Totals of the pre-deploy prefix: (requests, errors).
    baseline: (u64, u64),
    /// The healthy error rate of each step, as the generator drew it (without the failure;
    /// with blips when the trace has them): what the oracle rows know.
    healthy_p: Vec<f64>,
}

impl Watched for Trace {
    fn change(&self) -> Option<u64> {
        self.change
    }
}

/// Per-second (requests, errors) of `len` seconds starting `from` seconds after the trace
/// start (negative: before it), failing at `fail.0` (seconds into these steps) with rate
/// `fail.1`.
///
/// `no_blips`: `None` = with error blips; `Some(aux)` = without them (the issue's noise
/// model). The blips are still drawn from `rng`, and in a blip second the blip's error count
/// is still drawn from `rng` and thrown away, so every other draw (bursts, traffic, the
/// error counts of all other seconds) is the same as with blips; the blip seconds' error
/// counts come from `aux` at the rate without the blip.
fn error_steps(
    rng: &mut Rng,
    rate: f64,
    phase: f64,
    from: f64,
    len: u64,
    fail: Option<(u64, f64)>,
    mut no_blips: Option<&mut Rng>,
) -> (Vec<(u64, u64)>, Vec<f64>) {
    let bursts = episodes(rng, len as f64, 600.0, (20.0, 120.0), (2.0, 4.0));
    let blips = episodes(rng, len as f64, 1800.0, (2.0, 10.0), (0.01, 0.03));
    let mut steps = Vec::with_capacity(len as usize);
    let mut healthy_p = Vec::with_capacity(len as usize);
    for s in 0..len {
        let t = s as f64;
        let day = diurnal(from + t, phase);
        let burst = active(&bursts, t);
        let lambda = rate * (1.0 + 0.3 * day) * burst.unwrap_or(1.0);
        let n = rng.poisson(lambda);
        let mut p = 0.001 * (1.0 + 0.5 * day) * if burst.is_some() { 2.0 } else { 1.0 };
        let mut p_blip = p;
        if let Some(b) = active(&blips, t) {
            p_blip = p.max(b);
        }
        healthy_p.push(if no_blips.is_some() { p } else { p_blip });
        if let Some((c, f)) = fail {
            if s >= c {
                p = p.max(f);
                p_blip = p_blip.max(f);
            }
        }
        let x = rng.binomial(n, p_blip);
        let x = match no_blips.as_deref_mut() {
            Some(aux) if p_blip != p => aux.binomial(n, p),
            _ => x,
        };
        steps.push((n, x));
    }
    (steps, healthy_p)
}

fn trace(seed: u64, rate: f64, fail: Option<f64>) -> Trace {
    trace_with(seed, rate, fail, true)
}

/// An error trace, with or without error blips (in its prefix too); without them it is the
/// same trace but for the blip seconds' error counts (see [`error_steps`]).
fn trace_with(seed: u64, rate: f64, fail: Option<f64>, blips: bool) -> Trace {
    let mut rng = Rng::new(seed);
    let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
    let clock_offset = rng.next_u64() % 60;
    let change = fail.map(|_| 300 + rng.next_u64() % 601);
    let len = change.map_or(HEALTHY_SECS, |c| c + WATCH_AFTER_CHANGE);
    let mut aux = Rng::new(seed ^ NO_BLIP_STREAM);
    let (steps, healthy_p) = error_steps(
        &mut rng,
        rate,
        phase,
        0.0,
        len,
        change.zip(fail),
        (!blips).then_some(&mut aux),
    );
    let mut prefix_rng = Rng::new(seed ^ PREFIX_STREAM);
    let mut prefix_aux = Rng::new(seed ^ PREFIX_STREAM ^ NO_BLIP_STREAM);
    let (prefix, _) = error_steps(
        &mut prefix_rng,
        rate,
        phase,
        -(PREFIX_SECS as f64),
        PREFIX_SECS,
        None,
        (!blips).then_some(&mut prefix_aux),
    );
    let baseline = prefix.iter().fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
    Trace {
        steps,
        clock_offset,
        change,
        phase,
        baseline,
        healthy_p,
    }
}

/// A rule's decision to roll back: when (seconds from the trace start; the step `[s, s+1)` is
/// known at `s + 1`), and for the detector, which test decided.
#[derive(Clone, Copy)]
struct Alarm {
    at: u64,
    by: Option<TestKind>,
}

/// The rules under comparison, on traces of type `T`.
trait Rule<T>: Sync {
    fn name(&self) -> &'static str;
    fn alarm(&self, t: &T) -> Option<Alarm>;
    /// Whether the report breaks this rule's alarms down by test.
    fn by_test(&self) -> bool {
        false
    }
    /// How the report names the test that fired.
    fn test_label(&self, t: Option<TestKind>) -> &'static str {
        test_name(t)
    }
    /// The report's rows for this rule: its own, then any read off the same run (a detector
    /// read for one of its tests).
    fn rows(&self) -> Vec<&'static str> {
        vec![self.name()]
    }
    /// One alarm per row of [`rows`](Rule::rows).
    fn alarms(&self, t: &T) -> Vec<Option<Alarm>> {
        vec![self.alarm(t)]
    }
}

/// Every rule's rows, in the order of `Run::alarms`: (rule, row index, row name).
fn rows<T>(rules: &[Box<dyn Rule<T>>]) -> Vec<(&dyn Rule<T>, usize, &'static str)> {
    rules
        .iter()
        .flat_map(|r| {
            r.rows()
                .into_iter()
                .enumerate()
                .map(move |(i, name)| (r.as_ref(), i, name))
        })
        .collect()
}

fn at(a: u64) -> Option<Alarm> {
    Some(Alarm { at: a, by: None })
}

/// Tumbling 60 s windows from the trace start; alarm at the `consecutive`-th bad window in a
/// row.
struct Windows {
    consecutive: u32,
    name: &'static str,
}

impl Rule<Trace> for Windows {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &Trace) -> Option<Alarm> {
        let mut run = 0;
        for (w, chunk) in t.steps.chunks(60).enumerate() {
            if chunk.len() < 60 {
                break;
            }
            let (n, x) = chunk.iter().fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            let bad = n > 0 && x as f64 / n as f64 >= SLA;
            run = if bad { run + 1 } else { 0 };
            if run >= self.consecutive {
                return at((w as u64 + 1) * 60);
            }
        }
        None
    }
}

/// CloudWatch periods: 60 s aligned to the clock minute. Calls `datapoint(start, end)` for
/// each complete period in order (`None` = no data, the period is skipped) and alarms at the
/// end of the third breaching datapoint in a row.
fn cloudwatch(
    len: u64,
    clock_offset: u64,
    mut datapoint: impl FnMut(usize, usize) -> Option<bool>,
) -> Option<Alarm> {
    let mut run = 0;
    // Period k covers clock seconds [60k, 60k+60); trace second s is clock s + offset.
    let mut start = 0u64;
    let mut end = 60 - clock_offset;
    while end <= len {
        // TreatMissingData = missing: a period without requests has no datapoint.
        if let Some(bad) = datapoint(start as usize, end as usize) {
            run = if bad { run + 1 } else { 0 };
            if run >= 3 {
                return at(end);
            }
        }
        start = end;
        end += 60;
    }
    None
}

/// CloudWatch: 60 s periods aligned to the clock minute, 3 of 3 datapoints > threshold.
struct CloudWatch;

impl Rule<Trace> for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch-3of3"
    }
    fn alarm(&self, t: &Trace) -> Option<Alarm> {
        cloudwatch(t.steps.len() as u64, t.clock_offset, |a, b| {
            let (n, x) = t.steps[a..b]
                .iter()
                .fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            (n > 0).then(|| x as f64 / n as f64 > SLA)
        })
    }
}

/// Flagger: a check every minute over the last minute (`failed(window)` says whether it
/// fails); counter never reset; rollback at the tick after the counter reaches the threshold.
fn flagger<S>(steps: &[S], mut failed_check: impl FnMut(&[S]) -> bool) -> Option<Alarm> {
    let mut failed = 0;
    for (k, chunk) in steps.chunks(60).enumerate() {
        if chunk.len() < 60 {
            break;
        }
        let tick = (k as u64 + 1) * 60;
        if failed >= 5 {
            return at(tick);
        }
        if failed_check(chunk) {
            failed += 1;
        }
    }
    None
}

/// Flagger: a check every minute over the last minute; counter never reset; rollback at the
/// tick after the counter reaches the threshold.
struct Flagger;

impl Rule<Trace> for Flagger {
    fn name(&self) -> &'static str {
        "flagger-5x1m"
    }
    fn alarm(&self, t: &Trace) -> Option<Alarm> {
        flagger(&t.steps, |chunk| {
            let (n, x) = chunk.iter().fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            let success = if n == 0 {
                f64::NAN
            } else {
                100.0 * (n - x) as f64 / n as f64
            };
            // NaN (no values found) fails the check, as does a success rate under min.
            success.is_nan() || success < 100.0 * (1.0 - SLA)
        })
    }
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(19_737)
}

fn at_second(s: usize) -> DateTime<Utc> {
    epoch() + chrono::Duration::seconds(s as i64)
}

/// Builds the detector, with the baseline when the configuration has regression tests.
fn detector(config: &DetectorConfig, baseline: impl FnOnce() -> Baseline) -> SequentialDetector {
    let d = if config.regression.is_some() {
        SequentialDetector::with_baseline(config.clone(), baseline())
    } else {
        SequentialDetector::new(config.clone())
    };
    d.unwrap_or_else(|e| panic!("detector configuration rejected: {e}"))
}

/// Feeds observations until the first breach.
fn first_breach(
    mut d: SequentialDetector,
    obs: impl Iterator<Item = Observation>,
) -> Option<Alarm> {
    for (s, o) in obs.enumerate() {
        d.observe(o)
            .unwrap_or_else(|e| panic!("observation rejected: {e}"));
        if d.breached() {
            let by = d.verdict().breaches().next().map(|m| m.test);
            // The step [s, s+1) is known at its end.
            return Some(Alarm {
                at: s as u64 + 1,
                by,
            });
        }
    }
    None
}

/// The sequential detector, fed second by second.
struct Sequential {
    name: &'static str,
    config: DetectorConfig,
}

impl Rule<Trace> for Sequential {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &Trace) -> Option<Alarm> {
        let d = detector(&self.config, || Baseline {
            requests: t.baseline.0,
            errors: t.baseline.1,
            latency: None,
            label: "before the deploy".into(),
        });
        first_breach(
            d,
            t.steps
                .iter()
                .enumerate()
                .map(|(s, (n, x))| Observation::counts(at_second(s), *n, *x)),
        )
    }
    fn by_test(&self) -> bool {
        self.config.regression.is_some()
    }
}

fn sequential_config(persistence: Duration, fast_burn: f64) -> DetectorConfig {
    DetectorConfig {
        alpha: 0.01,
        min_requests: 50,
        step: Duration::from_secs(1),
        persistence,
        fast_burn,
        ..DetectorConfig::with_error_rate(SLA)
    }
}

fn with_regression(config: DetectorConfig, tolerance: f64) -> DetectorConfig {
    DetectorConfig {
        regression: Some(RegressionConfig {
            tolerance,
            ..RegressionConfig::default()
        }),
        ..config
    }
}

fn rules() -> Vec<Box<dyn Rule<Trace>>> {
    let p15 = Duration::from_secs(15);
    vec![
        Box::new(Sequential {
            name: "sequential",
            config: sequential_config(Duration::ZERO, 0.0),
        }),
        Box::new(Sequential {
            name: "sequential-p10s",
            config: sequential_config(Duration::from_secs(10), 0.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s",
            config: sequential_config(p15, 0.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s-b10",
            config: sequential_config(p15, 10.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s-b5",
            config: sequential_config(p15, 5.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s-b5-reg2",
            config: with_regression(sequential_config(p15, 5.0), 2.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s-b5-reg3",
            config: with_regression(sequential_config(p15, 5.0), 3.0),
        }),
        Box::new(Windows {
            consecutive: 1,
            name: "window-1",
        }),
        Box::new(Windows {
            consecutive: 3,
            name: "window-3",
        }),
        Box::new(CloudWatch),
        Box::new(Flagger),
    ]
}

/// The rules of the `errors-issue` section (traces without error blips): the four rules,
/// the detector without persistence (alone, with the fast tier, with the pre-deploy
/// baseline), and the blip model's recommended configuration for reference.
fn issue_rules() -> Vec<Box<dyn Rule<Trace>>> {
    vec![
        Box::new(Sequential {
            name: "sequential",
            config: sequential_config(Duration::ZERO, 0.0),
        }),
        Box::new(Sequential {
            name: "sequential-b5",
            config: sequential_config(Duration::ZERO, 5.0),
        }),
        Box::new(Sequential {
            name: "sequential-reg2",
            config: with_regression(sequential_config(Duration::ZERO, 0.0), 2.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s-b5",
            config: sequential_config(Duration::from_secs(15), 5.0),
        }),
        Box::new(Windows {
            consecutive: 1,
            name: "window-1",
        }),
        Box::new(Windows {
            consecutive: 3,
            name: "window-3",
        }),
        Box::new(CloudWatch),
        Box::new(Flagger),
    ]
}

// ---------------------------------------------------------------------------------------------
// Latency traces
// ---------------------------------------------------------------------------------------------

const LAT_RATES: [f64; 3] = [10.0, 100.0, 1000.0];
/// Histogram bounds (ms), Prometheus style.
const LE: [f64; 11] = [
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    f64::INFINITY,
];
/// Index of the SLA bound in `LE`.
const SLA_BUCKET: usize = 5;
/// The latency SLA: p95 < 250 ms.
const LAT_SLA_MS: f64 = 250.0;
/// Flagger's documented `request-duration` check: p99 ≤ 500 ms.
const FLAGGER_P99_MS: f64 = 500.0;
/// The pause blips' latency: lognormal median and σ.
const PAUSE_MEDIAN_MS: f64 = 400.0;
const PAUSE_SIGMA: f64 = 0.6;

/// Cumulative counts per `LE` bound.
type Buckets = [u64; 11];

/// The standard normal CDF (W. J. Cody's rational erfc approximation via Numerical Recipes'
/// `erfcc`, relative error < 1.2e-7).
fn phi(x: f64) -> f64 {
    let z = (x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let erfc = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// A latency distribution: a lognormal body and a lognormal slow path.
#[derive(Clone, Copy)]
struct Shape {
    body_median: f64,
    body_sigma: f64,
    tail_weight: f64,
    tail_median: f64,
    tail_sigma: f64,
}

const HEALTHY_SHAPE: Shape = Shape {
    body_median: 40.0,
    body_sigma: 0.6,
    tail_weight: 0.01,
    tail_median: 200.0,
    tail_sigma: 0.7,
};

impl Shape {
    /// `P(latency ≤ x)` with every latency × `scale`, and a pause blip `(share, median)`.
    fn cdf(&self, x: f64, scale: f64, pause: Option<f64>) -> f64 {
        let ln = x.ln();
        let body = phi((ln - (self.body_median * scale).ln()) / self.body_sigma);
        let tail = phi((ln - (self.tail_median * scale).ln()) / self.tail_sigma);
        let f = (1.0 - self.tail_weight) * body + self.tail_weight * tail;
        match pause {
            Some(w) => (1.0 - w) * f + w * phi((ln - PAUSE_MEDIAN_MS.ln()) / PAUSE_SIGMA),
            None => f,
        }
    }

    /// The `q` quantile (bisection on the CDF).
    fn quantile(&self, q: f64, scale: f64, pause: Option<f64>) -> f64 {
        let (mut lo, mut hi) = (1e-3f64, 1e6f64);
        for _ in 0..200 {
            let mid = (lo * hi).sqrt();
            if self.cdf(mid, scale, pause) < q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

/// The latency failures.
#[derive(Clone, Copy)]
enum LatencyFailure {
    /// The slow path grows: 3 % of requests, median 420 ms (p99 × 3).
    Tail,
    /// The body's median 40 → 60 ms (p50 + 50 %).
    Body,
    /// Everything × 4 (p95 × 4).
    Big,
}

const LAT_FAILURES: [LatencyFailure; 3] = [
    LatencyFailure::Tail,
    LatencyFailure::Body,
    LatencyFailure::Big,
];

impl LatencyFailure {
    fn label(self) -> &'static str {
        match self {
            LatencyFailure::Tail => "tail (p99 ×3)",
            LatencyFailure::Body => "body (p50 +50 %)",
            LatencyFailure::Big => "big (p95 ×4)",
        }
    }
    fn shape(self) -> Shape {
        match self {
            LatencyFailure::Tail => Shape {
                tail_weight: 0.03,
                tail_median: 420.0,
                ..HEALTHY_SHAPE
            },
            LatencyFailure::Body => Shape {
                body_median: 60.0,
                ..HEALTHY_SHAPE
            },
            LatencyFailure::Big => Shape {
                body_median: 4.0 * HEALTHY_SHAPE.body_median,
                tail_median: 4.0 * HEALTHY_SHAPE.tail_median,
                ..HEALTHY_SHAPE
            },
        }
    }
}

/// One second's histogram: `n` requests drawn from the shape (multinomial over the buckets).
fn histogram_step(rng: &mut Rng, n: u64, shape: &Shape, scale: f64, pause: Option<f64>) -> Buckets {
    let mut cum = [0u64; 11];
    let (mut left, mut below, mut count) = (n, 0.0f64, 0u64);
    for (i, le) in LE.iter().enumerate() {
        let f = if le.is_finite() {
            shape.cdf(*le, scale, pause).max(below)
        } else {
            1.0
        };
        let mass = 1.0 - below;
        let x = if !le.is_finite() || f >= 1.0 || mass <= 0.0 {
            left
        } else {
            rng.binomial_approx(left, (f - below) / mass)
        };
        left -= x;
        count += x;
        cum[i] = count;
        below = f;
    }
    cum
}

/// One latency trace: per-second cumulative histograms.
struct LatTrace {
    steps: Vec<Buckets>,
    clock_offset: u64,
    change: Option<u64>,
    /// The pre-deploy prefix's summed histogram.
    baseline: Buckets,
}

impl Watched for LatTrace {
    fn change(&self) -> Option<u64> {
        self.change
    }
}

/// The latency scale of a burst of traffic factor `f` (load-dependent slowdown).
fn burst_slowdown(f: f64) -> f64 {
    1.0 + 0.15 * (f - 1.0)
}

fn latency_steps(
    rng: &mut Rng,
    rate: f64,
    phase: f64,
    from: f64,
    len: u64,
    fail: Option<(u64, LatencyFailure)>,
) -> Vec<Buckets> {
    let bursts = episodes(rng, len as f64, 600.0, (20.0, 120.0), (2.0, 4.0));
    let pauses = episodes(rng, len as f64, 900.0, (2.0, 8.0), (0.05, 0.2));
    let failing = fail.map(|(c, f)| (c, f.shape()));
    let mut steps = Vec::with_capacity(len as usize);
    for s in 0..len {
        let t = s as f64;
        let day = diurnal(from + t, phase);
        let burst = active(&bursts, t);
        let n = rng.poisson(rate * (1.0 + 0.3 * day) * burst.unwrap_or(1.0));
        let scale = (1.0 + 0.2 * day) * burst.map_or(1.0, burst_slowdown);
        let shape = match failing {
            Some((c, shape)) if s >= c => shape,
            _ => HEALTHY_SHAPE,
        };
        steps.push(histogram_step(rng, n, &shape, scale, active(&pauses, t)));
    }
    steps
}

fn latency_trace(seed: u64, rate: f64, fail: Option<LatencyFailure>) -> LatTrace {
    let mut rng = Rng::new(seed);
    let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
    let clock_offset = rng.next_u64() % 60;
    let change = fail.map(|_| 300 + rng.next_u64() % 601);
    let len = change.map_or(HEALTHY_SECS, |c| c + WATCH_AFTER_CHANGE);
    let steps = latency_steps(&mut rng, rate, phase, 0.0, len, change.zip(fail));
    let mut prefix_rng = Rng::new(seed ^ PREFIX_STREAM);
    let prefix = latency_steps(
        &mut prefix_rng,
        rate,
        phase,
        -(PREFIX_SECS as f64),
        PREFIX_SECS,
        None,
    );
    LatTrace {
        steps,
        clock_offset,
        change,
        baseline: sum_buckets(&prefix),
    }
}

fn sum_buckets(steps: &[Buckets]) -> Buckets {
    let mut sum = [0u64; 11];
    for b in steps {
        for (s, c) in sum.iter_mut().zip(b) {
            *s += c;
        }
    }
    sum
}

/// Prometheus' `histogram_quantile` on cumulative bucket counts: the bucket where the rank
/// `q · total` falls, linear interpolation inside it (from 0 for the first bucket), the highest
/// finite bound when the rank falls into +Inf; NaN without observations.
fn histogram_quantile(q: f64, cum: &Buckets) -> f64 {
    let total = cum[LE.len() - 1];
    if total == 0 {
        return f64::NAN;
    }
    let rank = q * total as f64;
    let finite = LE.len() - 1;
    let Some(b) = (0..finite).find(|&i| cum[i] as f64 >= rank) else {
        return LE[finite - 1];
    };
    let (start, below) = if b == 0 {
        (0.0, 0)
    } else {
        (LE[b - 1], cum[b - 1])
    };
    let count = (cum[b] - below) as f64;
    start + (LE[b] - start) * ((rank - below as f64) / count)
}

/// Tumbling 60 s windows; a window is bad when its p95 is above the SLA.
struct LatWindows {
    consecutive: u32,
    name: &'static str,
}

impl Rule<LatTrace> for LatWindows {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &LatTrace) -> Option<Alarm> {
        let mut run = 0;
        for (w, chunk) in t.steps.chunks(60).enumerate() {
            if chunk.len() < 60 {
                break;
            }
            // NaN (no requests) is not a breach.
            let bad = histogram_quantile(0.95, &sum_buckets(chunk)) > LAT_SLA_MS;
            run = if bad { run + 1 } else { 0 };
            if run >= self.consecutive {
                return at((w as u64 + 1) * 60);
            }
        }
        None
    }
}

/// CloudWatch: one-minute p95 periods aligned to the clock minute, 3 of 3 > the SLA.
struct LatCloudWatch;

impl Rule<LatTrace> for LatCloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch-3of3"
    }
    fn alarm(&self, t: &LatTrace) -> Option<Alarm> {
        cloudwatch(t.steps.len() as u64, t.clock_offset, |a, b| {
            let p95 = histogram_quantile(0.95, &sum_buckets(&t.steps[a..b]));
            (!p95.is_nan()).then_some(p95 > LAT_SLA_MS)
        })
    }
}

/// Flagger's `request-duration`: p99 over the last minute ≤ 500 ms, checked every minute.
struct LatFlagger;

impl Rule<LatTrace> for LatFlagger {
    fn name(&self) -> &'static str {
        "flagger-5x1m"
    }
    fn alarm(&self, t: &LatTrace) -> Option<Alarm> {
        flagger(&t.steps, |chunk| {
            let p99 = histogram_quantile(0.99, &sum_buckets(chunk));
            // NaN (no values found) fails the check, as does a p99 above max.
            p99.is_nan() || p99 > FLAGGER_P99_MS
        })
    }
}

fn histogram(cum: &Buckets) -> LatencyHistogram {
    LatencyHistogram::new(LE.iter().copied().zip(cum.iter().copied()).collect())
        .unwrap_or_else(|e| panic!("histogram rejected: {e}"))
}

/// One second's observation: requests, no errors, requests slower than the SLA bound, and the
/// histogram when the shift test needs it.
fn latency_observation(s: usize, cum: &Buckets, with_histogram: bool) -> Observation {
    let n = cum[LE.len() - 1];
    let o = Observation::counts(at_second(s), n, 0).with_slow(n - cum[SLA_BUCKET]);
    if with_histogram {
        o.with_histogram(histogram(cum))
    } else {
        o
    }
}

fn latency_baseline(t: &LatTrace) -> Baseline {
    Baseline {
        requests: t.baseline[LE.len() - 1],
        errors: 0,
        latency: Some(histogram(&t.baseline)),
        label: "before the deploy".into(),
    }
}

/// The detector on latency traces.
struct LatSequential {
    name: &'static str,
    config: DetectorConfig,
}

impl Rule<LatTrace> for LatSequential {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &LatTrace) -> Option<Alarm> {
        let shift = self.config.regression.is_some();
        let d = detector(&self.config, || latency_baseline(t));
        first_breach(
            d,
            t.steps
                .iter()
                .enumerate()
                .map(|(s, cum)| latency_observation(s, cum, shift)),
        )
    }
    fn by_test(&self) -> bool {
        self.config.regression.is_some()
    }
}

fn latency_config() -> DetectorConfig {
    DetectorConfig {
        latency: Some(LatencySla {
            quantile: Quantile::P95,
            threshold: Threshold::new(LAT_SLA_MS, None),
            source: LatencySource::SlowCounts,
        }),
        ..sequential_config(Duration::from_secs(15), 5.0)
    }
}

fn latency_rules() -> Vec<Box<dyn Rule<LatTrace>>> {
    vec![
        Box::new(LatSequential {
            name: "sequential-p15s-b5",
            config: latency_config(),
        }),
        Box::new(LatSequential {
            name: "sequential-p15s-b5-shift2",
            config: with_regression(latency_config(), 2.0),
        }),
        Box::new(LatSequential {
            name: "sequential-p15s-b5-shift3",
            config: with_regression(latency_config(), 3.0),
        }),
        Box::new(LatWindows {
            consecutive: 1,
            name: "window-1",
        }),
        Box::new(LatWindows {
            consecutive: 3,
            name: "window-3",
        }),
        Box::new(LatCloudWatch),
        Box::new(LatFlagger),
    ]
}

// ---------------------------------------------------------------------------------------------
// Canary traces: a canary beside the stable release
// ---------------------------------------------------------------------------------------------

const CANARY_RATES: [f64; 3] = [10.0, 100.0, 1000.0];
/// The canary's share of the traffic (the stable release serves the rest).
const CANARY_SHARE: f64 = 0.2;
/// The hand-written difference rule: the canary's error rate above this multiple of the
/// stable release's over the same 60 s window.
const DIFF_RATIO: f64 = 2.0;

/// One canary trace: per-second (requests, errors) of the canary and of the stable release
/// serving beside it.
struct CanaryTrace {
    /// The canary arm, as the single-arm rules see it (no pre-deploy baseline).
    canary: Trace,
    stable: Vec<(u64, u64)>,
    /// The shared incidents (dependency outages), for the notes.
    outages: Vec<Episode>,
}

impl Watched for CanaryTrace {
    fn change(&self) -> Option<u64> {
        self.canary.change
    }
}

/// Canary trace seeds: bit 61 keeps them apart from the error traces' and the latency
/// traces' (bit 62), and from every prefix stream (bit 63).
fn canary_seed(rate: f64, kind: u64, i: u64) -> u64 {
    1 << 61 ^ (rate as u64) << 40 ^ kind << 32 ^ i
}

fn canary_trace(seed: u64, rate: f64, fail: Option<f64>) -> CanaryTrace {
    let mut rng = Rng::new(seed);
    let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
    let clock_offset = rng.next_u64() % 60;
    let change = fail.map(|_| 300 + rng.next_u64() % 601);
    let len = change.map_or(HEALTHY_SECS, |c| c + WATCH_AFTER_CHANGE);
    let l = len as f64;
    // Shared by both arms: traffic bursts and dependency outages.
    let bursts = episodes(&mut rng, l, 600.0, (20.0, 120.0), (2.0, 4.0));
    let outages = episodes(&mut rng, l, 1800.0, (30.0, 180.0), (0.01, 0.05));
    // Each arm's own pod-restart blips.
    let canary_blips = episodes(&mut rng, l, 1800.0, (2.0, 10.0), (0.01, 0.03));
    let stable_blips = episodes(&mut rng, l, 1800.0, (2.0, 10.0), (0.01, 0.03));
    let mut canary = Vec::with_capacity(len as usize);
    let mut stable = Vec::with_capacity(len as usize);
    for s in 0..len {
        let t = s as f64;
        let day = diurnal(t, phase);
        let burst = active(&bursts, t);
        let lambda = rate * (1.0 + 0.3 * day) * burst.unwrap_or(1.0);
        let mut q = 0.001 * (1.0 + 0.5 * day) * if burst.is_some() { 2.0 } else { 1.0 };
        if let Some(o) = active(&outages, t) {
            q = q.max(o);
        }
        let mut p = active(&canary_blips, t).map_or(q, |b| q.max(b));
        if let (Some(c), Some(f)) = (change, fail) {
            if s >= c {
                p = p.max(f);
            }
        }
        let pr = active(&stable_blips, t).map_or(q, |b| q.max(b));
        let n = rng.poisson(CANARY_SHARE * lambda);
        let nr = rng.poisson((1.0 - CANARY_SHARE) * lambda);
        canary.push((n, rng.binomial(n, p)));
        stable.push((nr, rng.binomial(nr, pr)));
    }
    CanaryTrace {
        canary: Trace {
            steps: canary,
            clock_offset,
            change,
            phase,
            baseline: (0, 0),
            healthy_p: Vec::new(),
        },
        stable,
        outages,
    }
}

/// A single-arm rule applied to the canary's own metrics, as Flagger's or Argo's canary
/// analysis does.
struct OnCanary<A>(Box<dyn Rule<A>>);

/// A trace with a canary arm of type `A` (as the single-arm rules see it).
trait HasCanary<A> {
    fn canary_arm(&self) -> &A;
}

impl HasCanary<Trace> for CanaryTrace {
    fn canary_arm(&self) -> &Trace {
        &self.canary
    }
}

impl<A, T: HasCanary<A>> Rule<T> for OnCanary<A> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn alarm(&self, t: &T) -> Option<Alarm> {
        self.0.alarm(t.canary_arm())
    }
}

/// The hand-written comparison: tumbling 60 s windows, a window is bad when the canary's
/// error rate is above `DIFF_RATIO` × the stable release's (a canary error in a window
/// without stable errors is bad); alarm at the `consecutive`-th bad window in a row.
struct DiffWindows {
    consecutive: u32,
    name: &'static str,
}

impl Rule<CanaryTrace> for DiffWindows {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &CanaryTrace) -> Option<Alarm> {
        let mut run = 0;
        let windows = t.canary.steps.chunks(60).zip(t.stable.chunks(60));
        for (w, (c, r)) in windows.enumerate() {
            if c.len() < 60 {
                break;
            }
            let sum = |v: &[(u64, u64)]| v.iter().fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            let ((n, x), (nr, xr)) = (sum(c), sum(r));
            let rate = |x: u64, n: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
            let bad = x > 0 && rate(x, n) > DIFF_RATIO * rate(xr, nr);
            run = if bad { run + 1 } else { 0 };
            if run >= self.consecutive {
                return at((w as u64 + 1) * 60);
            }
        }
        None
    }
}

/// Feeds observations until the first breach and on until `test` has crossed (or to the
/// end): the detector's first alarm, and `test`'s (each test's evidence is its own, so the
/// detector's alarm is the earliest of its tests').
fn first_breach_and_of(
    mut d: SequentialDetector,
    obs: impl Iterator<Item = Observation>,
    test: TestKind,
) -> (Option<Alarm>, Option<Alarm>) {
    let crossed = |d: &SequentialDetector| {
        d.verdict()
            .metrics
            .iter()
            .find(|m| m.test == test)
            .and_then(|m| m.since)
            .map(|since| Alarm {
                // The step [s, s+1) is known at its end.
                at: (since - epoch()).num_seconds() as u64 + 1,
                by: Some(test),
            })
    };
    let mut first = None;
    for (s, o) in obs.enumerate() {
        d.observe(o)
            .unwrap_or_else(|e| panic!("observation rejected: {e}"));
        if first.is_none() && d.breached() {
            let by = d.verdict().breaches().next().map(|m| m.test);
            first = Some(Alarm {
                at: s as u64 + 1,
                by,
            });
        }
        // The crossing time is kept, so looking once a minute after the first breach is exact.
        if first.is_some() && (s % 60 == 59 || first.is_some_and(|f| f.at == s as u64 + 1)) {
            if let Some(a) = crossed(&d) {
                return (first, Some(a));
            }
        }
    }
    (first, crossed(&d))
}

/// The detector built [`with_control`](SequentialDetector::with_control): the SLA tests on
/// the canary, and the paired tests against the stable release step by step. With `only`,
/// the alarm of that test alone (same detector, same alpha split).
struct Paired {
    name: &'static str,
    config: DetectorConfig,
    /// The paired test read alone, and its row's name.
    alone: (TestKind, &'static str),
}

impl Rule<CanaryTrace> for Paired {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &CanaryTrace) -> Option<Alarm> {
        self.alarms(t)[0]
    }
    fn rows(&self) -> Vec<&'static str> {
        vec![self.name, self.alone.1]
    }
    fn alarms(&self, t: &CanaryTrace) -> Vec<Option<Alarm>> {
        let d = SequentialDetector::with_control(self.config.clone(), "the stable release")
            .unwrap_or_else(|e| panic!("detector configuration rejected: {e}"));
        let obs =
            t.canary
                .steps
                .iter()
                .zip(&t.stable)
                .enumerate()
                .map(|(s, ((n, x), (nr, xr)))| {
                    Observation::counts(at_second(s), *n, *x).with_control(ControlCounts {
                        requests: *nr,
                        errors: *xr,
                        histogram: None,
                        latency_ms: None,
                    })
                });
        let (first, alone) = first_breach_and_of(d, obs, self.alone.0);
        vec![first, alone]
    }
    fn by_test(&self) -> bool {
        true
    }
    fn test_label(&self, t: Option<TestKind>) -> &'static str {
        paired_test_name(t)
    }
}

/// Test names in a detector built `with_control`.
fn paired_test_name(t: Option<TestKind>) -> &'static str {
    match t {
        Some(TestKind::ErrorRegression) => "paired errors",
        Some(TestKind::LatencyShift) => "paired latency",
        _ => test_name(t),
    }
}

fn canary_rules() -> Vec<Box<dyn Rule<CanaryTrace>>> {
    let b5 = || sequential_config(Duration::from_secs(15), 5.0);
    vec![
        Box::new(OnCanary(Box::new(Sequential {
            name: "sequential-p15s-b5",
            config: b5(),
        }))),
        Box::new(Paired {
            name: "sequential-p15s-b5-paired2",
            config: with_regression(b5(), 2.0),
            alone: (TestKind::ErrorRegression, "-paired2: paired test's alarm"),
        }),
        Box::new(Paired {
            name: "sequential-p15s-b5-paired3",
            config: with_regression(b5(), 3.0),
            alone: (TestKind::ErrorRegression, "-paired3: paired test's alarm"),
        }),
        Box::new(OnCanary(Box::new(Windows {
            consecutive: 1,
            name: "window-1",
        }))),
        Box::new(OnCanary(Box::new(Windows {
            consecutive: 3,
            name: "window-3",
        }))),
        Box::new(OnCanary(Box::new(CloudWatch))),
        Box::new(OnCanary(Box::new(Flagger))),
        Box::new(DiffWindows {
            consecutive: 1,
            name: "diff-2x-window-1",
        }),
        Box::new(DiffWindows {
            consecutive: 3,
            name: "diff-2x-window-3",
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Canary latency traces
// ---------------------------------------------------------------------------------------------

/// One canary latency trace: per-second histograms of the canary and of the stable release.
struct LatCanaryTrace {
    /// The canary arm, as the single-arm rules see it (no pre-deploy baseline).
    canary: LatTrace,
    stable: Vec<Buckets>,
    /// The shared incidents (dependency slowdowns), for the notes.
    slowdowns: Vec<Episode>,
}

impl Watched for LatCanaryTrace {
    fn change(&self) -> Option<u64> {
        self.canary.change
    }
}

impl HasCanary<LatTrace> for LatCanaryTrace {
    fn canary_arm(&self) -> &LatTrace {
        &self.canary
    }
}

fn lat_canary_trace(seed: u64, rate: f64, fail: Option<LatencyFailure>) -> LatCanaryTrace {
    let mut rng = Rng::new(seed);
    let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
    let clock_offset = rng.next_u64() % 60;
    let change = fail.map(|_| 300 + rng.next_u64() % 601);
    let len = change.map_or(HEALTHY_SECS, |c| c + WATCH_AFTER_CHANGE);
    let l = len as f64;
    // Shared by both arms: traffic bursts (and their slowdown) and dependency slowdowns.
    let bursts = episodes(&mut rng, l, 600.0, (20.0, 120.0), (2.0, 4.0));
    let slowdowns = episodes(&mut rng, l, 1800.0, (30.0, 180.0), (1.5, 3.0));
    // Each arm's own pause blips.
    let canary_pauses = episodes(&mut rng, l, 900.0, (2.0, 8.0), (0.05, 0.2));
    let stable_pauses = episodes(&mut rng, l, 900.0, (2.0, 8.0), (0.05, 0.2));
    let failing = fail.map(|f| f.shape());
    let mut canary = Vec::with_capacity(len as usize);
    let mut stable = Vec::with_capacity(len as usize);
    for s in 0..len {
        let t = s as f64;
        let day = diurnal(t, phase);
        let burst = active(&bursts, t);
        let lambda = rate * (1.0 + 0.3 * day) * burst.unwrap_or(1.0);
        let scale = (1.0 + 0.2 * day)
            * burst.map_or(1.0, burst_slowdown)
            * active(&slowdowns, t).unwrap_or(1.0);
        let shape = match (change, failing) {
            (Some(c), Some(shape)) if s >= c => shape,
            _ => HEALTHY_SHAPE,
        };
        let n = rng.poisson(CANARY_SHARE * lambda);
        let nr = rng.poisson((1.0 - CANARY_SHARE) * lambda);
        canary.push(histogram_step(
            &mut rng,
            n,
            &shape,
            scale,
            active(&canary_pauses, t),
        ));
        stable.push(histogram_step(
            &mut rng,
            nr,
            &HEALTHY_SHAPE,
            scale,
            active(&stable_pauses, t),
        ));
    }
    LatCanaryTrace {
        canary: LatTrace {
            steps: canary,
            clock_offset,
            change,
            baseline: [0; 11],
        },
        stable,
        slowdowns,
    }
}

/// The latency detector built `with_control`, every observation carrying both arms'
/// histograms; with the paired latency test read alone.
struct LatPaired {
    name: &'static str,
    config: DetectorConfig,
    alone: &'static str,
}

impl Rule<LatCanaryTrace> for LatPaired {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &LatCanaryTrace) -> Option<Alarm> {
        self.alarms(t)[0]
    }
    fn rows(&self) -> Vec<&'static str> {
        vec![self.name, self.alone]
    }
    fn alarms(&self, t: &LatCanaryTrace) -> Vec<Option<Alarm>> {
        let d = SequentialDetector::with_control(self.config.clone(), "the stable release")
            .unwrap_or_else(|e| panic!("detector configuration rejected: {e}"));
        let obs = t
            .canary
            .steps
            .iter()
            .zip(&t.stable)
            .enumerate()
            .map(|(s, (cum, stable))| {
                latency_observation(s, cum, true).with_control(ControlCounts {
                    requests: stable[LE.len() - 1],
                    errors: 0,
                    histogram: Some(histogram(stable)),
                    latency_ms: None,
                })
            });
        let (first, alone) = first_breach_and_of(d, obs, TestKind::LatencyShift);
        vec![first, alone]
    }
    fn by_test(&self) -> bool {
        true
    }
    fn test_label(&self, t: Option<TestKind>) -> &'static str {
        paired_test_name(t)
    }
}

fn lat_canary_rules() -> Vec<Box<dyn Rule<LatCanaryTrace>>> {
    vec![
        Box::new(OnCanary(Box::new(LatSequential {
            name: "sequential-p15s-b5",
            config: latency_config(),
        }))),
        Box::new(LatPaired {
            name: "sequential-p15s-b5-paired2",
            config: with_regression(latency_config(), 2.0),
            alone: "-paired2: paired latency test's alarm",
        }),
        Box::new(LatPaired {
            name: "sequential-p15s-b5-paired3",
            config: with_regression(latency_config(), 3.0),
            alone: "-paired3: paired latency test's alarm",
        }),
        Box::new(OnCanary(Box::new(LatWindows {
            consecutive: 1,
            name: "window-1",
        }))),
        Box::new(OnCanary(Box::new(LatWindows {
            consecutive: 3,
            name: "window-3",
        }))),
        Box::new(OnCanary(Box::new(LatCloudWatch))),
        Box::new(OnCanary(Box::new(LatFlagger))),
    ]
}

// ---------------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------------

/// Every rule's alarm on one trace.
struct Run {
    change: Option<u64>,
    alarms: Vec<Option<Alarm>>,
}

/// Traces `0..n` (built by `make`), every rule on each, spread over `threads` threads; in
/// trace order.
fn run_traces<T: Watched>(
    n: u64,
    threads: usize,
    make: impl Fn(u64) -> T + Sync,
    rules: &[Box<dyn Rule<T>>],
) -> Vec<Run> {
    par_map(n, threads, |i| {
        let t = make(i);
        Run {
            change: t.change(),
            alarms: rules.iter().flat_map(|r| r.alarms(&t)).collect(),
        }
    })
}

/// Every rule on `healthy_traces` healthy traces (`healthy(i)`) and, per failure `f` (the
/// `k`-th, numbered from 1), on `failing_traces` failing ones (`failing(k, f, i)`).
fn healthy_and_failing<T: Watched, F: Copy + Sync>(
    (healthy_traces, failing_traces): (u64, u64),
    threads: usize,
    failures: &[F],
    healthy: impl Fn(u64) -> T + Sync,
    failing: impl Fn(u64, F, u64) -> T + Sync,
    rules: &[Box<dyn Rule<T>>],
) -> (Vec<Run>, Vec<Vec<Run>>) {
    let h = run_traces(healthy_traces, threads, healthy, rules);
    let f = failures
        .iter()
        .enumerate()
        .map(|(k, &f)| {
            run_traces(
                failing_traces,
                threads,
                |i| failing(k as u64 + 1, f, i),
                rules,
            )
        })
        .collect();
    (h, f)
}

fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

fn quantile_f(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn test_name(t: Option<TestKind>) -> &'static str {
    match t {
        Some(TestKind::ErrorRate) => "SLA error rate",
        Some(TestKind::SlowFraction) => "SLA slow requests",
        Some(TestKind::LatencySign) => "SLA latency sign",
        Some(TestKind::ErrorRegression) => "error regression",
        Some(TestKind::LatencyShift) => "latency shift",
        None => "rule",
    }
}

/// The Markdown table of one traffic rate: FPR over `healthy`, then per column of `failing`
/// the delays from the change (median / p95), misses and early alarms; below it, for the rows
/// that break alarms down by test, which test fired.
fn table<T>(
    out: &mut String,
    rules: &[Box<dyn Rule<T>>],
    columns: &[String],
    healthy: &[Run],
    failing: &[Vec<Run>],
) {
    let mut header = "| rule | FPR (healthy) |".to_string();
    for c in columns {
        let _ = write!(header, " {c}: median / p95 (miss, early) |");
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(columns.len()));
    let mut notes = Vec::new();
    for (r, (rule, row_index, name)) in rows(rules).into_iter().enumerate() {
        let fp = healthy.iter().filter(|h| h.alarms[r].is_some()).count();
        let mut row = format!(
            "| {} | {:.1} % ({}/{}) |",
            name,
            100.0 * fp as f64 / healthy.len().max(1) as f64,
            fp,
            healthy.len()
        );
        let mut by: Vec<String> = Vec::new();
        let tally = |runs: &mut dyn Iterator<Item = Option<TestKind>>| {
            let mut m: BTreeMap<&'static str, u64> = BTreeMap::new();
            for k in runs {
                *m.entry(rule.test_label(k)).or_default() += 1;
            }
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let healthy_by = tally(&mut healthy.iter().filter_map(|h| h.alarms[r]).map(|a| a.by));
        by.push(format!(
            "healthy: {}",
            if healthy_by.is_empty() {
                "none".to_string()
            } else {
                healthy_by
            }
        ));
        for (c, runs) in columns.iter().zip(failing) {
            let mut delays = Vec::new();
            let (mut miss, mut early) = (0u64, 0u64);
            for run in runs {
                let change = run.change.unwrap_or(0);
                match run.alarms[r] {
                    Some(a) if a.at <= change => early += 1,
                    Some(a) => delays.push(a.at - change),
                    None => miss += 1,
                }
            }
            delays.sort_unstable();
            let cell = match (quantile(&delays, 0.5), quantile(&delays, 0.95)) {
                (Some(m), Some(p)) => format!("{m} / {p}"),
                _ => "– / –".to_string(),
            };
            let _ = write!(row, " {cell} ({miss}, {early}) |");
            let fired = tally(&mut runs.iter().filter_map(|h| {
                h.alarms[r]
                    .filter(|a| a.at > h.change.unwrap_or(0))
                    .map(|a| a.by)
            }));
            let early_by = tally(&mut runs.iter().filter_map(|h| {
                h.alarms[r]
                    .filter(|a| a.at <= h.change.unwrap_or(0))
                    .map(|a| a.by)
            }));
            let mut s = format!("{c}: {}", if fired.is_empty() { "none" } else { &fired });
            if !early_by.is_empty() {
                let _ = write!(s, " (early: {early_by})");
            }
            by.push(s);
        }
        let _ = writeln!(out, "{row}");
        if rule.by_test() && row_index == 0 {
            notes.push(format!("* `{}`, test that fired — {}", name, by.join("; ")));
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    let _ = writeln!(out);
}

fn pct(f: f64) -> String {
    let s = format!("{:.1}", f * 100.0);
    format!("{} %", s.trim_end_matches(".0"))
}

fn seed(rate: f64, fail: f64, i: u64) -> u64 {
    (rate as u64) << 40 ^ ((fail * 1000.0) as u64) << 24 ^ i
}

/// Latency trace seeds: bit 62 keeps them apart from the error traces'.
fn latency_seed(rate: f64, kind: u64, i: u64) -> u64 {
    1 << 62 ^ (rate as u64) << 40 ^ kind << 32 ^ i
}

/// `(median, p95, max)` of a sample, as text.
fn spread(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "median {:.2}, p95 {:.2}, max {:.2}",
        quantile_f(&v, 0.5),
        quantile_f(&v, 0.95),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

/// Per trace: the largest value over the watched hour of a diurnal factor `g(t)` against its
/// mean over the prefix.
fn diurnal_drift(phase: f64, g: impl Fn(f64) -> f64) -> f64 {
    let prefix = (0..PREFIX_SECS)
        .map(|s| g(diurnal(s as f64 - PREFIX_SECS as f64, phase)))
        .sum::<f64>()
        / PREFIX_SECS as f64;
    let watched = (0..HEALTHY_SECS)
        .map(|s| g(diurnal(s as f64, phase)))
        .fold(f64::NEG_INFINITY, f64::max);
    watched / prefix
}

/// What the baselines of the healthy error traces look like: whether the regression test
/// runs, its null rate, and the drift between the prefix and the watched hour.
fn error_baseline_notes(out: &mut String, rate: f64, healthy_traces: u64, blips: bool) {
    let mut drift = Vec::new();
    let mut realized = Vec::new();
    let mut nulls: Vec<Vec<f64>> = vec![Vec::new(); 2];
    let mut rates = Vec::new();
    for i in 0..healthy_traces {
        let t = trace_with(seed(rate, 0.0, i), rate, None, blips);
        rates.push(t.baseline.1 as f64 / t.baseline.0.max(1) as f64);
        drift.push(diurnal_drift(t.phase, |d| 1.0 + 0.5 * d));
        let (n, x) = t
            .steps
            .iter()
            .fold((0u64, 0u64), |(n, x), (a, b)| (n + a, x + b));
        if t.baseline.1 > 0 && n > 0 {
            realized.push((x as f64 / n as f64) / (t.baseline.1 as f64 / t.baseline.0 as f64));
        }
        for (k, tol) in [2.0, 3.0].into_iter().enumerate() {
            let d = detector(
                &with_regression(sequential_config(Duration::from_secs(15), 5.0), tol),
                || Baseline {
                    requests: t.baseline.0,
                    errors: t.baseline.1,
                    latency: None,
                    label: "before the deploy".into(),
                },
            );
            if let Some(m) = d
                .verdict()
                .metrics
                .iter()
                .find(|m| m.test == TestKind::ErrorRegression)
            {
                nulls[k].push(m.null_rate);
            }
        }
    }
    let _ = writeln!(
        out,
        "Baselines (30 min before each healthy trace): error rate median {}; error-regression test run in {}/{healthy_traces} traces with tolerance 2 (null rate median {}, p5–p95 {} – {}) and {}/{healthy_traces} with tolerance 3 (median {}); in the others it is skipped because tolerance × the baseline's upper confidence bound is not below the 0.5 % SLA (or the baseline has fewer than 1,000 requests).",
        null_pct(&mut rates, 0.5),
        nulls[0].len(),
        null_pct(&mut nulls[0], 0.5),
        null_pct(&mut nulls[0], 0.05),
        null_pct(&mut nulls[0], 0.95),
        nulls[1].len(),
        null_pct(&mut nulls[1], 0.5),
    );
    let _ = writeln!(
        out,
        "Drift, prefix → watched hour: diurnal factor of the error rate, peak of the hour / mean of the prefix: {}; realised error rate of the hour / of the prefix ({} traces with baseline errors): {}, p5 {:.2}.\n",
        spread(drift),
        realized.len(),
        spread(realized.clone()),
        {
            realized.sort_by(f64::total_cmp);
            quantile_f(&realized, 0.05)
        }
    );
}

fn null_pct(v: &mut [f64], q: f64) -> String {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        "–".to_string()
    } else {
        format!("{:.3} %", 100.0 * quantile_f(v, q))
    }
}

/// The `errors` section (traces with error blips, `rules()`) or, with `blips` false, the
/// `errors-issue` section: the same traces (same seeds) without the error blips, the issue's
/// noise model (`issue_rules()`).
fn report_errors(healthy_traces: u64, failing_traces: u64, threads: usize, blips: bool) -> String {
    let rules = if blips { rules() } else { issue_rules() };
    let mut out = String::new();
    let (intro, reg) = if blips {
        ("", "The `-reg` rows also test")
    } else {
        (
            "The error traces above (same seeds, traffic, diurnal drift, bursts, prefix) without the error blips. ",
            "`sequential-reg2` also tests",
        )
    };
    let _ = writeln!(
        out,
        "{intro}SLA error rate < 0.5 % for every rule; {healthy_traces} healthy traces of 60 min and {failing_traces} failing traces per cell; delays in seconds from the change (median / p95), `miss` = not detected within 30 min, `early` = alarm before the change (excluded from delays). {reg} against the 30 min before each trace.\n"
    );
    let columns: Vec<String> = FAIL_RATES
        .iter()
        .map(|f| format!("{} errors", pct(*f)))
        .collect();
    for &rate in &RATES {
        let _ = writeln!(out, "### {rate} req/s\n");
        let (healthy, failing) = healthy_and_failing(
            (healthy_traces, failing_traces),
            threads,
            &FAIL_RATES,
            |i| trace_with(seed(rate, 0.0, i), rate, None, blips),
            |_, f, i| trace_with(seed(rate, f, i), rate, Some(f), blips),
            &rules,
        );
        table(&mut out, &rules, &columns, &healthy, &failing);
        error_baseline_notes(&mut out, rate, healthy_traces, blips);
    }
    out
}

/// The oracle rows' statistic: CUSUM (`W ← max(0, W + llr)`) or Shiryaev–Roberts
/// (`R ← (1 + R)·e^llr`, kept as `ln R`), where `llr` is the step's log-likelihood ratio of
/// failing at `f` against the trace's own healthy rate that second (which the oracle knows:
/// `Trace::healthy_p`). One value per step.
fn oracle_path(t: &Trace, f: f64, sr: bool) -> Vec<f64> {
    let mut stat = if sr { f64::NEG_INFINITY } else { 0.0 };
    t.steps
        .iter()
        .zip(&t.healthy_p)
        .map(|(&(n, x), &p0)| {
            let llr = x as f64 * (f / p0).ln() + (n - x) as f64 * ((1.0 - f) / (1.0 - p0)).ln();
            stat = if sr {
                // ln(1 + e^stat), stably.
                let soft = if stat > 0.0 {
                    stat + (-stat).exp().ln_1p()
                } else {
                    stat.exp().ln_1p()
                };
                llr + soft
            } else {
                (stat + llr).max(0.0)
            };
            stat
        })
        .collect()
}

/// `f(i)` for `i` in `0..n`, spread over `threads` threads; in order.
fn par_map<R: Send>(n: u64, threads: usize, f: impl Fn(u64) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, n.max(1) as usize) as u64;
    let per = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| s.spawn(move || (k * per..((k + 1) * per).min(n)).map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("simulation thread panicked"))
            })
            .collect()
    })
}

/// The `errors-oracle` section: on the traces of `errors-issue` (no blips), how fast a
/// detector could be that knows everything the generator knows — the healthy error rate of
/// every second (diurnal drift and bursts included), the failure rate of the column — and
/// whose threshold is tuned on these very healthy traces to the lowest value with no false
/// alarm (the largest value its statistic reaches on any of them). Its delays bound from
/// below what any detector can do at the FPR of the rules (0/N on these traces at ≥ 100
/// req/s): CUSUM is the minimax-optimal change detector for known pre- and post-change laws
/// (Lorden 1971, Moustakides 1986), Shiryaev–Roberts the optimal one for a change at a random
/// time (Pollak 1985). `window-1` and `sequential-reg2` are run on the same traces.
fn report_errors_oracle(healthy_traces: u64, failing_traces: u64, threads: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "The traces of the issue's noise model (no blips). Oracle rows know each second's healthy error rate and the failure rate, and their thresholds are the largest value their statistic reaches on the {healthy_traces} healthy traces of the same rate (so 0/{healthy_traces} false alarms, in-sample); {failing_traces} failing traces per cell; delays in seconds from the change (median / p95), `miss` = not detected within 30 min, `early` = alarm before the change (excluded from delays). `goal` = 1/10 of `window-1`'s median.\n"
    );
    let window_1 = Windows {
        consecutive: 1,
        name: "window-1",
    };
    let reg2 = Sequential {
        name: "sequential-reg2",
        config: with_regression(sequential_config(Duration::ZERO, 0.0), 2.0),
    };
    for &rate in &RATES {
        let _ = writeln!(out, "### {rate} req/s\n");
        // Per failure rate, the largest CUSUM and SR values on each healthy trace.
        let healthy: Vec<Vec<[f64; 2]>> = par_map(healthy_traces, threads, |i| {
            let t = trace_with(seed(rate, 0.0, i), rate, None, false);
            FAIL_RATES
                .iter()
                .map(|&f| {
                    [false, true].map(|sr| {
                        oracle_path(&t, f, sr)
                            .into_iter()
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                })
                .collect()
        });
        // thresholds[f][cusum, sr]
        let thresholds: Vec<[f64; 2]> = (0..FAIL_RATES.len())
            .map(|k| {
                [0, 1].map(|j| {
                    healthy
                        .iter()
                        .map(|h| h[k][j])
                        .fold(f64::NEG_INFINITY, f64::max)
                })
            })
            .collect();
        let names = ["oracle-cusum", "oracle-sr", "sequential-reg2", "window-1"];
        // cells[row][column] = (delays, miss, early)
        let mut cells: Vec<Vec<(Vec<u64>, u64, u64)>> = vec![Vec::new(); names.len()];
        for (k, &f) in FAIL_RATES.iter().enumerate() {
            let runs: Vec<(u64, [Option<u64>; 4])> = par_map(failing_traces, threads, |i| {
                let t = trace_with(seed(rate, f, i), rate, Some(f), false);
                let cross = |sr: bool| {
                    let h = thresholds[k][usize::from(sr)];
                    oracle_path(&t, f, sr)
                        .iter()
                        .position(|&v| v > h)
                        .map(|s| s as u64 + 1)
                };
                (
                    t.change.unwrap_or(0),
                    [
                        cross(false),
                        cross(true),
                        reg2.alarm(&t).map(|a| a.at),
                        window_1.alarm(&t).map(|a| a.at),
                    ],
                )
            });
            for (r, cell) in cells.iter_mut().enumerate() {
                let (mut delays, mut miss, mut early) = (Vec::new(), 0, 0);
                for (change, alarms) in &runs {
                    match alarms[r] {
                        Some(a) if a <= *change => early += 1,
                        Some(a) => delays.push(a - change),
                        None => miss += 1,
                    }
                }
                delays.sort_unstable();
                cell.push((delays, miss, early));
            }
        }
        let mut header = "| rule |".to_string();
        for f in FAIL_RATES {
            let _ = write!(header, " {} errors: median / p95 (miss, early) |", pct(f));
        }
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "|---|{}", "---|".repeat(FAIL_RATES.len()));
        let median = |d: &[u64]| quantile(d, 0.5);
        for (r, name) in names.iter().enumerate() {
            let mut row = format!("| {name} |");
            for (delays, miss, early) in &cells[r] {
                let cell = match (median(delays), quantile(delays, 0.95)) {
                    (Some(m), Some(p)) => format!("{m} / {p}"),
                    _ => "– / –".to_string(),
                };
                let _ = write!(row, " {cell} ({miss}, {early}) |");
            }
            let _ = writeln!(out, "{row}");
        }
        let mut goal = "| goal (1/10 of `window-1`) |".to_string();
        for c in &cells[3] {
            match median(&c.0) {
                Some(m) => {
                    let _ = write!(goal, " ≤ {:.1} |", m as f64 / 10.0);
                }
                None => goal.push_str(" – |"),
            }
        }
        let _ = writeln!(out, "{goal}\n");
        let th: Vec<String> = FAIL_RATES
            .iter()
            .zip(&thresholds)
            .map(|(f, h)| format!("{}: CUSUM {:.1}, SR {:.1}", pct(*f), h[0], h[1]))
            .collect();
        let _ = writeln!(
            out,
            "Oracle thresholds (nats; `ln R` for SR), the largest healthy value: {}.\n",
            th.join("; ")
        );
    }
    out
}

/// The latency model's quantiles, for the report.
fn latency_model_table(out: &mut String) {
    let _ = writeln!(
        out,
        "| latency distribution | p50 | p95 | p99 | > 100 ms | > 250 ms |\n|---|---|---|---|---|---|"
    );
    let peak = 1.2 * burst_slowdown(4.0);
    let healthy =
        |name: String, scale: f64, pause: Option<f64>| (name, HEALTHY_SHAPE, scale, pause);
    let mut rows = vec![
        healthy("healthy, diurnal low (× 0.8)".into(), 0.8, None),
        healthy("healthy, median load".into(), 1.0, None),
        healthy(
            "healthy, + 7 % (the largest prefix → hour drift)".into(),
            1.07,
            None,
        ),
        healthy("healthy, diurnal peak (× 1.2)".into(), 1.2, None),
        healthy(
            format!(
                "healthy, median load in a × 4 burst (× {:.2})",
                burst_slowdown(4.0)
            ),
            burst_slowdown(4.0),
            None,
        ),
        healthy(
            format!("healthy, diurnal peak in a × 4 burst (× {peak:.2})"),
            peak,
            None,
        ),
        healthy(
            "healthy, median load in a 20 % pause blip".into(),
            1.0,
            Some(0.2),
        ),
    ];
    for f in LAT_FAILURES {
        rows.push((
            format!("failing: {}, median load", f.label()),
            f.shape(),
            1.0,
            None,
        ));
    }
    rows.push((
        format!(
            "failing: {}, diurnal low (× 0.8)",
            LatencyFailure::Tail.label()
        ),
        LatencyFailure::Tail.shape(),
        0.8,
        None,
    ));
    rows.push((
        format!(
            "failing: {}, diurnal low (× 0.8)",
            LatencyFailure::Big.label()
        ),
        LatencyFailure::Big.shape(),
        0.8,
        None,
    ));
    for (name, shape, scale, pause) in rows {
        let _ = writeln!(
            out,
            "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} % | {:.2} % |",
            shape.quantile(0.5, scale, pause),
            shape.quantile(0.95, scale, pause),
            shape.quantile(0.99, scale, pause),
            100.0 * (1.0 - shape.cdf(100.0, scale, pause)),
            100.0 * (1.0 - shape.cdf(LAT_SLA_MS, scale, pause)),
        );
    }
    let _ = writeln!(out);
}

fn report_latency(healthy_traces: u64, failing_traces: u64, threads: usize) -> String {
    let rules = latency_rules();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SLA p95 < 250 ms (Flagger: its documented p99 ≤ 500 ms); per-second histograms, window quantiles as `histogram_quantile` computes them; {healthy_traces} healthy traces of 60 min and {failing_traces} failing traces per cell; delays in seconds from the change (median / p95), `miss` = not detected within 30 min, `early` = alarm before the change. The `-shift` rows also test the latency distribution against the 30 min before each trace.\n"
    );
    latency_model_table(&mut out);
    let columns: Vec<String> = LAT_FAILURES.iter().map(|f| f.label().to_string()).collect();
    for &rate in &LAT_RATES {
        let _ = writeln!(out, "### Latency, {rate} req/s\n");
        let (healthy, failing) = healthy_and_failing(
            (healthy_traces, failing_traces),
            threads,
            &LAT_FAILURES,
            |i| latency_trace(latency_seed(rate, 0, i), rate, None),
            |k, f, i| latency_trace(latency_seed(rate, k, i), rate, Some(f)),
            &rules,
        );
        table(&mut out, &rules, &columns, &healthy, &failing);
        let drift: Vec<f64> = (0..healthy_traces)
            .map(|i| {
                // The phase is a trace's first draw.
                let mut rng = Rng::new(latency_seed(rate, 0, i));
                let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
                diurnal_drift(phase, |d| 1.0 + 0.2 * d)
            })
            .collect();
        let _ = writeln!(
            out,
            "Drift, prefix → watched hour: diurnal latency scale, peak of the hour / mean of the prefix: {}.\n",
            spread(drift)
        );
    }
    out
}

/// What the healthy canary traces contain: shared outages, and the false alarms of each rule
/// in the traces without one.
fn canary_notes(
    out: &mut String,
    rate: f64,
    rules: &[Box<dyn Rule<CanaryTrace>>],
    healthy: &[Run],
) {
    let mut with_outage = 0;
    let mut long_outage = 0;
    let mut quiet = Vec::new();
    let mut ratio = Vec::new();
    for (i, run) in healthy.iter().enumerate() {
        let t = canary_trace(canary_seed(rate, 0, i as u64), rate, None);
        let hour = t.canary.steps.len() as f64;
        let outages: Vec<&Episode> = t.outages.iter().filter(|o| o.start < hour).collect();
        if outages.is_empty() {
            quiet.push(run);
        } else {
            with_outage += 1;
        }
        if outages.iter().any(|o| o.end.min(hour) - o.start >= 60.0) {
            long_outage += 1;
        }
        let sum = |v: &[(u64, u64)]| v.iter().fold((0u64, 0u64), |(n, x), (a, b)| (n + a, x + b));
        let ((n, x), (nr, xr)) = (sum(&t.canary.steps), sum(&t.stable));
        if x > 0 && xr > 0 {
            ratio.push((x as f64 / n as f64) / (xr as f64 / nr as f64));
        }
    }
    let quiet_alarms: Vec<String> = rows(rules)
        .iter()
        .enumerate()
        .map(|(r, (_, _, name))| {
            let k = quiet.iter().filter(|h| h.alarms[r].is_some()).count();
            format!("`{name}` {k}")
        })
        .collect();
    let _ = writeln!(
        out,
        "Shared outages: {with_outage}/{} healthy traces have at least one in the hour ({long_outage} one of 60 s or more). False alarms in the {} healthy traces without one: {}.",
        healthy.len(),
        quiet.len(),
        quiet_alarms.join(", ")
    );
    let _ = writeln!(
        out,
        "Realised error rate of the canary / of the stable release over the healthy hour ({} traces with errors in both): {}.\n",
        ratio.len(),
        spread(ratio)
    );
}

fn report_canary(healthy_traces: u64, failing_traces: u64, threads: usize) -> String {
    let rules = canary_rules();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A canary taking {} of the traffic beside the stable release; SLA error rate < 0.5 % on the canary's own metrics for the single-arm rules; {healthy_traces} healthy traces of 60 min and {failing_traces} failing traces per cell (the canary's error rate jumps, the stable release's does not); delays in seconds from the change (median / p95), `miss` = not detected within 30 min, `early` = alarm before the change. The `-paired` rows also test the canary against the stable release step by step; their `paired test's alarm` rows are the same detectors, read for the paired test alone (when it crossed, whatever the SLA test did).\n",
        pct(CANARY_SHARE)
    );
    let columns: Vec<String> = FAIL_RATES
        .iter()
        .map(|f| format!("{} errors", pct(*f)))
        .collect();
    for &rate in &CANARY_RATES {
        let _ = writeln!(out, "### Canary, {rate} req/s in total\n");
        let (healthy, failing) = healthy_and_failing(
            (healthy_traces, failing_traces),
            threads,
            &FAIL_RATES,
            |i| canary_trace(canary_seed(rate, 0, i), rate, None),
            |k, f, i| canary_trace(canary_seed(rate, k, i), rate, Some(f)),
            &rules,
        );
        table(&mut out, &rules, &columns, &healthy, &failing);
        canary_notes(&mut out, rate, &rules, &healthy);
    }
    out
}

/// Canary latency seeds: bits 61 and 60.
fn lat_canary_seed(rate: f64, kind: u64, i: u64) -> u64 {
    1 << 61 ^ 1 << 60 ^ (rate as u64) << 40 ^ kind << 32 ^ i
}

fn report_lat_canary(
    healthy_traces: u64,
    failing_traces: u64,
    threads: usize,
    rates: &[f64],
) -> String {
    let rules = lat_canary_rules();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A canary taking {} of the traffic beside the stable release; SLA p95 < 250 ms on the canary's own histograms for the single-arm rules (Flagger: p99 ≤ 500 ms); {healthy_traces} healthy traces of 60 min and {failing_traces} failing traces per cell (the canary's latency changes, the stable release's does not); delays in seconds from the change (median / p95), `miss` = not detected within 30 min, `early` = alarm before the change. The `-paired` rows also test the canary against the stable release step by step (every second's histograms of both arms); their `paired latency test's alarm` rows are the same detectors, read for the paired latency test alone.\n",
        pct(CANARY_SHARE)
    );
    let columns: Vec<String> = LAT_FAILURES.iter().map(|f| f.label().to_string()).collect();
    for &rate in rates {
        let _ = writeln!(out, "### Canary latency, {rate} req/s in total\n");
        let (healthy, failing) = healthy_and_failing(
            (healthy_traces, failing_traces),
            threads,
            &LAT_FAILURES,
            |i| lat_canary_trace(lat_canary_seed(rate, 0, i), rate, None),
            |k, f, i| lat_canary_trace(lat_canary_seed(rate, k, i), rate, Some(f)),
            &rules,
        );
        table(&mut out, &rules, &columns, &healthy, &failing);
        let mut with_slowdown = 0;
        let mut breaking = 0;
        let mut quiet = Vec::new();
        for (i, run) in healthy.iter().enumerate() {
            let t = lat_canary_trace(lat_canary_seed(rate, 0, i as u64), rate, None);
            let hour = t.canary.steps.len() as f64;
            let mine: Vec<&Episode> = t.slowdowns.iter().filter(|o| o.start < hour).collect();
            if mine.is_empty() {
                quiet.push(run);
            } else {
                with_slowdown += 1;
            }
            // p95 above the SLA at the median load: × 250 / 112 ≈ 2.2.
            if mine
                .iter()
                .any(|o| HEALTHY_SHAPE.quantile(0.95, o.factor, None) > LAT_SLA_MS)
            {
                breaking += 1;
            }
        }
        let quiet_alarms: Vec<String> = rows(&rules)
            .iter()
            .enumerate()
            .map(|(r, (_, _, name))| {
                let k = quiet.iter().filter(|h| h.alarms[r].is_some()).count();
                format!("`{name}` {k}")
            })
            .collect();
        let _ = writeln!(
            out,
            "Shared slowdowns: {with_slowdown}/{} healthy traces have at least one in the hour ({breaking} one that alone puts the p95 at the median load above 250 ms, factor > {:.2}). False alarms in the {} healthy traces without one: {}.\n",
            healthy.len(),
            LAT_SLA_MS / HEALTHY_SHAPE.quantile(0.95, 1.0, None),
            quiet.len(),
            quiet_alarms.join(", ")
        );
    }
    out
}

fn bench_observe(c: &mut Criterion) {
    let t = trace(42, 100.0, None);
    let obs: Vec<Observation> = t
        .steps
        .iter()
        .enumerate()
        .map(|(s, (n, x))| Observation::counts(at_second(s), *n, *x))
        .collect();
    let mut g = c.benchmark_group("detection");
    g.throughput(Throughput::Elements(obs.len() as u64));
    g.bench_function("observe_3600_steps_100rps", |b| {
        b.iter_batched(
            || SequentialDetector::new(sequential_config(Duration::ZERO, 0.0)),
            |d| {
                let Ok(mut d) = d else { return false };
                for o in &obs {
                    if d.observe(o.clone()).is_err() {
                        return false;
                    }
                }
                d.breached()
            },
            BatchSize::SmallInput,
        )
    });
    // One healthy latency trace at 100 req/s with the detector a user would run on it: error
    // and slow-request SLA tests, and against the pre-deploy baseline the error-regression and
    // latency-shift tests, every observation carrying its 11-bucket histogram.
    let lt = latency_trace(latency_seed(100.0, 0, 42), 100.0, None);
    let config = with_regression(latency_config(), 2.0);
    let base = latency_baseline(&lt);
    let lobs: Vec<Observation> = lt
        .steps
        .iter()
        .enumerate()
        .map(|(s, cum)| latency_observation(s, cum, true))
        .collect();
    g.throughput(Throughput::Elements(lobs.len() as u64));
    g.bench_function("observe_3600_steps_100rps_histogram_shift", |b| {
        b.iter_batched(
            || {
                (
                    SequentialDetector::with_baseline(config.clone(), base.clone()),
                    lobs.clone(),
                )
            },
            |(d, obs)| {
                let Ok(mut d) = d else { return false };
                for o in obs {
                    if d.observe(o).is_err() {
                        return false;
                    }
                }
                d.breached()
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("verdict", |b| {
        let mut d = SequentialDetector::new(sequential_config(Duration::ZERO, 0.0));
        if let Ok(d) = d.as_mut() {
            for o in &obs {
                let _ = d.observe(o.clone());
            }
        }
        b.iter(|| d.as_ref().map(|d| d.verdict().state).ok())
    });
    g.finish();
}

fn main() {
    let scale: u64 = std::env::var("DETECTION_TRACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let threads: usize = std::env::var("DETECTION_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if scale > 0 {
        report(scale, threads);
    }
    if std::env::var_os("DETECTION_REPORT_ONLY").is_some() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_observe(&mut c);
    c.final_summary();
}

/// Runs the comparison, prints it and writes it to `$CARGO_TARGET_DIR/detection-report.md`.
/// `DETECTION_SECTIONS` (comma-separated `errors`, `errors-issue`, `errors-oracle`, `latency`,
/// `canary`, `canary-latency`; default all) picks the sections.
fn report(scale: u64, threads: usize) {
    let sections = std::env::var("DETECTION_SECTIONS").unwrap_or_default();
    let on = |name: &str| sections.is_empty() || sections.split(',').any(|s| s.trim() == name);
    let started = std::time::Instant::now();
    let mut text = String::new();
    let mut times = Vec::new();
    let mut section = |name: &str, title: &str, run: &dyn Fn() -> String| {
        if on(name) {
            let t = std::time::Instant::now();
            let body = run();
            let _ = write!(text, "## {title}\n\n{body}");
            times.push(format!("{name} {:.0} s", t.elapsed().as_secs_f64()));
        }
    };
    section("errors", "Detection comparison", &|| {
        report_errors(scale, scale / 2, threads, true)
    });
    section(
        "errors-issue",
        "Detection comparison, the issue's noise model (no error blips)",
        &|| report_errors(scale, scale / 2, threads, false),
    );
    section(
        "errors-oracle",
        "Detection comparison, an oracle's bound on the issue's traces",
        &|| report_errors_oracle(scale, scale / 2, threads),
    );
    section("latency", "Latency comparison", &|| {
        report_latency(scale / 2, scale / 5, threads)
    });
    section("canary", "Canary comparison", &|| {
        report_canary(scale / 2, scale / 5, threads)
    });
    // The paired latency test costs O(events) per histogram bound and step: fewer traces.
    section("canary-latency", "Canary latency comparison", &|| {
        report_lat_canary(scale / 5, scale * 2 / 25, threads, &CANARY_RATES)
    });
    let _ = writeln!(
        text,
        "(computed in {:.0} s: {}; {threads} threads)",
        started.elapsed().as_secs_f64(),
        times.join(", ")
    );
    println!("{text}");
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("detection-report.md");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
