//! Stage 1: read the failing release's SLA metrics and workload, and decide whether to act.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::run::{Run, Step, Stop};
use crate::detect::Verdict;
use crate::error::{Error, ErrorKind};
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::finding::{Severity, Trigger};
use crate::model::metric::{group_thousands, MetricKind, Quantile, Series, TimeRange};
use crate::model::release::Release;
use crate::model::traffic::TrafficSplit;
use crate::platform::Platform;
use crate::report::{Mark, Outcome, StageStatus};
use crate::sequential::{
    Baseline, DetectorConfig, DetectorVerdict, Observation, RegressionConfig, SequentialDetector,
};
use crate::workload::{WorkloadStatus, WorkloadVerdict};

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_detect(&mut self) -> Step {
        self.begin(Stage::Detect);
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let releases = self
            .read("releases", || inner.platform.releases(&target))
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound | ErrorKind::InvalidInput => Stop::Error(Outcome::Rejected, e),
                _ => Stop::from(e),
            })?;
        if releases.is_empty() {
            return Err(Stop::Error(
                Outcome::Rejected,
                Error::new(ErrorKind::NotFound, format!("{target} has no releases")),
            ));
        }
        let traffic = self
            .read("traffic", || inner.platform.traffic(&target))
            .await?;
        // The failing release: the newest one receiving traffic (a canary, or the only one).
        let Some(from) = releases
            .iter()
            .find(|r| traffic.percent_for(&r.revision) > 0)
            .cloned()
        else {
            return Err(Stop::from(
                Error::new(
                    ErrorKind::Backend,
                    format!("traffic ({traffic}) goes to no release the platform lists"),
                )
                .with_backend(inner.platform.name().to_string()),
            ));
        };
        let share = traffic.percent_for(&from.revision);
        self.line(
            Mark::Info,
            format!(
                "Current release: {} ({}% of traffic{})",
                from.version,
                share,
                from.slot
                    .as_ref()
                    .map(|s| format!(", {s} slot"))
                    .unwrap_or_default()
            ),
        );

        let policy = self.inner.policy.detection.clone();
        let (assessment, status, p95) = self
            .assess_with_series(&from, policy.window, policy.evaluation, policy.step)
            .await;
        for r in &assessment.readings {
            let breach = assessment.breaches.iter().find(|b| b.metric == r.metric);
            match (r.value, breach) {
                (Some(v), Some(b)) => self.line(
                    Mark::Fail,
                    format!(
                        "{}: {} (SLA: < {}) - {}",
                        r.metric,
                        r.metric.format_value(v),
                        r.metric.format_value(r.threshold),
                        b.severity
                    ),
                ),
                (Some(v), None) => self.line(
                    Mark::Ok,
                    format!(
                        "{}: {} (SLA: < {})",
                        r.metric,
                        r.metric.format_value(v),
                        r.metric.format_value(r.threshold)
                    ),
                ),
                (None, _) => self.line(
                    Mark::Warn,
                    format!(
                        "{}: no data ({})",
                        r.metric,
                        match policy.no_data {
                            crate::policy::NoDataPolicy::Fail => "counted as a breach: fail closed",
                            crate::policy::NoDataPolicy::Inconclusive => "verdict inconclusive",
                            crate::policy::NoDataPolicy::Pass => "ignored",
                        }
                    ),
                ),
            }
        }
        if let Some(f) = &assessment.failed_requests {
            if f.failed > 0 {
                self.line(
                    Mark::Info,
                    format!(
                        "Failed requests: {} in last {}",
                        group_thousands(f.failed as i64),
                        humantime::format_duration(policy.window)
                    ),
                );
                let parts: Vec<String> = f
                    .by_status
                    .iter()
                    .map(|(code, n)| format!("{code}: {:.0}%", *n as f64 * 100.0 / f.failed as f64))
                    .collect();
                self.line(Mark::Info, format!("  {}", parts.join(", ")));
            }
        }
        // The release serving beside the failing one (the stable release beside a canary).
        let beside = releases
            .iter()
            .find(|r| r.revision != from.revision && traffic.percent_for(&r.revision) > 0)
            .cloned();
        // The workload as the platform sees it: crash loops and instances that never become
        // ready fail a release before (or without) its metrics showing it.
        let workload = if policy.workload.enabled {
            self.workload_verdict(&from, beside.as_ref()).await
        } else {
            None
        };
        // The sequential test reads the same window step by step: it sees a breach as soon as
        // the evidence is conclusive, not only when a window's mean crosses the line.
        let mut sequential = if policy.sequential.enabled {
            self.sequential_verdict(&from, &releases, &traffic, &status, &p95)
                .await
        } else {
            None
        };
        // Beside a canary: an SLA breach the stable release shares is not the canary's.
        let mut assessment = assessment;
        let mut shared: Vec<String> = Vec::new();
        let tolerance = policy.sequential.regression.tolerance;
        let mut shared_metrics: Vec<(crate::model::metric::MetricKind, f64)> = Vec::new();
        if let (Some(other), false) = (&beside, assessment.breaches.is_empty()) {
            let theirs = self
                .assess(other, policy.window, policy.evaluation, policy.step)
                .await;
            assessment.breaches.retain(|b| {
                let same = theirs
                    .breaches
                    .iter()
                    .find(|o| o.metric == b.metric && o.value.is_some());
                // Shared only when the canary is not clearly worse than its neighbour: odds
                // for the error rate, values otherwise, within the regression tolerance.
                let comparable = |mine: f64, theirs: f64| match b.metric {
                    MetricKind::ErrorRate => {
                        mine * (1.0 - theirs) <= tolerance * theirs * (1.0 - mine)
                    }
                    _ => mine <= tolerance * theirs,
                };
                match (b.value, same.and_then(|o| o.value)) {
                    (Some(v), Some(o)) if comparable(v, o) => {
                        shared_metrics.push((b.metric.clone(), o));
                        shared.push(format!(
                            "{}: {} here, {} in {} beside it (SLA < {})",
                            b.metric,
                            b.metric.format_value(v),
                            b.metric.format_value(o),
                            other.version,
                            b.metric.format_value(b.threshold)
                        ));
                        false
                    }
                    _ => true,
                }
            });
            if assessment.breaches.is_empty() {
                assessment.verdict = if !assessment.no_data.is_empty()
                    && policy.no_data == crate::policy::NoDataPolicy::Inconclusive
                {
                    Verdict::Inconclusive
                } else {
                    Verdict::Healthy
                };
            }
        }
        // A detector built without the control (regression tests off, or the control's data
        // missing) has no shared-cause check of its own: its SLA breaches on a metric the
        // window comparison found shared are shared too.
        if let Some(v) = sequential.as_mut() {
            let mut changed = false;
            for m in v.metrics.iter_mut() {
                let sla_test = matches!(
                    m.test,
                    crate::sequential::TestKind::ErrorRate
                        | crate::sequential::TestKind::SlowFraction
                        | crate::sequential::TestKind::LatencySign
                );
                if let (true, true, None, Some((_, theirs))) = (
                    sla_test,
                    m.state == crate::sequential::DetectorState::Breach,
                    m.shared_with,
                    shared_metrics.iter().find(|(k, _)| *k == m.metric),
                ) {
                    m.state = crate::sequential::DetectorState::Healthy;
                    m.severity = None;
                    m.shared_with = Some(*theirs);
                    m.explanation = format!(
                        "{} — shared: the release beside it breaks the same SLA over the same window",
                        m.explanation
                    );
                    changed = true;
                }
            }
            if changed {
                v.state = if v
                    .metrics
                    .iter()
                    .any(|m| m.state == crate::sequential::DetectorState::Breach)
                {
                    crate::sequential::DetectorState::Breach
                } else if v
                    .metrics
                    .iter()
                    .any(|m| m.state == crate::sequential::DetectorState::Inconclusive)
                {
                    crate::sequential::DetectorState::Inconclusive
                } else {
                    crate::sequential::DetectorState::Healthy
                };
            }
        }
        if let Some(v) = &sequential {
            shared.extend(v.metrics.iter().filter_map(|m| {
                m.shared_with.map(|r| {
                    format!(
                        "{} (sequential): {} beside it had {} over the same steps",
                        m.metric,
                        beside
                            .as_ref()
                            .map_or("the release", |b| b.version.as_str()),
                        crate::model::metric::format_percent(r * 100.0)
                    )
                })
            }));
        }
        let metrics_shared = !shared.is_empty();
        if let Some(w) = workload.as_ref().filter(|w| w.shared_with.is_some()) {
            shared.push(format!(
                "workload: {} here and in {} beside it",
                w.summary(),
                beside
                    .as_ref()
                    .map_or("the release", |b| b.version.as_str())
            ));
        }
        for s in &shared {
            self.line(
                Mark::Warn,
                format!("Shared with the stable release, not this one's: {s}"),
            );
        }
        if let Some(v) = &sequential {
            for note in &v.notes {
                self.line(Mark::Info, format!("Regression test: {note}"));
            }
            self.line(
                Mark::Info,
                format!("Sequential tests (α = {} in all):", policy.sequential.alpha),
            );
            for m in &v.metrics {
                let mark = match m.state {
                    _ if m.shared_with.is_some() => Mark::Warn,
                    crate::sequential::DetectorState::Breach => Mark::Fail,
                    crate::sequential::DetectorState::Inconclusive => Mark::Warn,
                    crate::sequential::DetectorState::Healthy => Mark::Ok,
                };
                self.line(mark, format!("  {}", m.explanation));
            }
        }
        self.releases = releases;
        self.traffic = Some(traffic);
        self.from = Some(from.clone());
        self.report.detection = Some(assessment.clone());
        self.report.sequential = sequential.clone();
        self.report.workload = workload.clone();

        let operator = self.req.to.is_some() || self.req.force;
        // A conclusive sequential breach counts like a window breach of the same severity,
        // also when another metric's missing data left the window verdict inconclusive: a
        // breach is a breach whatever another metric lacks.
        let metric_worst = assessment
            .worst()
            .max(sequential.as_ref().and_then(|v| v.worst()));
        let metric_violation = assessment.verdict == Verdict::Violation || metric_worst.is_some();
        // A failing workload is a breach of its own: enough to roll back, even when the
        // metrics are healthy or say nothing.
        let workload_failure = workload
            .as_ref()
            .and_then(|w| w.counted_severity().map(|sev| (sev, w.summary())));
        let worst = metric_worst.max(workload_failure.as_ref().map(|(sev, _)| *sev));
        let workload_why = workload_failure
            .as_ref()
            .map(|(sev, summary)| format!("{sev} workload failure: {summary}"));
        let assessment = if assessment.verdict != Verdict::Violation && worst.is_some() {
            let mut a = assessment;
            a.verdict = Verdict::Violation;
            if let Some(v) = &sequential {
                a.breaches.extend(v.to_assessment().breaches);
            }
            a
        } else {
            assessment
        };
        match assessment.verdict {
            Verdict::Healthy if !operator && !shared.is_empty() && worst.is_none() => {
                let other = beside
                    .as_ref()
                    .map_or("the stable release".to_string(), |b| b.version.to_string());
                let workload_shared = workload.as_ref().is_some_and(|w| w.shared_with.is_some());
                let what = match (metrics_shared, workload_shared) {
                    (true, true) => "breaks the SLA and fails its workload the same way",
                    (false, true) => "fails its workload the same way",
                    _ => "breaks the SLA the same way",
                };
                self.line(
                    Mark::Warn,
                    format!(
                        "{other} beside it {what}: a shared cause (a dependency, the platform), not {}",
                        from.version
                    ),
                );
                self.end(StageStatus::Warn);
                return Err(Stop::Done(
                    Outcome::NothingToDo,
                    format!(
                        "{other} beside {} {what} — a shared cause; rolling back would not help",
                        from.version
                    ),
                ));
            }
            Verdict::Healthy if !operator => {
                self.line(Mark::Ok, "No SLA violation");
                self.end(StageStatus::Ok);
                return Err(Stop::Done(
                    Outcome::NothingToDo,
                    "no SLA violation — nothing to roll back".into(),
                ));
            }
            Verdict::Inconclusive if !operator => {
                self.line(Mark::Warn, assessment.explain());
                self.end(StageStatus::Warn);
                return Err(Stop::Done(
                    Outcome::Inconclusive,
                    format!(
                        "{} — not rolling back; pass --to or force to override",
                        assessment.explain()
                    ),
                ));
            }
            Verdict::Violation if !operator && worst < Some(policy.trigger) => {
                self.line(
                    Mark::Warn,
                    format!(
                        "Breaches below the configured trigger ({}): not rolling back",
                        policy.trigger
                    ),
                );
                self.end(StageStatus::Warn);
                let summary = match (&workload_why, metric_violation) {
                    (Some(w), false) => {
                        format!("workload degraded below the rollback trigger: {w}")
                    }
                    (Some(w), true) => format!(
                        "SLA and workload degraded below the rollback trigger: {}; {w}",
                        assessment.explain()
                    ),
                    (None, _) => format!(
                        "SLA degraded below the rollback trigger: {}",
                        assessment.explain()
                    ),
                };
                return Err(Stop::Done(Outcome::NothingToDo, summary));
            }
            _ => {}
        }
        let metric_why = if metric_worst == Some(Severity::Critical) {
            Some("critical SLA breach".to_string())
        } else if metric_violation {
            // Name regressions as such: the SLA may well hold.
            let is_regression = |t: crate::sequential::TestKind| {
                matches!(
                    t,
                    crate::sequential::TestKind::ErrorRegression
                        | crate::sequential::TestKind::LatencyShift
                )
            };
            let regression = sequential.as_ref().and_then(|v| {
                v.breaches()
                    .find(|m| is_regression(m.test))
                    .map(|m| m.metric.to_string())
            });
            let sla_breach = self
                .report
                .detection
                .as_ref()
                .is_some_and(|a| !a.breaches.is_empty())
                || sequential
                    .as_ref()
                    .is_some_and(|v| v.breaches().any(|m| !is_regression(m.test)));
            Some(match regression {
                Some(metric) if !sla_breach => format!(
                    "{} regression against the baseline: {}",
                    metric_worst.unwrap_or(Severity::High),
                    metric.to_lowercase()
                ),
                _ => format!("{} SLA breach", metric_worst.unwrap_or(Severity::High)),
            })
        } else {
            None
        };
        // Metrics and workload together: `YES (critical SLA breach; CRITICAL workload failure: …)`.
        let decision = match (metric_why, workload_why) {
            (Some(m), Some(w)) => Some(format!("{m}; {w}")),
            (Some(m), None) => Some(m),
            (None, Some(w)) => Some(w),
            (None, None) => None,
        };
        let why = match &decision {
            Some(d) => format!("YES ({d})"),
            None => "NO — proceeding because the operator asked".to_string(),
        };
        self.report.trigger =
            Some(self.trigger(decision, sequential.as_ref(), workload_failure.is_some()));
        self.line(
            if assessment.verdict == Verdict::Violation {
                Mark::Fail
            } else {
                Mark::Info
            },
            format!("Rollback recommended: {why}"),
        );
        self.end(if assessment.verdict == Verdict::Violation {
            StageStatus::Warn
        } else {
            StageStatus::Ok
        });
        Ok(())
    }
}

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    /// Why the rollback goes ahead, for the report and the root-cause analysis: the decision
    /// (or the operator's request) and every signal that breached — window breaches, sequential
    /// breaches, the workload's failure when `workload_failed`.
    fn trigger(
        &self,
        decision: Option<String>,
        sequential: Option<&crate::sequential::DetectorVerdict>,
        workload_failed: bool,
    ) -> Trigger {
        let decision = decision.unwrap_or_else(|| {
            let asked = if self.req.to.is_some() {
                "a rollback to a chosen release"
            } else {
                "a forced rollback"
            };
            match &self.req.reason {
                Some(r) => format!("the operator asked for {asked}: {r}"),
                None => format!("the operator asked for {asked}"),
            }
        });
        let mut trigger = Trigger::new(decision);
        trigger.at = Some(self.now());
        let mut since: Vec<DateTime<Utc>> = Vec::new();
        if let Some(a) = &self.report.detection {
            for b in &a.breaches {
                let mut s = format!("{} {} over the detection window", b.severity, b.describe());
                if let Some(at) = b.since {
                    s.push_str(&format!(" since {}", at.format("%H:%M:%S")));
                    since.push(at);
                }
                trigger.signals.push(s);
            }
        }
        for m in sequential.into_iter().flat_map(|v| v.breaches()) {
            trigger.signals.push(m.explanation.clone());
            since.extend(m.onset.or(m.since));
        }
        if let Some(w) = self.report.workload.as_ref().filter(|_| workload_failed) {
            trigger.signals.push(format!("Workload: {}", w.explain()));
        }
        trigger.since = since.into_iter().min();
        trigger
    }

    /// The failing release's workload, judged from the platform's health snapshot (see
    /// [`crate::workload`]), with the release `beside` it (a canary's stable neighbour) read
    /// too when it fails, to tell a shared cause. Prints its line. `None` when the health
    /// cannot be read: that is said, and the metrics decide alone.
    async fn workload_verdict(
        &mut self,
        from: &Release,
        beside: Option<&Release>,
    ) -> Option<WorkloadVerdict> {
        let policy = self.inner.policy.detection.workload.clone();
        let inner = Arc::clone(&self.inner);
        let target = self.req.target.clone();
        let health = match self
            .read("health", || inner.platform.health(&target, from))
            .await
        {
            Ok(h) => h,
            Err(e) => {
                self.line(
                    Mark::Warn,
                    format!(
                        "Workload: the health of {} could not be read ({e}); deciding on metrics alone",
                        from.version
                    ),
                );
                return None;
            }
        };
        let mut verdict = WorkloadVerdict::judge(&policy, from, &health, self.now());
        if let (WorkloadStatus::Failing, Some(other)) = (verdict.status, beside) {
            match self
                .read("health", || inner.platform.health(&target, other))
                .await
            {
                Ok(h) => {
                    let theirs = WorkloadVerdict::judge(&policy, other, &h, self.now());
                    if verdict.shares_failures_with(&theirs) {
                        verdict.shared_with = Some(other.reference());
                    }
                }
                Err(e) => self.line(
                    Mark::Warn,
                    format!(
                        "Workload: the health of {} beside it could not be read ({e}); the failure is counted",
                        other.version
                    ),
                ),
            }
        }
        let (mark, shared) = match (verdict.status, &verdict.shared_with) {
            (WorkloadStatus::Failing, Some(other)) => (
                Mark::Warn,
                format!(", shared: {} beside it fails the same way", other.version),
            ),
            (WorkloadStatus::Failing, None) => (Mark::Fail, String::new()),
            (WorkloadStatus::Healthy, _) => (Mark::Ok, String::new()),
            _ => (Mark::Info, String::new()),
        };
        self.line(mark, format!("Workload: {}{shared}", verdict.explain()));
        Some(verdict)
    }

    /// The anytime-valid test over the detection window: the SLA, and (when the policy asks)
    /// the release against its baseline. `None` when it cannot run (the reason is printed).
    async fn sequential_verdict(
        &mut self,
        from: &Release,
        releases: &[Release],
        traffic: &TrafficSplit,
        status: &[Series],
        p95: &[Series],
    ) -> Option<DetectorVerdict> {
        let policy = self.inner.policy.detection.clone();
        let seq = &policy.sequential;
        let sla = self.inner.policy.sla.for_env(self.req.target.environment);
        let mut cfg = DetectorConfig::from_sla(sla, &policy);
        cfg.alpha = seq.alpha;
        cfg.persistence = seq.persistence;
        cfg.fast_burn = seq.fast_burn;
        let mut histogram = None;
        let mut notes = Vec::new();
        let baseline = if seq.regression.enabled {
            cfg.regression = Some(RegressionConfig {
                tolerance: seq.regression.tolerance,
                min_baseline_requests: seq.regression.min_baseline_requests,
            });
            let range = TimeRange::ending_at(self.now(), policy.window);
            let (h, err) = self
                .query(MetricKind::LatencyHistogram, from, range, policy.step)
                .await;
            match err {
                Some(e) if e.kind() == ErrorKind::Unsupported => notes.push(format!(
                    "latency distribution not tested: the metrics source has no latency histogram ({e})"
                )),
                Some(e) => notes.push(format!(
                    "latency distribution not tested: the histogram query failed: {e}"
                )),
                None if h.is_empty() => notes.push(format!(
                    "latency distribution not tested: no latency histogram for {}",
                    from.version
                )),
                None => histogram = Some(h),
            }
            match self
                .baseline(from, releases, traffic, histogram.is_some())
                .await
            {
                Ok(r) => Some(r),
                Err(why) => {
                    notes.push(format!("not run: {why}"));
                    None
                }
            }
        } else {
            None
        };
        let verdict = match baseline {
            Some(Reference::Fixed(b)) => {
                self.line(
                    Mark::Info,
                    format!(
                        "Baseline: {} requests, {} errors in {}",
                        group_thousands(b.requests as i64),
                        group_thousands(b.errors as i64),
                        b.label
                    ),
                );
                SequentialDetector::with_baseline(cfg, b).and_then(|mut d| {
                    d.observe_series(status, Some(p95), histogram.as_deref())?;
                    Ok(d)
                })
            }
            Some(Reference::Control {
                label,
                status: control,
                p95: control_p95,
                histogram: control_hist,
            }) => {
                self.line(
                    Mark::Info,
                    format!("Baseline: {label}, step by step over the same window"),
                );
                SequentialDetector::with_control(cfg, label).and_then(|mut d| {
                    let mut obs =
                        Observation::from_series(status, Some(p95), histogram.as_deref())?;
                    Observation::attach_control(
                        &mut obs,
                        &control,
                        Some(&control_p95),
                        control_hist.as_deref(),
                    )?;
                    for o in obs {
                        d.observe(o)?;
                    }
                    Ok(d)
                })
            }
            None => SequentialDetector::new(cfg).and_then(|mut d| {
                d.observe_series(status, Some(p95), histogram.as_deref())?;
                Ok(d)
            }),
        }
        .map(|d| d.verdict_at(self.now()));
        match verdict {
            Ok(mut v) => {
                notes.append(&mut v.notes);
                v.notes = notes;
                Some(v)
            }
            Err(e) => {
                self.line(Mark::Warn, format!("Sequential test not run: {e}"));
                None
            }
        }
    }

    /// The regression reference: the stable release serving beside `from` (a canary), step by
    /// step over the detection window; else the whole target's totals over the window before
    /// `from` was deployed. Latency histograms are read only when the release has one too.
    async fn baseline(
        &mut self,
        from: &Release,
        releases: &[Release],
        traffic: &TrafficSplit,
        with_histogram: bool,
    ) -> Result<Reference, String> {
        let policy = self.inner.policy.detection.clone();
        let beside = releases
            .iter()
            .find(|r| r.revision != from.revision && traffic.percent_for(&r.revision) > 0);
        let (label, release, range, step) = match beside {
            Some(r) => (
                format!("{} beside it", r.version),
                Some(r),
                TimeRange::ending_at(self.now(), policy.window),
                policy.step,
            ),
            None => {
                let Some(at) = from.deployed_at else {
                    return Err(format!(
                        "{} has no deploy time and no release serves beside it",
                        from.version
                    ));
                };
                let window = policy.sequential.regression.baseline_window;
                (
                    format!(
                        "the {} before the deploy",
                        humantime::format_duration(window)
                    ),
                    None,
                    TimeRange::ending_at(at, window),
                    // One point per minute at most: the baseline is a total.
                    policy.step.max(std::time::Duration::from_secs(60)),
                )
            }
        };
        let (status, err) = self
            .query_for(MetricKind::StatusCodes, release, range, step)
            .await;
        if let Some(e) = err {
            return Err(format!("the baseline query failed: {e}"));
        }
        let histogram = if with_histogram {
            let (h, err) = self
                .query_for(MetricKind::LatencyHistogram, release, range, step)
                .await;
            if err.is_some() || h.is_empty() {
                None
            } else {
                Some(h)
            }
        } else {
            None
        };
        if beside.is_some() {
            let (p95, err) = self
                .query_for(MetricKind::Latency(Quantile::P95), release, range, step)
                .await;
            if let Some(e) = err {
                self.line(
                    Mark::Warn,
                    format!(
                        "Latency of {label}: query failed ({e}); its p95 cannot show a latency breach as shared"
                    ),
                );
            }
            return Ok(Reference::Control {
                label,
                status,
                p95,
                histogram,
            });
        }
        Baseline::from_series(label, &status, histogram.as_deref())
            .map(Reference::Fixed)
            .map_err(|e| e.to_string())
    }
}

/// What the regression tests compare the failing release with.
enum Reference {
    /// Totals over the window before the deploy.
    Fixed(Baseline),
    /// The stable release serving beside a canary: its own series over the same window.
    Control {
        label: String,
        status: Vec<Series>,
        p95: Vec<Series>,
        histogram: Option<Vec<Series>>,
    },
}
