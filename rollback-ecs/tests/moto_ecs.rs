//! EcsPlatform and CloudWatchMetrics against the moto server (`scripts/ci/moto.sh`): the
//! conformance suite, full revert, blue/green switches, lock, marks, evidence, metrics,
//! complete rollbacks through the orchestrator, and a call that times out (a proxy in front of
//! moto that never answers it).
//!
//! moto's limits, and what covers them instead (tests/sdk_mocks.rs): `ListServiceDeployments`
//! answers 500 (history comes from `DescribeServices` here), the service `deployments` list is
//! simplified (kept from creation: the platform detects and ignores it), stop/continue of service
//! deployments are not modelled, `GetMetricData` fails on percentile statistics (the
//! orchestrator tests read latency through an average custom metric), and it matches metric
//! dimensions in the order they were put (`alb_metrics` puts response time in the custom
//! metric's order).

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::*;
use rollback_core::testkit::{run_all, Fixture};
use rollback_core::{
    Environment, ErrorKind, MetricKind, MetricQuery, MetricsSource, Orchestrator, Outcome,
    Platform, Policy, ReleaseMark, ReleaseState, RollbackRequest, Series, StrategyChoice,
    TimeRange, TrafficSplit,
};
use rollback_ecs::{CloudWatchMetrics, CustomMetric, EcsPlatform};

async fn service_state(
    c: &rollback_ecs::AwsClients,
    cluster: &str,
    service: &str,
) -> (String, i32) {
    let out = c
        .ecs()
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("describe");
    let s = &out.services()[0];
    (
        s.task_definition().unwrap_or_default().to_string(),
        s.desired_count(),
    )
}

async fn td_tags(c: &rollback_ecs::AwsClients, arn: &str) -> Vec<(String, String)> {
    let out = c
        .ecs()
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("tags");
    out.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().into(),
                t.value().unwrap_or_default().into(),
            )
        })
        .collect()
}

async fn td_status(c: &rollback_ecs::AwsClients, arn: &str) -> String {
    let out = c
        .ecs()
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .expect("td");
    out.task_definition()
        .and_then(|t| t.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn conformance_suite_passes_on_a_blue_green_pair() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = blue_green(&c, &url, "conf-bg").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Staging).expect("target");
    let mut f = Fixture::new(target);
    f.settle_timeout = Duration::from_secs(30);
    f.poll = Duration::from_millis(200);
    let report = run_all(&p, &f)
        .await
        .expect("EcsPlatform conforms on a blue/green pair");
    assert!(report.skipped.is_empty(), "{report:?}");
    assert!(report
        .passed
        .contains(&"revert_makes_the_older_release_serve"));
    // Nothing was deregistered.
    assert_eq!(td_status(&c, &w.td_bad).await, "ACTIVE");
}

#[tokio::test]
async fn conformance_suite_passes_on_a_single_service() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "conf-one").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Staging).expect("target");
    let mut f = Fixture::new(target);
    f.settle_timeout = Duration::from_secs(30);
    f.poll = Duration::from_millis(200);
    let report = run_all(&p, &f)
        .await
        .expect("EcsPlatform conforms on a single service");
    let skipped: Vec<&str> = report.skipped.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        skipped,
        [
            "invalid_split_is_refused",
            "traffic_switch_round_trips",
            "weighted_split_round_trips",
            "scale_changes_capacity_and_keeps_the_release"
        ]
    );
    assert_eq!(service_state(&c, &w.cluster, "web").await.0, w.td_good);
}

#[tokio::test]
async fn full_revert_points_the_service_back_and_keeps_the_broken_task_definition() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "revert").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Production).expect("target");
    let rs = p.releases(&target).await.expect("releases");
    assert_eq!(
        rs.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
        ["v1.1.0", "v1.0.0"]
    );
    assert_eq!(rs[0].state, ReleaseState::Serving);
    assert_eq!(rs[1].state, ReleaseState::Inactive);
    let good = rs[1].clone();
    c.reset_api_calls();
    p.revert(&target, &good).await.expect("revert");
    p.revert(&target, &good)
        .await
        .expect("a second revert is a no-op");
    assert_eq!(
        service_state(&c, &w.cluster, "web").await,
        (w.td_good.clone(), 2)
    );
    let rs = p.releases(&target).await.expect("releases");
    let now_good = rs.iter().find(|r| r.revision == w.td_good).expect("listed");
    assert_eq!(now_good.state, ReleaseState::Serving);
    assert!(p
        .traffic(&target)
        .await
        .expect("traffic")
        .is_all_to(&w.td_good));
    assert_eq!(td_status(&c, &w.td_bad).await, "ACTIVE");
    let calls = c.api_calls();
    assert_eq!(
        calls.operations.get("ecs:UpdateService"),
        Some(&1),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_revert_to_an_unknown_task_definition_changes_nothing() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "bad-revert").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Production).expect("target");
    let mut ghost = p.releases(&target).await.expect("releases")[1].clone();
    c.reset_api_calls();
    ghost.revision = format!("{}:99", w.td_good.rsplit_once(':').expect("arn").0);
    let e = p
        .revert(&target, &ghost)
        .await
        .expect_err("unknown task definition");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let mut not_arn = ghost.clone();
    not_arn.revision = "web:1".into();
    let e = p.revert(&target, &not_arn).await.expect_err("not an ARN");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("task-definition ARN"), "{e}");
    assert_eq!(service_state(&c, &w.cluster, "web").await.0, w.td_bad);
    assert_eq!(c.api_calls().operations.get("ecs:UpdateService"), None);
}

#[tokio::test]
async fn instant_switch_moves_all_traffic_in_one_listener_call() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = blue_green(&c, &url, "instant").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Production).expect("target");
    let rs = p.releases(&target).await.expect("releases");
    let blue = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("blue"))
        .expect("blue")
        .clone();
    assert_eq!(blue.state, ReleaseState::Standby);
    c.reset_api_calls();
    p.set_traffic(&target, &TrafficSplit::all_to(&blue))
        .await
        .expect("switch");
    assert_eq!(
        c.api_calls()
            .operations
            .get("elasticloadbalancingv2:ModifyListener"),
        Some(&1),
        "{:?}",
        c.api_calls()
    );
    assert_eq!(weights(&c, &w).await, (100, 0));
}

#[tokio::test]
async fn no_weight_goes_to_a_target_group_without_healthy_targets() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = blue_green(&c, &url, "unhealthy").await;
    let pair = w.pair.clone().expect("pair");
    let targets = c
        .elb()
        .describe_target_health()
        .target_group_arn(&pair.blue.target_group_arn)
        .send()
        .await
        .expect("health");
    for t in targets.target_health_descriptions() {
        c.elb()
            .deregister_targets()
            .target_group_arn(&pair.blue.target_group_arn)
            .targets(t.target().expect("target").clone())
            .send()
            .await
            .expect("deregister");
    }
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Production).expect("target");
    let rs = p.releases(&target).await.expect("releases");
    let green = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("green"))
        .expect("green")
        .clone();
    let blue = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("blue"))
        .expect("blue")
        .clone();
    let e = p
        .set_traffic(
            &target,
            &TrafficSplit::shift(&green, &blue, 25).expect("split"),
        )
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed, "{e}");
    assert!(e.message().contains("no healthy target"), "{e}");
    assert_eq!(weights(&c, &w).await, (0, 100));
    assert!(!p
        .health(&target, &blue)
        .await
        .expect("health")
        .has_ready_capacity());
}

#[tokio::test]
async fn the_lock_is_exclusive_across_platform_instances() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "lock").await;
    let a = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform a");
    let b = EcsPlatform::new(clients(&url).await, w.config(&url)).expect("platform b");
    let target = a.default_target(Environment::Production).expect("target");
    let lease = a
        .lock(&target, "ci-run-1", Duration::from_secs(60))
        .await
        .expect("lock");
    let e = b
        .lock(&target, "ci-run-2", Duration::from_secs(60))
        .await
        .expect_err("held");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.to_string().contains("ci-run-1"), "{e}");
    a.unlock(&target, &lease).await.expect("unlock");
    // An expired lease is taken over.
    let short = b
        .lock(&target, "ci-run-2", Duration::from_millis(1))
        .await
        .expect("lock b");
    tokio::time::sleep(Duration::from_millis(20)).await;
    a.lock(&target, "ci-run-3", Duration::from_secs(60))
        .await
        .expect("expired lease taken over");
    // Unlocking a lease that was taken over leaves the new holder's lock alone.
    b.unlock(&target, &short)
        .await
        .expect("stale unlock is a no-op");
    let e = b
        .lock(&target, "ci-run-4", Duration::from_secs(60))
        .await
        .expect_err("still held by run 3");
    assert!(e.to_string().contains("ci-run-3"), "{e}");
}

#[tokio::test]
async fn marks_are_task_definition_tags() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "mark").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Production).expect("target");
    let bad = p.releases(&target).await.expect("releases")[0].clone();
    p.mark(
        &target,
        &bad,
        ReleaseMark::Failed,
        "error rate 12.4% > 5% (rolled back)",
    )
    .await
    .expect("mark");
    let tags = td_tags(&c, &w.td_bad).await;
    assert!(
        tags.contains(&("rollback:mark".into(), "failed".into())),
        "{tags:?}"
    );
    assert!(
        tags.iter()
            .any(|(k, v)| k == "rollback:mark-reason" && v.starts_with("error rate 12.4_")),
        "{tags:?}"
    );
    assert_eq!(
        p.releases(&target).await.expect("releases")[0].mark,
        ReleaseMark::Failed
    );
}

#[tokio::test]
async fn evidence_holds_the_release_logs_from_cloudwatch() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "evidence").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let target = p.default_target(Environment::Production).expect("target");
    let bad = p.releases(&target).await.expect("releases")[0].clone();
    let window = TimeRange::ending_at(
        chrono::Utc::now() + chrono::Duration::minutes(1),
        Duration::from_secs(3600),
    );
    let ev = p.evidence(&target, &bad, &window).await.expect("evidence");
    assert!(
        ev.logs
            .iter()
            .any(|l| l.line.contains("OutOfMemoryError") && l.source == "web/app/task-bad-1"),
        "{ev:?}"
    );
}

#[tokio::test]
async fn cloudwatch_error_rate_and_resources_come_from_put_metric_data() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = blue_green(&c, &url, "metrics").await;
    let pair = w.pair.clone().expect("pair");
    let listener = w.listener_arn.clone().expect("listener");
    alb_metrics(
        &c,
        &pair.green.target_group_arn,
        &listener,
        0.124,
        3.2,
        &w.cluster,
        &pair.green.service,
    )
    .await;
    alb_metrics(
        &c,
        &pair.blue.target_group_arn,
        &listener,
        0.001,
        0.09,
        &w.cluster,
        &pair.blue.service,
    )
    .await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let m = CloudWatchMetrics::for_platform(&p);
    let target = p.default_target(Environment::Production).expect("target");
    let rs = p.releases(&target).await.expect("releases");
    let green = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("green"))
        .expect("green");
    let range = TimeRange::ending_at(chrono::Utc::now(), Duration::from_secs(900));
    let q = |k: MetricKind| {
        MetricQuery::new(k, target.clone(), range, Duration::from_secs(60))
            .for_release(green.reference())
    };
    let err = m
        .query(&q(MetricKind::ErrorRate))
        .await
        .expect("error rate");
    let last = err[0].last().expect("samples").value;
    assert!((last - 0.124).abs() < 1e-9, "{last}");
    let cpu = m.query(&q(MetricKind::CpuUtilization)).await.expect("cpu");
    assert_eq!(cpu[0].labels.get("service"), Some(&pair.green.service));
    let codes = m.query(&q(MetricKind::StatusCodes)).await.expect("codes");
    assert!(codes
        .iter()
        .any(|s| s.labels.get("class").map(String::as_str) == Some("5xx")));
    // An unknown custom metric names the configured ones.
    let e = m
        .query(&q(MetricKind::Custom("nope".into())))
        .await
        .expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("configured ones are none"), "{e}");
    // No datapoints is no data, never zeros.
    let old = TimeRange::ending_at(
        chrono::Utc::now() - chrono::Duration::days(3),
        Duration::from_secs(600),
    );
    let none = m
        .query(&MetricQuery::new(
            MetricKind::ErrorRate,
            target.clone(),
            old,
            Duration::from_secs(60),
        ))
        .await
        .expect("query");
    assert!(none.is_empty(), "{none:?}");
}

/// CloudWatch through moto, with latency read as an average: moto's `GetMetricData` fails on
/// percentile statistics (real CloudWatch answers them; tests/sdk_mocks.rs covers that path).
struct MotoMetrics(CloudWatchMetrics);

#[async_trait]
impl MetricsSource for MotoMetrics {
    fn name(&self) -> &str {
        "cloudwatch-on-moto"
    }
    async fn query(&self, q: &MetricQuery) -> rollback_core::Result<Vec<Series>> {
        let mut q = q.clone();
        if matches!(q.kind, MetricKind::Latency(_)) {
            q.kind = MetricKind::Custom("latency_avg_ms".into());
        }
        self.0.query(&q).await
    }
}

fn fast_policy() -> Policy {
    let mut p = Policy::default();
    // Health samples and gradual observations read their last 15 s at a 60 s CloudWatch period:
    // the one datapoint of such a window is stamped at (or, on real CloudWatch, before) the
    // window's start, and CloudWatchMetrics reports it inside the window. The data comes from
    // `alb_metrics`, one datapoint every 10 s until 5 min ahead, so every window holds some.
    p.health.interval = Duration::from_secs(15);
    p.health.duration = Duration::from_secs(90);
    p.health.consecutive = 2;
    p.cleanup_delay = Duration::ZERO;
    p.gradual.pause = Duration::from_secs(15);
    p.gradual.steps = vec![50, 100];
    p.detection.evaluation = Duration::from_secs(180);
    p.rollout_timeout = Duration::from_secs(60);
    p.detection.step = Duration::from_secs(60);
    p
}

fn latency_metric() -> CustomMetric {
    toml::from_str(
        r#"namespace = "AWS/ApplicationELB"
        metric_name = "TargetResponseTime"
        stat = "Average"
        scale = 1000.0
        dimensions = { TargetGroup = "{target_group}", LoadBalancer = "{load_balancer}" }"#,
    )
    .expect("custom metric")
}

/// The percents of traffic on `revision` after each `set_traffic` step of a report.
fn traffic_steps(report: &rollback_core::RollbackReport, revision: &str) -> Vec<u8> {
    report
        .executions
        .iter()
        .flat_map(|e| e.steps.iter())
        .filter(|s| s.ok)
        .filter_map(|s| s.split.as_ref().map(|t| t.percent_for(revision)))
        .collect()
}

/// Rolls the pair back from green (v1.1.0) to blue (v1.0.0) with `strategy` and checks the
/// listener, both services and both task definitions' tags afterwards; returns the percents of
/// traffic on blue after each traffic step.
async fn orchestrated_blue_green(strategy: StrategyChoice, prefix: &str) -> Option<Vec<u8>> {
    let url = moto()?;
    let c = clients(&url).await;
    let w = blue_green(&c, &url, prefix).await;
    let pair = w.pair.clone().expect("pair");
    let listener = w.listener_arn.clone().expect("listener");
    alb_metrics(
        &c,
        &pair.green.target_group_arn,
        &listener,
        0.124,
        3.2,
        &w.cluster,
        &pair.green.service,
    )
    .await;
    alb_metrics(
        &c,
        &pair.blue.target_group_arn,
        &listener,
        0.0005,
        0.09,
        &w.cluster,
        &pair.blue.service,
    )
    .await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    let metrics = MotoMetrics(
        CloudWatchMetrics::for_platform(&p).with_custom("latency_avg_ms", latency_metric()),
    );
    let target = p.default_target(Environment::Production).expect("target");
    let orchestrator = Orchestrator::builder(p, metrics)
        .policy(fast_policy())
        .build()
        .expect("orchestrator");
    let report = orchestrator
        // The target is named: moto's services are seconds old, too young for a metrics history.
        .start(
            RollbackRequest::new(target)
                .reason("5xx after deploying v1.1.0")
                .strategy(strategy)
                .to("v1.0.0".parse().expect("version")),
        )
        .report()
        .await
        .expect("report");
    assert_eq!(report.outcome, Outcome::RolledBack, "{report:#?}");
    // The health watch saw blue in SLA on real readings, not on missing data.
    let watch = report.health.last().expect("a health watch");
    assert!(watch.stable, "{watch:#?}");
    let sample = watch.samples.last().expect("samples");
    assert!(
        sample.assessment.readings.iter().all(|r| r.value.is_some()),
        "{sample:#?}"
    );
    assert_eq!(weights(&c, &w).await, (100, 0));
    // Blue serves v1.0.0 unchanged; clean-up scaled green to 0 and kept its task definition.
    assert_eq!(
        service_state(&c, &w.cluster, &pair.blue.service).await,
        (w.td_good.clone(), 2)
    );
    assert_eq!(
        service_state(&c, &w.cluster, &pair.green.service).await,
        (w.td_bad.clone(), 0)
    );
    assert_eq!(td_status(&c, &w.td_bad).await, "ACTIVE");
    // Marks: v1.1.0 failed, v1.0.0 verified by the health watch.
    assert!(
        td_tags(&c, &w.td_bad)
            .await
            .contains(&("rollback:mark".into(), "failed".into())),
        "{:?}",
        td_tags(&c, &w.td_bad).await
    );
    assert!(
        td_tags(&c, &w.td_good)
            .await
            .contains(&("rollback:mark".into(), "verified".into())),
        "{:?}",
        td_tags(&c, &w.td_good).await
    );
    Some(traffic_steps(&report, &w.td_good))
}

#[tokio::test]
async fn orchestrator_rolls_a_blue_green_pair_back_instantly() {
    let Some(steps) = orchestrated_blue_green(StrategyChoice::Auto, "orch-instant").await else {
        return;
    };
    assert_eq!(steps, [100], "one listener switch");
}

#[tokio::test]
async fn orchestrator_rolls_a_blue_green_pair_back_gradually() {
    let Some(steps) = orchestrated_blue_green(
        StrategyChoice::Forced(rollback_core::Strategy::Gradual),
        "orch-gradual",
    )
    .await
    else {
        return;
    };
    // The policy's steps, each observed in SLA before the next.
    assert_eq!(steps, [50, 100]);
}

#[tokio::test]
async fn orchestrator_reverts_a_single_service() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = single_service(&c, "orch-full").await;
    let p = EcsPlatform::new(c.clone(), w.config(&url)).expect("platform");
    // A single service without a load balancer: error rate and latency come from custom metrics.
    let cw = CloudWatchMetrics::for_platform(&p);
    let target = p.default_target(Environment::Production).expect("target");
    let to = p.releases(&target).await.expect("releases")[1]
        .version
        .clone();
    let orchestrator = Orchestrator::builder(p, cw)
        .policy(fast_policy())
        .build()
        .expect("orchestrator");
    let report = orchestrator
        .start(
            RollbackRequest::new(target)
                .reason("OOM after v1.1.0")
                .to(to)
                .immediate(true),
        )
        .report()
        .await
        .expect("report");
    // Without a load balancer there is no error rate to watch afterwards (fail closed), but the
    // revert itself is done.
    assert_eq!(
        service_state(&c, &w.cluster, "web").await.0,
        w.td_good,
        "{report:#?}"
    );
    assert!(
        report
            .executions
            .iter()
            .any(|e| e.steps.iter().any(|s| s.action == "revert" && s.ok)),
        "{report:#?}"
    );
    assert_eq!(td_status(&c, &w.td_bad).await, "ACTIVE");
}

/// Fault injection: the listener switch never answers. Each attempt ends at the SDK's attempt
/// timeout as a temporary `TimedOut`, the orchestrator retries it `retry.attempts` times, and the
/// failed run leaves the listener, both services and both task definitions as they were.
#[tokio::test]
async fn a_listener_switch_that_times_out_is_retried_and_changes_nothing() {
    let Some(url) = moto() else { return };
    let c = clients(&url).await;
    let w = blue_green(&c, &url, "timeout").await;
    let pair = w.pair.clone().expect("pair");
    let listener = w.listener_arn.clone().expect("listener");
    alb_metrics(
        &c,
        &pair.green.target_group_arn,
        &listener,
        0.124,
        3.2,
        &w.cluster,
        &pair.green.service,
    )
    .await;
    let proxy = StallingProxy::start(&url, &["Action=ModifyListener"]).await;
    let slow = clients_with_attempt_timeout(&proxy.url, Duration::from_millis(500)).await;
    let p = EcsPlatform::new(slow, w.config(&proxy.url)).expect("platform");
    let metrics = MotoMetrics(
        CloudWatchMetrics::for_platform(&p).with_custom("latency_avg_ms", latency_metric()),
    );
    let target = p.default_target(Environment::Production).expect("target");
    let mut policy = fast_policy();
    policy.retry.attempts = 3;
    policy.retry.initial_backoff = Duration::from_millis(20);
    let orchestrator = Orchestrator::builder(p, metrics)
        .policy(policy)
        .build()
        .expect("orchestrator");
    let report = orchestrator
        .start(
            RollbackRequest::new(target)
                .reason("5xx after deploying v1.1.0")
                .strategy(StrategyChoice::Forced(rollback_core::Strategy::Instant))
                .to("v1.0.0".parse().expect("version")),
        )
        .report()
        .await
        .expect("report");
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let error = report.error.clone().expect("error");
    assert_eq!(error.kind, ErrorKind::TimedOut, "{error:?}");
    assert!(error.temporary, "{error:?}");
    assert!(
        error
            .message
            .contains("ModifyListener did not answer within the SDK's timeout"),
        "{error:?}"
    );
    // One attempt per orchestrator retry, none by the SDK.
    assert_eq!(proxy.stalled(), 3);
    let switch = report
        .executions
        .iter()
        .flat_map(|e| e.steps.iter())
        .find(|s| s.action == "set_traffic")
        .expect("a set_traffic step");
    assert!(!switch.ok, "{switch:?}");
    // Nothing changed: green keeps all traffic, both slots run as before, no marks.
    assert!(
        report
            .final_state
            .as_ref()
            .and_then(|f| f.traffic.as_ref())
            .is_some_and(|t| t.is_all_to(&w.td_bad)),
        "{:?}",
        report.final_state
    );
    assert_eq!(weights(&c, &w).await, (0, 100));
    assert_eq!(
        service_state(&c, &w.cluster, &pair.blue.service).await,
        (w.td_good.clone(), 2)
    );
    assert_eq!(
        service_state(&c, &w.cluster, &pair.green.service).await,
        (w.td_bad.clone(), 2)
    );
    for td in [&w.td_good, &w.td_bad] {
        let tags = td_tags(&c, td).await;
        assert!(
            !tags.iter().any(|(k, _)| k.starts_with("rollback:")),
            "{td}: {tags:?}"
        );
        assert_eq!(td_status(&c, td).await, "ACTIVE");
    }
}
