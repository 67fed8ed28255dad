//! Reading and moving traffic: ready-replica shares (`rollout`, `replica-ratio`), the Service
//! selector switch (`blue-green`), `HTTPRoute` backend weights (`gateway`).

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DynamicObject, Patch};
use kube::core::{ApiResource, GroupVersionKind};
use rollback_core::{Error, ErrorKind, ReleaseRef, Result, TrafficSplit};
use serde_json::Value;

use crate::config::{KubeConfig, Mode};
use crate::error_map::{Call, BACKEND};
use crate::layout::Layout;
use crate::platform::{unknown_revision, KubePlatform};

/// The Gateway API resource weighed in `gateway` mode.
pub fn httproute_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

/// Percentages summing to exactly 100 from non-negative amounts (largest remainder); zero
/// amounts get nothing. `None` when every amount is zero.
pub(crate) fn to_percentages(amounts: &[(ReleaseRef, u64)]) -> Option<TrafficSplit> {
    let total: u64 = amounts.iter().map(|(_, a)| *a).sum();
    if total == 0 {
        return None;
    }
    let mut shares: Vec<(usize, u64, u64)> = amounts
        .iter()
        .enumerate()
        .map(|(i, (_, a))| (i, a * 100 / total, a * 100 % total))
        .collect();
    let given: u64 = shares.iter().map(|s| s.1).sum();
    let mut by_remainder: Vec<usize> = (0..shares.len()).collect();
    by_remainder.sort_by(|&a, &b| shares[b].2.cmp(&shares[a].2).then(a.cmp(&b)));
    for &i in by_remainder.iter().take((100 - given) as usize) {
        shares[i].1 += 1;
    }
    let weights = shares
        .into_iter()
        .map(|(i, p, _)| (amounts[i].0.clone(), u8::try_from(p).unwrap_or(100)))
        .collect();
    TrafficSplit::new(weights).ok()
}

impl KubePlatform {
    fn service_name(&self, layout: &Layout) -> String {
        KubeConfig::expand(&self.config.service, &layout.target.deployment, None)
    }

    fn route_name(&self, layout: &Layout) -> String {
        KubeConfig::expand(&self.config.httproute, &layout.target.deployment, None)
    }

    fn backend_name(&self, layout: &Layout, slot: &str) -> String {
        KubeConfig::expand(
            &self.config.backend_service,
            &layout.target.deployment,
            Some(slot),
        )
    }

    pub(crate) async fn get_service(&self, ns: &str, name: &str) -> Result<Service> {
        let api: Api<Service> = Api::namespaced(self.client.clone(), ns);
        self.call(
            Call {
                verb: "get",
                resource: "services",
                namespace: ns,
                name: Some(name),
            },
            api.get(name),
        )
        .await
    }

    async fn get_route(&self, layout: &Layout) -> Result<DynamicObject> {
        let name = self.route_name(layout);
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &layout.namespace,
            &httproute_resource(),
        );
        self.call(
            Call {
                verb: "get",
                resource: "httproutes",
                namespace: &layout.namespace,
                name: Some(&name),
            },
            api.get(&name),
        )
        .await
    }

    /// How traffic is split now.
    pub(crate) async fn traffic_of(&self, layout: &Layout) -> Result<TrafficSplit> {
        match layout.mode {
            Mode::Rollout | Mode::ReplicaRatio => ready_shares(layout),
            Mode::BlueGreen => {
                let svc = self
                    .get_service(&layout.namespace, &self.service_name(layout))
                    .await?;
                let slot = self.selected_slot(layout, &svc)?;
                let r = layout
                    .releases
                    .iter()
                    .find(|r| r.slot() == Some(slot.as_str()))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::PreconditionFailed,
                            format!(
                                "service {} selects slot {slot:?}, which no Deployment of {} has (slots: {})",
                                self.service_name(layout),
                                layout.target,
                                slots(layout)
                            ),
                        )
                        .with_backend(BACKEND)
                    })?;
                Ok(TrafficSplit::all_to(&r.release))
            }
            Mode::Gateway => {
                let route = self.get_route(layout).await?;
                let weights = self.route_weights(layout, &route.data);
                to_percentages(&weights).ok_or_else(|| {
                    Error::new(
                        ErrorKind::PreconditionFailed,
                        format!(
                            "HTTPRoute {} sends no traffic to the slot Services of {} ({})",
                            self.route_name(layout),
                            layout.target,
                            layout
                                .releases
                                .iter()
                                .filter_map(|r| r.slot().map(|s| self.backend_name(layout, s)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .with_backend(BACKEND)
                })
            }
        }
    }

    /// `blue-green` with a preview Service: the slot it selects (read only, never written).
    pub(crate) async fn preview_slot(&self, layout: &Layout) -> Result<Option<String>> {
        let Some(template) = self.config.preview_service.as_deref() else {
            return Ok(None);
        };
        if layout.mode != Mode::BlueGreen {
            return Ok(None);
        }
        let name = KubeConfig::expand(template, &layout.target.deployment, None);
        let svc = self.get_service(&layout.namespace, &name).await?;
        Ok(svc
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.get(&self.config.slot_label))
            .cloned())
    }

    fn selected_slot(&self, layout: &Layout, svc: &Service) -> Result<String> {
        svc.spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.get(&self.config.slot_label))
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "service {} has no `{}` key in its selector: blue-green mode needs the Service to select one slot ({})",
                        self.service_name(layout),
                        self.config.slot_label,
                        slots(layout)
                    ),
                )
                .with_backend(BACKEND)
            })
    }

    /// The route's weight per release, from the first rule that names a slot Service.
    fn route_weights(&self, layout: &Layout, route: &Value) -> Vec<(ReleaseRef, u64)> {
        let rules = route
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for rule in rules {
            let refs = rule
                .get("backendRefs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut out = Vec::new();
            for r in &layout.releases {
                let Some(slot) = r.slot() else { continue };
                let backend = self.backend_name(layout, slot);
                let w: u64 = refs
                    .iter()
                    .filter(|b| b.get("name").and_then(Value::as_str) == Some(backend.as_str()))
                    .map(|b| b.get("weight").and_then(Value::as_u64).unwrap_or(1))
                    .sum();
                let named = refs
                    .iter()
                    .any(|b| b.get("name").and_then(Value::as_str) == Some(backend.as_str()));
                if named {
                    out.push((r.release.reference(), w));
                }
            }
            if !out.is_empty() {
                return out;
            }
        }
        Vec::new()
    }

    /// Routes traffic as `split` says: one write at most (none when it already is so).
    pub(crate) async fn apply_traffic(&self, layout: &Layout, split: &TrafficSplit) -> Result<()> {
        // Every named release must be ours and have ready pods (invariant 1).
        for w in split.weights() {
            let r = layout
                .find(&w.release.revision)
                .ok_or_else(|| unknown_revision(layout, &w.release.revision, "set_traffic"))?;
            if r.release.replicas.ready == 0 {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "{} ({}) has no ready pods: traffic not moved ({}% asked)",
                        r.release.version, r.release.revision, w.percent
                    ),
                )
                .with_backend(BACKEND)
                .with_operation("set_traffic"));
            }
        }
        match layout.mode {
            Mode::BlueGreen => self.switch_service(layout, split).await,
            Mode::Gateway => self.weigh_route(layout, split).await,
            Mode::ReplicaRatio => self.shift_replicas(layout, split).await,
            Mode::Rollout => Err(Error::unsupported("set_traffic").with_backend(BACKEND)),
        }
    }

    async fn switch_service(&self, layout: &Layout, split: &TrafficSplit) -> Result<()> {
        let [only] = split.weights() else {
            return Err(Error::invalid_input(format!(
                "split {split} cannot be routed by a Service selector: blue-green mode accepts only all traffic to one slot (use mode `gateway` for weights)"
            ))
            .with_backend(BACKEND));
        };
        let r = layout
            .find(&only.release.revision)
            .ok_or_else(|| unknown_revision(layout, &only.release.revision, "set_traffic"))?;
        let slot = r.slot().unwrap_or_default().to_string();
        let name = self.service_name(layout);
        let svc = self.get_service(&layout.namespace, &name).await?;
        if self.selected_slot(layout, &svc)? == slot {
            return Ok(());
        }
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": svc.metadata.resource_version },
            "spec": { "selector": { self.config.slot_label.clone(): slot } }
        });
        let api: Api<Service> = Api::namespaced(self.client.clone(), &layout.namespace);
        self.call(
            Call {
                verb: "patch",
                resource: "services",
                namespace: &layout.namespace,
                name: Some(&name),
            },
            api.patch(&name, &self.patch_params(), &Patch::Merge(&patch)),
        )
        .await
        .map_err(|e| e.with_operation("set_traffic"))?;
        Ok(())
    }

    async fn weigh_route(&self, layout: &Layout, split: &TrafficSplit) -> Result<()> {
        let route = self.get_route(layout).await?;
        let name = self.route_name(layout);
        let mut rules = route
            .data
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let backends: Vec<(String, u8)> = layout
            .releases
            .iter()
            .filter_map(|r| {
                r.slot().map(|s| {
                    (
                        self.backend_name(layout, s),
                        split.percent_for(&r.release.revision),
                    )
                })
            })
            .collect();
        let mut touched = false;
        for rule in rules.iter_mut() {
            let Some(refs) = rule.get_mut("backendRefs").and_then(Value::as_array_mut) else {
                continue;
            };
            for b in refs.iter_mut() {
                let bname = b.get("name").and_then(Value::as_str).map(str::to_string);
                if let Some((_, pct)) = backends.iter().find(|(n, _)| Some(n) == bname.as_ref()) {
                    b["weight"] = Value::from(*pct);
                    touched = true;
                }
            }
            // A slot that carries weight but is missing from the rule gets a backendRef.
            for (bname, pct) in &backends {
                let present = refs
                    .iter()
                    .any(|b| b.get("name").and_then(Value::as_str) == Some(bname.as_str()));
                if !present && *pct > 0 {
                    refs.push(serde_json::json!({ "name": bname, "port": first_port(refs), "weight": pct }));
                }
            }
        }
        if !touched {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                format!(
                    "HTTPRoute {name} has no backendRef to the slot Services ({}): nothing to weigh",
                    backends.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
            .with_backend(BACKEND));
        }
        if route.data.pointer("/spec/rules") == Some(&Value::Array(rules.clone())) {
            return Ok(());
        }
        // A merge patch replaces the rules array whole; the resource version makes it
        // conditional on the rules we read.
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": route.metadata.resource_version },
            "spec": { "rules": rules }
        });
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &layout.namespace,
            &httproute_resource(),
        );
        self.call(
            Call {
                verb: "patch",
                resource: "httproutes",
                namespace: &layout.namespace,
                name: Some(&name),
            },
            api.patch(&name, &self.patch_params(), &Patch::Merge(&patch)),
        )
        .await
        .map_err(|e| e.with_operation("set_traffic"))?;
        Ok(())
    }

    /// Replica-ratio shifting: the slots' replica counts follow the split (total kept); the
    /// slot that gains is scaled up before the one that loses is scaled down.
    async fn shift_replicas(&self, layout: &Layout, split: &TrafficSplit) -> Result<()> {
        let total: u32 = layout
            .releases
            .iter()
            .map(|r| {
                layout.deployments[r.deployment]
                    .spec
                    .as_ref()
                    .and_then(|s| s.replicas)
                    .map_or(0, |n| u32::try_from(n).unwrap_or(0))
            })
            .sum::<u32>()
            .max(1);
        let mut plan: Vec<(String, u32, u32)> = Vec::new();
        for r in &layout.releases {
            let d = &layout.deployments[r.deployment];
            let now = d
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .map_or(0, |n| u32::try_from(n).unwrap_or(0));
            let pct = u32::from(split.percent_for(&r.release.revision));
            let mut want = (total * pct + 50) / 100;
            if pct > 0 {
                want = want.max(1);
            }
            plan.push((d.metadata.name.clone().unwrap_or_default(), now, want));
        }
        plan.sort_by_key(|(_, now, want)| i64::from(*now) - i64::from(*want));
        for (name, now, want) in plan {
            if now != want {
                self.patch_deployment_replicas(&layout.namespace, &name, want)
                    .await
                    .map_err(|e| e.with_operation("set_traffic"))?;
            }
        }
        Ok(())
    }
}

fn first_port(refs: &[Value]) -> Value {
    refs.iter()
        .find_map(|b| b.get("port").cloned())
        .unwrap_or(Value::Null)
}

fn slots(layout: &Layout) -> String {
    layout
        .releases
        .iter()
        .filter_map(|r| r.slot())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shares by ready replicas; when nothing is ready, all to the Deployment's current release (or
/// the newest).
fn ready_shares(layout: &Layout) -> Result<TrafficSplit> {
    let amounts: Vec<(ReleaseRef, u64)> = layout
        .releases
        .iter()
        .filter(|r| r.release.replicas.ready > 0)
        .map(|r| (r.release.reference(), u64::from(r.release.replicas.ready)))
        .collect();
    if let Some(split) = to_percentages(&amounts) {
        return Ok(split);
    }
    layout
        .releases
        .iter()
        .find(|r| r.current)
        .or_else(|| layout.releases.first())
        .map(|r| TrafficSplit::all_to(&r.release))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "{} has no ReplicaSets yet: nothing serves",
                    layout.describe()
                ),
            )
            .with_backend(BACKEND)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollback_core::Version;

    fn r(rev: &str) -> ReleaseRef {
        ReleaseRef {
            version: Version::parse(rev).unwrap(),
            revision: rev.into(),
        }
    }

    #[test]
    fn percentages_always_sum_to_100() {
        for amounts in [
            vec![1, 1, 1],
            vec![2, 1],
            vec![3, 3, 1],
            vec![1],
            vec![0, 5],
        ] {
            let refs: Vec<_> = amounts
                .iter()
                .enumerate()
                .map(|(i, a)| (r(&format!("r{i}")), *a))
                .collect();
            let s = to_percentages(&refs).unwrap();
            let sum: u32 = s.weights().iter().map(|w| u32::from(w.percent)).sum();
            assert_eq!(sum, 100, "{amounts:?}");
        }
        assert!(to_percentages(&[(r("a"), 0)]).is_none());
    }

    #[test]
    fn route_weights_75_25_read_back_exactly() {
        let s = to_percentages(&[(r("a"), 75), (r("b"), 25)]).unwrap();
        assert_eq!(s.percent_for("a"), 75);
        assert_eq!(s.percent_for("b"), 25);
    }
}
