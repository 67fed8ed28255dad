//! Detection delay and false-positive rate of the sequential detector against the rules users
//! have today, on the same simulated traces; plus the throughput of `observe()`.
//!
//! Run: `cargo bench --bench detection` (the comparison prints a Markdown table and writes it
//! to `$CARGO_TARGET_DIR/detection-report.md`, default `target/`). `DETECTION_TRACES=200`
//! scales the trace counts down for a quick look; `DETECTION_REPORT_ONLY=1` skips criterion.
//!
//! Traces are per-second request and 5xx counts (the data's native step is 1 s here):
//!
//! * traffic: Poisson with mean `rate × diurnal(t) × burst(t)`; `diurnal` = 1 ± 0.3 over 24 h
//!   with a random phase; traffic bursts arrive every 10 min on average, last 20–120 s and
//!   multiply traffic by 2–4 (and the error rate by 2: load-induced errors);
//! * healthy error rate: 0.1 % × (1 ± 0.5 diurnal) × burst factor, plus *error blips* (a pod
//!   restart, a dependency hiccup) every 30 min on average, 2–10 s at 1–3 %;
//! * failing traces: the same, and from a change time uniform in 5–15 min the error rate is
//!   1 %, 5 % or 12.4 % (noise on traffic continues); watched up to 30 min after the change.
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
//!   skip the persistence wait).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput};
use rollback_core::sequential::{DetectorConfig, Observation, SequentialDetector};

const SLA: f64 = 0.005;
const RATES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
const FAIL_RATES: [f64; 3] = [0.01, 0.05, 0.124];
const HEALTHY_SECS: u64 = 3600;
const WATCH_AFTER_CHANGE: u64 = 1800;

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

/// One trace: per-second (requests, errors).
struct Trace {
    steps: Vec<(u64, u64)>,
    /// Seconds past the wall-clock minute at which the trace starts.
    clock_offset: u64,
    change: Option<u64>,
}

fn trace(seed: u64, rate: f64, fail: Option<f64>) -> Trace {
    let mut rng = Rng::new(seed);
    let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
    let clock_offset = rng.next_u64() % 60;
    let change = fail.map(|_| 300 + rng.next_u64() % 601);
    let len = change.map_or(HEALTHY_SECS, |c| c + WATCH_AFTER_CHANGE);
    let bursts = episodes(&mut rng, len as f64, 600.0, (20.0, 120.0), (2.0, 4.0));
    let blips = episodes(&mut rng, len as f64, 1800.0, (2.0, 10.0), (0.01, 0.03));
    let mut steps = Vec::with_capacity(len as usize);
    for s in 0..len {
        let t = s as f64;
        let day = (2.0 * std::f64::consts::PI * t / 86_400.0 + phase).sin();
        let burst = active(&bursts, t);
        let lambda = rate * (1.0 + 0.3 * day) * burst.unwrap_or(1.0);
        let n = rng.poisson(lambda);
        let mut p = 0.001 * (1.0 + 0.5 * day) * if burst.is_some() { 2.0 } else { 1.0 };
        if let Some(b) = active(&blips, t) {
            p = p.max(b);
        }
        if let (Some(c), Some(f)) = (change, fail) {
            if s >= c {
                p = p.max(f);
            }
        }
        steps.push((n, rng.binomial(n, p)));
    }
    Trace {
        steps,
        clock_offset,
        change,
    }
}

/// The rules under comparison. `alarm` returns the time (seconds from the trace start) at
/// which each rule would first decide to roll back.
trait Rule {
    fn name(&self) -> &'static str;
    fn alarm(&self, t: &Trace) -> Option<u64>;
}

/// Tumbling 60 s windows from the trace start; alarm at the `consecutive`-th bad window in a
/// row.
struct Windows {
    consecutive: u32,
    name: &'static str,
}

impl Rule for Windows {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &Trace) -> Option<u64> {
        let mut run = 0;
        for (w, chunk) in t.steps.chunks(60).enumerate() {
            if chunk.len() < 60 {
                break;
            }
            let (n, x) = chunk.iter().fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            let bad = n > 0 && x as f64 / n as f64 >= SLA;
            run = if bad { run + 1 } else { 0 };
            if run >= self.consecutive {
                return Some((w as u64 + 1) * 60);
            }
        }
        None
    }
}

/// CloudWatch: 60 s periods aligned to the clock minute, 3 of 3 datapoints > threshold.
struct CloudWatch;

impl Rule for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch-3of3"
    }
    fn alarm(&self, t: &Trace) -> Option<u64> {
        let len = t.steps.len() as u64;
        let mut run = 0;
        // Period k covers clock seconds [60k, 60k+60); trace second s is clock s + offset.
        let mut start = 0u64;
        let mut end = 60 - t.clock_offset;
        while end <= len {
            let (n, x) = t.steps[start as usize..end as usize]
                .iter()
                .fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            if n > 0 {
                // TreatMissingData = missing: a period without requests has no datapoint.
                run = if x as f64 / n as f64 > SLA {
                    run + 1
                } else {
                    0
                };
                if run >= 3 {
                    return Some(end);
                }
            }
            start = end;
            end += 60;
        }
        None
    }
}

/// Flagger: a check every minute over the last minute; counter never reset; rollback at the
/// tick after the counter reaches the threshold.
struct Flagger;

impl Rule for Flagger {
    fn name(&self) -> &'static str {
        "flagger-5x1m"
    }
    fn alarm(&self, t: &Trace) -> Option<u64> {
        let mut failed = 0;
        for (k, chunk) in t.steps.chunks(60).enumerate() {
            if chunk.len() < 60 {
                break;
            }
            let tick = (k as u64 + 1) * 60;
            if failed >= 5 {
                return Some(tick);
            }
            let (n, x) = chunk.iter().fold((0, 0), |(n, x), (a, b)| (n + a, x + b));
            let success = if n == 0 {
                f64::NAN
            } else {
                100.0 * (n - x) as f64 / n as f64
            };
            // NaN (no values found) fails the check, as does a success rate under min.
            if success.is_nan() || success < 100.0 * (1.0 - SLA) {
                failed += 1;
            }
        }
        None
    }
}

/// The sequential detector, fed second by second.
struct Sequential {
    name: &'static str,
    config: DetectorConfig,
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(19_737)
}

impl Rule for Sequential {
    fn name(&self) -> &'static str {
        self.name
    }
    fn alarm(&self, t: &Trace) -> Option<u64> {
        let mut d = SequentialDetector::new(self.config.clone()).ok()?;
        let t0 = epoch();
        for (s, (n, x)) in t.steps.iter().enumerate() {
            let at = t0 + chrono::Duration::seconds(s as i64);
            d.observe(Observation::counts(at, *n, *x)).ok()?;
            if d.breached() {
                // The step [s, s+1) is known at its end.
                return Some(s as u64 + 1);
            }
        }
        None
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

fn rules() -> Vec<Box<dyn Rule>> {
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
            config: sequential_config(Duration::from_secs(15), 0.0),
        }),
        Box::new(Sequential {
            name: "sequential-p15s-b10",
            config: sequential_config(Duration::from_secs(15), 10.0),
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

fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

fn report(healthy_traces: u64, failing_traces: u64) -> String {
    let rules = rules();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SLA error rate < 0.5 % for every rule; {healthy_traces} healthy traces of 60 min and {failing_traces} failing traces per cell; delays in seconds from the change (median / p95), `miss` = not detected within 30 min, `early` = alarm before the change (excluded from delays).\n"
    );
    for &rate in &RATES {
        let _ = writeln!(out, "### {rate} req/s\n");
        let mut header = "| rule | FPR (healthy) |".to_string();
        for f in FAIL_RATES {
            let _ = write!(header, " {} errors: median / p95 (miss, early) |", pct(f));
        }
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "|---|---|{}", "---|".repeat(FAIL_RATES.len()));
        let mut fp = vec![0u64; rules.len()];
        for i in 0..healthy_traces {
            let t = trace(seed(rate, 0.0, i), rate, None);
            for (r, rule) in rules.iter().enumerate() {
                if rule.alarm(&t).is_some() {
                    fp[r] += 1;
                }
            }
        }
        let mut delays = vec![vec![Vec::new(); FAIL_RATES.len()]; rules.len()];
        let mut misses = vec![vec![0u64; FAIL_RATES.len()]; rules.len()];
        let mut early = vec![vec![0u64; FAIL_RATES.len()]; rules.len()];
        for (fi, &f) in FAIL_RATES.iter().enumerate() {
            for i in 0..failing_traces {
                let t = trace(seed(rate, f, i), rate, Some(f));
                let change = t.change.unwrap_or(0);
                for (r, rule) in rules.iter().enumerate() {
                    match rule.alarm(&t) {
                        Some(a) if a <= change => early[r][fi] += 1,
                        Some(a) => delays[r][fi].push(a - change),
                        None => misses[r][fi] += 1,
                    }
                }
            }
        }
        for (r, rule) in rules.iter().enumerate() {
            let mut row = format!(
                "| {} | {:.1} % ({}/{}) |",
                rule.name(),
                100.0 * fp[r] as f64 / healthy_traces as f64,
                fp[r],
                healthy_traces
            );
            for fi in 0..FAIL_RATES.len() {
                let d = &mut delays[r][fi];
                d.sort_unstable();
                let cell = match (quantile(d, 0.5), quantile(d, 0.95)) {
                    (Some(m), Some(p)) => format!("{m} / {p}"),
                    _ => "– / –".to_string(),
                };
                let _ = write!(row, " {cell} ({}, {}) |", misses[r][fi], early[r][fi]);
            }
            let _ = writeln!(out, "{row}");
        }
        let _ = writeln!(out);
    }
    out
}

fn pct(f: f64) -> String {
    let s = format!("{:.1}", f * 100.0);
    format!("{} %", s.trim_end_matches(".0"))
}

fn seed(rate: f64, fail: f64, i: u64) -> u64 {
    (rate as u64) << 40 ^ ((fail * 1000.0) as u64) << 24 ^ i
}

fn bench_observe(c: &mut Criterion) {
    let t = trace(42, 100.0, None);
    let t0 = epoch();
    let obs: Vec<Observation> = t
        .steps
        .iter()
        .enumerate()
        .map(|(s, (n, x))| Observation::counts(t0 + chrono::Duration::seconds(s as i64), *n, *x))
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
    let started = std::time::Instant::now();
    let table = report(scale, scale / 2);
    let text = format!(
        "## Detection comparison\n\n{table}(computed in {:.0} s)\n",
        started.elapsed().as_secs_f64()
    );
    println!("{text}");
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("detection-report.md");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("could not write {}: {e}", path.display());
    }
    if std::env::var_os("DETECTION_REPORT_ONLY").is_some() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_observe(&mut c);
    c.final_summary();
}
