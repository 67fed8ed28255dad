//! End to end against a real cluster (kind, k3d, …), gated on `ROLLBACK_TEST_KUBECONFIG`:
//! without it the test says so and passes. It creates a throw-away namespace, rolls a
//! Deployment forward, reverts it with KubePlatform, waits for the rollout to complete, checks
//! the lease, and deletes the namespace. See the crate README for how to run it.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rollback_core::{Environment, ErrorKind, Platform, ReleaseState, Target};
use rollback_k8s::{KubeConfig, KubePlatform, Mode};
use serde_json::json;

const OLD: &str = "registry.k8s.io/pause:3.9";
const NEW: &str = "registry.k8s.io/pause:3.10";

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..180 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("timed out after 180 s waiting for {what}");
}

#[tokio::test]
async fn revert_on_a_real_cluster_rolls_the_deployment_back() {
    let Ok(path) = std::env::var("ROLLBACK_TEST_KUBECONFIG") else {
        eprintln!("skipped: set ROLLBACK_TEST_KUBECONFIG to a kind/k3d kubeconfig to run it");
        return;
    };
    let ns = format!("rollback-e2e-{}", std::process::id());
    let p = KubePlatform::from_kubeconfig(&path, None, KubeConfig::new(Mode::Rollout))
        .await
        .expect("kubeconfig usable");
    let client = p.client().clone();
    let nss: Api<Namespace> = Api::all(client.clone());
    let n: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": ns } })).expect("namespace");
    nss.create(&PostParams::default(), &n)
        .await
        .expect("create namespace");

    let result = tokio::spawn(scenario(p, ns.clone())).await;
    let _ = nss.delete(&ns, &DeleteParams::default()).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(p: KubePlatform, ns: String) {
    let client = p.client().clone();
    let api: Api<Deployment> = Api::namespaced(client, &ns);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web", "app.kubernetes.io/version": "v1" } },
                "spec": { "containers": [ { "name": "app", "image": OLD } ] }
            }
        }
    }))
    .expect("deployment");
    api.create(&PostParams::default(), &d)
        .await
        .expect("create");
    let t = Target::new(Environment::Staging, "web").with_namespace(&ns);
    let complete = |api: Api<Deployment>| async move {
        api.get("web")
            .await
            .map(|d| rollback_k8s::readiness::rollout_status(&d).is_complete())
            .unwrap_or(false)
    };
    wait_until("v1 rollout", || complete(api.clone())).await;
    let patch = json!({ "spec": { "template": {
        "metadata": { "labels": { "app.kubernetes.io/version": "v2" } },
        "spec": { "containers": [ { "name": "app", "image": NEW } ] }
    } } });
    api.patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("roll forward");
    wait_until("v2 rollout", || complete(api.clone())).await;

    let releases = p.releases(&t).await.expect("releases");
    assert_eq!(releases[0].version.to_string(), "v2");
    let lease = p
        .lock(&t, "e2e-runner", Duration::from_secs(60))
        .await
        .expect("lock");
    let e = p
        .lock(&t, "someone-else", Duration::from_secs(60))
        .await
        .expect_err("held");
    assert_eq!(e.kind(), ErrorKind::Conflict);

    p.revert(&t, &releases[1]).await.expect("revert");
    wait_until("revert rollout", || complete(api.clone())).await;
    let now = p.releases(&t).await.expect("releases");
    assert_eq!(now[0].version.to_string(), "v1");
    assert_eq!(now[0].state, ReleaseState::Serving);
    assert!(p.health(&t, &now[0]).await.expect("health").is_healthy());
    p.unlock(&t, &lease).await.expect("unlock");
}
