//! Microsoft Teams against a mock server.

mod common;

use common::*;
use rollback_core::{EventKind, Notifier};
use rollback_notify::{TeamsConfig, TeamsNotifier};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup(status: u16, body: &str) -> (MockServer, TeamsNotifier) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TEAMS_PATH))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    let cfg: TeamsConfig =
        toml::from_str("webhook_url_env = \"TEAMS_URL\"\nretries = 0\n").unwrap();
    let n = TeamsNotifier::from_config(
        &cfg,
        &env(&[("TEAMS_URL", format!("{}{TEAMS_PATH}", server.uri()))]),
    )
    .unwrap();
    (server, n)
}

#[tokio::test]
async fn posts_an_adaptive_card_message() {
    let (server, n) = setup(202, "").await;
    n.notify(&event(EventKind::Failed)).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let m: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(m["type"], "message");
    let att = &m["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &att["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(card["version"], "1.4");
    let body = card["body"].as_array().unwrap();
    assert_eq!(body[0]["type"], "TextBlock");
    assert_eq!(body[0]["color"], "Attention");
    assert!(body[0]["text"]
        .as_str()
        .unwrap()
        .contains("Rollback FAILED"));
    let facts = body[1]["facts"].as_array().unwrap();
    let fact = |t: &str| {
        facts
            .iter()
            .find(|f| f["title"] == t)
            .map(|f| f["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(fact("Environment").as_deref(), Some("production"));
    assert_eq!(fact("From → To").as_deref(), Some("v1.3.0 → v1.2.9"));
    assert_eq!(fact("Duration").as_deref(), Some("2m 14s"));
    assert_eq!(fact("Decided").as_deref(), Some("critical SLA breach"));
    let text = serde_json::to_string(card).unwrap();
    assert!(text.contains("Memory leak in cache service"));
    assert!(text.contains("12.4% (SLA < 0.1%)"));
    assert!(text.contains("rca.md"));
    assert!(text.contains("What tripped it"));
    assert!(text.contains("- CRITICAL signal 1: error rate 12.4% (SLA < 0.1%) since 03:02"));
    assert!(text.contains("…and 2 more in the report"));
}

#[tokio::test]
async fn huge_event_card_stays_under_the_size_limit() {
    let (server, n) = setup(200, "1").await;
    n.notify(&huge_event()).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(
        reqs[0].body.len() <= rollback_notify::teams::MAX_BODY_BYTES,
        "{}",
        reqs[0].body.len()
    );
}

#[tokio::test]
async fn legacy_connector_error_text_is_a_failure() {
    let (_server, n) = setup(
        200,
        "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413",
    )
    .await;
    let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
    assert_eq!(err.backend(), Some("teams"));
    assert!(err.to_string().contains("413"), "{err}");
    assert_no_secret(&[&err.to_string(), &format!("{n:?}")]);
}
