//! The Datadog API key from a secret store, read once at start-up.
//!
//! Precedence: `DD_API_KEY_SECRET_ARN` (Secrets Manager, in the ARN's
//! region), then `DD_API_KEY_SSM_NAME` (SSM SecureString, decrypted), then
//! `DD_API_KEY`. This is the only network call at start-up, and it is not
//! retried beyond the SDK's own attempts: a key that cannot be read stops
//! start-up with the variable and the AWS error code, never the key. The
//! key is not validated against the intake here: an intake that is down at
//! start-up must not keep the forwarder from running (a refused key shows
//! as one loud error on the first request).

use std::fmt;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;

/// The Datadog API key. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where the API key is kept, when not in `DD_API_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyStore {
    /// A Secrets Manager secret, read in the region named by its ARN.
    SecretsManager { arn: String, region: String },
    /// An SSM Parameter Store parameter (SecureString), read with decryption.
    Ssm { name: String },
}

/// Where the key comes from, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeySource {
    /// `DD_API_KEY`.
    Value(ApiKey),
    /// `DD_API_KEY_SECRET_ARN` or `DD_API_KEY_SSM_NAME`.
    Store(ApiKeyStore),
    /// None configured: only a local run can go on (as a dry run).
    Unset,
}

impl ApiKeySource {
    /// The key, when it is given as a value.
    pub fn value(&self) -> Option<&ApiKey> {
        match self {
            ApiKeySource::Value(key) => Some(key),
            _ => None,
        }
    }
}

#[derive(Debug, Error)]
pub enum ApiKeyError {
    #[error("{variable}: reading the API key failed: {code}")]
    Fetch {
        variable: &'static str,
        code: String,
    },
    #[error("{variable}: the value is empty or has no usable key ({what})")]
    Unusable {
        variable: &'static str,
        what: &'static str,
    },
}

/// The fetch at start-up, retries included, ends well inside Lambda's
/// 10 s init phase.
fn fetch_timeouts() -> aws_config::timeout::TimeoutConfig {
    crate::aws::timeouts_until(tokio::time::Instant::now() + crate::limits::API_KEY_FETCH_TIMEOUT)
}

/// The key from the configured store, read with the process's one SDK
/// configuration (a Secrets Manager ARN names its own region).
pub async fn fetch_api_key(
    store: &ApiKeyStore,
    sdk: &aws_config::SdkConfig,
) -> Result<ApiKey, ApiKeyError> {
    match store {
        ApiKeyStore::SecretsManager { arn, region } => {
            const VAR: &str = "DD_API_KEY_SECRET_ARN";
            let client = aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk)
                    .region(aws_config::Region::new(region.clone()))
                    .timeout_config(fetch_timeouts())
                    .build(),
            );
            let secret = client
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| fetch_error(VAR, &e))?;
            let value = secret.secret_string().ok_or(ApiKeyError::Unusable {
                variable: VAR,
                what: "the secret has no string value",
            })?;
            key_from_secret(VAR, value)
        }
        ApiKeyStore::Ssm { name } => {
            const VAR: &str = "DD_API_KEY_SSM_NAME";
            let client = aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(sdk)
                    .timeout_config(fetch_timeouts())
                    .build(),
            );
            let parameter = client
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| fetch_error(VAR, &e))?;
            let value = parameter
                .parameter()
                .and_then(|p| p.value())
                .unwrap_or_default();
            key_from_secret(VAR, value)
        }
    }
}

/// A plain string, or JSON `{"DD_API_KEY": "..."}`.
fn key_from_secret(variable: &'static str, value: &str) -> Result<ApiKey, ApiKeyError> {
    let value = value.trim();
    let key = if value.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct KeyDocument {
            #[serde(rename = "DD_API_KEY")]
            dd_api_key: String,
        }
        serde_json::from_str::<KeyDocument>(value)
            .map_err(|_| ApiKeyError::Unusable {
                variable,
                what: "JSON without a string DD_API_KEY field",
            })?
            .dd_api_key
    } else {
        value.to_owned()
    };
    let key = key.trim();
    if key.is_empty() || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiKeyError::Unusable {
            variable,
            what: "empty, or with whitespace or control characters",
        });
    }
    Ok(ApiKey::new(key))
}

/// The AWS error code (`ResourceNotFoundException`, `AccessDeniedException`,
/// ...), or the kind of failure when the service did not answer. Never the
/// message of a service error, which could quote the request.
fn fetch_error<E, R>(variable: &'static str, e: &SdkError<E, R>) -> ApiKeyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = match e {
        SdkError::ServiceError(_) => e.code().unwrap_or("unknown service error").to_owned(),
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => {
            let detail: String = DisplayErrorContext(e)
                .to_string()
                .chars()
                .take(200)
                .collect();
            format!("the service could not be reached ({detail})")
        }
        _ => "unexpected response".to_owned(),
    };
    ApiKeyError::Fetch { variable, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_json_secrets() {
        assert_eq!(
            key_from_secret("V", " abc123 \n").unwrap().expose(),
            "abc123"
        );
        assert_eq!(
            key_from_secret("V", r#"{"DD_API_KEY": "abc123", "other": 1}"#)
                .unwrap()
                .expose(),
            "abc123"
        );
        let err = key_from_secret("V", r#"{"api_key": "abc123"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("V: ") && !err.contains("abc123"), "{err}");
        assert!(key_from_secret("V", "  ").is_err());
        assert!(key_from_secret("V", "two words").is_err());
    }
}
