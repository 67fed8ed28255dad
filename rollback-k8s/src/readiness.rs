//! When a Deployment's rollout is complete: the generation check that kube's own
//! `is_deployment_completed` skips, plus replica counts and the progress deadline.

use k8s_openapi::api::apps::v1::Deployment;

/// Where a Deployment's rollout stands, read from its `metadata.generation` and `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStatus {
    /// The controller has seen the latest spec and every desired replica is updated, ready and
    /// available.
    Complete,
    /// The controller has not yet observed the latest spec: the status describes an older
    /// generation (right after a patch it may still say the *previous* rollout is complete).
    NotObserved {
        /// `metadata.generation`.
        generation: i64,
        /// `status.observedGeneration`.
        observed: i64,
    },
    /// The rollout is under way.
    Progressing {
        /// `spec.replicas`.
        desired: i32,
        /// `status.updatedReplicas`.
        updated: i32,
        /// `status.readyReplicas`.
        ready: i32,
        /// `status.availableReplicas`.
        available: i32,
        /// `status.replicas` (all pods, old ones included).
        total: i32,
    },
    /// The `Progressing` condition says `ProgressDeadlineExceeded`: the rollout is stuck.
    DeadlineExceeded {
        /// The condition's message.
        message: String,
    },
}

impl RolloutStatus {
    /// Whether the rollout is complete.
    pub fn is_complete(&self) -> bool {
        matches!(self, RolloutStatus::Complete)
    }

    /// A short description for health problems and errors.
    pub fn describe(&self) -> String {
        match self {
            RolloutStatus::Complete => "rollout complete".into(),
            RolloutStatus::NotObserved {
                generation,
                observed,
            } => format!(
                "RolloutNotObserved: generation {generation} not yet observed (status is of generation {observed})"
            ),
            RolloutStatus::Progressing {
                desired,
                updated,
                ready,
                available,
                total,
            } => format!(
                "RolloutInProgress: {updated}/{desired} updated, {ready} ready, {available} available, {total} total"
            ),
            RolloutStatus::DeadlineExceeded { message } => {
                format!("ProgressDeadlineExceeded: {message}")
            }
        }
    }
}

/// The rollout status of a Deployment.
///
/// Complete only when `status.observedGeneration >= metadata.generation`, updated, ready and
/// available replicas all equal `spec.replicas` (and no old pods remain), and no
/// `ProgressDeadlineExceeded` condition is set.
///
/// ```
/// use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus};
/// use rollback_k8s::readiness::{rollout_status, RolloutStatus};
/// let mut d = Deployment::default();
/// d.metadata.generation = Some(5);
/// d.spec = Some(DeploymentSpec { replicas: Some(2), ..Default::default() });
/// // The status still describes generation 4, whose rollout was complete.
/// d.status = Some(DeploymentStatus {
///     observed_generation: Some(4),
///     replicas: Some(2), updated_replicas: Some(2), ready_replicas: Some(2),
///     available_replicas: Some(2), ..Default::default()
/// });
/// assert!(!rollout_status(&d).is_complete());
/// ```
pub fn rollout_status(d: &Deployment) -> RolloutStatus {
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    let observed = status.observed_generation.unwrap_or(0);
    if let Some(c) = status.conditions.as_ref().and_then(|cs| {
        cs.iter().find(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
    }) {
        // Only meaningful for the generation it was written for.
        if observed >= generation {
            return RolloutStatus::DeadlineExceeded {
                message: c.message.clone().unwrap_or_default(),
            };
        }
    }
    if observed < generation {
        return RolloutStatus::NotObserved {
            generation,
            observed,
        };
    }
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    if updated == desired && ready == desired && available == desired && total == desired {
        RolloutStatus::Complete
    } else {
        RolloutStatus::Progressing {
            desired,
            updated,
            ready,
            available,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};

    fn deployment(generation: i64, observed: i64, desired: i32, counts: [i32; 4]) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.generation = Some(generation);
        d.spec = Some(DeploymentSpec {
            replicas: Some(desired),
            ..Default::default()
        });
        d.status = Some(DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(counts[0]),
            updated_replicas: Some(counts[1]),
            ready_replicas: Some(counts[2]),
            available_replicas: Some(counts[3]),
            ..Default::default()
        });
        d
    }

    #[test]
    fn previous_generation_complete_is_not_done() {
        let d = deployment(7, 6, 3, [3, 3, 3, 3]);
        assert_eq!(
            rollout_status(&d),
            RolloutStatus::NotObserved {
                generation: 7,
                observed: 6
            }
        );
    }

    #[test]
    fn observed_and_all_replicas_updated_ready_available_is_complete() {
        assert!(rollout_status(&deployment(7, 7, 3, [3, 3, 3, 3])).is_complete());
    }

    #[test]
    fn old_pods_still_running_is_not_complete() {
        assert!(!rollout_status(&deployment(7, 7, 3, [4, 3, 3, 3])).is_complete());
        assert!(!rollout_status(&deployment(7, 7, 3, [3, 3, 2, 2])).is_complete());
    }

    #[test]
    fn progress_deadline_exceeded_is_reported() {
        let mut d = deployment(7, 7, 3, [3, 3, 3, 3]);
        if let Some(s) = d.status.as_mut() {
            s.conditions = Some(vec![DeploymentCondition {
                type_: "Progressing".into(),
                status: "False".into(),
                reason: Some("ProgressDeadlineExceeded".into()),
                message: Some("ReplicaSet \"web-2\" has timed out progressing.".into()),
                ..Default::default()
            }]);
        }
        let s = rollout_status(&d);
        assert!(matches!(s, RolloutStatus::DeadlineExceeded { .. }));
        assert!(s.describe().contains("ProgressDeadlineExceeded"));
    }
}
