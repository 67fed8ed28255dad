//! The built-in HTTP check against a local server: status, body, latency budget, failures.

use std::time::Duration;

use rollback::{
    Check, CheckContext, CheckPhase, CheckStatus, Environment, HttpCheck, Release, Target, Version,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ctx() -> CheckContext {
    CheckContext {
        target: Target::new(Environment::Staging, "web"),
        release: Release::new(Version::parse("v1").unwrap(), "web-1"),
        phase: CheckPhase::Smoke,
    }
}

async fn server() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"status\":\"ok\"}"))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/broken"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s)
        .await;
    s
}

#[tokio::test]
async fn a_healthy_endpoint_passes_with_status_body_and_budget() {
    let s = server().await;
    let c = HttpCheck::get("health", &format!("{}/health", s.uri()))
        .unwrap()
        .body_contains("\"ok\"")
        .latency_budget(Duration::from_secs(2));
    let o = c.run(&ctx()).await;
    assert_eq!(o.status, CheckStatus::Pass, "{}", o.detail);
    assert!(o.detail.starts_with("200 OK"), "{}", o.detail);
}

#[tokio::test]
async fn a_wrong_status_fails_and_says_what_was_expected() {
    let s = server().await;
    let o = HttpCheck::get("broken", &format!("{}/broken", s.uri()))
        .unwrap()
        .run(&ctx())
        .await;
    assert_eq!(o.status, CheckStatus::Fail);
    assert!(
        o.detail.contains("503") && o.detail.contains("expected 200"),
        "{}",
        o.detail
    );
}

#[tokio::test]
async fn a_missing_body_string_fails() {
    let s = server().await;
    let o = HttpCheck::get("health", &format!("{}/health", s.uri()))
        .unwrap()
        .body_contains("healthy")
        .run(&ctx())
        .await;
    assert_eq!(o.status, CheckStatus::Fail);
    assert!(o.detail.contains("lacks \"healthy\""), "{}", o.detail);
}

#[tokio::test]
async fn an_answer_over_the_latency_budget_fails() {
    let s = server().await;
    let o = HttpCheck::get("slow", &format!("{}/slow", s.uri()))
        .unwrap()
        .latency_budget(Duration::from_millis(100))
        .run(&ctx())
        .await;
    assert_eq!(o.status, CheckStatus::Fail);
    assert!(o.detail.contains("over the 100ms budget"), "{}", o.detail);
}

#[tokio::test]
async fn a_timeout_and_a_refused_connection_fail_without_showing_secrets() {
    let s = server().await;
    let url = format!("{}/slow?token=s3cr3t-value", s.uri());
    let o = HttpCheck::get("slow", &url)
        .unwrap()
        .timeout(Duration::from_millis(50))
        .run(&ctx())
        .await;
    assert_eq!(o.status, CheckStatus::Fail);
    assert!(o.detail.contains("no answer within"), "{}", o.detail);
    assert!(!o.detail.contains("s3cr3t"), "{}", o.detail);

    // A port nobody listens on (bound then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = HttpCheck::get(
        "down",
        &format!("http://user:pa55word@127.0.0.1:{port}/health"),
    )
    .unwrap()
    .run(&ctx())
    .await;
    assert_eq!(o.status, CheckStatus::Fail);
    assert!(o.detail.contains("connection failed"), "{}", o.detail);
    assert!(!o.detail.contains("pa55word"), "{}", o.detail);
}
