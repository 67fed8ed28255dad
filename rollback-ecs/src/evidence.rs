//! Health and evidence of a release: running/desired/pending counts, failed and stopped tasks
//! (`stoppedReason`, exit codes, `OutOfMemoryError`), circuit-breaker state, service events and
//! the release's CloudWatch Logs.

use aws_sdk_ecs::types::{DesiredStatus, Service, Task};
use chrono::{DateTime, Utc};
use rollback_core::{
    EventLevel, Evidence, HealthSnapshot, LogLine, PlatformEvent, Release, Result, Target,
    TimeRange,
};

use crate::error_map::map_sdk_error;
use crate::platform::{EcsPlatform, Mode};
use crate::releases::{consistent_deployments, to_chrono};

/// At most this many stopped tasks are described per service.
const STOPPED_TASKS: usize = 20;
/// At most this many log lines are returned.
const MAX_LOG_LINES: usize = 1000;

/// The service (and slot target group) that runs `release`, if any.
fn service_of<'a>(svcs: &'a [Service], release: &Release) -> Option<(usize, &'a Service)> {
    svcs.iter()
        .enumerate()
        .find(|(_, s)| s.task_definition() == Some(release.revision.as_str()))
        .or_else(|| {
            svcs.iter().enumerate().find(|(_, s)| {
                consistent_deployments(s).iter().any(|d| {
                    d.task_definition() == Some(release.revision.as_str())
                        && d.status() == Some("ACTIVE")
                })
            })
        })
}

/// Why a stopped task stopped, in one line: `OutOfMemoryError: app exit 137 (…)`.
pub(crate) fn stop_summary(t: &Task) -> (String, String) {
    let mut reason = t
        .stop_code()
        .map(|c| c.as_str().to_string())
        .unwrap_or_else(|| "TaskStopped".into());
    let mut parts = Vec::new();
    for c in t.containers() {
        let name = c.name().unwrap_or("container");
        let why = c.reason().unwrap_or_default();
        if why.contains("OutOfMemory") {
            reason = "OutOfMemoryError".into();
        } else if c.exit_code().is_some_and(|e| e != 0) && reason == "EssentialContainerExited" {
            reason = "ContainerExited".into();
        }
        match (c.exit_code(), why.is_empty()) {
            (Some(code), true) => parts.push(format!("{name} exit {code}")),
            (Some(code), false) => parts.push(format!("{name} exit {code} ({why})")),
            (None, false) => parts.push(format!("{name}: {why}")),
            (None, true) => {}
        }
    }
    let mut msg = t.stopped_reason().unwrap_or("stopped").to_string();
    if !parts.is_empty() {
        msg = format!("{msg}; {}", parts.join(", "));
    }
    (reason, msg)
}

async fn stopped_tasks(
    p: &EcsPlatform,
    cluster: &str,
    service: &str,
    td: &str,
) -> Result<Vec<Task>> {
    let list = p
        .clients
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .max_results(i32::try_from(STOPPED_TASKS).unwrap_or(20))
        .send()
        .await
        .map_err(|e| map_sdk_error(e, "ecs:ListTasks"))?;
    if list.task_arns().is_empty() {
        return Ok(Vec::new());
    }
    let out = p
        .clients
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(list.task_arns().to_vec()))
        .send()
        .await
        .map_err(|e| map_sdk_error(e, "ecs:DescribeTasks"))?;
    Ok(out
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn() == Some(td))
        .cloned()
        .collect())
}

/// The health of one release: its service's (or deployment's) counts; in a blue/green pair,
/// ready is also bounded by the healthy targets of the slot's target group. Problems name a
/// failed rollout and the circuit breaker, and — while not all tasks run — the failed tasks
/// and why the recent tasks stopped. Failed tasks of a deployment whose tasks all run are
/// history: they count as restarts, not as a problem.
pub(crate) async fn health(
    p: &EcsPlatform,
    target: &Target,
    release: &Release,
) -> Result<HealthSnapshot> {
    let mode = p.mode(target)?;
    let (svcs, _) = p.release_services(&mode).await?;
    let mut h = HealthSnapshot::default();
    h.observed_at = Some(Utc::now());
    let Some((i, svc)) = service_of(&svcs, release) else {
        return Ok(h);
    };
    let deployments = consistent_deployments(svc);
    let dep = deployments
        .iter()
        .find(|d| d.task_definition() == Some(release.revision.as_str()));
    let (desired, running, pending, failed) =
        crate::releases::counts(svc, &release.revision).unwrap_or_default();
    let u = |n: i32| u32::try_from(n).unwrap_or(0);
    h.desired = u(desired);
    h.ready = u(running);
    h.available = u(running);
    h.restarts = u(failed);
    if let Some(d) = dep {
        if let Some(rs) = d.rollout_state() {
            if rs.as_str() == "FAILED" {
                h.problems.push(format!(
                    "rollout FAILED: {}",
                    d.rollout_state_reason().unwrap_or("no reason given")
                ));
            }
        }
        if d.rollout_state_reason()
            .is_some_and(|r| r.contains("circuit breaker"))
            && !h.problems.iter().any(|p| p.contains("circuit breaker"))
        {
            h.problems.push(format!(
                "circuit breaker: {}",
                d.rollout_state_reason().unwrap_or_default()
            ));
        }
    }
    // ECS keeps a deployment's failed-task count for its whole life: while the release is
    // short of its desired count they are a failure now; once every task runs they are history,
    // judged as restarts (the workload policy's restart limit and window), as on Kubernetes.
    if failed > 0 && running < desired {
        h.problems
            .push(format!("{failed} task(s) failed to start or stay running"));
    }
    if pending > 0 && running < desired {
        h.problems.push(format!("{pending} task(s) pending"));
    }
    if let Mode::Pair { pair, .. } = &mode {
        let tg = &pair.slots()[i].1.target_group_arn;
        let healthy = p.healthy_targets(tg).await?;
        h.ready = h.ready.min(healthy);
        h.available = h.ready;
    }
    if running < desired {
        let stopped = stopped_tasks(
            p,
            mode.cluster(),
            svc.service_name().unwrap_or(&target.deployment),
            &release.revision,
        )
        .await?;
        let mut seen: Vec<String> = Vec::new();
        for t in &stopped {
            let (reason, msg) = stop_summary(t);
            let line = format!("{reason}: {msg}");
            if !seen.contains(&line) {
                seen.push(line);
            }
        }
        h.problems.extend(seen.into_iter().take(5));
    }
    Ok(h)
}

fn event_level(msg: &str) -> (EventLevel, &'static str) {
    let m = msg.to_ascii_lowercase();
    if m.contains("circuit breaker")
        || m.contains("deployment failed")
        || m.contains("rolling back")
    {
        (EventLevel::Warning, "DeploymentFailed")
    } else if m.contains("unable to")
        || m.contains("failed")
        || m.contains("unhealthy")
        || m.contains("error")
    {
        (EventLevel::Warning, "ServiceProblem")
    } else if m.contains("steady state") {
        (EventLevel::Normal, "SteadyState")
    } else if m.contains("has started") || m.contains("has stopped") {
        (EventLevel::Normal, "TaskChange")
    } else {
        (EventLevel::Normal, "ServiceEvent")
    }
}

fn in_window(t: Option<DateTime<Utc>>, w: &TimeRange) -> bool {
    t.is_none_or(|t| w.contains(t))
}

/// Evidence of one release over a window: the service's events, the release's stopped tasks and
/// rollout state as events, and its CloudWatch Logs (the configured group, or the awslogs group
/// of the task definition). Streams of the release's known tasks are read when there are any;
/// otherwise every stream under the prefix in the window.
pub(crate) async fn evidence(
    p: &EcsPlatform,
    target: &Target,
    release: &Release,
    window: &TimeRange,
) -> Result<Evidence> {
    let mode = p.mode(target)?;
    let (svcs, _) = p.release_services(&mode).await?;
    let mut events: Vec<PlatformEvent> = Vec::new();
    let mut task_ids: Vec<String> = Vec::new();
    let svc = service_of(&svcs, release).map(|(_, s)| s).or(svcs.first());
    if let Some(svc) = svc {
        let name = svc.service_name().unwrap_or(&target.deployment).to_string();
        for e in svc.events() {
            let at = e.created_at().and_then(to_chrono);
            if !in_window(at, window) {
                continue;
            }
            let msg = e.message().unwrap_or_default();
            let (level, reason) = event_level(msg);
            events.push(PlatformEvent {
                at: at.unwrap_or(window.end),
                level,
                reason: reason.into(),
                object: format!("service/{name}"),
                message: msg.to_string(),
                count: 1,
            });
        }
        for d in consistent_deployments(svc) {
            if d.task_definition() != Some(release.revision.as_str()) {
                continue;
            }
            if let Some(rs) = d.rollout_state() {
                if rs.as_str() == "FAILED" || d.failed_tasks() > 0 {
                    events.push(PlatformEvent {
                        at: d.updated_at().and_then(to_chrono).unwrap_or(window.end),
                        level: EventLevel::Warning,
                        reason: if rs.as_str() == "FAILED" {
                            "DeploymentFailed".into()
                        } else {
                            "TasksFailed".into()
                        },
                        object: format!("deployment/{}", d.id().unwrap_or_default()),
                        message: format!(
                            "rollout {}: {} ({} failed task(s))",
                            rs.as_str(),
                            d.rollout_state_reason().unwrap_or_default(),
                            d.failed_tasks()
                        ),
                        count: 1,
                    });
                }
            }
        }
        for t in stopped_tasks(p, mode.cluster(), &name, &release.revision).await? {
            let at = t.stopped_at().and_then(to_chrono);
            if let Some(id) = t.task_arn().and_then(|a| a.rsplit('/').next()) {
                task_ids.push(id.to_string());
            }
            if !in_window(at, window) {
                continue;
            }
            let (reason, msg) = stop_summary(&t);
            events.push(PlatformEvent {
                at: at.unwrap_or(window.end),
                level: EventLevel::Warning,
                reason,
                object: format!(
                    "task/{}",
                    t.task_arn()
                        .and_then(|a| a.rsplit('/').next())
                        .unwrap_or_default()
                ),
                message: msg,
                count: 1,
            });
        }
        // Running tasks' logs too.
        let running = p
            .clients
            .ecs
            .list_tasks()
            .cluster(mode.cluster())
            .service_name(&name)
            .desired_status(DesiredStatus::Running)
            .max_results(50)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, "ecs:ListTasks"))?;
        if !running.task_arns().is_empty() {
            let out = p
                .clients
                .ecs
                .describe_tasks()
                .cluster(mode.cluster())
                .set_tasks(Some(running.task_arns().to_vec()))
                .send()
                .await
                .map_err(|e| map_sdk_error(e, "ecs:DescribeTasks"))?;
            for t in out.tasks() {
                if t.task_definition_arn() == Some(release.revision.as_str()) {
                    if let Some(id) = t.task_arn().and_then(|a| a.rsplit('/').next()) {
                        task_ids.push(id.to_string());
                    }
                }
            }
        }
    }
    events.sort_by_key(|e| e.at);
    let (logs, truncated) = logs(p, release, window, &task_ids).await?;
    let mut ev = Evidence::new(logs, events);
    ev.truncated = truncated;
    Ok(ev)
}

/// The log group and stream prefix: the configuration's, else the task definition's awslogs
/// options.
async fn log_location(
    p: &EcsPlatform,
    release: &Release,
) -> Result<Option<(String, Option<String>, Option<String>)>> {
    let container = release.attributes.get("container").cloned();
    if let Some(g) = &p.config.log_group {
        return Ok(Some((
            g.clone(),
            p.config.log_stream_prefix.clone(),
            container,
        )));
    }
    if !release.revision.contains(":task-definition/") {
        return Ok(None);
    }
    let td = p.describe_td(&release.revision).await?;
    for c in td.def.container_definitions() {
        if let Some(lc) = c.log_configuration() {
            if lc.log_driver().as_str() == "awslogs" {
                let opts = lc.options();
                if let Some(group) = opts.and_then(|o| o.get("awslogs-group")) {
                    let prefix = opts.and_then(|o| o.get("awslogs-stream-prefix")).cloned();
                    return Ok(Some((group.clone(), prefix, c.name().map(str::to_owned))));
                }
            }
        }
    }
    Ok(None)
}

async fn logs(
    p: &EcsPlatform,
    release: &Release,
    window: &TimeRange,
    task_ids: &[String],
) -> Result<(Vec<LogLine>, bool)> {
    let Some((group, prefix, container)) = log_location(p, release).await? else {
        return Ok((Vec::new(), false));
    };
    let mut req = p
        .clients
        .logs
        .filter_log_events()
        .log_group_name(&group)
        .start_time(window.start.timestamp_millis())
        .end_time(window.end.timestamp_millis())
        .limit(i32::try_from(MAX_LOG_LINES).unwrap_or(1000));
    // awslogs streams are named PREFIX/CONTAINER/TASK_ID.
    match (&prefix, &container, task_ids.is_empty()) {
        (Some(pre), Some(c), false) => {
            let mut ids = task_ids.to_vec();
            ids.sort();
            ids.dedup();
            for id in ids.into_iter().take(100) {
                req = req.log_stream_names(format!("{pre}/{c}/{id}"));
            }
        }
        (Some(pre), _, _) => req = req.log_stream_name_prefix(format!("{pre}/")),
        _ => {}
    }
    let out = req
        .send()
        .await
        .map_err(|e| map_sdk_error(e, "logs:FilterLogEvents"))?;
    let lines = out
        .events()
        .iter()
        .map(|e| LogLine {
            at: e.timestamp().and_then(DateTime::from_timestamp_millis),
            source: e.log_stream_name().unwrap_or_default().to_string(),
            line: e.message().unwrap_or_default().trim_end().to_string(),
        })
        .collect();
    Ok((lines, out.next_token().is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{Container, TaskStopCode};

    #[test]
    fn an_oom_killed_container_is_named_out_of_memory() {
        let t = Task::builder()
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .containers(
                Container::builder()
                    .name("app")
                    .exit_code(137)
                    .reason("OutOfMemoryError: Container killed due to memory usage")
                    .build(),
            )
            .build();
        let (reason, msg) = stop_summary(&t);
        assert_eq!(reason, "OutOfMemoryError");
        assert!(msg.contains("app exit 137"), "{msg}");
    }

    #[test]
    fn circuit_breaker_events_are_warnings() {
        let (level, reason) = event_level("(service web) deployment ecs-svc/1 deployment failed: tasks failed to start. (circuit breaker)");
        assert_eq!(level, EventLevel::Warning);
        assert_eq!(reason, "DeploymentFailed");
        assert_eq!(
            event_level("(service web) has reached a steady state.").0,
            EventLevel::Normal
        );
    }
}
