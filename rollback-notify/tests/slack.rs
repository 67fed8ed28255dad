//! Slack against a mock server: payload shape, limits, Web API errors.

mod common;

use common::*;
use rollback_core::{ErrorKind, EventKind, Notifier};
use rollback_notify::{SlackConfig, SlackNotifier};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn webhook(server: &MockServer, extra: &str) -> SlackNotifier {
    let cfg: SlackConfig = toml::from_str(&format!(
        "webhook_url_env = \"SLACK_URL\"\nretries = 0\n{extra}"
    ))
    .unwrap();
    SlackNotifier::from_config(
        &cfg,
        &env(&[("SLACK_URL", format!("{}{SLACK_PATH}", server.uri()))]),
    )
    .unwrap()
}

fn bot(server: &MockServer) -> SlackNotifier {
    let cfg: SlackConfig = toml::from_str(&format!(
        "token_env = \"SLACK_BOT_TOKEN\"\nchannel = \"#deploys\"\napi_url = \"{}/api\"\nretries = 0\n",
        server.uri()
    ))
    .unwrap();
    SlackNotifier::from_config(&cfg, &env(&[("SLACK_BOT_TOKEN", SLACK_TOKEN.into())])).unwrap()
}

async fn only_body(server: &MockServer) -> Value {
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    serde_json::from_slice(&reqs[0].body).unwrap()
}

fn texts(blocks: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for b in blocks {
        if let Some(t) = b.pointer("/text/text").and_then(Value::as_str) {
            out.push(t.to_owned());
        }
        for f in b["fields"].as_array().into_iter().flatten() {
            out.push(f["text"].as_str().unwrap().to_owned());
        }
        for e in b["elements"].as_array().into_iter().flatten() {
            out.push(e["text"].as_str().unwrap().to_owned());
        }
    }
    out
}

#[tokio::test]
async fn webhook_posts_block_kit_message_with_the_facts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let n = webhook(&server, "");
    n.notify(&event(EventKind::Succeeded)).await.unwrap();

    let body = only_body(&server).await;
    assert!(body["text"]
        .as_str()
        .unwrap()
        .contains("Rollback succeeded"));
    assert!(
        body.get("channel").is_none(),
        "webhooks post to their own channel"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let header_text = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(header_text.contains("checkout") && header_text.contains("v1.3.0 → v1.2.9"));
    let all = texts(blocks).join("\n");
    for fact in [
        "production",
        "v1.3.0 → v1.2.9",
        "Error rate: 12.4% (SLA &lt; 0.1%)",
        "Memory leak in cache service",
        "src/services/cache.service.ts:42",
        "2m 14s",
        "/var/lib/rollback/reports/run-20250301-0307/rca.md",
        "&lt;since 03:02&gt;",
        "*What tripped it*\ncritical SLA breach",
        "• CRITICAL signal 1: error rate 12.4% (SLA &lt; 0.1%) since 03:02",
        "• CRITICAL signal 5:",
        "…and 2 more in the report",
    ] {
        assert!(all.contains(fact), "missing {fact:?} in {all}");
    }
    assert!(!all.contains("signal 6"), "at most 5 signals: {all}");
    for b in blocks {
        assert!(
            ["header", "section", "divider", "context"].contains(&b["type"].as_str().unwrap()),
            "{b}"
        );
    }
}

#[tokio::test]
async fn huge_event_stays_inside_slack_limits() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let n = webhook(&server, "max_findings = 100");
    n.notify(&huge_event()).await.unwrap();

    let body = only_body(&server).await;
    let blocks = body["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
    for b in blocks {
        if b["type"] == "section" {
            if let Some(t) = b.pointer("/text/text").and_then(Value::as_str) {
                assert!(
                    t.chars().count() <= 3000,
                    "section of {}",
                    t.chars().count()
                );
            }
            let fields = b["fields"].as_array().map_or(0, Vec::len);
            assert!(fields <= 10);
            for f in b["fields"].as_array().into_iter().flatten() {
                assert!(f["text"].as_str().unwrap().chars().count() <= 2000);
            }
        }
        if b["type"] == "context" {
            assert!(b["elements"].as_array().unwrap().len() <= 10);
        }
    }
    assert!(body["text"].as_str().unwrap().chars().count() <= 3000);
    let all = texts(blocks).join("\n");
    assert!(
        all.contains("more findings in the report"),
        "no findings overflow line"
    );
    assert!(all.contains("…and "), "no metrics overflow line");
}

#[tokio::test]
async fn bot_token_posts_to_chat_post_message_with_bearer_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header(
            "authorization",
            format!("Bearer {SLACK_TOKEN}").as_str(),
        ))
        .and(header("content-type", "application/json; charset=utf-8"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true, "ts": "1.2"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    bot(&server)
        .notify(&event(EventKind::Started))
        .await
        .unwrap();
    let body = only_body(&server).await;
    assert_eq!(body["channel"], "#deploys");
    assert!(body["blocks"].as_array().unwrap().len() > 2);
    assert!(body["text"].as_str().unwrap().contains("Rollback started"));
}

#[tokio::test]
async fn slack_ok_false_is_mapped_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": false, "error": "channel_not_found"})),
        )
        .mount(&server)
        .await;
    let (_g, logs) = capture_logs();
    let n = bot(&server);
    let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!err.is_temporary());
    assert_eq!(err.backend(), Some("slack"));
    assert!(err.to_string().contains("channel_not_found"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_no_secret(&[
        &err.to_string(),
        &format!("{err:?}"),
        &format!("{n:?}"),
        &logs.text(),
    ]);
}

#[tokio::test]
async fn slack_invalid_auth_is_permission_denied() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": false, "error": "invalid_auth"})),
        )
        .mount(&server)
        .await;
    let err = bot(&server)
        .notify(&event(EventKind::Failed))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn failed_rollback_mentions_the_configured_group() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let n = webhook(&server, "mention_on_failure = \"<!subteam^S0123>\"");
    n.notify(&event(EventKind::Failed)).await.unwrap();
    let body = only_body(&server).await;
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("<!subteam^S0123>"));
    assert!(texts(body["blocks"].as_array().unwrap())
        .iter()
        .any(|t| t.starts_with("<!subteam^S0123>")));
}

#[test]
fn config_needs_exactly_one_destination() {
    let cfg: SlackConfig = toml::from_str("channel = \"#x\"").unwrap();
    let err = SlackNotifier::from_config(&cfg, &|_| None).unwrap_err();
    assert!(err.to_string().contains("webhook_url_env"), "{err}");
    let cfg: SlackConfig = toml::from_str("token_env = \"T\"").unwrap();
    let err = SlackNotifier::from_config(&cfg, &|_| Some("x".into())).unwrap_err();
    assert!(err.to_string().contains("channel"), "{err}");
}

#[test]
fn stage_events_are_filtered_by_default() {
    let cfg: SlackConfig =
        toml::from_str("webhook_url_env = \"U\"\nmin_severity = \"high\"").unwrap();
    let n = SlackNotifier::from_config(&cfg, &|_| Some("https://hooks.invalid/x".into())).unwrap();
    assert!(!n.wants(&event(EventKind::StageFinished)));
    assert!(n.wants(&event(EventKind::Succeeded)));
}
