//! The objects of one target, read in one pass: its Deployment(s), their ReplicaSets, and the
//! releases built from them (version, revision = ReplicaSet name, mark, slot, replicas).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use rollback_core::{
    Error, ErrorKind, Release, ReleaseMark, ReleaseState, Replicas, Result, Target, TrafficSplit,
    Version,
};

use crate::config::{KubeConfig, Mode};
use crate::error_map::BACKEND;
use crate::platform::{KubePlatform, MARK_ANNOTATION, MARK_REASON_ANNOTATION, REVISION_ANNOTATION};
use crate::template::{attributes, equal_ignoring_hash, version_of, POD_TEMPLATE_HASH};
use crate::time::to_chrono;

/// One release: a ReplicaSet and the Deployment that owns it.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseObj {
    pub rs: ReplicaSet,
    /// Index into [`Layout::deployments`].
    pub deployment: usize,
    /// Whether its template is the Deployment's current one.
    pub current: bool,
    /// The release, state not yet set (see [`Layout::releases_with_state`]).
    pub release: Release,
}

impl ReleaseObj {
    /// The `pod-template-hash` of its pods.
    pub fn pod_template_hash(&self) -> Option<String> {
        self.rs
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(POD_TEMPLATE_HASH))
            .cloned()
            .or_else(|| {
                self.rs
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .and_then(|t| t.metadata.as_ref())
                    .and_then(|m| m.labels.as_ref())
                    .and_then(|l| l.get(POD_TEMPLATE_HASH))
                    .cloned()
            })
    }

    /// The slot, for slot modes.
    pub fn slot(&self) -> Option<&str> {
        self.release.slot.as_deref()
    }
}

/// What one target is made of right now.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub target: Target,
    pub mode: Mode,
    pub namespace: String,
    pub deployments: Vec<Deployment>,
    /// Newest first.
    pub releases: Vec<ReleaseObj>,
}

impl Layout {
    pub fn find(&self, revision: &str) -> Option<&ReleaseObj> {
        self.releases
            .iter()
            .find(|r| r.release.revision == revision)
    }

    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .deployments
            .iter()
            .filter_map(|d| d.metadata.name.clone())
            .collect();
        format!(
            "deployment {} in namespace {}",
            names.join(", "),
            self.namespace
        )
    }

    /// The releases with their state derived from `traffic` and ready capacity.
    pub fn releases_with_state(&self, traffic: &TrafficSplit) -> Vec<Release> {
        self.releases
            .iter()
            .map(|r| {
                let mut rel = r.release.clone();
                rel.state = if traffic.percent_for(&rel.revision) > 0 {
                    ReleaseState::Serving
                } else if self.mode.uses_slots() && rel.replicas.ready > 0 {
                    ReleaseState::Standby
                } else {
                    ReleaseState::Inactive
                };
                rel
            })
            .collect()
    }
}

pub(crate) fn revision_number(rs: &ReplicaSet) -> u64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn owned_by(rs: &ReplicaSet, d: &Deployment) -> bool {
    rs.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "Deployment"
            && Some(&o.name) == d.metadata.name.as_ref()
            && match (&d.metadata.uid, o.uid.as_str()) {
                (Some(uid), ouid) if !ouid.is_empty() => uid == ouid,
                _ => true,
            }
    })
}

/// `k=v,k2=v2` from a Deployment's `spec.selector.matchLabels`.
pub(crate) fn match_labels_selector(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn build_release(
    config: &KubeConfig,
    d: &Deployment,
    rs: &ReplicaSet,
    current: bool,
    slot: Option<String>,
) -> Result<Release> {
    let name = rs.metadata.name.clone().unwrap_or_default();
    let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
    let version = version_of(
        rs.metadata.labels.as_ref(),
        rs.metadata.annotations.as_ref(),
        template,
        &config.version_label,
    )
    .unwrap_or_else(|| name.clone());
    let version = Version::parse(&version).or_else(|_| Version::parse(&name))?;
    let mut release = Release::new(version, name.clone());
    let ann = rs.metadata.annotations.clone().unwrap_or_default();
    release.mark = match ann.get(MARK_ANNOTATION).map(String::as_str) {
        Some("verified") => ReleaseMark::Verified,
        Some("failed") => ReleaseMark::Failed,
        _ => ReleaseMark::Unknown,
    };
    release.slot = slot;
    release.deployed_at = rs
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| to_chrono(&t.0));
    let rs_desired = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let desired = if current {
        d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    } else {
        rs_desired
    };
    let ready = rs
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    release.replicas = Replicas {
        desired: u32::try_from(desired).unwrap_or(0),
        ready: u32::try_from(ready).unwrap_or(0),
    };
    let mut attrs: BTreeMap<String, String> = template.map(attributes).unwrap_or_default();
    attrs.insert("replicaset".into(), name);
    attrs.insert(
        "deployment".into(),
        d.metadata.name.clone().unwrap_or_default(),
    );
    attrs.insert("revision".into(), revision_number(rs).to_string());
    if let Some(reason) = ann.get(MARK_REASON_ANNOTATION) {
        attrs.insert("mark-reason".into(), reason.clone());
    }
    release.attributes = attrs;
    Ok(release)
}

impl KubePlatform {
    /// Reads the target's Deployment(s) and ReplicaSets.
    pub(crate) async fn layout(&self, target: &Target) -> Result<Layout> {
        let ns = self.namespace_of(target);
        let mode = self.config.mode;
        let deployments = if mode == Mode::Rollout {
            match &self.config.selector {
                None => vec![self.get_deployment(&ns, &target.deployment).await?],
                Some(sel) => {
                    let sel = KubeConfig::expand(sel, &target.deployment, None);
                    let ds = self.list_deployments(&ns, &sel).await?;
                    match ds.len() {
                        0 => {
                            return Err(Error::new(
                                ErrorKind::NotFound,
                                format!(
                                    "no Deployment in namespace {ns} matches selector `{sel}` (target {target})"
                                ),
                            )
                            .with_backend(BACKEND))
                        }
                        1 => ds,
                        _ => {
                            return Err(Error::invalid_input(format!(
                                "selector `{sel}` matches {} Deployments in namespace {ns} ({}): rollout mode needs exactly one",
                                ds.len(),
                                ds.iter()
                                    .filter_map(|d| d.metadata.name.clone())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                            .with_backend(BACKEND))
                        }
                    }
                }
            }
        } else {
            let base = self
                .config
                .selector
                .as_deref()
                .map(|s| KubeConfig::expand(s, &target.deployment, None))
                .unwrap_or_else(|| format!("app.kubernetes.io/name={}", target.deployment));
            let sel = format!("{base},{}", self.config.slot_label);
            let mut ds = self.list_deployments(&ns, &sel).await?;
            if ds.is_empty() {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "no slot Deployment of target {target} in namespace {ns}: expected Deployments matching `{sel}` (label `{}` names the slot)",
                        self.config.slot_label
                    ),
                )
                .with_backend(BACKEND));
            }
            ds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            ds
        };

        let mut releases = Vec::new();
        for (i, d) in deployments.iter().enumerate() {
            let sel = match_labels_selector(d);
            let mut rss: Vec<ReplicaSet> = self
                .list_replicasets(&ns, &sel)
                .await?
                .into_iter()
                .filter(|rs| owned_by(rs, d))
                .collect();
            rss.sort_by(|a, b| {
                revision_number(b)
                    .cmp(&revision_number(a))
                    .then_with(|| {
                        b.metadata
                            .creation_timestamp
                            .cmp(&a.metadata.creation_timestamp)
                    })
                    .then_with(|| a.metadata.name.cmp(&b.metadata.name))
            });
            let dt = d.spec.as_ref().map(|s| &s.template);
            let current_idx = rss.iter().position(|rs| {
                match (dt, rs.spec.as_ref().and_then(|s| s.template.as_ref())) {
                    (Some(a), Some(b)) => equal_ignoring_hash(a, b),
                    _ => false,
                }
            });
            if mode == Mode::Rollout {
                for (j, rs) in rss.iter().enumerate() {
                    let current = Some(j) == current_idx;
                    releases.push(ReleaseObj {
                        release: build_release(&self.config, d, rs, current, None)?,
                        rs: rs.clone(),
                        deployment: i,
                        current,
                    });
                }
            } else {
                let slot = d
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(&self.config.slot_label))
                    .cloned();
                // A slot's release is its current ReplicaSet (the newest while none matches yet).
                if let Some(rs) = current_idx
                    .or(if rss.is_empty() { None } else { Some(0) })
                    .map(|j| &rss[j])
                {
                    releases.push(ReleaseObj {
                        release: build_release(&self.config, d, rs, true, slot)?,
                        rs: rs.clone(),
                        deployment: i,
                        current: true,
                    });
                }
            }
        }
        if mode.uses_slots() {
            releases.sort_by(|a, b| {
                b.rs.metadata
                    .creation_timestamp
                    .cmp(&a.rs.metadata.creation_timestamp)
                    .then_with(|| a.release.revision.cmp(&b.release.revision))
            });
        }
        Ok(Layout {
            target: target.clone(),
            mode,
            namespace: ns,
            deployments,
            releases,
        })
    }
}
