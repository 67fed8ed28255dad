//! Six channels behind `notify_all`, one of them hanging: the fan-out ends within its timeout
//! (virtual time) and the others are delivered.

mod common;

use std::time::Duration;

use common::*;
use rollback_core::{ErrorKind, EventKind};
use rollback_notify::{build_with_env, notify_all, DeliveryOutcome, NotifyConfig};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn one_hanging_channel_does_not_hold_up_the_others() {
    let (_g, logs) = capture_logs();
    // One server per channel; the Teams one never answers.
    let mut servers = Vec::new();
    let mut toml_text = String::new();
    for kind in KINDS {
        let reply = if kind == "teams" {
            Reply::Hang
        } else {
            Reply::json(200, OK)
        };
        let server = ScriptedServer::start(vec![reply]).await;
        toml_text.push_str(&channel_toml(kind, &server.base, ""));
        servers.push((kind, server));
    }
    let cfg: NotifyConfig = toml::from_str(&toml_text).unwrap();
    // Every channel reads its secrets from one environment; the URLs differ per server, so
    // give each its own base by building them one at a time.
    let mut channels = Vec::new();
    for (i, ch) in cfg.channels.iter().enumerate() {
        let one = NotifyConfig {
            channels: vec![ch.clone()],
        };
        channels.extend(build_with_env(&one, &secrets_env(&servers[i].1.base)).unwrap());
    }
    assert_eq!(channels.len(), 6);

    let started = Instant::now();
    let results = notify_all(
        &channels,
        &event(EventKind::Failed),
        Duration::from_secs(20),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took <= Duration::from_secs(20) + Duration::from_millis(100),
        "took {took:?}"
    );

    for d in &results {
        if d.channel == "teams" {
            match &d.outcome {
                DeliveryOutcome::Failed(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                    assert_eq!(e.backend(), Some("teams"));
                }
                other => panic!("teams should time out, got {other:?}"),
            }
        } else {
            assert!(d.outcome.is_delivered(), "{}: {:?}", d.channel, d.outcome);
        }
    }
    for (kind, server) in &servers {
        assert!(!server.requests().is_empty(), "{kind} got nothing");
    }
    let rendered = format!("{results:?}");
    assert_no_secret(&[&rendered, &logs.text()]);
}

#[tokio::test(start_paused = true)]
async fn channels_that_do_not_want_the_event_are_skipped() {
    let server = ScriptedServer::start(vec![Reply::json(200, OK)]).await;
    let toml_text =
        channel_toml("pagerduty", &server.base, "") + &channel_toml("github", &server.base, "");
    let cfg: NotifyConfig = toml::from_str(&toml_text).unwrap();
    let channels = build_with_env(&cfg, &secrets_env(&server.base)).unwrap();
    // PagerDuty wants a start, GitHub only files finished rollbacks.
    let results = notify_all(
        &channels,
        &event(EventKind::Started),
        Duration::from_secs(5),
    )
    .await;
    assert!(results[0].outcome.is_delivered());
    assert!(matches!(results[1].outcome, DeliveryOutcome::Skipped));
    assert_eq!(server.requests().len(), 1);
}
