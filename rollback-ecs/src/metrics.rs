//! `CloudWatchMetrics`: the [`MetricsSource`] over CloudWatch `GetMetricData` — ALB error rate,
//! request rate, latency percentiles and status codes per target group, ECS CPU and memory per
//! service, and named custom metrics.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, Utc};
use rollback_core::{
    Error, ErrorKind, MetricKind, MetricQuery, MetricsSource, Result, Sample, Series,
};

use crate::clients::AwsClients;
use crate::config::EcsConfig;
use crate::error_map::{map_sdk_error, BACKEND};
use crate::platform::{EcsPlatform, Mode};

/// A named custom metric: one CloudWatch metric and statistic. Dimension values may use
/// `{cluster}`, `{service}`, `{target_group}` and `{load_balancer}`, filled in per query.
///
/// ```
/// let m: rollback_ecs::CustomMetric = toml::from_str(r#"
///     namespace = "Shop"
///     metric_name = "CheckoutFailures"
///     stat = "Sum"
///     dimensions = { Service = "{service}" }
/// "#).unwrap();
/// assert_eq!(m.stat, "Sum");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMetric {
    /// The CloudWatch namespace.
    pub namespace: String,
    /// The metric name.
    pub metric_name: String,
    /// Dimensions (values may hold placeholders).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// The statistic (`Average`, `Sum`, `Maximum`, `p99`, …).
    #[serde(default = "default_stat")]
    pub stat: String,
    /// A factor applied to every value (e.g. `1000` for seconds → milliseconds).
    #[serde(default = "one")]
    pub scale: f64,
}

fn default_stat() -> String {
    "Average".into()
}
fn one() -> f64 {
    1.0
}

/// Where the metrics of one query live.
#[derive(Debug, Clone, Default)]
struct Dims {
    cluster: String,
    /// ECS services (one, or the slots that run the release).
    services: Vec<String>,
    /// `(targetgroup/…, app/…)` dimension pairs.
    target_groups: Vec<(String, String)>,
}

/// CloudWatch as the metrics source of ECS services behind an ALB.
///
/// | kind | CloudWatch | unit |
/// |---|---|---|
/// | `ErrorRate` | `AWS/ApplicationELB` `HTTPCode_Target_5XX_Count` / `RequestCount` (Sum) per target group | ratio |
/// | `RequestRate` | `RequestCount` (Sum) / period | req/s |
/// | `Latency(q)` | `TargetResponseTime` at `pNN` × 1000 | ms |
/// | `StatusCodes` | `HTTPCode_Target_{2,3,4,5}XX_Count` (Sum); CloudWatch only has classes, so `code` is the class's `x00` (`500`) and `class` the class (`5xx`) | count |
/// | `CpuUtilization`, `MemoryUtilization` | `AWS/ECS` per `ClusterName`, `ServiceName` (Average) | % |
/// | `MemoryBytes` | `ECS/ContainerInsights` `MemoryUtilized` (MiB) × 2²⁰ | bytes |
/// | `Custom(name)` | the configured [`CustomMetric`] | as configured |
///
/// A query for a release of a blue/green pair reads the slot that runs it; for the pair as a
/// whole, both slots are added up. A single service's target groups come from its
/// `loadBalancers`. Missing datapoints are never turned into zeros: a step without
/// `RequestCount` has no error rate, and no datapoints at all is an empty answer (no data).
/// CloudWatch rounds `StartTime` down to the period: a datapoint stamped before the queried
/// start is reported at the start, so a window shorter than the period still has its sample.
///
/// ```no_run
/// # async fn demo(platform: &rollback_ecs::EcsPlatform) {
/// let metrics = rollback_ecs::CloudWatchMetrics::for_platform(platform);
/// # let _ = metrics;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    clients: AwsClients,
    config: EcsConfig,
    custom: BTreeMap<String, CustomMetric>,
}

fn stat_for(q: rollback_core::Quantile) -> String {
    let pm = u16::from(q);
    if pm % 10 == 0 {
        format!("p{}", pm / 10)
    } else {
        format!("p{}", f64::from(pm) / 10.0)
    }
}

/// `…:targetgroup/name/id` → `targetgroup/name/id`.
pub(crate) fn tg_dimension(arn: &str) -> Option<String> {
    arn.split_once(":targetgroup/")
        .map(|(_, rest)| format!("targetgroup/{rest}"))
}

/// A listener, rule or load balancer ARN → its `app/name/id` dimension.
pub(crate) fn lb_dimension(arn: &str) -> Option<String> {
    let rest = arn
        .split_once(":listener-rule/")
        .or_else(|| arn.split_once(":listener/"))
        .or_else(|| arn.split_once(":loadbalancer/"))?
        .1;
    let parts: Vec<&str> = rest.split('/').collect();
    (parts.len() >= 3).then(|| parts[..3].join("/"))
}

/// Where a datapoint stamped `t` belongs in the answer to `q`.
///
/// CloudWatch stamps a period's statistic at the period's start and rounds `StartTime` down
/// (to the minute for recent data; moto to the second), so the first datapoint of an answer can
/// be stamped before the queried range although it is the statistic of the period that contains
/// the range's start. Left there, a window shorter than the period (the orchestrator's health
/// watch reads its last `health.interval`, e.g. 10 s) would find no sample at or after its start
/// and read as *no data*. Such a datapoint is reported at the range's start; every other
/// datapoint keeps its timestamp.
fn in_range(t: DateTime<Utc>, q: &MetricQuery) -> DateTime<Utc> {
    t.max(q.range.start)
}

impl CloudWatchMetrics {
    /// A source over the given clients and configuration (its cluster, pair and custom
    /// metrics).
    pub fn new(clients: AwsClients, config: EcsConfig) -> Self {
        CloudWatchMetrics {
            clients,
            config,
            custom: BTreeMap::new(),
        }
    }

    /// A source sharing a platform's clients and configuration.
    pub fn for_platform(platform: &EcsPlatform) -> Self {
        Self::new(platform.clients().clone(), platform.config().clone())
    }

    /// Adds a named custom metric, queried with `MetricKind::Custom(name)`.
    pub fn with_custom(mut self, name: impl Into<String>, metric: CustomMetric) -> Self {
        self.custom.insert(name.into(), metric);
        self
    }

    async fn dims(&self, q: &MetricQuery) -> Result<Dims> {
        let platform = EcsPlatform::new(self.clients.clone(), self.config.clone())?;
        let mode = platform.mode(&q.target)?;
        let (svcs, _) = platform.release_services(&mode).await?;
        let mut d = Dims {
            cluster: mode.cluster().to_string(),
            ..Dims::default()
        };
        match &mode {
            Mode::Pair { pair, .. } => {
                let lb = pair
                    .listener_arn
                    .as_deref()
                    .or(pair.rule_arn.as_deref())
                    .and_then(lb_dimension)
                    .unwrap_or_default();
                for ((_, slot), svc) in pair.slots().iter().zip(svcs.iter()) {
                    let runs = q
                        .release
                        .as_ref()
                        .is_none_or(|r| svc.task_definition() == Some(r.revision.as_str()));
                    if runs {
                        d.services.push(slot.service.clone());
                        if let Some(tg) = tg_dimension(&slot.target_group_arn) {
                            d.target_groups.push((tg, lb.clone()));
                        }
                    }
                }
            }
            Mode::Single { service, .. } => {
                d.services.push(service.clone());
                let tgs: Vec<String> = svcs
                    .iter()
                    .flat_map(|s| {
                        s.load_balancers()
                            .iter()
                            .filter_map(|l| l.target_group_arn().map(str::to_owned))
                    })
                    .collect();
                if !tgs.is_empty() {
                    let out = self
                        .clients
                        .elb
                        .describe_target_groups()
                        .set_target_group_arns(Some(tgs.clone()))
                        .send()
                        .await
                        .map_err(|e| {
                            map_sdk_error(e, "elasticloadbalancing:DescribeTargetGroups")
                        })?;
                    for tg in out.target_groups() {
                        let (Some(arn), Some(lb)) =
                            (tg.target_group_arn(), tg.load_balancer_arns().first())
                        else {
                            continue;
                        };
                        if let (Some(t), Some(l)) = (tg_dimension(arn), lb_dimension(lb)) {
                            d.target_groups.push((t, l));
                        }
                    }
                }
            }
        }
        Ok(d)
    }

    /// The GetMetricData period of a query: its step, at least 60 s, in whole minutes.
    fn period(q: &MetricQuery) -> i32 {
        let s = q.step.as_secs().max(60);
        i32::try_from(s.div_ceil(60) * 60).unwrap_or(i32::MAX)
    }

    /// Runs metric-stat queries and returns each id's datapoints in time order.
    async fn fetch(
        &self,
        q: &MetricQuery,
        stats: Vec<(String, MetricStat)>,
    ) -> Result<HashMap<String, Vec<(DateTime<Utc>, f64)>>> {
        let mut out: HashMap<String, Vec<(DateTime<Utc>, f64)>> = HashMap::new();
        if stats.is_empty() {
            return Ok(out);
        }
        let queries: Vec<MetricDataQuery> = stats
            .into_iter()
            .map(|(id, s)| {
                MetricDataQuery::builder()
                    .id(id)
                    .metric_stat(s)
                    .return_data(true)
                    .build()
            })
            .collect();
        let mut token: Option<String> = None;
        for _page in 0..20 {
            let r = self
                .clients
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(aws_smithy_types::DateTime::from_millis(
                    q.range.start.timestamp_millis(),
                ))
                .end_time(aws_smithy_types::DateTime::from_millis(
                    q.range.end.timestamp_millis(),
                ))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| map_sdk_error(e, "cloudwatch:GetMetricData"))?;
            for res in r.metric_data_results() {
                let id = res.id().unwrap_or_default().to_string();
                let e = out.entry(id).or_default();
                for (t, v) in res.timestamps().iter().zip(res.values().iter()) {
                    if let Some(t) = crate::releases::to_chrono(t) {
                        if v.is_finite() {
                            e.push((in_range(t, q), *v));
                        }
                    }
                }
            }
            token = r.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        for v in out.values_mut() {
            v.sort_by_key(|(t, _)| *t);
        }
        Ok(out)
    }

    fn stat(
        namespace: &str,
        name: &str,
        dims: &[(&str, &str)],
        period: i32,
        stat: &str,
    ) -> MetricStat {
        let metric = Metric::builder()
            .namespace(namespace)
            .metric_name(name)
            .set_dimensions(Some(
                dims.iter()
                    .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                    .collect(),
            ))
            .build();
        MetricStat::builder()
            .metric(metric)
            .period(period)
            .stat(stat)
            .build()
    }

    fn need_alb(d: &Dims, q: &MetricQuery) -> Result<()> {
        if d.target_groups.is_empty() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} of {} needs an ALB target group, and the target has none (or no slot runs the release): configure a blue/green pair or a service with a load balancer, or use a custom metric",
                    q.kind.name(),
                    q.target
                ),
            )
            .with_backend(BACKEND)
            .with_operation("query"));
        }
        Ok(())
    }

    /// Sums one ALB metric over the target groups, per timestamp.
    async fn alb_sum(
        &self,
        q: &MetricQuery,
        d: &Dims,
        names: &[&str],
        stat: &str,
    ) -> Result<Vec<BTreeMap<DateTime<Utc>, f64>>> {
        let period = Self::period(q);
        let mut stats = Vec::new();
        for (ni, name) in names.iter().enumerate() {
            for (ti, (tg, lb)) in d.target_groups.iter().enumerate() {
                let dims = [("TargetGroup", tg.as_str()), ("LoadBalancer", lb.as_str())];
                stats.push((
                    format!("m{ni}_{ti}"),
                    Self::stat("AWS/ApplicationELB", name, &dims, period, stat),
                ));
            }
        }
        let data = self.fetch(q, stats).await?;
        let mut per_name = vec![BTreeMap::new(); names.len()];
        for (id, points) in data {
            let Some(ni) = id
                .strip_prefix('m')
                .and_then(|r| r.split('_').next())
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if let Some(m) = per_name.get_mut(ni) {
                for (t, v) in points {
                    *m.entry(t).or_insert(0.0) += v;
                }
            }
        }
        Ok(per_name)
    }

    async fn ecs_average(
        &self,
        q: &MetricQuery,
        d: &Dims,
        namespace: &str,
        name: &str,
        scale: f64,
    ) -> Result<Vec<Series>> {
        let period = Self::period(q);
        let stats: Vec<(String, MetricStat)> = d
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let dims = [
                    ("ClusterName", d.cluster.as_str()),
                    ("ServiceName", s.as_str()),
                ];
                (
                    format!("s{i}"),
                    Self::stat(namespace, name, &dims, period, "Average"),
                )
            })
            .collect();
        let data = self.fetch(q, stats).await?;
        let mut out = Vec::new();
        for (i, s) in d.services.iter().enumerate() {
            let pts = data.get(&format!("s{i}")).cloned().unwrap_or_default();
            if !pts.is_empty() {
                out.push(
                    Series::new(
                        pts.into_iter()
                            .map(|(at, v)| Sample {
                                at,
                                value: v * scale,
                            })
                            .collect(),
                    )
                    .with_label("service", s.clone()),
                );
            }
        }
        Ok(out)
    }
}

fn series(points: impl IntoIterator<Item = (DateTime<Utc>, f64)>) -> Vec<Series> {
    let samples: Vec<Sample> = points
        .into_iter()
        .map(|(at, value)| Sample { at, value })
        .collect();
    if samples.is_empty() {
        Vec::new()
    } else {
        vec![Series::new(samples)]
    }
}

#[async_trait]
impl MetricsSource for CloudWatchMetrics {
    fn name(&self) -> &str {
        "cloudwatch"
    }

    async fn query(&self, q: &MetricQuery) -> Result<Vec<Series>> {
        let d = self.dims(q).await?;
        let period = f64::from(Self::period(q));
        match &q.kind {
            MetricKind::ErrorRate => {
                Self::need_alb(&d, q)?;
                let m = self
                    .alb_sum(q, &d, &["HTTPCode_Target_5XX_Count", "RequestCount"], "Sum")
                    .await?;
                let (errors, requests) = (&m[0], &m[1]);
                Ok(series(requests.iter().filter(|(_, r)| **r > 0.0).map(
                    |(t, r)| {
                        let e = errors.get(t).copied().unwrap_or(0.0);
                        (*t, (e / r).clamp(0.0, 1.0))
                    },
                )))
            }
            MetricKind::RequestRate => {
                Self::need_alb(&d, q)?;
                let m = self.alb_sum(q, &d, &["RequestCount"], "Sum").await?;
                Ok(series(m[0].iter().map(|(t, r)| (*t, r / period))))
            }
            MetricKind::Latency(quantile) => {
                Self::need_alb(&d, q)?;
                // Percentiles cannot be added across target groups; with two, the larger wins.
                let stat = stat_for(*quantile);
                let p = Self::period(q);
                let stats: Vec<(String, MetricStat)> = d
                    .target_groups
                    .iter()
                    .enumerate()
                    .map(|(i, (tg, lb))| {
                        let dims = [("TargetGroup", tg.as_str()), ("LoadBalancer", lb.as_str())];
                        (
                            format!("l{i}"),
                            Self::stat("AWS/ApplicationELB", "TargetResponseTime", &dims, p, &stat),
                        )
                    })
                    .collect();
                let data = self.fetch(q, stats).await?;
                let mut merged: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
                for pts in data.values() {
                    for (t, v) in pts {
                        let e = merged.entry(*t).or_insert(f64::MIN);
                        *e = e.max(v * 1000.0);
                    }
                }
                Ok(series(merged))
            }
            MetricKind::StatusCodes => {
                Self::need_alb(&d, q)?;
                let names = [
                    "HTTPCode_Target_2XX_Count",
                    "HTTPCode_Target_3XX_Count",
                    "HTTPCode_Target_4XX_Count",
                    "HTTPCode_Target_5XX_Count",
                ];
                let m = self.alb_sum(q, &d, &names, "Sum").await?;
                Ok(m.into_iter()
                    .zip([
                        ("200", "2xx"),
                        ("300", "3xx"),
                        ("400", "4xx"),
                        ("500", "5xx"),
                    ])
                    .filter(|(pts, _)| !pts.is_empty())
                    .map(|(pts, (code, class))| {
                        Series::new(
                            pts.into_iter()
                                .map(|(at, value)| Sample { at, value })
                                .collect(),
                        )
                        .with_label("code", code)
                        .with_label("class", class)
                    })
                    .collect())
            }
            MetricKind::CpuUtilization => {
                self.ecs_average(q, &d, "AWS/ECS", "CPUUtilization", 1.0)
                    .await
            }
            MetricKind::MemoryUtilization => {
                self.ecs_average(q, &d, "AWS/ECS", "MemoryUtilization", 1.0)
                    .await
            }
            MetricKind::MemoryBytes => {
                self.ecs_average(
                    q,
                    &d,
                    "ECS/ContainerInsights",
                    "MemoryUtilized",
                    1_048_576.0,
                )
                .await
            }
            MetricKind::Custom(name) => {
                let Some(m) = self
                    .custom
                    .get(name)
                    .or_else(|| self.config.custom_metrics.get(name))
                else {
                    let mut known: Vec<&String> = self
                        .custom
                        .keys()
                        .chain(self.config.custom_metrics.keys())
                        .collect();
                    known.sort();
                    known.dedup();
                    return Err(Error::invalid_input(format!(
                        "unknown custom metric {name:?}: configured ones are {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ))
                    .with_backend(BACKEND));
                };
                let fill = |v: &str| {
                    v.replace("{cluster}", &d.cluster)
                        .replace(
                            "{service}",
                            d.services.first().map(String::as_str).unwrap_or_default(),
                        )
                        .replace(
                            "{target_group}",
                            d.target_groups
                                .first()
                                .map(|t| t.0.as_str())
                                .unwrap_or_default(),
                        )
                        .replace(
                            "{load_balancer}",
                            d.target_groups
                                .first()
                                .map(|t| t.1.as_str())
                                .unwrap_or_default(),
                        )
                };
                let dims: Vec<(String, String)> = m
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v)))
                    .collect();
                let dims_ref: Vec<(&str, &str)> =
                    dims.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let stat = Self::stat(
                    &m.namespace,
                    &m.metric_name,
                    &dims_ref,
                    Self::period(q),
                    &m.stat,
                );
                let data = self.fetch(q, vec![("c0".into(), stat)]).await?;
                Ok(series(
                    data.get("c0")
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(t, v)| (t, v * m.scale)),
                ))
            }
            other => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "metric kind {} is not supported by CloudWatch",
                    other.name()
                ),
            )
            .with_backend(BACKEND)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_come_from_arns() {
        assert_eq!(
            tg_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-blue/73e2d6bc24d8a067"
            )
            .as_deref(),
            Some("targetgroup/web-blue/73e2d6bc24d8a067")
        );
        assert_eq!(
            lb_dimension("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2").as_deref(),
            Some("app/web/50dc6c495c0c9188")
        );
        assert_eq!(
            lb_dimension("arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/50dc/f2f7/9683b2d02a6cabee").as_deref(),
            Some("app/web/50dc")
        );
    }

    #[test]
    fn quantiles_become_cloudwatch_percentile_stats() {
        assert_eq!(stat_for(rollback_core::Quantile::P95), "p95");
        assert_eq!(
            stat_for(rollback_core::Quantile::per_mille(995).unwrap()),
            "p99.5"
        );
    }
}
