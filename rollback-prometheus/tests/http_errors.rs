//! Error paths and request shape, against a scripted HTTP server (wiremock on 127.0.0.1).

use std::error::Error as _;
use std::time::Duration;

use rollback_core::{
    Environment, Error, ErrorKind, MetricKind, MetricQuery, MetricsSource, Target, TimeRange,
};
use rollback_prometheus::{Auth, PrometheusConfig, PrometheusSource, Secret};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-3f9a7c1e-SECRET";

fn config(server: &MockServer) -> PrometheusConfig {
    let mut c = PrometheusConfig::new(server.uri());
    c.timeout = Duration::from_secs(2);
    c
}

fn error_rate() -> MetricQuery {
    let target = Target::new(Environment::Production, "checkout").with_namespace("shop");
    let range = TimeRange::ending_at(chrono::Utc::now(), Duration::from_secs(600));
    MetricQuery::new(
        MetricKind::ErrorRate,
        target,
        range,
        Duration::from_secs(60),
    )
}

async fn answer(template: ResponseTemplate) -> (MockServer, PrometheusSource) {
    let server = MockServer::start().await;
    // Range queries, and the instant range-selector queries of the counted kinds.
    Mock::given(method("POST"))
        .and(path_regex("^/api/v1/query(_range)?$"))
        .respond_with(template)
        .mount(&server)
        .await;
    let source = PrometheusSource::new(config(&server)).expect("valid config");
    (server, source)
}

async fn fail_with(template: ResponseTemplate) -> Error {
    let (_server, source) = answer(template).await;
    source
        .query(&error_rate())
        .await
        .expect_err("the query should fail")
}

fn prom_error(status: u16, error_type: &str, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(serde_json::json!({
        "status": "error", "errorType": error_type, "error": error
    }))
}

#[tokio::test]
async fn server_error_500_is_temporary_unavailable() {
    let err = fail_with(prom_error(500, "internal", "storage is on fire")).await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("storage is on fire"), "{err}");
    assert_eq!(err.backend(), Some("prometheus"));
}

#[tokio::test]
async fn plain_text_503_from_a_proxy_is_temporary_unavailable_with_its_text() {
    let err = fail_with(ResponseTemplate::new(503).set_body_string("upstream connect error")).await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("upstream connect error"), "{err}");
}

#[tokio::test]
async fn prometheus_query_timeout_is_temporary_timed_out() {
    let err = fail_with(prom_error(
        503,
        "timeout",
        "query timed out in expression evaluation",
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(err.is_temporary());
}

#[tokio::test]
async fn bad_request_400_is_invalid_input_with_prometheus_message() {
    let msg = "invalid parameter \"query\": 1:34: parse error: unclosed left parenthesis";
    let err = fail_with(prom_error(400, "bad_data", msg)).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(!err.is_temporary());
    assert!(err.message().contains(msg), "{err}");
    // The PromQL that was rejected is in the context, to fix the template.
    assert!(err
        .context()
        .iter()
        .any(|(k, v)| *k == "promql" && v.contains("rate(")));
}

#[tokio::test]
async fn unprocessable_422_execution_error_is_invalid_input() {
    let err = fail_with(prom_error(
        422,
        "execution",
        "found duplicate series for the match group",
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.message().contains("duplicate series"), "{err}");
}

#[tokio::test]
async fn status_error_in_a_200_answer_is_mapped_by_error_type() {
    let err = fail_with(prom_error(200, "bad_data", "1:1: parse error")).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn unauthorized_401_and_forbidden_403_are_permission_denied() {
    let err = fail_with(ResponseTemplate::new(401).set_body_string("Unauthorized")).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(!err.is_temporary());
    assert!(err.to_string().contains("[auth]"), "{err}");
    let err = fail_with(ResponseTemplate::new(403).set_body_string("Forbidden")).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
}

#[tokio::test]
async fn not_found_404_says_the_url_is_not_a_prometheus_api() {
    let err = fail_with(ResponseTemplate::new(404).set_body_string("404 page not found")).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("expected `url`"), "{err}");
}

#[tokio::test]
async fn too_many_requests_429_is_temporary() {
    let err = fail_with(ResponseTemplate::new(429)).await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
}

#[tokio::test]
async fn slow_server_is_a_temporary_timeout() {
    let err = fail_with(
        ResponseTemplate::new(200)
            .set_body_string("{}")
            .set_delay(Duration::from_secs(10)),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("2s timeout"), "{err}");
}

#[tokio::test]
async fn refused_connection_is_temporary_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let source = PrometheusSource::new(PrometheusConfig::new(format!("http://127.0.0.1:{port}")))
        .expect("valid config");
    let err = source
        .query(&error_rate())
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn malformed_json_is_a_clear_backend_error() {
    let err = fail_with(ResponseTemplate::new(200).set_body_string("<html>hello</html>")).await;
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(!err.is_temporary());
    assert!(
        err.message().contains("not a Prometheus API response"),
        "{err}"
    );
    assert!(err.message().contains("check that `url`"), "{err}");
}

#[tokio::test]
async fn non_numeric_sample_is_a_clear_backend_error() {
    let err = fail_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "lots"]]}]}
    })))
    .await;
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("\"lots\""), "{err}");
}

#[tokio::test]
async fn empty_result_is_no_data() {
    let (_server, source) = answer(ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "status": "success", "data": {"resultType": "matrix", "result": []}
    })))
    .await;
    assert!(source.query(&error_rate()).await.expect("ok").is_empty());
}

fn latency_histogram() -> MetricQuery {
    let q = error_rate();
    MetricQuery::new(MetricKind::LatencyHistogram, q.target, q.range, q.step)
}

/// A Unix time inside the range of every query built now (the range filter drops the others).
fn in_range() -> i64 {
    chrono::Utc::now().timestamp() - 120
}

fn matrix(result: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "status": "success", "data": {"resultType": "matrix", "result": result}
    }))
}

#[tokio::test]
async fn latency_histogram_query_counts_buckets_per_step_and_answers_le_in_milliseconds() {
    let q = latency_histogram();
    // A sample before the baseline point (one step before the range) and one inside it.
    let before = (q.range.start - chrono::Duration::seconds(90)).timestamp();
    let t = in_range();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/query"))
        // http_request_duration_seconds_bucket{…}[900s]: 10 points, a step and 5 m before.
        .and(body_string_contains(
            "query=http_request_duration_seconds_bucket%7Bdeployment%3D%22checkout%22",
        ))
        .and(body_string_contains("%7D%5B900s%5D"))
        .respond_with(matrix(serde_json::json!([
            {"metric": {"le": "0.25", "pod": "a"}, "values": [[before, "100"], [t, "130"]]},
            {"metric": {"le": "1.0", "pod": "a"}, "values": [[before, "200"], [t, "238"]]},
            {"metric": {"le": "+Inf", "pod": "a"}, "values": [[before, "300"], [t, "340"]]},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let source = PrometheusSource::new(config(&server)).expect("valid config");
    let series = source.query(&q).await.expect("a histogram answer");
    let les: Vec<&str> = series.iter().map(|s| s.labels["le"].as_str()).collect();
    assert_eq!(les, ["250", "1000", "+Inf"]);
    // A step has a point while the series' last sample is less than 5 minutes old (the
    // lookback): 4 steps after the old sample, 2 from `t` on. The one holding `t` counts 38.
    assert_eq!(series[1].samples.len(), 6);
    let counted: Vec<f64> = series[1]
        .samples
        .iter()
        .map(|s| s.value)
        .filter(|v| *v != 0.0)
        .collect();
    assert_eq!(counted, [38.0]);
}

#[tokio::test]
async fn latency_histogram_in_milliseconds_keeps_its_bounds() {
    let t = in_range();
    let (server, _) = answer(matrix(serde_json::json!([
        {"metric": {"le": "250"}, "values": [[t, "30"]]},
        {"metric": {"le": "+Inf"}, "values": [[t, "40"]]},
    ])))
    .await;
    let c = PrometheusConfig::from_toml_str(&format!(
        "url = \"{}\"\n[metrics]\nlatency_histogram = \"latency_ms\"\n\
         latency_unit = \"milliseconds\"",
        server.uri()
    ))
    .expect("valid config");
    let source = PrometheusSource::new(c).expect("valid");
    assert_eq!(
        source.render(&latency_histogram()).expect("renders"),
        r#"latency_ms_bucket{deployment="checkout",namespace="shop"}"#
    );
    let series = source.query(&latency_histogram()).await.expect("answer");
    let les: Vec<&str> = series.iter().map(|s| s.labels["le"].as_str()).collect();
    assert_eq!(les, ["250", "+Inf"]);
}

#[tokio::test]
async fn latency_histogram_series_without_le_is_invalid_input_not_a_panic() {
    let t = in_range();
    let (_server, source) = answer(matrix(serde_json::json!([
        {"metric": {"code": "200"}, "values": [[t, "30"]]},
    ])))
    .await;
    let err = source
        .query(&latency_histogram())
        .await
        .expect_err("no le label");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(!err.is_temporary());
    assert!(err.message().contains("without an `le` label"), "{err}");
    assert!(
        err.message().contains("expected one series per bucket"),
        "{err}"
    );
    assert!(err.to_string().contains("latency_histogram"), "{err}");
}

#[tokio::test]
async fn latency_histogram_with_an_unparsable_le_is_invalid_input_naming_it() {
    let t = in_range();
    let (_server, source) = answer(matrix(serde_json::json!([
        {"metric": {"le": "0.25"}, "values": [[t, "30"]]},
        {"metric": {"le": "slow"}, "values": [[t, "40"]]},
    ])))
    .await;
    let err = source
        .query(&latency_histogram())
        .await
        .expect_err("unparsable le");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.message().contains("le = \"slow\""), "{err}");
    assert!(
        err.message()
            .contains("expected a non-negative number of seconds"),
        "{err}"
    );
}

#[tokio::test]
async fn validation_reports_a_histogram_without_le_as_failed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "3"]}]}
        })))
        .mount(&server)
        .await;
    let source = PrometheusSource::new(config(&server)).expect("valid config");
    let target = Target::new(Environment::Production, "checkout");
    let report = source
        .validate(
            &[MetricKind::RequestRate, MetricKind::LatencyHistogram],
            &target,
        )
        .await
        .expect("valid target");
    let failed: Vec<String> = report.failed().iter().map(|(k, _)| k.name()).collect();
    assert_eq!(failed, ["latency_histogram"], "{report}");
    assert!(!report.is_ok(), "{report}");
}

#[tokio::test]
async fn request_is_a_form_post_with_query_range_and_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/prom/api/v1/query_range"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains(
            "query=%28sum%28rate%28http_requests_total",
        ))
        .and(body_string_contains("step=60.000"))
        .and(body_string_contains("timeout=2s"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success", "data": {"resultType": "matrix", "result": []}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = config(&server);
    c.url = format!("{}/prom/", server.uri());
    let source = PrometheusSource::new(c)
        .expect("valid config")
        .with_auth(Auth::Bearer(Secret::new(TOKEN)))
        .expect("valid token");
    source.query(&error_rate()).await.expect("matched request");
}

#[tokio::test]
async fn basic_auth_password_is_read_from_the_named_environment_variable() {
    std::env::set_var("ROLLBACK_PROM_TEST_BASIC_PASSWORD", "open sesame");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header(
            "authorization",
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success", "data": {"resultType": "vector", "result": []}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = PrometheusConfig::from_toml_str(&format!(
        "url = \"{}\"\n[auth]\ntype = \"basic\"\nusername = \"Aladdin\"\n\
         password_env = \"ROLLBACK_PROM_TEST_BASIC_PASSWORD\"",
        server.uri()
    ))
    .expect("valid config");
    let source = PrometheusSource::new(c).expect("valid");
    source
        .query_instant("up", chrono::Utc::now())
        .await
        .expect("authenticated");
}

/// Every way an error can be shown: Display, Debug, and the whole source chain.
fn all_renderings(err: &Error) -> String {
    let mut out = format!("{err}\n{err:?}\n");
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    out
}

#[tokio::test]
async fn token_never_appears_in_errors_or_debug_output() {
    std::env::set_var("ROLLBACK_PROM_TEST_TOKEN", TOKEN);
    let echo = format!("bad token Bearer {TOKEN}");
    let cases = [
        prom_error(400, "bad_data", &echo),
        ResponseTemplate::new(401).set_body_string(echo.clone()),
        ResponseTemplate::new(502).set_body_string(format!("<html>{echo}</html>")),
        ResponseTemplate::new(200).set_body_string(format!("not json {echo}")),
        ResponseTemplate::new(200).set_delay(Duration::from_secs(10)),
    ];
    for template in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        let c = PrometheusConfig::from_toml_str(&format!(
            "url = \"{}\"\ntimeout = \"1s\"\n[auth]\ntype = \"bearer\"\n\
             token_env = \"ROLLBACK_PROM_TEST_TOKEN\"",
            server.uri()
        ))
        .expect("valid config");
        assert!(!format!("{c:?}").contains(TOKEN));
        let source = PrometheusSource::new(c).expect("valid");
        assert!(!format!("{source:?}").contains(TOKEN), "{source:?}");
        let err = source.query(&error_rate()).await.expect_err("fails");
        let shown = all_renderings(&err);
        assert!(!shown.contains(TOKEN), "token leaked: {shown}");
        // The server did receive it: the redaction is ours, not a missing header.
        let received = server.received_requests().await.expect("recorded");
        assert!(received.iter().any(|r| r
            .headers
            .get("authorization")
            .is_some_and(|v| v.to_str().is_ok_and(|v| v.contains(TOKEN)))));
    }
}

#[tokio::test]
async fn missing_token_variable_fails_construction_naming_the_variable() {
    let c = PrometheusConfig::from_toml_str(
        "url = \"http://127.0.0.1:1\"\n[auth]\ntype = \"bearer\"\n\
         token_env = \"ROLLBACK_PROM_TEST_TOKEN_SURELY_UNSET\"",
    )
    .expect("valid config");
    let err = PrometheusSource::new(c).expect_err("variable unset");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("ROLLBACK_PROM_TEST_TOKEN_SURELY_UNSET"),
        "{err}"
    );
}

#[tokio::test]
async fn redirect_is_reported_not_followed() {
    let err = fail_with(
        ResponseTemplate::new(301)
            .insert_header("location", "https://elsewhere/api/v1/query_range"),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("redirected"), "{err}");
}

#[test]
fn token_that_cannot_be_a_header_is_rejected_without_showing_it() {
    let source =
        PrometheusSource::new(PrometheusConfig::new("http://127.0.0.1:9")).expect("valid config");
    let err = source
        .with_auth(Auth::Bearer(Secret::new("line1\nline2-SECRET")))
        .expect_err("newline in token");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err}");
}
