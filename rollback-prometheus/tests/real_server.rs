//! Queries against a real Prometheus server holding known series.
//!
//! Start it with `bash scripts/ci/prometheus.sh` and `source` the environment file it prints
//! (`ROLLBACK_TEST_PROMETHEUS`, `ROLLBACK_TEST_PROMETHEUS_END`). Without it these tests skip with
//! a message; under `CI` they fail instead.
//!
//! The data (scripts/ci/prometheus_testdata.py), every 15 s for 3 hours up to END:
//! * `http_requests_total{deployment="checkout",namespace="shop",version,code}`:
//!   v1.3.0 at 8/s (200), 1/s (500), 1/s (503); v1.2.9 at 19.8/s (200), 0.2/s (500);
//!   distractors: `checkout-worker` (50% errors), `checkout` in namespace `other`;
//!   `we"ird\name` at 1/s.
//! * `http_request_duration_seconds_bucket`, `le` in seconds (0.05 0.1 0.25 0.5 1 2.5 5 +Inf),
//!   cumulative counts per 15 s: v1.3.0 10 30 50 70 80 90 100 100 (p50 250 ms, p95 3750 ms);
//!   v1.2.9 40 80 95 99 100 100 100 100 (p50 62.5 ms, p95 250 ms, p99 500 ms); both together
//!   p95 2500 ms.
//! * cAdvisor: two pods per release (`<replicaset>-<suffix>`), v1.3.0 0.45 cores and 900 MiB per
//!   pod, v1.2.9 0.15 cores and 256 MiB, limits 0.5 core and 1 GiB; plus pod-cgroup and pause
//!   container series and a `checkout-worker` pod that must not be counted.
//! * `http_requests_total{deployment="payments",…,pod}`: a counter reset and a series created
//!   inside the last 30 minutes (the exact-counts test says how).
//! * `checkout_queue_depth` = 42; `legacy_requests_total{app,kube_namespace,app_version,status}`
//!   at 3/s (200) and 1/s (500); `legacy_request_latency_milliseconds_bucket` (v1.3.0 only), `le`
//!   in ms (50 100 250 1000 +Inf), cumulative counts per 15 s 20 40 55 59 60 (p50 75 ms).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rollback_core::sequential::{Baseline, LatencyHistogram};
use rollback_core::{
    Environment, ErrorKind, MetricKind, MetricQuery, MetricsSource, Quantile, ReleaseRef, Series,
    Target, TimeRange, Version,
};
use rollback_prometheus::{KindOutcome, PrometheusConfig, PrometheusSource};

struct Server {
    url: String,
    end: DateTime<Utc>,
}

/// The test server, or `None` (skip) when it is not configured outside CI.
fn server() -> Option<Server> {
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    match std::env::var("ROLLBACK_TEST_PROMETHEUS") {
        Ok(url) if !url.is_empty() => {
            let end = std::env::var("ROLLBACK_TEST_PROMETHEUS_END")
                .expect("ROLLBACK_TEST_PROMETHEUS_END must be set with ROLLBACK_TEST_PROMETHEUS")
                .parse::<i64>()
                .expect("ROLLBACK_TEST_PROMETHEUS_END is a Unix time");
            Some(Server {
                url,
                end: DateTime::from_timestamp(end, 0).expect("valid time"),
            })
        }
        _ if in_ci => panic!(
            "ROLLBACK_TEST_PROMETHEUS is not set under CI: run scripts/ci/prometheus.sh and \
             source the environment file it writes"
        ),
        _ => {
            eprintln!(
                "skipping: ROLLBACK_TEST_PROMETHEUS is not set (run scripts/ci/prometheus.sh)"
            );
            None
        }
    }
}

fn config(s: &Server) -> PrometheusConfig {
    let mut c = PrometheusConfig::new(s.url.clone());
    c.custom.insert(
        "queue_depth".into(),
        "max(checkout_queue_depth{{selector}})".into(),
    );
    c.custom
        .insert("broken".into(), "sum(rate(http_requests_total[5m])".into());
    c.custom
        .insert("missing".into(), "sum(no_such_metric{{selector}})".into());
    c
}

fn source(s: &Server) -> PrometheusSource {
    PrometheusSource::new(config(s)).expect("valid config")
}

fn checkout() -> Target {
    Target::new(Environment::Production, "checkout").with_namespace("shop")
}

fn release(version: &str) -> ReleaseRef {
    let revision = match version {
        "v1.3.0" => "checkout-7d9f8b6c5",
        "v1.2.9" => "checkout-6f7c9d8b5",
        other => other,
    };
    ReleaseRef {
        version: Version::parse(version).expect("version"),
        revision: revision.into(),
    }
}

/// The last 30 minutes of data at a 60 s step.
fn query(s: &Server, kind: MetricKind, target: Target, version: Option<&str>) -> MetricQuery {
    let range = TimeRange::ending_at(s.end, Duration::from_secs(30 * 60));
    let q = MetricQuery::new(kind, target, range, Duration::from_secs(60));
    match version {
        Some(v) => q.for_release(release(v)),
        None => q,
    }
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-6 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected}"
    );
}

/// One series whose every sample is `expected`.
fn assert_constant(series: &[Series], expected: f64, what: &str) {
    assert_eq!(
        series.len(),
        1,
        "{what}: expected one series, got {series:?}"
    );
    assert!(!series[0].samples.is_empty(), "{what}: no samples");
    for s in &series[0].samples {
        assert_close(s.value, expected, &format!("{what} at {}", s.at));
    }
}

async fn value(src: &PrometheusSource, q: &MetricQuery) -> Vec<Series> {
    src.query(q)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e}", q.kind.name()))
}

#[tokio::test]
async fn error_rate_is_the_5xx_share_of_the_release_or_target() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let q = query(&s, MetricKind::ErrorRate, checkout(), Some("v1.3.0"));
    assert_constant(&value(&src, &q).await, 0.2, "v1.3.0 error rate");
    let q = query(&s, MetricKind::ErrorRate, checkout(), Some("v1.2.9"));
    assert_constant(&value(&src, &q).await, 0.01, "v1.2.9 error rate");
    let q = query(&s, MetricKind::ErrorRate, checkout(), None);
    assert_constant(&value(&src, &q).await, 2.2 / 30.0, "target error rate");
}

#[tokio::test]
async fn range_query_is_half_open_at_the_step() {
    let Some(s) = server() else { return };
    let q = query(&s, MetricKind::ErrorRate, checkout(), Some("v1.3.0"));
    let series = value(&source(&s), &q).await;
    let samples = &series[0].samples;
    assert_eq!(samples.len(), 30, "30 minutes at 60 s, end excluded");
    assert_eq!(samples[0].at, q.range.start);
    assert_eq!(samples[29].at, s.end - chrono::Duration::seconds(60));
}

#[tokio::test]
async fn request_rate_counts_only_the_target_deployment_and_namespace() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let q = query(&s, MetricKind::RequestRate, checkout(), Some("v1.3.0"));
    assert_constant(&value(&src, &q).await, 10.0, "v1.3.0 request rate");
    let q = query(&s, MetricKind::RequestRate, checkout(), None);
    assert_constant(&value(&src, &q).await, 30.0, "target request rate");
}

#[tokio::test]
async fn latency_percentiles_come_from_the_histogram_in_milliseconds() {
    let Some(s) = server() else { return };
    let src = source(&s);
    for (version, q, expected) in [
        (Some("v1.3.0"), Quantile::P95, 3750.0),
        (Some("v1.3.0"), Quantile::P50, 250.0),
        (Some("v1.2.9"), Quantile::P95, 250.0),
        (Some("v1.2.9"), Quantile::P99, 500.0),
        (Some("v1.2.9"), Quantile::P50, 62.5),
        (None, Quantile::P95, 2500.0),
    ] {
        let mq = query(&s, MetricKind::Latency(q), checkout(), version);
        assert_constant(
            &value(&src, &mq).await,
            expected,
            &format!("{version:?} {q}"),
        );
    }
}

#[tokio::test]
async fn cpu_is_percent_of_the_limit_without_pod_cgroup_pause_or_other_deployments() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let q = query(&s, MetricKind::CpuUtilization, checkout(), Some("v1.3.0"));
    assert_constant(&value(&src, &q).await, 90.0, "v1.3.0 cpu");
    let q = query(&s, MetricKind::CpuUtilization, checkout(), Some("v1.2.9"));
    assert_constant(&value(&src, &q).await, 30.0, "v1.2.9 cpu");
    let q = query(&s, MetricKind::CpuUtilization, checkout(), None);
    assert_constant(&value(&src, &q).await, 60.0, "target cpu");
}

#[tokio::test]
async fn memory_is_working_set_in_percent_of_the_limit_and_in_bytes() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let q = query(
        &s,
        MetricKind::MemoryUtilization,
        checkout(),
        Some("v1.3.0"),
    );
    assert_constant(&value(&src, &q).await, 87.890625, "v1.3.0 memory");
    let q = query(
        &s,
        MetricKind::MemoryUtilization,
        checkout(),
        Some("v1.2.9"),
    );
    assert_constant(&value(&src, &q).await, 25.0, "v1.2.9 memory");
    let q = query(&s, MetricKind::MemoryUtilization, checkout(), None);
    assert_constant(&value(&src, &q).await, 56.4453125, "target memory");
    let q = query(&s, MetricKind::MemoryBytes, checkout(), Some("v1.3.0"));
    assert_constant(&value(&src, &q).await, 1_887_436_800.0, "v1.3.0 bytes");
}

#[tokio::test]
async fn status_codes_are_responses_per_step_one_series_per_code() {
    let Some(s) = server() else { return };
    let q = query(&s, MetricKind::StatusCodes, checkout(), Some("v1.3.0"));
    let mut series = value(&source(&s), &q).await;
    series.sort_by(|a, b| a.labels.get("code").cmp(&b.labels.get("code")));
    let codes: Vec<&str> = series.iter().map(|x| x.labels["code"].as_str()).collect();
    assert_eq!(codes, ["200", "500", "503"]);
    for (one, expected) in series.iter().zip([480.0, 60.0, 60.0]) {
        assert_constant(std::slice::from_ref(one), expected, &one.labels["code"]);
    }
}

/// The `StatusCodes` answer for `payments` v2.0.0 over the last 30 minutes at `step`, by code.
async fn payments_codes(s: &Server, step: u64) -> Vec<(String, Vec<(i64, f64)>)> {
    let payments = Target::new(Environment::Production, "payments").with_namespace("shop");
    let range = TimeRange::ending_at(s.end, Duration::from_secs(30 * 60));
    let q = MetricQuery::new(
        MetricKind::StatusCodes,
        payments,
        range,
        Duration::from_secs(step),
    )
    .for_release(release("v2.0.0"));
    let mut series = value(&source(s), &q).await;
    series.sort_by(|a, b| a.labels["code"].cmp(&b.labels["code"]));
    series
        .into_iter()
        .map(|x| {
            let points = x
                .samples
                .iter()
                .map(|p| ((s.end - p.at).num_seconds(), p.value))
                .collect();
            (x.labels["code"].clone(), points)
        })
        .collect()
}

/// `payments` (scripts/ci/prometheus_testdata.py), scraped every 15 s: pod a counts 10 per
/// scrape and restarts 20 minutes before the end, pod b counts 5 per scrape, and pod a's first
/// 500s create `code="500"` 10 minutes before the end with the value 3, then 3 per scrape.
/// `increase()` would extrapolate, answer nothing at a 10 s step, and miss those first 3.
#[tokio::test]
async fn status_codes_are_exact_counts_through_resets_new_series_and_short_steps() {
    let Some(s) = server() else { return };
    // A step of two scrapes: 30 per step for 200, the restart included.
    let codes = payments_codes(&s, 30).await;
    assert_eq!(codes.len(), 2, "{codes:?}");
    let (ok, errors) = (&codes[0], &codes[1]);
    assert_eq!((ok.0.as_str(), errors.0.as_str()), ("200", "500"));
    assert_eq!(ok.1.len(), 60);
    assert!(ok.1.iter().all(|&(_, v)| v == 30.0), "{:?}", ok.1);
    // The 500s from their first step on, its first value counted.
    let ago: Vec<i64> = errors.1.iter().map(|&(a, _)| a).collect();
    assert_eq!(ago, (1..=20).rev().map(|k| 30 * k).collect::<Vec<_>>());
    assert_eq!(errors.1[0].1, 3.0);
    assert!(
        errors.1[1..].iter().all(|&(_, v)| v == 6.0),
        "{:?}",
        errors.1
    );

    // A step shorter than the scrape interval: each step holds the increments of one scrape or
    // none, and the totals are those of the 120 scrapes after the baseline point.
    let codes = payments_codes(&s, 10).await;
    let (ok, errors) = (&codes[0], &codes[1]);
    assert_eq!(ok.1.len(), 180);
    assert!(
        ok.1.iter().all(|&(_, v)| v == 0.0 || v == 15.0),
        "{:?}",
        ok.1
    );
    assert_eq!(ok.1.iter().map(|&(_, v)| v).sum::<f64>(), 120.0 * 15.0);
    assert_eq!(errors.1.first().map(|&(a, _)| a), Some(600));
    assert_eq!(errors.1.iter().map(|&(_, v)| v).sum::<f64>(), 40.0 * 3.0);

    // An instant query counts over the rate window (2 minutes: 8 scrapes) before its time.
    let rel = release("v2.0.0");
    let payments = Target::new(Environment::Production, "payments").with_namespace("shop");
    let at = s.end - chrono::Duration::seconds(300);
    let mut series = source(&s)
        .instant(&MetricKind::StatusCodes, &payments, Some(&rel), at)
        .await
        .expect("instant counts");
    series.sort_by(|a, b| a.labels["code"].cmp(&b.labels["code"]));
    let got: Vec<(&str, Vec<_>)> = series
        .iter()
        .map(|x| {
            let points = x.samples.iter().map(|p| (p.at, p.value)).collect();
            (x.labels["code"].as_str(), points)
        })
        .collect();
    assert_eq!(got, [("200", vec![(at, 120.0)]), ("500", vec![(at, 24.0)])]);
}

/// After the last scrape (the end of the test data, as when a release's pods are gone) the
/// counts stop within 2.5 scrape intervals, as a range query stops at a stale series: no zeros
/// for the five minutes of Prometheus's lookback.
#[tokio::test]
async fn counts_stop_soon_after_the_last_scrape() {
    let Some(s) = server() else { return };
    let payments = Target::new(Environment::Production, "payments").with_namespace("shop");
    let range = TimeRange {
        start: s.end - chrono::Duration::seconds(60),
        end: s.end + chrono::Duration::seconds(300),
    };
    let q = MetricQuery::new(
        MetricKind::StatusCodes,
        payments,
        range,
        Duration::from_secs(10),
    )
    .for_release(release("v2.0.0"));
    let series = value(&source(&s), &q).await;
    assert_eq!(series.len(), 2, "{series:?}");
    for x in &series {
        let last = x.samples.last().expect("samples").at;
        assert!(
            last >= s.end && last < s.end + chrono::Duration::seconds(38),
            "{}: last point {}s after the last scrape",
            x.labels["code"],
            (last - s.end).num_seconds()
        );
    }
}

/// Sorts the series of a `LatencyHistogram` answer by bound and returns the bounds.
fn by_bound(series: &mut [Series]) -> Vec<String> {
    let bound = |s: &Series| match s.labels["le"].as_str() {
        "+Inf" => f64::INFINITY,
        le => le.parse::<f64>().expect("numeric le"),
    };
    series.sort_by(|a, b| bound(a).total_cmp(&bound(b)));
    series.iter().map(|s| s.labels["le"].clone()).collect()
}

/// `(le in ms, count)` pairs of a cumulative histogram.
fn buckets(les: &[f64], counts: &[u64]) -> Vec<(f64, u64)> {
    les.iter().copied().zip(counts.iter().copied()).collect()
}

#[tokio::test]
async fn latency_histogram_is_responses_per_step_per_bound_in_milliseconds() {
    let Some(s) = server() else { return };
    let src = source(&s);
    const LE_MS: [&str; 8] = ["50", "100", "250", "500", "1000", "2500", "5000", "+Inf"];
    let le_ms = [
        50.0,
        100.0,
        250.0,
        500.0,
        1000.0,
        2500.0,
        5000.0,
        f64::INFINITY,
    ];
    // Per 60 s step: four 15 s intervals of the test data's counts.
    for (version, per_step) in [
        (Some("v1.3.0"), [40u32, 120, 200, 280, 320, 360, 400, 400]),
        (Some("v1.2.9"), [160, 320, 380, 396, 400, 400, 400, 400]),
        (None, [200, 440, 580, 676, 720, 760, 800, 800]),
    ] {
        let q = query(&s, MetricKind::LatencyHistogram, checkout(), version);
        let mut series = value(&src, &q).await;
        assert_eq!(by_bound(&mut series), LE_MS, "{version:?}");
        for (one, expected) in series.iter().zip(per_step) {
            assert!(
                one.labels.keys().eq(["le"]),
                "{version:?}: {:?}",
                one.labels
            );
            assert_eq!(one.samples.len(), 30, "{version:?}: 30 minutes at 60 s");
            assert_constant(
                std::slice::from_ref(one),
                f64::from(expected),
                &format!("{version:?} le={}", one.labels["le"]),
            );
        }
        let steps = LatencyHistogram::from_series(&series).expect("a valid histogram answer");
        assert_eq!(steps.len(), 30, "{version:?}");
        assert_eq!(steps[0].0, q.range.start);
        let expected = buckets(&le_ms, &per_step.map(u64::from));
        for (at, h) in &steps {
            assert_eq!(h.buckets, expected, "{version:?} at {at}");
        }
    }
}

#[tokio::test]
async fn latency_histogram_and_status_codes_make_a_baseline() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let status = value(
        &src,
        &query(&s, MetricKind::StatusCodes, checkout(), Some("v1.2.9")),
    )
    .await;
    let histogram = value(
        &src,
        &query(&s, MetricKind::LatencyHistogram, checkout(), Some("v1.2.9")),
    )
    .await;
    let baseline =
        Baseline::from_series("v1.2.9", &status, Some(&histogram)).expect("a valid baseline");
    // 30 steps of 60 s at 20 req/s, 0.2/s of them 500s.
    assert_eq!(baseline.requests, 36_000);
    assert_eq!(baseline.errors, 360);
    let latency = baseline.latency.expect("a histogram");
    assert_eq!(
        latency.buckets,
        buckets(
            &[
                50.0,
                100.0,
                250.0,
                500.0,
                1000.0,
                2500.0,
                5000.0,
                f64::INFINITY
            ],
            &[4800, 9600, 11_400, 11_880, 12_000, 12_000, 12_000, 12_000],
        )
    );
    assert_eq!(latency.slower_than(250.0), Some(600));
}

#[tokio::test]
async fn latency_histogram_in_milliseconds_keeps_its_bounds() {
    let Some(s) = server() else { return };
    let c = PrometheusConfig::from_toml_str(&format!(
        r#"
        url = "{}"
        [labels]
        deployment = "app"
        namespace = "kube_namespace"
        version = "app_version"
        [metrics]
        latency_histogram = "legacy_request_latency_milliseconds"
        latency_unit = "milliseconds"
        "#,
        s.url
    ))
    .expect("valid config");
    let src = PrometheusSource::new(c).expect("valid");
    let q = query(&s, MetricKind::LatencyHistogram, checkout(), Some("v1.3.0"));
    let mut series = value(&src, &q).await;
    assert_eq!(by_bound(&mut series), ["50", "100", "250", "1000", "+Inf"]);
    for (one, expected) in series.iter().zip([80.0, 160.0, 220.0, 236.0, 240.0]) {
        assert_constant(std::slice::from_ref(one), expected, &one.labels["le"]);
    }
    let steps = LatencyHistogram::from_series(&series).expect("a valid histogram answer");
    assert_eq!(
        steps[0].1.buckets,
        buckets(
            &[50.0, 100.0, 250.0, 1000.0, f64::INFINITY],
            &[80, 160, 220, 236, 240]
        )
    );
    // The latency template is not scaled either: p50 is 75 ms, not 75 s.
    let q = query(
        &s,
        MetricKind::Latency(Quantile::P50),
        checkout(),
        Some("v1.3.0"),
    );
    assert_constant(&value(&src, &q).await, 75.0, "legacy p50");
}

#[tokio::test]
async fn custom_query_returns_its_series() {
    let Some(s) = server() else { return };
    let q = query(
        &s,
        MetricKind::Custom("queue_depth".into()),
        checkout(),
        None,
    );
    assert_constant(&value(&source(&s), &q).await, 42.0, "queue depth");
}

#[tokio::test]
async fn configured_metric_and_label_names_are_used_and_status_label_becomes_code() {
    let Some(s) = server() else { return };
    let c = PrometheusConfig::from_toml_str(&format!(
        r#"
        url = "{}"
        [labels]
        deployment = "app"
        namespace = "kube_namespace"
        version = "app_version"
        status = "status"
        [metrics]
        requests = "legacy_requests_total"
        "#,
        s.url
    ))
    .expect("valid config");
    let src = PrometheusSource::new(c).expect("valid");
    let q = query(&s, MetricKind::ErrorRate, checkout(), Some("v1.3.0"));
    assert_constant(&value(&src, &q).await, 0.25, "legacy error rate");
    let q = query(&s, MetricKind::StatusCodes, checkout(), Some("v1.3.0"));
    let mut series = value(&src, &q).await;
    series.sort_by(|a, b| a.labels.get("code").cmp(&b.labels.get("code")));
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].labels["code"], "200");
    assert!(!series[0].labels.contains_key("status"));
    assert_constant(&series[..1], 180.0, "legacy 200s per minute");
    assert_constant(&series[1..], 60.0, "legacy 500s per minute");
}

#[tokio::test]
async fn unknown_deployment_is_no_data_never_zero() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let ghost = Target::new(Environment::Production, "ghost").with_namespace("shop");
    for kind in [
        MetricKind::ErrorRate,
        MetricKind::RequestRate,
        MetricKind::Latency(Quantile::P95),
        MetricKind::CpuUtilization,
        MetricKind::MemoryUtilization,
        MetricKind::MemoryBytes,
        MetricKind::StatusCodes,
        MetricKind::LatencyHistogram,
        MetricKind::Custom("queue_depth".into()),
    ] {
        let q = query(&s, kind.clone(), ghost.clone(), None);
        assert_eq!(
            value(&src, &q).await,
            Vec::<Series>::new(),
            "{}",
            kind.name()
        );
    }
    // A release that never ran is no data too.
    let q = query(&s, MetricKind::ErrorRate, checkout(), Some("v9.9.9"));
    assert!(value(&src, &q).await.is_empty());
}

#[tokio::test]
async fn promql_in_a_deployment_name_or_revision_is_matched_literally_not_run() {
    let Some(s) = server() else { return };
    let src = source(&s);
    for name in [
        r#"checkout"}or(vector(1))#"#,
        r#"checkout\"}or(vector(1))#"#,
        r#"checkout",deployment=~".+"#,
        "checkout-.*",
    ] {
        let hostile = Target::new(Environment::Production, name).with_namespace("shop");
        for kind in [MetricKind::RequestRate, MetricKind::CpuUtilization] {
            let q = query(&s, kind.clone(), hostile.clone(), None);
            assert!(
                value(&src, &q).await.is_empty(),
                "{} for {name:?} returned data",
                kind.name()
            );
        }
    }
    let hostile_release = ReleaseRef {
        version: Version::parse("v1.3.0").expect("version"),
        revision: "checkout-.*".into(),
    };
    let q = query(&s, MetricKind::CpuUtilization, checkout(), None).for_release(hostile_release);
    assert!(value(&src, &q).await.is_empty(), "regex in revision ran");
}

#[tokio::test]
async fn deployment_name_with_quote_and_backslash_is_matched_exactly() {
    let Some(s) = server() else { return };
    let weird = Target::new(Environment::Production, r#"we"ird\name"#).with_namespace("shop");
    let q = query(&s, MetricKind::RequestRate, weird, None);
    assert_constant(&value(&source(&s), &q).await, 1.0, "weird request rate");
}

#[tokio::test]
async fn bad_promql_is_invalid_input_with_prometheus_own_message() {
    let Some(s) = server() else { return };
    let q = query(&s, MetricKind::Custom("broken".into()), checkout(), None);
    let err = source(&s).query(&q).await.expect_err("broken PromQL");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(!err.is_temporary());
    assert!(err.message().contains("parse error"), "{err}");
    assert!(err.to_string().contains("custom:broken"), "{err}");
}

#[tokio::test]
async fn instant_queries_return_one_sample_at_the_given_time() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let rel = release("v1.3.0");
    let series = src
        .instant(&MetricKind::ErrorRate, &checkout(), Some(&rel), s.end)
        .await
        .expect("instant query");
    assert_constant(&series, 0.2, "instant error rate");
    assert_eq!(series[0].samples[0].at, s.end);

    let raw = src
        .query_instant("sum(checkout_queue_depth)", s.end)
        .await
        .expect("raw instant query");
    assert_constant(&raw, 42.0, "raw instant");
    let scalar = src
        .query_instant("scalar(sum(checkout_queue_depth)) * 2", s.end)
        .await
        .expect("scalar");
    assert_constant(&scalar, 84.0, "scalar");
}

#[tokio::test]
async fn raw_range_query_returns_labelled_series() {
    let Some(s) = server() else { return };
    let range = TimeRange::ending_at(s.end, Duration::from_secs(600));
    let series = source(&s)
        .query_range(
            r#"sum by (version) (rate(http_requests_total{deployment="checkout",namespace="shop"}[2m]))"#,
            range,
            Duration::from_secs(60),
        )
        .await
        .expect("range query");
    let mut versions: Vec<&str> = series
        .iter()
        .map(|x| x.labels["version"].as_str())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, ["v1.2.9", "v1.3.0"]);
}

#[tokio::test]
async fn validate_reports_the_queries_that_return_nothing() {
    let Some(s) = server() else { return };
    let src = source(&s);
    let kinds = src.kinds();
    let report = src
        .validate_at(&kinds, &checkout(), s.end)
        .await
        .expect("valid target");
    let no_data: Vec<String> = report.no_data().iter().map(|k| k.name()).collect();
    assert_eq!(no_data, ["custom:missing"], "{report}");
    let failed: Vec<String> = report.failed().iter().map(|(k, _)| k.name()).collect();
    assert_eq!(failed, ["custom:broken"], "{report}");
    for c in &report.checks {
        if c.kind == MetricKind::ErrorRate {
            assert!(matches!(c.outcome, KindOutcome::Data { series: 1 }));
        }
        if c.kind == MetricKind::LatencyHistogram {
            // One series per bound, 0.05 s to +Inf.
            assert!(
                matches!(c.outcome, KindOutcome::Data { series: 8 }),
                "{report}"
            );
        }
    }
    let err = report.into_result().expect_err("not all queries have data");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("NO DATA custom:missing"), "{err}");

    // For a deployment that does not exist, every query is reported.
    let ghost = Target::new(Environment::Production, "ghost").with_namespace("shop");
    let report = src
        .validate_at(
            &[MetricKind::ErrorRate, MetricKind::CpuUtilization],
            &ghost,
            s.end,
        )
        .await
        .expect("valid target");
    assert_eq!(report.no_data().len(), 2, "{report}");
}

#[tokio::test]
async fn validate_reports_a_missing_histogram_without_failing() {
    let Some(s) = server() else { return };
    let mut c = PrometheusConfig::new(s.url.clone());
    c.metrics.latency_histogram = "no_such_duration_seconds".into();
    let src = PrometheusSource::new(c).expect("valid");
    let report = src
        .validate_at(
            &[
                MetricKind::ErrorRate,
                MetricKind::StatusCodes,
                MetricKind::LatencyHistogram,
            ],
            &checkout(),
            s.end,
        )
        .await
        .expect("valid target");
    let no_data: Vec<String> = report.no_data().iter().map(|k| k.name()).collect();
    assert_eq!(no_data, ["latency_histogram"], "{report}");
    assert!(
        report
            .to_string()
            .contains("NO DATA (optional) latency_histogram: no_such_duration_seconds_bucket{"),
        "{report}"
    );
    assert!(report.is_ok(), "{report}");
    assert!(report.into_result().is_ok());

    // The latency percentiles read the same histogram and are required.
    let report = src
        .validate_at(&src.kinds(), &checkout(), s.end)
        .await
        .expect("valid target");
    let no_data: Vec<String> = report.no_data().iter().map(|k| k.name()).collect();
    assert_eq!(
        no_data,
        [
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "latency_histogram"
        ],
        "{report}"
    );
    assert!(report.into_result().is_err());
}

#[tokio::test]
async fn validate_of_a_fitting_config_is_ok() {
    let Some(s) = server() else { return };
    let src = PrometheusSource::new(PrometheusConfig::new(s.url.clone())).expect("valid");
    let report = src
        .validate_at(&src.kinds(), &checkout(), s.end)
        .await
        .expect("valid target");
    assert!(report.is_ok(), "{report}");
    assert!(report.into_result().is_ok());
}
