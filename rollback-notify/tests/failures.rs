//! Failure paths of every HTTP channel, under a paused clock: retries on 5xx, `Retry-After` on
//! 429, no retry on other 4xx, timeouts, refused connections; and no secret in any error or log.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use rollback_core::{ErrorKind, EventKind, Notifier};
use rollback_notify::{build_with_env, NotifyConfig};
use tokio::time::Instant;

fn channel(kind: &str, base: &str, extra: &str) -> Arc<dyn Notifier> {
    let cfg: NotifyConfig = toml::from_str(&channel_toml(kind, base, extra)).unwrap();
    build_with_env(&cfg, &secrets_env(base)).unwrap().remove(0)
}

fn expected_backend(kind: &str) -> &str {
    kind
}

#[tokio::test(start_paused = true)]
async fn server_error_then_success_is_retried() {
    for kind in KINDS {
        let (_g, logs) = capture_logs();
        let server = ScriptedServer::start(vec![
            Reply::json(500, r#"{"error":"boom"}"#),
            Reply::json(200, OK),
        ])
        .await;
        let ch = channel(kind, &server.base, "");
        ch.notify(&event(EventKind::Failed))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let reqs = server.requests();
        let first_op: Vec<_> = reqs.iter().filter(|r| r.path == reqs[0].path).collect();
        assert_eq!(first_op.len(), 2, "{kind}: 500 then success = two attempts");
        let waited = first_op[1].at - first_op[0].at;
        assert!(
            waited >= Duration::from_millis(500),
            "{kind}: backoff {waited:?}"
        );
        assert!(logs.text().contains("retrying"), "{kind}: retry is logged");
        assert_no_secret(&[&logs.text()]);
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_waits_for_retry_after_seconds() {
    for kind in KINDS {
        let server = ScriptedServer::start(vec![
            Reply::status(429).with_header("Retry-After", "7"),
            Reply::json(200, OK),
        ])
        .await;
        let ch = channel(kind, &server.base, "");
        ch.notify(&event(EventKind::Failed))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let reqs = server.requests();
        let waited = reqs[1].at - reqs[0].at;
        assert!(
            waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
            "{kind}: waited {waited:?} for Retry-After: 7"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_honours_retry_after_as_http_date() {
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(6));
    let server = ScriptedServer::start(vec![
        Reply::status(429).with_header("Retry-After", &at),
        Reply::json(200, OK),
    ])
    .await;
    let ch = channel("pagerduty", &server.base, "");
    ch.notify(&event(EventKind::Failed)).await.unwrap();
    let reqs = server.requests();
    let waited = reqs[1].at - reqs[0].at;
    // The date has one-second resolution.
    assert!(
        waited >= Duration::from_secs(4) && waited <= Duration::from_secs(7),
        "waited {waited:?} for Retry-After: {at}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_budget_fails_at_once() {
    let server =
        ScriptedServer::start(vec![Reply::status(503).with_header("Retry-After", "3600")]).await;
    let ch = channel("teams", &server.base, "timeout = \"30s\"");
    let started = Instant::now();
    let err = ch.notify(&event(EventKind::Failed)).await.unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "did not sleep past the budget"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    assert!(err.to_string().contains("budget"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn client_error_is_not_retried() {
    for kind in KINDS {
        let (_g, logs) = capture_logs();
        let server =
            ScriptedServer::start(vec![Reply::json(400, r#"{"message":"invalid payload"}"#)]).await;
        let ch = channel(kind, &server.base, "");
        let err = ch.notify(&event(EventKind::Failed)).await.unwrap_err();
        assert_eq!(server.requests().len(), 1, "{kind}: exactly one request");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{kind}: {err}");
        assert!(!err.is_temporary(), "{kind}");
        assert_eq!(err.backend(), Some(expected_backend(kind)), "{kind}");
        let text = err.to_string();
        assert!(
            text.contains("400") && text.contains("invalid payload"),
            "{kind}: {text}"
        );
        assert_no_secret(&[&text, &format!("{err:?}"), &logs.text()]);
    }
}

#[tokio::test(start_paused = true)]
async fn server_that_never_answers_times_out_within_the_budget() {
    for kind in KINDS {
        let (_g, logs) = capture_logs();
        let server = ScriptedServer::start(vec![Reply::Hang]).await;
        let ch = channel(
            kind,
            &server.base,
            "timeout = \"30s\"\nattempt_timeout = \"10s\"",
        );
        let started = Instant::now();
        let err = ch.notify(&event(EventKind::Failed)).await.unwrap_err();
        let took = started.elapsed();
        assert!(took <= Duration::from_secs(31), "{kind}: took {took:?}");
        assert!(
            took >= Duration::from_secs(20),
            "{kind}: retried before giving up ({took:?})"
        );
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{kind}: {err}");
        assert!(err.is_temporary());
        assert_eq!(err.backend(), Some(expected_backend(kind)));
        assert!(server.requests().len() >= 2, "{kind}: timeouts are retried");
        assert_no_secret(&[&err.to_string(), &format!("{err:?}"), &logs.text()]);
    }
}

#[tokio::test]
async fn connection_refused_is_unavailable_and_names_the_channel_not_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    for kind in KINDS {
        let (_g, logs) = capture_logs();
        let ch = channel(kind, &base, "retries = 0");
        let err = ch.notify(&event(EventKind::Failed)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{kind}: {err}");
        assert!(err.is_temporary());
        assert_eq!(err.backend(), Some(expected_backend(kind)));
        let text = err.to_string();
        assert!(text.contains("could not connect"), "{kind}: {text}");
        assert!(
            !text.contains("http://"),
            "{kind}: no URL in errors: {text}"
        );
        assert_no_secret(&[&text, &format!("{err:?}"), &logs.text()]);
    }
}

#[tokio::test(start_paused = true)]
async fn secrets_echoed_by_the_server_are_redacted() {
    for kind in KINDS {
        let echo = format!(
            "bad request to {SLACK_PATH} {TEAMS_PATH} {HOOK_PATH} with {SLACK_TOKEN} {PD_KEY} {GH_TOKEN}"
        );
        let server = ScriptedServer::start(vec![Reply::Respond(422, vec![], echo)]).await;
        let ch = channel(kind, &server.base, "");
        let err = ch.notify(&event(EventKind::Failed)).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad request to"), "{kind}: {text}");
        // Each channel redacts its own secrets; the others are not secrets of that channel, so
        // check only what this channel holds.
        let own: &[&str] = match kind {
            "slack" => &[SLACK_PATH],
            "slack-bot" => &[SLACK_TOKEN],
            "pagerduty" => &[PD_KEY],
            "github" => &[GH_TOKEN],
            "teams" => &[TEAMS_PATH],
            "webhook" => &[HOOK_PATH],
            _ => &[],
        };
        for s in own {
            assert!(!text.contains(s), "{kind} leaked {s}: {text}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn github_secondary_rate_limit_403_is_retried() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            403,
            r#"{"message":"You have exceeded a secondary rate limit"}"#,
        )
        .with_header("Retry-After", "3"),
        Reply::json(200, OK),
    ])
    .await;
    let ch = channel("github", &server.base, "");
    ch.notify(&event(EventKind::Failed)).await.unwrap();
    let reqs = server.requests();
    assert!(reqs[1].at - reqs[0].at >= Duration::from_secs(3));
}
