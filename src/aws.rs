//! The AWS SDK set-up every AWS-facing stage shares: one HTTPS client
//! (rustls with ring, like the intake client), the standard environment
//! (region, credentials, `AWS_ENDPOINT_URL`) and the configured proxy.
//! Building a client makes no network call: credentials are loaded on the
//! first request.

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::{Connector, tls};
use tokio::time::Instant;

use crate::limits;
use crate::proxy::ProxySettings;

/// Every client's default: no call without connect, attempt and operation
/// bounds, even one made outside an invocation.
fn default_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(limits::AWS_CONNECT_TIMEOUT)
        .operation_attempt_timeout(limits::AWS_ATTEMPT_TIMEOUT)
        .operation_timeout(limits::AWS_OPERATION_TIMEOUT)
        .build()
}

/// Timeouts for one call that must be over by `deadline`: the operation,
/// retries included, ends then at the latest, and so does each attempt.
/// Given to a call as a config override, so the SDK itself gives up in
/// time (and says it timed out) instead of being cut off from outside.
pub fn timeouts_until(deadline: Instant) -> TimeoutConfig {
    // The SDK treats a zero timeout as none at all.
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    TimeoutConfig::builder()
        .connect_timeout(limits::AWS_CONNECT_TIMEOUT.min(left))
        .operation_attempt_timeout(limits::AWS_ATTEMPT_TIMEOUT.min(left))
        .operation_timeout(left)
        .build()
}

/// An S3 call's config override for [`timeouts_until`].
pub fn s3_call_until(deadline: Instant) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(timeouts_until(deadline))
}

fn tls_provider() -> tls::Provider {
    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring)
}

/// The HTTPS client for AWS APIs, through the proxy when one is set.
pub fn https_client(proxy: &ProxySettings) -> SharedHttpClient {
    let Some(proxy_config) = proxy.aws_proxy_config() else {
        return aws_smithy_http_client::Builder::new()
            .tls_provider(tls_provider())
            .build_https();
    };
    // The SDK's plain builder has no proxy option in this version; this is
    // its own connector builder, given the settings and sleep the SDK passes
    // to every connector it builds (and caches).
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = Connector::builder();
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector
            .tls_provider(tls_provider())
            .proxy_config(proxy_config.clone())
            .build()
    })
}

/// The process's one SDK configuration, made in `main` and loaded on first
/// use: loading it (the TLS roots, the provider chains) takes longer than
/// the rest of start-up, which a forwarder using no AWS feature should not
/// pay. Every AWS client is built from it.
#[derive(Debug, Clone)]
pub struct SharedSdk {
    proxy: ProxySettings,
    config: Arc<tokio::sync::OnceCell<aws_config::SdkConfig>>,
}

impl SharedSdk {
    pub fn new(proxy: &ProxySettings) -> Self {
        Self {
            proxy: proxy.clone(),
            config: Arc::default(),
        }
    }

    /// The configuration, loaded the first time.
    pub async fn get(&self) -> &aws_config::SdkConfig {
        self.config.get_or_init(|| sdk_config(&self.proxy)).await
    }
}

/// The S3 client that reads the objects of S3 triggers: the spill store's
/// when there is one, else built from the shared configuration on the
/// first S3 event.
#[derive(Debug, Clone)]
pub struct ObjectReaderClient {
    sdk: SharedSdk,
    client: Arc<tokio::sync::OnceCell<aws_sdk_s3::Client>>,
}

impl ObjectReaderClient {
    pub fn new(sdk: SharedSdk, ready: Option<aws_sdk_s3::Client>) -> Self {
        Self {
            sdk,
            client: Arc::new(tokio::sync::OnceCell::new_with(ready)),
        }
    }

    pub async fn get(&self) -> &aws_sdk_s3::Client {
        self.client
            .get_or_init(|| async { s3_client(self.sdk.get().await) })
            .await
    }
}

/// The standard AWS environment with our HTTPS client.
async fn sdk_config(proxy: &ProxySettings) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client(proxy))
        .timeout_config(default_timeouts())
        .load()
        .await
}

/// An S3 client. S3-compatible endpoints (and moto in tests), reached
/// through `AWS_ENDPOINT_URL`, want path-style URLs.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// A CloudWatch Logs client. Its call (tags) is an extra that must not hold
/// up forwarding: it is bounded per call, see `GroupTagCache::lookup`.
pub fn logs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(sdk)
}

/// A CloudWatch Logs call's config override for [`timeouts_until`].
pub fn logs_call_until(deadline: Instant) -> aws_sdk_cloudwatchlogs::config::Builder {
    aws_sdk_cloudwatchlogs::config::Builder::default().timeout_config(timeouts_until(deadline))
}
