//! The AWS SDK set-up every AWS-facing stage shares: one HTTPS client
//! (rustls with ring, like the intake client) and the standard environment
//! (region, credentials, `AWS_ENDPOINT_URL`). Building a client makes no
//! network call: credentials are loaded on the first request.

use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls;

/// The HTTPS client for AWS APIs.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The standard AWS environment with our HTTPS client, in `region` when
/// given (a Secrets Manager ARN names its own region).
pub async fn sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
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

/// A CloudWatch Logs client whose calls give up after `timeout`, retries
/// included: reading tags is an extra, and must not hold up forwarding.
pub fn logs_client(
    sdk: &aws_config::SdkConfig,
    timeout: std::time::Duration,
) -> aws_sdk_cloudwatchlogs::Client {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}
