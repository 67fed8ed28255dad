//! How a rollback target maps to Kubernetes objects: the mode and the names of the Deployments,
//! Services and routes involved. Serde, TOML-friendly, unknown keys refused.

use std::time::Duration;

use rollback_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The label (or annotation) that carries a release's version unless configured otherwise.
pub const DEFAULT_VERSION_LABEL: &str = "app.kubernetes.io/version";
/// The label whose value names the blue-green slot of a Deployment unless configured otherwise.
pub const DEFAULT_SLOT_LABEL: &str = "rollback.dev/slot";

/// How the releases of a target are laid out and how traffic reaches them.
///
/// ```
/// use rollback_k8s::Mode;
/// let m: Mode = "blue-green".parse().unwrap();
/// assert_eq!(m, Mode::BlueGreen);
/// assert!("canary".parse::<Mode>().unwrap_err().to_string().contains("rollout, blue-green, gateway"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One Deployment; its ReplicaSets are the releases; rollback = `kubectl rollout undo`
    /// mechanics (the Deployment's pod template set back to an older ReplicaSet's).
    #[default]
    Rollout,
    /// Two Deployments (slots, told apart by the slot label) behind one Service; the switch is
    /// one patch of the Service selector. An optional preview Service is read, never written.
    BlueGreen,
    /// Two slot Deployments, each behind its own Service, weighted by a Gateway API `HTTPRoute`
    /// (`gateway.networking.k8s.io/v1`); one patch of the route per step.
    Gateway,
    /// Two slot Deployments behind one Service that selects both (no traffic router): traffic
    /// follows the ratio of ready replicas, and a step scales the slots.
    ReplicaRatio,
}

impl Mode {
    /// The configuration spelling (`rollout`, `blue-green`, `gateway`, `replica-ratio`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Rollout => "rollout",
            Mode::BlueGreen => "blue-green",
            Mode::Gateway => "gateway",
            Mode::ReplicaRatio => "replica-ratio",
        }
    }

    /// Whether the releases are slot Deployments (every mode but `rollout`).
    pub fn uses_slots(self) -> bool {
        !matches!(self, Mode::Rollout)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rollout" => Ok(Mode::Rollout),
            "blue-green" | "bluegreen" => Ok(Mode::BlueGreen),
            "gateway" => Ok(Mode::Gateway),
            "replica-ratio" => Ok(Mode::ReplicaRatio),
            _ => Err(Error::invalid_input(format!(
                "unknown kubernetes mode {s:?}: expected one of rollout, blue-green, gateway, replica-ratio"
            ))),
        }
    }
}

/// How targets map to Kubernetes objects. Every name may contain `{deployment}`, replaced by the
/// target's deployment name (and `backend_service` also `{slot}`).
///
/// ```
/// use rollback_k8s::{KubeConfig, Mode};
/// let cfg: KubeConfig = toml::from_str(r#"
///     mode = "blue-green"
///     service = "{deployment}"
///     preview_service = "{deployment}-preview"
/// "#).unwrap();
/// assert_eq!(cfg.mode, Mode::BlueGreen);
/// cfg.validate().unwrap();
/// assert!(toml::from_str::<KubeConfig>("mode = \"rollout\"\nservcie = \"x\"").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeConfig {
    /// The layout (default `rollout`).
    pub mode: Mode,
    /// Namespace for targets that name none (default: the client's default namespace).
    pub namespace: Option<String>,
    /// A label selector that finds the target's Deployment(s) instead of the name: in `rollout`
    /// mode it must match exactly one Deployment. Default: the Deployment named like the target
    /// (`rollout`), `app.kubernetes.io/name={deployment}` (slot modes).
    pub selector: Option<String>,
    /// Label, then annotation, that carries the version; the image tag of the first container
    /// is used when neither is set (default `app.kubernetes.io/version`).
    pub version_label: String,
    /// Label key whose value names a slot (default `rollback.dev/slot`).
    pub slot_label: String,
    /// `blue-green`: the active Service, whose selector picks the slot; `replica-ratio`: the
    /// Service that selects both slots (default `{deployment}`).
    pub service: String,
    /// `blue-green`: the preview Service (Argo Rollouts style), read to tell which slot is the
    /// warm standby; never written by a rollback.
    pub preview_service: Option<String>,
    /// `gateway`: the `HTTPRoute` to weigh (default `{deployment}`).
    pub httproute: String,
    /// `gateway`: the Service that fronts one slot (default `{deployment}-{slot}`).
    pub backend_service: String,
    /// Deadline of one API call (default 30 s); a call past it fails as temporary.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How often `revert` re-reads and retries after a 409 conflict (default 3).
    pub conflict_retries: u32,
    /// Log lines read per pod for evidence (default 200).
    pub log_tail_lines: u32,
    /// Pods whose logs are read for evidence, at most (default 5).
    pub log_pods: usize,
    /// Field manager named on every write (default `rollback`).
    pub field_manager: String,
}

impl Default for KubeConfig {
    fn default() -> Self {
        KubeConfig {
            mode: Mode::Rollout,
            namespace: None,
            selector: None,
            version_label: DEFAULT_VERSION_LABEL.into(),
            slot_label: DEFAULT_SLOT_LABEL.into(),
            service: "{deployment}".into(),
            preview_service: None,
            httproute: "{deployment}".into(),
            backend_service: "{deployment}-{slot}".into(),
            request_timeout: Duration::from_secs(30),
            conflict_retries: 3,
            log_tail_lines: 200,
            log_pods: 5,
            field_manager: "rollback".into(),
        }
    }
}

impl KubeConfig {
    /// A default configuration in `mode`.
    pub fn new(mode: Mode) -> Self {
        KubeConfig {
            mode,
            ..Default::default()
        }
    }

    /// Checks the values, saying what is wrong and what is accepted.
    pub fn validate(&self) -> Result<()> {
        let nonempty = |what: &str, v: &str| {
            if v.trim().is_empty() || v.chars().any(char::is_whitespace) {
                Err(Error::invalid_input(format!(
                    "kubernetes config `{what}` = {v:?} is not valid: expected a non-empty name without whitespace"
                )))
            } else {
                Ok(())
            }
        };
        nonempty("version_label", &self.version_label)?;
        nonempty("slot_label", &self.slot_label)?;
        nonempty("service", &self.service)?;
        nonempty("httproute", &self.httproute)?;
        nonempty("backend_service", &self.backend_service)?;
        nonempty("field_manager", &self.field_manager)?;
        if let Some(p) = &self.preview_service {
            nonempty("preview_service", p)?;
        }
        if let Some(ns) = &self.namespace {
            nonempty("namespace", ns)?;
        }
        if let Some(sel) = &self.selector {
            if sel.trim().is_empty() {
                return Err(Error::invalid_input(
                    "kubernetes config `selector` is empty: expected a label selector such as `app=web`, or leave it out",
                ));
            }
        }
        if self.mode == Mode::Gateway && !self.backend_service.contains("{slot}") {
            return Err(Error::invalid_input(format!(
                "kubernetes config `backend_service` = {:?} must contain `{{slot}}` in gateway mode (e.g. `{{deployment}}-{{slot}}`)",
                self.backend_service
            )));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::invalid_input(
                "kubernetes config `request_timeout` is 0: expected a duration such as `30s`",
            ));
        }
        if self.log_pods == 0 {
            return Err(Error::invalid_input(
                "kubernetes config `log_pods` is 0: expected at least 1",
            ));
        }
        Ok(())
    }

    /// `template` with `{deployment}` (and `{slot}`) filled in.
    pub(crate) fn expand(template: &str, deployment: &str, slot: Option<&str>) -> String {
        let s = template.replace("{deployment}", deployment);
        match slot {
            Some(slot) => s.replace("{slot}", slot),
            None => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_gives_the_defaults() {
        let cfg: KubeConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, KubeConfig::default());
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_mode_lists_the_accepted_ones() {
        let err = toml::from_str::<KubeConfig>("mode = \"canary\"").unwrap_err();
        assert!(err.to_string().contains("rollout"), "{err}");
    }

    #[test]
    fn gateway_backend_service_needs_the_slot_placeholder() {
        let mut cfg = KubeConfig::new(Mode::Gateway);
        cfg.backend_service = "web".into();
        let e = cfg.validate().unwrap_err();
        assert!(e.to_string().contains("{slot}"), "{e}");
    }

    #[test]
    fn durations_are_human_readable() {
        let cfg: KubeConfig = toml::from_str("request_timeout = \"5s\"").unwrap();
        assert_eq!(cfg.request_timeout, Duration::from_secs(5));
    }
}
