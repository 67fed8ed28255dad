//! Workload judgement: from the platform's health snapshot of a release to an explained verdict.
//!
//! Metrics show what users see; the workload shows what the platform sees of the release's
//! instances. A release whose pods crash-loop while the survivors still answer every request
//! keeps its SLA for a while, and a deployment circuit breaker (ECS) looks only at the tasks,
//! never at HTTP errors. The detect stage reads both and lets either start a rollback.
//!
//! The rules, applied by [`WorkloadVerdict::judge`] with a [`WorkloadPolicy`] (the
//! `detection.workload` section of the [`Policy`](crate::Policy)):
//!
//! - Nothing is judged while the release is younger than `grace_period` (from its
//!   `deployed_at`), nor when no instance is desired.
//! - Instances desired and none ready: CRITICAL.
//! - A reported problem that contains one of `failure_problems` (ignoring case), such as
//!   `CrashLoopBackOff` or `ProgressDeadlineExceeded`: CRITICAL.
//! - More restarts than `max_restarts`, while the release is younger than `restart_window`:
//!   HIGH.
//!
//! Beside a canary, the detect stage also judges the stable release serving next to it: when
//! that one shows every failure the canary shows ([`WorkloadVerdict::shares_failures_with`]),
//! the cause is shared (node pressure, a broken dependency) and the failure is not counted.
//!
//! ```
//! use chrono::{Duration, Utc};
//! use rollback_core::policy::WorkloadPolicy;
//! use rollback_core::workload::{WorkloadStatus, WorkloadVerdict};
//! use rollback_core::{HealthSnapshot, Release, Severity, Version};
//!
//! let now = Utc::now();
//! let mut release = Release::new(Version::parse("v2.0.0").unwrap(), "api-6f7c9");
//! release.deployed_at = Some(now - Duration::minutes(10));
//! let mut health = HealthSnapshot::new(3, 0);
//! health.restarts = 12;
//! health.problems = vec!["CrashLoopBackOff (3 pods)".into()];
//!
//! let v = WorkloadVerdict::judge(&WorkloadPolicy::default(), &release, &health, now);
//! assert_eq!(v.status, WorkloadStatus::Failing);
//! assert_eq!(v.severity, Some(Severity::Critical));
//! assert_eq!(
//!     v.explain(),
//!     "0/3 ready, 12 restarts (limit 5); CrashLoopBackOff (3 pods) - CRITICAL"
//! );
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::finding::Severity;
use crate::model::health::HealthSnapshot;
use crate::model::release::{Release, ReleaseRef};
use crate::policy::WorkloadPolicy;

/// The longest problem text kept in a summary line (the full text stays in the report).
const SHORT_PROBLEM: usize = 80;

/// The conclusion about a release's workload.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadStatus {
    /// Judged; nothing the policy counts as a failure.
    Healthy,
    /// Judged and failing: see [`WorkloadVerdict::failures`].
    Failing,
    /// Not judged (within the grace period after its deploy, or nothing desired): see
    /// [`WorkloadVerdict::note`].
    NotJudged,
}

/// One reason a workload is failing.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadFailure {
    /// Instances are desired and none is ready (CRITICAL).
    NoneReady {
        /// Instances desired.
        desired: u32,
    },
    /// The platform reports a problem the policy counts as a failure (CRITICAL).
    Problem {
        /// The entry of `failure_problems` it matched.
        matched: String,
        /// The problem as reported (secrets masked).
        problem: String,
    },
    /// More restarts than the policy allows (HIGH).
    Restarts {
        /// Restarts reported.
        restarts: u32,
        /// The policy's `max_restarts`.
        limit: u32,
    },
}

impl WorkloadFailure {
    /// How serious it is: CRITICAL, except restarts alone (HIGH).
    pub fn severity(&self) -> Severity {
        match self {
            WorkloadFailure::Restarts { .. } => Severity::High,
            WorkloadFailure::NoneReady { .. } | WorkloadFailure::Problem { .. } => {
                Severity::Critical
            }
        }
    }

    /// A short description: `no instance ready (0/3)`, `CrashLoopBackOff (3 pods)`,
    /// `12 restarts (limit 5)`.
    pub fn describe(&self) -> String {
        match self {
            WorkloadFailure::NoneReady { desired } => {
                format!("no instance ready (0/{desired})")
            }
            WorkloadFailure::Problem { problem, .. } => shorten(problem, SHORT_PROBLEM),
            WorkloadFailure::Restarts { restarts, limit } => {
                format!("{restarts} restarts (limit {limit})")
            }
        }
    }

    /// Whether the release judged in `other` fails this way too: the same matched problem
    /// (ignoring case), nothing ready, or more restarts than this failure's limit (counted
    /// whatever the age of that release: here they only tell a shared cause).
    fn seen_in(&self, other: &WorkloadVerdict) -> bool {
        match self {
            WorkloadFailure::NoneReady { .. } => other
                .failures
                .iter()
                .any(|o| matches!(o, WorkloadFailure::NoneReady { .. })),
            WorkloadFailure::Problem { matched, .. } => other.failures.iter().any(|o| {
                matches!(o, WorkloadFailure::Problem { matched: m, .. } if m.eq_ignore_ascii_case(matched))
            }),
            WorkloadFailure::Restarts { limit, .. } => other.health.restarts > *limit,
        }
    }
}

/// The verdict on one release's workload, with the snapshot it was made from.
///
/// Made by [`WorkloadVerdict::judge`]; the detect stage records the failing release's verdict
/// in [`RollbackReport::workload`](crate::RollbackReport::workload).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadVerdict {
    /// The release judged.
    pub release: ReleaseRef,
    /// Healthy, failing or not judged.
    pub status: WorkloadStatus,
    /// The platform's snapshot (problems with secrets masked).
    pub health: HealthSnapshot,
    /// Why it is failing; empty unless [`WorkloadStatus::Failing`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<WorkloadFailure>,
    /// The most severe failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// What was left out and why (the grace period, restarts past their window, an unknown
    /// deploy time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The release serving beside it that shows the same failures: a shared cause, not
    /// counted against this release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<ReleaseRef>,
}

impl WorkloadVerdict {
    /// Judges `release` from its `health` snapshot at `now` (see the [module docs](self) for
    /// the rules). Problem texts come from the platform, so secrets in them are masked.
    pub fn judge(
        policy: &WorkloadPolicy,
        release: &Release,
        health: &HealthSnapshot,
        now: DateTime<Utc>,
    ) -> WorkloadVerdict {
        let mut health = health.clone();
        for p in &mut health.problems {
            *p = crate::redact::scrub(p);
        }
        let mut verdict = WorkloadVerdict {
            release: release.reference(),
            status: WorkloadStatus::Healthy,
            health,
            failures: Vec::new(),
            severity: None,
            note: None,
            shared_with: None,
        };
        let age = release
            .deployed_at
            .map(|at| (now - at).to_std().unwrap_or_default());
        if verdict.health.desired == 0 {
            verdict.status = WorkloadStatus::NotJudged;
            verdict.note = Some("no instance desired".into());
            return verdict;
        }
        match age {
            Some(age) if age < policy.grace_period => {
                verdict.status = WorkloadStatus::NotJudged;
                verdict.note = Some(format!(
                    "deployed {} ago, within the {} grace period",
                    format_age(age),
                    humantime::format_duration(policy.grace_period)
                ));
                return verdict;
            }
            Some(_) => {}
            None => {
                verdict.note = Some("deploy time unknown: judged without a grace period".into())
            }
        }
        let h = &verdict.health;
        let mut failures = Vec::new();
        if h.ready == 0 {
            failures.push(WorkloadFailure::NoneReady { desired: h.desired });
        }
        for problem in &h.problems {
            let lower = problem.to_lowercase();
            if let Some(m) = policy
                .failure_problems
                .iter()
                .map(|m| m.trim())
                .find(|m| !m.is_empty() && lower.contains(&m.to_lowercase()))
            {
                failures.push(WorkloadFailure::Problem {
                    matched: m.to_string(),
                    problem: problem.clone(),
                });
            }
        }
        if h.restarts > policy.max_restarts {
            match age {
                Some(age) if age >= policy.restart_window => {
                    verdict.note = Some(format!(
                        "{} restarts not judged: deployed {} ago, past the {} restart window",
                        h.restarts,
                        format_age(age),
                        humantime::format_duration(policy.restart_window)
                    ));
                }
                _ => failures.push(WorkloadFailure::Restarts {
                    restarts: h.restarts,
                    limit: policy.max_restarts,
                }),
            }
        }
        if !failures.is_empty() {
            verdict.status = WorkloadStatus::Failing;
            verdict.severity = failures.iter().map(WorkloadFailure::severity).max();
            verdict.failures = failures;
        }
        verdict
    }

    /// The severity that counts towards a rollback: the failure's, unless it is shared with the
    /// release beside it.
    pub fn counted_severity(&self) -> Option<Severity> {
        if self.shared_with.is_some() {
            None
        } else {
            self.severity
        }
    }

    /// Whether `other` (the release serving beside this one) fails in every way this one
    /// does: then the cause is not this release (node pressure, a broken dependency).
    /// `false` unless both are failing. Restarts over the limit count as shared when the other
    /// release has that many too, however old it is; but restarts alone never make the other
    /// release failing, so a release failing only by its restarts is never excused by an old
    /// neighbour's history.
    pub fn shares_failures_with(&self, other: &WorkloadVerdict) -> bool {
        self.status == WorkloadStatus::Failing
            && other.status == WorkloadStatus::Failing
            && self.failures.iter().all(|f| f.seen_in(other))
    }

    /// The failures in a few words: `CrashLoopBackOff, OOMKilled, 24 restarts (limit 5)`.
    pub fn summary(&self) -> String {
        self.failures
            .iter()
            .map(WorkloadFailure::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line for the stage output (after `Workload: `), e.g.
    /// `4/6 ready, 24 restarts (limit 5); CrashLoopBackOff, OOMKilled - CRITICAL`, or
    /// `6/6 ready, 0 restarts`.
    pub fn explain(&self) -> String {
        let h = &self.health;
        let restarts = match self.failures.iter().find_map(|f| match f {
            WorkloadFailure::Restarts { restarts, limit } => Some((restarts, limit)),
            _ => None,
        }) {
            Some((r, limit)) => format!("{r} restarts (limit {limit})"),
            None if h.restarts == 1 => "1 restart".to_string(),
            None => format!("{} restarts", h.restarts),
        };
        let mut s = format!("{}/{} ready, {restarts}", h.ready, h.desired);
        let counted: Vec<&str> = self
            .failures
            .iter()
            .filter_map(|f| match f {
                WorkloadFailure::Problem { problem, .. } => Some(problem.as_str()),
                _ => None,
            })
            .collect();
        let others: Vec<&str> = h
            .problems
            .iter()
            .map(String::as_str)
            .filter(|p| !counted.contains(p))
            .collect();
        if !counted.is_empty() {
            s.push_str("; ");
            s.push_str(&counted.join(", "));
        }
        if !others.is_empty() {
            s.push_str(if self.status == WorkloadStatus::Failing {
                "; also reported: "
            } else {
                "; reported, not counted as failures: "
            });
            s.push_str(&others.join(", "));
        }
        match (self.status, self.severity) {
            (WorkloadStatus::Failing, Some(sev)) => s.push_str(&format!(" - {sev}")),
            (WorkloadStatus::NotJudged, _) => s.push_str(" - not judged"),
            _ => {}
        }
        if let Some(note) = &self.note {
            s.push_str(&format!(" ({note})"));
        }
        s
    }
}

/// An age rounded to the second: `40s`, `9m`, `3h 2m 5s`.
fn format_age(age: std::time::Duration) -> String {
    humantime::format_duration(std::time::Duration::from_secs(age.as_secs())).to_string()
}

/// `text` cut to at most `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::version::Version;

    fn t0() -> DateTime<Utc> {
        "2024-01-15T14:30:00Z".parse().unwrap()
    }

    fn release(age_secs: i64) -> Release {
        let mut r = Release::new(Version::parse("v2.0.0").unwrap(), "api-2");
        r.deployed_at = Some(t0() - chrono::Duration::seconds(age_secs));
        r
    }

    fn health(desired: u32, ready: u32, restarts: u32, problems: &[&str]) -> HealthSnapshot {
        let mut h = HealthSnapshot::new(desired, ready);
        h.restarts = restarts;
        h.problems = problems.iter().map(|p| p.to_string()).collect();
        h
    }

    fn judge(age_secs: i64, h: &HealthSnapshot) -> WorkloadVerdict {
        WorkloadVerdict::judge(&WorkloadPolicy::default(), &release(age_secs), h, t0())
    }

    #[test]
    fn a_healthy_workload_is_healthy_and_says_so() {
        let v = judge(600, &health(3, 3, 1, &[]));
        assert_eq!(v.status, WorkloadStatus::Healthy);
        assert_eq!(v.severity, None);
        assert_eq!(v.explain(), "3/3 ready, 1 restart");
    }

    #[test]
    fn listed_problems_are_critical_and_others_only_shown() {
        let v = judge(
            600,
            &health(
                4,
                3,
                2,
                &["crashloopbackoff (1 pod)", "RolloutInProgress: 3/4 updated"],
            ),
        );
        assert_eq!(v.status, WorkloadStatus::Failing);
        assert_eq!(v.severity, Some(Severity::Critical));
        assert_eq!(
            v.failures,
            vec![WorkloadFailure::Problem {
                matched: "CrashLoopBackOff".into(),
                problem: "crashloopbackoff (1 pod)".into()
            }]
        );
        assert_eq!(
            v.explain(),
            "3/4 ready, 2 restarts; crashloopbackoff (1 pod); also reported: RolloutInProgress: 3/4 updated - CRITICAL"
        );
        let v = judge(600, &health(4, 4, 0, &["2 task(s) pending"]));
        assert_eq!(v.status, WorkloadStatus::Healthy);
        assert!(v
            .explain()
            .contains("not counted as failures: 2 task(s) pending"));
    }

    #[test]
    fn restarts_over_the_limit_are_high_only_while_the_release_is_young() {
        let v = judge(600, &health(3, 3, 6, &[]));
        assert_eq!(v.severity, Some(Severity::High));
        assert_eq!(v.summary(), "6 restarts (limit 5)");
        let v = judge(600, &health(3, 3, 5, &[]));
        assert_eq!(v.status, WorkloadStatus::Healthy);
        let v = judge(2 * 3600, &health(3, 3, 60, &[]));
        assert_eq!(v.status, WorkloadStatus::Healthy);
        assert!(
            v.note
                .as_deref()
                .unwrap()
                .contains("past the 1h restart window"),
            "{:?}",
            v.note
        );
    }

    #[test]
    fn nothing_ready_is_critical_but_not_within_the_grace_period() {
        let v = judge(600, &health(3, 0, 0, &[]));
        assert_eq!(v.failures, vec![WorkloadFailure::NoneReady { desired: 3 }]);
        assert_eq!(v.severity, Some(Severity::Critical));
        let v = judge(40, &health(3, 0, 4, &["CrashLoopBackOff"]));
        assert_eq!(v.status, WorkloadStatus::NotJudged);
        assert_eq!(v.severity, None);
        assert!(
            v.explain()
                .ends_with("not judged (deployed 40s ago, within the 2m grace period)"),
            "{}",
            v.explain()
        );
        let v = judge(600, &health(0, 0, 0, &[]));
        assert_eq!(v.status, WorkloadStatus::NotJudged);
    }

    #[test]
    fn an_empty_pattern_matches_nothing_even_in_an_unvalidated_policy() {
        let policy = WorkloadPolicy {
            failure_problems: vec![String::new(), " ".into()],
            ..WorkloadPolicy::default()
        };
        let v = WorkloadVerdict::judge(
            &policy,
            &release(600),
            &health(2, 2, 0, &["2 task(s) pending"]),
            t0(),
        );
        assert_eq!(v.status, WorkloadStatus::Healthy);
    }

    #[test]
    fn without_a_deploy_time_it_is_judged_and_noted() {
        let r = Release::new(Version::parse("v2.0.0").unwrap(), "api-2");
        let v = WorkloadVerdict::judge(&WorkloadPolicy::default(), &r, &health(2, 0, 0, &[]), t0());
        assert_eq!(v.status, WorkloadStatus::Failing);
        assert!(v.note.as_deref().unwrap().contains("deploy time unknown"));
    }

    #[test]
    fn shared_only_when_the_neighbour_shows_every_failure() {
        let mine = judge(600, &health(3, 2, 9, &["CrashLoopBackOff", "OOMKilled"]));
        let same = judge(
            86_400,
            &health(
                5,
                4,
                0,
                &["OOMKilled (2 pods)", "CrashLoopBackOff (2 pods)"],
            ),
        );
        // My restarts are my own: the neighbour does not restart.
        assert!(!mine.shares_failures_with(&same));
        // It does, and however old it is, that is the same failure.
        let restarting = judge(
            86_400,
            &health(
                5,
                4,
                30,
                &["OOMKilled (2 pods)", "CrashLoopBackOff (2 pods)"],
            ),
        );
        assert!(mine.shares_failures_with(&restarting));
        // A failure by restarts alone is not excused by an old neighbour's history.
        let only_restarts = judge(600, &health(3, 3, 9, &[]));
        let old_history = judge(86_400, &health(5, 5, 30, &[]));
        assert!(!only_restarts.shares_failures_with(&old_history));
        let mine = judge(600, &health(3, 2, 1, &["CrashLoopBackOff", "OOMKilled"]));
        assert!(mine.shares_failures_with(&same));
        let fewer = judge(86_400, &health(5, 4, 0, &["OOMKilled"]));
        assert!(!mine.shares_failures_with(&fewer));
        let healthy = judge(86_400, &health(5, 5, 0, &[]));
        assert!(!mine.shares_failures_with(&healthy));
        let mut shared = mine.clone();
        shared.shared_with = Some(same.release.clone());
        assert_eq!(mine.counted_severity(), Some(Severity::Critical));
        assert_eq!(shared.counted_severity(), None);
    }

    #[test]
    fn secrets_in_problem_texts_are_masked_and_long_ones_shortened() {
        let long = format!(
            "CannotPullContainerError: pull https://bot:hunter2@registry.example.com/api {} TaskFailedToStart",
            "x".repeat(100)
        );
        let v = judge(600, &health(2, 1, 0, &[&long]));
        let text = serde_json::to_string(&v).unwrap() + &v.explain() + &v.summary();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            v.summary().chars().count() <= SHORT_PROBLEM,
            "{}",
            v.summary()
        );
        assert!(v.summary().ends_with('…'));
    }
}
