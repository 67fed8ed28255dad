//! Email against a REAL SMTP server (aiosmtpd writing a maildir; `scripts/ci/smtp.sh` starts
//! one). The server's address comes from `ROLLBACK_TEST_SMTP` (host:port) and the maildir from
//! `ROLLBACK_TEST_SMTP_MAILDIR`. Without them the tests are skipped, except under `CI`, where a
//! missing server is a failure.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use mailparse::{parse_mail, MailHeaderMap, ParsedMail};
use rollback_core::{ErrorKind, EventKind, Notifier};
use rollback_notify::{EmailConfig, EmailNotifier};

fn smtp_server() -> Option<(String, u16, PathBuf)> {
    let addr = std::env::var("ROLLBACK_TEST_SMTP").ok();
    let dir = std::env::var("ROLLBACK_TEST_SMTP_MAILDIR").ok();
    match (addr, dir) {
        (Some(addr), Some(dir)) => {
            let (host, port) = addr
                .rsplit_once(':')
                .expect("ROLLBACK_TEST_SMTP is host:port");
            Some((
                host.to_owned(),
                port.parse().expect("port"),
                PathBuf::from(dir),
            ))
        }
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but ROLLBACK_TEST_SMTP / ROLLBACK_TEST_SMTP_MAILDIR are not: start \
                     the SMTP server with scripts/ci/smtp.sh"
                );
            }
            eprintln!(
                "skipping: ROLLBACK_TEST_SMTP and ROLLBACK_TEST_SMTP_MAILDIR are not set (run \
                 `eval \"$(bash scripts/ci/smtp.sh)\"` to start a local SMTP server)"
            );
            None
        }
    }
}

fn notifier(host: &str, port: u16) -> EmailNotifier {
    let cfg: EmailConfig = toml::from_str(&format!(
        "host = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         from = \"Rollback Bot <rollback@example.com>\"\n\
         to = [\"oncall@example.com\", \"Team Lead <lead@example.com>\"]\n\
         timeout = \"20s\"\n"
    ))
    .unwrap();
    EmailNotifier::from_config(&cfg, &|_| None).unwrap()
}

/// Waits (real time, ≤ 10 s) for the message whose body mentions `run_id`.
async fn wait_for_mail(maildir: &std::path::Path, run_id: &str) -> Vec<u8> {
    for _ in 0..100 {
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(maildir.join(sub)) {
                for f in rd.flatten() {
                    let bytes = std::fs::read(f.path()).unwrap_or_default();
                    if String::from_utf8_lossy(&bytes).contains(run_id) {
                        return bytes;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message for {run_id} arrived in {}", maildir.display());
}

fn unique_run(tag: &str) -> String {
    format!(
        "run-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn leaf_parts<'a>(m: &'a ParsedMail<'a>, out: &mut Vec<&'a ParsedMail<'a>>) {
    if m.subparts.is_empty() {
        out.push(m);
    } else {
        for p in &m.subparts {
            leaf_parts(p, out);
        }
    }
}

#[tokio::test]
async fn email_arrives_with_text_html_and_the_report_file_attached() {
    let Some((host, port, maildir)) = smtp_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rca.md");
    std::fs::write(&report, "# RCA from file\n\nCache leak.\n").unwrap();
    let mut e = event(EventKind::Failed);
    e.run_id = unique_run("file");
    e.report_path = Some(report.display().to_string());

    let (_g, logs) = capture_logs();
    let n = notifier(&host, port);
    n.notify(&e).await.unwrap();

    let raw = wait_for_mail(&maildir, &e.run_id).await;
    let mail = parse_mail(&raw).unwrap();
    let subject = mail.headers.get_first_value("Subject").unwrap();
    assert!(
        subject.starts_with("[rollback] 🚨 Rollback FAILED: checkout"),
        "{subject}"
    );
    assert!(
        subject.contains("v1.3.0 → v1.2.9 (production)"),
        "{subject}"
    );
    assert!(mail
        .headers
        .get_first_value("From")
        .unwrap()
        .contains("rollback@example.com"));
    let to = mail.headers.get_first_value("To").unwrap();
    assert!(
        to.contains("oncall@example.com") && to.contains("lead@example.com"),
        "{to}"
    );
    assert!(mail.headers.get_first_value("Date").is_some());
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");

    let mut leaves = Vec::new();
    leaf_parts(&mail, &mut leaves);
    let text = leaves
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .unwrap();
    let text = text.get_body().unwrap();
    for fact in [
        "Environment: production",
        "v1.3.0 → v1.2.9",
        "Error rate: 12.4%",
        "Memory leak in cache service",
        &e.run_id,
    ] {
        assert!(text.contains(fact), "text part lacks {fact:?}:\n{text}");
    }
    let html = leaves
        .iter()
        .find(|p| p.ctype.mimetype == "text/html")
        .unwrap();
    let html = html.get_body().unwrap();
    assert!(html.contains("<h2") && html.contains("Memory leak in cache service"));
    assert!(
        html.contains("&lt;since 03:02&gt;"),
        "reason is escaped in HTML"
    );
    let att = leaves
        .iter()
        .find(|p| p.get_content_disposition().disposition == mailparse::DispositionType::Attachment)
        .expect("an attachment");
    assert_eq!(
        att.get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("rca.md")
    );
    assert_eq!(att.ctype.mimetype, "text/markdown");
    assert_eq!(att.get_body().unwrap(), "# RCA from file\n\nCache leak.\n");
    assert_no_secret(&[&logs.text(), &format!("{n:?}")]);
}

#[tokio::test]
async fn email_attaches_report_markdown_when_there_is_no_file() {
    let Some((host, port, maildir)) = smtp_server() else {
        return;
    };
    let mut e = event(EventKind::Succeeded);
    e.run_id = unique_run("md");
    e.report_path = Some("/nonexistent/rca.md".into());
    notifier(&host, port).notify(&e).await.unwrap();
    let raw = wait_for_mail(&maildir, &e.run_id).await;
    let mail = parse_mail(&raw).unwrap();
    let mut leaves = Vec::new();
    leaf_parts(&mail, &mut leaves);
    let att = leaves
        .iter()
        .find(|p| p.get_content_disposition().disposition == mailparse::DispositionType::Attachment)
        .expect("an attachment");
    assert_eq!(
        att.get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("report.md")
    );
    assert!(att
        .get_body()
        .unwrap()
        .starts_with("# RCA: checkout v1.3.0"));
}

#[tokio::test]
async fn email_without_any_report_has_no_attachment() {
    let Some((host, port, maildir)) = smtp_server() else {
        return;
    };
    let mut e = event(EventKind::Started);
    e.run_id = unique_run("none");
    e.report_path = None;
    e.report_markdown = None;
    notifier(&host, port).notify(&e).await.unwrap();
    let raw = wait_for_mail(&maildir, &e.run_id).await;
    let mail = parse_mail(&raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
}

#[tokio::test]
async fn smtp_connection_refused_is_a_clear_temporary_error() {
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg: EmailConfig = toml::from_str(&format!(
        "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"a@example.com\"\n\
         to = [\"b@example.com\"]\nretries = 0\nusername = \"bot\"\npassword_env = \"SMTP_PW\"\n"
    ))
    .unwrap();
    let n = EmailNotifier::from_config(&cfg, &env(&[("SMTP_PW", SMTP_PASSWORD.into())])).unwrap();
    let (_g, logs) = capture_logs();
    let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    assert_eq!(err.backend(), Some("email"));
    assert_no_secret(&[
        &err.to_string(),
        &format!("{err:?}"),
        &format!("{n:?}"),
        &logs.text(),
    ]);
}
