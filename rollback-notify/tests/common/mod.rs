//! Shared fixtures: events, secrets, log capture, and a tiny HTTP server that runs inside the
//! test's own runtime (so tests under a paused clock see real request/response ordering).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rollback_core::{
    Environment, Event, EventKind, Finding, FindingKind, KeyMetric, Severity, SourceLocation,
    Stage, Target, Version,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Every secret value in the tests contains this, so one search finds any leak.
pub const MARK: &str = "SECRET";

pub const SLACK_PATH: &str = "/services/T000/B000/SECRET-slack-webhook-PATH-7f3a";
pub const SLACK_TOKEN: &str = "xoxb-SECRET-bot-token-91c2";
pub const PD_KEY: &str = "SECRET-pd-routing-key-42ab";
pub const GH_TOKEN: &str = "ghp_SECRET-github-token-55de";
pub const TEAMS_PATH: &str = "/workflows/SECRET-teams-path-12aa/triggers/manual/paths/invoke";
pub const HOOK_PATH: &str = "/hook/SECRET-webhook-path-77bb";
pub const HMAC_KEY: &str = "SECRET-hmac-key-3c3c";
pub const HEADER_SECRET: &str = "Bearer SECRET-header-value-88dd";
pub const SMTP_PASSWORD: &str = "SECRET-smtp-password-1234";

/// An environment lookup over fixed pairs.
pub fn env(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    move |k| map.get(k).cloned()
}

pub fn finding(i: usize, title: &str) -> Finding {
    let mut f = Finding::new(
        "log-patterns",
        FindingKind::Cause,
        if i == 0 {
            Severity::Critical
        } else {
            Severity::High
        },
        title,
        format!("Heap grew 40 MB/min after deploy; OOMKilled x{}", i + 3),
    );
    f.confidence = 0.9 - (i as f64) * 0.01;
    f.location = Some(SourceLocation {
        file: "src/services/cache.service.ts".into(),
        line: 42 + i as u32,
        column: None,
        function: Some("CacheService.put".into()),
    });
    f.recommendation = Some("Bound the cache (LRU, 10k entries)".into());
    f
}

/// A realistic finished rollback.
pub fn event(kind: EventKind) -> Event {
    let target = Target::new(Environment::Production, "checkout").with_namespace("shop");
    let mut e = Event::new(
        "run-20250301-0307",
        kind,
        Severity::Critical,
        target,
        "Rolled back checkout from v1.3.0 to v1.2.9 with a blue-green switch; error rate back \
         under SLA within 2 minutes.",
        Utc.with_ymd_and_hms(2025, 3, 1, 3, 7, 0).single().unwrap(),
    );
    e.from = Some(Version::parse("v1.3.0").unwrap());
    e.to = Some(Version::parse("v1.2.9").unwrap());
    e.reason = Some("Error rate 12.4% > 0.1% SLA <since 03:02>".into());
    let mut trigger = rollback_core::Trigger::new("critical SLA breach");
    trigger.signals = (1..=7)
        .map(|i| format!("CRITICAL signal {i}: error rate 12.4% (SLA < 0.1%) since 03:02"))
        .collect();
    e.trigger = Some(trigger);
    e.metrics = vec![
        KeyMetric {
            name: "Error rate".into(),
            value: "12.4%".into(),
            threshold: Some("SLA < 0.1%".into()),
        },
        KeyMetric {
            name: "p99 latency".into(),
            value: "2.3s".into(),
            threshold: Some("SLA < 500ms".into()),
        },
    ];
    e.findings = vec![
        finding(0, "Memory leak in cache service"),
        finding(1, "Connection pool exhausted"),
    ];
    e.report_path = Some("/var/lib/rollback/reports/run-20250301-0307/rca.md".into());
    e.report_markdown =
        Some("# RCA: checkout v1.3.0\n\n## Timeline\n\n- 03:02 error rate up\n".into());
    e.duration = Some(Duration::from_secs(134));
    if kind == EventKind::StageFinished {
        e.stage = Some(Stage::Execute);
    }
    e
}

/// An event far over every provider's limits.
pub fn huge_event() -> Event {
    let mut e = event(EventKind::Failed);
    e.reason = Some("R".repeat(10_000));
    e.summary = "S".repeat(10_000);
    e.target.deployment = "d".repeat(240);
    e.metrics = (0..500)
        .map(|i| KeyMetric {
            name: format!("metric number {i} with a long name"),
            value: format!("{i}.0%"),
            threshold: Some("SLA < 1%".into()),
        })
        .collect();
    e.findings = (0..200)
        .map(|i| {
            let mut f = finding(i, &format!("Finding {i} {}", "t".repeat(300)));
            f.summary = "x".repeat(5_000);
            f
        })
        .collect();
    e.report_markdown = Some("# Report\n".to_owned() + &"line of the report\n".repeat(10_000));
    e
}

/// Captured log output of the current thread.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line (all levels) on this thread while the guard lives.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Logs) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), logs)
}

/// Fails if any of `texts` contains a secret.
pub fn assert_no_secret(texts: &[&str]) {
    for t in texts {
        assert!(!t.contains(MARK), "a secret leaked into: {t}");
    }
}

/// Every HTTP channel type (Slack both ways).
pub const KINDS: [&str; 6] = [
    "slack",
    "slack-bot",
    "pagerduty",
    "github",
    "teams",
    "webhook",
];

/// A body every channel takes as success (Slack `ok`, GitHub search `items` and issue `number`).
pub const OK: &str = r#"{"ok":true,"items":[],"number":1}"#;

pub fn secrets_env(base: &str) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    env(&[
        ("SLACK_URL", format!("{base}{SLACK_PATH}")),
        ("SLACK_BOT_TOKEN", SLACK_TOKEN.into()),
        ("PD_KEY", PD_KEY.into()),
        ("GH_TOKEN", GH_TOKEN.into()),
        ("TEAMS_URL", format!("{base}{TEAMS_PATH}")),
        ("HOOK_URL", format!("{base}{HOOK_PATH}")),
        ("HOOK_KEY", HMAC_KEY.into()),
    ])
}

/// The TOML of one channel of `kind` aimed at `base`.
pub fn channel_toml(kind: &str, base: &str, extra: &str) -> String {
    let body = match kind {
        "slack" => "type = \"slack\"\nwebhook_url_env = \"SLACK_URL\"".to_owned(),
        "slack-bot" => format!(
            "type = \"slack\"\nname = \"slack-bot\"\ntoken_env = \"SLACK_BOT_TOKEN\"\n\
             channel = \"#deploys\"\napi_url = \"{base}/api\""
        ),
        "pagerduty" => {
            format!(
                "type = \"pagerduty\"\nrouting_key_env = \"PD_KEY\"\nurl = \"{base}/v2/enqueue\""
            )
        }
        "github" => format!(
            "type = \"github\"\nrepository = \"acme/shop\"\ntoken_env = \"GH_TOKEN\"\n\
             api_url = \"{base}\"\nlabels = []"
        ),
        "teams" => "type = \"teams\"\nwebhook_url_env = \"TEAMS_URL\"".to_owned(),
        "webhook" => {
            "type = \"webhook\"\nurl_env = \"HOOK_URL\"\nsecret_env = \"HOOK_KEY\"".to_owned()
        }
        other => panic!("unknown kind {other}"),
    };
    format!("[[channels]]\n{body}\n{extra}\n")
}

/// What the scripted server answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, extra headers, body.
    Respond(u16, Vec<(String, String)>, String),
    /// Read the request, never answer.
    Hang,
}

impl Reply {
    pub fn status(code: u16) -> Self {
        Reply::Respond(code, Vec::new(), String::new())
    }
    pub fn json(code: u16, body: &str) -> Self {
        Reply::Respond(
            code,
            vec![("content-type".into(), "application/json".into())],
            body.to_owned(),
        )
    }
    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Reply::Respond(c, mut h, b) => {
                h.push((name.into(), value.into()));
                Reply::Respond(c, h, b)
            }
            Reply::Hang => Reply::Hang,
        }
    }
}

/// One request the scripted server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 inside the current runtime. It answers requests in
/// order from `script`; past its end it repeats the last reply.
pub struct ScriptedServer {
    pub base: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl ScriptedServer {
    pub async fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        let script = Arc::new(script);
        tokio::spawn(async move {
            let counter = Arc::new(Mutex::new(0usize));
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let rec = rec.clone();
                let script = script.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 8192];
                    let head_end = loop {
                        let n = match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&tmp[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let first = lines.next().unwrap_or_default().to_owned();
                    let mut parts = first.split(' ');
                    let method = parts.next().unwrap_or_default().to_owned();
                    let path = parts.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&tmp[..n]);
                    }
                    let body = buf[head_end..head_end + len].to_vec();
                    rec.lock().unwrap().push(Received {
                        method,
                        path,
                        headers,
                        body,
                        at: Instant::now(),
                    });
                    let reply = {
                        let mut c = counter.lock().unwrap();
                        let r = script
                            .get(*c)
                            .or_else(|| script.last())
                            .cloned()
                            .unwrap_or(Reply::status(200));
                        *c += 1;
                        r
                    };
                    match reply {
                        Reply::Hang => {
                            std::future::pending::<()>().await;
                        }
                        Reply::Respond(code, headers, body) => {
                            let mut out = format!(
                                "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                                body.len()
                            );
                            for (k, v) in headers {
                                out.push_str(&format!("{k}: {v}\r\n"));
                            }
                            out.push_str("\r\n");
                            out.push_str(&body);
                            let _ = sock.write_all(out.as_bytes()).await;
                            let _ = sock.shutdown().await;
                        }
                    }
                });
            }
        });
        ScriptedServer { base, received }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
