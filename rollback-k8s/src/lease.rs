//! One rollback per target: a `coordination.k8s.io/v1` Lease named `rollback-<deployment>` with
//! holder identity, duration and renewal; an expired lease is taken over; a live one of another
//! holder is a conflict that names it.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::api::coordination::v1::Lease as KubeLease;
use kube::api::{Api, Patch, PostParams};
use rollback_core::{Error, ErrorKind, Lease, Result, Target};

use crate::error_map::{Call, BACKEND};
use crate::platform::KubePlatform;
use crate::time::to_chrono;

/// The Lease name of a target's lock.
///
/// ```
/// assert_eq!(rollback_k8s::lease_name("api"), "rollback-api");
/// ```
pub fn lease_name(deployment: &str) -> String {
    let mut name = format!("rollback-{deployment}");
    name.truncate(253);
    name
}

fn micro_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn ttl_seconds(ttl: Duration) -> i64 {
    let s = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(s.max(1)).unwrap_or(i64::MAX)
}

impl KubePlatform {
    fn lease_call<'a>(&self, verb: &'static str, ns: &'a str, name: &'a str) -> Call<'a> {
        Call {
            verb,
            resource: "leases",
            namespace: ns,
            name: Some(name),
        }
    }

    pub(crate) async fn take_lease(
        &self,
        target: &Target,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease> {
        if holder.trim().is_empty() {
            return Err(Error::invalid_input(
                "lock holder is empty: expected an identity such as `rollback@host/pid`",
            ));
        }
        let ns = self.namespace_of(target);
        let name = lease_name(&target.deployment);
        let api: Api<KubeLease> = Api::namespaced(self.client.clone(), &ns);
        let now = self.now();
        let secs = ttl_seconds(ttl);
        let expires_at = now + chrono::Duration::seconds(secs);
        let existing = match self
            .call(self.lease_call("get", &ns, &name), api.get(&name))
            .await
        {
            Ok(l) => Some(l),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e.with_operation("lock")),
        };
        let Some(existing) = existing else {
            let lease: KubeLease = serde_json::from_value(serde_json::json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": { "app.kubernetes.io/managed-by": "rollback" }
                },
                "spec": {
                    "holderIdentity": holder,
                    "leaseDurationSeconds": secs,
                    "acquireTime": micro_time(now),
                    "renewTime": micro_time(now),
                    "leaseTransitions": 0
                }
            }))
            .map_err(|e| {
                Error::new(ErrorKind::Backend, "could not build the Lease").with_source(e)
            })?;
            let pp = PostParams {
                field_manager: Some(self.config.field_manager.clone()),
                ..Default::default()
            };
            let created = self
                .call(
                    self.lease_call("create", &ns, &name),
                    api.create(&pp, &lease),
                )
                .await
                .map_err(|e| e.with_operation("lock"))?;
            return Ok(Lease {
                holder: holder.to_string(),
                expires_at,
                token: created.metadata.resource_version.unwrap_or_default(),
            });
        };
        let spec = existing.spec.clone().unwrap_or_default();
        let current = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let renewed = spec
            .renew_time
            .as_ref()
            .or(spec.acquire_time.as_ref())
            .and_then(|t| to_chrono(&t.0));
        let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
        let lapses = renewed.map(|r| r + chrono::Duration::seconds(duration));
        let expired = lapses.is_none_or(|l| l <= now);
        let rv = existing.metadata.resource_version.clone();
        let patch = match current.as_deref() {
            Some(h) if h == holder => serde_json::json!({
                "metadata": { "resourceVersion": rv },
                "spec": { "renewTime": micro_time(now), "leaseDurationSeconds": secs }
            }),
            Some(h) if !expired => {
                let until = lapses
                    .map(|l| l.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .unwrap_or_default();
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "another rollback of {target} holds the lock: lease {ns}/{name} is held by {h} until {until}"
                    ),
                )
                .with_context("holder", h)
                .with_backend(BACKEND)
                .with_operation("lock"));
            }
            _ => serde_json::json!({
                "metadata": { "resourceVersion": rv },
                "spec": {
                    "holderIdentity": holder,
                    "acquireTime": micro_time(now),
                    "renewTime": micro_time(now),
                    "leaseDurationSeconds": secs,
                    "leaseTransitions": spec.lease_transitions.unwrap_or(0) + 1
                }
            }),
        };
        let updated = self
            .call(
                self.lease_call("patch", &ns, &name),
                api.patch(&name, &self.patch_params(), &Patch::Merge(&patch)),
            )
            .await
            .map_err(|e| e.with_operation("lock"))?;
        Ok(Lease {
            holder: holder.to_string(),
            expires_at,
            token: updated.metadata.resource_version.unwrap_or_default(),
        })
    }

    pub(crate) async fn release_lease(&self, target: &Target, lease: &Lease) -> Result<()> {
        let ns = self.namespace_of(target);
        let name = lease_name(&target.deployment);
        let api: Api<KubeLease> = Api::namespaced(self.client.clone(), &ns);
        let existing = match self
            .call(self.lease_call("get", &ns, &name), api.get(&name))
            .await
        {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.with_operation("unlock")),
        };
        let holder = existing
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.clone());
        if holder.as_deref() != Some(lease.holder.as_str()) {
            // Taken over after it lapsed (or already released): not ours to release.
            return Ok(());
        }
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": existing.metadata.resource_version },
            "spec": { "holderIdentity": null, "renewTime": null }
        });
        self.call(
            self.lease_call("patch", &ns, &name),
            api.patch(&name, &self.patch_params(), &Patch::Merge(&patch)),
        )
        .await
        .map_err(|e| e.with_operation("unlock"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_seconds(Duration::from_secs(30)), 30);
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn micro_time_has_microseconds_and_z() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 5_000).unwrap();
        assert_eq!(micro_time(t), "2023-11-14T22:13:20.000005Z");
    }
}
