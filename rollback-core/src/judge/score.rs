//! Scoring of classified metrics: group scores, the weighted summary score and its verdict
//! (Kayenta's `WeightedSumScorer` and `ThresholdScoreClassifier`).

use serde::{Deserialize, Serialize};

use super::classify::{num, MetricLabel, MetricResult};
use super::config::JudgeConfig;

/// Kayenta's `NODATA_THRESHOLD`: this share (percent) of no-data metrics or more fails the run.
pub const NO_DATA_THRESHOLD: f64 = 50.0;

/// How many scored metrics of a group got each label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// Pass.
    pub pass: usize,
    /// High.
    pub high: usize,
    /// Low.
    pub low: usize,
    /// NoData.
    pub no_data: usize,
    /// NoDataFail.
    pub no_data_fail: usize,
    /// Error.
    pub error: usize,
}

impl LabelCounts {
    fn add(&mut self, label: MetricLabel) {
        match label {
            MetricLabel::Pass => self.pass += 1,
            MetricLabel::High => self.high += 1,
            MetricLabel::Low => self.low += 1,
            MetricLabel::NoData => self.no_data += 1,
            MetricLabel::NoDataFail => self.no_data_fail += 1,
            MetricLabel::Error => self.error += 1,
        }
    }
}

/// The score of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    /// Group name.
    pub name: String,
    /// Its weight (percent).
    pub weight: f64,
    /// Scored (not muted) metrics in the group.
    pub metrics: usize,
    /// Labels of those metrics.
    pub counts: LabelCounts,
    /// `100 × pass / (pass + high + low + no-data-fail)`, 0 when that denominator is 0.
    pub score: f64,
    /// No metric of the group had a usable classification (the denominator above is 0); such a
    /// group counts as 100 in the summary, as in Kayenta.
    pub no_data: bool,
    /// What the group adds to the summary score: `effective score × weight / 100`. A group with
    /// no scored metric at all adds nothing (Kayenta leaves it out of the sum).
    pub contribution: f64,
}

/// The verdict on the summary score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// `score >= thresholds.pass`.
    Pass,
    /// `thresholds.marginal <= score < thresholds.pass`.
    Marginal,
    /// `score < thresholds.marginal`, or a forced failure.
    Fail,
}

/// Why the summary score was forced to 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForcedFailure {
    /// A critical metric failed (or had no data).
    CriticalFailure {
        /// The first such metric.
        metric: String,
        /// Its label.
        label: MetricLabel,
    },
    /// At least half of the scored metrics had no data.
    TooManyNoData {
        /// Scored metrics labelled NoData.
        no_data: usize,
        /// Scored metrics.
        scored: usize,
    },
}

/// Outcome of [`judge`](super::judge()).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeResult {
    /// Summary score, 0–100, rounded to two decimals.
    pub score: f64,
    /// Pass, Marginal or Fail.
    pub verdict: Verdict,
    /// Set when a critical failure or too much missing data forced the score to 0 (the verdict
    /// is then Fail whatever the thresholds).
    pub forced_failure: Option<ForcedFailure>,
    /// One entry per configured group, in configuration order.
    pub groups: Vec<GroupScore>,
    /// One entry per metric input, in input order (muted metrics included).
    pub metrics: Vec<MetricResult>,
    /// One line for reports and notifications.
    pub explanation: String,
}

/// Scores classified metrics under a validated configuration.
pub(crate) fn score(config: &JudgeConfig, metrics: Vec<MetricResult>) -> JudgeResult {
    let scored: Vec<&MetricResult> = metrics.iter().filter(|m| !m.muted).collect();

    let groups: Vec<GroupScore> = config
        .groups
        .iter()
        .map(|group| {
            let mut counts = LabelCounts::default();
            let mut n = 0;
            for m in scored.iter().filter(|m| m.group == group.name) {
                counts.add(m.label);
                n += 1;
            }
            let total = counts.pass + counts.high + counts.low + counts.no_data_fail;
            let no_data = total == 0;
            let score = if no_data {
                0.0
            } else {
                counts.pass as f64 / total as f64 * 100.0
            };
            let effective = if no_data { 100.0 } else { score };
            let contribution = if n == 0 {
                0.0
            } else {
                effective * (group.weight / 100.0)
            };
            GroupScore {
                name: group.name.clone(),
                weight: group.weight,
                metrics: n,
                counts,
                score,
                no_data,
                contribution,
            }
        })
        .collect();

    let critical = scored
        .iter()
        .find(|m| m.critical && m.label != MetricLabel::Pass);
    let no_data = scored
        .iter()
        .filter(|m| m.label == MetricLabel::NoData)
        .count();
    let forced_failure = if let Some(m) = critical {
        Some(ForcedFailure::CriticalFailure {
            metric: m.name.clone(),
            label: m.label,
        })
    } else if !scored.is_empty()
        && no_data as f64 / scored.len() as f64 * 100.0 >= NO_DATA_THRESHOLD
    {
        Some(ForcedFailure::TooManyNoData {
            no_data,
            scored: scored.len(),
        })
    } else {
        None
    };

    let score = if forced_failure.is_some() {
        0.0
    } else {
        let sum: f64 = groups.iter().map(|g| g.contribution).sum();
        (sum * 100.0).round() / 100.0
    };
    let t = config.thresholds;
    let verdict = if forced_failure.is_some() {
        Verdict::Fail
    } else if score >= t.pass {
        Verdict::Pass
    } else if score >= t.marginal {
        Verdict::Marginal
    } else {
        Verdict::Fail
    };

    let explanation = explain(
        config,
        score,
        verdict,
        forced_failure.as_ref(),
        &scored,
        &metrics,
    );
    JudgeResult {
        score,
        verdict,
        forced_failure,
        groups,
        metrics,
        explanation,
    }
}

fn explain(
    config: &JudgeConfig,
    score: f64,
    verdict: Verdict,
    forced: Option<&ForcedFailure>,
    scored: &[&MetricResult],
    all: &[MetricResult],
) -> String {
    let t = config.thresholds;
    let head = match (verdict, forced) {
        (_, Some(ForcedFailure::CriticalFailure { metric, label })) => format!(
            "Fail: critical metric {metric} is {}; score forced to 0",
            label.as_str()
        ),
        (_, Some(ForcedFailure::TooManyNoData { no_data, scored })) => format!(
            "Fail: {no_data} of {scored} scored metrics have no data (>= {}%); score forced to 0",
            num(NO_DATA_THRESHOLD)
        ),
        (Verdict::Pass, None) => {
            format!("Pass: score {score:.2} >= pass threshold {}", num(t.pass))
        }
        (Verdict::Marginal, None) => format!(
            "Marginal: score {score:.2} is below pass {} but >= marginal {}",
            num(t.pass),
            num(t.marginal)
        ),
        (Verdict::Fail, None) => format!(
            "Fail: score {score:.2} < marginal threshold {}",
            num(t.marginal)
        ),
    };
    let failing: Vec<String> = scored
        .iter()
        .filter(|m| {
            matches!(
                m.label,
                MetricLabel::High | MetricLabel::Low | MetricLabel::NoDataFail
            )
        })
        .map(|m| format!("{} {}", m.name, m.label.as_str()))
        .collect();
    let muted = all.len() - scored.len();
    let mut text = format!("{head} ({} metrics scored", scored.len());
    if muted > 0 {
        text.push_str(&format!(", {muted} muted"));
    }
    if failing.is_empty() {
        text.push(')');
    } else {
        text.push_str(&format!("; failing: {})", failing.join(", ")));
    }
    text
}
