//! The AWS clients the platform uses (ECS, ELBv2, CloudWatch, CloudWatch Logs, DynamoDB), built
//! from the standard credential chain or handed in, with a counter of API calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::config::EcsConfig;

/// How many API operations (and HTTP attempts, retries included) the clients made, by operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiCalls {
    /// Operations started (`ecs:UpdateService` …), each counted once however often retried.
    pub operations: BTreeMap<String, u64>,
    /// HTTP attempts in total (an operation retried twice counts 3).
    pub attempts: u64,
}

impl ApiCalls {
    /// The number of operations in total.
    pub fn total(&self) -> u64 {
        self.operations.values().sum()
    }
}

#[derive(Debug, Default)]
struct CallCounter {
    calls: Mutex<ApiCalls>,
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "rollback-ecs call counter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = cfg
            .load::<Metadata>()
            .map(|m| {
                format!(
                    "{}:{}",
                    m.service().to_ascii_lowercase().replace(' ', ""),
                    m.name()
                )
            })
            .unwrap_or_else(|| "unknown".into());
        if let Ok(mut c) = self.calls.lock() {
            *c.operations.entry(key).or_default() += 1;
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(mut c) = self.calls.lock() {
            c.attempts += 1;
        }
        Ok(())
    }
}

/// The five AWS clients of the platform and the metrics source. Cheap to clone (the SDK clients
/// are reference-counted).
///
/// ```no_run
/// # async fn demo() {
/// // The standard chain: environment, profile, SSO, web identity, container and instance roles.
/// let clients = rollback_ecs::AwsClients::from_env(Some("eu-west-1".into()), None).await;
/// # let _ = clients;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) elb: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) cloudwatch: aws_sdk_cloudwatch::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
    pub(crate) dynamodb: aws_sdk_dynamodb::Client,
    counter: Arc<CallCounter>,
}

impl AwsClients {
    /// Clients from the standard AWS credential chain and region chain, with an optional region
    /// and endpoint override (a local emulator).
    pub async fn from_env(region: Option<String>, endpoint_url: Option<String>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(u) = endpoint_url {
            loader = loader.endpoint_url(u);
        }
        Self::from_sdk_config(&loader.load().await)
    }

    /// Clients for a configuration's `region` and `endpoint_url`, credentials from the standard
    /// chain.
    pub async fn from_config(config: &EcsConfig) -> Self {
        Self::from_env(config.region.clone(), config.endpoint_url.clone()).await
    }

    /// Clients from an already loaded SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_clients(
            aws_sdk_ecs::Client::new(sdk),
            aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            aws_sdk_cloudwatch::Client::new(sdk),
            aws_sdk_cloudwatchlogs::Client::new(sdk),
            aws_sdk_dynamodb::Client::new(sdk),
        )
    }

    /// Wraps clients built elsewhere (custom retry or timeout settings, test doubles). A call
    /// counter is added to each.
    pub fn from_clients(
        ecs: aws_sdk_ecs::Client,
        elb: aws_sdk_elasticloadbalancingv2::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Self {
        let counter = Arc::new(CallCounter::default());
        let c = SharedCounter(Arc::clone(&counter));
        AwsClients {
            ecs: aws_sdk_ecs::Client::from_conf(
                ecs.config().to_builder().interceptor(c.clone()).build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                elb.config().to_builder().interceptor(c.clone()).build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                cloudwatch
                    .config()
                    .to_builder()
                    .interceptor(c.clone())
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                logs.config().to_builder().interceptor(c.clone()).build(),
            ),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                dynamodb.config().to_builder().interceptor(c).build(),
            ),
            counter,
        }
    }

    /// The API calls made so far through these clients (and their clones).
    pub fn api_calls(&self) -> ApiCalls {
        self.counter
            .calls
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Resets the call counter.
    pub fn reset_api_calls(&self) {
        if let Ok(mut c) = self.counter.calls.lock() {
            *c = ApiCalls::default();
        }
    }

    /// The ECS client.
    pub fn ecs(&self) -> &aws_sdk_ecs::Client {
        &self.ecs
    }

    /// The Elastic Load Balancing v2 client.
    pub fn elb(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        &self.elb
    }

    /// The CloudWatch client.
    pub fn cloudwatch(&self) -> &aws_sdk_cloudwatch::Client {
        &self.cloudwatch
    }

    /// The CloudWatch Logs client.
    pub fn logs(&self) -> &aws_sdk_cloudwatchlogs::Client {
        &self.logs
    }

    /// The DynamoDB client.
    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        &self.dynamodb
    }
}

#[derive(Debug, Clone)]
struct SharedCounter(Arc<CallCounter>);

impl Intercept for SharedCounter {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0
            .read_before_serialization(context, runtime_components, cfg)
    }

    fn read_before_attempt(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.read_before_attempt(context, runtime_components, cfg)
    }
}
