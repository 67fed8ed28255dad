//! The paths moto does not model, on the SDK's own test support (`aws-smithy-mocks`), with
//! responses shaped as the ECS API reference documents them. Each test names its path.

use std::time::Duration;

use aws_sdk_ecs::operation::continue_service_deployment::ContinueServiceDeploymentOutput;
use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentOutput;
use aws_sdk_ecs::types::{
    ContainerDefinition, Deployment, DeploymentLifecycleHookAction, DeploymentLifecycleHookDetail,
    DeploymentLifecycleHookStatus, DeploymentRolloutState, Service, ServiceDeployment,
    ServiceDeploymentBrief, ServiceDeploymentStatus, ServiceRevision, ServiceRevisionSummary,
    StopServiceDeploymentStopType, TaskDefinition,
};
use aws_sdk_ecs::Client as Ecs;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use rollback_core::{
    Environment, ErrorKind, MetricKind, MetricQuery, MetricsSource, Platform, Quantile, Release,
    Target, TimeRange, Version,
};
use rollback_ecs::{AwsClients, CloudWatchMetrics, DeploymentHistory, EcsConfig, EcsPlatform};

const TD1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";
const TD2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
const SD: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/3VjYbQv1yrW2z0tRbX9Uy";
const REV1: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/111";
const REV2: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/222";

fn platform(ecs_rules: &[&Rule], history: DeploymentHistory) -> EcsPlatform {
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs_rules, |c| c
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    let empty: [&Rule; 0] = [];
    let clients = AwsClients::from_clients(
        ecs,
        mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, &empty),
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &empty),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &empty),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &empty),
    );
    let config = EcsConfig::new("prod")
        .with_service("web")
        .with_deployment_history(history)
        .with_settle(Duration::from_secs(5), Duration::from_millis(1));
    EcsPlatform::new(clients, config).expect("platform")
}

fn target() -> Target {
    Target::new(Environment::Production, "web").with_namespace("prod")
}

fn release(td: &str, v: &str) -> Release {
    Release::new(Version::parse(v).expect("version"), td)
}

fn td_rule() -> Rule {
    mock!(Ecs::describe_task_definition).then_compute_output(|req| {
        let arn = req.task_definition().unwrap_or_default().to_string();
        let tag = if arn.ends_with(":1") {
            "v1.0.0"
        } else {
            "v1.1.0"
        };
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn(arn)
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("app")
                            .image(format!("web:{tag}"))
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

/// A service mid-rollout from TD1 to TD2 (PRIMARY TD2 in progress, ACTIVE TD1 draining).
fn rolling_service() -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            Service::builder()
                .service_name("web")
                .status("ACTIVE")
                .task_definition(TD2)
                .desired_count(2)
                .running_count(3)
                .current_service_deployment(SD)
                .deployments(
                    Deployment::builder()
                        .status("PRIMARY")
                        .task_definition(TD2)
                        .desired_count(2)
                        .running_count(1)
                        .failed_tasks(4)
                        .rollout_state(DeploymentRolloutState::InProgress)
                        .build(),
                )
                .deployments(
                    Deployment::builder()
                        .status("ACTIVE")
                        .task_definition(TD1)
                        .desired_count(2)
                        .running_count(2)
                        .rollout_state(DeploymentRolloutState::Completed)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The same service after ECS rolled back to TD1.
fn rolled_back_service() -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            Service::builder()
                .service_name("web")
                .status("ACTIVE")
                .task_definition(TD1)
                .desired_count(2)
                .running_count(2)
                .deployments(
                    Deployment::builder()
                        .status("PRIMARY")
                        .task_definition(TD1)
                        .desired_count(2)
                        .running_count(2)
                        .rollout_state(DeploymentRolloutState::Completed)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn history_rules(awaiting_hook: bool) -> Vec<Rule> {
    let list = mock!(Ecs::list_service_deployments).then_output(|| {
        ListServiceDeploymentsOutput::builder()
            .service_deployments(
                ServiceDeploymentBrief::builder()
                    .service_deployment_arn(SD)
                    .status(ServiceDeploymentStatus::InProgress)
                    .target_service_revision_arn(REV2)
                    .build(),
            )
            .build()
    });
    let describe = mock!(Ecs::describe_service_deployments).then_output(move || {
        let mut d = ServiceDeployment::builder()
            .service_deployment_arn(SD)
            .status(ServiceDeploymentStatus::InProgress)
            .source_service_revisions(
                ServiceRevisionSummary::builder()
                    .arn(REV1)
                    .running_task_count(2)
                    .build(),
            )
            .target_service_revision(
                ServiceRevisionSummary::builder()
                    .arn(REV2)
                    .running_task_count(1)
                    .build(),
            );
        if awaiting_hook {
            d = d.lifecycle_hook_details(
                DeploymentLifecycleHookDetail::builder()
                    .hook_id("hook-post-test-traffic")
                    .status(DeploymentLifecycleHookStatus::AwaitingAction)
                    .build(),
            );
        }
        DescribeServiceDeploymentsOutput::builder()
            .service_deployments(d.build())
            .build()
    });
    let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
        DescribeServiceRevisionsOutput::builder()
            .service_revisions(
                ServiceRevision::builder()
                    .service_revision_arn(REV1)
                    .task_definition(TD1)
                    .build(),
            )
            .service_revisions(
                ServiceRevision::builder()
                    .service_revision_arn(REV2)
                    .task_definition(TD2)
                    .build(),
            )
            .build()
    });
    vec![list, describe, revisions]
}

/// Path: ListServiceDeployments → DescribeServiceDeployments → DescribeServiceRevisions →
/// StopServiceDeployment(stopType = ROLLBACK), then DescribeServices until COMPLETED.
#[tokio::test]
async fn an_in_flight_deployment_is_stopped_with_rollback_instead_of_a_new_update() {
    let services = mock!(Ecs::describe_services)
        .sequence()
        .output(rolling_service)
        .times(2)
        .output(rolled_back_service)
        .repeatedly()
        .build();
    let stop = mock!(Ecs::stop_service_deployment)
        .match_requests(|r| {
            r.stop_type() == Some(&StopServiceDeploymentStopType::Rollback)
                && r.service_deployment_arn() == Some(SD)
        })
        .then_output(|| {
            StopServiceDeploymentOutput::builder()
                .service_deployment_arn(SD)
                .build()
        });
    let update = mock!(Ecs::update_service).then_output(|| {
        aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
    });
    let h = history_rules(false);
    let td = td_rule();
    let p = platform(
        &[&services, &stop, &update, &h[0], &h[1], &h[2], &td],
        DeploymentHistory::ServiceDeployments,
    );
    p.revert(&target(), &release(TD1, "v1.0.0"))
        .await
        .expect("revert");
    assert_eq!(stop.num_calls(), 1);
    assert_eq!(update.num_calls(), 0);
}

/// Path: a deployment paused at a lifecycle hook (AWAITING_ACTION) is answered with
/// ContinueServiceDeployment(action = ROLLBACK).
#[tokio::test]
async fn a_deployment_paused_at_a_lifecycle_hook_is_answered_with_rollback() {
    let services = mock!(Ecs::describe_services)
        .sequence()
        .output(rolling_service)
        .times(2)
        .output(rolled_back_service)
        .repeatedly()
        .build();
    let cont = mock!(Ecs::continue_service_deployment)
        .match_requests(|r| {
            r.action() == Some(&DeploymentLifecycleHookAction::Rollback)
                && r.hook_id() == Some("hook-post-test-traffic")
        })
        .then_output(|| ContinueServiceDeploymentOutput::builder().build());
    let stop = mock!(Ecs::stop_service_deployment)
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let h = history_rules(true);
    let td = td_rule();
    let p = platform(
        &[&services, &cont, &stop, &h[0], &h[1], &h[2], &td],
        DeploymentHistory::ServiceDeployments,
    );
    p.revert(&target(), &release(TD1, "v1.0.0"))
        .await
        .expect("revert");
    assert_eq!(cont.num_calls(), 1);
    assert_eq!(stop.num_calls(), 0);
}

/// Path: the service deployment history marks a rolled-back target as failed and shows the
/// failed tasks and the in-progress rollout in health.
#[tokio::test]
async fn health_reports_failed_tasks_of_a_rolling_deployment() {
    let services = mock!(Ecs::describe_services).then_output(rolling_service);
    let tasks = mock!(Ecs::list_tasks)
        .then_output(|| aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder().build());
    let p = platform(&[&services, &tasks], DeploymentHistory::DescribeServices);
    let h = p
        .health(&target(), &release(TD2, "v1.1.0"))
        .await
        .expect("health");
    assert_eq!((h.desired, h.ready), (2, 1));
    assert!(
        h.problems.iter().any(|p| p.contains("4 task(s) failed")),
        "{h:?}"
    );
}

/// A deployment that completed after two failed tasks: every desired task runs, so the old
/// failures are restarts to judge, not a failure now.
#[tokio::test]
async fn failed_tasks_of_a_completed_deployment_are_restarts_not_problems() {
    let services = mock!(Ecs::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(TD2)
                    .desired_count(2)
                    .running_count(2)
                    .deployments(
                        Deployment::builder()
                            .status("PRIMARY")
                            .task_definition(TD2)
                            .desired_count(2)
                            .running_count(2)
                            .failed_tasks(2)
                            .rollout_state(DeploymentRolloutState::Completed)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let p = platform(&[&services], DeploymentHistory::DescribeServices);
    let h = p
        .health(&target(), &release(TD2, "v1.1.0"))
        .await
        .expect("health");
    assert_eq!((h.desired, h.ready, h.restarts), (2, 2, 2));
    assert!(h.problems.is_empty(), "{h:?}");
}

fn aws_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    )
}

/// Fault injection: throttling and a 5xx are retried (by the SDK's standard retry), then succeed.
#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let services = mock!(Ecs::describe_services)
        .sequence()
        .http_response(|| aws_error(400, "ThrottlingException", "Rate exceeded"))
        .http_response(|| aws_error(500, "ServerException", "internal error"))
        .output(rolled_back_service)
        .repeatedly()
        .build();
    let p = platform(&[&services], DeploymentHistory::DescribeServices);
    let h = p
        .health(&target(), &release(TD1, "v1.0.0"))
        .await
        .expect("retried to success");
    assert_eq!((h.desired, h.ready), (2, 2));
    assert_eq!(services.num_calls(), 3);
}

/// Fault injection: errors that outlast the retries are temporary for the orchestrator.
#[tokio::test]
async fn persistent_throttling_is_a_temporary_error() {
    let services = mock!(Ecs::describe_services)
        .sequence()
        .http_response(|| aws_error(400, "ThrottlingException", "Rate exceeded"))
        .repeatedly()
        .build();
    let p = platform(&[&services], DeploymentHistory::DescribeServices);
    let e = p
        .health(&target(), &release(TD1, "v1.0.0"))
        .await
        .expect_err("throttled");
    assert!(e.is_temporary(), "{e}");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
}

/// Fault injection: InvalidParameterException is invalid input carrying AWS's message, and no
/// further mutating call follows.
#[tokio::test]
async fn invalid_parameters_are_a_clear_error_and_nothing_else_changes() {
    let services = mock!(Ecs::describe_services).then_output(rolling_service);
    let update = mock!(Ecs::update_service).then_http_response(|| {
        aws_error(
            400,
            "InvalidParameterException",
            "Task definition does not support launch_type FARGATE.",
        )
    });
    let stop = mock!(Ecs::stop_service_deployment)
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let td = td_rule();
    let p = platform(
        &[&services, &update, &stop, &td],
        DeploymentHistory::DescribeServices,
    );
    let e = p
        .revert(&target(), &release(TD1, "v1.0.0"))
        .await
        .expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(!e.is_temporary());
    assert!(
        e.message().contains("does not support launch_type FARGATE"),
        "{e}"
    );
    assert_eq!(update.num_calls(), 1);
    assert_eq!(stop.num_calls(), 0);
}

/// Fault injection: access denied names the IAM action to grant.
#[tokio::test]
async fn access_denied_names_the_action() {
    let services = mock!(Ecs::describe_services).then_http_response(|| {
        aws_error(
            400,
            "AccessDeniedException",
            "User is not authorized to perform ecs:DescribeServices",
        )
    });
    let p = platform(&[&services], DeploymentHistory::DescribeServices);
    let e = p.releases(&target()).await.expect_err("denied");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.message().contains("grant `ecs:DescribeServices`"), "{e}");
}

const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";
const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188";

/// Path: `Latency(P95)` of a single service behind an ALB → DescribeServices (its target group)
/// → DescribeTargetGroups (its load balancer) → GetMetricData with `TargetResponseTime` at `p95`,
/// period 60 s; CloudWatch's seconds come back as milliseconds, and the datapoint CloudWatch
/// stamps at the minute before the queried start (it rounds `StartTime` down) is reported at the
/// start, so a window shorter than the period still has its sample.
#[tokio::test]
async fn p95_latency_is_read_as_a_cloudwatch_percentile_in_milliseconds() {
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
    use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode as CwStatus};
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
    use aws_sdk_elasticloadbalancingv2::types::TargetGroup;

    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:15:34Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let minute = |m: i64| {
        aws_smithy_types::DateTime::from_secs(
            chrono::DateTime::parse_from_rfc3339("2026-03-02T10:15:00Z")
                .expect("time")
                .timestamp()
                + 60 * m,
        )
    };
    let services = mock!(Ecs::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(TD2)
                    .desired_count(2)
                    .running_count(2)
                    .load_balancers(
                        aws_sdk_ecs::types::LoadBalancer::builder()
                            .target_group_arn(TG)
                            .container_name("app")
                            .container_port(8080)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let groups = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
        .match_requests(|r| r.target_group_arns() == [TG])
        .then_output(|| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(
                    TargetGroup::builder()
                        .target_group_arn(TG)
                        .load_balancer_arns(LB)
                        .build(),
                )
                .build()
        });
    let data = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| {
            let [q] = r.metric_data_queries() else {
                return false;
            };
            let Some(stat) = q.metric_stat() else {
                return false;
            };
            let metric = stat.metric().expect("metric");
            let dims: Vec<(&str, &str)> = metric
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap_or_default(), d.value().unwrap_or_default()))
                .collect();
            stat.stat() == Some("p95")
                && stat.period() == Some(60)
                && metric.namespace() == Some("AWS/ApplicationELB")
                && metric.metric_name() == Some("TargetResponseTime")
                && dims
                    == [
                        ("TargetGroup", "targetgroup/web/73e2d6bc24d8a067"),
                        ("LoadBalancer", "app/shop/50dc6c495c0c9188"),
                    ]
        })
        .then_output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("l0")
                        .timestamps(minute(0))
                        .values(0.25)
                        .timestamps(minute(1))
                        .values(0.31)
                        .timestamps(minute(2))
                        .values(0.287)
                        .status_code(CwStatus::Complete)
                        .build(),
                )
                .build()
        });
    let clients = AwsClients::from_clients(
        mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&services]),
        mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            &[&groups]
        ),
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&data]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[] as &[&Rule]),
    );
    let m = CloudWatchMetrics::new(clients, EcsConfig::new("prod").with_service("web"));
    let q = MetricQuery::new(
        MetricKind::Latency(Quantile::P95),
        target(),
        TimeRange {
            start,
            end: start + chrono::Duration::seconds(150),
        },
        Duration::from_secs(10),
    )
    .for_release(release(TD2, "v1.1.0").reference());
    let series = m.query(&q).await.expect("p95");
    assert_eq!(data.num_calls(), 1);
    assert_eq!(series.len(), 1, "{series:?}");
    let points: Vec<(i64, f64)> = series[0]
        .samples
        .iter()
        .map(|s| ((s.at - start).num_seconds(), s.value))
        .collect();
    // 10:15:00 → the start (10:15:34); 10:16:00 and 10:17:00 keep their stamps.
    assert_eq!(points.len(), 3, "{points:?}");
    for ((at, v), (want_at, want_ms)) in points.iter().zip([(0, 250.0), (26, 310.0), (86, 287.0)]) {
        assert_eq!(*at, want_at, "{points:?}");
        assert!((v - want_ms).abs() < 1e-9, "{points:?}");
    }
    // The orchestrator's window mean from the queried start counts the first period too.
    let mean = series[0].mean_since(start).expect("a sample in the window");
    assert!(
        (mean - (250.0 + 310.0 + 287.0) / 3.0).abs() < 1e-9,
        "{mean}"
    );
}
