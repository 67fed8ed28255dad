//! From ECS task definitions, services and deployments to the library's [`Release`] list: version,
//! state, mark, capacity and times.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{Deployment, Service, TaskDefinition};
use chrono::{DateTime, Utc};
use rollback_core::{Release, ReleaseMark, ReleaseState, Replicas, Version};

/// The tag key of our own verified/failed mark on a task definition.
pub const MARK_TAG: &str = "rollback:mark";
/// The tag key of the reason that went with the mark.
pub const MARK_REASON_TAG: &str = "rollback:mark-reason";
/// The tag key of when the mark was set (RFC 3339).
pub const MARKED_AT_TAG: &str = "rollback:marked-at";

/// A task definition revision with its tags.
#[derive(Debug, Clone)]
pub(crate) struct TaskDef {
    pub arn: String,
    pub def: TaskDefinition,
    pub tags: BTreeMap<String, String>,
}

/// One service deployment as the `ListServiceDeployments` API sees it, reduced to what we use.
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryEntry {
    pub arn: String,
    pub status: String,
    pub target_td: Option<String>,
    pub source_tds: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Hooks waiting for an answer (`AWAITING_ACTION`).
    pub awaiting_hooks: Vec<String>,
    pub lifecycle_stage: Option<String>,
    pub circuit_breaker: Option<String>,
    pub status_reason: Option<String>,
}

impl HistoryEntry {
    /// Still rolling out.
    pub fn in_flight(&self) -> bool {
        matches!(self.status.as_str(), "PENDING" | "IN_PROGRESS")
    }

    /// Ended with its target rolled back or failed.
    pub fn failed(&self) -> bool {
        self.status.starts_with("ROLLBACK_")
    }
}

pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// The revision number at the end of a task-definition ARN (`…:task-definition/web:7` → 7).
pub(crate) fn td_revision(arn: &str) -> i64 {
    arn.rsplit(':')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The family of a task-definition ARN or `family:revision` (`…:task-definition/web:7` → `web`).
pub(crate) fn td_family(arn: &str) -> &str {
    let tail = arn.rsplit('/').next().unwrap_or(arn);
    tail.split(':').next().unwrap_or(tail)
}

/// The counts of the deployment of `td` on `svc`: the deployment's own while several deployments
/// run, the service's when it is the only one (they are the same on ECS; emulators keep only the
/// service's current). `(desired, running, pending, failed)`.
pub(crate) fn counts(svc: &Service, td: &str) -> Option<(i32, i32, i32, i32)> {
    let ds = consistent_deployments(svc);
    let dep = ds.iter().find(|d| d.task_definition() == Some(td));
    let is_desired = svc.task_definition() == Some(td);
    match dep {
        Some(d) if ds.len() > 1 || !is_desired => Some((
            d.desired_count(),
            d.running_count(),
            d.pending_count(),
            d.failed_tasks(),
        )),
        Some(d) => Some((
            svc.desired_count(),
            svc.running_count(),
            svc.pending_count(),
            d.failed_tasks(),
        )),
        None if is_desired => Some((
            svc.desired_count(),
            svc.running_count(),
            svc.pending_count(),
            0,
        )),
        None => None,
    }
}

/// The deployments of a service, or none when the list contradicts the service itself: ECS always
/// lists the service's task definition as the PRIMARY deployment, so a list whose PRIMARY names
/// another one is stale (emulators keep the creation-time list) and is ignored.
pub(crate) fn consistent_deployments(svc: &Service) -> Vec<Deployment> {
    let ds = svc.deployments();
    let td = svc.task_definition().unwrap_or_default();
    match ds.iter().find(|d| d.status() == Some("PRIMARY")) {
        Some(p) if p.task_definition() != Some(td) => Vec::new(),
        _ => ds.to_vec(),
    }
}

fn main_container<'a>(
    td: &'a TaskDefinition,
    wanted: Option<&str>,
) -> Option<&'a aws_sdk_ecs::types::ContainerDefinition> {
    let cs = td.container_definitions();
    if let Some(w) = wanted {
        if let Some(c) = cs.iter().find(|c| c.name() == Some(w)) {
            return Some(c);
        }
    }
    cs.iter()
        .find(|c| c.essential().unwrap_or(true))
        .or_else(|| cs.first())
}

/// The tag of an image reference (`repo/web:v1.2.9` → `v1.2.9`; digests and untagged → `None`).
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    (!tag.is_empty()).then_some(tag)
}

/// The version of a task definition: the version tag, else the main container's image tag, else
/// `family:revision`.
pub(crate) fn version_of(td: &TaskDef, version_tag: &str, container: Option<&str>) -> Version {
    if let Some(v) = td
        .tags
        .get(version_tag)
        .and_then(|v| Version::parse(v).ok())
    {
        return v;
    }
    if let Some(v) = main_container(&td.def, container)
        .and_then(|c| c.image())
        .and_then(image_tag)
        .and_then(|t| Version::parse(t).ok())
    {
        return v;
    }
    let fallback = format!("{}:{}", td_family(&td.arn), td_revision(&td.arn));
    Version::parse(&fallback)
        .or_else(|_| Version::parse("unknown"))
        .expect("`unknown` is a valid version")
}

fn mark_from_tags(tags: &BTreeMap<String, String>) -> Option<ReleaseMark> {
    match tags.get(MARK_TAG).map(String::as_str) {
        Some("verified") => Some(ReleaseMark::Verified),
        Some("failed") => Some(ReleaseMark::Failed),
        _ => None,
    }
}

/// Descriptive attributes of a task definition (never an environment value or a secret).
pub(crate) fn attributes(td: &TaskDef, container: Option<&str>) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("ecs.task_definition".into(), td.arn.clone());
    a.insert("ecs.family".into(), td_family(&td.arn).to_string());
    a.insert("ecs.revision".into(), td_revision(&td.arn).to_string());
    if let Some(cpu) = td.def.cpu() {
        a.insert("resources.cpu".into(), cpu.to_string());
    }
    if let Some(m) = td.def.memory() {
        a.insert("resources.memory".into(), m.to_string());
    }
    if let Some(c) = main_container(&td.def, container) {
        if let Some(img) = c.image() {
            a.insert("image".into(), img.to_string());
        }
        if let Some(n) = c.name() {
            a.insert("container".into(), n.to_string());
        }
        if c.memory().is_some_and(|m| m > 0) {
            a.insert(
                "resources.container_memory".into(),
                c.memory().unwrap_or_default().to_string(),
            );
        }
        for kv in c.environment() {
            if let Some(n) = kv.name() {
                a.insert(format!("env.{n}"), "(set)".into());
            }
        }
        for s in c.secrets() {
            a.insert(format!("env.{}", s.name()), "(secret)".into());
        }
    }
    a
}

/// What the releases are built from.
pub(crate) struct Inputs<'a> {
    pub tds: &'a [TaskDef],
    /// The services of the target with their slot name (`None` for a single service) and the
    /// percent of listener traffic the slot receives (`None` when there is no listener).
    pub services: Vec<(&'a Service, Option<&'static str>, Option<u8>)>,
    pub history: &'a [HistoryEntry],
    pub version_tag: &'a str,
    pub container: Option<&'a str>,
}

fn u(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Builds the release list, newest first: by when each release last started serving (the
/// deployment's start when known, else the task definition's registration), then by revision.
pub(crate) fn build(inputs: &Inputs<'_>) -> Vec<Release> {
    let mut out: Vec<Release> = Vec::new();
    for td in inputs.tds {
        let mut r = Release::new(
            version_of(td, inputs.version_tag, inputs.container),
            td.arn.clone(),
        );
        r.attributes = attributes(td, inputs.container);
        r.mark = mark_from_tags(&td.tags).unwrap_or_default();
        let registered = td.def.registered_at().and_then(to_chrono);
        let mut started = None;
        // ECS's own history: the newest deployment that targeted this task definition.
        let mine: Vec<&HistoryEntry> = inputs
            .history
            .iter()
            .filter(|h| h.target_td.as_deref() == Some(td.arn.as_str()))
            .collect();
        if let Some(h) = mine.first() {
            r.attributes
                .insert("ecs.deployment.status".into(), h.status.clone());
            r.attributes
                .insert("ecs.deployment.arn".into(), h.arn.clone());
            started = h.started_at;
            if let Some(f) = h.finished_at {
                r.attributes
                    .insert("ecs.deployment.finished_at".into(), f.to_rfc3339());
            }
            for (k, v) in [
                ("ecs.deployment.lifecycle_stage", &h.lifecycle_stage),
                ("ecs.deployment.circuit_breaker", &h.circuit_breaker),
                ("ecs.deployment.status_reason", &h.status_reason),
            ] {
                if let Some(v) = v {
                    r.attributes.insert(k.into(), v.clone());
                }
            }
            if r.mark == ReleaseMark::Unknown && h.failed() {
                r.mark = ReleaseMark::Failed;
            }
        }
        // The service views: desired state, PRIMARY/ACTIVE deployments.
        let mut state = ReleaseState::Inactive;
        let mut replicas = Replicas::default();
        for (svc, slot, weight) in &inputs.services {
            let deployments = consistent_deployments(svc);
            let is_desired = svc.task_definition() == Some(td.arn.as_str());
            let dep = deployments
                .iter()
                .find(|d| d.task_definition() == Some(td.arn.as_str()));
            if let Some(d) = dep {
                if let Some(rs) = d.rollout_state() {
                    r.attributes
                        .insert("ecs.rollout_state".into(), rs.as_str().to_string());
                    if r.mark == ReleaseMark::Unknown && rs.as_str() == "FAILED" {
                        r.mark = ReleaseMark::Failed;
                    }
                }
                if started.is_none() || d.created_at().and_then(to_chrono) > started {
                    started = d.created_at().and_then(to_chrono).or(started);
                }
            }
            let (desired, running) = if is_desired {
                match dep {
                    Some(d) if deployments.len() > 1 => {
                        (u(d.desired_count()), u(d.running_count()))
                    }
                    _ => (u(svc.desired_count()), u(svc.running_count())),
                }
            } else if let Some(d) = dep.filter(|d| d.status() == Some("ACTIVE")) {
                (u(d.desired_count()), u(d.running_count()))
            } else {
                continue;
            };
            replicas.desired += desired;
            replicas.ready += running;
            let here = match (slot, weight) {
                (Some(_), Some(w)) if *w > 0 => ReleaseState::Serving,
                (Some(_), _) if desired > 0 || running > 0 => ReleaseState::Standby,
                (Some(_), _) => ReleaseState::Inactive,
                (None, _) if is_desired || running > 0 => ReleaseState::Serving,
                (None, _) => ReleaseState::Inactive,
            };
            let rank = |s: ReleaseState| match s {
                ReleaseState::Serving => 2,
                ReleaseState::Standby => 1,
                _ => 0,
            };
            if r.slot.is_none() || rank(here) > rank(state) {
                if let Some(s) = slot {
                    r.slot = Some((*s).to_string());
                }
            }
            if rank(here) > rank(state) {
                state = here;
            }
            r.attributes.insert(
                "ecs.service".into(),
                svc.service_name().unwrap_or_default().to_string(),
            );
        }
        r.state = state;
        r.replicas = replicas;
        r.deployed_at = started.or(registered);
        out.push(r);
    }
    // When did each release stop serving? The start of the next newer release, if known.
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&out[a], &out[b]);
        rb.deployed_at
            .is_some()
            .cmp(&ra.deployed_at.is_some())
            .then(rb.deployed_at.cmp(&ra.deployed_at))
            .then(td_revision(&rb.revision).cmp(&td_revision(&ra.revision)))
    });
    let sorted: Vec<Release> = order.iter().map(|&i| out[i].clone()).collect();
    let mut result = Vec::with_capacity(sorted.len());
    for (i, mut r) in sorted.iter().cloned().enumerate() {
        if r.state == ReleaseState::Inactive {
            // The closest newer release's start bounds this one's service time.
            r.retired_at = sorted[..i]
                .iter()
                .filter_map(|n| n.deployed_at)
                .filter(|t| r.deployed_at.is_none_or(|d| *t > d))
                .min();
        }
        result.push(r);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_are_read_from_the_last_path_segment() {
        assert_eq!(
            image_tag("123.dkr.ecr.us-east-1.amazonaws.com/web:v1.2.9"),
            Some("v1.2.9")
        );
        assert_eq!(image_tag("localhost:5000/web"), None);
        assert_eq!(image_tag("web@sha256:abcd"), None);
        assert_eq!(image_tag("nginx:1.27"), Some("1.27"));
    }

    #[test]
    fn family_and_revision_come_from_the_arn() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web-api:12";
        assert_eq!(td_family(arn), "web-api");
        assert_eq!(td_revision(arn), 12);
        assert_eq!(td_family("web:3"), "web");
    }

    fn td(arn: &str, image: &str, tags: &[(&str, &str)]) -> TaskDef {
        TaskDef {
            arn: arn.into(),
            def: TaskDefinition::builder()
                .task_definition_arn(arn)
                .container_definitions(
                    aws_sdk_ecs::types::ContainerDefinition::builder()
                        .name("app")
                        .image(image)
                        .environment(
                            aws_sdk_ecs::types::KeyValuePair::builder()
                                .name("DB_PASSWORD")
                                .value("hunter2")
                                .build(),
                        )
                        .build(),
                )
                .build(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_version_tag_wins_over_the_image_tag_and_env_values_never_leak() {
        let t = td(
            "arn:aws:ecs:r:1:task-definition/web:2",
            "repo/web:latest",
            &[("version", "v2.0.1")],
        );
        assert_eq!(version_of(&t, "version", None).as_str(), "v2.0.1");
        let a = attributes(&t, None);
        assert_eq!(a.get("env.DB_PASSWORD").map(String::as_str), Some("(set)"));
        assert!(!a.values().any(|v| v.contains("hunter2")));
    }

    #[test]
    fn a_stale_deployment_list_is_ignored() {
        let svc = Service::builder()
            .task_definition("arn:aws:ecs:r:1:task-definition/web:2")
            .deployments(
                Deployment::builder()
                    .status("PRIMARY")
                    .task_definition("arn:aws:ecs:r:1:task-definition/web:1")
                    .build(),
            )
            .build();
        assert!(consistent_deployments(&svc).is_empty());
    }

    #[test]
    fn releases_are_newest_first_and_marks_come_from_tags() {
        let tds = vec![
            td(
                "arn:aws:ecs:r:1:task-definition/web:1",
                "repo/web:v1",
                &[("rollback:mark", "verified")],
            ),
            td("arn:aws:ecs:r:1:task-definition/web:2", "repo/web:v2", &[]),
        ];
        let svc = Service::builder()
            .service_name("web")
            .task_definition("arn:aws:ecs:r:1:task-definition/web:2")
            .desired_count(2)
            .running_count(2)
            .build();
        let rs = build(&Inputs {
            tds: &tds,
            services: vec![(&svc, None, None)],
            history: &[],
            version_tag: "version",
            container: None,
        });
        assert_eq!(rs[0].version.as_str(), "v2");
        assert_eq!(rs[0].state, ReleaseState::Serving);
        assert_eq!(
            rs[0].replicas,
            Replicas {
                desired: 2,
                ready: 2
            }
        );
        assert_eq!(rs[1].state, ReleaseState::Inactive);
        assert_eq!(rs[1].mark, ReleaseMark::Verified);
    }
}
