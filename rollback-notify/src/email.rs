//! Email over SMTP (lettre): a multipart text + HTML summary, with the RCA report attached.
//!
//! Connections use STARTTLS (required, the default) or implicit TLS; a plain connection is
//! accepted only to a loopback host (a local relay), so credentials and reports never cross a
//! network unencrypted. The server's certificate is checked against the system's roots plus,
//! for a relay with a certificate from an internal CA, the CA certificates in `ca_file` (PEM,
//! read and checked when the channel is built); there is no switch that accepts an unverified
//! certificate. A certificate that does not verify fails at once (retrying cannot help). With
//! `username` + `password_env` the channel authenticates (PLAIN or LOGIN, whichever the server
//! offers) after TLS is up; the password is a [`Secret`], absent from errors, logs and `Debug`.
//!
//! The report attached is the file at [`Event::report_path`] when that is a readable file (at
//! most 10 MiB), else [`Event::report_markdown`] as `report.md`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rollback_core::{Error, ErrorKind, Event, EventKind, Notifier, Result};
use tokio::time::Instant;

use crate::config::{secret, EmailConfig, EmailTls};
use crate::filter::EventFilter;
use crate::format;
use crate::retry::RetryPolicy;
use crate::secret::{EnvLookup, Redactor, Secret};

/// The largest report file attached.
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
/// The largest `ca_file` read.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Sends rollback events by email.
pub struct EmailNotifier {
    name: String,
    filter: EventFilter,
    retry: RetryPolicy,
    redactor: Redactor,
    host: String,
    port: u16,
    tls: EmailTls,
    /// `ca_file` and the certificates read from it.
    root_ca: Option<(PathBuf, Certificate)>,
    credentials: Option<(String, Secret)>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject_prefix: String,
    attach_report: bool,
    max_findings: usize,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("ca_file", &self.root_ca.as_ref().map(|(p, _)| p))
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("password", &self.credentials.as_ref().map(|_| "***"))
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

/// Whether `host` is a loopback name or address.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn mailbox(field: &str, value: &str) -> Result<Mailbox> {
    value.parse::<Mailbox>().map_err(|e| {
        Error::invalid_input(format!(
            "`{field}` = {value:?} is not a valid address ({e}): expected \
             \"name@example.com\" or \"Name <name@example.com>\""
        ))
    })
}

impl EmailNotifier {
    /// Builds the channel from its config, reading the password through `env`.
    ///
    /// `tls = "none"` to a host that is not loopback is refused with a config error.
    pub fn from_config(config: &EmailConfig, env: &EnvLookup<'_>) -> Result<Self> {
        let resolved = config.common.resolve("email")?;
        let host = config.host.trim().to_owned();
        if host.is_empty() {
            return Err(Error::invalid_input(
                "`host` is empty: expected the SMTP server's host name",
            ));
        }
        if config.tls == EmailTls::None && !is_loopback(&host) {
            return Err(Error::invalid_input(format!(
                "`tls = \"none\"` is only allowed to a loopback host (localhost, 127.0.0.1, \
                 ::1), not {host:?}: use `tls = \"starttls\"` (port 587) or `tls = \"tls\"` \
                 (port 465)"
            )));
        }
        let root_ca = match &config.ca_file {
            None => None,
            Some(_) if config.tls == EmailTls::None => {
                return Err(Error::invalid_input(
                    "`ca_file` is set but `tls = \"none\"` makes no TLS connection: use \
                     `tls = \"starttls\"` or `tls = \"tls\"`, or drop `ca_file`",
                ))
            }
            Some(path) => Some((path.clone(), read_ca_file(path, &host)?)),
        };
        let port = config.port.unwrap_or(match config.tls {
            EmailTls::Starttls => 587,
            EmailTls::Tls => 465,
            EmailTls::None => 25,
        });
        let credentials = match (&config.username, &config.password_env) {
            (Some(u), Some(var)) => Some((u.clone(), secret(var, "password_env", env)?)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::invalid_input(
                    "`username` is set but `password_env` is not: set both, or neither",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::invalid_input(
                    "`password_env` is set but `username` is not: set both, or neither",
                ))
            }
        };
        let from = mailbox("from", &config.from)?;
        if config.to.is_empty() {
            return Err(Error::invalid_input(
                "`to` is empty: expected at least one recipient address",
            ));
        }
        let to = config
            .to
            .iter()
            .map(|t| mailbox("to", t))
            .collect::<Result<Vec<_>>>()?;
        let redactor = Redactor::new(credentials.iter().map(|(_, p)| p));
        Ok(EmailNotifier {
            name: resolved.name,
            filter: resolved.filter,
            retry: resolved.retry,
            redactor,
            host,
            port,
            tls: config.tls,
            root_ca,
            credentials,
            from,
            to,
            subject_prefix: config
                .subject_prefix
                .clone()
                .unwrap_or_else(|| "[rollback]".to_owned()),
            attach_report: config.attach_report.unwrap_or(true),
            max_findings: config.max_findings.unwrap_or(5),
        })
    }

    fn error(&self, kind: ErrorKind, op: &'static str, msg: &str) -> Error {
        Error::new(kind, self.redactor.redact(msg))
            .with_backend(self.name.clone())
            .with_operation(op)
    }

    fn transport(
        &self,
        attempt_timeout: std::time::Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
        let tls = match self.tls {
            EmailTls::None => Tls::None,
            EmailTls::Starttls | EmailTls::Tls => {
                let mut params = TlsParameters::builder(self.host.clone());
                if let Some((_, ca)) = &self.root_ca {
                    params = params.add_root_certificate(ca.clone());
                }
                let params = params.build().map_err(|e| {
                    self.error(
                        ErrorKind::InvalidInput,
                        "connect",
                        &format!("could not set up TLS for {}: {e}", self.host),
                    )
                })?;
                if self.tls == EmailTls::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(attempt_timeout));
        if let Some((user, pass)) = &self.credentials {
            b = b.credentials(Credentials::new(user.clone(), pass.expose().to_owned()));
        }
        Ok(b.build())
    }

    /// Maps an SMTP error: 4xx replies and connection trouble are temporary, 5xx are not.
    fn smtp_error(&self, e: &lettre::transport::smtp::Error) -> Error {
        let text = crate::error_chain(e);
        let code = e.status().map(|c| c.to_string()).unwrap_or_default();
        let tls_failed = e.is_tls() || is_tls_failure(e);
        let (kind, temporary, what) = if e.is_permanent() {
            match code.as_str() {
                "530" | "534" | "535" | "538" => (
                    ErrorKind::PermissionDenied,
                    false,
                    "the server refused the credentials",
                ),
                "550" | "551" | "553" | "501" => (
                    ErrorKind::InvalidInput,
                    false,
                    "the server refused an address",
                ),
                "552" | "554" => (
                    ErrorKind::InvalidInput,
                    false,
                    "the server refused the message",
                ),
                _ => (ErrorKind::Backend, false, "the server refused the message"),
            }
        } else if e.is_transient() {
            (
                ErrorKind::Unavailable,
                true,
                "the server deferred the message",
            )
        } else if e.is_timeout() {
            (
                ErrorKind::TimedOut,
                true,
                "the server did not answer in time",
            )
        } else if tls_failed {
            (ErrorKind::Unavailable, false, "the TLS handshake failed")
        } else {
            (ErrorKind::Unavailable, true, "could not talk to the server")
        };
        let hint = if tls_failed && self.root_ca.is_none() && text.contains("certificate") {
            " (if the server's certificate is issued by a private CA, set `ca_file` to that \
             CA's certificate in PEM)"
        } else {
            ""
        };
        self.error(kind, "send", &format!("{what}: {text}{hint}"))
            .set_temporary(temporary)
            .with_context("server", format!("{}:{}", self.host, self.port))
    }

    async fn attachment(&self, event: &Event) -> Option<lettre::message::SinglePart> {
        if !self.attach_report {
            return None;
        }
        if let Some(path) = event.report_path.as_deref() {
            let p = Path::new(path);
            if let Ok(meta) = tokio::fs::metadata(p).await {
                if meta.is_file() && meta.len() <= MAX_ATTACHMENT_BYTES {
                    if let Ok(bytes) = tokio::fs::read(p).await {
                        let name = p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "report".to_owned());
                        let ct = match p.extension().and_then(|e| e.to_str()) {
                            Some("md") | Some("markdown") => "text/markdown; charset=utf-8",
                            Some("html") | Some("htm") => "text/html; charset=utf-8",
                            Some("json") => "application/json",
                            Some("txt") => "text/plain; charset=utf-8",
                            _ => "application/octet-stream",
                        };
                        let ct = ContentType::parse(ct).unwrap_or(ContentType::TEXT_PLAIN);
                        return Some(Attachment::new(name).body(bytes, ct));
                    }
                }
            }
        }
        let md = event.report_markdown.as_deref()?;
        let ct =
            ContentType::parse("text/markdown; charset=utf-8").unwrap_or(ContentType::TEXT_PLAIN);
        Some(Attachment::new("report.md".to_owned()).body(md.as_bytes().to_vec(), ct))
    }

    async fn message(&self, event: &Event) -> Result<Message> {
        let subject = format::truncate(
            &format!("{} {}", self.subject_prefix, format::headline(event)),
            200,
        );
        let mut b = Message::builder().from(self.from.clone()).subject(subject);
        for t in &self.to {
            b = b.to(t.clone());
        }
        let text = format::plain_text(event, self.max_findings);
        let html = html(event, self.max_findings);
        let body = MultiPart::alternative_plain_html(text, html);
        let msg = match self.attachment(event).await {
            Some(att) => b.multipart(MultiPart::mixed().multipart(body).singlepart(att)),
            None => b.multipart(body),
        };
        msg.map_err(|e| {
            self.error(
                ErrorKind::InvalidInput,
                "build",
                &format!("could not build the message: {e}"),
            )
        })
    }
}

/// Reads `ca_file`: one or more PEM certificates, each usable as a trusted root.
fn read_ca_file(path: &Path, host: &str) -> Result<Certificate> {
    let bad = |what: String| {
        Error::invalid_input(format!(
            "`ca_file` = {path:?} {what}: expected a PEM file with the certificate(s) of the CA \
             that issued the SMTP server's certificate (`-----BEGIN CERTIFICATE-----` blocks)"
        ))
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot be read ({e})")))?;
    if !meta.is_file() {
        return Err(bad("is not a regular file".to_owned()));
    }
    if meta.len() > MAX_CA_FILE_BYTES {
        return Err(bad(format!(
            "is {} bytes, more than a CA file's {MAX_CA_FILE_BYTES}",
            meta.len()
        )));
    }
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read ({e})")))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("holds no PEM certificate".to_owned()));
    }
    let cert = Certificate::from_pem(&pem).map_err(|e| bad(format!("is not valid PEM ({e})")))?;
    // Parses every certificate as a trust anchor, as each connection will.
    TlsParameters::builder(host.to_owned())
        .add_root_certificate(cert.clone())
        .build()
        .map_err(|e| {
            bad(format!(
                "holds a certificate that cannot be used as a trusted root ({})",
                crate::error_chain(&e)
            ))
        })?;
    Ok(cert)
}

/// Whether a connection error is a failed TLS handshake. lettre reports a handshake that
/// rustls rejected (an untrusted certificate, a name mismatch, a server that does not speak
/// TLS) as a connection error, around tokio-rustls's `InvalidData` I/O error; retrying it
/// cannot help.
fn is_tls_failure(e: &lettre::transport::smtp::Error) -> bool {
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        {
            return true;
        }
        cur = s.source();
    }
    false
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML part: readable on a phone (one column, inline styles, no images).
fn html(event: &Event, max_findings: usize) -> String {
    let color = match event.kind {
        EventKind::Succeeded => "#1a7f37",
        EventKind::Failed => "#cf222e",
        EventKind::Started => "#9a6700",
        _ => "#57606a",
    };
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;\
         max-width:640px;margin:0 auto;padding:12px;color:#1f2328\">",
    );
    h.push_str(&format!(
        "<h2 style=\"color:{color};font-size:20px\">{}</h2>",
        esc(&format::headline(event))
    ));
    h.push_str("<table style=\"border-collapse:collapse;font-size:14px\">");
    let mut row = |k: &str, v: &str| {
        h.push_str(&format!(
            "<tr><td style=\"padding:2px 12px 2px 0;color:#57606a\">{}</td><td>{}</td></tr>",
            esc(k),
            esc(v)
        ));
    };
    row("Environment", event.target.environment.as_str());
    row("Deployment", &event.target.to_string());
    if let Some(v) = format::versions(event) {
        row("From → To", &v);
    }
    row("Severity", &event.severity.to_string());
    if let Some(d) = event.duration {
        row("Duration", &format::duration(d));
    }
    if let Some(r) = &event.reason {
        row("Reason", r);
    }
    let tripped = format::trigger_lines(event);
    if let Some(d) = tripped.as_ref().and_then(|t| t.0) {
        row("Decided", d);
    }
    row("Run", &event.run_id);
    h.push_str("</table>");
    h.push_str(&format!("<p>{}</p>", esc(&event.summary)));
    if let Some((_, signals)) = tripped.filter(|t| !t.1.is_empty()) {
        h.push_str("<h3 style=\"font-size:16px\">What tripped it</h3><ul>");
        for l in &signals {
            h.push_str(&format!("<li>{}</li>", esc(l)));
        }
        h.push_str("</ul>");
    }
    if !event.metrics.is_empty() {
        h.push_str("<h3 style=\"font-size:16px\">Key metrics</h3><ul>");
        for m in &event.metrics {
            h.push_str(&format!("<li>{}</li>", esc(&format::metric_line(m))));
        }
        h.push_str("</ul>");
    }
    let findings = format::top_findings(event);
    if !findings.is_empty() {
        h.push_str("<h3 style=\"font-size:16px\">Top root causes</h3><ol>");
        for f in findings.iter().take(max_findings) {
            h.push_str(&format!(
                "<li><b>{}</b><br>{}",
                esc(&format::finding_title(f)),
                esc(&f.summary)
            ));
            if let Some(r) = &f.recommendation {
                h.push_str(&format!("<br><i>Fix:</i> {}", esc(r)));
            }
            h.push_str("</li>");
        }
        h.push_str("</ol>");
        if findings.len() > max_findings {
            h.push_str(&format!(
                "<p>…and {} more findings in the report</p>",
                findings.len() - max_findings
            ));
        }
    }
    if let Some(p) = &event.report_path {
        h.push_str(&format!(
            "<p style=\"color:#57606a;font-size:12px\">Report: <code>{}</code></p>",
            esc(p)
        ));
    }
    h.push_str("</body></html>");
    h
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &Event) -> bool {
        self.filter.accepts(event)
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        let message = self.message(event).await?;
        let deadline = Instant::now() + self.retry.get_timeout();
        let mut retry = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self
                    .error(
                        ErrorKind::TimedOut,
                        "send",
                        &format!(
                            "not delivered within the {} budget",
                            humantime::format_duration(self.retry.get_timeout())
                        ),
                    )
                    .temporary()
                    .with_context("attempts", retry));
            }
            let budget = remaining.min(self.retry.get_attempt_timeout());
            let transport = self.transport(budget)?;
            let err = match tokio::time::timeout(budget, transport.send(message.clone())).await {
                Ok(Ok(_)) => {
                    tracing::info!(channel = %self.name, run_id = %event.run_id, "email delivered");
                    return Ok(());
                }
                Ok(Err(e)) => self.smtp_error(&e),
                Err(_) => self
                    .error(
                        ErrorKind::TimedOut,
                        "send",
                        &format!("no answer within {}", humantime::format_duration(budget)),
                    )
                    .temporary(),
            };
            if !err.is_temporary() || retry >= self.retry.get_max_retries() {
                return Err(err.with_context("attempts", retry + 1));
            }
            let wait = self.retry.backoff(retry);
            if Instant::now() + wait >= deadline {
                return Err(err.with_context("attempts", retry + 1));
            }
            tracing::warn!(channel = %self.name, attempt = retry + 1, error = %err, "email failed, retrying");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(host: &str, tls: EmailTls) -> EmailConfig {
        toml::from_str::<EmailConfig>(&format!(
            "host = \"{host}\"\ntls = \"{}\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n",
            match tls {
                EmailTls::None => "none",
                EmailTls::Tls => "tls",
                EmailTls::Starttls => "starttls",
            }
        ))
        .unwrap()
    }

    #[test]
    fn plain_smtp_is_refused_to_non_loopback_hosts() {
        let err = EmailNotifier::from_config(&cfg("smtp.example.com", EmailTls::None), &|_| None)
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            msg.contains("loopback") && msg.contains("starttls"),
            "{msg}"
        );
    }

    #[test]
    fn plain_smtp_is_allowed_to_loopback() {
        for h in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            assert!(
                EmailNotifier::from_config(&cfg(h, EmailTls::None), &|_| None).is_ok(),
                "{h}"
            );
        }
    }

    #[test]
    fn bad_address_is_named() {
        let mut c = cfg("localhost", EmailTls::None);
        c.to = vec!["not an address".into()];
        let err = EmailNotifier::from_config(&c, &|_| None).unwrap_err();
        assert!(err.to_string().contains("not an address"), "{err}");
    }
}
