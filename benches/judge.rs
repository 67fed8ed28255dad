//! Benchmark of the canary judge's statistics: `rollback::judge::mann_whitney` (U test, p-value,
//! Hodges-Lehmann-type estimate and 98 % interval by R's root finding) over 10,000 metric pairs
//! of 1,000 samples each, then SciPy's `mannwhitneyu` on the same arrays in the same run.
//!
//! ```text
//! cargo bench --bench judge
//! ```
//!
//! The pairs are generated deterministically (SplitMix64) and written as raw little-endian f64
//! (`pairs × [x; 1000] [y; 1000]`) to `$CARGO_TARGET_TMPDIR/judge_pairs.f64` for
//! `benches/judge_scipy.py`. Without `--bench` (e.g. `cargo test --benches`) only a 20-pair smoke
//! run is done and SciPy is not called.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rollback::judge::mann_whitney;

const PAIRS: usize = 10_000;
const SAMPLES: usize = 1_000;
const CONF_LEVEL: f64 = 0.98;

/// SplitMix64: tiny, seedable, good enough for benchmark data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal by Box-Muller.
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Latency-like pairs: normal around 100 ms, some shifted, every fourth rounded to whole
/// milliseconds (ties), every tenth with a log-normal tail.
fn generate(pairs: usize) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut rng = SplitMix64(0x5EED_CA7A_1A57_0001);
    (0..pairs)
        .map(|i| {
            let shift = [0.0, 0.0, 0.5, -0.5, 2.0, -2.0, 5.0][i % 7];
            let mut draw = |offset: f64| -> Vec<f64> {
                (0..SAMPLES)
                    .map(|_| {
                        let mut v = 100.0 + offset + 10.0 * rng.normal();
                        if i % 10 == 9 {
                            v += (2.0 * rng.normal()).exp();
                        }
                        if i % 4 == 3 {
                            v = v.round();
                        }
                        v
                    })
                    .collect()
            };
            let x = draw(shift);
            let y = draw(0.0);
            (x, y)
        })
        .collect()
}

fn write_pairs(path: &Path, data: &[(Vec<f64>, Vec<f64>)]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (x, y) in data {
        for v in x.iter().chain(y) {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.flush()
}

fn judge_all(data: &[(Vec<f64>, Vec<f64>)]) -> f64 {
    let mut acc = 0.0;
    for (x, y) in data {
        let mw = mann_whitney(x, y, CONF_LEVEL).expect("generated samples are valid");
        acc += mw.estimate + mw.ci.0 + mw.ci.1 + mw.p_value;
    }
    acc
}

fn run_scipy(path: &Path) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/judge_scipy.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(python)
        .arg(script)
        .arg(path)
        .arg(PAIRS.to_string())
        .arg(SAMPLES.to_string())
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "judge_scipy.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads `key=value` from the script's output.
fn field(output: &str, key: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim().parse().ok())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let pairs = if full { PAIRS } else { 20 };
    let data = generate(pairs);

    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    criterion.bench_function(
        &format!("judge/mann_whitney_ci_{pairs}_pairs_x_{SAMPLES}"),
        |b| b.iter(|| black_box(judge_all(black_box(&data)))),
    );
    criterion.final_summary();
    if !full {
        return;
    }

    // The comparison run: one timed pass of ours, then SciPy on the same arrays.
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("judge_pairs.f64");
    if let Err(e) = write_pairs(&path, &data) {
        eprintln!(
            "cannot write {}: {e}; skipping the SciPy comparison",
            path.display()
        );
        return;
    }
    let start = Instant::now();
    black_box(judge_all(&data));
    let ours = start.elapsed().as_secs_f64();
    let Some(output) = run_scipy(&path) else {
        eprintln!("python3 with scipy not available; skipping the SciPy comparison");
        return;
    };
    print!("{output}");
    let p_ours: Vec<f64> = data[..5]
        .iter()
        .map(|(x, y)| mann_whitney(x, y, CONF_LEVEL).map_or(f64::NAN, |m| m.p_value))
        .collect();
    let p_diff = (0..5)
        .filter_map(|i| field(&output, &format!("p{i}")).map(|p| (p - p_ours[i]).abs()))
        .fold(0.0, f64::max);
    println!("largest p-value difference to scipy on the first 5 pairs: {p_diff:e}");
    println!("rust mann_whitney (U, p, estimate, 98% CI), one pass: {ours:.3} s");
    for key in ["scipy_loop_s", "scipy_vectorized_s"] {
        if let Some(theirs) = field(&output, key) {
            println!(
                "ratio {key} / rust = {:.2} (rust also computes the estimate and the interval; \
                 scipy only U and p)",
                theirs / ours
            );
        }
    }
}
