//! Stage 2: what the rollback will cost, per strategy, derived from the platform and metrics.

use std::time::Duration;

use super::run::{Run, Step};
use crate::metrics_source::MetricsSource;
use crate::model::event::Stage;
use crate::model::metric::{MetricKind, TimeRange};
use crate::model::release::ReleaseState;
use crate::platform::Platform;
use crate::report::{Impact, Mark, StageStatus, StrategyCost};
use crate::request::Strategy;

impl<P: Platform + 'static, M: MetricsSource + 'static> Run<P, M> {
    pub(super) async fn stage_impact(&mut self) -> Step {
        self.begin(Stage::Impact);
        let Some(from) = self.from.clone() else {
            self.end(StageStatus::Skipped);
            return Ok(());
        };
        let caps = self.inner.platform.capabilities_for(&self.req.target);
        let policy = self.inner.policy.clone();
        // A warm standby (a blue-green slot with ready capacity) makes the switch instant.
        let warm = self.releases.iter().find(|r| {
            r.state == ReleaseState::Standby && r.replicas.ready > 0 && r.revision != from.revision
        });
        let step_time = policy.gradual.pause * policy.gradual.steps.len() as u32;
        let strategies = vec![
            StrategyCost {
                strategy: Strategy::Instant,
                available: caps.traffic_switch,
                downtime: Duration::ZERO,
                duration: Duration::from_secs(1),
                note: match (caps.traffic_switch, warm) {
                    (false, _) => "platform has no traffic switch".into(),
                    (true, Some(w)) => format!(
                        "warm {} slot running {} ({}/{} ready)",
                        w.slot.as_deref().unwrap_or("standby"),
                        w.version,
                        w.replicas.ready,
                        w.replicas.desired
                    ),
                    (true, None) => "no warm standby: the target must be scaled up first".into(),
                },
            },
            StrategyCost {
                strategy: Strategy::Gradual,
                available: caps.weighted_traffic,
                downtime: Duration::ZERO,
                duration: step_time,
                note: format!(
                    "{} steps ({}%) with {} of observation each",
                    policy.gradual.steps.len(),
                    policy
                        .gradual
                        .steps
                        .iter()
                        .map(u8::to_string)
                        .collect::<Vec<_>>()
                        .join("/"),
                    humantime::format_duration(policy.gradual.pause)
                ),
            },
            StrategyCost {
                strategy: Strategy::Full,
                available: caps.revert,
                downtime: Duration::ZERO,
                duration: policy.rollout_timeout,
                note: "rolling replacement: capacity reduced during the rollout, no full outage expected".into(),
            },
            StrategyCost {
                strategy: Strategy::Database,
                available: caps.revert && self.inner.data_guard.is_some() && !self.req.preserve_data,
                downtime: policy.rollout_timeout,
                duration: policy.rollout_timeout,
                note: if self.req.preserve_data {
                    "not used: preserve_data is on".into()
                } else {
                    "restores data: writes since the restore point are lost".into()
                },
            },
        ];

        // Load now, from metrics: in-flight requests by Little's law (rate × latency).
        let range = TimeRange::ending_at(self.now(), policy.detection.evaluation);
        let step = policy.detection.step;
        let (rate, _) = self
            .query(MetricKind::RequestRate, &from, range, step)
            .await;
        let request_rate = crate::detect::window_mean(&rate, range.start);
        let p95 = self
            .report
            .detection
            .as_ref()
            .and_then(|d| d.readings.iter().find(|r| r.metric == Self::p95()))
            .and_then(|r| r.value);
        let in_flight = match (request_rate, p95) {
            (Some(r), Some(l)) => Some((r * l / 1000.0).ceil() as u64),
            _ => None,
        };
        for s in &strategies {
            let mark = if s.available { Mark::Ok } else { Mark::Info };
            self.line(
                mark,
                format!(
                    "{}: {}downtime {} — {}",
                    s.strategy.describe(),
                    if s.available { "" } else { "unavailable; " },
                    humantime::format_duration(s.downtime),
                    s.note
                ),
            );
        }
        self.line(
            Mark::Ok,
            if self.req.preserve_data {
                "Data: preserved (no database restore)".to_string()
            } else {
                "Data: restore allowed (preserve_data = false)".to_string()
            },
        );
        let sessions = match request_rate {
            Some(r) => format!(
                "{r:.0} req/s served by {}; sessions stored in the instances of {} are lost on the switch, external session stores are unaffected",
                from.version, from.version
            ),
            None => "request rate unknown; sessions in the failing instances may be lost".to_string(),
        };
        self.line(Mark::Info, format!("Sessions: {sessions}"));
        if let Some(n) = in_flight {
            self.line(
                Mark::Info,
                format!("In-flight requests: ~{n} (rate × p95), drained by the platform's connection draining"),
            );
        }
        self.report.impact = Some(Impact {
            strategies,
            data_preserved: self.req.preserve_data,
            request_rate,
            in_flight_requests: in_flight,
            sessions,
        });
        self.end(StageStatus::Ok);
        Ok(())
    }
}
