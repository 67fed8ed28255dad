//! Test harness: `kube-fake-client` as the in-memory API server, a counting / fault-injecting
//! layer in front of it, scripted pod logs, and a simulated deployment controller.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::client::Body;
use kube_fake_client::{interceptor, ClientBuilder};
use rollback_core::model::metric::{MetricKind, MetricQuery, Sample, Series};
use rollback_core::MetricsSource;
use serde_json::{json, Value};

pub const NS: &str = "shop";

// ----- faults ---------------------------------------------------------------------------------

/// What a scripted fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 409 through the fake's interceptor.
    Conflict,
    /// 500 through the fake's interceptor.
    Internal,
    /// 403 from the layer in front of the fake.
    Forbidden,
    /// 429 from the layer in front of the fake.
    TooManyRequests,
    /// No answer at all (the client deadline fires).
    Hang,
}

/// One scripted fault: `verb` on `resource` (and object `name`), `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    pub verb: &'static str,
    pub resource: Option<&'static str>,
    pub name: Option<String>,
    pub kind: FaultKind,
    pub times: u32,
}

impl Fault {
    pub fn new(verb: &'static str, resource: &'static str, kind: FaultKind, times: u32) -> Self {
        Fault {
            verb,
            resource: Some(resource),
            name: None,
            kind,
            times,
        }
    }
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

#[derive(Default)]
pub struct State {
    pub faults: Mutex<Vec<Fault>>,
    /// (verb, resource) → count of requests that reached the layer.
    pub calls: Mutex<BTreeMap<(String, String), u64>>,
    /// pod name → log text.
    pub logs: Mutex<HashMap<String, String>>,
}

impl State {
    /// Takes one matching fault for the layer (403/429/hang) or the interceptors (409/500).
    fn take(
        &self,
        verb: &str,
        resource: Option<&str>,
        name: Option<&str>,
        kinds: &[FaultKind],
    ) -> Option<FaultKind> {
        let mut faults = self.faults.lock().unwrap();
        let f = faults.iter_mut().find(|f| {
            f.times > 0
                && f.verb == verb
                && kinds.contains(&f.kind)
                && match (f.resource, resource) {
                    (Some(want), Some(got)) => want == got,
                    (Some(_), None) => true, // interceptors do not know the resource
                    (None, _) => true,
                }
                && match (&f.name, name) {
                    (Some(want), Some(got)) => want == got,
                    (Some(_), None) => false,
                    (None, _) => true,
                }
        })?;
        f.times -= 1;
        Some(f.kind)
    }

    pub fn writes(&self) -> u64 {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|((v, _), _)| matches!(v.as_str(), "create" | "update" | "patch" | "delete"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn reads(&self) -> u64 {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|((v, _), _)| matches!(v.as_str(), "get" | "list"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.calls
            .lock()
            .unwrap()
            .get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    pub fn write_breakdown(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|((v, _), _)| matches!(v.as_str(), "create" | "update" | "patch" | "delete"))
            .map(|((v, r), n)| format!("{v} {r}: {n}"))
            .collect()
    }

    pub fn reset_counts(&self) {
        self.calls.lock().unwrap().clear();
    }

    pub fn inject(&self, f: Fault) {
        self.faults.lock().unwrap().push(f);
    }
}

/// Verb and resource of a request, as RBAC names them.
fn classify(method: &str, path: &str) -> (String, String, Option<String>) {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let idx = if parts.first() == Some(&"api") { 2 } else { 3 };
    let rest: Vec<&str> = if parts.get(idx) == Some(&"namespaces") {
        parts.iter().skip(idx + 2).copied().collect()
    } else {
        parts.iter().skip(idx).copied().collect()
    };
    let resource = rest.first().copied().unwrap_or("").to_string();
    let name = rest.get(1).map(|s| s.to_string());
    let sub = rest.get(2).copied();
    let resource = match sub {
        Some(s) => format!("{resource}/{s}"),
        None => resource,
    };
    let verb = match (method, name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "other",
    };
    (verb.to_string(), resource, name)
}

fn status_response(code: u16, reason: &str, message: &str) -> http::Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    http::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

/// The layer in front of the fake: counts requests, injects 403/429/hangs, serves pod logs.
#[derive(Clone)]
pub struct Layer {
    inner: kube::Client,
    state: Arc<State>,
}

impl tower::Service<http::Request<Body>> for Layer {
    type Response = http::Response<Body>;
    type Error = kube::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let (verb, resource, name) = classify(req.method().as_str(), req.uri().path());
            *state
                .calls
                .lock()
                .unwrap()
                .entry((verb.clone(), resource.clone()))
                .or_default() += 1;
            match state.take(
                &verb,
                Some(&resource),
                name.as_deref(),
                &[FaultKind::Forbidden, FaultKind::TooManyRequests, FaultKind::Hang],
            ) {
                Some(FaultKind::Forbidden) => {
                    return Ok(status_response(
                        403,
                        "Forbidden",
                        &format!("User \"system:serviceaccount:shop:rollback\" cannot {verb} resource \"{resource}\""),
                    ))
                }
                Some(FaultKind::TooManyRequests) => {
                    return Ok(status_response(429, "TooManyRequests", "slow down"))
                }
                Some(_) => {
                    std::future::pending::<()>().await;
                }
                None => {}
            }
            if resource == "pods/log" {
                let text = state
                    .logs
                    .lock()
                    .unwrap()
                    .get(name.as_deref().unwrap_or(""))
                    .cloned()
                    .unwrap_or_default();
                return Ok(http::Response::builder()
                    .status(200)
                    .body(Body::from(text.into_bytes()))
                    .unwrap());
            }
            inner.send(req).await
        })
    }
}

// ----- the cluster ----------------------------------------------------------------------------

/// How the simulated controller makes the pods of an image behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodBehaviour {
    Ready,
    CrashLoop,
    OomKilled,
    Unschedulable,
}

/// The marker type that registers `HTTPRoute` with the fake.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct HttpRouteMarker {
    pub metadata: kube::api::ObjectMeta,
}

impl kube::Resource for HttpRouteMarker {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;
    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "HTTPRoute".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "gateway.networking.k8s.io".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "httproutes".into()
    }
    fn meta(&self) -> &kube::api::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut kube::api::ObjectMeta {
        &mut self.metadata
    }
}

pub struct Cluster {
    /// The client the platform uses (counted, faults injected).
    pub client: kube::Client,
    /// The fake's own client (the simulated controller and fixtures; not counted).
    pub raw: kube::Client,
    pub state: Arc<State>,
    pub behaviour: Arc<Mutex<HashMap<String, PodBehaviour>>>,
}

pub async fn cluster() -> Cluster {
    let state = Arc::new(State::default());
    let (s1, s2, s3, s4, s5) = (
        Arc::clone(&state),
        Arc::clone(&state),
        Arc::clone(&state),
        Arc::clone(&state),
        Arc::clone(&state),
    );
    let answer = |k: FaultKind| -> kube_fake_client::Error {
        match k {
            FaultKind::Conflict => kube_fake_client::Error::Conflict(
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again".into(),
            ),
            _ => kube_fake_client::Error::Internal("etcdserver: request timed out".into()),
        }
    };
    let ours = [FaultKind::Conflict, FaultKind::Internal];
    let funcs = interceptor::Funcs::new()
        .patch(
            move |ctx| match s1.take("patch", None, Some(ctx.name), &ours) {
                Some(k) => Err(answer(k)),
                None => Ok(None),
            },
        )
        .replace(
            move |ctx| match s2.take("update", None, Some(ctx.name), &ours) {
                Some(k) => Err(answer(k)),
                None => Ok(None),
            },
        )
        .get(
            move |ctx| match s3.take("get", None, Some(ctx.name), &ours) {
                Some(k) => Err(answer(k)),
                None => Ok(None),
            },
        )
        .list(move |_ctx| match s4.take("list", None, None, &ours) {
            Some(k) => Err(answer(k)),
            None => Ok(None),
        })
        .create(move |ctx| {
            let name = ctx
                .object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            match s5.take("create", None, Some(name), &ours) {
                Some(k) => Err(answer(k)),
                None => Ok(None),
            }
        });
    let raw = ClientBuilder::new()
        .with_resource::<HttpRouteMarker>()
        .with_status_subresource::<Deployment>()
        .with_interceptor_funcs(funcs)
        .build()
        .await
        .unwrap();
    let client = kube::Client::new(
        Layer {
            inner: raw.clone(),
            state: Arc::clone(&state),
        },
        NS,
    );
    Cluster {
        client,
        raw,
        state,
        behaviour: Arc::new(Mutex::new(HashMap::new())),
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Value {
    let m: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    Value::Object(m)
}

impl Cluster {
    pub fn behave(&self, image: &str, b: PodBehaviour) {
        self.behaviour.lock().unwrap().insert(image.into(), b);
    }

    pub fn set_logs(&self, pod: &str, text: &str) {
        self.state
            .logs
            .lock()
            .unwrap()
            .insert(pod.into(), text.into());
    }

    /// Creates a Deployment with `image` (version label = tag) and lets the controller roll it out.
    pub async fn deploy(
        &self,
        name: &str,
        app: &str,
        image: &str,
        replicas: i32,
        extra: &[(&str, &str)],
    ) {
        let version = image.rsplit(':').next().unwrap_or("latest");
        let mut pod_labels = vec![("app", app), ("app.kubernetes.io/version", version)];
        pod_labels.extend_from_slice(extra);
        let mut dep_labels = vec![("app.kubernetes.io/name", app)];
        dep_labels.extend_from_slice(extra);
        let mut selector = vec![("app", app)];
        selector.extend(
            extra
                .iter()
                .filter(|(k, _)| *k == "rollback.dev/slot")
                .copied(),
        );
        let d: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": name, "namespace": NS, "labels": labels(&dep_labels) },
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": labels(&selector) },
                "template": {
                    "metadata": { "labels": labels(&pod_labels) },
                    "spec": { "containers": [ {
                        "name": "app", "image": image,
                        "env": [ { "name": "DB_PASSWORD", "value": "s3cr3t-value" } ]
                    } ] }
                }
            }
        }))
        .unwrap();
        let api: Api<Deployment> = Api::namespaced(self.raw.clone(), NS);
        api.create(&PostParams::default(), &d).await.unwrap();
        self.reconcile_one(name).await;
    }

    /// Changes a Deployment's image (a new rollout), as `kubectl set image` does.
    pub async fn set_image(&self, name: &str, image: &str) {
        let version = image.rsplit(':').next().unwrap_or("latest");
        let api: Api<Deployment> = Api::namespaced(self.raw.clone(), NS);
        let mut d = api.get(name).await.unwrap();
        let spec = d.spec.as_mut().unwrap();
        spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
        spec.template
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert("app.kubernetes.io/version".into(), version.into());
        d.status = None;
        api.replace(name, &PostParams::default(), &d).await.unwrap();
        self.reconcile_one(name).await;
    }

    pub async fn create_service(&self, name: &str, selector: &[(&str, &str)]) {
        let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(self.raw.clone(), NS);
        let s = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": name, "namespace": NS },
            "spec": { "selector": labels(selector), "ports": [ { "port": 80 } ] }
        }))
        .unwrap();
        api.create(&PostParams::default(), &s).await.unwrap();
    }

    pub async fn create_route(&self, name: &str, backends: &[(&str, u32)]) {
        let ar = rollback_k8s::httproute_resource();
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(self.raw.clone(), NS, &ar);
        let refs: Vec<Value> = backends
            .iter()
            .map(|(n, w)| json!({ "name": n, "port": 80, "weight": w }))
            .collect();
        let obj: kube::api::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": { "name": name, "namespace": NS },
            "spec": { "parentRefs": [ { "name": "gw" } ], "rules": [ { "backendRefs": refs } ] }
        }))
        .unwrap();
        api.create(&PostParams::default(), &obj).await.unwrap();
    }

    pub async fn route_weights(&self, name: &str) -> Vec<(String, u64)> {
        let ar = rollback_k8s::httproute_resource();
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(self.raw.clone(), NS, &ar);
        let r = api.get(name).await.unwrap();
        r.data["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_string(),
                    b["weight"].as_u64().unwrap_or(1),
                )
            })
            .collect()
    }

    pub async fn deployment(&self, name: &str) -> Deployment {
        Api::<Deployment>::namespaced(self.raw.clone(), NS)
            .get(name)
            .await
            .unwrap()
    }

    pub async fn replicasets(&self) -> Vec<ReplicaSet> {
        Api::<ReplicaSet>::namespaced(self.raw.clone(), NS)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
    }

    pub async fn event(
        &self,
        object_kind: &str,
        object: &str,
        reason: &str,
        message: &str,
        warning: bool,
    ) {
        let api: Api<Event> = Api::namespaced(self.raw.clone(), NS);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let e: Event = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": { "name": format!("{object}.{reason}.{}", uuidish()), "namespace": NS },
            "involvedObject": { "kind": object_kind, "name": object, "namespace": NS },
            "reason": reason, "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "lastTimestamp": now, "firstTimestamp": now, "count": 3
        }))
        .unwrap();
        api.create(&PostParams::default(), &e).await.unwrap();
    }

    /// Runs the simulated controller every second (tokio time) until the handle is dropped.
    pub fn spawn_controller(&self) -> ControllerHandle {
        let raw = self.raw.clone();
        let behaviour = Arc::clone(&self.behaviour);
        let h = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = reconcile(&raw, &behaviour).await;
            }
        });
        ControllerHandle(h)
    }

    pub async fn reconcile(&self) {
        reconcile(&self.raw, &self.behaviour).await.unwrap();
    }

    /// Runs the controller over one Deployment only.
    pub async fn reconcile_one(&self, name: &str) {
        let d = self.deployment(name).await;
        reconcile_deployment(&self.raw, &self.behaviour, d)
            .await
            .unwrap();
    }
}

/// Strictly increasing creation times (the fake stamps whole seconds, so objects created in
/// the same second would tie): a day ago plus one second per object.
fn logical_time() -> String {
    use std::sync::atomic::{AtomicI64, Ordering};
    static N: AtomicI64 = AtomicI64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    (chrono::Utc::now() - chrono::Duration::seconds(86_400 - n))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn uuidish() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

pub struct ControllerHandle(tokio::task::JoinHandle<()>);
impl Drop for ControllerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ----- the simulated deployment controller ----------------------------------------------------

fn template_hash(template: &Value) -> String {
    let mut t = template.clone();
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove("pod-template-hash");
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&t).unwrap().hash(&mut h);
    format!("{:x}", h.finish())[..10].to_string()
}

/// One pass of a deployment controller: creates a ReplicaSet for a new template (bumping the
/// revision of a re-used one, as a rollback does), scales the current ReplicaSet to the
/// Deployment's replicas and the others to 0, creates/deletes pods as scripted, and writes
/// statuses with observedGeneration.
pub async fn reconcile(
    raw: &kube::Client,
    behaviour: &Arc<Mutex<HashMap<String, PodBehaviour>>>,
) -> Result<(), kube::Error> {
    let dapi: Api<Deployment> = Api::namespaced(raw.clone(), NS);
    for d in dapi.list(&ListParams::default()).await?.items {
        reconcile_deployment(raw, behaviour, d).await?;
    }
    Ok(())
}

/// One pass of the controller over one Deployment.
pub async fn reconcile_deployment(
    raw: &kube::Client,
    behaviour: &Arc<Mutex<HashMap<String, PodBehaviour>>>,
    d: Deployment,
) -> Result<(), kube::Error> {
    let dapi: Api<Deployment> = Api::namespaced(raw.clone(), NS);
    let rsapi: Api<ReplicaSet> = Api::namespaced(raw.clone(), NS);
    let papi: Api<Pod> = Api::namespaced(raw.clone(), NS);
    let pp = PostParams::default();
    {
        let dname = d.metadata.name.clone().unwrap();
        let spec = d.spec.clone().unwrap();
        let dt = serde_json::to_value(&spec.template).unwrap();
        let hash = template_hash(&dt);
        let by_selector = ListParams::default().labels(&match_labels(&spec));
        let all_rs = rsapi.list(&by_selector).await?.items;
        let owned: Vec<ReplicaSet> = all_rs
            .into_iter()
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.name == dname)
            })
            .collect();
        let max_rev = owned.iter().map(rollback_k8s_revision).max().unwrap_or(0);
        let current = owned
            .iter()
            .find(|rs| {
                template_hash(
                    &serde_json::to_value(rs.spec.as_ref().unwrap().template.as_ref().unwrap())
                        .unwrap(),
                ) == hash
            })
            .cloned();
        let paused = spec.paused == Some(true);
        let current_name = match current {
            Some(rs) => {
                let name = rs.metadata.name.clone().unwrap();
                if rollback_k8s_revision(&rs) < max_rev && !paused {
                    rsapi
                        .patch(
                            &name,
                            &PatchParams::default(),
                            &Patch::Merge(json!({ "metadata": { "annotations": {
                                "deployment.kubernetes.io/revision": (max_rev + 1).to_string()
                            } } })),
                        )
                        .await?;
                }
                name
            }
            None if paused => return Ok(()),
            None => {
                let name = format!("{dname}-{hash}");
                let mut t = dt.clone();
                t["metadata"]["labels"]["pod-template-hash"] = Value::from(hash.clone());
                let mut rs_labels = t["metadata"]["labels"].clone();
                rs_labels["pod-template-hash"] = Value::from(hash.clone());
                let mut sel = serde_json::to_value(&spec.selector).unwrap();
                sel["matchLabels"]["pod-template-hash"] = Value::from(hash.clone());
                let rs: ReplicaSet = serde_json::from_value(json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {
                        "name": name, "namespace": NS, "labels": rs_labels,
                        "creationTimestamp": logical_time(),
                        "annotations": { "deployment.kubernetes.io/revision": (max_rev + 1).to_string() },
                        "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "Deployment",
                            "name": dname, "uid": d.metadata.uid.clone().unwrap_or_default(), "controller": true } ]
                    },
                    "spec": { "replicas": 0, "selector": sel, "template": t }
                }))
                .unwrap();
                rsapi.create(&pp, &rs).await?;
                name
            }
        };
        // Scale: the current ReplicaSet to the desired count, the others to 0 (unless paused).
        let desired = spec.replicas.unwrap_or(1);
        let owned = rsapi
            .list(&by_selector)
            .await?
            .items
            .into_iter()
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.name == dname)
            });
        let (mut total, mut updated, mut ready_all) = (0, 0, 0);
        for rs in owned {
            let name = rs.metadata.name.clone().unwrap();
            let want = if paused {
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
            } else if name == current_name {
                desired
            } else {
                0
            };
            if rs.spec.as_ref().and_then(|s| s.replicas) != Some(want) {
                rsapi
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "spec": { "replicas": want } })),
                    )
                    .await?;
            }
            // Pods.
            let hash = rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
            let pods: Vec<Pod> = papi
                .list(&ListParams::default().labels(&format!("pod-template-hash={hash}")))
                .await?
                .items;
            let image = rs
                .spec
                .as_ref()
                .unwrap()
                .template
                .as_ref()
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .image
                .clone()
                .unwrap_or_default();
            let b = behaviour
                .lock()
                .unwrap()
                .get(&image)
                .copied()
                .unwrap_or(PodBehaviour::Ready);
            for i in 0..want.max(0) as usize {
                let pname = format!("{name}-{i}");
                if pods
                    .iter()
                    .any(|p| p.metadata.name.as_deref() == Some(pname.as_str()))
                {
                    continue;
                }
                let mut labels = rs
                    .spec
                    .as_ref()
                    .unwrap()
                    .template
                    .as_ref()
                    .unwrap()
                    .metadata
                    .as_ref()
                    .unwrap()
                    .labels
                    .clone()
                    .unwrap();
                labels.insert("pod-template-hash".into(), hash.clone());
                let pod: Pod = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": { "name": pname, "namespace": NS, "labels": labels,
                        "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": "", "controller": true } ] },
                    "spec": { "containers": [ { "name": "app", "image": image } ] },
                    "status": pod_status(b)
                }))
                .unwrap();
                papi.create(&pp, &pod).await?;
            }
            for p in &pods {
                let pname = p.metadata.name.clone().unwrap();
                let idx: usize = pname
                    .rsplit('-')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap_or(usize::MAX);
                if idx >= want.max(0) as usize {
                    papi.delete(&pname, &DeleteParams::default()).await?;
                }
            }
            let ready = if b == PodBehaviour::Ready { want } else { 0 };
            rsapi
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "status": {
                        "replicas": want, "readyReplicas": ready, "availableReplicas": ready,
                        "observedGeneration": rs.metadata.generation
                    } })),
                )
                .await?;
            total += want;
            ready_all += ready;
            if name == current_name {
                updated = want;
            }
        }
        let mut conditions = vec![];
        if behaviour.lock().unwrap().values().any(|_| false) {
            conditions.push(json!({}));
        }
        dapi.patch_status(
            &dname,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "observedGeneration": d.metadata.generation,
                "replicas": total, "updatedReplicas": updated,
                "readyReplicas": ready_all, "availableReplicas": ready_all,
                "conditions": conditions
            } })),
        )
        .await?;
    }
    Ok(())
}

fn match_labels(spec: &k8s_openapi::api::apps::v1::DeploymentSpec) -> String {
    spec.selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn rollback_k8s_revision(rs: &ReplicaSet) -> u64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("deployment.kubernetes.io/revision"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn pod_status(b: PodBehaviour) -> Value {
    match b {
        PodBehaviour::Ready => json!({
            "phase": "Running",
            "conditions": [ { "type": "Ready", "status": "True" } ],
            "containerStatuses": [ { "name": "app", "ready": true, "restartCount": 0, "image": "x", "imageID": "x",
                "state": { "running": {} } } ]
        }),
        PodBehaviour::CrashLoop => json!({
            "phase": "Running",
            "conditions": [ { "type": "Ready", "status": "False" } ],
            "containerStatuses": [ { "name": "app", "ready": false, "restartCount": 5, "image": "x", "imageID": "x",
                "state": { "waiting": { "reason": "CrashLoopBackOff" } },
                "lastState": { "terminated": { "exitCode": 1, "reason": "Error" } } } ]
        }),
        PodBehaviour::OomKilled => json!({
            "phase": "Running",
            "conditions": [ { "type": "Ready", "status": "False" } ],
            "containerStatuses": [ { "name": "app", "ready": false, "restartCount": 3, "image": "x", "imageID": "x",
                "state": { "waiting": { "reason": "CrashLoopBackOff" } },
                "lastState": { "terminated": { "exitCode": 137, "reason": "OOMKilled" } } } ]
        }),
        PodBehaviour::Unschedulable => json!({
            "phase": "Pending",
            "conditions": [ { "type": "PodScheduled", "status": "False", "reason": "Unschedulable" } ]
        }),
    }
}

// ----- metrics ------------------------------------------------------------------------------

/// Healthy series for every release except the `failing` versions.
pub struct ScriptedMetrics {
    pub failing: Mutex<Vec<String>>,
}

impl ScriptedMetrics {
    pub fn failing(versions: &[&str]) -> Self {
        ScriptedMetrics {
            failing: Mutex::new(versions.iter().map(|s| s.to_string()).collect()),
        }
    }
}

#[async_trait]
impl MetricsSource for ScriptedMetrics {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn query(&self, q: &MetricQuery) -> rollback_core::Result<Vec<Series>> {
        let bad = q.release.as_ref().is_some_and(|r| {
            self.failing
                .lock()
                .unwrap()
                .contains(&r.version.to_string())
        });
        let value = match (&q.kind, bad) {
            (MetricKind::ErrorRate, true) => 0.12,
            (MetricKind::ErrorRate, false) => 0.0005,
            (MetricKind::Latency(_), true) => 3200.0,
            (MetricKind::Latency(_), false) => 120.0,
            (MetricKind::RequestRate, _) => 50.0,
            (MetricKind::CpuUtilization | MetricKind::MemoryUtilization, _) => 30.0,
            (MetricKind::MemoryBytes, _) => 3e8,
            _ => return Ok(Vec::new()),
        };
        let step = chrono::Duration::from_std(q.step.max(Duration::from_secs(1))).unwrap();
        let mut samples = Vec::new();
        let mut t = q.range.start;
        while t < q.range.end && samples.len() < 2000 {
            samples.push(Sample { at: t, value });
            t += step;
        }
        Ok(vec![Series::new(samples)])
    }
}
