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
