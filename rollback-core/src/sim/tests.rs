//! Behaviour of the simulation: scenario validation, exact incident figures, determinism,
//! platform semantics, faults and accounting.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::{
    ErrorKind, MetricKind, MetricQuery, MetricsSource, Platform, Quantile, Release, ReleaseMark,
    ReleaseState, Series, TimeRange, TrafficSplit,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ago(now: DateTime<Utc>, s: i64) -> DateTime<Utc> {
    now - chrono::Duration::seconds(s)
}

async fn query(
    sim: &Simulation,
    kind: MetricKind,
    release: Option<&Release>,
    window: u64,
    step: u64,
) -> Vec<Series> {
    let now = sim.clock().now();
    let mut q = MetricQuery::new(
        kind,
        sim.target(),
        TimeRange::ending_at(now, secs(window)),
        secs(step),
    );
    if let Some(r) = release {
        q = q.for_release(r.reference());
    }
    sim.metrics().query(&q).await.expect("query")
}

async fn mean_last_minute(sim: &Simulation, kind: MetricKind, release: Option<&Release>) -> f64 {
    let now = sim.clock().now();
    let series = query(sim, kind, release, 300, 10).await;
    series[0].mean_since(ago(now, 60)).expect("samples")
}

fn release(sim: &Simulation, version: &str) -> Release {
    sim.releases(&sim.target())
        .expect("releases")
        .into_iter()
        .find(|r| r.version.as_str() == version)
        .expect("release")
}

const MINIMAL: &str = r#"
name = "t"
now = "2024-01-15T14:30:00Z"
environment = "production"
deployment = "api"
traffic = { "v2" = 100 }

[[releases]]
version = "v2"
state = "serving"
deployed_at = "-5m"

[[releases]]
version = "v1"
state = "standby"
deployed_at = "-1d"
retired_at = "-5m"
"#;

fn parse_err(text: &str) -> String {
    let e = Scenario::from_toml(text).expect_err("should be refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    e.to_string()
}

#[test]
fn every_builtin_scenario_parses_and_validates() {
    for name in Scenario::builtin_names() {
        let s = Scenario::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.name(), *name);
        assert!(!s.releases().is_empty());
    }
    assert_eq!(Scenario::builtin_names()[0], DEFAULT_SCENARIO);
    let e = Scenario::builtin("nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("spec-incident"), "{e}");
}

#[test]
fn minimal_scenario_parses_with_defaults() {
    let s = Scenario::from_toml(MINIMAL).unwrap();
    assert_eq!(s.router(), Router::BlueGreen);
    let caps = s.capabilities();
    assert!(caps.traffic_switch && !caps.weighted_traffic && caps.revert && caps.lock);
    let r = s.releases();
    assert!(r[0].revision.starts_with("api-"));
    assert_eq!(r[0].replicas.ready, 3);
    assert_eq!(r[1].state, ReleaseState::Standby);
}

#[test]
fn scenario_errors_name_the_field_and_what_is_accepted() {
    let e = parse_err(&MINIMAL.replace("version = \"v1\"", "version = \"v1\"\nerror_rate = -1.0"));
    assert!(
        e.contains("releases[1].error_rate: -1 is out of range, expected 0..=1"),
        "{e}"
    );

    let e = parse_err(&MINIMAL.replace("{ \"v2\" = 100 }", "{ \"v9\" = 100 }"));
    assert!(
        e.contains("traffic.\"v9\"") && e.contains("expected one of v2, v1"),
        "{e}"
    );

    let e = parse_err(&MINIMAL.replace("{ \"v2\" = 100 }", "{ \"v2\" = 90 }"));
    assert!(
        e.contains("traffic: weights sum to 90, expected exactly 100"),
        "{e}"
    );

    let e = parse_err(&MINIMAL.replace("version = \"v1\"", "version = \"v2\""));
    assert!(
        e.contains("releases[1].version") && e.contains("duplicates releases[0]"),
        "{e}"
    );

    let e = parse_err(&format!(
        "{MINIMAL}\n[[faults]]\noperation = \"delete\"\nkind = \"unavailable\"\n"
    ));
    assert!(
        e.contains("faults[0].operation") && e.contains("expected one of releases, traffic"),
        "{e}"
    );

    let e = parse_err(&format!(
        "{MINIMAL}\n[[faults]]\noperation = \"revert\"\nkind = \"exploded\"\n"
    ));
    assert!(
        e.contains("faults[0].kind") && e.contains("timed_out"),
        "{e}"
    );

    let e = parse_err(&MINIMAL.replace("deployed_at = \"-5m\"", "deployed_at = \"yesterday\""));
    assert!(
        e.contains("releases[0].deployed_at") && e.contains("RFC 3339"),
        "{e}"
    );

    let e = parse_err(&format!(
        "{MINIMAL}\n[[releases.failures]]\nkind = \"meltdown\"\nto = 1.0\n"
    ));
    assert!(
        e.contains("releases[1].failures[0].kind") && e.contains("crash_loop"),
        "{e}"
    );

    let e = parse_err(&format!(
        "{MINIMAL}\n[[releases.logs]]\nrate = 1\nlines = [\"{{ts}} {{nope}}\"]\n"
    ));
    assert!(
        e.contains("releases[1].logs[0].lines[0]") && e.contains("{nope}"),
        "{e}"
    );

    let e = parse_err(
        &MINIMAL
            .replace("router", "x")
            .replace("name = \"t\"", "name = \"t\"\ncolour = 1"),
    );
    assert!(e.contains("colour"), "{e}");

    let e = parse_err(&MINIMAL.replace("state = \"standby\"", "state = \"asleep\""));
    assert!(
        e.contains("releases[1].state") && e.contains("serving, standby, inactive"),
        "{e}"
    );
}

#[test]
fn scenario_refuses_traffic_on_a_release_that_is_not_serving() {
    let text = MINIMAL
        .replace("{ \"v2\" = 100 }", "{ \"v2\" = 50, \"v1\" = 50 }")
        .replace("environment", "router = \"weighted\"\nenvironment");
    let e = parse_err(&text);
    assert!(
        e.contains("releases[1].state") && e.contains("not serving"),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn spec_incident_figures_in_the_last_minute_are_exact() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v130 = release(&sim, "v1.3.0");
    for who in [None, Some(&v130)] {
        let er = mean_last_minute(&sim, MetricKind::ErrorRate, who).await;
        assert!((er - 0.124).abs() < 1e-12, "{er}");
        assert_eq!(MetricKind::ErrorRate.format_value(er), "12.4%");
        let p95 = mean_last_minute(&sim, MetricKind::Latency(Quantile::P95), who).await;
        assert!((p95 - 3245.0).abs() < 1e-9, "{p95}");
        let cpu = mean_last_minute(&sim, MetricKind::CpuUtilization, who).await;
        assert!((cpu - 98.0).abs() < 1e-9, "{cpu}");
        let mem = mean_last_minute(&sim, MetricKind::MemoryUtilization, who).await;
        assert!((mem - 92.0).abs() < 1e-9, "{mem}");
        let bytes = mean_last_minute(&sim, MetricKind::MemoryBytes, who).await;
        assert!((bytes - 892e6).abs() < 1e-3, "{bytes}");
    }
}

#[tokio::test(start_paused = true)]
async fn spec_incident_status_codes_over_five_minutes_are_exact() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v130 = release(&sim, "v1.3.0");
    for step in [10, 15, 60] {
        for who in [None, Some(&v130)] {
            let series = query(&sim, MetricKind::StatusCodes, who, 300, step).await;
            let sum = |code: &str| -> f64 {
                series
                    .iter()
                    .find(|s| s.labels.get("code").map(String::as_str) == Some(code))
                    .map(|s| s.samples.iter().map(|x| x.value).sum())
                    .unwrap_or(-1.0)
            };
            assert_eq!(sum("500"), 827.0, "step {step}");
            assert_eq!(sum("503"), 284.0, "step {step}");
            assert_eq!(sum("504"), 123.0, "step {step}");
            assert!(sum("200") > 10_000.0);
            for s in &series {
                assert!(s
                    .samples
                    .iter()
                    .all(|x| x.value >= 0.0 && x.value.fract() == 0.0));
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn spec_incident_stable_release_history_is_healthy() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v129 = release(&sim, "v1.2.9");
    assert_eq!(v129.state, ReleaseState::Standby);
    assert_eq!(v129.mark, ReleaseMark::Verified);
    assert_eq!(v129.replicas.ready, 6);
    let now = sim.clock().now();
    // An hour of its serving history, ending at v1.3.0's deploy.
    let end = ago(now, 9 * 60);
    let q = MetricQuery::new(
        MetricKind::ErrorRate,
        sim.target(),
        TimeRange::ending_at(end, secs(3600)),
        secs(60),
    )
    .for_release(v129.reference());
    let s = sim.metrics().query(&q).await.unwrap();
    let mean = s[0].mean_since(ago(end, 3600)).unwrap();
    assert_eq!(MetricKind::ErrorRate.format_value(mean), "0.02%");
    let q = MetricQuery {
        kind: MetricKind::Latency(Quantile::P95),
        ..q
    };
    let s = sim.metrics().query(&q).await.unwrap();
    let p95 = s[0].mean_since(ago(end, 3600)).unwrap();
    assert_eq!(MetricKind::Latency(Quantile::P95).format_value(p95), "84ms");
    let q = MetricQuery {
        kind: MetricKind::Custom("uptime".into()),
        ..q
    };
    let s = sim.metrics().query(&q).await.unwrap();
    assert!((s[0].samples[0].value - 0.9998).abs() < 1e-12);
    // Since v1.3.0 took over, v1.2.9 has no traffic: no error-rate data, but its pods run.
    let errors = query(&sim, MetricKind::ErrorRate, Some(&v129), 300, 10).await;
    assert!(errors.is_empty());
    let cpu = query(&sim, MetricKind::CpuUtilization, Some(&v129), 300, 10).await;
    assert_eq!(cpu[0].samples.len(), 30);
}

#[tokio::test(start_paused = true)]
async fn a_release_that_never_ran_has_no_data() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v128 = release(&sim, "v1.2.8");
    assert!(
        query(&sim, MetricKind::CpuUtilization, Some(&v128), 600, 10)
            .await
            .is_empty()
    );
    let v130 = release(&sim, "v1.3.0");
    // Before its deploy nine minutes ago: the first 60 s of a 10-minute window have no samples.
    let s = query(&sim, MetricKind::ErrorRate, Some(&v130), 600, 10).await;
    assert_eq!(s[0].samples.len(), 54);
}

#[tokio::test(start_paused = true)]
async fn same_seed_gives_the_same_series_and_another_seed_other_noise() {
    let a = Simulation::builtin("staging-canary").unwrap();
    let b = Simulation::builtin("staging-canary").unwrap();
    let scenario = Scenario::builtin("staging-canary").unwrap().with_seed(8);
    let c = Simulation::new(scenario.clone(), scenario.clock());
    let kind = MetricKind::Latency(Quantile::P95);
    let sa = query(&a, kind.clone(), None, 1800, 10).await;
    let sb = query(&b, kind.clone(), None, 1800, 10).await;
    let sc = query(&c, kind.clone(), None, 1800, 10).await;
    assert_eq!(sa, sb);
    assert_ne!(sa, sc);
    assert_eq!(sa[0].samples.len(), sc[0].samples.len());
    // The same query twice on one simulation gives the same answer.
    assert_eq!(sa, query(&a, kind, None, 1800, 10).await);
}

#[tokio::test(start_paused = true)]
async fn moving_traffic_moves_target_metrics() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let target = sim.target();
    let v129 = release(&sim, "v1.2.9");
    sim.platform()
        .set_traffic(&target, &TrafficSplit::all_to(&v129))
        .await
        .unwrap();
    tokio::time::advance(secs(120)).await;
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, None).await;
    assert!(er < 0.001, "{er}");
    let p95 = mean_last_minute(&sim, MetricKind::Latency(Quantile::P95), None).await;
    assert!(p95 < 100.0, "{p95}");
    // v1.3.0 no longer receives traffic: no error-rate data for it in the last minute.
    let v130 = release(&sim, "v1.3.0");
    assert_eq!(v130.state, ReleaseState::Standby);
    let s = query(&sim, MetricKind::ErrorRate, Some(&v130), 60, 10).await;
    assert!(s.is_empty());
}

#[tokio::test(start_paused = true)]
async fn traffic_is_refused_for_a_release_without_ready_capacity() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let target = sim.target();
    let v128 = release(&sim, "v1.2.8");
    let e = sim
        .platform()
        .set_traffic(&target, &TrafficSplit::all_to(&v128))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert!(e.to_string().contains("v1.2.8"), "{e}");
    assert!(sim
        .traffic(&target)
        .unwrap()
        .is_all_to(&release(&sim, "v1.3.0").revision));
}

#[tokio::test(start_paused = true)]
async fn blue_green_router_refuses_a_divided_split_and_no_router_refuses_any() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let (a, b) = (release(&sim, "v1.3.0"), release(&sim, "v1.2.9"));
    let split = TrafficSplit::shift(&a, &b, 50).unwrap();
    let e = sim
        .platform()
        .set_traffic(&sim.target(), &split)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    let dev = Simulation::builtin("dev-no-bluegreen").unwrap();
    let r = release(&dev, "v0.9.1");
    let e = dev
        .platform()
        .set_traffic(&dev.target(), &TrafficSplit::all_to(&r))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(!dev.platform().capabilities().traffic_switch);
}

#[tokio::test(start_paused = true)]
async fn revert_serves_the_target_once_its_pods_are_ready() {
    let sim = Simulation::builtin("dev-no-bluegreen").unwrap();
    let target = sim.target();
    let p = sim.platform();
    let (old, to) = (release(&sim, "v0.9.1"), release(&sim, "v0.9.0"));
    let h = p.health(&target, &old).await.unwrap();
    assert!(h.problems.contains(&"CrashLoopBackOff".to_owned()), "{h:?}");
    assert!(h.restarts > 0);
    assert_eq!(h.ready, 0);

    p.revert(&target, &to).await.unwrap();
    p.revert(&target, &to).await.unwrap(); // idempotent
    let now = release(&sim, "v0.9.0");
    assert_eq!(now.state, ReleaseState::Serving);
    assert_eq!(release(&sim, "v0.9.1").state, ReleaseState::Inactive);
    assert_eq!(p.health(&target, &to).await.unwrap().ready, 0);
    assert!(sim.traffic(&target).unwrap().is_all_to(&old.revision));

    tokio::time::advance(secs(20)).await;
    assert!(sim.traffic(&target).unwrap().is_all_to(&to.revision));
    let h = p.health(&target, &to).await.unwrap();
    assert_eq!((h.desired, h.ready), (2, 2));
    assert!(h.is_healthy());
    tokio::time::advance(secs(90)).await;
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, None).await;
    assert!(er < 0.01, "{er}");
}

#[tokio::test(start_paused = true)]
async fn cascade_stable_release_degrades_once_it_takes_traffic() {
    let sim = Simulation::builtin("cascade").unwrap();
    let target = sim.target();
    let v129 = release(&sim, "v1.2.9");
    // Its history is healthy.
    let cpu = mean_last_minute(&sim, MetricKind::CpuUtilization, Some(&v129)).await;
    assert!(cpu < 40.0, "{cpu}");
    sim.platform()
        .set_traffic(&target, &TrafficSplit::all_to(&v129))
        .await
        .unwrap();
    tokio::time::advance(secs(120)).await;
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, None).await;
    assert!((er - 0.06).abs() < 1e-12, "{er}");
    // One further back is healthy: revert to v1.2.8.
    let v128 = release(&sim, "v1.2.8");
    sim.platform().revert(&target, &v128).await.unwrap();
    tokio::time::advance(secs(120)).await;
    assert!(sim.traffic(&target).unwrap().is_all_to(&v128.revision));
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, None).await;
    assert!(er < 0.001, "{er}");
    let r = release(&sim, "v1.2.8");
    assert_eq!((r.replicas.desired, r.replicas.ready), (6, 6));
}

#[tokio::test(start_paused = true)]
async fn gradual_shift_overloads_an_under_provisioned_target_past_half() {
    let sim = Simulation::builtin("gradual-overload").unwrap();
    let target = sim.target();
    let (canary, stable) = (release(&sim, "v3.1.0"), release(&sim, "v3.0.4"));
    let p = sim.platform();
    p.set_traffic(&target, &TrafficSplit::shift(&canary, &stable, 50).unwrap())
        .await
        .unwrap();
    tokio::time::advance(secs(90)).await;
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, Some(&stable)).await;
    assert!(er < 0.01, "at 50%: {er}");
    p.set_traffic(&target, &TrafficSplit::shift(&canary, &stable, 75).unwrap())
        .await
        .unwrap();
    tokio::time::advance(secs(90)).await;
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, Some(&stable)).await;
    assert!(er > 0.05, "at 75%: {er}");
    let p95 = mean_last_minute(&sim, MetricKind::Latency(Quantile::P95), Some(&stable)).await;
    assert!(p95 > 300.0, "{p95}");
}

#[tokio::test(start_paused = true)]
async fn lock_conflict_names_the_holder_and_expires_with_virtual_time() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let target = sim.target();
    let p = sim.platform();
    let lease = p
        .lock(&target, "rollback@ci-runner-7", secs(60))
        .await
        .unwrap();
    let renewed = p
        .lock(&target, "rollback@ci-runner-7", secs(60))
        .await
        .unwrap();
    assert_eq!(lease.token, renewed.token);
    let e = p
        .lock(&target, "rollback@laptop", secs(60))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.to_string().contains("rollback@ci-runner-7"), "{e}");
    tokio::time::advance(secs(61)).await;
    let taken = p.lock(&target, "rollback@laptop", secs(60)).await.unwrap();
    assert_eq!(taken.holder, "rollback@laptop");
    // The old holder's unlock does not release the new lease.
    assert!(p.unlock(&target, &lease).await.is_err());
    p.unlock(&target, &taken).await.unwrap();
    p.unlock(&target, &taken).await.unwrap(); // idempotent
    assert!(sim.lease(&target).unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn faults_fire_the_configured_number_of_times() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let target = sim.target();
    let p = sim.platform();
    sim.inject(
        Fault::new(Operation::Traffic, FaultKind::Unavailable)
            .after(1)
            .times(2),
    );
    let results: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(p.traffic(&target).await.is_ok());
        }
        v
    };
    assert_eq!(results, [true, false, false, true]);

    sim.inject(Fault::new(Operation::Query, FaultKind::TimedOut).always());
    for _ in 0..3 {
        let e = query_err(&sim).await;
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(e.is_temporary());
    }
    sim.clear_faults();
    assert!(p.releases(&target).await.is_ok());
}

async fn query_err(sim: &Simulation) -> crate::Error {
    let q = MetricQuery::new(
        MetricKind::ErrorRate,
        sim.target(),
        TimeRange::ending_at(sim.clock().now(), secs(60)),
        secs(10),
    );
    sim.metrics().query(&q).await.unwrap_err()
}

#[tokio::test(start_paused = true)]
async fn scenario_faults_and_latency_apply() {
    let text = format!(
        "{MINIMAL}\n[[faults]]\noperation = \"revert\"\nkind = \"permission_denied\"\n\
         times = \"always\"\nlatency = \"2s\"\n"
    );
    let s = Scenario::from_toml(&text).unwrap();
    let sim = Simulation::new(s.clone(), s.clock());
    let start = tokio::time::Instant::now();
    let v1 = release(&sim, "v1");
    let e = sim.platform().revert(&sim.target(), &v1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(!e.is_temporary());
    assert_eq!(start.elapsed(), secs(2));
    sim.set_call_latency(Duration::from_millis(250));
    sim.platform().releases(&sim.target()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(2250));
}

#[tokio::test(start_paused = true)]
async fn call_accounting_counts_mutating_calls() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let target = sim.target();
    let p = sim.platform();
    let v129 = release(&sim, "v1.2.9");
    let v130 = release(&sim, "v1.3.0");
    p.releases(&target).await.unwrap();
    p.traffic(&target).await.unwrap();
    p.health(&target, &v129).await.unwrap();
    let lease = p.lock(&target, "me", secs(30)).await.unwrap();
    assert_eq!(sim.mutating_calls(), 0);
    p.set_traffic(&target, &TrafficSplit::all_to(&v129))
        .await
        .unwrap();
    p.mark(&target, &v130, ReleaseMark::Failed, "error rate 12.4%")
        .await
        .unwrap();
    p.scale(&target, &v130, 0).await.unwrap();
    let _ = p.set_traffic(&target, &TrafficSplit::all_to(&v130)).await; // refused: no capacity
    p.unlock(&target, &lease).await.unwrap();
    assert_eq!(sim.mutating_calls(), 4);
    let calls = sim.calls();
    assert_eq!(calls.len(), 9);
    assert!(!calls[7].ok && calls[7].mutating);
    assert_eq!(calls[7].operation, Operation::SetTraffic);
    let r = release(&sim, "v1.3.0");
    assert_eq!(r.mark, ReleaseMark::Failed);
    assert_eq!(r.state, ReleaseState::Inactive);
    assert_eq!(sim.data_restores(), 0);
}

#[tokio::test(start_paused = true)]
async fn unknown_target_and_release_are_not_found() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let mut other = sim.target();
    other.deployment = "web".into();
    let e = sim.platform().releases(&other).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("api-service"), "{e}");
    let ghost = Release::new(crate::Version::parse("v9.9.9").unwrap(), "ghost");
    let e = sim
        .platform()
        .revert(&sim.target(), &ghost)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("v1.2.8"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn target_copies_are_independent() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let copies: Vec<_> = (0..50)
        .map(|i| sim.add_target_copy(&format!("api-{i}")).unwrap())
        .collect();
    assert!(sim.add_target_copy("api-3").is_err());
    assert_eq!(sim.targets().len(), 51);
    let v129 = release(&sim, "v1.2.9");
    sim.platform()
        .set_traffic(&copies[0], &TrafficSplit::all_to(&v129))
        .await
        .unwrap();
    assert!(sim.traffic(&copies[0]).unwrap().is_all_to(&v129.revision));
    assert!(!sim.traffic(&copies[1]).unwrap().is_all_to(&v129.revision));
    assert!(!sim
        .traffic(&sim.target())
        .unwrap()
        .is_all_to(&v129.revision));
}

#[tokio::test(start_paused = true)]
async fn spec_incident_health_shows_restarts_and_oom_kills() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v130 = release(&sim, "v1.3.0");
    let h = sim.platform().health(&sim.target(), &v130).await.unwrap();
    assert_eq!((h.desired, h.ready), (6, 4));
    assert!(h.restarts >= 6, "{h:?}");
    assert!(h.problems.contains(&"OOMKilled".to_owned()));
    let v129 = release(&sim, "v1.2.9");
    let h = sim.platform().health(&sim.target(), &v129).await.unwrap();
    assert!(h.is_healthy());
    assert_eq!(h.restarts, 0);
}

#[tokio::test(start_paused = true)]
async fn spec_incident_evidence_holds_the_three_causes_only_in_the_failing_release() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let now = sim.clock().now();
    let window = TimeRange::ending_at(now, secs(600));
    let v130 = release(&sim, "v1.3.0");
    let ev = sim
        .platform()
        .evidence(&sim.target(), &v130, &window)
        .await
        .unwrap();
    let text: Vec<&str> = ev.logs.iter().map(|l| l.line.as_str()).collect();
    let has = |s: &str| text.iter().any(|l| l.contains(s));
    assert!(has(
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
    ));
    assert!(has(
        "at CacheService.set (/app/src/services/cache.service.ts:156:12)"
    ));
    assert!(has("SELECT * FROM users"));
    assert!(has(
        "at UsersController.getUsers (/app/src/api/users/get-users.controller.ts:42:18)"
    ));
    assert!(has("UnhandledPromiseRejectionWarning"));
    assert!(has(
        "at AuthMiddleware.verify (/app/src/middleware/auth.middleware.ts:67:9)"
    ));
    let orders = text
        .iter()
        .filter(|l| l.contains("SELECT * FROM orders WHERE user_id = $1"))
        .count();
    assert!(orders > 200, "{orders}");
    let info = text.iter().filter(|l| l.contains(" INFO ")).count();
    let errors = text.iter().filter(|l| l.contains(" ERROR ")).count();
    assert!(info > errors * 3, "info {info}, errors {errors}");
    assert!(text[0].starts_with("2024-01-15T14:2"), "{}", text[0]);
    assert!(ev.logs.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(ev
        .logs
        .iter()
        .all(|l| l.source.starts_with("api-service-7d9f8c4b6-")
            && l.source.len() == "api-service-7d9f8c4b6-".len() + 5));
    assert!(!ev.truncated);
    let reasons: Vec<&str> = ev.events.iter().map(|e| e.reason.as_str()).collect();
    for r in ["ScalingReplicaSet", "BackOff", "OOMKilled", "Unhealthy"] {
        assert!(reasons.contains(&r), "{reasons:?}");
    }

    // The same window again gives the same evidence.
    let again = sim
        .platform()
        .evidence(&sim.target(), &v130, &window)
        .await
        .unwrap();
    assert_eq!(ev, again);

    // v1.2.9, over the last ten minutes of its service, has none of it.
    let v129 = release(&sim, "v1.2.9");
    let served = TimeRange::ending_at(ago(now, 540), secs(600));
    let base = sim
        .platform()
        .evidence(&sim.target(), &v129, &served)
        .await
        .unwrap();
    assert!(base.logs.len() > 500);
    assert!(base.logs.iter().all(|l| !l.line.contains("FATAL")
        && !l.line.contains("UnhandledPromiseRejection")
        && !l.line.contains("SELECT * FROM orders")));
}

#[tokio::test(start_paused = true)]
async fn evidence_is_bounded_and_says_when_it_was_truncated() {
    let text = MINIMAL.replace(
        "deployed_at = \"-5m\"",
        "deployed_at = \"-5m\"\n[[releases.logs]]\nrate = 600\nlines = [\"{ts} INFO [x] hello {req_id}\"]",
    );
    let s = Scenario::from_toml(&format!("evidence_limit = 100\n{text}")).unwrap();
    let sim = Simulation::new(s.clone(), s.clock());
    let v2 = release(&sim, "v2");
    let window = TimeRange::ending_at(sim.clock().now(), secs(300));
    let ev = sim
        .platform()
        .evidence(&sim.target(), &v2, &window)
        .await
        .unwrap();
    assert_eq!(ev.logs.len(), 100);
    assert!(ev.truncated);
    // The newest lines are kept.
    let last = ev.logs.last().unwrap().at.unwrap();
    assert!(last > ago(sim.clock().now(), 2));
}

#[tokio::test(start_paused = true)]
async fn data_guard_counts_restores() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let g = sim.data_guard();
    let (a, b) = (release(&sim, "v1.3.0"), release(&sim, "v1.2.9"));
    let out = crate::DataGuard::compatible(&g, &sim.target(), &a, &b)
        .await
        .unwrap();
    assert_eq!(out.status, crate::CheckStatus::Pass);
    crate::DataGuard::restore(&g, &sim.target(), &b)
        .await
        .unwrap();
    assert_eq!(sim.data_restores(), 1);
    assert_eq!(sim.mutating_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn custom_queries_other_than_uptime_are_invalid_input() {
    let sim = Simulation::builtin("healthy").unwrap();
    let q = MetricQuery::new(
        MetricKind::Custom("saturation".into()),
        sim.target(),
        TimeRange::ending_at(sim.clock().now(), secs(60)),
        secs(10),
    );
    let e = sim.metrics().query(&q).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("uptime"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn healthy_scenario_is_within_the_production_sla() {
    let sim = Simulation::builtin("healthy").unwrap();
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, None).await;
    let p95 = mean_last_minute(&sim, MetricKind::Latency(Quantile::P95), None).await;
    let cpu = mean_last_minute(&sim, MetricKind::CpuUtilization, None).await;
    let mem = mean_last_minute(&sim, MetricKind::MemoryUtilization, None).await;
    assert!(
        er < 0.001 && p95 < 100.0 && cpu < 80.0 && mem < 85.0,
        "{er} {p95} {cpu} {mem}"
    );
}

#[tokio::test(start_paused = true)]
async fn staging_canary_fails_on_the_canary_only() {
    let sim = Simulation::builtin("staging-canary").unwrap();
    let canary = release(&sim, "v2.4.0");
    let stable = release(&sim, "v2.3.1");
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, Some(&canary)).await;
    assert!((er - 0.08).abs() < 1e-12, "{er}");
    let er = mean_last_minute(&sim, MetricKind::ErrorRate, Some(&stable)).await;
    assert!(er < 0.01, "{er}");
    let split = sim.traffic(&sim.target()).unwrap();
    assert_eq!(split.percent_for(&canary.revision), 30);
    assert!(sim.platform().capabilities().weighted_traffic);
}

#[tokio::test(start_paused = true)]
#[ignore = "prints a sample of the spec incident's evidence"]
async fn print_spec_incident_evidence() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    let now = sim.clock().now();
    let v130 = release(&sim, "v1.3.0");
    let ev = sim
        .platform()
        .evidence(&sim.target(), &v130, &TimeRange::ending_at(now, secs(600)))
        .await
        .unwrap();
    println!("{} lines", ev.logs.len());
    for l in ev.logs.iter().skip(1500).take(140) {
        println!("{} | {}", l.source, l.line);
    }
    for e in &ev.events {
        println!("{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_thousand_target_copies_serve_concurrent_calls() {
    let sim = Simulation::builtin("spec-incident").unwrap();
    sim.set_call_latency(Duration::from_millis(5));
    let targets: Vec<_> = (0..1000)
        .map(|i| sim.add_target_copy(&format!("api-{i:04}")).unwrap())
        .collect();
    let v129 = release(&sim, "v1.2.9");
    let runs = targets.iter().map(|t| {
        let (p, m, v129, clock) = (sim.platform(), sim.metrics(), v129.clone(), sim.clock());
        async move {
            p.set_traffic(t, &TrafficSplit::all_to(&v129)).await?;
            let q = MetricQuery::new(
                MetricKind::StatusCodes,
                t.clone(),
                TimeRange::ending_at(clock.now(), secs(300)),
                secs(10),
            );
            m.query(&q).await
        }
    });
    let results = futures::future::join_all(runs).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|s| s.len() == 4)));
    assert_eq!(sim.mutating_calls(), 1000);
}

#[tokio::test(start_paused = true)]
async fn spec_incident_latency_histogram_matches_the_counts_and_the_quantiles() {
    use crate::sequential::LatencyHistogram;
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v130 = release(&sim, "v1.3.0");
    let hist = query(&sim, MetricKind::LatencyHistogram, Some(&v130), 300, 10).await;
    let codes = query(&sim, MetricKind::StatusCodes, Some(&v130), 300, 10).await;
    let total: f64 = codes.iter().flat_map(|s| &s.samples).map(|x| x.value).sum();
    let steps = LatencyHistogram::from_series(&hist).expect("parses");
    assert_eq!(steps.len(), 30);
    let sum = |le: f64| -> u64 {
        steps
            .iter()
            .map(|(_, h)| h.buckets.iter().find(|b| b.0 == le).unwrap().1)
            .sum()
    };
    assert_eq!(sum(f64::INFINITY) as f64, total);
    // p95 is 3,245 ms: fewer than 95 % at or below 2.5 s, at least 95 % at or below 5 s.
    let share = |le: f64| sum(le) as f64 / total;
    assert!(share(2500.0) < 0.95, "{}", share(2500.0));
    assert!(share(5000.0) >= 0.95, "{}", share(5000.0));
    assert!(share(10.0) < share(250.0));
}

#[tokio::test(start_paused = true)]
async fn spec_incident_latency_shifted_against_the_hour_before_the_deploy() {
    use crate::sequential::{
        Baseline, DetectorConfig, DetectorState, RegressionConfig, SequentialDetector, TestKind,
    };
    let sim = Simulation::builtin("spec-incident").unwrap();
    let v130 = release(&sim, "v1.3.0");
    let deployed = v130.deployed_at.expect("deployed_at");
    let before = |kind| {
        MetricQuery::new(
            kind,
            sim.target(),
            TimeRange::ending_at(deployed, secs(3600)),
            secs(60),
        )
    };
    let status = sim
        .metrics()
        .query(&before(MetricKind::StatusCodes))
        .await
        .unwrap();
    let hist = sim
        .metrics()
        .query(&before(MetricKind::LatencyHistogram))
        .await
        .unwrap();
    let base = Baseline::from_series("the hour before the deploy", &status, Some(&hist)).unwrap();
    assert!(base.requests > 10_000, "{base:?}");
    let now_hist = query(&sim, MetricKind::LatencyHistogram, Some(&v130), 300, 10).await;
    let now_codes = query(&sim, MetricKind::StatusCodes, Some(&v130), 300, 10).await;
    let cfg = DetectorConfig {
        regression: Some(RegressionConfig::default()),
        error_rate: crate::policy::Threshold::new(0.5, None),
        ..DetectorConfig::default()
    };
    let mut d = SequentialDetector::with_baseline(cfg, base).unwrap();
    d.observe_series(&now_codes, None, Some(&now_hist)).unwrap();
    let v = d.verdict();
    assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
    assert!(
        v.breaches().any(|m| m.test == TestKind::LatencyShift),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation.contains("the hour before the deploy"),
        "{}",
        v.explanation
    );
}
