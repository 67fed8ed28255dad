//! The configuration of the ECS platform: cluster, service or blue/green pair, listener, logs,
//! lock table, region and endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use rollback_core::{Error, Result};

use crate::metrics::CustomMetric;

/// Where the history of a service's deployments comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentHistory {
    /// `ListServiceDeployments` / `DescribeServiceDeployments`, falling back to
    /// `DescribeServices` for the rest of the process when the endpoint does not answer them.
    #[default]
    Auto,
    /// Only `ListServiceDeployments` / `DescribeServiceDeployments`; failures are errors.
    ServiceDeployments,
    /// Only the `deployments` list of `DescribeServices` (older endpoints, emulators).
    DescribeServices,
}

/// One slot of a blue/green pair: an ECS service and the ALB target group it registers in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// The ECS service name of this slot.
    pub service: String,
    /// The ARN of the target group the slot's tasks register in.
    pub target_group_arn: String,
}

/// Two services (blue and green) behind one ALB listener or listener rule that forwards to their
/// two target groups with weights.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueGreenConfig {
    /// The name of the pair: the [`Target::deployment`](rollback_core::Target) that selects it.
    pub name: String,
    /// The blue slot.
    pub blue: SlotConfig,
    /// The green slot.
    pub green: SlotConfig,
    /// The listener whose default forward action holds the weights. Set this or `rule_arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_arn: Option<String>,
    /// The listener rule whose forward action holds the weights. Set this or `listener_arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
}

impl BlueGreenConfig {
    /// The slots with their names, blue first.
    pub fn slots(&self) -> [(&'static str, &SlotConfig); 2] {
        [("blue", &self.blue), ("green", &self.green)]
    }
}

/// Configuration of [`EcsPlatform`](crate::EcsPlatform) and
/// [`CloudWatchMetrics`](crate::CloudWatchMetrics), as read from a config file.
///
/// ```
/// let cfg: rollback_ecs::EcsConfig = toml::from_str(r#"
///     cluster = "prod"
///     log_group = "/ecs/web"
///     lock_table = "rollback-locks"
///     region = "us-east-1"
///
///     [blue_green]
///     name = "web"
///     listener_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
///     blue = { service = "web-blue", target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/73e2d6bc24d8a067" }
///     green = { service = "web-green", target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/2453ed029918f21f" }
/// "#).unwrap();
/// cfg.validate().unwrap();
/// assert_eq!(cfg.blue_green.unwrap().green.service, "web-green");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsConfig {
    /// The ECS cluster (name or ARN). A target's `namespace`, when set, overrides it.
    pub cluster: String,
    /// The default service, for callers that name none (`--service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A blue/green pair of services behind weighted target groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenConfig>,
    /// The CloudWatch Logs group of the services' containers (awslogs driver), for evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// The log-stream prefix of the awslogs driver (`awslogs-stream-prefix`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream_prefix: Option<String>,
    /// The DynamoDB table that holds rollback locks (partition key `target`, string; TTL
    /// attribute `expires_at`). Without it, [`Platform::lock`](rollback_core::Platform::lock) is
    /// not offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_table: Option<String>,
    /// The AWS region; without it the standard chain (`AWS_REGION`, profile) decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An endpoint override for every AWS client (a local emulator such as moto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// The task-definition tag whose value is the release version; without that tag the image
    /// tag of the main container is used.
    #[serde(default = "default_version_tag")]
    pub version_tag: String,
    /// The container whose image tag is the version (default: the first essential container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// How many task-definition revisions of the family to list as releases.
    #[serde(default = "default_max_releases")]
    pub max_releases: u32,
    /// Where deployment history comes from.
    #[serde(default)]
    pub deployment_history: DeploymentHistory,
    /// How long a revert or scale may take to reach a completed rollout.
    #[serde(default = "default_settle_timeout", with = "humantime_serde")]
    pub settle_timeout: Duration,
    /// How often a rollout is polled while waiting.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Named custom CloudWatch metrics for [`MetricKind::Custom`](rollback_core::MetricKind).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_metrics: BTreeMap<String, CustomMetric>,
}

fn default_version_tag() -> String {
    "version".into()
}
fn default_max_releases() -> u32 {
    10
}
fn default_settle_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(10)
}

impl EcsConfig {
    /// A configuration for one cluster with defaults for everything else.
    pub fn new(cluster: impl Into<String>) -> Self {
        EcsConfig {
            cluster: cluster.into(),
            service: None,
            blue_green: None,
            log_group: None,
            log_stream_prefix: None,
            lock_table: None,
            region: None,
            endpoint_url: None,
            version_tag: default_version_tag(),
            container: None,
            max_releases: default_max_releases(),
            deployment_history: DeploymentHistory::default(),
            settle_timeout: default_settle_timeout(),
            poll_interval: default_poll_interval(),
            custom_metrics: BTreeMap::new(),
        }
    }

    /// Sets the default service.
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Sets the blue/green pair.
    pub fn with_blue_green(mut self, pair: BlueGreenConfig) -> Self {
        self.blue_green = Some(pair);
        self
    }

    /// Sets the CloudWatch Logs group (and stream prefix) of the containers.
    pub fn with_logs(mut self, group: impl Into<String>, stream_prefix: Option<String>) -> Self {
        self.log_group = Some(group.into());
        self.log_stream_prefix = stream_prefix;
        self
    }

    /// Sets the DynamoDB lock table.
    pub fn with_lock_table(mut self, table: impl Into<String>) -> Self {
        self.lock_table = Some(table.into());
        self
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets an endpoint override for all AWS clients (a local emulator).
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets where deployment history comes from.
    pub fn with_deployment_history(mut self, history: DeploymentHistory) -> Self {
        self.deployment_history = history;
        self
    }

    /// Sets the rollout timeout and poll interval.
    pub fn with_settle(mut self, timeout: Duration, poll: Duration) -> Self {
        self.settle_timeout = timeout;
        self.poll_interval = poll;
        self
    }

    /// Checks the configuration; the error says which field is wrong and what is accepted.
    pub fn validate(&self) -> Result<()> {
        fn name(field: &str, v: &str) -> Result<()> {
            if v.is_empty()
                || v.len() > 2048
                || v.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(Error::invalid_input(format!(
                    "ecs config: `{field}` = {v:?} is not valid: expected a non-empty name or ARN without whitespace"
                )));
            }
            Ok(())
        }
        fn arn(field: &str, v: &str, kind: &str) -> Result<()> {
            name(field, v)?;
            if !v.starts_with("arn:") || !v.contains(&format!(":{kind}/")) {
                return Err(Error::invalid_input(format!(
                    "ecs config: `{field}` = {v:?} is not an Elastic Load Balancing {kind} ARN: expected `arn:aws:elasticloadbalancing:REGION:ACCOUNT:{kind}/…`"
                )));
            }
            Ok(())
        }
        name("cluster", &self.cluster)?;
        if let Some(s) = &self.service {
            name("service", s)?;
        }
        if let Some(g) = &self.log_group {
            name("log_group", g)?;
        }
        if let Some(t) = &self.lock_table {
            if t.len() < 3
                || t.len() > 255
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                return Err(Error::invalid_input(format!(
                    "ecs config: `lock_table` = {t:?} is not a DynamoDB table name: expected 3-255 characters of a-z, A-Z, 0-9, `_`, `-`, `.`"
                )));
            }
        }
        if let Some(u) = &self.endpoint_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(Error::invalid_input(format!(
                    "ecs config: `endpoint_url` = {u:?} is not a URL: expected http://HOST:PORT or https://HOST"
                )));
            }
        }
        if self.max_releases == 0 || self.max_releases > 100 {
            return Err(Error::invalid_input(format!(
                "ecs config: `max_releases` = {} is out of range: expected 1-100",
                self.max_releases
            )));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::invalid_input(
                "ecs config: `poll_interval` is zero: expected a duration such as \"10s\"",
            ));
        }
        if let Some(bg) = &self.blue_green {
            name("blue_green.name", &bg.name)?;
            for (slot, s) in bg.slots() {
                name(&format!("blue_green.{slot}.service"), &s.service)?;
                arn(
                    &format!("blue_green.{slot}.target_group_arn"),
                    &s.target_group_arn,
                    "targetgroup",
                )?;
            }
            if bg.blue.service == bg.green.service
                || bg.blue.target_group_arn == bg.green.target_group_arn
            {
                return Err(Error::invalid_input(
                    "ecs config: `blue_green.blue` and `blue_green.green` name the same service or target group: expected two distinct services with their own target groups",
                ));
            }
            match (&bg.listener_arn, &bg.rule_arn) {
                (Some(l), None) => arn("blue_green.listener_arn", l, "listener")?,
                (None, Some(r)) => arn("blue_green.rule_arn", r, "listener-rule")?,
                _ => {
                    return Err(Error::invalid_input(
                        "ecs config: `blue_green` needs exactly one of `listener_arn` (default action) and `rule_arn` (a listener rule)",
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        let e = toml::from_str::<EcsConfig>("cluster = \"c\"\nclustr = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("clustr"), "{e}");
    }

    #[test]
    fn a_pair_needs_exactly_one_of_listener_and_rule() {
        let cfg: EcsConfig = toml::from_str(
            r#"cluster = "c"
            [blue_green]
            name = "web"
            blue = { service = "b", target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1" }
            green = { service = "g", target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/2" }
            "#,
        )
        .unwrap();
        let e = cfg.validate().unwrap_err();
        assert!(e.message().contains("exactly one of `listener_arn`"), "{e}");
    }

    #[test]
    fn durations_are_human_readable() {
        let cfg: EcsConfig =
            toml::from_str("cluster = \"c\"\nsettle_timeout = \"2m\"\npoll_interval = \"500ms\"\n")
                .unwrap();
        assert_eq!(cfg.settle_timeout, Duration::from_secs(120));
        assert_eq!(cfg.poll_interval, Duration::from_millis(500));
        cfg.validate().unwrap();
    }

    #[test]
    fn a_bad_lock_table_name_says_what_is_accepted() {
        let e = EcsConfig::new("c")
            .with_lock_table("a b")
            .validate()
            .unwrap_err();
        assert!(e.message().contains("3-255 characters"), "{e}");
    }
}
