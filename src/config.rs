//! Configuration: read once from the environment into typed fields.
//!
//! Variable names follow the Datadog Forwarder where it has one, so users can
//! switch without relearning. A bad value fails start-up with an error that
//! names the variable and what it accepts; the API key's value is never part
//! of any message.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::audit::filter::{AuditFilter, MatchFilter, NoiseLevel};
use crate::audit::query::{AuditQuery, QueryError};
use crate::audit::scrubbing::{Scrubber, SerializedRule};
use crate::limits;
use crate::proxy::{ProxySettings, ProxyUrl};
use crate::ship::BodyEncoding;
use regex::Regex;

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

/// Verbosity of the forwarder's own logs (`DD_LOG_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Everything the forwarder needs to know, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DD_API_KEY`, or the key read from a secret store at start-up
    /// (`crate::api_key`). `None` with no store means dry run (local only).
    pub api_key: Option<ApiKey>,
    /// `DD_API_KEY_SECRET_ARN` or `DD_API_KEY_SSM_NAME`, which take
    /// precedence over `DD_API_KEY` in that order.
    pub api_key_store: Option<ApiKeyStore>,
    /// Full URL of the logs endpoint, e.g. `https://http-intake.logs.datadoghq.com/api/v2/logs`.
    pub intake_url: String,
    /// `DD_TAGS` as given, comma-separated, empty entries removed.
    pub tags: Vec<String>,
    /// `DD_SOURCE`: replaces the source derived from the log stream.
    pub source_override: Option<String>,
    /// How bodies are compressed (`DD_USE_COMPRESSION`, `DD_COMPRESSION`,
    /// `DD_COMPRESSION_LEVEL`).
    pub encoding: BodyEncoding,
    pub log_level: LogLevel,
    pub max_decompressed_bytes: usize,
    /// The Lambda function's name as Lambda gives it
    /// (`AWS_LAMBDA_FUNCTION_NAME`): the `FunctionName` dimension of the
    /// metrics, which alarms name exactly.
    pub function_name: String,
    /// The same, lower-cased, as the Datadog Forwarder writes it: the
    /// `forwardername` tag and the S3 prefixes.
    pub forwarder_name: String,
    /// `DD_STORE_FAILED_EVENTS` with `DD_S3_BUCKET_NAME`: the bucket that
    /// keeps what the intake would not take.
    pub spill_bucket: Option<String>,
    /// `DD_METRICS_NAMESPACE`: namespace of the embedded-metric-format line.
    pub metrics_namespace: String,
    /// `DD_REQUEST_TIMEOUT_SECONDS`: longest one POST may take.
    pub request_timeout: Duration,
    /// `DD_FETCH_LOG_GROUP_TAGS` with `DD_TAGS_CACHE_TTL_SECONDS`: how long
    /// a log group's tags are kept; `None` when tags are not fetched.
    pub log_group_tags_ttl: Option<Duration>,
    /// `DD_REDACT_SECRETS` (on by default) with `DD_REDACT_RESOURCES`:
    /// resources besides `secrets` whose data is redacted; `None` when off.
    pub redact_resources: Option<Vec<String>>,
    /// `DD_SIEM_ATTRIBUTES`: add `http.*`, `usr.name`, `network.client.ip`,
    /// `kube_namespace` and `objectRef` to audit logs (`crate::audit::siem`).
    pub siem_attributes: bool,
    /// `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH`.
    pub match_filter: MatchFilter,
    /// `REDACT_IP`, `REDACT_EMAIL`, `DD_SCRUBBING_RULE`, in that order.
    pub scrubber: Scrubber,
    /// `DD_AUDIT_INCLUDE`, `DD_AUDIT_EXCLUDE` and `DD_AUDIT_NOISE_FILTER`.
    pub audit_filter: AuditFilter,
    /// `DD_ENRICH_S3_TAGS` and `DD_ENRICH_CLOUDWATCH_TAGS`: the
    /// `DD-STORAGE-TAG` header, which has Datadog add the tags of the S3
    /// bucket and the log group the logs came from (through the AWS
    /// integration), as the Datadog Forwarder asks by default.
    pub storage_tag: Option<&'static str>,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`.
    pub proxy: ProxySettings,
}

const BOOL_ACCEPTS: &str = "true or false";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let api_key = get("DD_API_KEY").map(ApiKey::new);
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

        let no_ssl = parse_bool("DD_NO_SSL", get("DD_NO_SSL"), false)?;
        let port = match get("DD_PORT") {
            None => 443,
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(ConfigError::Invalid {
                    variable: "DD_PORT",
                    value: v,
                    accepts: "a port number from 1 to 65535",
                })?,
        };
        let site = get("DD_SITE").unwrap_or_else(|| "datadoghq.com".to_owned());
        if !is_host_name(&site) {
            return Err(ConfigError::Invalid {
                variable: "DD_SITE",
                value: site,
                accepts: "a Datadog site such as datadoghq.com, datadoghq.eu, us3.datadoghq.com or ddog-gov.com",
            });
        }
        let base = match get("DD_URL") {
            Some(url) => intake_base_from_url(url, port, no_ssl)?,
            None => format!("https://http-intake.logs.{site}"),
        };
        let intake_url = format!("{}{INTAKE_PATH}", base.trim_end_matches('/'));

        let tags = get("DD_TAGS")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();

        let use_compression = parse_bool("DD_USE_COMPRESSION", get("DD_USE_COMPRESSION"), true)?;
        let level = get("DD_COMPRESSION_LEVEL");
        let encoding = match get("DD_COMPRESSION").map(|v| v.to_ascii_lowercase()) {
            _ if !use_compression => BodyEncoding::Identity,
            None => gzip_encoding(level)?,
            Some(v) if v == "gzip" => gzip_encoding(level)?,
            Some(v) if v == "zstd" => BodyEncoding::Zstd {
                level: match level {
                    None => limits::DEFAULT_ZSTD_LEVEL,
                    Some(v) => v
                        .parse::<i32>()
                        .ok()
                        .filter(|l| (1..=19).contains(l))
                        .ok_or(ConfigError::Invalid {
                            variable: "DD_COMPRESSION_LEVEL",
                            value: v,
                            accepts: "a zstd level from 1 to 19 (with DD_COMPRESSION=zstd)",
                        })?,
                },
            },
            Some(v) => {
                return Err(ConfigError::Invalid {
                    variable: "DD_COMPRESSION",
                    value: v,
                    accepts: "gzip or zstd",
                });
            }
        };

        let log_level = match get("DD_LOG_LEVEL").map(|v| v.to_ascii_lowercase()) {
            None => LogLevel::Info,
            Some(v) => match v.as_str() {
                "error" | "critical" => LogLevel::Error,
                "warn" | "warning" => LogLevel::Warn,
                "info" => LogLevel::Info,
                "debug" | "trace" => LogLevel::Debug,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "DD_LOG_LEVEL",
                        value: v,
                        accepts: "one of error, warn, info, debug",
                    });
                }
            },
        };

        let max_decompressed_bytes = match get("DD_MAX_DECOMPRESSED_BYTES") {
            None => limits::DEFAULT_MAX_DECOMPRESSED_BYTES,
            Some(v) => {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1024)
                    .ok_or(ConfigError::Invalid {
                        variable: "DD_MAX_DECOMPRESSED_BYTES",
                        value: v,
                        accepts: "a whole number of bytes, at least 1024",
                    })?
            }
        };

        let store_failed = parse_bool(
            "DD_STORE_FAILED_EVENTS",
            get("DD_STORE_FAILED_EVENTS"),
            false,
        )?;
        let spill_bucket = match (store_failed, get("DD_S3_BUCKET_NAME")) {
            (false, _) => None,
            (true, Some(bucket)) if is_bucket_name(&bucket) => Some(bucket),
            (true, Some(bucket)) => {
                return Err(ConfigError::Invalid {
                    variable: "DD_S3_BUCKET_NAME",
                    value: bucket,
                    accepts: "an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)",
                });
            }
            (true, None) => {
                return Err(ConfigError::Missing {
                    variable: "DD_S3_BUCKET_NAME",
                    when: "when DD_STORE_FAILED_EVENTS=true",
                });
            }
        };

        let metrics_namespace =
            get("DD_METRICS_NAMESPACE").unwrap_or_else(|| "EksAuditForwarder".to_owned());
        if metrics_namespace.len() > 255 || metrics_namespace.contains(':') {
            return Err(ConfigError::Invalid {
                variable: "DD_METRICS_NAMESPACE",
                value: metrics_namespace,
                accepts: "a CloudWatch namespace: up to 255 characters, no colon",
            });
        }

        let request_timeout = match get("DD_REQUEST_TIMEOUT_SECONDS") {
            None => limits::REQUEST_TIMEOUT,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| (0.1..=900.0).contains(s))
                .map(Duration::from_secs_f64)
                .ok_or(ConfigError::Invalid {
                    variable: "DD_REQUEST_TIMEOUT_SECONDS",
                    value: v,
                    accepts: "a number of seconds from 0.1 to 900",
                })?,
        };

        let fetch_tags = parse_bool(
            "DD_FETCH_LOG_GROUP_TAGS",
            get("DD_FETCH_LOG_GROUP_TAGS"),
            false,
        )?;
        let tags_ttl = match get("DD_TAGS_CACHE_TTL_SECONDS") {
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

        let redact = parse_bool("DD_REDACT_SECRETS", get("DD_REDACT_SECRETS"), true)?;
        let mut redact_resources = Vec::new();
        for resource in get("DD_REDACT_RESOURCES").iter().flat_map(|v| v.split(',')) {
            let resource = resource.trim().to_ascii_lowercase();
            if resource.is_empty() {
                continue;
            }
            if !resource
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            {
                return Err(ConfigError::Invalid {
                    variable: "DD_REDACT_RESOURCES",
                    value: resource,
                    accepts: "comma-separated Kubernetes resource names, such as configmaps",
                });
            }
            redact_resources.push(resource);
        }

        // Set but empty is an error here, not "unset": an empty pattern
        // would match every log.
        let pattern = |variable: &'static str| -> Result<Option<Regex>, ConfigError> {
            let Some(value) = lookup(variable) else {
                return Ok(None);
            };
            if value.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    variable,
                    value,
                    accepts: "a non-empty regular expression (unset the variable to turn it off)",
                });
            }
            Regex::new(&value)
                .map(Some)
                .map_err(|_| ConfigError::Invalid {
                    variable,
                    value,
                    accepts: "a regular expression in Rust regex syntax",
                })
        };
        let match_filter = MatchFilter {
            include: pattern("INCLUDE_AT_MATCH")?,
            exclude: pattern("EXCLUDE_AT_MATCH")?,
        };
        let mut scrubber = Scrubber::default();
        if parse_bool("REDACT_IP", get("REDACT_IP"), false)? {
            scrubber.rules.push(crate::audit::scrubbing::ip_rule());
        }
        if parse_bool("REDACT_EMAIL", get("REDACT_EMAIL"), false)? {
            scrubber.rules.push(crate::audit::scrubbing::email_rule());
        }
        if let Some(rule) = pattern("DD_SCRUBBING_RULE")? {
            // The Datadog Forwarder's default replacement is "": a match is
            // removed. The value is not trimmed: spaces can be meant.
            let replacement = lookup("DD_SCRUBBING_RULE_REPLACEMENT").unwrap_or_default();
            scrubber.serialized =
                Some(SerializedRule::new(rule, &replacement).map_err(|reason| {
                    ConfigError::Rejected {
                        variable: "DD_SCRUBBING_RULE_REPLACEMENT",
                        reason,
                    }
                })?);
        }

        let audit_query = |variable: &'static str| -> Result<Option<AuditQuery>, ConfigError> {
            lookup(variable)
                .map(|text| {
                    text.parse()
                        .map_err(|error| ConfigError::Query { variable, error })
                })
                .transpose()
        };
        let noise = match get("DD_AUDIT_NOISE_FILTER") {
            None => None,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "off" | "false" | "none" => None,
                "standard" | "true" => Some(NoiseLevel::Standard),
                "aggressive" => Some(NoiseLevel::Aggressive),
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "DD_AUDIT_NOISE_FILTER",
                        value: v,
                        accepts: "off, standard or aggressive",
                    });
                }
            },
        };
        let mut internal_networks = Vec::new();
        for net in get("DD_AUDIT_INTERNAL_NETWORKS")
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if crate::audit::query::parse_net(net).is_none() {
                return Err(ConfigError::Invalid {
                    variable: "DD_AUDIT_INTERNAL_NETWORKS",
                    value: net.to_owned(),
                    accepts: "comma-separated IPv4 or IPv6 networks, such as 52.95.110.7/32,2600:1f18:4b2:8c00::/56",
                });
            }
            internal_networks.push(net.to_owned());
        }
        let audit_filter = AuditFilter::new(
            audit_query("DD_AUDIT_INCLUDE")?,
            audit_query("DD_AUDIT_EXCLUDE")?,
            noise,
            &internal_networks,
        );

        let api_key_store = match (get("DD_API_KEY_SECRET_ARN"), get("DD_API_KEY_SSM_NAME")) {
            (Some(arn), _) => Some(secret_store(arn)?),
            (None, Some(name)) => Some(ApiKeyStore::Ssm { name }),
            (None, None) => None,
        };

        let enrich_s3 = parse_bool("DD_ENRICH_S3_TAGS", get("DD_ENRICH_S3_TAGS"), true)?;
        let enrich_cloudwatch = parse_bool(
            "DD_ENRICH_CLOUDWATCH_TAGS",
            get("DD_ENRICH_CLOUDWATCH_TAGS"),
            true,
        )?;
        let storage_tag = match (enrich_s3, enrich_cloudwatch) {
            (true, true) => Some("s3,cloudwatch"),
            (true, false) => Some("s3"),
            (false, true) => Some("cloudwatch"),
            (false, false) => None,
        };

        let proxy_url = |variable: &'static str| -> Result<Option<ProxyUrl>, ConfigError> {
            get(variable)
                .map(|url| {
                    ProxyUrl::parse(&url)
                        .map_err(|reason| ConfigError::Rejected { variable, reason })
                })
                .transpose()
        };
        let proxy = ProxySettings::new(
            proxy_url("HTTPS_PROXY")?,
            proxy_url("HTTP_PROXY")?,
            get("NO_PROXY"),
        );

        let function_name =
            get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "eks-audit-forwarder".to_owned());

        Ok(Self {
            storage_tag,
            proxy,
            forwarder_name: function_name.to_lowercase(),
            function_name,
            api_key_store,
            spill_bucket,
            metrics_namespace,
            request_timeout,
            log_group_tags_ttl: fetch_tags.then_some(tags_ttl),
            redact_resources: redact.then_some(redact_resources),
            match_filter,
            scrubber,
            audit_filter,
            siem_attributes: parse_bool("DD_SIEM_ATTRIBUTES", get("DD_SIEM_ATTRIBUTES"), false)?,
            api_key,
            intake_url,
            tags,
            source_override: get("DD_SOURCE"),
            encoding,
            log_level,
            max_decompressed_bytes,
        })
    }

    /// Settings that are valid but likely not what was meant: a warning
    /// each, once at start-up (logging must be set up).
    pub fn log_warnings(&self) {
        if self
            .scrubber
            .serialized
            .as_ref()
            .is_some_and(SerializedRule::has_bare_quote)
        {
            tracing::warn!(
                variable = "DD_SCRUBBING_RULE",
                "the rule holds a quote not written as \\\\\": it applies to the message as it stands in the serialised log, where a quote is \\\\\", so it matches at the message's ends only (docs/audit.md)"
            );
        }
    }

    /// Under Lambda there is no dry run: some source of the API key is required.
    pub fn require_api_key(&self) -> Result<(), ConfigError> {
        if self.api_key.is_some() || self.api_key_store.is_some() {
            return Ok(());
        }
        Err(ConfigError::Missing {
            variable: "DD_API_KEY",
            when: "when running as a Lambda function (or DD_API_KEY_SECRET_ARN, or DD_API_KEY_SSM_NAME)",
        })
    }
}

/// gzip at `DD_COMPRESSION_LEVEL`, 6 by default (as the Datadog Forwarder).
fn gzip_encoding(level: Option<String>) -> Result<BodyEncoding, ConfigError> {
    let level = match level {
        None => limits::DEFAULT_GZIP_LEVEL,
        Some(v) => v
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= 12)
            .ok_or(ConfigError::Invalid {
                variable: "DD_COMPRESSION_LEVEL",
                value: v,
                accepts: "a gzip level from 0 to 12",
            })?,
    };
    Ok(BodyEncoding::Gzip { level })
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

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// The logs intake's endpoint, under the site or `DD_URL`.
const INTAKE_PATH: &str = "/api/v2/logs";

/// `DD_URL` is either a full URL (`http://127.0.0.1:8080`, `https://[::1]:8443`,
/// `https://proxy.example.com/datadog`) or, as in the Datadog Forwarder, a
/// bare host combined with `DD_PORT` and `DD_NO_SSL`. A full URL's path is
/// kept as a prefix of `/api/v2/logs`. It is parsed with the `url` crate (the
/// WHATWG rules reqwest itself uses), so whatever passes here is the URL the
/// client posts to. Plain `http` needs `DD_NO_SSL=true` either way: the API
/// key travels in a header, and sending it in clear text must be a
/// deliberate choice.
fn intake_base_from_url(value: String, port: u16, no_ssl: bool) -> Result<String, ConfigError> {
    const ACCEPTS: &str = "expected an https:// or http:// URL with a host, an optional port from 1 to 65535 and path, and no query, fragment or user name; or a bare host name (with DD_PORT and DD_NO_SSL)";
    // The value is never echoed: a URL can carry a key in its query
    // (`?dd-api-key=`) or credentials.
    let invalid = |_: String| ConfigError::Rejected {
        variable: "DD_URL",
        reason: ACCEPTS,
    };
    // `@` only ever introduces credentials here, and a value holding them
    // is never echoed, parsed or not.
    if value.contains('@') {
        return Err(ConfigError::Rejected {
            variable: "DD_URL",
            reason: "it carries a user name or password; the intake takes the API key in a header (DD_API_KEY), and a proxy's credentials go in DD_HTTP_PROXY",
        });
    }
    let full = value.contains("://");
    // A bare host is only a host (an IPv6 literal in brackets at most): its
    // port is DD_PORT's, and a path has nowhere to go.
    let bare_host_ok = || {
        let unbracketed = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'));
        unbracketed.is_some() || !value.contains([':', '/', '\\', '?', '#'])
    };
    if !full && !bare_host_ok() {
        return Err(invalid(value));
    }
    let text = if full {
        value.clone()
    } else {
        let scheme = if no_ssl { "http" } else { "https" };
        format!("{scheme}://{value}")
    };
    // WHATWG parsing forgives `https:///host`; a value that needs
    // forgiving is more likely a mistake than meant.
    let after_scheme = text.split_once("://").map_or("", |(_, rest)| rest);
    if text.contains(|c: char| c.is_whitespace() || c.is_control()) || after_scheme.starts_with('/')
    {
        return Err(invalid(value));
    }
    let Ok(mut url) = url::Url::parse(&text) else {
        return Err(invalid(value));
    };
    let well_formed = url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        // WHATWG takes port 0; no server listens there.
        && url.port() != Some(0);
    if !well_formed {
        return Err(invalid(value));
    }
    match url.scheme() {
        "https" => {}
        "http" if no_ssl => {}
        "http" => {
            return Err(ConfigError::Rejected {
                variable: "DD_URL",
                reason: "it uses http://, which sends the API key unencrypted; set DD_NO_SSL=true to allow it",
            });
        }
        _ => return Err(invalid(value)),
    }
    if !full && url.set_port(Some(port)).is_err() {
        return Err(invalid(value));
    }
    // A URL that already names the endpoint (as other log shippers take
    // it) is not given the path twice.
    if let Some(prefix) = url.path().trim_end_matches('/').strip_suffix(INTAKE_PATH) {
        let prefix = prefix.to_owned();
        url.set_path(&prefix);
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_point_at_datadog_us1_with_gzip_6() {
        let c = parse(&[]).unwrap();
        assert_eq!(
            c.intake_url,
            "https://http-intake.logs.datadoghq.com/api/v2/logs"
        );
        assert_eq!(c.encoding, BodyEncoding::Gzip { level: 6 });
        assert_eq!(c.api_key, None);
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.max_decompressed_bytes, 64 * 1024 * 1024);
        assert_eq!(c.function_name, "eks-audit-forwarder");
        assert_eq!(c.storage_tag, Some("s3,cloudwatch"));
        assert!(!c.proxy.is_active());
        assert_eq!(c.spill_bucket, None);
        assert_eq!(c.metrics_namespace, "EksAuditForwarder");
        assert_eq!(c.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn site_and_url_forms() {
        assert_eq!(
            parse(&[("DD_SITE", "datadoghq.eu")]).unwrap().intake_url,
            "https://http-intake.logs.datadoghq.eu/api/v2/logs"
        );
        assert_eq!(
            parse(&[("DD_URL", "intake.example.com"), ("DD_PORT", "8443")])
                .unwrap()
                .intake_url,
            "https://intake.example.com:8443/api/v2/logs"
        );
        assert_eq!(
            parse(&[
                ("DD_URL", "localhost"),
                ("DD_PORT", "8080"),
                ("DD_NO_SSL", "true")
            ])
            .unwrap()
            .intake_url,
            "http://localhost:8080/api/v2/logs"
        );
        assert_eq!(
            parse(&[("DD_URL", "http://127.0.0.1:9000/"), ("DD_NO_SSL", "TRUE")])
                .unwrap()
                .intake_url,
            "http://127.0.0.1:9000/api/v2/logs"
        );
    }

    /// Regression: `DD_URL` was split by hand, so ports out of range and
    /// query strings passed start-up and an IPv6 literal was refused.
    #[test]
    fn dd_url_is_parsed_as_a_url() {
        let url = |v: &str| {
            parse(&[("DD_URL", v), ("DD_NO_SSL", "true")])
                .map(|c| c.intake_url)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            url("https://[::1]:8443").unwrap(),
            "https://[::1]:8443/api/v2/logs"
        );
        assert_eq!(
            url("HTTPS://Intake.Example.com:443/").unwrap(),
            "https://intake.example.com/api/v2/logs"
        );
        assert_eq!(
            url("https://proxy.example.com/datadog/").unwrap(),
            "https://proxy.example.com/datadog/api/v2/logs",
            "a path is a prefix"
        );
        assert_eq!(
            url("http://127.0.0.1:65535").unwrap(),
            "http://127.0.0.1:65535/api/v2/logs"
        );
        assert_eq!(url("10.0.0.7").unwrap(), "http://10.0.0.7:443/api/v2/logs");
        assert_eq!(url("[::1]").unwrap(), "http://[::1]:443/api/v2/logs");
        assert_eq!(
            url("https://h:8443/api/v2/logs").unwrap(),
            "https://h:8443/api/v2/logs",
            "the endpoint is not appended twice"
        );
        for bad in [
            "https://127.0.0.1:99999",
            "https://host:notaport",
            "https://host:0x50",
            "https://h/p?x=1",
            "https://h/p?",
            "https://h#f",
            "https://",
            "https://[::1",
            "h:8443",
            "h:443",
            "h/",
            "https://h:0",
            "::1",
            "h\\x",
        ] {
            let err = url(bad).expect_err(bad);
            assert!(err.starts_with("DD_URL is not valid"), "{bad}: {err}");
        }
        for secret in [
            "https://user:hunter2@h",
            "https://u:hunter2@h:99999",
            "u:hunter2@h",
        ] {
            let err = url(secret).unwrap_err();
            assert!(err.contains("user name or password"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn plain_http_needs_no_ssl() {
        let err = parse(&[("DD_URL", "http://127.0.0.1:9000")]).unwrap_err();
        assert!(err.to_string().contains("DD_NO_SSL=true"), "{err}");
    }

    #[test]
    fn bad_values_name_the_variable_and_what_it_accepts() {
        for (var, value, accepts) in [
            ("DD_PORT", "http", "port number"),
            ("DD_PORT", "0", "port number"),
            ("DD_NO_SSL", "maybe", "true or false"),
            ("DD_USE_COMPRESSION", "gzip", "true or false"),
            ("DD_COMPRESSION_LEVEL", "13", "0 to 12"),
            ("DD_COMPRESSION", "brotli", "gzip or zstd"),
            ("DD_FETCH_LOG_GROUP_TAGS", "maybe", "true or false"),
            ("DD_TAGS_CACHE_TTL_SECONDS", "-1", "0 to 86400"),
            ("DD_REDACT_SECRETS", "perhaps", "true or false"),
            (
                "DD_REDACT_RESOURCES",
                "config maps",
                "Kubernetes resource names",
            ),
            ("DD_LOG_LEVEL", "loud", "error, warn, info, debug"),
            ("DD_SITE", "datadog hq", "Datadog site"),
            ("DD_URL", "ftp://x", "https://"),
            ("DD_URL", "https://127.0.0.1:99999", "port from 1 to 65535"),
            ("DD_URL", "https://host:notaport", "port from 1 to 65535"),
            ("DD_URL", "https://h/p?x=1", "no query"),
            ("DD_URL", "https://h/p#top", "no query, fragment"),
            ("DD_URL", "https:///api", "with a host"),
            ("DD_URL", "https://h/a b", "https://"),
            ("DD_URL", "intake.example.com:8443", "bare host name"),
            ("DD_URL", "intake.example.com/path", "bare host name"),
            ("DD_MAX_DECOMPRESSED_BYTES", "lots", "number of bytes"),
            ("DD_STORE_FAILED_EVENTS", "y", "true or false"),
            ("DD_REQUEST_TIMEOUT_SECONDS", "0", "0.1 to 900"),
            ("DD_METRICS_NAMESPACE", "a:b", "no colon"),
        ] {
            let msg = parse(&[(var, value)]).unwrap_err().to_string();
            assert!(msg.starts_with(var), "{msg}");
            assert!(msg.contains(accepts), "{msg}");
        }
        let msg = parse(&[("DD_COMPRESSION", "zstd"), ("DD_COMPRESSION_LEVEL", "0")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("zstd level from 1 to 19"), "{msg}");
    }

    #[test]
    fn secret_redaction_is_on_unless_turned_off() {
        assert_eq!(parse(&[]).unwrap().redact_resources, Some(vec![]));
        assert_eq!(
            parse(&[(
                "DD_REDACT_RESOURCES",
                "ConfigMaps, ,leases.coordination.k8s.io"
            )])
            .unwrap()
            .redact_resources,
            Some(vec![
                "configmaps".to_owned(),
                "leases.coordination.k8s.io".to_owned()
            ])
        );
        assert_eq!(
            parse(&[("DD_REDACT_SECRETS", "false")])
                .unwrap()
                .redact_resources,
            None
        );
    }

    #[test]
    fn match_and_scrubbing_patterns() {
        let c = parse(&[
            ("INCLUDE_AT_MATCH", "verb\":\"create"),
            ("REDACT_IP", "true"),
            ("DD_SCRUBBING_RULE", "password=(\\S+)"),
            ("DD_SCRUBBING_RULE_REPLACEMENT", "password=*** (was \\1)"),
        ])
        .unwrap();
        assert!(c.match_filter.include.is_some() && c.match_filter.exclude.is_none());
        assert_eq!(c.scrubber.rules.len(), 1);
        assert!(c.scrubber.serialized.is_some());
        for (var, value, accepts) in [
            ("EXCLUDE_AT_MATCH", "(unclosed", "regular expression"),
            ("INCLUDE_AT_MATCH", "  ", "non-empty"),
            ("DD_SCRUBBING_RULE", "", "non-empty"),
            ("REDACT_EMAIL", "sure", "true or false"),
            ("DD_ENRICH_S3_TAGS", "on", "true or false"),
            ("DD_ENRICH_CLOUDWATCH_TAGS", "off", "true or false"),
            ("HTTPS_PROXY", "proxy:3128", "proxy URL"),
            ("HTTP_PROXY", "socks5://p:1080", "http:// or https://"),
        ] {
            let msg = parse(&[(var, value)]).unwrap_err().to_string();
            assert!(msg.starts_with(var) && msg.contains(accepts), "{msg}");
        }
        let msg = parse(&[
            ("DD_SCRUBBING_RULE", "a(b)"),
            ("DD_SCRUBBING_RULE_REPLACEMENT", "\\2"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with("DD_SCRUBBING_RULE_REPLACEMENT") && msg.contains("group"),
            "{msg}"
        );
        // A proxy's credentials never show in an error or in Debug.
        let msg = parse(&[("HTTPS_PROXY", "http://u:s3cret@p:3128/path")])
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("s3cret"), "{msg}");
        let c = parse(&[("HTTPS_PROXY", "http://u:s3cret@p:3128")]).unwrap();
        assert!(c.proxy.is_active() && !format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn storage_tag_follows_the_two_enrichment_switches() {
        for (s3, cloudwatch, expected) in [
            ("true", "true", Some("s3,cloudwatch")),
            ("true", "false", Some("s3")),
            ("false", "true", Some("cloudwatch")),
            ("false", "false", None),
        ] {
            let c = parse(&[
                ("DD_ENRICH_S3_TAGS", s3),
                ("DD_ENRICH_CLOUDWATCH_TAGS", cloudwatch),
            ])
            .unwrap();
            assert_eq!(c.storage_tag, expected, "{s3} {cloudwatch}");
        }
    }

    #[test]
    fn audit_filters() {
        assert!(!parse(&[]).unwrap().audit_filter.is_active());
        let c = parse(&[
            (
                "DD_AUDIT_EXCLUDE",
                r"@verb:watch @user.username:system\:node\:*",
            ),
            ("DD_AUDIT_NOISE_FILTER", "Aggressive"),
        ])
        .unwrap();
        assert!(c.audit_filter.is_active());
        assert!(
            parse(&[("DD_AUDIT_NOISE_FILTER", "off")])
                .map(|c| !c.audit_filter.is_active())
                .unwrap()
        );
        for (var, value, expected) in [
            (
                "DD_AUDIT_NOISE_FILTER",
                "loud",
                "expected off, standard or aggressive",
            ),
            ("DD_AUDIT_INCLUDE", "@verb:(get OR", "at character 14"),
            ("DD_AUDIT_EXCLUDE", "watch", "free-text search"),
            ("DD_AUDIT_EXCLUDE", "", "the query is empty"),
            (
                "DD_AUDIT_INTERNAL_NETWORKS",
                "10.0.0.0/8, 52.95.110.7/33",
                "comma-separated IPv4 or IPv6 networks",
            ),
        ] {
            let msg = parse(&[(var, value)]).unwrap_err().to_string();
            assert!(msg.starts_with(var) && msg.contains(expected), "{msg}");
        }
    }

    #[test]
    fn compression_choices() {
        let encoding = |vars: &[(&str, &str)]| parse(vars).unwrap().encoding;
        assert_eq!(encoding(&[]), BodyEncoding::Gzip { level: 6 });
        assert_eq!(
            encoding(&[("DD_COMPRESSION_LEVEL", "9")]),
            BodyEncoding::Gzip { level: 9 }
        );
        assert_eq!(
            encoding(&[("DD_COMPRESSION", "zstd")]),
            BodyEncoding::Zstd { level: 1 }
        );
        assert_eq!(
            encoding(&[("DD_COMPRESSION", "zstd"), ("DD_COMPRESSION_LEVEL", "19")]),
            BodyEncoding::Zstd { level: 19 }
        );
        assert_eq!(
            encoding(&[("DD_COMPRESSION", "zstd"), ("DD_USE_COMPRESSION", "false")]),
            BodyEncoding::Identity
        );
    }

    #[test]
    fn api_key_stores_and_their_precedence() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd-api-key-AbCdEf";
        let c = parse(&[
            ("DD_API_KEY_SECRET_ARN", arn),
            ("DD_API_KEY_SSM_NAME", "/dd/key"),
            ("DD_API_KEY", "k"),
        ])
        .unwrap();
        assert_eq!(
            c.api_key_store,
            Some(ApiKeyStore::SecretsManager {
                arn: arn.to_owned(),
                region: "eu-west-1".to_owned()
            })
        );
        let c = parse(&[("DD_API_KEY_SSM_NAME", "/dd/key"), ("DD_API_KEY", "k")]).unwrap();
        assert_eq!(
            c.api_key_store,
            Some(ApiKeyStore::Ssm {
                name: "/dd/key".into()
            })
        );
        assert!(c.require_api_key().is_ok());
        let err = parse(&[("DD_API_KEY_SECRET_ARN", "0123456789abcdef0123456789abcdef")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "DD_API_KEY_SECRET_ARN is not valid: expected a Secrets Manager secret ARN"
            ),
            "{err}"
        );
        assert!(!err.contains("0123456789abcdef"), "{err}");
    }

    #[test]
    fn spill_needs_a_valid_bucket() {
        assert_eq!(
            parse(&[("DD_S3_BUCKET_NAME", "b")]).unwrap().spill_bucket,
            None
        );
        let c = parse(&[
            ("DD_STORE_FAILED_EVENTS", "true"),
            ("DD_S3_BUCKET_NAME", "my-bucket"),
        ])
        .unwrap();
        assert_eq!(c.spill_bucket.as_deref(), Some("my-bucket"));
        let err = parse(&[("DD_STORE_FAILED_EVENTS", "true")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "DD_S3_BUCKET_NAME is required when DD_STORE_FAILED_EVENTS=true"
        );
        let err = parse(&[
            ("DD_STORE_FAILED_EVENTS", "true"),
            ("DD_S3_BUCKET_NAME", "My_Bucket"),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("DD_S3_BUCKET_NAME=\"My_Bucket\""),
            "{err}"
        );
    }

    #[test]
    fn api_key_never_shows_in_debug_or_errors() {
        let c = parse(&[("DD_API_KEY", "abcdef0123456789")]).unwrap();
        assert!(!format!("{c:?}").contains("abcdef0123456789"));
        let err = parse(&[("DD_API_KEY", "abc def")]).unwrap_err().to_string();
        assert!(!err.contains("abc def"), "{err}");
        assert!(err.contains("DD_API_KEY"));
    }

    #[test]
    fn tags_source_and_compression_switch() {
        let c = parse(&[
            ("DD_TAGS", "env:prod, team:platform,,"),
            ("DD_SOURCE", "custom"),
            ("DD_USE_COMPRESSION", "false"),
            ("AWS_LAMBDA_FUNCTION_NAME", "My-Forwarder"),
        ])
        .unwrap();
        assert_eq!(c.tags, vec!["env:prod", "team:platform"]);
        assert_eq!(c.source_override.as_deref(), Some("custom"));
        assert_eq!(c.encoding, BodyEncoding::Identity);
        assert_eq!(c.function_name, "My-Forwarder");
        assert_eq!(c.forwarder_name, "my-forwarder");
        assert_eq!(
            c.require_api_key().unwrap_err().to_string(),
            "DD_API_KEY is required when running as a Lambda function (or DD_API_KEY_SECRET_ARN, or DD_API_KEY_SSM_NAME)"
        );
    }
}
