//! `EcsPlatform`: the [`Platform`] implementation over ECS services, task definitions and ALB
//! listener weights.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus, Service, SortOrder,
    StopServiceDeploymentStopType, TaskDefinitionField, TaskDefinitionStatus,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple, TargetHealthStateEnum,
};
use futures::future::try_join_all;
use rollback_core::{
    Capabilities, Environment, Error, ErrorKind, Evidence, HealthSnapshot, Lease, Platform,
    Release, ReleaseMark, Result, Target, TimeRange, TrafficSplit,
};

use crate::clients::AwsClients;
use crate::config::{BlueGreenConfig, DeploymentHistory, EcsConfig};
use crate::error_map::{map_sdk_error, BACKEND};
use crate::releases::{self, td_family, to_chrono, HistoryEntry, TaskDef};

/// How a target maps to ECS.
#[derive(Debug, Clone)]
pub(crate) enum Mode<'a> {
    /// One service, rolling deployments.
    Single { cluster: String, service: String },
    /// The configured blue/green pair.
    Pair {
        cluster: String,
        pair: &'a BlueGreenConfig,
    },
}

impl Mode<'_> {
    pub(crate) fn cluster(&self) -> &str {
        match self {
            Mode::Single { cluster, .. } | Mode::Pair { cluster, .. } => cluster,
        }
    }

    pub(crate) fn services(&self) -> Vec<(&str, Option<&'static str>)> {
        match self {
            Mode::Single { service, .. } => vec![(service.as_str(), None)],
            Mode::Pair { pair, .. } => pair
                .slots()
                .iter()
                .map(|(n, s)| (s.service.as_str(), Some(*n)))
                .collect(),
        }
    }
}

/// The listener (or rule) forward action of a pair, as read.
#[derive(Debug, Clone)]
pub(crate) struct ListenerState {
    actions: Vec<Action>,
    forward: usize,
    /// `(slot, weight)` for blue then green (0 for a target group the action does not name).
    weights: [(&'static str, i32); 2],
}

const HISTORY_UNKNOWN: u8 = 0;
const HISTORY_WORKS: u8 = 1;
const HISTORY_MISSING: u8 = 2;

/// Amazon ECS as a rollback platform.
///
/// A [`Target`]'s `namespace` is the cluster (default: the configured one) and its `deployment`
/// is either a service name (rolling deployments: full revert only) or the name of the configured
/// blue/green pair (instant and gradual switches through the ALB weights, full revert into the idle
/// slot, scaling of either slot).
///
/// | capability | single service | blue/green pair |
/// |---|---|---|
/// | `releases`, `traffic`, `health` | yes | yes |
/// | `revert` | `UpdateService` (or ECS's own rollback of an in-flight deployment), waits for COMPLETED | deploys into the idle slot, then switches |
/// | `set_traffic` | no (no weights) | `ModifyListener` / `ModifyRule` |
/// | `scale` | desiredCount of the service's current task definition | desiredCount of a slot's service |
/// | `evidence` | service events, stopped tasks, CloudWatch Logs | same |
/// | `lock` | DynamoDB conditional write, when `lock_table` is set | same |
/// | `mark` | tags `rollback:mark` on the task definition | same |
///
/// Task definitions are never deregistered.
///
/// ```no_run
/// # async fn demo() -> rollback_core::Result<()> {
/// use rollback_core::{Environment, Platform};
/// let platform = rollback_ecs::EcsPlatform::for_service("prod", "web").await?;
/// let target = platform.default_target(Environment::Production)?;
/// for r in platform.releases(&target).await? {
///     println!("{} {:?} {}", r.version, r.state, r.revision);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EcsPlatform {
    pub(crate) clients: AwsClients,
    pub(crate) config: EcsConfig,
    history: AtomicU8,
}

fn aws<E>(
    action: &'static str,
) -> impl FnOnce(
    aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    move |e| map_sdk_error(e, action)
}

fn pct(weights: &[(String, i64)]) -> Result<TrafficSplit> {
    // Largest-remainder rounding so that the percentages sum to exactly 100.
    let total: i64 = weights.iter().map(|(_, w)| *w).sum();
    if total <= 0 {
        return Err(Error::new(
            ErrorKind::Backend,
            "every weight is 0: the listener forwards no traffic",
        )
        .with_backend(BACKEND));
    }
    let mut parts: Vec<(usize, i64, i64)> = weights
        .iter()
        .enumerate()
        .map(|(i, (_, w))| (i, w * 100 / total, w * 100 % total))
        .collect();
    let mut left = 100 - parts.iter().map(|p| p.1).sum::<i64>();
    parts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    for p in parts.iter_mut() {
        if left == 0 {
            break;
        }
        p.1 += 1;
        left -= 1;
    }
    parts.sort_by_key(|p| p.0);
    TrafficSplit::new(
        parts
            .into_iter()
            .map(|(i, p, _)| (weights[i].0.clone(), p))
            .map(|(rev, p)| (rev, u8::try_from(p).unwrap_or(100)))
            .map(|(rev, p)| {
                (
                    rollback_core::ReleaseRef {
                        version: rollback_core::Version::parse("pending")
                            .expect("constant version"),
                        revision: rev,
                    },
                    p,
                )
            })
            .collect(),
    )
}

impl EcsPlatform {
    /// A platform over the given clients and configuration (validated here).
    pub fn new(clients: AwsClients, config: EcsConfig) -> Result<Self> {
        config.validate()?;
        let history = match config.deployment_history {
            DeploymentHistory::DescribeServices => HISTORY_MISSING,
            _ => HISTORY_UNKNOWN,
        };
        Ok(EcsPlatform {
            clients,
            config,
            history: AtomicU8::new(history),
        })
    }

    /// A platform for a configuration, with credentials from the standard AWS chain and the
    /// configuration's region and endpoint.
    pub async fn from_config(config: EcsConfig) -> Result<Self> {
        config.validate()?;
        let clients = AwsClients::from_config(&config).await;
        Self::new(clients, config)
    }

    /// The reference command's `--platform ecs --cluster C --service S`: one service, standard
    /// credential chain and region.
    pub async fn for_service(
        cluster: impl Into<String>,
        service: impl Into<String>,
    ) -> Result<Self> {
        Self::from_config(EcsConfig::new(cluster).with_service(service)).await
    }

    /// The target the configuration names: the blue/green pair if there is one, else the
    /// default service. Fails when the configuration names neither.
    pub fn default_target(&self, environment: Environment) -> Result<Target> {
        let deployment = match (&self.config.blue_green, &self.config.service) {
            (Some(p), _) => p.name.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => {
                return Err(Error::invalid_input(
                    "ecs config names no service and no blue/green pair: set `service` (--service) or `blue_green`",
                ))
            }
        };
        Ok(Target::new(environment, deployment).with_namespace(self.config.cluster.clone()))
    }

    /// The AWS clients (for their call counter, or to share them with [`CloudWatchMetrics`](crate::CloudWatchMetrics)).
    pub fn clients(&self) -> &AwsClients {
        &self.clients
    }

    /// The configuration.
    pub fn config(&self) -> &EcsConfig {
        &self.config
    }

    pub(crate) fn mode(&self, target: &Target) -> Result<Mode<'_>> {
        target.validate()?;
        let cluster = target
            .namespace
            .clone()
            .unwrap_or_else(|| self.config.cluster.clone());
        match &self.config.blue_green {
            Some(pair) if pair.name == target.deployment => Ok(Mode::Pair { cluster, pair }),
            _ => Ok(Mode::Single {
                cluster,
                service: target.deployment.clone(),
            }),
        }
    }

    pub(crate) async fn describe_services(
        &self,
        cluster: &str,
        names: &[&str],
    ) -> Result<Vec<Service>> {
        let out = self
            .clients
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(aws("ecs:DescribeServices"))?;
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            let svc = out
                .services()
                .iter()
                .find(|s| s.service_name() == Some(name) || s.service_arn() == Some(name))
                .filter(|s| s.status() != Some("INACTIVE"));
            match svc {
                Some(s) => found.push(s.clone()),
                None => {
                    let reason = out
                        .failures()
                        .iter()
                        .find(|f| f.arn().is_some_and(|a| a.ends_with(&format!("/{name}"))))
                        .and_then(|f| f.reason())
                        .unwrap_or("INACTIVE");
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("service {name:?} not found in cluster {cluster:?} (ECS: {reason}): expected an active service of that cluster"),
                    )
                    .with_backend(BACKEND)
                    .with_operation("DescribeServices"));
                }
            }
        }
        Ok(found)
    }

    pub(crate) async fn describe_td(&self, arn: &str) -> Result<TaskDef> {
        let out = self
            .clients
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(aws("ecs:DescribeTaskDefinition"))?;
        let def = out.task_definition().cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("task definition {arn} not found"),
            )
            .with_backend(BACKEND)
        })?;
        let tags = out
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        Ok(TaskDef {
            arn: def.task_definition_arn().unwrap_or(arn).to_string(),
            def,
            tags,
        })
    }

    /// The newest revisions of the families of `services`, plus every task definition a service
    /// or deployment still runs.
    async fn task_defs(&self, services: &[Service]) -> Result<Vec<TaskDef>> {
        let mut arns: Vec<String> = Vec::new();
        let mut must: Vec<String> = Vec::new();
        for s in services {
            if let Some(td) = s.task_definition() {
                must.push(td.to_string());
            }
            for d in releases::consistent_deployments(s) {
                if let Some(td) = d.task_definition() {
                    must.push(td.to_string());
                }
            }
        }
        let mut families: Vec<&str> = must.iter().map(|a| td_family(a)).collect();
        families.sort_unstable();
        families.dedup();
        for f in families {
            let out = self
                .clients
                .ecs
                .list_task_definitions()
                .family_prefix(f)
                .status(TaskDefinitionStatus::Active)
                .sort(SortOrder::Desc)
                .max_results(i32::try_from(self.config.max_releases).unwrap_or(10))
                .send()
                .await
                .map_err(aws("ecs:ListTaskDefinitions"))?;
            arns.extend(
                out.task_definition_arns()
                    .iter()
                    .filter(|a| td_family(a) == f)
                    .cloned(),
            );
        }
        for m in must {
            if !arns.contains(&m) {
                arns.push(m);
            }
        }
        try_join_all(arns.iter().map(|a| self.describe_td(a))).await
    }

    /// ECS's deployment history of a service (newest first), or empty when the endpoint does
    /// not offer it and the configuration allows the fallback.
    pub(crate) async fn history(&self, cluster: &str, service: &str) -> Result<Vec<HistoryEntry>> {
        if self.history.load(Ordering::Relaxed) == HISTORY_MISSING {
            return Ok(Vec::new());
        }
        match self.history_inner(cluster, service).await {
            Ok(h) => {
                self.history.store(HISTORY_WORKS, Ordering::Relaxed);
                Ok(h)
            }
            Err(e)
                if self.config.deployment_history == DeploymentHistory::Auto
                    && self.history.load(Ordering::Relaxed) == HISTORY_UNKNOWN
                    && !matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) =>
            {
                tracing::info!(error = %e, "ListServiceDeployments is not available here; using DescribeServices deployments");
                self.history.store(HISTORY_MISSING, Ordering::Relaxed);
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    async fn history_inner(&self, cluster: &str, service: &str) -> Result<Vec<HistoryEntry>> {
        let briefs = self
            .clients
            .ecs
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .max_results(20)
            .send()
            .await
            .map_err(aws("ecs:ListServiceDeployments"))?;
        let arns: Vec<String> = briefs
            .service_deployments()
            .iter()
            .filter_map(|b| b.service_deployment_arn().map(str::to_owned))
            .collect();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .clients
            .ecs
            .describe_service_deployments()
            .set_service_deployment_arns(Some(arns))
            .send()
            .await
            .map_err(aws("ecs:DescribeServiceDeployments"))?;
        let mut revs: Vec<String> = Vec::new();
        for d in out.service_deployments() {
            if let Some(a) = d.target_service_revision().and_then(|t| t.arn()) {
                revs.push(a.to_string());
            }
            for s in d.source_service_revisions() {
                if let Some(a) = s.arn() {
                    revs.push(a.to_string());
                }
            }
        }
        revs.sort();
        revs.dedup();
        let mut rev_td = std::collections::HashMap::new();
        for chunk in revs.chunks(20) {
            let r = self
                .clients
                .ecs
                .describe_service_revisions()
                .set_service_revision_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(aws("ecs:DescribeServiceRevisions"))?;
            for sr in r.service_revisions() {
                if let (Some(a), Some(td)) = (sr.service_revision_arn(), sr.task_definition()) {
                    rev_td.insert(a.to_string(), td.to_string());
                }
            }
        }
        let mut entries: Vec<HistoryEntry> = out
            .service_deployments()
            .iter()
            .map(|d| HistoryEntry {
                arn: d.service_deployment_arn().unwrap_or_default().to_string(),
                status: d
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                target_td: d
                    .target_service_revision()
                    .and_then(|t| t.arn())
                    .and_then(|a| rev_td.get(a).cloned()),
                source_tds: d
                    .source_service_revisions()
                    .iter()
                    .filter_map(|s| s.arn().and_then(|a| rev_td.get(a).cloned()))
                    .collect(),
                started_at: d.started_at().or(d.created_at()).and_then(to_chrono),
                finished_at: d.finished_at().and_then(to_chrono),
                awaiting_hooks: d
                    .lifecycle_hook_details()
                    .iter()
                    .filter(|h| h.status() == Some(&DeploymentLifecycleHookStatus::AwaitingAction))
                    .filter_map(|h| h.hook_id().map(str::to_owned))
                    .collect(),
                lifecycle_stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
                circuit_breaker: d
                    .deployment_circuit_breaker()
                    .and_then(|c| c.status())
                    .map(|s| s.as_str().to_string()),
                status_reason: d.status_reason().map(str::to_owned),
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.started_at));
        Ok(entries)
    }

    async fn listener(&self, pair: &BlueGreenConfig) -> Result<ListenerState> {
        let actions: Vec<Action> = if let Some(l) = &pair.listener_arn {
            let out = self
                .clients
                .elb
                .describe_listeners()
                .listener_arns(l)
                .send()
                .await
                .map_err(aws("elasticloadbalancing:DescribeListeners"))?;
            out.listeners()
                .first()
                .map(|l| l.default_actions().to_vec())
                .unwrap_or_default()
        } else {
            let r = pair.rule_arn.as_deref().unwrap_or_default();
            let out = self
                .clients
                .elb
                .describe_rules()
                .rule_arns(r)
                .send()
                .await
                .map_err(aws("elasticloadbalancing:DescribeRules"))?;
            out.rules()
                .first()
                .map(|r| r.actions().to_vec())
                .unwrap_or_default()
        };
        let names = |a: &Action| -> Vec<(String, i32)> {
            match a.forward_config() {
                Some(f) if !f.target_groups().is_empty() => f
                    .target_groups()
                    .iter()
                    .filter_map(|t| {
                        Some((t.target_group_arn()?.to_string(), t.weight().unwrap_or(1)))
                    })
                    .collect(),
                _ => a
                    .target_group_arn()
                    .map(|t| vec![(t.to_string(), 1)])
                    .unwrap_or_default(),
            }
        };
        let forward = actions
            .iter()
            .position(|a| {
                a.r#type() == Some(&ActionTypeEnum::Forward)
                    && names(a).iter().any(|(t, _)| *t == pair.blue.target_group_arn || *t == pair.green.target_group_arn)
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "the {} of pair {:?} has no forward action to {} or {}: expected a forward action over both target groups",
                        if pair.listener_arn.is_some() { "listener" } else { "rule" },
                        pair.name,
                        pair.blue.target_group_arn,
                        pair.green.target_group_arn
                    ),
                )
                .with_backend(BACKEND)
            })?;
        let tgs = names(&actions[forward]);
        let w = |arn: &str| tgs.iter().find(|(t, _)| t == arn).map_or(0, |(_, w)| *w);
        let weights = [
            ("blue", w(&pair.blue.target_group_arn)),
            ("green", w(&pair.green.target_group_arn)),
        ];
        Ok(ListenerState {
            actions,
            forward,
            weights,
        })
    }

    async fn write_weights(
        &self,
        pair: &BlueGreenConfig,
        state: &ListenerState,
        blue: i32,
        green: i32,
    ) -> Result<()> {
        let old = &state.actions[state.forward];
        let mut tuples: Vec<TargetGroupTuple> = vec![
            TargetGroupTuple::builder()
                .target_group_arn(&pair.blue.target_group_arn)
                .weight(blue)
                .build(),
            TargetGroupTuple::builder()
                .target_group_arn(&pair.green.target_group_arn)
                .weight(green)
                .build(),
        ];
        // Keep any other target group the action forwards to, at its weight.
        if let Some(f) = old.forward_config() {
            for t in f.target_groups() {
                let a = t.target_group_arn().unwrap_or_default();
                if a != pair.blue.target_group_arn && a != pair.green.target_group_arn {
                    tuples.push(t.clone());
                }
            }
        }
        let fwd = ForwardActionConfig::builder()
            .set_target_groups(Some(tuples))
            .set_target_group_stickiness_config(
                old.forward_config()
                    .and_then(|f| f.target_group_stickiness_config())
                    .cloned(),
            )
            .build();
        let new_action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .set_order(old.order())
            .forward_config(fwd)
            .build();
        let mut actions = state.actions.clone();
        actions[state.forward] = new_action;
        if let Some(l) = &pair.listener_arn {
            self.clients
                .elb
                .modify_listener()
                .listener_arn(l)
                .set_default_actions(Some(actions))
                .send()
                .await
                .map_err(aws("elasticloadbalancing:ModifyListener"))?;
        } else {
            self.clients
                .elb
                .modify_rule()
                .rule_arn(pair.rule_arn.as_deref().unwrap_or_default())
                .set_actions(Some(actions))
                .send()
                .await
                .map_err(aws("elasticloadbalancing:ModifyRule"))?;
        }
        Ok(())
    }

    pub(crate) async fn healthy_targets(&self, tg: &str) -> Result<u32> {
        let out = self
            .clients
            .elb
            .describe_target_health()
            .target_group_arn(tg)
            .send()
            .await
            .map_err(aws("elasticloadbalancing:DescribeTargetHealth"))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count() as u32)
    }

    /// Checks that `release` names a task definition that exists, before anything is changed.
    async fn known_td(&self, release: &Release) -> Result<TaskDef> {
        if !release.revision.starts_with("arn:") || !release.revision.contains(":task-definition/")
        {
            return Err(Error::invalid_input(format!(
                "release {} has revision {:?}, which is not a task-definition ARN: expected a release listed by `releases`",
                release.version, release.revision
            ))
            .with_backend(BACKEND));
        }
        self.describe_td(&release.revision).await.map_err(|e| {
            if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound) {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "task definition {} of release {} does not exist: {}",
                        release.revision,
                        release.version,
                        e.message()
                    ),
                )
                .with_backend(BACKEND)
            } else {
                e
            }
        })
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        td: Option<&str>,
        desired: Option<u32>,
    ) -> Result<()> {
        self.clients
            .ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_task_definition(td.map(str::to_owned))
            .set_desired_count(desired.map(|d| i32::try_from(d).unwrap_or(i32::MAX)))
            .send()
            .await
            .map_err(aws("ecs:UpdateService"))?;
        Ok(())
    }

    /// Waits until the service runs `td` with a completed rollout: the deployment of `td` is
    /// PRIMARY and COMPLETED (or all its tasks run and no other deployment is left). A FAILED
    /// rollout is an error.
    pub(crate) async fn wait_rollout(&self, cluster: &str, service: &str, td: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.config.settle_timeout;
        loop {
            let svc = self.describe_services(cluster, &[service]).await?.remove(0);
            let status = rollout_status(&svc, td);
            match status {
                Rollout::Done => return Ok(()),
                Rollout::Failed(why) => {
                    return Err(Error::new(
                        ErrorKind::PreconditionFailed,
                        format!("the rollout of {td} on service {service} failed: {why}"),
                    )
                    .with_backend(BACKEND))
                }
                Rollout::Waiting(what) => {
                    if tokio::time::Instant::now() + self.config.poll_interval > deadline {
                        return Err(Error::new(
                            ErrorKind::TimedOut,
                            format!(
                                "service {service} did not finish rolling out {td} within {}: {what}",
                                humantime::format_duration(self.config.settle_timeout)
                            ),
                        )
                        .temporary()
                        .with_backend(BACKEND));
                    }
                }
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }

    async fn revert_single(&self, cluster: &str, service: &str, to: &Release) -> Result<()> {
        let td = self.known_td(to).await?;
        let svc = self.describe_services(cluster, &[service]).await?.remove(0);
        if svc.task_definition() == Some(td.arn.as_str()) {
            // Already the desired state (a repeated revert): only wait.
            return self.wait_rollout(cluster, service, &td.arn).await;
        }
        // An in-flight deployment away from `to`: let ECS roll it back (it restores the source
        // revision, which is `to`), answering a paused lifecycle hook if there is one.
        let history = self.history(cluster, service).await?;
        if let Some(h) = history
            .iter()
            .find(|h| h.in_flight() && h.source_tds.contains(&td.arn))
        {
            if let Some(hook) = h.awaiting_hooks.first() {
                self.clients
                    .ecs
                    .continue_service_deployment()
                    .service_deployment_arn(&h.arn)
                    .hook_id(hook)
                    .action(DeploymentLifecycleHookAction::Rollback)
                    .send()
                    .await
                    .map_err(aws("ecs:ContinueServiceDeployment"))?;
            } else {
                self.clients
                    .ecs
                    .stop_service_deployment()
                    .service_deployment_arn(&h.arn)
                    .stop_type(StopServiceDeploymentStopType::Rollback)
                    .send()
                    .await
                    .map_err(aws("ecs:StopServiceDeployment"))?;
            }
            return self.wait_rollout(cluster, service, &td.arn).await;
        }
        self.update_service(cluster, service, Some(&td.arn), None)
            .await?;
        self.wait_rollout(cluster, service, &td.arn).await
    }

    async fn revert_pair(&self, cluster: &str, pair: &BlueGreenConfig, to: &Release) -> Result<()> {
        let td = self.known_td(to).await?;
        let names: Vec<&str> = pair
            .slots()
            .iter()
            .map(|(_, s)| s.service.as_str())
            .collect();
        let svcs = self.describe_services(cluster, &names).await?;
        let state = self.listener(pair).await?;
        let live_desired = svcs
            .iter()
            .zip(state.weights.iter())
            .filter(|(_, (_, w))| *w > 0)
            .map(|(s, _)| u32::try_from(s.desired_count()).unwrap_or(0))
            .max()
            .unwrap_or(1)
            .max(1);
        let slot_idx = match svcs
            .iter()
            .position(|s| s.task_definition() == Some(td.arn.as_str()))
        {
            Some(i) => i,
            None => {
                let idle: Vec<usize> = (0..2).filter(|&i| state.weights[i].1 == 0).collect();
                let Some(&i) = idle.first() else {
                    return Err(Error::new(
                        ErrorKind::PreconditionFailed,
                        format!(
                            "both slots of pair {:?} receive traffic: finish or undo the shift before reverting to {}",
                            pair.name, to.version
                        ),
                    )
                    .with_backend(BACKEND));
                };
                self.update_service(
                    cluster,
                    svcs[i].service_name().unwrap_or(names[i]),
                    Some(&td.arn),
                    Some(live_desired),
                )
                .await?;
                i
            }
        };
        let slot = pair.slots()[slot_idx];
        let svc = &svcs[slot_idx];
        if u32::try_from(svc.desired_count()).unwrap_or(0) == 0 {
            self.update_service(cluster, &slot.1.service, None, Some(live_desired))
                .await?;
        }
        self.wait_rollout(cluster, &slot.1.service, &td.arn).await?;
        if state.weights[slot_idx].1 > 0 && state.weights[1 - slot_idx].1 == 0 {
            return Ok(());
        }
        if self.healthy_targets(&slot.1.target_group_arn).await? == 0 {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!(
                    "{} runs on the {} slot but its target group has no healthy target: traffic not moved",
                    to.version, slot.0
                ),
            )
            .with_backend(BACKEND));
        }
        let (b, g) = if slot_idx == 0 { (100, 0) } else { (0, 100) };
        self.write_weights(pair, &state, b, g).await
    }

    async fn pair_view(
        &self,
        cluster: &str,
        pair: &BlueGreenConfig,
    ) -> Result<(Vec<Service>, ListenerState)> {
        let names: Vec<&str> = pair
            .slots()
            .iter()
            .map(|(_, s)| s.service.as_str())
            .collect();
        let (svcs, state) =
            futures::future::try_join(self.describe_services(cluster, &names), self.listener(pair))
                .await?;
        Ok((svcs, state))
    }

    pub(crate) async fn release_services(
        &self,
        mode: &Mode<'_>,
    ) -> Result<(Vec<Service>, Option<ListenerState>)> {
        match mode {
            Mode::Single { cluster, service } => {
                Ok((self.describe_services(cluster, &[service]).await?, None))
            }
            Mode::Pair { cluster, pair } => {
                let (s, l) = self.pair_view(cluster, pair).await?;
                Ok((s, Some(l)))
            }
        }
    }
}

/// Where a rollout of one task definition stands.
#[derive(Debug, PartialEq)]
pub(crate) enum Rollout {
    Done,
    Failed(String),
    Waiting(String),
}

pub(crate) fn rollout_status(svc: &Service, td: &str) -> Rollout {
    let svc_td = svc.task_definition().unwrap_or_default();
    let deployments = releases::consistent_deployments(svc);
    if svc_td != td {
        // ECS's circuit breaker may have rolled the service back to something else.
        if let Some(d) = deployments.iter().find(|d| {
            d.task_definition() == Some(td)
                && d.rollout_state().map(|s| s.as_str()) == Some("FAILED")
        }) {
            return Rollout::Failed(
                d.rollout_state_reason()
                    .unwrap_or("rollout FAILED")
                    .to_string(),
            );
        }
        return Rollout::Waiting(format!("the service still names {svc_td}"));
    }
    let running = svc.running_count();
    let desired = svc.desired_count();
    match deployments.iter().find(|d| d.status() == Some("PRIMARY")) {
        Some(p) => {
            let state = p.rollout_state().map(|s| s.as_str().to_string());
            match state.as_deref() {
                Some("COMPLETED") => Rollout::Done,
                Some("FAILED") => Rollout::Failed(
                    p.rollout_state_reason()
                        .unwrap_or("rollout FAILED")
                        .to_string(),
                ),
                // The only deployment left: the service's counts are its counts.
                _ if deployments.len() == 1 && running >= desired && svc.pending_count() == 0 => {
                    Rollout::Done
                }
                _ => Rollout::Waiting(format!(
                    "{}/{} tasks running, {} deployment(s) left",
                    p.running_count(),
                    p.desired_count(),
                    deployments.len()
                )),
            }
        }
        // No (consistent) deployment list: the service's own counts.
        None if running >= desired && svc.pending_count() == 0 => Rollout::Done,
        None => Rollout::Waiting(format!("{running}/{desired} tasks running")),
    }
}

#[async_trait]
impl Platform for EcsPlatform {
    fn name(&self) -> &str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let pair = self.config.blue_green.is_some();
        let mut c = Capabilities::default();
        c.traffic_switch = pair;
        c.weighted_traffic = pair;
        c.revert = true;
        c.scale = pair;
        c.evidence = true;
        c.lock = self.config.lock_table.is_some();
        c.mark = true;
        c
    }

    async fn releases(&self, target: &Target) -> Result<Vec<Release>> {
        let mode = self.mode(target)?;
        let (svcs, listener) = self.release_services(&mode).await?;
        let history = match &mode {
            Mode::Single { cluster, service } => self.history(cluster, service).await?,
            Mode::Pair { .. } => Vec::new(),
        };
        let tds = self.task_defs(&svcs).await?;
        let percents: Vec<Option<u8>> = match &listener {
            None => vec![None; svcs.len()],
            Some(l) => {
                let total: i32 = l.weights.iter().map(|(_, w)| *w).sum();
                l.weights
                    .iter()
                    .map(|(_, w)| {
                        Some(if total > 0 {
                            u8::try_from(w * 100 / total)
                                .unwrap_or(0)
                                .max(u8::from(*w > 0))
                        } else {
                            0
                        })
                    })
                    .collect()
            }
        };
        let slots = mode.services();
        let inputs = releases::Inputs {
            tds: &tds,
            services: svcs
                .iter()
                .zip(slots.iter())
                .zip(percents)
                .map(|((s, (_, slot)), p)| (s, *slot, p))
                .collect(),
            history: &history,
            version_tag: &self.config.version_tag,
            container: self.config.container.as_deref(),
        };
        Ok(releases::build(&inputs))
    }

    async fn traffic(&self, target: &Target) -> Result<TrafficSplit> {
        let mode = self.mode(target)?;
        let releases = self.releases(target).await?;
        let (svcs, listener) = self.release_services(&mode).await?;
        let mut weights: Vec<(String, i64)> = Vec::new();
        let mut add = |rev: &str, w: i64| {
            if w <= 0 {
                return;
            }
            match weights.iter_mut().find(|(r, _)| r == rev) {
                Some(e) => e.1 += w,
                None => weights.push((rev.to_string(), w)),
            }
        };
        match &listener {
            Some(l) => {
                for (svc, (_, w)) in svcs.iter().zip(l.weights.iter()) {
                    add(svc.task_definition().unwrap_or_default(), i64::from(*w));
                }
            }
            None => {
                let svc = &svcs[0];
                let ds = releases::consistent_deployments(svc);
                let running: Vec<_> = ds
                    .iter()
                    .filter(|d| d.running_count() > 0 && d.status() != Some("INACTIVE"))
                    .collect();
                if ds.len() <= 1 || running.is_empty() {
                    add(svc.task_definition().unwrap_or_default(), 1);
                } else {
                    for d in running {
                        add(
                            d.task_definition().unwrap_or_default(),
                            i64::from(d.running_count()),
                        );
                    }
                }
            }
        }
        let split = pct(&weights)?;
        // Attach the versions of the listed releases.
        let named: Vec<(rollback_core::ReleaseRef, u8)> = split
            .weights()
            .iter()
            .map(|w| {
                let r = releases.iter().find(|r| r.revision == w.release.revision);
                (
                    r.map_or_else(|| w.release.clone(), Release::reference),
                    w.percent,
                )
            })
            .collect();
        TrafficSplit::new(named)
    }

    async fn health(&self, target: &Target, release: &Release) -> Result<HealthSnapshot> {
        crate::evidence::health(self, target, release).await
    }

    async fn set_traffic(&self, target: &Target, split: &TrafficSplit) -> Result<()> {
        let mode = self.mode(target)?;
        let Mode::Pair { cluster, pair } = mode else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "service {:?} has rolling deployments and no traffic weights: use the full strategy (revert), or configure a blue/green pair",
                    target.deployment
                ),
            )
            .with_backend(BACKEND)
            .with_operation("set_traffic"));
        };
        let (svcs, state) = self.pair_view(&cluster, pair).await?;
        let mut w = [0i32; 2];
        for tw in split.weights() {
            let Some(i) = svcs
                .iter()
                .position(|s| s.task_definition() == Some(tw.release.revision.as_str()))
            else {
                let running: Vec<String> = svcs
                    .iter()
                    .zip(pair.slots())
                    .map(|(s, (n, _))| format!("{n}: {}", s.task_definition().unwrap_or("-")))
                    .collect();
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "release {} ({}) runs in neither slot of pair {:?}: traffic can go to the slots' releases ({})",
                        tw.release.version,
                        tw.release.revision,
                        pair.name,
                        running.join(", ")
                    ),
                )
                .with_backend(BACKEND)
                .with_operation("set_traffic"));
            };
            w[i] += i32::from(tw.percent);
        }
        // Never weight a target group that has no healthy target.
        for (i, (slot, cfg)) in pair.slots().iter().enumerate() {
            if w[i] > 0
                && state.weights[i].1 == 0
                && self.healthy_targets(&cfg.target_group_arn).await? == 0
            {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "the {slot} target group has no healthy target: refusing to send it {}% of traffic",
                        w[i]
                    ),
                )
                .with_backend(BACKEND)
                .with_operation("set_traffic"));
            }
        }
        if state.weights[0].1 == w[0] && state.weights[1].1 == w[1] {
            return Ok(());
        }
        self.write_weights(pair, &state, w[0], w[1]).await
    }

    async fn revert(&self, target: &Target, to: &Release) -> Result<()> {
        match self.mode(target)? {
            Mode::Single { cluster, service } => self.revert_single(&cluster, &service, to).await,
            Mode::Pair { cluster, pair } => self.revert_pair(&cluster, pair, to).await,
        }
    }

    async fn scale(&self, target: &Target, release: &Release, replicas: u32) -> Result<()> {
        if !self.capabilities().scale {
            return Err(Error::unsupported("scale").with_backend(BACKEND));
        }
        let mode = self.mode(target)?;
        let (svcs, listener) = self.release_services(&mode).await?;
        let slots = mode.services();
        let Some(i) = svcs
            .iter()
            .position(|s| s.task_definition() == Some(release.revision.as_str()))
        else {
            if replicas == 0 {
                // Not the desired state of any service: ECS drains it on its own; nothing to do.
                return Ok(());
            }
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!(
                    "release {} is not the task definition of {}: only a service's current task definition can be scaled (revert to it instead)",
                    release.version,
                    slots.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(" or ")
                ),
            )
            .with_backend(BACKEND)
            .with_operation("scale"));
        };
        if replicas == 0 {
            if let Some(l) = &listener {
                if l.weights[i].1 > 0 {
                    return Err(Error::new(
                        ErrorKind::PreconditionFailed,
                        format!(
                            "the {} slot ({}) still receives traffic: move traffic away before scaling it to 0",
                            l.weights[i].0, release.version
                        ),
                    )
                    .with_backend(BACKEND)
                    .with_operation("scale"));
                }
            }
        }
        if u32::try_from(svcs[i].desired_count()).ok() == Some(replicas) {
            return Ok(());
        }
        self.update_service(mode.cluster(), slots[i].0, None, Some(replicas))
            .await
    }

    async fn evidence(
        &self,
        target: &Target,
        release: &Release,
        window: &TimeRange,
    ) -> Result<Evidence> {
        crate::evidence::evidence(self, target, release, window).await
    }

    async fn lock(&self, target: &Target, holder: &str, ttl: Duration) -> Result<Lease> {
        crate::lock::lock(self, target, holder, ttl).await
    }

    async fn unlock(&self, target: &Target, lease: &Lease) -> Result<()> {
        crate::lock::unlock(self, target, lease).await
    }

    async fn mark(
        &self,
        target: &Target,
        release: &Release,
        mark: ReleaseMark,
        reason: &str,
    ) -> Result<()> {
        let _ = self.mode(target)?;
        let td = self.known_td(release).await?;
        let value = match mark {
            ReleaseMark::Verified => "verified",
            ReleaseMark::Failed => "failed",
            _ => {
                self.clients
                    .ecs
                    .untag_resource()
                    .resource_arn(&td.arn)
                    .tag_keys(releases::MARK_TAG)
                    .tag_keys(releases::MARK_REASON_TAG)
                    .tag_keys(releases::MARKED_AT_TAG)
                    .send()
                    .await
                    .map_err(aws("ecs:UntagResource"))?;
                return Ok(());
            }
        };
        let tag = |k: &str, v: String| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
        self.clients
            .ecs
            .tag_resource()
            .resource_arn(&td.arn)
            .tags(tag(releases::MARK_TAG, value.into()))
            .tags(tag(releases::MARK_REASON_TAG, tag_value(reason)))
            .tags(tag(
                releases::MARKED_AT_TAG,
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ))
            .send()
            .await
            .map_err(aws("ecs:TagResource"))?;
        Ok(())
    }
}

/// A tag value: at most 256 characters of letters, digits, spaces and `+ - = . _ : / @`.
pub(crate) fn tag_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect();
    if v.trim().is_empty() {
        "-".into()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState};

    #[test]
    fn percentages_sum_to_100() {
        let s = pct(&[("a".into(), 1), ("b".into(), 2)]).unwrap();
        assert_eq!(s.percent_for("a") + s.percent_for("b"), 100);
        assert_eq!(s.percent_for("b"), 67);
        assert!(pct(&[("a".into(), 0)]).is_err());
    }

    #[test]
    fn tag_values_drop_forbidden_characters() {
        assert_eq!(tag_value("error rate 12.4% > 5%"), "error rate 12.4_ _ 5_");
        assert_eq!(tag_value(""), "-");
        assert_eq!(tag_value(&"x".repeat(300)).len(), 256);
    }

    fn svc(td: &str, deployments: Vec<Deployment>) -> Service {
        Service::builder()
            .task_definition(td)
            .desired_count(2)
            .running_count(2)
            .set_deployments(Some(deployments))
            .build()
    }

    #[test]
    fn a_completed_primary_deployment_of_the_target_is_done() {
        let d = Deployment::builder()
            .status("PRIMARY")
            .task_definition("td:1")
            .rollout_state(DeploymentRolloutState::Completed)
            .build();
        assert_eq!(rollout_status(&svc("td:1", vec![d]), "td:1"), Rollout::Done);
    }

    #[test]
    fn the_previous_rollout_does_not_count_for_the_new_one() {
        // Right after UpdateService the old deployment may still read COMPLETED.
        let old = Deployment::builder()
            .status("ACTIVE")
            .task_definition("td:2")
            .rollout_state(DeploymentRolloutState::Completed)
            .running_count(2)
            .desired_count(2)
            .build();
        let new = Deployment::builder()
            .status("PRIMARY")
            .task_definition("td:1")
            .rollout_state(DeploymentRolloutState::InProgress)
            .running_count(2)
            .desired_count(2)
            .build();
        assert!(matches!(
            rollout_status(&svc("td:1", vec![new, old]), "td:1"),
            Rollout::Waiting(_)
        ));
        assert!(matches!(
            rollout_status(&svc("td:2", vec![]), "td:1"),
            Rollout::Waiting(_)
        ));
    }

    #[test]
    fn a_failed_rollout_is_reported_with_its_reason() {
        let d = Deployment::builder()
            .status("PRIMARY")
            .task_definition("td:1")
            .rollout_state(DeploymentRolloutState::Failed)
            .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
            .build();
        match rollout_status(&svc("td:1", vec![d]), "td:1") {
            Rollout::Failed(why) => assert!(why.contains("circuit breaker")),
            other => panic!("{other:?}"),
        }
    }
}
