//! Email against REAL SMTP servers (aiosmtpd; `scripts/ci/smtp.sh` starts them): plain SMTP
//! writing a maildir, and two servers that require AUTH, one behind STARTTLS (AUTH LOGIN) and one
//! with implicit TLS (AUTH PLAIN), whose certificate comes from a throwaway CA. Their addresses
//! come from `ROLLBACK_TEST_SMTP` (host:port) and `ROLLBACK_TEST_SMTP_MAILDIR`, and
//! `ROLLBACK_TEST_SMTP_STARTTLS`, `ROLLBACK_TEST_SMTP_TLS`, `ROLLBACK_TEST_SMTP_TLS_MAILDIR`,
//! `ROLLBACK_TEST_SMTP_CA`, `ROLLBACK_TEST_SMTP_USER` and `ROLLBACK_TEST_SMTP_PASSWORD`. Without
//! them the tests are skipped, except under `CI`, where a missing server is a failure.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use mailparse::{parse_mail, MailHeaderMap, ParsedMail};
use rollback_core::{ErrorKind, EventKind, Notifier};
use rollback_notify::{EmailConfig, EmailNotifier};

/// The variables named in `vars`, or `None` (skip) when one is unset — a failure under `CI`.
fn server_env<const N: usize>(vars: [&str; N]) -> Option<[String; N]> {
    let values = vars.map(|v| std::env::var(v).ok());
    if values.iter().all(Option::is_some) {
        return Some(values.map(Option::unwrap_or_default));
    }
    let missing: Vec<&str> = vars
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    let missing = missing.join(", ");
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but these are not: {missing}; start the SMTP servers with \
             scripts/ci/smtp.sh"
        );
    }
    eprintln!(
        "skipping: not set: {missing} (run `eval \"$(bash scripts/ci/smtp.sh)\"` to start local \
         SMTP servers)"
    );
    None
}

fn host_port(var: &str, addr: &str) -> (String, u16) {
    let (host, port) = addr
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{var} is host:port, not {addr:?}"));
    (host.to_owned(), port.parse().expect("port"))
}

fn smtp_server() -> Option<(String, u16, PathBuf)> {
    let [addr, dir] = server_env(["ROLLBACK_TEST_SMTP", "ROLLBACK_TEST_SMTP_MAILDIR"])?;
    let (host, port) = host_port("ROLLBACK_TEST_SMTP", &addr);
    Some((host, port, PathBuf::from(dir)))
}

/// The STARTTLS and implicit-TLS servers, which require AUTH.
struct TlsServers {
    starttls: (String, u16),
    tls: (String, u16),
    maildir: PathBuf,
    ca: PathBuf,
    user: String,
    password: String,
}

fn tls_servers() -> Option<TlsServers> {
    let [starttls, tls, maildir, ca, user, password] = server_env([
        "ROLLBACK_TEST_SMTP_STARTTLS",
        "ROLLBACK_TEST_SMTP_TLS",
        "ROLLBACK_TEST_SMTP_TLS_MAILDIR",
        "ROLLBACK_TEST_SMTP_CA",
        "ROLLBACK_TEST_SMTP_USER",
        "ROLLBACK_TEST_SMTP_PASSWORD",
    ])?;
    Some(TlsServers {
        starttls: host_port("ROLLBACK_TEST_SMTP_STARTTLS", &starttls),
        tls: host_port("ROLLBACK_TEST_SMTP_TLS", &tls),
        maildir: PathBuf::from(maildir),
        ca: PathBuf::from(ca),
        user,
        password,
    })
}

/// A channel to one of the TLS servers (`tls` = "starttls" or "tls"), authenticating as the
/// servers' user with `password`, trusting the test CA when `trust_ca`.
fn tls_notifier(servers: &TlsServers, tls: &str, password: &str, trust_ca: bool) -> EmailNotifier {
    let (host, port) = if tls == "tls" {
        &servers.tls
    } else {
        &servers.starttls
    };
    let mut cfg: EmailConfig = toml::from_str(&format!(
        "host = \"{host}\"\nport = {port}\ntls = \"{tls}\"\nusername = \"{}\"\n\
         password_env = \"SMTP_PASSWORD\"\nfrom = \"Rollback Bot <rollback@example.com>\"\n\
         to = [\"oncall@example.com\"]\ntimeout = \"20s\"\n",
        servers.user
    ))
    .unwrap();
    if trust_ca {
        cfg.ca_file = Some(servers.ca.clone());
    }
    EmailNotifier::from_config(&cfg, &env(&[("SMTP_PASSWORD", password.to_owned())])).unwrap()
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
    // Mail lines end in CRLF.
    let text = text.get_body().unwrap().replace("\r\n", "\n");
    for fact in [
        "Environment: production",
        "v1.3.0 → v1.2.9",
        "Error rate: 12.4%",
        "Memory leak in cache service",
        &e.run_id,
        "Decided:     critical SLA breach",
        "What tripped it:\n  - CRITICAL signal 1: error rate 12.4% (SLA < 0.1%) since 03:02",
        "  - …and 2 more in the report",
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
    assert!(
        html.contains(
            "What tripped it</h3><ul><li>CRITICAL signal 1: error rate 12.4% (SLA &lt; 0.1%)"
        ),
        "signals are listed and escaped in HTML: {html}"
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

/// Sends through the TLS server `tls` with the right password and checks the mail arrived.
async fn delivers_with_tls_and_auth(tls: &str) {
    let Some(servers) = tls_servers() else {
        return;
    };
    let mut e = event(EventKind::Failed);
    e.run_id = unique_run(tls);
    let (_g, logs) = capture_logs();
    let n = tls_notifier(&servers, tls, &servers.password, true);
    n.notify(&e).await.unwrap();

    let raw = wait_for_mail(&servers.maildir, &e.run_id).await;
    let mail = parse_mail(&raw).unwrap();
    let subject = mail.headers.get_first_value("Subject").unwrap();
    assert!(
        subject.starts_with("[rollback] 🚨 Rollback FAILED: checkout"),
        "{subject}"
    );
    let debug = format!("{n:?}");
    assert!(debug.contains("ca_file"), "{debug}");
    for text in [
        logs.text(),
        debug,
        String::from_utf8_lossy(&raw).into_owned(),
    ] {
        assert!(
            !text.contains(&servers.password),
            "the password leaked into: {text}"
        );
        assert_no_secret(&[&text]);
    }
}

#[tokio::test]
async fn starttls_with_auth_login_delivers_through_a_real_server() {
    delivers_with_tls_and_auth("starttls").await;
}

#[tokio::test]
async fn implicit_tls_with_auth_plain_delivers_through_a_real_server() {
    delivers_with_tls_and_auth("tls").await;
}

#[tokio::test]
async fn wrong_password_is_refused_clearly_without_the_password() {
    let Some(servers) = tls_servers() else {
        return;
    };
    let wrong = "SECRET-wrong-smtp-password-5678";
    for tls in ["starttls", "tls"] {
        let (_g, logs) = capture_logs();
        let n = tls_notifier(&servers, tls, wrong, true);
        let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{tls}: {msg}");
        assert!(
            !err.is_temporary(),
            "{tls}: a refused password is not retried"
        );
        assert_eq!(err.backend(), Some("email"));
        assert!(
            msg.contains("refused the credentials") && msg.contains("535"),
            "{tls}: {msg}"
        );
        let texts = [msg, format!("{err:?}"), format!("{n:?}"), logs.text()];
        for t in &texts {
            assert!(!t.contains(wrong), "{tls}: the password leaked into: {t}");
            assert!(!t.contains(&servers.password), "{tls}: {t}");
        }
        assert_no_secret(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn server_certificate_from_an_untrusted_ca_is_refused_without_retrying() {
    let Some(servers) = tls_servers() else {
        return;
    };
    for tls in ["starttls", "tls"] {
        let (_g, logs) = capture_logs();
        let n = tls_notifier(&servers, tls, &servers.password, false);
        let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("TLS"), "{tls}: {msg}");
        assert!(!err.is_temporary(), "{tls}: retrying cannot help: {err:?}");
        assert!(!logs.text().contains("retrying"), "{tls}: {}", logs.text());
        for t in [msg, format!("{err:?}"), logs.text()] {
            assert!(!t.contains(&servers.password), "{tls}: {t}");
        }
    }
}

/// `ca_file` problems are config errors that name the field and the file.
#[test]
fn unusable_ca_file_is_a_config_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases = [
        (dir.path().join("missing.pem"), "cannot be read"),
        (dir.path().to_path_buf(), "not a regular file"),
        (write("empty.pem", ""), "no PEM certificate"),
        (
            write("text.pem", "not a certificate\n"),
            "no PEM certificate",
        ),
        (
            write(
                "key.pem",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ),
            "no PEM certificate",
        ),
        (
            write(
                "base64.pem",
                "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
            ),
            "not valid PEM",
        ),
        (
            write(
                "der.pem",
                "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
            ),
            "cannot be used as a trusted root",
        ),
    ];
    for (path, why) in cases {
        let mut cfg: EmailConfig = toml::from_str(
            "host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n",
        )
        .unwrap();
        cfg.ca_file = Some(path.clone());
        let err = EmailNotifier::from_config(&cfg, &|_| None).unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{msg}");
        assert!(msg.contains("`ca_file`"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(why), "{why:?} not in {msg}");
    }
}

#[test]
fn ca_file_without_tls_is_refused() {
    let cfg: EmailConfig = toml::from_str(
        "host = \"127.0.0.1\"\ntls = \"none\"\nca_file = \"/etc/ssl/ca.pem\"\n\
         from = \"a@example.com\"\nto = [\"b@example.com\"]\n",
    )
    .unwrap();
    let err = EmailNotifier::from_config(&cfg, &|_| None).unwrap_err();
    assert!(
        err.to_string().contains("`ca_file`") && err.to_string().contains("starttls"),
        "{err}"
    );
}
