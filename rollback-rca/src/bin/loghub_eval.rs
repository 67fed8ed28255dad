//! `loghub_eval`: scores the log template miner on datasets in the Loghub layout.
//!
//! For each dataset `<Name>` it reads `<DATA>/<Name>/<Name>_2k.log`, the ground truth
//! `<DATA>/<Name>/<Name>_2k.log_structured.csv` (column `EventId`) and the settings
//! `<SETTINGS>/<Name>.toml`, parses the log, and prints the group accuracy (as the Loghub
//! benchmark defines it) and the parsing speed, then the mean over the datasets.
//! Bad input (a missing file, malformed CSV or TOML, a format without `<Content>`) exits with 2.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser as _, ValueEnum};
use rollback_rca::logparse::{group_accuracy, LogFormat, Parser, ParserConfig, Strategy};
use serde::Deserialize;

/// Scores rollback-rca's log template miner on Loghub-layout datasets: group accuracy and lines/s.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Args {
    /// Directory with one folder per dataset: NAME/NAME_2k.log and
    /// NAME/NAME_2k.log_structured.csv.
    data: PathBuf,
    /// Directory of per-dataset settings files, NAME.toml.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/loghub/settings"))]
    settings: PathBuf,
    /// Datasets to score, comma-separated [default: every folder of DATA].
    #[arg(long, value_delimiter = ',')]
    datasets: Vec<String>,
    /// Clustering strategy.
    #[arg(long, value_enum, default_value_t = StrategyArg::Improved)]
    strategy: StrategyArg,
    /// Override every dataset's similarity threshold.
    #[arg(long)]
    similarity: Option<f64>,
    /// Override every dataset's tree depth.
    #[arg(long)]
    depth: Option<usize>,
    /// After each dataset, list up to this many mis-grouped ground-truth events (to stderr),
    /// each with the templates its messages were given.
    #[arg(long, default_value_t = 0)]
    errors: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StrategyArg {
    /// Drain as logparser runs it.
    Drain,
    /// Drain with this crate's improvements.
    Improved,
}

/// One dataset's settings file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    log_format: String,
    #[serde(default)]
    masks: Vec<String>,
    similarity: f64,
    depth: usize,
}

const SETTINGS_HELP: &str = "accepted keys: log_format (string containing <Content>), masks \
                             (list of regular expressions, optional), similarity (0.0 to 1.0), \
                             depth (integer, at least 3)";

struct Score {
    name: String,
    lines: usize,
    templates: usize,
    accuracy: f64,
    lines_per_sec: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let names = if args.datasets.is_empty() {
        discover(&args.data)?
    } else {
        args.datasets.clone()
    };
    let strategy = match args.strategy {
        StrategyArg::Drain => Strategy::Drain,
        StrategyArg::Improved => Strategy::Improved,
    };
    let mut scores = Vec::new();
    for name in &names {
        scores.push(score(args, strategy, name)?);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>7} {:>9} {:>9} {:>12}",
        "dataset", "lines", "templates", "accuracy", "lines/s"
    );
    for s in &scores {
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>9} {:>9.4} {:>12.0}",
            s.name, s.lines, s.templates, s.accuracy, s.lines_per_sec
        );
    }
    let n = scores.len() as f64;
    let mean_acc = scores.iter().map(|s| s.accuracy).sum::<f64>() / n;
    let mean_speed = scores.iter().map(|s| s.lines_per_sec).sum::<f64>() / n;
    let _ = writeln!(
        out,
        "{:<12} {:>7} {:>9} {:>9.4} {:>12.0}",
        "mean", "", "", mean_acc, mean_speed
    );
    Ok(out)
}

fn discover(data: &Path) -> Result<Vec<String>, String> {
    let entries = fs::read_dir(data).map_err(|e| {
        format!(
            "cannot read the data directory {}: {e} (expected one folder per dataset, \
             <Name>/<Name>_2k.log)",
            data.display()
        )
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!(
            "the data directory {} holds no dataset folder (expected <Name>/<Name>_2k.log)",
            data.display()
        ));
    }
    Ok(names)
}

fn read_settings(path: &Path) -> Result<Settings, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("cannot read settings {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        format!(
            "settings {} are not valid: {} ({SETTINGS_HELP})",
            path.display(),
            e.to_string().trim_end()
        )
    })
}

fn score(args: &Args, strategy: Strategy, name: &str) -> Result<Score, String> {
    let settings_path = args.settings.join(format!("{name}.toml"));
    let settings = read_settings(&settings_path)?;
    let dir = args.data.join(name);
    let log_path = dir.join(format!("{name}_2k.log"));
    let csv_path = dir.join(format!("{name}_2k.log_structured.csv"));

    let bad = |e: &dyn std::fmt::Display| format!("settings {}: {e}", settings_path.display());
    let format = LogFormat::new(&settings.log_format).map_err(|e| bad(&e))?;
    let config = ParserConfig::new()
        .format(settings.log_format.clone())
        .masks(settings.masks.iter().cloned())
        .similarity(args.similarity.unwrap_or(settings.similarity))
        .depth(args.depth.unwrap_or(settings.depth))
        .strategy(strategy);
    let mut parser = Parser::new(config).map_err(|e| bad(&e))?;

    let bytes =
        fs::read(&log_path).map_err(|e| format!("cannot read log {}: {e}", log_path.display()))?;
    // Loghub keeps only the lines its format matches.
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let lines: Vec<String> = body
        .split(|&b| b == b'\n')
        .map(decode)
        .filter(|l| format.content(l).is_some())
        .collect();
    let truth = read_truth(&csv_path)?;
    if truth.len() != lines.len() {
        return Err(format!(
            "{} has {} lines in the format {:?} but {} has {} rows; they must describe the same \
             messages",
            log_path.display(),
            lines.len(),
            settings.log_format,
            csv_path.display(),
            truth.len()
        ));
    }

    let start = Instant::now();
    let ids: Vec<_> = lines.iter().map(|l| parser.add(l)).collect();
    let elapsed = start.elapsed().as_secs_f64();

    // Messages without a ground-truth event are left out, as Loghub's evaluator does.
    let mut t = Vec::with_capacity(truth.len());
    let mut p = Vec::with_capacity(truth.len());
    for (i, (label, id)) in truth.iter().zip(&ids).enumerate() {
        if let Some(label) = label {
            t.push(label.as_str());
            // A forgotten cluster (never with the 2k datasets) counts as its own group.
            p.push(parser.resolve(*id).map_or(u64::MAX - i as u64, |c| c.get()));
        }
    }
    let accuracy = group_accuracy(&t, &p).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    if args.errors > 0 {
        report_errors(name, &t, &p, &ids, &truth, &parser, args.errors);
    }
    Ok(Score {
        name: name.to_owned(),
        lines: lines.len(),
        templates: parser.templates().len(),
        accuracy,
        lines_per_sec: lines.len() as f64 / elapsed.max(1e-9),
    })
}

/// Prints the ground-truth events whose messages were not grouped exactly as they should be.
fn report_errors(
    name: &str,
    truth: &[&str],
    parsed: &[u64],
    ids: &[rollback_rca::logparse::ClusterId],
    labels: &[Option<String>],
    parser: &Parser,
    limit: usize,
) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_truth: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut group_sizes: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, (t, p)) in truth.iter().zip(parsed).enumerate() {
        by_truth.entry(t).or_default().push(i);
        *group_sizes.entry(*p).or_default() += 1;
    }
    // Scored message i is the k-th labelled line; map back to its cluster id for the template.
    let scored_ids: Vec<_> = labels
        .iter()
        .zip(ids)
        .filter(|(l, _)| l.is_some())
        .map(|(_, id)| *id)
        .collect();
    let mut shown = 0;
    for (event, members) in &by_truth {
        let groups: BTreeSet<u64> = members.iter().map(|&i| parsed[i]).collect();
        let exact = groups.len() == 1
            && groups
                .iter()
                .all(|g| group_sizes.get(g) == Some(&members.len()));
        if exact || shown >= limit {
            continue;
        }
        shown += 1;
        eprintln!("{name}: event {event} ({} messages) got:", members.len());
        let mut templates: BTreeMap<String, usize> = BTreeMap::new();
        for &i in members {
            let template = parser.template(scored_ids[i]).unwrap_or_default();
            *templates.entry(template).or_default() += 1;
        }
        for (template, n) in templates {
            eprintln!("    {n:>5} × {template}");
        }
    }
}

/// The `EventId` of every row; `None` for an empty cell.
fn read_truth(path: &Path) -> Result<Vec<Option<String>>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| format!("cannot read ground truth {}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("ground truth {} is not valid CSV: {e}", path.display()))?;
    let column = headers.iter().position(|h| h == "EventId").ok_or_else(|| {
        format!(
            "ground truth {} has no EventId column (columns: {})",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    })?;
    let mut out = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            format!(
                "ground truth {} is not valid CSV at row {}: {e}",
                path.display(),
                row + 2
            )
        })?;
        let cell = record.get(column).ok_or_else(|| {
            format!(
                "ground truth {} row {} has no EventId cell",
                path.display(),
                row + 2
            )
        })?;
        out.push((!cell.trim().is_empty()).then(|| cell.to_owned()));
    }
    Ok(out)
}

/// UTF-8 if valid, else Latin-1 (Loghub's logs are read as ISO-8859-1).
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}
