//! GitHub issues against a mock server: headers, title, body, no second issue per incident.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use rollback_core::{EventKind, Notifier};
use rollback_notify::{GithubConfig, GithubNotifier};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn notifier(server: &MockServer, extra: &str) -> GithubNotifier {
    let cfg: GithubConfig = toml::from_str(&format!(
        "repository = \"acme/shop\"\ntoken_env = \"GH_TOKEN\"\napi_url = \"{}/api/v3\"\nretries = 0\n{extra}",
        server.uri()
    ))
    .unwrap();
    GithubNotifier::from_config(&cfg, &env(&[("GH_TOKEN", GH_TOKEN.into())])).unwrap()
}

async fn mount_list(server: &MockServer, issues: Value) {
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/acme/shop/issues"))
        .and(query_param("labels", "rollback"))
        .and(query_param("state", "all"))
        .and(header(
            "authorization",
            format!("Bearer {GH_TOKEN}").as_str(),
        ))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(issues))
        .mount(server)
        .await;
}

async fn mount_create(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/v3/repos/acme/shop/issues"))
        .and(header(
            "authorization",
            format!("Bearer {GH_TOKEN}").as_str(),
        ))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "number": 17, "html_url": "https://github.example/acme/shop/issues/17"
        })))
        .mount(server)
        .await;
}

async fn mount_comment(server: &MockServer, number: u64) {
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/v3/repos/acme/shop/issues/{number}/comments"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(server)
        .await;
}

async fn posts(server: &MockServer) -> Vec<(String, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| {
            (
                r.url.path().to_owned(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn creates_an_issue_with_the_report_and_marker() {
    let server = MockServer::start().await;
    mount_list(&server, json!([])).await;
    mount_create(&server).await;
    let e = event(EventKind::Succeeded);
    notifier(&server, "labels = [\"rollback\", \"incident\"]")
        .notify(&e)
        .await
        .unwrap();

    let reqs = server.received_requests().await.unwrap();
    let post = reqs.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let ua = post.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(ua.starts_with("rollback-notify/"), "{ua}");
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(
        body["title"],
        "Rollback: checkout v1.3.0 → v1.2.9 (production)"
    );
    let text = body["body"].as_str().unwrap();
    assert!(text.starts_with(&format!("<!-- rollback-incident: {} -->", e.incident_key())));
    assert!(
        text.contains("# RCA: checkout v1.3.0"),
        "report_markdown is the body"
    );
    assert_eq!(body["labels"], json!(["rollback", "incident"]));
}

#[tokio::test]
async fn second_event_of_an_incident_comments_instead_of_a_second_issue() {
    let server = MockServer::start().await;
    mount_list(&server, json!([])).await;
    mount_create(&server).await;
    mount_comment(&server, 17).await;
    let n = notifier(&server, "");
    n.notify(&event(EventKind::Failed)).await.unwrap();
    n.notify(&event(EventKind::Succeeded)).await.unwrap();
    let p = posts(&server).await;
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].0, "/api/v3/repos/acme/shop/issues");
    assert_eq!(p[1].0, "/api/v3/repos/acme/shop/issues/17/comments");
    assert!(p[1].1["body"]
        .as_str()
        .unwrap()
        .contains("Rollback succeeded"));
}

#[tokio::test]
async fn existing_issue_with_the_marker_is_found_and_not_duplicated() {
    let server = MockServer::start().await;
    let e = event(EventKind::Succeeded);
    mount_list(
        &server,
        json!([
            {"number": 3, "body": "unrelated"},
            {"number": 4, "body": format!("<!-- rollback-incident: {} -->", e.incident_key()), "pull_request": {}},
            {"number": 9, "body": format!("<!-- rollback-incident: {} -->\n# old", e.incident_key())}
        ]),
    )
    .await;
    mount_create(&server).await;
    mount_comment(&server, 9).await;
    notifier(&server, "").notify(&e).await.unwrap();
    let p = posts(&server).await;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "/api/v3/repos/acme/shop/issues/9/comments");
}

#[tokio::test]
async fn without_labels_the_search_api_is_used() {
    let server = MockServer::start().await;
    let e = event(EventKind::Failed);
    Mock::given(method("GET"))
        .and(path("/api/v3/search/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "items": [{"number": 5, "body": format!("<!-- rollback-incident: {} -->", e.incident_key())}]
        })))
        .mount(&server)
        .await;
    let n = notifier(&server, "labels = []\ncomment_on_update = false");
    n.notify(&e).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "found, no comment, no issue");
    let q = reqs[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "q")
        .unwrap()
        .1
        .into_owned();
    assert!(
        q.contains("repo:acme/shop") && q.contains(&e.incident_key()),
        "{q}"
    );
}

#[tokio::test]
async fn bad_credentials_are_permission_denied_without_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    let (_g, logs) = capture_logs();
    let n = notifier(&server, "");
    let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
    assert_eq!(err.kind(), rollback_core::ErrorKind::PermissionDenied);
    assert_eq!(err.backend(), Some("github"));
    assert!(err.to_string().contains("Bad credentials"), "{err}");
    assert_no_secret(&[
        &err.to_string(),
        &format!("{err:?}"),
        &format!("{n:?}"),
        &logs.text(),
    ]);
}

#[tokio::test]
async fn huge_report_is_cut_to_github_body_limit() {
    let server = MockServer::start().await;
    mount_list(&server, json!([])).await;
    mount_create(&server).await;
    let mut e = huge_event();
    e.report_markdown = Some("y".repeat(200_000));
    notifier(&server, "").notify(&e).await.unwrap();
    let p = posts(&server).await;
    let body = p[0].1["body"].as_str().unwrap();
    assert!(body.chars().count() <= 65_536);
    assert!(body.contains("truncated"));
    assert!(p[0].1["title"].as_str().unwrap().chars().count() <= 256);
}

/// What the fake GitHub does with one create (`POST .../issues`).
#[derive(Clone, Copy, Debug)]
enum OnCreate {
    /// Opens the issue and answers 201.
    Create,
    /// Opens the issue, then answers 502 (the answer is lost behind GitHub's front end).
    CreateThen502,
    /// Opens the issue, then answers only after `STALL` (past the client's attempt timeout).
    CreateThenStall,
    /// Answers 502 without opening anything.
    Fail502,
}

const STALL: std::time::Duration = std::time::Duration::from_secs(3);

/// A stateful GitHub issues API: creates really open issues that the list endpoint returns,
/// and comments on issue 1 really add comments that its comment list returns.
#[derive(Clone)]
struct FakeGithub {
    issues: Arc<Mutex<Vec<Value>>>,
    creates: Arc<Mutex<std::collections::VecDeque<OnCreate>>>,
    comments: Arc<Mutex<Vec<Value>>>,
    comment_posts: Arc<Mutex<std::collections::VecDeque<OnCreate>>>,
}

/// The comments of issue 1 in the fake.
#[derive(Clone)]
struct FakeComments(FakeGithub);

impl FakeGithub {
    async fn start(creates: &[OnCreate]) -> (MockServer, Self) {
        FakeGithub::start_with(creates, &[]).await
    }

    /// `comment_posts` says what happens to each comment POST, as `creates` for issues.
    async fn start_with(creates: &[OnCreate], comment_posts: &[OnCreate]) -> (MockServer, Self) {
        let server = MockServer::start().await;
        let fake = FakeGithub {
            issues: Arc::default(),
            creates: Arc::new(Mutex::new(creates.iter().copied().collect())),
            comments: Arc::default(),
            comment_posts: Arc::new(Mutex::new(comment_posts.iter().copied().collect())),
        };
        Mock::given(path("/api/v3/repos/acme/shop/issues"))
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        Mock::given(path("/api/v3/repos/acme/shop/issues/1/comments"))
            .respond_with(FakeComments(fake.clone()))
            .mount(&server)
            .await;
        (server, fake)
    }

    fn comments(&self) -> Vec<Value> {
        self.comments.lock().unwrap().clone()
    }

    fn issues(&self) -> Vec<Value> {
        self.issues.lock().unwrap().clone()
    }
}

/// Carries out one create (`add` stores the object and returns the 201 answer) as `queue`'s
/// next [`OnCreate`] says (`Create` once it is empty).
fn create_as_told(
    queue: &Mutex<std::collections::VecDeque<OnCreate>>,
    add: impl FnOnce() -> ResponseTemplate,
) -> ResponseTemplate {
    let on_create = queue
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(OnCreate::Create);
    if matches!(on_create, OnCreate::Fail502) {
        return ResponseTemplate::new(502).set_body_string("Bad Gateway");
    }
    let created = add();
    match on_create {
        OnCreate::CreateThen502 => ResponseTemplate::new(502).set_body_string("Bad Gateway"),
        OnCreate::CreateThenStall => created.set_delay(STALL),
        _ => created,
    }
}

impl wiremock::Respond for FakeGithub {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut issues = self.issues.lock().unwrap();
        if request.method.as_str() == "GET" {
            // Newest first, as `sort=created&direction=desc` asks.
            let list: Vec<Value> = issues.iter().rev().cloned().collect();
            return ResponseTemplate::new(200).set_body_json(list);
        }
        create_as_told(&self.creates, || {
            let payload: Value = serde_json::from_slice(&request.body).unwrap();
            let number = issues.len() as u64 + 1;
            issues.push(json!({
                "number": number,
                "title": payload["title"],
                "body": payload["body"],
                "labels": payload["labels"],
            }));
            ResponseTemplate::new(201).set_body_json(json!({"number": number}))
        })
    }
}

impl wiremock::Respond for FakeComments {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut comments = self.0.comments.lock().unwrap();
        if request.method.as_str() == "GET" {
            // Oldest first, as GitHub lists an issue's comments.
            return ResponseTemplate::new(200).set_body_json(comments.clone());
        }
        create_as_told(&self.0.comment_posts, || {
            let payload: Value = serde_json::from_slice(&request.body).unwrap();
            let id = comments.len() as u64 + 100;
            comments.push(json!({"id": id, "body": payload["body"]}));
            ResponseTemplate::new(201).set_body_json(json!({"id": id}))
        })
    }
}

/// A notifier that retries, with a short attempt timeout (real time: wiremock runs on its own
/// runtime).
fn retrying_notifier(server: &MockServer) -> GithubNotifier {
    let cfg: GithubConfig = toml::from_str(&format!(
        "repository = \"acme/shop\"\ntoken_env = \"GH_TOKEN\"\napi_url = \"{}/api/v3\"\n\
         retries = 3\nattempt_timeout = \"500ms\"\ntimeout = \"20s\"\n",
        server.uri()
    ))
    .unwrap();
    GithubNotifier::from_config(&cfg, &env(&[("GH_TOKEN", GH_TOKEN.into())])).unwrap()
}

/// `METHOD /path` of every request the server saw, in order.
async fn request_log(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

const LIST: &str = "GET /api/v3/repos/acme/shop/issues";
const CREATE: &str = "POST /api/v3/repos/acme/shop/issues";

#[tokio::test]
async fn create_answered_502_after_opening_the_issue_is_not_sent_twice() {
    let (server, fake) = FakeGithub::start(&[OnCreate::CreateThen502]).await;
    let (_g, logs) = capture_logs();
    let n = retrying_notifier(&server);
    let e = event(EventKind::Failed);
    n.notify(&e).await.unwrap();

    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "exactly one issue: {issues:?}");
    assert!(issues[0]["body"]
        .as_str()
        .unwrap()
        .starts_with(&format!("<!-- rollback-incident: {} -->", e.incident_key())));
    // The retry is a look-up for the marker, which finds the issue: no second create.
    assert_eq!(request_log(&server).await, [LIST, CREATE, LIST]);
    assert!(logs.text().contains("reusing it"), "{}", logs.text());
    assert_no_secret(&[&logs.text()]);

    // The reused issue is remembered: the next event of the incident is a comment on it.
    n.notify(&event(EventKind::Succeeded)).await.unwrap();
    assert_eq!(
        request_log(&server).await.last().map(String::as_str),
        Some("POST /api/v3/repos/acme/shop/issues/1/comments")
    );
    assert_eq!(fake.issues().len(), 1);
}

#[tokio::test]
async fn create_that_stalls_past_the_attempt_timeout_is_not_sent_twice() {
    let (server, fake) = FakeGithub::start(&[OnCreate::CreateThenStall]).await;
    retrying_notifier(&server)
        .notify(&event(EventKind::Failed))
        .await
        .unwrap();
    assert_eq!(fake.issues().len(), 1, "{:?}", fake.issues());
    assert_eq!(request_log(&server).await, [LIST, CREATE, LIST]);
}

#[tokio::test]
async fn create_that_failed_without_an_issue_is_sent_again_after_the_look_up() {
    let (server, fake) = FakeGithub::start(&[OnCreate::Fail502, OnCreate::Fail502]).await;
    retrying_notifier(&server)
        .notify(&event(EventKind::Failed))
        .await
        .unwrap();
    assert_eq!(fake.issues().len(), 1, "{:?}", fake.issues());
    assert_eq!(
        request_log(&server).await,
        [LIST, CREATE, LIST, CREATE, LIST, CREATE]
    );
}

#[tokio::test]
async fn create_whose_outcome_stays_unknown_says_so() {
    let (server, fake) = FakeGithub::start(&[OnCreate::Fail502; 8]).await;
    let cfg: GithubConfig = toml::from_str(&format!(
        "repository = \"acme/shop\"\ntoken_env = \"GH_TOKEN\"\napi_url = \"{}/api/v3\"\n\
         retries = 1\n",
        server.uri()
    ))
    .unwrap();
    let n = GithubNotifier::from_config(&cfg, &env(&[("GH_TOKEN", GH_TOKEN.into())])).unwrap();
    let err = n.notify(&event(EventKind::Failed)).await.unwrap_err();
    assert!(err.is_temporary());
    let outcome = err
        .context()
        .iter()
        .find(|(k, _)| *k == "outcome")
        .map(|(_, v)| v.as_str());
    assert!(
        outcome.is_some_and(|v| v.contains("may have been applied")),
        "{err:?}"
    );
    assert!(fake.issues().is_empty());
    assert_eq!(request_log(&server).await, [LIST, CREATE, LIST, CREATE]);
}

const COMMENTS: &str = "/api/v3/repos/acme/shop/issues/1/comments";

#[tokio::test]
async fn comment_answered_502_after_posting_is_not_posted_twice() {
    let (server, fake) =
        FakeGithub::start_with(&[OnCreate::Create], &[OnCreate::CreateThen502]).await;
    let n = retrying_notifier(&server);
    n.notify(&event(EventKind::Failed)).await.unwrap();
    let e = event(EventKind::Succeeded);
    n.notify(&e).await.unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "exactly one comment: {comments:?}");
    let body = comments[0]["body"].as_str().unwrap();
    let marker = format!(
        "<!-- rollback-event: {}:Succeeded:{} -->",
        e.incident_key(),
        e.at.timestamp_millis()
    );
    assert!(body.starts_with(&marker), "{body}");
    // The comment says what tripped the rollback, five signals at most.
    assert!(body.contains("| Decided | critical SLA breach |"), "{body}");
    assert!(
        body.contains("### What tripped it\n\n- CRITICAL signal 1:"),
        "{body}"
    );
    assert!(body.contains("- …and 2 more in the report"), "{body}");
    // The retry is a look-up of the issue's recent comments, which finds it: no second POST.
    let log = request_log(&server).await;
    let after_create = &log[2..];
    assert_eq!(
        after_create,
        [format!("POST {COMMENTS}"), format!("GET {COMMENTS}")],
        "{log:?}"
    );
    let lookup = server.received_requests().await.unwrap();
    let query = lookup
        .last()
        .unwrap()
        .url
        .query()
        .unwrap_or_default()
        .to_string();
    assert!(
        query.contains("since=") && query.contains("per_page=100"),
        "{query}"
    );
}

#[tokio::test]
async fn comment_that_failed_without_posting_is_posted_after_the_look_up() {
    let (server, fake) = FakeGithub::start_with(&[OnCreate::Create], &[OnCreate::Fail502]).await;
    let n = retrying_notifier(&server);
    n.notify(&event(EventKind::Failed)).await.unwrap();
    n.notify(&event(EventKind::Succeeded)).await.unwrap();
    assert_eq!(fake.comments().len(), 1, "{:?}", fake.comments());
    assert_eq!(
        request_log(&server).await[2..],
        [
            format!("POST {COMMENTS}"),
            format!("GET {COMMENTS}"),
            format!("POST {COMMENTS}")
        ]
    );
}

#[test]
fn only_finished_rollbacks_are_filed() {
    let cfg: GithubConfig =
        toml::from_str("repository = \"acme/shop\"\ntoken_env = \"T\"\n").unwrap();
    let n = GithubNotifier::from_config(&cfg, &|_| Some("t".into())).unwrap();
    assert!(!n.wants(&event(EventKind::Started)));
    assert!(n.wants(&event(EventKind::Failed)));
}

#[test]
fn malformed_repository_is_explained() {
    let cfg: GithubConfig = toml::from_str("repository = \"shop\"\ntoken_env = \"T\"\n").unwrap();
    let err = GithubNotifier::from_config(&cfg, &|_| Some("t".into())).unwrap_err();
    assert!(err.to_string().contains("owner/name"), "{err}");
}
