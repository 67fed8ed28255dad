//! The `[notify]` section: the README's example parses and builds; config errors are clear.

use rollback_core::ErrorKind;
use rollback_notify::{build_with_env, ChannelConfig, NotifyConfig};

#[derive(serde::Deserialize)]
struct ConfigFile {
    notify: NotifyConfig,
}

fn readme_toml() -> String {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```toml\n[notify]")
        .expect("README has a [notify] example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

fn all_vars(name: &str) -> Option<String> {
    Some(match name {
        n if n.ends_with("_URL") => "https://hooks.example.invalid/SECRET-path".to_owned(),
        _ => "SECRET-value".to_owned(),
    })
}

#[test]
fn readme_example_parses_and_builds_every_channel() {
    let file: ConfigFile = toml::from_str(&readme_toml()).unwrap();
    let types: Vec<&str> = file
        .notify
        .channels
        .iter()
        .map(ChannelConfig::type_name)
        .collect();
    assert_eq!(
        types,
        [
            "slack",
            "slack",
            "pagerduty",
            "email",
            "github",
            "teams",
            "webhook"
        ]
    );
    let channels = build_with_env(&file.notify, &all_vars).unwrap();
    let names: Vec<&str> = channels.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "slack",
            "slack-sre",
            "pagerduty",
            "email",
            "github",
            "teams",
            "webhook"
        ]
    );
}

#[test]
fn missing_variable_is_named_with_its_channel() {
    let file: ConfigFile = toml::from_str(&readme_toml()).unwrap();
    let err = build_with_env(&file.notify, &|n| {
        if n == "PAGERDUTY_ROUTING_KEY" {
            None
        } else {
            all_vars(n)
        }
    })
    .err()
    .unwrap();
    let msg = err.to_string();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        msg.contains("PAGERDUTY_ROUTING_KEY") && msg.contains("`pagerduty`"),
        "{msg}"
    );
    assert!(!msg.contains("SECRET"), "{msg}");
}

#[test]
fn plain_smtp_to_a_remote_host_is_a_config_error() {
    let cfg: NotifyConfig = toml::from_str(
        "[[channels]]\ntype = \"email\"\nhost = \"smtp.example.com\"\ntls = \"none\"\n\
         from = \"a@example.com\"\nto = [\"b@example.com\"]\n",
    )
    .unwrap();
    let err = build_with_env(&cfg, &all_vars).err().unwrap();
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn config_debug_output_holds_variable_names_not_values() {
    let file: ConfigFile = toml::from_str(&readme_toml()).unwrap();
    let d = format!("{:?}", file.notify);
    assert!(d.contains("SLACK_BOT_TOKEN"));
}

#[test]
fn invalid_url_in_a_secret_variable_is_reported_without_the_value() {
    let cfg: NotifyConfig =
        toml::from_str("[[channels]]\ntype = \"teams\"\nwebhook_url_env = \"TEAMS_URL\"\n")
            .unwrap();
    let err = build_with_env(&cfg, &|_| Some("not a url SECRET".into()))
        .err()
        .unwrap();
    assert!(err.to_string().contains("webhook_url_env"), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
}
