//! The query language of `DD_AUDIT_INCLUDE`, `DD_AUDIT_EXCLUDE` and the
//! noise presets: the part of Datadog's log search syntax that selects
//! logs by attribute, applied to the fields of a Kubernetes audit event.
//!
//! ```text
//! @verb:(get OR list OR watch) @user.username:system\:node\:* -@objectRef.resource:secrets
//! @responseStatus.code:[400 TO 499]   @responseStatus.code:>=500   @impersonatedUser:*
//! CIDR(@sourceIPs, 10.0.0.0/8, 192.168.0.0/16)   NOT (@verb:get OR @verb:list)
//! ```
//!
//! - `@field:value`, with `.` between nested names (`@objectRef.resource`).
//!   A name whose key itself holds dots, such as the annotation
//!   `authorization.k8s.io/decision`, is found as written
//!   (`@annotations.authorization.k8s.io/decision:forbid`).
//! - Values match exactly and case-sensitively; `*` matches any run of
//!   characters and `?` one character; `\` escapes the next character;
//!   `"quoted values"` are literal. `@field:*` means the field is present.
//! - A field holding a list matches when any of its items does, so
//!   `@user.groups:system\:masters` finds the group among the others.
//! - Numbers: `[a TO b]` (inclusive), `{a TO b}` (exclusive), `*` for an
//!   open end, and `>`, `>=`, `<`, `<=`.
//! - `CIDR(@field, net, ...)` matches IPv4 and IPv6 addresses in the nets.
//! - Terms are joined by `AND` (also implied by a space) and `OR`; `-` or
//!   `NOT` negates; parentheses group, also values: `@verb:(get OR list)`.
//!   AND binds tighter than OR, as in Datadog.
//! - The attribute names Datadog derives for Kubernetes audit logs also
//!   work: `@http.method`, `@http.status_code`, `@http.useragent`,
//!   `@usr.name`, `@usr.id`, `@network.client.ip`, `@kube_namespace`.
//!
//! A missing field, or one of an unexpected type, matches nothing (and
//! `-@field:value` then matches), so a partial event never fails a query.
//!
//! [`parser`] reads a query into an expression tree, [`eval`] matches it
//! against one event's fields, and [`network`] holds the address helpers
//! `CIDR()` and `PUBLIC_IP()` use.

mod eval;
mod network;
mod parser;

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

pub use eval::AuditEvent;
pub(crate) use eval::FieldCache;
pub(crate) use network::parse_net;
pub use parser::field_path;

/// Deeper nesting than any real query needs; the parser recurses, so a
/// bound keeps a hostile value from overflowing the stack.
const MAX_NESTING: usize = 32;

/// Datadog's attribute names for audit logs, and the audit field each is.
const ALIASES: &[(&str, &str)] = &[
    ("http.method", "verb"),
    ("http.status_code", "responseStatus.code"),
    ("http.useragent", "userAgent"),
    ("usr.name", "user.username"),
    ("usr.id", "user.username"),
    ("kube_namespace", "objectRef.namespace"),
];

/// Attributes Datadog derives that have no single audit field: a query
/// naming one would match nothing, so it is refused with the field to use.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "network.client.ip",
        "@sourceIPs (any address of the list), CIDR(@sourceIPs, ...) or PUBLIC_IP(@sourceIPs)",
    ),
    (
        "http.url_details.path",
        "@requestURI (with its query string, so end the value with *)",
    ),
];

/// The reserved attributes of a log (Datadog's log search names them
/// without `@`).
const RESERVED: &[&str] = &["source", "service", "host"];

/// The member under which a log's tags are given to queries, as an object
/// of each key's values: no audit event has a key starting with U+0001.
const TAGS_MEMBER: &str = "\u{1}tags";

/// The member a reserved attribute is given under.
fn reserved_member(name: &str) -> String {
    format!("\u{1}{name}")
}

/// What a log has besides its audit event, for queries in the log search
/// dialect ([`AuditQuery::parse_log_search`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogContext<'a> {
    pub source: &'a str,
    pub service: &'a str,
    pub host: &'a str,
    /// `ddtags`: `key:value` items separated by commas.
    pub tags: &'a str,
}

impl LogContext<'_> {
    /// A JSON object of the members the dialect reads, to be given with
    /// the audit event ([`AuditEvent::with_log`]): the reserved
    /// attributes, the tags, and the attributes Datadog's pipeline for
    /// `kubernetes.audit` derives from more than one field (the client
    /// address is the first of `sourceIPs`; the path is `requestURI`
    /// without its query string).
    pub fn members(&self, client_ip: Option<&str>, url_path: Option<&str>) -> String {
        use serde_json::{Map, Value};
        let mut object = Map::new();
        for (name, value) in [
            ("source", self.source),
            ("service", self.service),
            ("host", self.host),
        ] {
            if !value.is_empty() {
                object.insert(reserved_member(name), Value::from(value));
            }
        }
        let mut tags = Map::new();
        for tag in self
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let (key, value) = tag.split_once(':').unwrap_or((tag, ""));
            match tags
                .entry(key.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(values) => values.push(Value::from(value)),
                _ => unreachable!("only arrays are inserted"),
            }
        }
        object.insert(TAGS_MEMBER.to_owned(), Value::Object(tags));
        if let Some(ip) = client_ip {
            object.insert("network.client.ip".to_owned(), Value::from(ip));
        }
        if let Some(path) = url_path {
            object.insert("http.url_details.path".to_owned(), Value::from(path));
        }
        Value::Object(object).to_string()
    }
}

/// Why a query could not be read; `at` counts characters from 1.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("at character {at}: {reason}")]
pub struct QueryError {
    pub at: usize,
    pub reason: String,
}

/// A parsed query.
#[derive(Clone)]
pub struct AuditQuery {
    root: Expr,
    /// The distinct field paths the query reads, each split into names,
    /// numbered by where they stand; after `share_fields`, the whole table
    /// the query shares with others.
    fields: Vec<Vec<String>>,
}

impl fmt::Debug for AuditQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditQuery({} fields in its table)", self.fields.len())
    }
}

#[derive(Debug, Clone)]
enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Field { field: usize, test: Test },
}

#[derive(Debug, Clone)]
enum Test {
    Exists,
    Exact(String),
    Prefix(String),
    Glob(Vec<GlobPart>),
    Range {
        low: Bound,
        high: Bound,
    },
    Cidr(Vec<(IpAddr, u8)>),
    /// Besides the private ranges, these networks are internal too.
    PublicIp(Vec<(IpAddr, u8)>),
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    Open,
    Inclusive(f64),
    Exclusive(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum GlobPart {
    Literal(String),
    AnyRun,
    AnyChar,
}

#[cfg(test)]
mod tests;
