//! What the audit stage does: filters, redaction, scrubbing and the SIEM
//! attributes.

use regex::Regex;

use super::{ConfigError, Env};
use crate::audit::filter::{
    AuditFilter, MatchFilter, NoiseLevel, SystemClient, check_system_clients,
};
use crate::audit::query::AuditQuery;
use crate::audit::scrubbing::{Scrubber, SerializedRule, email_rule, ip_rule};
use crate::audit::{AuditSettings, SecretRedactor};

pub(super) fn audit_settings(env: &Env<'_>) -> Result<AuditSettings, ConfigError> {
    Ok(AuditSettings {
        audit_filter: audit_filter(env)?,
        match_filter: MatchFilter {
            include: pattern(env, "INCLUDE_AT_MATCH")?,
            exclude: pattern(env, "EXCLUDE_AT_MATCH")?,
        },
        redactor: redactor(env)?,
        scrubber: scrubber(env)?,
        siem_attributes: env.flag("DD_SIEM_ATTRIBUTES", false)?,
    })
}

/// `DD_REDACT_SECRETS` (on by default) with `DD_REDACT_RESOURCES`.
fn redactor(env: &Env<'_>) -> Result<Option<SecretRedactor>, ConfigError> {
    let redact = env.flag("DD_REDACT_SECRETS", true)?;
    let mut resources = Vec::new();
    for resource in env
        .get("DD_REDACT_RESOURCES")
        .iter()
        .flat_map(|v| v.split(','))
    {
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
        resources.push(resource);
    }
    Ok(redact.then(|| SecretRedactor::new(&resources)))
}

/// A regular expression. Set but empty is an error here, not "unset": an
/// empty pattern would match every log.
fn pattern(env: &Env<'_>, variable: &'static str) -> Result<Option<Regex>, ConfigError> {
    let Some(value) = env.raw(variable) else {
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
}

/// `REDACT_IP`, `REDACT_EMAIL` and `DD_SCRUBBING_RULE`, in that order.
fn scrubber(env: &Env<'_>) -> Result<Scrubber, ConfigError> {
    let mut scrubber = Scrubber::default();
    if env.flag("REDACT_IP", false)? {
        scrubber.rules.push(ip_rule());
    }
    if env.flag("REDACT_EMAIL", false)? {
        scrubber.rules.push(email_rule());
    }
    if let Some(rule) = pattern(env, "DD_SCRUBBING_RULE")? {
        // The Datadog Forwarder's default replacement is "": a match is
        // removed. The value is not trimmed: spaces can be meant.
        let replacement = env.raw("DD_SCRUBBING_RULE_REPLACEMENT").unwrap_or_default();
        scrubber.serialized = Some(SerializedRule::new(rule, &replacement).map_err(|reason| {
            ConfigError::Rejected {
                variable: "DD_SCRUBBING_RULE_REPLACEMENT",
                reason,
            }
        })?);
    }
    Ok(scrubber)
}

/// `DD_AUDIT_INCLUDE`, `DD_AUDIT_EXCLUDE`, `DD_AUDIT_NOISE_FILTER`,
/// `DD_AUDIT_INTERNAL_NETWORKS` and `DD_AUDIT_SYSTEM_CLIENTS`.
fn audit_filter(env: &Env<'_>) -> Result<AuditFilter, ConfigError> {
    let query = |variable: &'static str| -> Result<Option<AuditQuery>, ConfigError> {
        env.raw(variable)
            .map(|text| {
                text.parse()
                    .map_err(|error| ConfigError::Query { variable, error })
            })
            .transpose()
    };
    let noise = match env.get("DD_AUDIT_NOISE_FILTER") {
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
    for net in env
        .get("DD_AUDIT_INTERNAL_NETWORKS")
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
    Ok(AuditFilter::new(
        query("DD_AUDIT_INCLUDE")?,
        query("DD_AUDIT_EXCLUDE")?,
        noise,
        &internal_networks,
        &system_clients(env.get("DD_AUDIT_SYSTEM_CLIENTS").as_deref())?,
    ))
}

/// `DD_AUDIT_SYSTEM_CLIENTS`: `USER=AGENT|AGENT;USER=AGENT`, each a
/// pattern with `*` and `?` wildcards, such as
/// `system:serviceaccount:argocd:*=argocd-*/*`.
fn system_clients(value: Option<&str>) -> Result<Vec<SystemClient>, ConfigError> {
    const ACCEPTS: &str = "entries USER=AGENT separated by ';', several agents separated by '|', each starting with a name, with * and ? wildcards after it, such as system:serviceaccount:argocd:*=argocd-*/*";
    let mut clients = Vec::new();
    for entry in value
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let invalid = || ConfigError::Invalid {
            variable: "DD_AUDIT_SYSTEM_CLIENTS",
            value: entry.to_owned(),
            accepts: ACCEPTS,
        };
        let (user, agents) = entry.split_once('=').ok_or_else(invalid)?;
        let user = user.trim();
        let agents: Vec<String> = agents
            .split('|')
            .map(str::trim)
            .map(str::to_owned)
            .collect();
        // A pattern that does not start with a name (`*`, `*/*`) would
        // make any principal, or any client, a system one's.
        let too_wide = |p: &str| !p.starts_with(|c: char| c.is_alphanumeric() || c == '.');
        if too_wide(user) || agents.iter().any(|a| too_wide(a)) {
            return Err(invalid());
        }
        clients.push(SystemClient {
            user: user.to_owned(),
            agents,
        });
    }
    check_system_clients(&clients).map_err(|error| ConfigError::Query {
        variable: "DD_AUDIT_SYSTEM_CLIENTS",
        error,
    })?;
    Ok(clients)
}
