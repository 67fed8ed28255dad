//! `KubePlatform`: the client, the configuration, the API-call wrapper (deadline + the one error
//! table) and the `Platform` implementation that dispatches on the mode.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams};
use rollback_core::{
    Capabilities, Clock, Error, ErrorKind, Evidence, HealthSnapshot, Lease, Platform, Release,
    ReleaseMark, Result, Target, TimeRange, TrafficSplit,
};

use crate::config::{KubeConfig, Mode};
use crate::error_map::{map_kube_error, timed_out, Call, BACKEND};
use crate::layout::Layout;

/// Annotation on a ReplicaSet that records our verdict (`verified` / `failed`).
pub const MARK_ANNOTATION: &str = "rollback.dev/mark";
/// Annotation on a ReplicaSet that records why it was marked.
pub const MARK_REASON_ANNOTATION: &str = "rollback.dev/mark-reason";
/// Annotation the Deployment controller puts on ReplicaSets: the rollout revision number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// A Kubernetes [`Platform`]: Deployments and their ReplicaSets, blue-green Services, Gateway API
/// routes, Leases, pod logs and events.
///
/// ```no_run
/// # async fn demo() -> rollback_core::Result<()> {
/// use rollback_core::{Environment, Platform, Target};
/// use rollback_k8s::{KubeConfig, KubePlatform, Mode};
///
/// let platform = KubePlatform::try_default(KubeConfig::new(Mode::Rollout)).await?;
/// let target = Target::new(Environment::Production, "api").with_namespace("shop");
/// for release in platform.releases(&target).await? {
///     println!("{} {} {:?}", release.version, release.revision, release.state);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KubePlatform {
    pub(crate) client: kube::Client,
    pub(crate) config: KubeConfig,
    pub(crate) clock: Option<Clock>,
}

impl std::fmt::Debug for KubePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds credentials: never print it.
        f.debug_struct("KubePlatform")
            .field("config", &self.config)
            .field("default_namespace", &self.client.default_namespace())
            .finish_non_exhaustive()
    }
}

/// kube's TLS goes through rustls, which needs one process-wide crypto provider. When a
/// program links more than one (the AWS SDK and reqwest bring aws-lc-rs, kube brings ring),
/// rustls cannot pick and would panic on the first connection: install ring unless the program
/// already chose one.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one first: that one is used, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl KubePlatform {
    /// A platform over an existing client (a real one, or a test double such as
    /// `kube-fake-client`). Fails when the configuration is not valid.
    pub fn new(client: kube::Client, config: KubeConfig) -> Result<Self> {
        config.validate()?;
        Ok(KubePlatform {
            client,
            config,
            clock: None,
        })
    }

    /// A platform from the environment, as `kubectl` finds it: `$KUBECONFIG` or
    /// `~/.kube/config`, else the in-cluster service account.
    pub async fn try_default(config: KubeConfig) -> Result<Self> {
        ensure_crypto_provider();
        let client = kube::Client::try_default().await.map_err(|e| {
            map_kube_error(
                e,
                Call {
                    verb: "connect",
                    resource: "kubeconfig",
                    namespace: "-",
                    name: None,
                },
            )
        })?;
        Self::new(client, config)
    }

    /// A platform from a kubeconfig file, optionally with a named context.
    pub async fn from_kubeconfig(
        path: impl AsRef<std::path::Path>,
        context: Option<&str>,
        config: KubeConfig,
    ) -> Result<Self> {
        ensure_crypto_provider();
        let path = path.as_ref();
        let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
            Error::invalid_input(format!(
                "cannot read kubeconfig {}: {e}: expected a readable kubeconfig file",
                path.display()
            ))
            .with_backend(BACKEND)
        })?;
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| {
                Error::invalid_input(format!(
                    "kubeconfig {} is not usable{}: {e}",
                    path.display(),
                    context
                        .map(|c| format!(" with context {c:?}"))
                        .unwrap_or_default()
                ))
                .with_backend(BACKEND)
            })?;
        let client = kube::Client::try_from(cfg).map_err(|e| {
            map_kube_error(
                e,
                Call {
                    verb: "connect",
                    resource: "kubeconfig",
                    namespace: "-",
                    name: None,
                },
            )
        })?;
        Self::new(client, config)
    }

    /// Uses `clock` for lease times (tests under paused tokio time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &KubeConfig {
        &self.config
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.as_ref().map_or_else(Utc::now, Clock::now)
    }

    /// The namespace of a target: its own, the configured one, or the client's default.
    pub fn namespace_of(&self, target: &Target) -> String {
        target
            .namespace
            .clone()
            .or_else(|| self.config.namespace.clone())
            .unwrap_or_else(|| self.client.default_namespace().to_string())
    }

    pub(crate) fn patch_params(&self) -> PatchParams {
        PatchParams {
            field_manager: Some(self.config.field_manager.clone()),
            ..Default::default()
        }
    }

    /// Runs one API call with the configured deadline and maps its error.
    pub(crate) async fn call<T, F>(&self, call: Call<'_>, fut: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, kube::Error>>,
    {
        match tokio::time::timeout(self.config.request_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(map_kube_error(e, call)),
            Err(_) => Err(timed_out(call, self.config.request_timeout)),
        }
    }

    /// Lists namespaced objects of one kind by label selector.
    async fn list_by_label<K>(
        &self,
        resource: &'static str,
        ns: &str,
        selector: &str,
    ) -> Result<Vec<K>>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        let lp = ListParams::default().labels(selector);
        let list = self
            .call(
                Call {
                    verb: "list",
                    resource,
                    namespace: ns,
                    name: None,
                },
                api.list(&lp),
            )
            .await?;
        Ok(list.items)
    }

    pub(crate) async fn list_deployments(
        &self,
        ns: &str,
        selector: &str,
    ) -> Result<Vec<Deployment>> {
        self.list_by_label("deployments", ns, selector).await
    }

    pub(crate) async fn get_deployment(&self, ns: &str, name: &str) -> Result<Deployment> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        self.call(
            Call {
                verb: "get",
                resource: "deployments",
                namespace: ns,
                name: Some(name),
            },
            api.get(name),
        )
        .await
    }

    pub(crate) async fn list_replicasets(
        &self,
        ns: &str,
        selector: &str,
    ) -> Result<Vec<ReplicaSet>> {
        self.list_by_label("replicasets", ns, selector).await
    }

    /// Merge-patches a Deployment's `spec.replicas`.
    pub(crate) async fn patch_deployment_replicas(
        &self,
        ns: &str,
        name: &str,
        replicas: u32,
    ) -> Result<()> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        self.call(
            Call {
                verb: "patch",
                resource: "deployments",
                namespace: ns,
                name: Some(name),
            },
            api.patch(name, &self.patch_params(), &Patch::Merge(&patch)),
        )
        .await?;
        Ok(())
    }

    fn capabilities_of(mode: Mode) -> Capabilities {
        let mut c = Capabilities::default();
        c.evidence = true;
        c.lock = true;
        c.mark = true;
        match mode {
            Mode::Rollout => {
                // The Deployment controller owns the size of old ReplicaSets: no `scale`.
                c.revert = true;
            }
            Mode::BlueGreen => {
                c.traffic_switch = true;
                c.scale = true;
            }
            Mode::Gateway | Mode::ReplicaRatio => {
                c.traffic_switch = true;
                c.weighted_traffic = true;
                c.scale = true;
            }
        }
        c
    }
}

/// Finds a listed release by revision or fails naming the known ones.
pub(crate) fn unknown_revision(layout: &Layout, revision: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "{what}: release {revision:?} is not a ReplicaSet of {}: known revisions are {}",
            layout.describe(),
            layout
                .releases
                .iter()
                .map(|r| format!("{} ({})", r.release.revision, r.release.version))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with_backend(BACKEND)
}

fn unsupported(op: &'static str, mode: Mode) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("operation `{op}` is not supported in kubernetes mode `{mode}`"),
    )
    .with_operation(op)
    .with_backend(BACKEND)
}

#[async_trait]
impl Platform for KubePlatform {
    fn name(&self) -> &str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Self::capabilities_of(self.config.mode)
    }

    async fn releases(&self, target: &Target) -> Result<Vec<Release>> {
        target.validate()?;
        let layout = self.layout(target).await?;
        let traffic = self.traffic_of(&layout).await?;
        let mut releases = layout.releases_with_state(&traffic);
        if let Some(slot) = self.preview_slot(&layout).await? {
            for r in releases
                .iter_mut()
                .filter(|r| r.slot.as_deref() == Some(&slot))
            {
                r.attributes.insert("service.preview".into(), "true".into());
            }
        }
        Ok(releases)
    }

    async fn traffic(&self, target: &Target) -> Result<TrafficSplit> {
        target.validate()?;
        let layout = self.layout(target).await?;
        self.traffic_of(&layout).await
    }

    async fn health(&self, target: &Target, release: &Release) -> Result<HealthSnapshot> {
        target.validate()?;
        let layout = self.layout(target).await?;
        self.health_of(&layout, &release.revision).await
    }

    async fn set_traffic(&self, target: &Target, split: &TrafficSplit) -> Result<()> {
        if !self.capabilities().traffic_switch {
            return Err(unsupported("set_traffic", self.config.mode));
        }
        target.validate()?;
        let layout = self.layout(target).await?;
        self.apply_traffic(&layout, split).await
    }

    async fn revert(&self, target: &Target, to: &Release) -> Result<()> {
        if !self.capabilities().revert {
            return Err(unsupported("revert", self.config.mode));
        }
        target.validate()?;
        self.revert_to(target, &to.revision).await
    }

    async fn scale(&self, target: &Target, release: &Release, replicas: u32) -> Result<()> {
        if !self.capabilities().scale {
            return Err(unsupported("scale", self.config.mode));
        }
        target.validate()?;
        let layout = self.layout(target).await?;
        let r = layout
            .find(&release.revision)
            .ok_or_else(|| unknown_revision(&layout, &release.revision, "scale"))?;
        let d = &layout.deployments[r.deployment];
        let name = d.metadata.name.clone().unwrap_or_default();
        let now = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if i64::from(now) == i64::from(replicas) {
            return Ok(());
        }
        self.patch_deployment_replicas(&layout.namespace, &name, replicas)
            .await
            .map_err(|e| e.with_operation("scale"))
    }

    async fn evidence(
        &self,
        target: &Target,
        release: &Release,
        window: &TimeRange,
    ) -> Result<Evidence> {
        target.validate()?;
        let layout = self.layout(target).await?;
        self.evidence_of(&layout, &release.revision, window).await
    }

    async fn lock(&self, target: &Target, holder: &str, ttl: Duration) -> Result<Lease> {
        target.validate()?;
        self.take_lease(target, holder, ttl).await
    }

    async fn unlock(&self, target: &Target, lease: &Lease) -> Result<()> {
        target.validate()?;
        self.release_lease(target, lease).await
    }

    async fn mark(
        &self,
        target: &Target,
        release: &Release,
        mark: ReleaseMark,
        reason: &str,
    ) -> Result<()> {
        target.validate()?;
        let layout = self.layout(target).await?;
        let r = layout
            .find(&release.revision)
            .ok_or_else(|| unknown_revision(&layout, &release.revision, "mark"))?;
        let value = match mark {
            ReleaseMark::Verified => Some("verified"),
            ReleaseMark::Failed => Some("failed"),
            _ => None,
        };
        let rs_ann = r.rs.metadata.annotations.clone().unwrap_or_default();
        let same = rs_ann.get(MARK_ANNOTATION).map(String::as_str) == value
            && rs_ann.get(MARK_REASON_ANNOTATION).map(String::as_str) == value.map(|_| reason);
        if same {
            return Ok(());
        }
        let reason: String = reason.chars().take(1024).collect();
        let patch = serde_json::json!({
            "metadata": { "annotations": {
                MARK_ANNOTATION: value,
                MARK_REASON_ANNOTATION: value.map(|_| reason),
            } }
        });
        let name = release.revision.as_str();
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &layout.namespace);
        self.call(
            Call {
                verb: "patch",
                resource: "replicasets",
                namespace: &layout.namespace,
                name: Some(name),
            },
            api.patch(name, &self.patch_params(), &Patch::Merge(&patch)),
        )
        .await
        .map_err(|e| e.with_operation("mark"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_mode_reverts_and_slot_modes_switch() {
        let r = KubePlatform::capabilities_of(Mode::Rollout);
        assert!(r.revert && !r.traffic_switch && !r.scale && r.lock && r.mark && r.evidence);
        let bg = KubePlatform::capabilities_of(Mode::BlueGreen);
        assert!(bg.traffic_switch && !bg.weighted_traffic && bg.scale && !bg.revert);
        let gw = KubePlatform::capabilities_of(Mode::Gateway);
        assert!(gw.traffic_switch && gw.weighted_traffic && gw.scale);
    }
}
