//! Where and how logs are sent: `DD_SITE`, `DD_URL`, `DD_PORT`,
//! `DD_NO_SSL`, compression, the request timeout and the storage tag.

use std::time::Duration;

use super::{ConfigError, Env};
use crate::limits;
use crate::ship::{BodyEncoding, IntakeSettings};

pub(super) fn intake_settings(env: &Env<'_>) -> Result<IntakeSettings, ConfigError> {
    let no_ssl = env.flag("DD_NO_SSL", false)?;
    let port = match env.get("DD_PORT") {
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
    let site = env
        .get("DD_SITE")
        .unwrap_or_else(|| "datadoghq.com".to_owned());
    if !is_host_name(&site) {
        return Err(ConfigError::Invalid {
            variable: "DD_SITE",
            value: site,
            accepts: "a Datadog site such as datadoghq.com, datadoghq.eu, us3.datadoghq.com or ddog-gov.com",
        });
    }
    let custom_url = env.get("DD_URL");
    let datadog_site = custom_url.is_none();
    let base = match custom_url {
        Some(url) => intake_base_from_url(url, port, no_ssl)?,
        None => format!("https://http-intake.logs.{site}"),
    };
    let url = format!("{}{INTAKE_PATH}", base.trim_end_matches('/'));

    let use_compression = env.flag("DD_USE_COMPRESSION", true)?;
    let level = env.get("DD_COMPRESSION_LEVEL");
    let encoding = match env.get("DD_COMPRESSION").map(|v| v.to_ascii_lowercase()) {
        _ if !use_compression => BodyEncoding::Identity,
        // Towards a Datadog site, zstd unless a gzip level is set (the
        // Datadog Forwarder's DD_COMPRESSION_LEVEL is a gzip level): a
        // third of gzip's CPU for fewer bytes, with gzip as the fallback.
        None if datadog_site && level.is_none() => BodyEncoding::Zstd {
            level: limits::DEFAULT_ZSTD_LEVEL,
        },
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

    let request_timeout = match env.get("DD_REQUEST_TIMEOUT_SECONDS") {
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

    let enrich_s3 = env.flag("DD_ENRICH_S3_TAGS", true)?;
    let enrich_cloudwatch = env.flag("DD_ENRICH_CLOUDWATCH_TAGS", true)?;
    let storage_tag = match (enrich_s3, enrich_cloudwatch) {
        (true, true) => Some("s3,cloudwatch"),
        (true, false) => Some("s3"),
        (false, true) => Some("cloudwatch"),
        (false, false) => None,
    };

    // Any zstd body the intake refuses goes again as gzip (ship::Shipper).
    let fallback = matches!(encoding, BodyEncoding::Zstd { .. }).then_some(BodyEncoding::Gzip {
        level: limits::DEFAULT_GZIP_LEVEL,
    });
    Ok(IntakeSettings {
        url,
        storage_tag,
        encoding,
        fallback,
        request_timeout,
    })
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
pub(super) fn intake_base_from_url(
    value: String,
    port: u16,
    no_ssl: bool,
) -> Result<String, ConfigError> {
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
