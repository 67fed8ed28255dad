//! Full revert with `kubectl rollout undo` mechanics: the chosen ReplicaSet's pod template,
//! without `pod-template-hash`, copied into the Deployment under optimistic concurrency.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use rollback_core::{Error, ErrorKind, Result, Target};

use crate::error_map::{Call, BACKEND};
use crate::platform::{unknown_revision, KubePlatform};
use crate::template::{equal_ignoring_hash, without_hash};

impl KubePlatform {
    /// Sets the Deployment's template to that of ReplicaSet `revision`. Refuses a paused
    /// Deployment; no-op when the template already matches; on a 409 re-reads and retries
    /// (`conflict_retries` times) before answering a temporary `Conflict`.
    pub(crate) async fn revert_to(&self, target: &Target, revision: &str) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self.revert_once(target, revision).await {
                Err(e)
                    if e.kind() == ErrorKind::Conflict
                        && attempt < self.config.conflict_retries =>
                {
                    attempt += 1;
                    tracing::debug!(%target, revision, attempt, "revert conflicted; re-reading");
                }
                other => return other.map_err(|e| e.with_operation("revert")),
            }
        }
    }

    async fn revert_once(&self, target: &Target, revision: &str) -> Result<()> {
        let layout = self.layout(target).await?;
        let r = layout
            .find(revision)
            .ok_or_else(|| unknown_revision(&layout, revision, "revert"))?;
        let d = &layout.deployments[r.deployment];
        let name = d.metadata.name.clone().unwrap_or_default();
        let spec = d.spec.clone().unwrap_or_default();
        if spec.paused == Some(true) {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!(
                    "deployment {}/{name} is paused: a paused Deployment does not roll out template changes; resume it (`kubectl rollout resume deployment/{name} -n {}`) and retry",
                    layout.namespace, layout.namespace
                ),
            )
            .with_backend(BACKEND));
        }
        let Some(rs_template) = r.rs.spec.as_ref().and_then(|s| s.template.clone()) else {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!("replicaset {revision} has no pod template to revert to"),
            )
            .with_backend(BACKEND));
        };
        if equal_ignoring_hash(&spec.template, &rs_template) {
            return Ok(());
        }
        // Replace (PUT) the Deployment we read with the template swapped: it carries the
        // resource version we read, so the API server refuses it (409) if the Deployment changed
        // in between, and the template is replaced whole (a merge patch would merge its maps).
        let mut desired = d.clone();
        if let Some(s) = desired.spec.as_mut() {
            s.template = without_hash(&rs_template);
        }
        desired.status = None;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &layout.namespace);
        let pp = PostParams {
            field_manager: Some(self.config.field_manager.clone()),
            ..Default::default()
        };
        self.call(
            Call {
                verb: "update",
                resource: "deployments",
                namespace: &layout.namespace,
                name: Some(&name),
            },
            api.replace(&name, &pp, &desired),
        )
        .await?;
        Ok(())
    }
}
