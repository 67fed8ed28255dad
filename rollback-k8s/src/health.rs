//! Health of a release from its pods (by `pod-template-hash`): readiness, restarts, last
//! termination reasons (OOMKilled, exit codes), CrashLoopBackOff, and the Deployment's rollout
//! status when the release is the Deployment's current one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use kube::api::{Api, ListParams};
use rollback_core::{HealthSnapshot, Result};

use crate::error_map::Call;
use crate::layout::{match_labels_selector, Layout, ReleaseObj};
use crate::platform::{unknown_revision, KubePlatform};
use crate::readiness::rollout_status;
use crate::template::POD_TEMPLATE_HASH;
use crate::time::to_chrono;

/// Waiting reasons that mean the pod will not become ready by itself.
const BAD_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(crate) fn restarts(pod: &Pod) -> u32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| {
            cs.iter()
                .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
                .sum()
        })
}

/// How long a container's *previous* termination (`lastState.terminated`) still counts as a
/// problem after it finished. Kubernetes keeps the last termination for the life of the pod,
/// so without a horizon one OOM kill days ago would mark a healthy release as failing; a
/// container that keeps dying shows `CrashLoopBackOff` (its current state) and restarts.
pub(crate) const RECENT_TERMINATION: chrono::Duration = chrono::Duration::minutes(10);

/// The problems one pod shows at `now` (`CrashLoopBackOff`, `OOMKilled`, `exit code 1`,
/// `Unschedulable`): current waiting and terminated states, and a previous termination that
/// finished within [`RECENT_TERMINATION`] (or whose end time is unknown).
pub(crate) fn pod_problems(pod: &Pod, now: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(status) = pod.status.as_ref() else {
        return out;
    };
    for c in status.container_statuses.iter().flatten() {
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            if let Some(reason) = w.reason.as_deref().filter(|r| BAD_WAITING.contains(r)) {
                out.push(reason.to_string());
            }
        }
        let recent = |t: &&ContainerStateTerminated| {
            t.finished_at
                .as_ref()
                .and_then(|t| to_chrono(&t.0))
                .is_none_or(|end| now - end <= RECENT_TERMINATION)
        };
        let terminated = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .or_else(|| {
                c.last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .filter(recent)
            });
        if let Some(t) = terminated {
            match t.reason.as_deref() {
                Some("OOMKilled") => out.push("OOMKilled".into()),
                Some("Completed") if t.exit_code == 0 => {}
                reason if t.exit_code != 0 => out.push(match reason {
                    Some(r) => format!("exit code {} ({r})", t.exit_code),
                    None => format!("exit code {}", t.exit_code),
                }),
                _ => {}
            }
        }
    }
    for cond in status.conditions.iter().flatten() {
        if cond.type_ == "PodScheduled" && cond.status == "False" {
            out.push(
                cond.reason
                    .clone()
                    .unwrap_or_else(|| "Unschedulable".into()),
            );
        }
    }
    out
}

impl KubePlatform {
    /// The pods of one release: those carrying its `pod-template-hash`, owned by its ReplicaSet.
    pub(crate) async fn pods_of(&self, layout: &Layout, r: &ReleaseObj) -> Result<Vec<Pod>> {
        let selector = match r.pod_template_hash() {
            Some(h) => format!("{POD_TEMPLATE_HASH}={h}"),
            None => match_labels_selector(&layout.deployments[r.deployment]),
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &layout.namespace);
        let list = self
            .call(
                Call {
                    verb: "list",
                    resource: "pods",
                    namespace: &layout.namespace,
                    name: None,
                },
                api.list(&ListParams::default().labels(&selector)),
            )
            .await?;
        let rs_name = r.rs.metadata.name.as_deref();
        Ok(list
            .items
            .into_iter()
            .filter(|p| match &p.metadata.owner_references {
                Some(owners) if !owners.is_empty() => owners
                    .iter()
                    .any(|o| o.kind == "ReplicaSet" && Some(o.name.as_str()) == rs_name),
                _ => true,
            })
            .collect())
    }

    /// The health of release `revision`.
    pub(crate) async fn health_of(
        &self,
        layout: &Layout,
        revision: &str,
    ) -> Result<HealthSnapshot> {
        let r = layout
            .find(revision)
            .ok_or_else(|| unknown_revision(layout, revision, "health"))?;
        let pods = self.pods_of(layout, r).await?;
        let mut snapshot = HealthSnapshot::new(r.release.replicas.desired, 0);
        snapshot.ready = u32::try_from(pods.iter().filter(|p| is_ready(p)).count()).unwrap_or(0);
        let rs_available =
            r.rs.status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .map_or(0, |n| u32::try_from(n).unwrap_or(0));
        snapshot.available = rs_available.min(snapshot.ready);
        snapshot.restarts = pods.iter().map(restarts).sum();
        let now = self.now();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for p in &pods {
            let mut seen = pod_problems(p, now);
            seen.sort();
            seen.dedup();
            for problem in seen {
                *counts.entry(problem).or_default() += 1;
            }
        }
        snapshot.problems = counts
            .into_iter()
            .map(|(p, n)| {
                if n == 1 {
                    format!("{p} (1 pod)")
                } else {
                    format!("{p} ({n} pods)")
                }
            })
            .collect();
        if r.current {
            let status = rollout_status(&layout.deployments[r.deployment]);
            if !status.is_complete() && snapshot.desired > 0 {
                snapshot.problems.push(status.describe());
            }
        }
        snapshot.observed_at = Some(now);
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodStatus,
    };

    fn pod_with(status: ContainerStatus) -> Pod {
        Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![status]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn crash_loop_and_oom_kill_are_reported() {
        let p = pod_with(ContainerStatus {
            name: "web".into(),
            restart_count: 4,
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".into()),
                    message: None,
                }),
                ..Default::default()
            }),
            last_state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    reason: Some("OOMKilled".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let problems = pod_problems(&p, Utc::now());
        assert!(
            problems.contains(&"CrashLoopBackOff".to_string()),
            "{problems:?}"
        );
        assert!(problems.contains(&"OOMKilled".to_string()), "{problems:?}");
        assert_eq!(restarts(&p), 4);
        assert!(!is_ready(&p));
    }

    #[test]
    fn non_zero_exit_code_names_the_code() {
        let p = pod_with(ContainerStatus {
            name: "web".into(),
            last_state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 3,
                    reason: Some("Error".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            pod_problems(&p, Utc::now()),
            vec!["exit code 3 (Error)".to_string()]
        );
    }

    #[test]
    fn an_old_previous_termination_is_not_a_problem_any_more() {
        let finished: DateTime<Utc> = "2026-01-10T08:00:00Z".parse().unwrap();
        let time = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(finished.timestamp()).unwrap(),
        );
        let p = pod_with(ContainerStatus {
            name: "web".into(),
            restart_count: 1,
            last_state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    reason: Some("OOMKilled".into()),
                    finished_at: Some(time),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let soon = finished + chrono::Duration::minutes(3);
        assert_eq!(pod_problems(&p, soon), vec!["OOMKilled".to_string()]);
        let later = finished + RECENT_TERMINATION + chrono::Duration::seconds(1);
        assert!(
            pod_problems(&p, later).is_empty(),
            "{:?}",
            pod_problems(&p, later)
        );
    }
}
