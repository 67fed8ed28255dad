//! The signed generic webhook against a mock server, verified as a receiver would.

mod common;

use common::*;
use rollback_core::{Event, EventKind, Notifier};
use rollback_notify::{
    verify_signature, SignatureError, WebhookConfig, WebhookNotifier, DEFAULT_TOLERANCE,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup() -> (MockServer, WebhookNotifier) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let cfg: WebhookConfig = toml::from_str(
        "url_env = \"HOOK_URL\"\nsecret_env = \"HOOK_KEY\"\nretries = 0\n\
         [headers]\nX-Team = \"sre\"\n[secret_headers]\nAuthorization = \"HOOK_AUTH\"\n",
    )
    .unwrap();
    let n = WebhookNotifier::from_config(
        &cfg,
        &env(&[
            ("HOOK_URL", format!("{}{HOOK_PATH}", server.uri())),
            ("HOOK_KEY", HMAC_KEY.into()),
            ("HOOK_AUTH", HEADER_SECRET.into()),
        ]),
    )
    .unwrap();
    (server, n)
}

#[tokio::test]
async fn delivery_is_signed_and_verifiable_by_the_receiver() {
    let (server, n) = setup().await;
    let sent = event(EventKind::Succeeded);
    n.notify(&sent).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    let h = |name: &str| r.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(h("content-type"), "application/json");
    assert_eq!(h("x-rollback-event"), "succeeded");
    assert_eq!(h("x-team"), "sre");
    assert_eq!(h("authorization"), HEADER_SECRET);
    let ts = h("x-signature-timestamp");
    let sig = h("x-signature");
    assert!(sig.starts_with("sha256=") && sig.len() == 71, "{sig}");
    assert_eq!(
        verify_signature(HMAC_KEY.as_bytes(), &ts, &r.body, &sig, DEFAULT_TOLERANCE),
        Ok(())
    );
    assert_eq!(
        verify_signature(b"another key", &ts, &r.body, &sig, DEFAULT_TOLERANCE),
        Err(SignatureError::Mismatch)
    );
    let mut tampered = r.body.clone();
    tampered[0] = b' ';
    assert!(
        verify_signature(HMAC_KEY.as_bytes(), &ts, &tampered, &sig, DEFAULT_TOLERANCE).is_err()
    );
    // The body is the event itself.
    let got: Event = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(got, sent);
}

#[tokio::test]
async fn debug_output_hides_url_key_and_secret_headers() {
    let (_server, n) = setup().await;
    let d = format!("{n:?}");
    assert!(d.contains("authorization") && d.contains("x-team"), "{d}");
    assert_no_secret(&[&d]);
}

#[test]
fn reserved_headers_are_refused() {
    let cfg: WebhookConfig = toml::from_str(
        "url_env = \"U\"\nsecret_env = \"K\"\n[headers]\nX-Signature = \"forged\"\n",
    )
    .unwrap();
    let err =
        WebhookNotifier::from_config(&cfg, &|_| Some("https://x.invalid/h".into())).unwrap_err();
    assert!(err.to_string().contains("X-Signature"), "{err}");
}

#[test]
fn missing_secret_env_names_the_variable_only() {
    let cfg: WebhookConfig =
        toml::from_str("url_env = \"HOOK_URL\"\nsecret_env = \"HOOK_KEY\"\n").unwrap();
    let err = WebhookNotifier::from_config(
        &cfg,
        &env(&[("HOOK_URL", format!("https://x.invalid{HOOK_PATH}"))]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("HOOK_KEY"), "{err}");
    assert_no_secret(&[&err.to_string()]);
}
