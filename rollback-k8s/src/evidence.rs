//! Evidence for root-cause analysis: pod logs (tail / since, and the previous container's logs
//! after a restart) and the events of the release's pods, ReplicaSet and Deployment.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use rollback_core::{ErrorKind, EventLevel, Evidence, LogLine, PlatformEvent, Result, TimeRange};

use crate::error_map::Call;
use crate::health::{is_ready, restarts};
use crate::layout::Layout;
use crate::platform::{unknown_revision, KubePlatform};
use crate::time::to_chrono;

/// Splits `2024-05-01T10:00:00.123456789Z message` into its timestamp and message.
pub(crate) fn parse_log_line(raw: &str) -> (Option<DateTime<Utc>>, &str) {
    if let Some((ts, rest)) = raw.split_once(' ') {
        if let Ok(t) = DateTime::parse_from_rfc3339(ts) {
            return (Some(t.with_timezone(&Utc)), rest);
        }
    }
    (None, raw)
}

fn event_time(e: &Event) -> Option<DateTime<Utc>> {
    e.last_timestamp
        .as_ref()
        .map(|t| &t.0)
        .or(e.event_time.as_ref().map(|t| &t.0))
        .or(e.first_timestamp.as_ref().map(|t| &t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| &t.0))
        .and_then(to_chrono)
}

impl KubePlatform {
    /// Logs and events of release `revision` over `window`.
    pub(crate) async fn evidence_of(
        &self,
        layout: &Layout,
        revision: &str,
        window: &TimeRange,
    ) -> Result<Evidence> {
        let r = layout
            .find(revision)
            .ok_or_else(|| unknown_revision(layout, revision, "evidence"))?;
        let mut pods = self.pods_of(layout, r).await?;
        // The most telling pods first: restarted, then not ready.
        pods.sort_by_key(|p| (std::cmp::Reverse(restarts(p)), is_ready(p)));
        let mut evidence = Evidence::default();
        let since = (self.now() - window.start).num_seconds().max(1);
        for pod in pods.iter().take(self.config.log_pods) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let mut passes = vec![false];
            if restarts(pod) > 0 {
                passes.insert(0, true);
            }
            for previous in passes {
                let lines = self.pod_log(layout, &name, previous, since).await?;
                if lines.len() as u64 >= u64::from(self.config.log_tail_lines) {
                    evidence.truncated = true;
                }
                let source = if previous {
                    format!("pod/{name} (previous)")
                } else {
                    format!("pod/{name}")
                };
                for raw in lines {
                    let (at, line) = parse_log_line(&raw);
                    if at.is_some_and(|t| !window.contains(t)) {
                        continue;
                    }
                    evidence.logs.push(LogLine {
                        at,
                        source: source.clone(),
                        line: line.to_string(),
                    });
                }
            }
        }
        if pods.len() > self.config.log_pods {
            evidence.truncated = true;
        }
        evidence.logs.sort_by_key(|l| l.at);

        let mut objects: BTreeSet<String> = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        objects.extend(r.rs.metadata.name.clone());
        objects.extend(layout.deployments[r.deployment].metadata.name.clone());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &layout.namespace);
        let events = self
            .call(
                Call {
                    verb: "list",
                    resource: "events",
                    namespace: &layout.namespace,
                    name: None,
                },
                api.list(&ListParams::default()),
            )
            .await?;
        for e in events.items {
            let Some(name) = e.involved_object.name.clone() else {
                continue;
            };
            if !objects.contains(&name) {
                continue;
            }
            let Some(at) = event_time(&e) else { continue };
            if !window.contains(at) {
                continue;
            }
            let kind = e
                .involved_object
                .kind
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase();
            evidence.events.push(PlatformEvent {
                at,
                level: if e.type_.as_deref() == Some("Warning") {
                    EventLevel::Warning
                } else {
                    EventLevel::Normal
                },
                reason: e.reason.clone().unwrap_or_default(),
                object: format!("{kind}/{name}"),
                message: e.message.clone().unwrap_or_default(),
                count: e.count.map_or(1, |c| u32::try_from(c).unwrap_or(1)),
            });
        }
        evidence.events.sort_by_key(|e| e.at);
        Ok(evidence)
    }

    async fn pod_log(
        &self,
        layout: &Layout,
        pod: &str,
        previous: bool,
        since_seconds: i64,
    ) -> Result<Vec<String>> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &layout.namespace);
        let lp = LogParams {
            tail_lines: Some(i64::from(self.config.log_tail_lines)),
            since_seconds: Some(since_seconds),
            timestamps: true,
            previous,
            ..Default::default()
        };
        match self
            .call(
                Call {
                    verb: "get",
                    resource: "pods/log",
                    namespace: &layout.namespace,
                    name: Some(pod),
                },
                api.logs(pod, &lp),
            )
            .await
        {
            Ok(text) => Ok(text.lines().map(str::to_string).collect()),
            // A container that never started (or no previous one) has no logs: not an error.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput) => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamped_log_lines_are_split() {
        let (at, line) = parse_log_line("2024-05-01T10:00:00.123456789Z panic: boom");
        assert!(at.is_some());
        assert_eq!(line, "panic: boom");
        let (at, line) = parse_log_line("no timestamp here");
        assert!(at.is_none());
        assert_eq!(line, "no timestamp here");
    }
}
