//! KubePlatform against `kube-fake-client` with a simulated deployment controller: conformance,
//! rollbacks end to end (also through the Orchestrator), faults, API-call accounting, readiness.

mod common;

use std::time::Duration;

use common::*;
use rollback_core::orchestrator::Orchestrator;
use rollback_core::report::Outcome;
use rollback_core::request::{RollbackRequest, Strategy, StrategyChoice};
use rollback_core::testkit::{run_all, Fixture};
use rollback_core::{
    Environment, ErrorKind, Platform, ReleaseMark, ReleaseState, Target, TimeRange, TrafficSplit,
    Version,
};
use rollback_k8s::{KubeConfig, KubePlatform, Mode};

fn target(name: &str) -> Target {
    Target::new(Environment::Staging, name).with_namespace(NS)
}

fn platform(c: &Cluster, mode: Mode) -> KubePlatform {
    let mut cfg = KubeConfig::new(mode);
    cfg.request_timeout = Duration::from_secs(5);
    if mode == Mode::BlueGreen {
        cfg.preview_service = Some("{deployment}-preview".into());
    }
    KubePlatform::new(c.client.clone(), cfg).unwrap()
}

/// `web`: v1.2.9 (revision 1), then v1.3.0 (revision 2, serving).
async fn rollout_fixture() -> Cluster {
    let c = cluster().await;
    c.deploy("web", "web", "registry.local/web:v1.2.9", 3, &[])
        .await;
    c.set_image("web", "registry.local/web:v1.3.0").await;
    c
}

/// `web-green` (v1.2.9, older, warm) and `web-blue` (v1.3.0, serving) behind Service `web`.
async fn blue_green_fixture() -> Cluster {
    let c = cluster().await;
    c.deploy(
        "web-green",
        "web",
        "registry.local/web:v1.2.9",
        2,
        &[("rollback.dev/slot", "green")],
    )
    .await;
    c.deploy(
        "web-blue",
        "web",
        "registry.local/web:v1.3.0",
        2,
        &[("rollback.dev/slot", "blue")],
    )
    .await;
    c.create_service("web", &[("app", "web"), ("rollback.dev/slot", "blue")])
        .await;
    c.create_service(
        "web-preview",
        &[("app", "web"), ("rollback.dev/slot", "green")],
    )
    .await;
    c
}

/// Two slots, each behind its own Service, weighted by HTTPRoute `web` (canary 30% on blue).
async fn gateway_fixture(blue_weight: u32) -> Cluster {
    let c = cluster().await;
    c.deploy(
        "web-green",
        "web",
        "registry.local/web:v1.2.9",
        2,
        &[("rollback.dev/slot", "green")],
    )
    .await;
    c.deploy(
        "web-blue",
        "web",
        "registry.local/web:v1.3.0",
        2,
        &[("rollback.dev/slot", "blue")],
    )
    .await;
    c.create_service("web-blue", &[("app", "web"), ("rollback.dev/slot", "blue")])
        .await;
    c.create_service(
        "web-green",
        &[("app", "web"), ("rollback.dev/slot", "green")],
    )
    .await;
    c.create_route(
        "web",
        &[("web-blue", blue_weight), ("web-green", 100 - blue_weight)],
    )
    .await;
    c
}

// ----- reading ---------------------------------------------------------------------------------

#[tokio::test]
async fn releases_are_replicasets_newest_revision_first_with_versions_from_the_label() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let rs = p.releases(&target("web")).await.unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].version.to_string(), "v1.3.0");
    assert_eq!(rs[1].version.to_string(), "v1.2.9");
    assert!(rs[0].revision.starts_with("web-"));
    assert_eq!(rs[0].state, ReleaseState::Serving);
    assert_eq!(rs[1].state, ReleaseState::Inactive);
    assert_eq!(
        rs[0].attributes.get("revision").map(String::as_str),
        Some("2")
    );
    // Env var names only, never values.
    assert!(rs[0].attributes.contains_key("env.DB_PASSWORD"));
    assert!(!format!("{rs:?}").contains("s3cr3t-value"));
    assert!(p
        .traffic(&target("web"))
        .await
        .unwrap()
        .is_all_to(&rs[0].revision));
}

#[tokio::test]
async fn unknown_deployment_is_not_found() {
    let c = rollout_fixture().await;
    let e = platform(&c, Mode::Rollout)
        .releases(&target("nope"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("nope"), "{e}");
}

#[tokio::test]
async fn marks_are_annotations_on_the_replicaset_and_survive_a_new_platform() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    p.mark(&t, &rs[0], ReleaseMark::Failed, "error rate 12%")
        .await
        .unwrap();
    p.mark(&t, &rs[1], ReleaseMark::Verified, "healthy 24h")
        .await
        .unwrap();
    let again = platform(&c, Mode::Rollout).releases(&t).await.unwrap();
    assert_eq!(again[0].mark, ReleaseMark::Failed);
    assert_eq!(again[1].mark, ReleaseMark::Verified);
    let raw = c.replicasets().await;
    let failed = raw
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(rs[0].revision.as_str()))
        .unwrap();
    let ann = failed.metadata.annotations.clone().unwrap();
    assert_eq!(ann["rollback.dev/mark"], "failed");
    assert_eq!(ann["rollback.dev/mark-reason"], "error rate 12%");
    // Marking again with the same mark writes nothing.
    c.state.reset_counts();
    p.mark(&t, &rs[0], ReleaseMark::Failed, "error rate 12%")
        .await
        .unwrap();
    assert_eq!(c.state.writes(), 0);
}

// ----- conformance ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn rollout_mode_passes_the_conformance_suite() {
    let c = rollout_fixture().await;
    let _ctl = c.spawn_controller();
    let report = run_all(&platform(&c, Mode::Rollout), &Fixture::new(target("web")))
        .await
        .unwrap();
    assert!(
        report
            .passed
            .contains(&"revert_makes_the_older_release_serve"),
        "{report:?}"
    );
    assert!(report
        .passed
        .contains(&"lock_is_exclusive_and_names_the_holder"));
}

#[tokio::test(start_paused = true)]
async fn blue_green_mode_passes_the_conformance_suite() {
    let c = blue_green_fixture().await;
    let _ctl = c.spawn_controller();
    let report = run_all(&platform(&c, Mode::BlueGreen), &Fixture::new(target("web")))
        .await
        .unwrap();
    assert!(
        report.passed.contains(&"traffic_switch_round_trips"),
        "{report:?}"
    );
    assert!(report
        .passed
        .contains(&"scale_changes_capacity_and_keeps_the_release"));
}

#[tokio::test(start_paused = true)]
async fn gateway_mode_passes_the_conformance_suite() {
    let c = gateway_fixture(100).await;
    let _ctl = c.spawn_controller();
    let report = run_all(&platform(&c, Mode::Gateway), &Fixture::new(target("web")))
        .await
        .unwrap();
    assert!(
        report.passed.contains(&"weighted_split_round_trips"),
        "{report:?}"
    );
}

// ----- revert ----------------------------------------------------------------------------------

#[tokio::test]
async fn revert_copies_the_template_without_the_hash_and_the_controller_rolls_back() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let old = rs[1].clone();
    c.state.reset_counts();
    p.revert(&t, &old).await.unwrap();
    assert_eq!(c.state.count("update", "deployments"), 1);
    assert_eq!(c.state.writes(), 1);
    let d = c.deployment("web").await;
    let tpl = d.spec.unwrap().template;
    let labels = tpl.metadata.unwrap().labels.unwrap();
    assert!(!labels.contains_key("pod-template-hash"));
    assert_eq!(labels["app.kubernetes.io/version"], "v1.2.9");
    c.reconcile().await;
    let rs = p.releases(&t).await.unwrap();
    // The old ReplicaSet got the newest revision, as `kubectl rollout undo` does.
    assert_eq!(rs[0].revision, old.revision);
    assert_eq!(rs[0].attributes["revision"], "3");
    assert_eq!(rs[0].state, ReleaseState::Serving);
    assert!(p.health(&t, &rs[0]).await.unwrap().is_healthy());
    // Reverting again is a no-op: no write.
    c.state.reset_counts();
    p.revert(&t, &old).await.unwrap();
    assert_eq!(c.state.writes(), 0);
}

#[tokio::test]
async fn revert_refuses_a_paused_deployment() {
    let c = rollout_fixture().await;
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(c.raw.clone(), NS);
    api.patch(
        "web",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({ "spec": { "paused": true } })),
    )
    .await
    .unwrap();
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    c.state.reset_counts();
    let e = p.revert(&t, &rs[1]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert!(
        e.to_string().contains("paused") && e.to_string().contains("rollout resume"),
        "{e}"
    );
    assert_eq!(c.state.writes(), 0);
}

#[tokio::test]
async fn revert_to_an_unknown_revision_lists_the_known_ones() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let mut ghost = p.releases(&t).await.unwrap()[1].clone();
    ghost.revision = "web-ghost".into();
    let e = p.revert(&t, &ghost).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("v1.2.9"), "{e}");
}

#[tokio::test]
async fn revert_targets_the_release_asked_for_not_n_minus_1() {
    let c = rollout_fixture().await;
    c.set_image("web", "registry.local/web:v1.4.0").await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    assert_eq!(rs.len(), 3);
    let oldest = rs[2].clone();
    assert_eq!(oldest.version.to_string(), "v1.2.9");
    p.revert(&t, &oldest).await.unwrap();
    c.reconcile().await;
    let now = p.releases(&t).await.unwrap();
    assert_eq!(now[0].revision, oldest.revision);
}

// ----- readiness race ------------------------------------------------------------------------

#[tokio::test]
async fn status_of_the_previous_generation_does_not_count_as_ready() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let old = rs[1].clone();
    p.revert(&t, &old).await.unwrap();
    // The controller has not run: status still shows generation N-1 complete.
    let d = c.deployment("web").await;
    assert!(d.status.as_ref().unwrap().observed_generation < d.metadata.generation);
    let h = p.health(&t, &old).await.unwrap();
    assert!(!h.is_healthy(), "{h:?}");
    assert!(
        h.problems
            .iter()
            .any(|p| p.contains("RolloutNotObserved") || p.contains("RolloutInProgress")),
        "{h:?}"
    );
    c.reconcile().await;
    assert!(p.health(&t, &old).await.unwrap().is_healthy());
}

// ----- blue-green ----------------------------------------------------------------------------

#[tokio::test]
async fn instant_switch_is_exactly_one_write_of_the_service_selector() {
    let c = blue_green_fixture().await;
    let p = platform(&c, Mode::BlueGreen);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    assert_eq!(rs[0].slot.as_deref(), Some("blue"));
    assert_eq!(rs[1].slot.as_deref(), Some("green"));
    assert_eq!(rs[1].state, ReleaseState::Standby);
    c.state.reset_counts();
    p.set_traffic(&t, &TrafficSplit::all_to(&rs[1]))
        .await
        .unwrap();
    assert_eq!(c.state.writes(), 1, "{:?}", c.state.write_breakdown());
    assert_eq!(c.state.count("patch", "services"), 1);
    assert!(p.traffic(&t).await.unwrap().is_all_to(&rs[1].revision));
    // Idempotent: switching again writes nothing.
    c.state.reset_counts();
    p.set_traffic(&t, &TrafficSplit::all_to(&rs[1]))
        .await
        .unwrap();
    assert_eq!(c.state.writes(), 0);
}

#[tokio::test]
async fn blue_green_refuses_weights_and_slots_without_ready_pods() {
    let c = blue_green_fixture().await;
    let p = platform(&c, Mode::BlueGreen);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let e = p
        .set_traffic(&t, &TrafficSplit::shift(&rs[0], &rs[1], 50).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("gateway"), "{e}");
    p.scale(&t, &rs[1], 0).await.unwrap();
    c.reconcile().await;
    let rs = p.releases(&t).await.unwrap();
    c.state.reset_counts();
    let e = p
        .set_traffic(&t, &TrafficSplit::all_to(&rs[1]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert_eq!(c.state.writes(), 0);
    assert!(p.traffic(&t).await.unwrap().is_all_to(&rs[0].revision));
}

// ----- gateway -------------------------------------------------------------------------------

#[tokio::test]
async fn gateway_step_is_one_route_patch_and_reads_back() {
    let c = gateway_fixture(30).await;
    let p = platform(&c, Mode::Gateway);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let (blue, green) = (&rs[0], &rs[1]);
    assert_eq!(p.traffic(&t).await.unwrap().percent_for(&blue.revision), 30);
    c.state.reset_counts();
    p.set_traffic(&t, &TrafficSplit::shift(blue, green, 90).unwrap())
        .await
        .unwrap();
    assert_eq!(c.state.writes(), 1);
    assert_eq!(c.state.count("patch", "httproutes"), 1);
    let w = c.route_weights("web").await;
    assert!(
        w.contains(&("web-green".into(), 90)) && w.contains(&("web-blue".into(), 10)),
        "{w:?}"
    );
}

#[tokio::test]
async fn gateway_never_weighs_a_backend_without_ready_pods() {
    let c = gateway_fixture(100).await;
    c.behave("registry.local/web:v1.2.9", PodBehaviour::CrashLoop);
    c.set_image("web-green", "registry.local/web:v1.2.9-crash")
        .await;
    c.behave("registry.local/web:v1.2.9-crash", PodBehaviour::CrashLoop);
    c.reconcile().await;
    let p = platform(&c, Mode::Gateway);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let green = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("green"))
        .unwrap();
    let blue = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("blue"))
        .unwrap();
    c.state.reset_counts();
    let e = p
        .set_traffic(&t, &TrafficSplit::shift(blue, green, 10).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
    assert_eq!(c.state.writes(), 0);
    assert_eq!(
        c.route_weights("web").await,
        vec![("web-blue".into(), 100), ("web-green".into(), 0)]
    );
}

// ----- replica ratio -------------------------------------------------------------------------

#[tokio::test]
async fn replica_ratio_scales_the_gaining_slot_up_before_the_losing_one_down() {
    let c = cluster().await;
    c.deploy(
        "web-green",
        "web",
        "registry.local/web:v1.2.9",
        1,
        &[("rollback.dev/slot", "green")],
    )
    .await;
    c.deploy(
        "web-blue",
        "web",
        "registry.local/web:v1.3.0",
        3,
        &[("rollback.dev/slot", "blue")],
    )
    .await;
    let p = platform(&c, Mode::ReplicaRatio);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    assert_eq!(
        p.traffic(&t).await.unwrap().percent_for(&rs[0].revision),
        75
    );
    c.state.reset_counts();
    p.set_traffic(&t, &TrafficSplit::shift(&rs[0], &rs[1], 75).unwrap())
        .await
        .unwrap();
    assert_eq!(c.state.count("patch", "deployments"), 2);
    c.reconcile().await;
    let split = p.traffic(&t).await.unwrap();
    assert_eq!(split.percent_for(&rs[1].revision), 75, "{split}");
}

// ----- health and evidence -------------------------------------------------------------------

#[tokio::test]
async fn health_reports_crash_loops_oom_kills_and_restarts() {
    let c = cluster().await;
    c.behave("registry.local/web:v1.3.0", PodBehaviour::OomKilled);
    c.deploy("web", "web", "registry.local/web:v1.2.9", 2, &[])
        .await;
    c.set_image("web", "registry.local/web:v1.3.0").await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let h = p.health(&t, &rs[0]).await.unwrap();
    assert_eq!((h.desired, h.ready), (2, 0));
    assert_eq!(h.restarts, 6);
    let joined = h.problems.join("; ");
    assert!(
        joined.contains("OOMKilled (2 pods)") && joined.contains("CrashLoopBackOff"),
        "{joined}"
    );
}

#[tokio::test]
async fn evidence_has_pod_logs_with_previous_container_and_warning_events() {
    let c = cluster().await;
    c.behave("registry.local/web:v1.3.0", PodBehaviour::CrashLoop);
    c.deploy("web", "web", "registry.local/web:v1.2.9", 1, &[])
        .await;
    c.set_image("web", "registry.local/web:v1.3.0").await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let pod = format!("{}-0", rs[0].revision);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    c.set_logs(
        &pod,
        &format!("{now} panic: connection pool exhausted\n{now} at db.rs:42"),
    );
    c.event(
        "Pod",
        &pod,
        "BackOff",
        "Back-off restarting failed container",
        true,
    )
    .await;
    c.event(
        "Pod",
        &pod,
        "Unhealthy",
        "Readiness probe failed: 503",
        true,
    )
    .await;
    c.event("Pod", "someone-else-0", "BackOff", "not ours", true)
        .await;
    let window = TimeRange::ending_at(
        chrono::Utc::now() + chrono::Duration::seconds(60),
        Duration::from_secs(3600),
    );
    let ev = p.evidence(&t, &rs[0], &window).await.unwrap();
    assert!(
        ev.logs
            .iter()
            .any(|l| l.line.contains("connection pool exhausted")),
        "{ev:?}"
    );
    assert!(ev.logs.iter().any(|l| l.source.ends_with("(previous)")));
    assert_eq!(ev.events.len(), 2, "{:?}", ev.events);
    assert!(ev
        .events
        .iter()
        .all(|e| e.level == rollback_core::EventLevel::Warning));
    assert!(c.state.count("get", "pods/log") >= 2);
}

// ----- lease ---------------------------------------------------------------------------------

#[tokio::test]
async fn expired_lease_is_taken_over_and_a_live_one_names_its_holder() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let a = p
        .lock(&t, "runner-a", Duration::from_secs(30))
        .await
        .unwrap();
    let e = p
        .lock(&t, "runner-b", Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(!e.is_temporary());
    assert!(e.to_string().contains("runner-a"), "{e}");
    // runner-a crashes; its lease lapses.
    let later = p.clone().with_clock(rollback_core::Clock::starting_at(
        a.expires_at + chrono::Duration::seconds(1),
    ));
    let b = later
        .lock(&t, "runner-b", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(b.holder, "runner-b");
    let lease: k8s_openapi::api::coordination::v1::Lease = kube::Api::namespaced(c.raw.clone(), NS)
        .get("rollback-web")
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("runner-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    // runner-a's late unlock must not release runner-b's lease.
    p.unlock(&t, &a).await.unwrap();
    assert!(later
        .lock(&t, "runner-c", Duration::from_secs(30))
        .await
        .is_err());
}

// ----- faults ----------------------------------------------------------------------------------

#[tokio::test]
async fn revert_re_reads_and_retries_after_a_409_conflict() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    c.state
        .inject(Fault::new("update", "deployments", FaultKind::Conflict, 2).named("web"));
    c.state.reset_counts();
    p.revert(&t, &rs[1]).await.unwrap();
    assert_eq!(c.state.count("update", "deployments"), 3);
    assert_eq!(
        c.state.count("get", "deployments"),
        3,
        "re-read before each retry"
    );
}

#[tokio::test]
async fn persistent_conflicts_end_in_a_temporary_conflict_error() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    c.state
        .inject(Fault::new("update", "deployments", FaultKind::Conflict, 99).named("web"));
    let e = p.revert(&t, &rs[1]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.is_temporary());
    assert!(e.to_string().contains("re-read and retry"), "{e}");
    // Nothing changed: the Deployment still runs v1.3.0.
    let d = c.deployment("web").await;
    assert!(d.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .as_deref()
        .unwrap()
        .ends_with("v1.3.0"));
}

#[tokio::test]
async fn server_errors_are_temporary_unavailable() {
    let c = blue_green_fixture().await;
    let p = platform(&c, Mode::BlueGreen);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    c.state
        .inject(Fault::new("patch", "services", FaultKind::Internal, 1).named("web"));
    let e = p
        .set_traffic(&t, &TrafficSplit::all_to(&rs[1]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.is_temporary());
    // Traffic is still entirely on a release with ready pods; the retry succeeds.
    assert!(p.traffic(&t).await.unwrap().is_all_to(&rs[0].revision));
    p.set_traffic(&t, &TrafficSplit::all_to(&rs[1]))
        .await
        .unwrap();
}

#[tokio::test]
async fn forbidden_names_the_verb_and_the_resource() {
    let c = blue_green_fixture().await;
    let p = platform(&c, Mode::BlueGreen);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    c.state
        .inject(Fault::new("patch", "services", FaultKind::Forbidden, 1));
    let e = p
        .set_traffic(&t, &TrafficSplit::all_to(&rs[1]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(!e.is_temporary());
    let s = e.to_string();
    assert!(
        s.contains("`patch`") && s.contains("`services`") && s.contains("rbac.yaml"),
        "{s}"
    );
    assert!(p.traffic(&t).await.unwrap().is_all_to(&rs[0].revision));
}

#[tokio::test]
async fn throttling_is_temporary() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    c.state.inject(Fault::new(
        "list",
        "replicasets",
        FaultKind::TooManyRequests,
        1,
    ));
    let e = p.releases(&target("web")).await.unwrap_err();
    assert_eq!((e.kind(), e.is_temporary()), (ErrorKind::Unavailable, true));
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_times_out_as_temporary() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    c.state
        .inject(Fault::new("get", "deployments", FaultKind::Hang, 1));
    let e = p.releases(&target("web")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(e.is_temporary());
    assert!(e.to_string().contains("5s"), "{e}");
}

// ----- through the orchestrator ------------------------------------------------------------

async fn orchestrate(
    c: &Cluster,
    mode: Mode,
    strategy: StrategyChoice,
    failing: &str,
) -> rollback_core::report::RollbackReport {
    let _ctl = c.spawn_controller();
    let policy = rollback_core::policy::Policy {
        cleanup_delay: Duration::ZERO,
        ..Default::default()
    };
    let o = Orchestrator::builder(platform(c, mode), ScriptedMetrics::failing(&[failing]))
        .policy(policy)
        .identity("test-runner")
        .build()
        .unwrap();
    o.run(
        RollbackRequest::new(target("web"))
            .reason("error rate 12%")
            .strategy(strategy),
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn orchestrator_full_revert_rolls_back_a_failing_rollout_end_to_end() {
    let c = rollout_fixture().await;
    let report = orchestrate(&c, Mode::Rollout, StrategyChoice::Auto, "v1.3.0").await;
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.summary);
    assert_eq!(report.strategy, Some(Strategy::Full));
    assert_eq!(
        report.to.as_ref().unwrap().version,
        Version::parse("v1.2.9").unwrap()
    );
    let p = platform(&c, Mode::Rollout);
    let rs = p.releases(&target("web")).await.unwrap();
    assert_eq!(rs[0].version.to_string(), "v1.2.9");
    assert_eq!(rs[0].state, ReleaseState::Serving);
    let failed = rs
        .iter()
        .find(|r| r.version.to_string() == "v1.3.0")
        .unwrap();
    assert_eq!(failed.mark, ReleaseMark::Failed);
    println!("full revert writes: {:?}", c.state.write_breakdown());
    assert_eq!(c.state.count("update", "deployments"), 1);
}

#[tokio::test(start_paused = true)]
async fn orchestrator_instant_switch_moves_the_service_once() {
    let c = blue_green_fixture().await;
    let report = orchestrate(&c, Mode::BlueGreen, StrategyChoice::Auto, "v1.3.0").await;
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.summary);
    assert_eq!(report.strategy, Some(Strategy::Instant));
    assert_eq!(
        c.state.count("patch", "services"),
        1,
        "{:?}",
        c.state.write_breakdown()
    );
    println!("instant writes: {:?}", c.state.write_breakdown());
    // The failed slot was scaled down (never deleted) and marked failed.
    let d = c.deployment("web-blue").await;
    assert_eq!(d.spec.unwrap().replicas, Some(0));
}

#[tokio::test(start_paused = true)]
async fn orchestrator_gradual_shift_patches_the_route_once_per_step() {
    let c = gateway_fixture(30).await;
    let report = orchestrate(
        &c,
        Mode::Gateway,
        StrategyChoice::Forced(Strategy::Gradual),
        "v1.3.0",
    )
    .await;
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.summary);
    let steps = report.executions[0]
        .steps
        .iter()
        .filter(|s| s.action == "set_traffic")
        .count() as u64;
    assert_eq!(
        c.state.count("patch", "httproutes"),
        steps,
        "{:?}",
        c.state.write_breakdown()
    );
    println!(
        "gradual writes ({steps} steps): {:?}",
        c.state.write_breakdown()
    );
    assert_eq!(
        c.route_weights("web").await,
        vec![("web-blue".into(), 0), ("web-green".into(), 100)]
    );
}

#[tokio::test(start_paused = true)]
async fn dry_run_makes_no_write() {
    let c = rollout_fixture().await;
    let _ctl = c.spawn_controller();
    c.state.reset_counts();
    let o = Orchestrator::builder(
        platform(&c, Mode::Rollout),
        ScriptedMetrics::failing(&["v1.3.0"]),
    )
    .build()
    .unwrap();
    let report = o
        .run(
            RollbackRequest::new(target("web"))
                .reason("x")
                .dry_run(true),
        )
        .await;
    assert_eq!(report.outcome, Outcome::DryRun, "{}", report.summary);
    assert_eq!(c.state.writes(), 0, "{:?}", c.state.write_breakdown());
}

#[tokio::test(start_paused = true)]
async fn a_second_runner_is_refused_while_the_lease_is_held() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    p.lock(&target("web"), "other-runner", Duration::from_secs(300))
        .await
        .unwrap();
    let report = orchestrate(&c, Mode::Rollout, StrategyChoice::Auto, "v1.3.0").await;
    assert_eq!(report.outcome, Outcome::Aborted, "{}", report.summary);
    assert!(
        report.summary.contains("other-runner") || format!("{report:?}").contains("other-runner")
    );
    assert_eq!(c.state.count("update", "deployments"), 0);
}

#[tokio::test]
async fn secret_env_values_never_reach_releases_health_evidence_or_errors() {
    let c = rollout_fixture().await;
    let p = platform(&c, Mode::Rollout);
    let t = target("web");
    let rs = p.releases(&t).await.unwrap();
    let h = p.health(&t, &rs[0]).await.unwrap();
    let window = TimeRange::ending_at(chrono::Utc::now(), Duration::from_secs(3600));
    let ev = p.evidence(&t, &rs[0], &window).await.unwrap();
    c.state
        .inject(Fault::new("update", "deployments", FaultKind::Forbidden, 1));
    let e = p.revert(&t, &rs[1]).await.unwrap_err();
    let all = format!("{rs:?} {h:?} {ev:?} {e} {e:?} {p:?}");
    assert!(!all.contains("s3cr3t-value"));
    assert!(rs[0].attributes.contains_key("env.DB_PASSWORD"));
}

#[tokio::test]
async fn preview_service_marks_the_slot_it_selects() {
    let c = blue_green_fixture().await;
    let rs = platform(&c, Mode::BlueGreen)
        .releases(&target("web"))
        .await
        .unwrap();
    let green = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("green"))
        .unwrap();
    assert_eq!(
        green.attributes.get("service.preview").map(String::as_str),
        Some("true")
    );
    assert_eq!(green.state, ReleaseState::Standby);
}

#[tokio::test(start_paused = true)]
async fn orchestrator_retries_a_500_on_the_switch_and_still_switches_once() {
    let c = blue_green_fixture().await;
    c.state
        .inject(Fault::new("patch", "services", FaultKind::Internal, 2).named("web"));
    let report = orchestrate(&c, Mode::BlueGreen, StrategyChoice::Auto, "v1.3.0").await;
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.summary);
    // Three attempts reached the API; the fake applied exactly one.
    assert_eq!(c.state.count("patch", "services"), 3);
    let p = platform(&c, Mode::BlueGreen);
    let rs = p.releases(&target("web")).await.unwrap();
    let green = rs
        .iter()
        .find(|r| r.slot.as_deref() == Some("green"))
        .unwrap();
    assert!(p
        .traffic(&target("web"))
        .await
        .unwrap()
        .is_all_to(&green.revision));
}

#[tokio::test(start_paused = true)]
async fn orchestrator_forbidden_switch_fails_clearly_and_leaves_traffic_whole() {
    let c = blue_green_fixture().await;
    c.state
        .inject(Fault::new("patch", "services", FaultKind::Forbidden, 99));
    let report = orchestrate(&c, Mode::BlueGreen, StrategyChoice::Auto, "v1.3.0").await;
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.summary);
    let text = format!("{report:?}");
    assert!(
        text.contains("`patch`") && text.contains("`services`"),
        "{}",
        report.summary
    );
    // Exactly one attempt: permission errors are not retried.
    assert_eq!(c.state.count("patch", "services"), 1);
    let p = platform(&c, Mode::BlueGreen);
    let split = p.traffic(&target("web")).await.unwrap();
    let sum: u32 = split.weights().iter().map(|w| u32::from(w.percent)).sum();
    assert_eq!(sum, 100);
    for w in split.weights() {
        let r = p
            .releases(&target("web"))
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.revision == w.release.revision)
            .unwrap();
        assert!(r.replicas.ready > 0);
    }
}

#[tokio::test]
async fn under_random_faults_route_weights_sum_to_100_and_only_ready_backends_get_traffic() {
    let c = gateway_fixture(100).await;
    let p = platform(&c, Mode::Gateway);
    let t = target("web");
    let kinds = [
        FaultKind::Conflict,
        FaultKind::Internal,
        FaultKind::Forbidden,
        FaultKind::TooManyRequests,
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for step in 0..40u64 {
        if step == 20 {
            // Green loses its ready pods; from now on it must never be given traffic.
            let rs = p.releases(&t).await.unwrap();
            p.set_traffic(&t, &TrafficSplit::all_to(&rs[0]))
                .await
                .unwrap();
            c.behave("registry.local/web:v1.2.9-bad", PodBehaviour::CrashLoop);
            c.set_image("web-green", "registry.local/web:v1.2.9-bad")
                .await;
        }
        let rs = p.releases(&t).await.unwrap();
        let (a, b) = (&rs[0], &rs[1]);
        if next() % 3 == 0 {
            let kind = kinds[(next() % kinds.len() as u64) as usize];
            let verb = if next() % 2 == 0 { "patch" } else { "get" };
            c.state.inject(Fault::new(verb, "httproutes", kind, 1));
        }
        let pct = u8::try_from(next() % 101).unwrap();
        let _ = p
            .set_traffic(&t, &TrafficSplit::shift(a, b, pct).unwrap())
            .await;
        c.state.faults.lock().unwrap().clear();
        let split = p.traffic(&t).await.unwrap();
        let sum: u32 = split.weights().iter().map(|w| u32::from(w.percent)).sum();
        assert_eq!(sum, 100, "step {step}");
        for w in split.weights() {
            let r = rs
                .iter()
                .find(|r| r.revision == w.release.revision)
                .unwrap();
            assert!(r.replicas.ready > 0, "step {step}: {split}");
        }
        if step >= 20 {
            let blue = rs
                .iter()
                .find(|r| r.slot.as_deref() == Some("blue"))
                .unwrap();
            assert!(split.is_all_to(&blue.revision), "step {step}: {split}");
        }
    }
}
