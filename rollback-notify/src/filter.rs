//! Which events a channel wants: minimum severity, environments, stage events or summaries only.

use rollback_core::{Environment, Event, EventKind, Severity};

/// The event filter every channel applies in [`rollback_core::Notifier::wants`].
///
/// By default a channel gets every event except per-stage events ([`EventKind::StageFinished`]);
/// channels narrow that further where the provider has no use for an event (PagerDuty ignores
/// [`EventKind::NothingToDo`], GitHub only files finished rollbacks).
///
/// ```
/// use rollback_notify::EventFilter;
/// use rollback_core::{Environment, Severity};
/// let f = EventFilter::default()
///     .min_severity(Severity::High)
///     .environments([Environment::Production]);
/// # let _ = f;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    min_severity: Option<Severity>,
    environments: Vec<Environment>,
    stage_events: bool,
}

impl EventFilter {
    /// Only events at least this severe.
    pub fn min_severity(mut self, severity: Severity) -> Self {
        self.min_severity = Some(severity);
        self
    }

    /// Only events of targets in these environments (empty = all).
    pub fn environments(mut self, environments: impl IntoIterator<Item = Environment>) -> Self {
        self.environments = environments.into_iter().collect();
        self
    }

    /// Whether per-stage events are wanted too (default: summaries only).
    pub fn stage_events(mut self, wanted: bool) -> Self {
        self.stage_events = wanted;
        self
    }

    /// Whether `event` passes the environment (and stage) part of the filter, whatever its
    /// severity. PagerDuty uses it for resolves: a resolve must follow its trigger even when the
    /// success event itself is less severe than the filter's minimum.
    pub fn accepts_any_severity(&self, event: &Event) -> bool {
        if event.kind == EventKind::StageFinished && !self.stage_events {
            return false;
        }
        self.environments.is_empty() || self.environments.contains(&event.target.environment)
    }

    /// Whether `event` passes the filter.
    pub fn accepts(&self, event: &Event) -> bool {
        if event.kind == EventKind::StageFinished && !self.stage_events {
            return false;
        }
        if let Some(min) = self.min_severity {
            // A failed rollback always gets through a severity filter: it is the message
            // people most need.
            if event.severity < min && event.kind != EventKind::Failed {
                return false;
            }
        }
        self.environments.is_empty() || self.environments.contains(&event.target.environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use rollback_core::Target;

    fn event(kind: EventKind, sev: Severity, env: Environment) -> Event {
        Event::new("r1", kind, sev, Target::new(env, "api"), "s", Utc::now())
    }

    #[test]
    fn stage_events_are_dropped_unless_asked_for() {
        let e = event(
            EventKind::StageFinished,
            Severity::High,
            Environment::Production,
        );
        assert!(!EventFilter::default().accepts(&e));
        assert!(EventFilter::default().stage_events(true).accepts(&e));
    }

    #[test]
    fn severity_and_environment_filter_apply() {
        let f = EventFilter::default()
            .min_severity(Severity::High)
            .environments([Environment::Production]);
        assert!(f.accepts(&event(
            EventKind::Succeeded,
            Severity::Critical,
            Environment::Production
        )));
        assert!(!f.accepts(&event(
            EventKind::Succeeded,
            Severity::Low,
            Environment::Production
        )));
        assert!(!f.accepts(&event(
            EventKind::Succeeded,
            Severity::Critical,
            Environment::Staging
        )));
    }

    #[test]
    fn failed_rollback_passes_severity_filter() {
        let f = EventFilter::default().min_severity(Severity::Critical);
        assert!(f.accepts(&event(
            EventKind::Failed,
            Severity::Low,
            Environment::Production
        )));
    }
}
