//! Configuration: read once from the environment into one immutable value
//! per stage ([`IntakeSettings`], [`ShapeSettings`], [`AuditSettings`],
//! [`SpillSettings`], [`MetricsSettings`]), so no stage sees more than its
//! own part.
//!
//! Variable names follow the Datadog Forwarder where it has one, so users can
//! switch without relearning. A bad value fails start-up with an error that
//! names the variable and what it accepts; the API key's value is never part
//! of any message. [`intake`] and [`audit`] parse the two largest parts.

mod audit;
mod intake;

use std::time::Duration;

use thiserror::Error;

use crate::api_key::{ApiKey, ApiKeySource, ApiKeyStore};
use crate::audit::AuditSettings;
use crate::audit::query::QueryError;
use crate::limits;
use crate::log_groups::LogGroupSelection;
use crate::logging::LogLevel;
use crate::metrics::MetricsSettings;
use crate::proxy::{ProxySettings, ProxyUrl};
use crate::shape::ShapeSettings;
use crate::ship::IntakeSettings;
use crate::spill::SpillSettings;

/// A configuration value that could not be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{variable}={value:?} is not valid: expected {accepts}")]
    Invalid {
        variable: &'static str,
        value: String,
        accepts: &'static str,
    },
    #[error("{variable} is not valid: {reason}")]
    Rejected {
        variable: &'static str,
        reason: &'static str,
    },
    #[error(
        "{variable} is not a valid audit query {error} (the syntax is Datadog's log search, as in @verb:(get OR list) -@user.username:system\\:*)"
    )]
    Query {
        variable: &'static str,
        error: QueryError,
    },
    #[error("{variable} is required {when}")]
    Missing {
        variable: &'static str,
        when: &'static str,
    },
}

/// Everything the forwarder needs to know, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DD_API_KEY`, `DD_API_KEY_SECRET_ARN` or `DD_API_KEY_SSM_NAME`
    /// (the stores take precedence, in that order).
    pub api_key: ApiKeySource,
    pub intake: IntakeSettings,
    pub shape: ShapeSettings,
    pub audit: AuditSettings,
    /// `DD_STORE_FAILED_EVENTS` with `DD_S3_BUCKET_NAME`; `None` when off.
    pub spill: Option<SpillSettings>,
    pub metrics: MetricsSettings,
    /// `DD_FETCH_LOG_GROUP_TAGS` with `DD_TAGS_CACHE_TTL_SECONDS`: how long
    /// a log group's tags are kept; `None` when tags are not fetched.
    pub log_group_tags_ttl: Option<Duration>,
    /// `DD_LOG_LEVEL`.
    pub log_level: LogLevel,
    /// `DD_MAX_DECOMPRESSED_BYTES`.
    pub max_decompressed_bytes: usize,
    /// `DD_LOG_GROUP_PREFIXES`: the log groups whose documents are
    /// forwarded.
    pub log_groups: LogGroupSelection,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`: the function's own log group, never
    /// forwarded (its logs would invoke it again without end).
    pub own_log_group: Option<String>,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`.
    pub proxy: ProxySettings,
}

const BOOL_ACCEPTS: &str = "true or false";

/// The variables, read through a lookup so tests need not touch the
/// process environment.
pub(crate) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The value, trimmed; empty counts as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value as it is set (patterns, replacements, queries: spaces
    /// can be meant).
    fn raw(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    fn flag(&self, variable: &'static str, default: bool) -> Result<bool, ConfigError> {
        parse_bool(variable, self.get(variable), default)
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let function_name = env
            .get("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|| "eks-audit-forwarder".to_owned());
        // As the Datadog Forwarder writes it: the `forwardername` tag and
        // the S3 prefixes.
        let forwarder_name = function_name.to_lowercase();
        Ok(Self {
            api_key: api_key_source(&env)?,
            intake: intake::intake_settings(&env)?,
            shape: ShapeSettings {
                tags: env
                    .get("DD_TAGS")
                    .map(|t| {
                        t.split(',')
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                source_override: env.get("DD_SOURCE"),
                forwarder_name: forwarder_name.clone(),
                region: env.get("AWS_REGION"),
            },
            audit: audit::audit_settings(&env)?,
            spill: spill_settings(&env, &forwarder_name)?,
            metrics: metrics_settings(&env, function_name)?,
            log_group_tags_ttl: log_group_tags_ttl(&env)?,
            log_level: log_level(&env)?,
            max_decompressed_bytes: max_decompressed_bytes(&env)?,
            log_groups: log_groups(&env)?,
            own_log_group: env.get("AWS_LAMBDA_LOG_GROUP_NAME"),
            proxy: proxy_settings(&env)?,
        })
    }

    /// Settings that are valid but likely not what was meant: a warning
    /// each, once at start-up (logging must be set up).
    pub fn log_warnings(&self) {
        if self
            .audit
            .scrubber
            .serialized
            .as_ref()
            .is_some_and(crate::audit::scrubbing::SerializedRule::has_bare_quote)
        {
            tracing::warn!(
                variable = "DD_SCRUBBING_RULE",
                "the rule holds a quote not written as \\\\\": it applies to the message as it stands in the serialised log, where a quote is \\\\\", so it matches at the message's ends only (docs/audit.md)"
            );
        }
    }

    /// Under Lambda there is no dry run: some source of the API key is required.
    pub fn require_api_key(&self) -> Result<(), ConfigError> {
        if self.api_key != ApiKeySource::Unset {
            return Ok(());
        }
        Err(ConfigError::Missing {
            variable: "DD_API_KEY",
            when: "when running as a Lambda function (or DD_API_KEY_SECRET_ARN, or DD_API_KEY_SSM_NAME)",
        })
    }
}

fn api_key_source(env: &Env<'_>) -> Result<ApiKeySource, ConfigError> {
    let api_key = env.get("DD_API_KEY").map(ApiKey::new);
    if let Some(key) = &api_key
        && key
            .expose()
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ConfigError::Rejected {
            variable: "DD_API_KEY",
            reason: "it contains whitespace or control characters",
        });
    }
    Ok(
        match (
            env.get("DD_API_KEY_SECRET_ARN"),
            env.get("DD_API_KEY_SSM_NAME"),
        ) {
            (Some(arn), _) => ApiKeySource::Store(secret_store(arn)?),
            (None, Some(name)) => ApiKeySource::Store(ApiKeyStore::Ssm { name }),
            (None, None) => api_key.map_or(ApiKeySource::Unset, ApiKeySource::Value),
        },
    )
}

fn log_level(env: &Env<'_>) -> Result<LogLevel, ConfigError> {
    let Some(v) = env.get("DD_LOG_LEVEL").map(|v| v.to_ascii_lowercase()) else {
        return Ok(LogLevel::Info);
    };
    match v.as_str() {
        "error" | "critical" => Ok(LogLevel::Error),
        "warn" | "warning" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" | "trace" => Ok(LogLevel::Debug),
        _ => Err(ConfigError::Invalid {
            variable: "DD_LOG_LEVEL",
            value: v,
            accepts: "one of error, warn, info, debug",
        }),
    }
}

fn log_groups(env: &Env<'_>) -> Result<LogGroupSelection, ConfigError> {
    match env.get("DD_LOG_GROUP_PREFIXES") {
        None => Ok(LogGroupSelection::default()),
        Some(v) => LogGroupSelection::parse(&v).ok_or(ConfigError::Invalid {
            variable: "DD_LOG_GROUP_PREFIXES",
            value: v,
            accepts: LogGroupSelection::ACCEPTS,
        }),
    }
}

fn max_decompressed_bytes(env: &Env<'_>) -> Result<usize, ConfigError> {
    match env.get("DD_MAX_DECOMPRESSED_BYTES") {
        None => Ok(limits::DEFAULT_MAX_DECOMPRESSED_BYTES),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1024)
            .ok_or(ConfigError::Invalid {
                variable: "DD_MAX_DECOMPRESSED_BYTES",
                value: v,
                accepts: "a whole number of bytes, at least 1024",
            }),
    }
}

fn spill_settings(
    env: &Env<'_>,
    forwarder_name: &str,
) -> Result<Option<SpillSettings>, ConfigError> {
    let store_failed = env.flag("DD_STORE_FAILED_EVENTS", false)?;
    match (store_failed, env.get("DD_S3_BUCKET_NAME")) {
        (false, _) => Ok(None),
        (true, Some(bucket)) if is_bucket_name(&bucket) => Ok(Some(SpillSettings {
            bucket,
            forwarder_name: forwarder_name.to_owned(),
        })),
        (true, Some(bucket)) => Err(ConfigError::Invalid {
            variable: "DD_S3_BUCKET_NAME",
            value: bucket,
            accepts: "an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)",
        }),
        (true, None) => Err(ConfigError::Missing {
            variable: "DD_S3_BUCKET_NAME",
            when: "when DD_STORE_FAILED_EVENTS=true",
        }),
    }
}

fn metrics_settings(env: &Env<'_>, function_name: String) -> Result<MetricsSettings, ConfigError> {
    let namespace = env
        .get("DD_METRICS_NAMESPACE")
        .unwrap_or_else(|| "EksAuditForwarder".to_owned());
    if namespace.len() > 255 || namespace.contains(':') {
        return Err(ConfigError::Invalid {
            variable: "DD_METRICS_NAMESPACE",
            value: namespace,
            accepts: "a CloudWatch namespace: up to 255 characters, no colon",
        });
    }
    Ok(MetricsSettings {
        namespace,
        function_name,
    })
}

fn log_group_tags_ttl(env: &Env<'_>) -> Result<Option<Duration>, ConfigError> {
    let fetch_tags = env.flag("DD_FETCH_LOG_GROUP_TAGS", false)?;
    let ttl = match env.get("DD_TAGS_CACHE_TTL_SECONDS") {
        None => limits::DEFAULT_TAGS_CACHE_TTL,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= 86_400)
            .map(Duration::from_secs)
            .ok_or(ConfigError::Invalid {
                variable: "DD_TAGS_CACHE_TTL_SECONDS",
                value: v,
                accepts: "a whole number of seconds from 0 to 86400",
            })?,
    };
    Ok(fetch_tags.then_some(ttl))
}

fn proxy_settings(env: &Env<'_>) -> Result<ProxySettings, ConfigError> {
    let proxy_url = |variable: &'static str| -> Result<Option<ProxyUrl>, ConfigError> {
        env.get(variable)
            .map(|url| {
                ProxyUrl::parse(&url).map_err(|reason| ConfigError::Rejected { variable, reason })
            })
            .transpose()
    };
    Ok(ProxySettings::new(
        proxy_url("HTTPS_PROXY")?,
        proxy_url("HTTP_PROXY")?,
        env.get("NO_PROXY"),
    ))
}

fn parse_bool(
    variable: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Invalid {
                variable,
                value: v,
                accepts: BOOL_ACCEPTS,
            }),
        },
    }
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
fn secret_store(arn: String) -> Result<ApiKeyStore, ConfigError> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "secretsmanager", region, _, "secret", name]
            if !region.is_empty() && !name.is_empty() =>
        {
            Ok(ApiKeyStore::SecretsManager {
                region: (*region).to_owned(),
                arn,
            })
        }
        // The value is not repeated: a key pasted here by mistake would
        // end up in the logs.
        _ => Err(ConfigError::Rejected {
            variable: "DD_API_KEY_SECRET_ARN",
            reason: "expected a Secrets Manager secret ARN, arn:aws:secretsmanager:<region>:<account>:secret:<name> (the value is not shown, in case it is the key itself)",
        }),
    }
}

fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests;
