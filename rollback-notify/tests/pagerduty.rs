//! PagerDuty Events API v2 against a mock server.

mod common;

use common::*;
use rollback_core::{EventKind, Notifier, Severity};
use rollback_notify::{PagerDutyConfig, PagerDutyNotifier};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup() -> (MockServer, PagerDutyNotifier) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202).set_body_json(serde_json::json!({
            "status": "success", "message": "Event processed", "dedup_key": "x"
        })))
        .mount(&server)
        .await;
    let cfg: PagerDutyConfig = toml::from_str(&format!(
        "routing_key_env = \"PD_KEY\"\nurl = \"{}/v2/enqueue\"\nclient_url = \"https://grafana.example/d/checkout\"\n",
        server.uri()
    ))
    .unwrap();
    let n = PagerDutyNotifier::from_config(&cfg, &env(&[("PD_KEY", PD_KEY.into())])).unwrap();
    (server, n)
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn start_triggers_and_success_resolves_with_the_same_dedup_key() {
    let (server, n) = setup().await;
    let mut started = event(EventKind::Started);
    started.severity = Severity::High;
    n.notify(&started).await.unwrap();
    n.notify(&event(EventKind::Succeeded)).await.unwrap();

    let b = bodies(&server).await;
    assert_eq!(b.len(), 2);
    let trigger = &b[0];
    assert_eq!(trigger["routing_key"], PD_KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], started.incident_key());
    assert_eq!(trigger["client"], "rollback");
    assert_eq!(trigger["client_url"], "https://grafana.example/d/checkout");
    let p = &trigger["payload"];
    assert_eq!(p["severity"], "error", "HIGH maps to error");
    assert_eq!(p["source"], "production/shop/checkout");
    assert_eq!(p["component"], "checkout");
    assert_eq!(p["group"], "production");
    assert!(p["timestamp"]
        .as_str()
        .unwrap()
        .starts_with("2025-03-01T03:07:00"));
    let summary = p["summary"].as_str().unwrap();
    assert!(
        summary.contains("checkout v1.3.0 → v1.2.9 (production)"),
        "{summary}"
    );
    let d = &p["custom_details"];
    assert_eq!(d["metrics"]["Error rate"], "12.4% (SLA < 0.1%)");
    assert_eq!(d["findings"][0]["title"], "Memory leak in cache service");
    assert_eq!(
        d["findings"][0]["location"],
        "src/services/cache.service.ts:42"
    );
    assert_eq!(d["from"], "v1.3.0");
    assert_eq!(d["to"], "v1.2.9");
    assert_eq!(d["trigger"]["decision"], "critical SLA breach");
    assert_eq!(d["trigger"]["signals"].as_array().unwrap().len(), 7);
    assert_eq!(
        d["report"],
        "/var/lib/rollback/reports/run-20250301-0307/rca.md"
    );

    let resolve = &b[1];
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert_eq!(resolve["routing_key"], PD_KEY);
    assert!(resolve.get("payload").is_none());
}

#[tokio::test]
async fn failed_rollback_is_critical() {
    let (server, n) = setup().await;
    let mut e = event(EventKind::Failed);
    e.severity = Severity::Low;
    n.notify(&e).await.unwrap();
    let b = bodies(&server).await;
    assert_eq!(b[0]["event_action"], "trigger");
    assert_eq!(b[0]["payload"]["severity"], "critical");
}

#[tokio::test]
async fn severity_maps_to_pagerduty_levels() {
    let (server, n) = setup().await;
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let mut e = event(EventKind::Started);
        e.severity = s;
        n.notify(&e).await.unwrap();
    }
    let got: Vec<String> = bodies(&server)
        .await
        .iter()
        .map(|b| b["payload"]["severity"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ["critical", "error", "warning", "info", "info"]);
}

#[tokio::test]
async fn huge_event_keeps_summary_and_dedup_key_within_limits() {
    let (server, n) = setup().await;
    let e = huge_event();
    n.notify(&e).await.unwrap();
    let b = bodies(&server).await;
    assert!(b[0]["payload"]["summary"].as_str().unwrap().chars().count() <= 1024);
    let key = b[0]["dedup_key"].as_str().unwrap();
    assert!(key.chars().count() <= 255, "{}", key.len());
    assert_eq!(key, rollback_notify::pagerduty::dedup_key(&e), "stable");
    assert_eq!(
        b[0]["payload"]["custom_details"]["findings"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(b[0]["payload"]["custom_details"]["more_findings"], 195);
}

#[tokio::test]
async fn stage_and_nothing_to_do_events_are_not_wanted() {
    let (_server, n) = setup().await;
    assert!(!n.wants(&event(EventKind::NothingToDo)));
    assert!(!n.wants(&event(EventKind::StageFinished)));
    assert!(n.wants(&event(EventKind::Started)));
    assert!(n.wants(&event(EventKind::Succeeded)));
}

#[tokio::test]
async fn invalid_event_is_not_retried_and_hides_the_routing_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": [format!("routing_key {PD_KEY} is not registered")]
        })))
        .mount(&server)
        .await;
    let cfg: PagerDutyConfig = toml::from_str(&format!(
        "routing_key_env = \"PD_KEY\"\nurl = \"{}/v2/enqueue\"\n",
        server.uri()
    ))
    .unwrap();
    let n = PagerDutyNotifier::from_config(&cfg, &env(&[("PD_KEY", PD_KEY.into())])).unwrap();
    let (_g, logs) = capture_logs();
    let err = n.notify(&event(EventKind::Started)).await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(err.kind(), rollback_core::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("pagerduty") && err.to_string().contains("400"),
        "{err}"
    );
    assert!(
        err.to_string().contains("not registered"),
        "body kept, key redacted: {err}"
    );
    assert_no_secret(&[
        &err.to_string(),
        &format!("{err:?}"),
        &format!("{n:?}"),
        &logs.text(),
    ]);
}

#[tokio::test]
async fn resolve_passes_a_severity_filter_so_alerts_are_closed() {
    let cfg: PagerDutyConfig = toml::from_str(
        "routing_key_env = \"PD_KEY\"\nmin_severity = \"critical\"\nenvironments = [\"production\"]\n",
    )
    .unwrap();
    let n = PagerDutyNotifier::from_config(&cfg, &env(&[("PD_KEY", PD_KEY.into())])).unwrap();
    let mut ok = event(EventKind::Succeeded);
    ok.severity = Severity::Info;
    assert!(n.wants(&ok), "resolve despite min_severity");
    let mut start = event(EventKind::Started);
    start.severity = Severity::Info;
    assert!(!n.wants(&start), "low-severity trigger filtered");
    ok.target.environment = rollback_core::Environment::Staging;
    assert!(!n.wants(&ok), "environment filter still applies");
}
