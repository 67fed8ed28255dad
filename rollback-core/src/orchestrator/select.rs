//! Stage 3: pick the release to return to (newest with a verified-healthy history) and the
//! strategy.

use std::time::Duration;

use futures::future::join;

use super::run::{Run, Step, Stop};
use crate::error::{Error, ErrorKind};
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::metric::{format_percent, MetricKind, TimeRange};
use crate::model::release::{Release, ReleaseMark, ReleaseState};
use crate::platform::Platform;
use crate::policy::NoDataPolicy;
use crate::report::{Candidate, Mark, Outcome, StageStatus};
use crate::request::{Strategy, StrategyChoice};

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_target(&mut self) -> Step {
        self.begin(Stage::Target);
        let Some(from) = self.from.clone() else {
            self.end(StageStatus::Skipped);
            return Ok(());
        };
        let older: Vec<Release> = self
            .releases
            .iter()
            .skip_while(|r| r.revision != from.revision)
            .skip(1)
            .cloned()
            .collect();

        let chosen = if let Some(wanted) = self.req.to.clone() {
            let Some(to) = self.releases.iter().find(|r| r.version == wanted).cloned() else {
                let known: Vec<String> = self
                    .releases
                    .iter()
                    .map(|r| r.version.to_string())
                    .collect();
                return Err(Stop::Error(
                    Outcome::Rejected,
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "release {wanted} does not exist for {}: known releases are {}",
                            self.req.target,
                            known.join(", ")
                        ),
                    ),
                ));
            };
            if to.revision == from.revision {
                return Err(Stop::Error(
                    Outcome::Rejected,
                    Error::invalid_input(format!(
                        "--to {wanted} is the current release: choose an older one ({})",
                        older
                            .iter()
                            .map(|r| r.version.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ));
            }
            if to.mark == ReleaseMark::Failed && !self.req.immediate {
                return Err(Stop::Error(
                    Outcome::Aborted,
                    Error::new(
                        ErrorKind::PreconditionFailed,
                        format!("release {wanted} is marked as failed: pass --immediate to roll back to it anyway"),
                    ),
                ));
            }
            let c = self.judge_candidate(&to).await;
            if c.eligible {
                self.line(
                    Mark::Ok,
                    format!("Target: {} (requested) — {}", to.version, c.reason),
                );
            } else {
                self.line(
                    Mark::Warn,
                    format!(
                        "Target: {} (requested) — {}; proceeding as the operator asked",
                        to.version, c.reason
                    ),
                );
            }
            self.report.candidates.push(c);
            self.fallbacks = older
                .into_iter()
                .filter(|r| r.revision != to.revision)
                .collect();
            to
        } else {
            let max = self.inner.policy.target.max_candidates;
            let mut chosen = None;
            let mut rest = older.into_iter().take(max);
            for r in rest.by_ref() {
                if r.mark == ReleaseMark::Failed {
                    self.line(
                        Mark::Info,
                        format!("Skipped {}: marked as failed", r.version),
                    );
                    self.report.candidates.push(Candidate {
                        release: r.reference(),
                        eligible: false,
                        error_rate: None,
                        latency_p95_ms: None,
                        uptime_percent: None,
                        reason: "marked as failed".into(),
                    });
                    continue;
                }
                let c = self.judge_candidate(&r).await;
                let eligible = c.eligible;
                self.line(
                    if eligible { Mark::Ok } else { Mark::Info },
                    format!(
                        "{} {}: {}",
                        if eligible { "Target" } else { "Skipped" },
                        r.version,
                        c.reason
                    ),
                );
                self.report.candidates.push(c);
                if eligible {
                    chosen = Some(r);
                    break;
                }
            }
            self.fallbacks = rest.filter(|r| r.mark != ReleaseMark::Failed).collect();
            match chosen {
                Some(r) => r,
                None => {
                    return Err(Stop::Error(
                        Outcome::Aborted,
                        Error::new(
                            ErrorKind::PreconditionFailed,
                            "no older release has a verified healthy history: name one with --to",
                        ),
                    ))
                }
            }
        };

        let strategy = self
            .choose_strategy(&from, &chosen)
            .map_err(|e| Stop::Error(Outcome::Rejected, e))?;
        let c = self
            .report
            .candidates
            .iter()
            .rev()
            .find(|c| c.release.revision == chosen.revision);
        if let Some(c) = c {
            let mut parts = Vec::new();
            if let Some(e) = c.error_rate {
                parts.push(format!("Error rate: {}", format_percent(e * 100.0)));
            }
            if let Some(l) = c.latency_p95_ms {
                parts.push(format!(
                    "Response time (p95): {}",
                    MetricKind::Latency(crate::Quantile::P95).format_value(l)
                ));
            }
            if let Some(u) = c.uptime_percent {
                parts.push(format!("Uptime: {}", format_percent(u)));
            }
            if !parts.is_empty() {
                self.line(Mark::Info, format!("  {}", parts.join(" | ")));
            }
        }
        self.line(
            Mark::Info,
            format!(
                "Target version: {}{}",
                chosen.version,
                chosen
                    .slot
                    .as_ref()
                    .map(|s| format!(" ({s} environment)"))
                    .unwrap_or_default()
            ),
        );
        self.line(Mark::Info, format!("Strategy: {}", strategy.describe()));
        self.to = Some(chosen);
        self.strategy = Some(strategy);
        self.end(StageStatus::Ok);
        Ok(())
    }

    /// Reads a candidate's own error rate and latency over the time it was live.
    pub(super) async fn judge_candidate(&self, r: &Release) -> Candidate {
        let now = self.now();
        let policy = &self.inner.policy;
        let sla = policy.sla.for_env(self.req.target.environment);
        let end = r.retired_at.unwrap_or(now).min(now);
        let earliest = TimeRange::ending_at(end, policy.target.history).start;
        let start = r.deployed_at.map_or(earliest, |d| d.max(earliest));
        let range = TimeRange { start, end };
        let len = range.duration();
        let step = if len.is_zero() {
            policy.detection.step
        } else {
            (len / 120).max(Duration::from_secs(60)).min(len)
        };
        let ((errors, e1), (latency, e2)) = join(
            self.query(MetricKind::ErrorRate, r, range, step),
            self.query(Self::p95(), r, range, step),
        )
        .await;
        let error_rate = crate::detect::window_mean(&errors, range.start);
        let p95 = crate::detect::window_mean(&latency, range.start);
        let uptime = error_rate.map(|e| (1.0 - e) * 100.0);
        let mut problems = Vec::new();
        for e in [e1, e2].into_iter().flatten() {
            problems.push(format!("metrics query failed: {e}"));
        }
        // Against its own history: was it getting worse at the end of its life? (A release
        // replaced while degrading is not a safe place to return to, even if its mean is fine.)
        if let Some(why) = degrading_at_the_end(&errors, &latency) {
            problems.push(why);
        }
        if let Some(e) = error_rate {
            if e >= sla.error_rate.max {
                problems.push(format!(
                    "error rate {} over its history (SLA < {})",
                    format_percent(e * 100.0),
                    format_percent(sla.error_rate.max * 100.0)
                ));
            }
        }
        if let Some(l) = p95 {
            if l >= sla.latency_p95_ms.max {
                problems.push(format!(
                    "p95 {l:.0}ms over its history (SLA < {:.0}ms)",
                    sla.latency_p95_ms.max
                ));
            }
        }
        if let (Some(u), Some(min)) = (uptime, policy.target.min_uptime_percent) {
            if u < min {
                problems.push(format!(
                    "uptime {} below {}",
                    format_percent(u),
                    format_percent(min)
                ));
            }
        }
        let no_data = error_rate.is_none() || p95.is_none();
        if no_data && policy.detection.no_data != NoDataPolicy::Pass {
            problems.push("no metrics history to verify it".into());
        }
        let eligible = problems.is_empty();
        let reason = if eligible {
            let mark = if r.mark == ReleaseMark::Verified {
                ", marked verified"
            } else {
                ""
            };
            format!("healthy history over {}{mark}", hours_or_minutes(len))
        } else {
            problems.join("; ")
        };
        Candidate {
            release: r.reference(),
            eligible,
            error_rate,
            latency_p95_ms: p95,
            uptime_percent: uptime,
            reason,
        }
    }

    /// Picks the strategy from the request and what the platform can do.
    pub(super) fn choose_strategy(&self, from: &Release, to: &Release) -> crate::Result<Strategy> {
        let caps = self.inner.platform.capabilities_for(&self.req.target);
        let traffic = self.traffic.as_ref();
        let canary = traffic
            .is_some_and(|t| t.percent_for(&to.revision) > 0 && t.percent_for(&from.revision) > 0);
        let need = |ok: bool, s: Strategy, what: &str| {
            if ok {
                Ok(s)
            } else {
                Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "strategy `{s}` needs {what}, which platform `{}` does not support: use auto, or one of the strategies it supports",
                        self.inner.platform.name()
                    ),
                ))
            }
        };
        match self.req.strategy {
            StrategyChoice::Forced(Strategy::Instant) => {
                need(caps.traffic_switch, Strategy::Instant, "a traffic switch")
            }
            StrategyChoice::Forced(Strategy::Gradual) => {
                need(caps.weighted_traffic, Strategy::Gradual, "weighted traffic")
            }
            StrategyChoice::Forced(Strategy::Full) => need(caps.revert, Strategy::Full, "revert"),
            StrategyChoice::Forced(Strategy::Database) => {
                if self.inner.data_guard.is_none() {
                    return Err(Error::invalid_input(
                        "strategy `database` needs a data guard to be configured",
                    ));
                }
                need(caps.revert, Strategy::Database, "revert")
            }
            StrategyChoice::Auto => {
                if canary && caps.weighted_traffic {
                    Ok(Strategy::Gradual)
                } else if caps.traffic_switch
                    && to.state == ReleaseState::Standby
                    && to.replicas.ready > 0
                {
                    Ok(Strategy::Instant)
                } else if caps.revert {
                    Ok(Strategy::Full)
                } else if caps.traffic_switch && caps.scale {
                    Ok(Strategy::Instant)
                } else {
                    Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "platform `{}` can neither switch traffic to {} nor revert to it",
                            self.inner.platform.name(),
                            to.version
                        ),
                    ))
                }
            }
        }
    }
}

/// Judges the last quarter of a candidate's history against the rest (canary judge,
/// Mann-Whitney intervals); a critical metric that moved up is a reason to skip it.
fn degrading_at_the_end(errors: &[crate::Series], latency: &[crate::Series]) -> Option<String> {
    use crate::model::metric::Series;
    fn split(series: &[Series]) -> Option<(Vec<Series>, Vec<Series>)> {
        let mut samples: Vec<_> = series
            .iter()
            .flat_map(|s| s.samples.iter().copied())
            .collect();
        samples.sort_by_key(|p| p.at);
        if samples.len() < 20 {
            return None;
        }
        let cut = samples.len() * 3 / 4;
        let late = samples.split_off(cut);
        Some((vec![Series::new(late)], vec![Series::new(samples)]))
    }
    let mut recent = Vec::new();
    let mut earlier = Vec::new();
    for (kind, series) in [
        (MetricKind::ErrorRate, errors),
        (MetricKind::Latency(crate::Quantile::P95), latency),
    ] {
        if let Some((late, early)) = split(series) {
            recent.push((kind.clone(), late));
            earlier.push((kind, early));
        }
    }
    let result = crate::compare::compare(&recent, &earlier).ok()??;
    let moved: Vec<String> = result
        .metrics
        .iter()
        .filter(|m| m.critical && m.label == crate::judge::MetricLabel::High)
        .map(|m| m.explanation.clone())
        .collect();
    if moved.is_empty() {
        None
    } else {
        Some(format!(
            "was degrading at the end of its history: {}",
            moved.join("; ")
        ))
    }
}

/// `24h`, `3h`, `45m`: how long a history was read, for people.
fn hours_or_minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h", s / 3600)
    } else {
        format!("{}m", s / 60)
    }
}
