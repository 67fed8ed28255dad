//! Shared set-up of the tests that run against the moto server (`scripts/ci/moto.sh`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver, Tag};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, TargetDescription, TargetGroupTuple,
    TargetTypeEnum,
};
use rollback_ecs::{AwsClients, BlueGreenConfig, DeploymentHistory, EcsConfig, SlotConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The moto server's URL, or `None` (skip) when `ROLLBACK_TEST_MOTO` is unset. Under `CI` a
/// missing server is a failure.
pub fn moto() -> Option<String> {
    match std::env::var("ROLLBACK_TEST_MOTO") {
        Ok(u) if !u.is_empty() => Some(u.trim_end_matches('/').to_string()),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("ROLLBACK_TEST_MOTO is not set under CI: run scripts/ci/moto.sh and source /tmp/rollback-test-moto/env.sh");
            }
            eprintln!("skipped: ROLLBACK_TEST_MOTO is not set (run scripts/ci/moto.sh and source /tmp/rollback-test-moto/env.sh)");
            None
        }
    }
}

/// Clients for moto: dummy credentials, us-east-1, the moto endpoint.
pub async fn clients(url: &str) -> AwsClients {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "rollback-ecs-tests",
        ))
        .load()
        .await;
    AwsClients::from_sdk_config(&sdk)
}

/// A name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id() % 10000,
        N.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

/// The default VPC and its subnets, read with a raw EC2 Query call (moto routes by the
/// credential scope; it does not check signatures), so the tests need no EC2 SDK crate.
pub async fn default_subnets(url: &str) -> (String, Vec<String>) {
    let addr = url.trim_start_matches("http://");
    let body = "Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=default-for-az&Filter.1.Value.1=true";
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to moto");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let grab = |tag: &str| -> Vec<String> {
        out.split(&format!("<{tag}>"))
            .skip(1)
            .filter_map(|p| p.split('<').next().map(str::to_owned))
            .collect()
    };
    let vpc = grab("vpcId")
        .into_iter()
        .next()
        .expect("moto has a default VPC");
    (vpc, grab("subnetId").into_iter().take(2).collect())
}

/// What a fixture created.
#[derive(Debug, Clone)]
pub struct World {
    pub cluster: String,
    pub family: String,
    /// Task-definition ARNs: v1.0.0 (good), v1.1.0 (broken).
    pub td_good: String,
    pub td_bad: String,
    pub log_group: String,
    pub lock_table: String,
    pub pair: Option<BlueGreenConfig>,
    pub listener_arn: Option<String>,
    pub service: String,
}

impl World {
    /// The platform configuration for this world (history from DescribeServices: moto answers
    /// ListServiceDeployments with a 500).
    pub fn config(&self, url: &str) -> EcsConfig {
        let mut c = EcsConfig::new(self.cluster.clone())
            .with_service(self.service.clone())
            .with_logs(self.log_group.clone(), Some("web".into()))
            .with_lock_table(self.lock_table.clone())
            .with_region("us-east-1")
            .with_endpoint_url(url)
            .with_deployment_history(DeploymentHistory::DescribeServices)
            .with_settle(Duration::from_secs(30), Duration::from_millis(200));
        if let Some(p) = &self.pair {
            c = c.with_blue_green(p.clone());
        }
        c
    }
}

async fn register(c: &AwsClients, family: &str, version: &str, log_group: &str) -> String {
    let out = c
        .ecs()
        .register_task_definition()
        .family(family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image(format!(
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{version}"
                ))
                .memory(256)
                .essential(true)
                .log_configuration(
                    LogConfiguration::builder()
                        .log_driver(LogDriver::Awslogs)
                        .options("awslogs-group", log_group)
                        .options("awslogs-stream-prefix", "web")
                        .build()
                        .expect("log configuration"),
                )
                .build(),
        )
        .tags(Tag::builder().key("version").value(version).build())
        .send()
        .await
        .expect("register task definition");
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string()
}

async fn service(c: &AwsClients, cluster: &str, name: &str, td: &str, desired: i32) {
    c.ecs()
        .create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(td)
        .desired_count(desired)
        .send()
        .await
        .expect("create service");
    // moto starts no tasks; a desiredCount update makes it report them running.
    c.ecs()
        .update_service()
        .cluster(cluster)
        .service(name)
        .desired_count(desired)
        .send()
        .await
        .expect("update service");
}

async fn common(c: &AwsClients, prefix: &str) -> (String, String, String, String, String, String) {
    let cluster = unique(&format!("{prefix}-cluster"));
    c.ecs()
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .expect("create cluster");
    let family = unique(&format!("{prefix}-web"));
    let log_group = format!("/ecs/{}", unique(prefix));
    c.logs()
        .create_log_group()
        .log_group_name(&log_group)
        .send()
        .await
        .expect("log group");
    let td_good = register(c, &family, "v1.0.0", &log_group).await;
    let td_bad = register(c, &family, "v1.1.0", &log_group).await;
    let lock_table = unique(&format!("{prefix}-locks"));
    c.dynamodb()
        .create_table()
        .table_name(&lock_table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("target")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("target")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("lock table");
    (cluster, family, log_group, td_good, td_bad, lock_table)
}

/// One service rolled out from v1.0.0 to the broken v1.1.0, with logs of the broken one.
pub async fn single_service(c: &AwsClients, prefix: &str) -> World {
    let (cluster, family, log_group, td_good, td_bad, lock_table) = common(c, prefix).await;
    let svc = "web".to_string();
    service(c, &cluster, &svc, &td_good, 2).await;
    c.ecs()
        .update_service()
        .cluster(&cluster)
        .service(&svc)
        .task_definition(&td_bad)
        .send()
        .await
        .expect("deploy v1.1.0");
    logs(
        c,
        &log_group,
        "web/app/task-bad-1",
        &[
            "java.lang.OutOfMemoryError: Java heap space",
            "at com.shop.Cart.load(Cart.java:42)",
        ],
    )
    .await;
    World {
        cluster,
        family,
        td_good,
        td_bad,
        log_group,
        lock_table,
        pair: None,
        listener_arn: None,
        service: svc,
    }
}

/// Blue (v1.0.0, standby) and green (v1.1.0, all traffic) behind one ALB listener.
pub async fn blue_green(c: &AwsClients, url: &str, prefix: &str) -> World {
    let (cluster, family, log_group, td_good, td_bad, lock_table) = common(c, prefix).await;
    let (vpc, subnets) = default_subnets(url).await;
    let lb_name = unique("lb").replace('_', "-");
    let lb_name: String = lb_name.chars().take(32).collect();
    let lb = c
        .elb()
        .create_load_balancer()
        .name(lb_name.trim_end_matches('-'))
        .set_subnets(Some(subnets))
        .send()
        .await
        .expect("create load balancer");
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .expect("lb arn")
        .to_string();
    let mut tgs = Vec::new();
    for slot in ["b", "g"] {
        let name: String = unique(&format!("tg{slot}")).chars().take(32).collect();
        let tg = c
            .elb()
            .create_target_group()
            .name(name.trim_end_matches('-'))
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id(&vpc)
            .target_type(TargetTypeEnum::Ip)
            .send()
            .await
            .expect("create target group");
        let arn = tg.target_groups()[0]
            .target_group_arn()
            .expect("tg arn")
            .to_string();
        c.elb()
            .register_targets()
            .target_group_arn(&arn)
            .targets(
                TargetDescription::builder()
                    .id(if slot == "b" {
                        "172.31.0.10"
                    } else {
                        "172.31.0.20"
                    })
                    .port(80)
                    .build(),
            )
            .targets(
                TargetDescription::builder()
                    .id(if slot == "b" {
                        "172.31.0.11"
                    } else {
                        "172.31.0.21"
                    })
                    .port(80)
                    .build(),
            )
            .send()
            .await
            .expect("register targets");
        tgs.push(arn);
    }
    let listener = c
        .elb()
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&tgs[0], 0, &tgs[1], 100))
        .send()
        .await
        .expect("create listener");
    let listener_arn = listener.listeners()[0]
        .listener_arn()
        .expect("listener arn")
        .to_string();
    let (blue, green) = ("web-blue".to_string(), "web-green".to_string());
    service(c, &cluster, &blue, &td_good, 2).await;
    service(c, &cluster, &green, &td_bad, 2).await;
    logs(
        c,
        &log_group,
        "web/app/task-green-1",
        &["java.lang.OutOfMemoryError: Java heap space"],
    )
    .await;
    let pair = BlueGreenConfig {
        name: "web".into(),
        blue: SlotConfig {
            service: blue,
            target_group_arn: tgs[0].clone(),
        },
        green: SlotConfig {
            service: green,
            target_group_arn: tgs[1].clone(),
        },
        listener_arn: Some(listener_arn.clone()),
        rule_arn: None,
    };
    World {
        cluster,
        family,
        td_good,
        td_bad,
        log_group,
        lock_table,
        pair: Some(pair),
        listener_arn: Some(listener_arn),
        service: "web".into(),
    }
}

pub fn forward(blue: &str, wb: i32, green: &str, wg: i32) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(blue)
                        .weight(wb)
                        .build(),
                )
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(green)
                        .weight(wg)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The listener's weights (blue, green).
pub async fn weights(c: &AwsClients, w: &World) -> (i32, i32) {
    let pair = w.pair.as_ref().expect("pair");
    let out = c
        .elb()
        .describe_listeners()
        .listener_arns(w.listener_arn.as_deref().expect("listener"))
        .send()
        .await
        .expect("listener");
    let a = &out.listeners()[0].default_actions()[0];
    let tgs = a.forward_config().expect("forward").target_groups();
    let get = |arn: &str| {
        tgs.iter()
            .find(|t| t.target_group_arn() == Some(arn))
            .and_then(|t| t.weight())
            .unwrap_or(0)
    };
    (
        get(&pair.blue.target_group_arn),
        get(&pair.green.target_group_arn),
    )
}

pub async fn logs(c: &AwsClients, group: &str, stream: &str, lines: &[&str]) {
    c.logs()
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("log stream");
    let now = chrono::Utc::now().timestamp_millis();
    let mut req = c
        .logs()
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (i, l) in lines.iter().enumerate() {
        req = req.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 1000 + i as i64)
                .message(*l)
                .build()
                .expect("log event"),
        );
    }
    req.send().await.expect("put log events");
}

/// Puts ALB metrics for one target group every 10 s from 20 min ago to 5 min ahead: requests,
/// 5xx at `error_ratio`, and response time; and ECS CPU/memory for the service.
pub async fn alb_metrics(
    c: &AwsClients,
    tg_arn: &str,
    listener_arn: &str,
    error_ratio: f64,
    latency_s: f64,
    cluster: &str,
    service: &str,
) {
    let tg = format!(
        "targetgroup/{}",
        tg_arn.split_once(":targetgroup/").expect("tg arn").1
    );
    let lb_rest = listener_arn
        .split_once(":listener/")
        .expect("listener arn")
        .1;
    let lb = lb_rest.split('/').take(3).collect::<Vec<_>>().join("/");
    let now = chrono::Utc::now().timestamp();
    let dims = |pairs: &[(&str, &str)]| -> Vec<Dimension> {
        pairs
            .iter()
            .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
            .collect()
    };
    let mut data: Vec<(&str, MetricDatum)> = Vec::new();
    for i in (-120..30).map(|k| now + k * 10) {
        let ts = aws_smithy_types::DateTime::from_secs(i);
        let alb = dims(&[("TargetGroup", &tg), ("LoadBalancer", &lb)]);
        let ecs = dims(&[("ClusterName", cluster), ("ServiceName", service)]);
        let d = |name: &str, v: f64, d: Vec<Dimension>| {
            MetricDatum::builder()
                .metric_name(name)
                .timestamp(ts)
                .value(v)
                .set_dimensions(Some(d))
                .build()
        };
        data.push(("AWS/ApplicationELB", d("RequestCount", 1000.0, alb.clone())));
        data.push((
            "AWS/ApplicationELB",
            d(
                "HTTPCode_Target_5XX_Count",
                1000.0 * error_ratio,
                alb.clone(),
            ),
        ));
        data.push((
            "AWS/ApplicationELB",
            d(
                "HTTPCode_Target_2XX_Count",
                1000.0 * (1.0 - error_ratio),
                alb,
            ),
        ));
        // moto matches dimensions in the order given (its `Dimension.__lt__` is broken, so its
        // `sorted` does not normalise): response time is put in the order the tests' custom
        // latency metric queries it, a `CustomMetric`'s (alphabetical) order.
        let alb_sorted = dims(&[("LoadBalancer", &lb), ("TargetGroup", &tg)]);
        data.push((
            "AWS/ApplicationELB",
            d("TargetResponseTime", latency_s, alb_sorted),
        ));
        data.push(("AWS/ECS", d("CPUUtilization", 35.0, ecs.clone())));
        data.push(("AWS/ECS", d("MemoryUtilization", 45.0, ecs)));
    }
    for ns in ["AWS/ApplicationELB", "AWS/ECS"] {
        let items: Vec<MetricDatum> = data
            .iter()
            .filter(|(n, _)| *n == ns)
            .map(|(_, d)| d.clone())
            .collect();
        for chunk in items.chunks(500) {
            c.cloudwatch()
                .put_metric_data()
                .namespace(ns)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .expect("put metric data");
        }
    }
}

/// A proxy in front of moto that never answers the requests whose body contains one of the
/// given strings (an AWS Query `Action=…`), and forwards every other request: an endpoint that
/// times out on chosen calls only.
pub struct StallingProxy {
    /// The URL to give the SDK.
    pub url: String,
    stalled: std::sync::Arc<AtomicU32>,
}

impl StallingProxy {
    /// Starts the proxy on a free loopback port.
    pub async fn start(moto_url: &str, stall_on: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = moto_url.trim_start_matches("http://").to_string();
        let stall_on: Vec<String> = stall_on.iter().map(|s| s.to_string()).collect();
        let stalled = std::sync::Arc::new(AtomicU32::new(0));
        let counter = stalled.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(
                    conn,
                    upstream.clone(),
                    stall_on.clone(),
                    counter.clone(),
                ));
            }
        });
        StallingProxy { url, stalled }
    }

    /// How many requests were held without an answer.
    pub fn stalled(&self) -> u32 {
        self.stalled.load(Ordering::SeqCst)
    }
}

/// Serves one client connection (keep-alive): each request goes to a fresh upstream connection,
/// or is held forever.
async fn serve(
    mut conn: tokio::net::TcpStream,
    upstream: String,
    stall_on: Vec<String>,
    stalled: std::sync::Arc<AtomicU32>,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Read the head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);
        let text = String::from_utf8_lossy(&body);
        if stall_on.iter().any(|s| text.contains(s.as_str())) {
            stalled.fetch_add(1, Ordering::SeqCst);
            // Hold the connection open without a byte of answer until the client gives up.
            let mut sink = [0u8; 1024];
            while let Ok(n) = conn.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
            return;
        }
        // Forward with `Connection: close`, so the upstream answer ends at EOF.
        let mut forwarded: String = head
            .lines()
            .filter(|l| {
                !l.is_empty()
                    && !l
                        .split_once(':')
                        .is_some_and(|(k, _)| k.eq_ignore_ascii_case("connection"))
            })
            .map(|l| format!("{l}\r\n"))
            .collect();
        forwarded.push_str("Connection: close\r\n\r\n");
        let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await else {
            return;
        };
        if up.write_all(forwarded.as_bytes()).await.is_err() || up.write_all(&body).await.is_err() {
            return;
        }
        let mut answer = Vec::new();
        if up.read_to_end(&mut answer).await.is_err() {
            return;
        }
        if conn.write_all(&answer).await.is_err() {
            return;
        }
        // The upstream answer may not frame itself for keep-alive: close after each answer.
        let lower = String::from_utf8_lossy(&answer[..answer.len().min(4096)]).to_lowercase();
        if lower.contains("connection: close") || !lower.contains("content-length") {
            return;
        }
    }
}

/// Clients for moto through `url` (a proxy) with a per-attempt timeout and no SDK retries, so
/// that every retry of a timed-out call is the orchestrator's.
pub async fn clients_with_attempt_timeout(url: &str, attempt_timeout: Duration) -> AwsClients {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "rollback-ecs-tests",
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    AwsClients::from_sdk_config(&sdk)
}
