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

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use thiserror::Error;

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

/// What `PUBLIC_IP()` does not count as public: private (RFC 1918),
/// shared (RFC 6598), loopback, link-local, unique-local and unspecified
/// addresses.
const NON_PUBLIC_NETS: &[(&str, u8)] = &[
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
    ("0.0.0.0", 8),
    ("::1", 128),
    ("::", 128),
    ("fc00::", 7),
    ("fe80::", 10),
];

/// [`NON_PUBLIC_NETS`], parsed once.
fn non_public_nets() -> &'static [(IpAddr, u8)] {
    static NETS: std::sync::LazyLock<Vec<(IpAddr, u8)>> = std::sync::LazyLock::new(|| {
        NON_PUBLIC_NETS
            .iter()
            .map(|(net, bits)| (net.parse().expect("a valid network"), *bits))
            .collect()
    });
    &NETS
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
    /// The distinct field paths the query reads, each split into names.
    fields: Vec<Vec<String>>,
}

impl fmt::Debug for AuditQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditQuery({} fields)", self.fields.len())
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

impl std::str::FromStr for AuditQuery {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, QueryError> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
            fields: Vec::new(),
        };
        parser.skip_space();
        if parser.at_end() {
            return Err(parser.error("the query is empty"));
        }
        let root = parser.or_expr(None)?;
        parser.skip_space();
        match parser.peek() {
            None => Ok(AuditQuery {
                root,
                fields: parser.fields,
            }),
            Some(')') => Err(parser.error("a ')' without its '('")),
            Some(_) => Err(parser.error("unexpected text")),
        }
    }
}

impl AuditQuery {
    /// Whether `event` matches.
    pub fn matches(&self, event: &AuditEvent<'_>) -> bool {
        let mut cache = vec![None; self.fields.len()];
        self.eval(&self.root, event, &mut cache)
    }

    fn eval<'a>(
        &self,
        expr: &Expr,
        event: &AuditEvent<'a>,
        cache: &mut [Option<Vec<Leaf<'a>>>],
    ) -> bool {
        match expr {
            Expr::All(all) => all.iter().all(|e| self.eval(e, event, cache)),
            Expr::Any(any) => any.iter().any(|e| self.eval(e, event, cache)),
            Expr::Not(inner) => !self.eval(inner, event, cache),
            Expr::Field { field, test } => {
                let leaves =
                    cache[*field].get_or_insert_with(|| event.leaves(&self.fields[*field]));
                leaves.iter().any(|leaf| test.accepts(leaf))
            }
        }
    }
}

impl Test {
    fn accepts(&self, leaf: &Leaf<'_>) -> bool {
        let text = match leaf {
            Leaf::Composite => return matches!(self, Test::Exists),
            Leaf::Text(t) => t.as_ref(),
            Leaf::Scalar(s) => s,
        };
        match self {
            Test::Exists => true,
            Test::Exact(value) => text == value,
            Test::Prefix(prefix) => text.starts_with(prefix.as_str()),
            Test::Glob(parts) => glob_matches(parts, text),
            Test::Range { low, high } => {
                leaf_number(text).is_some_and(|n| low.admits_above(n) && high.admits_below(n))
            }
            Test::Cidr(nets) => leaf_ip(text)
                .is_some_and(|ip| nets.iter().any(|&(net, bits)| in_net(ip, net, bits))),
            Test::PublicIp(internal) => leaf_ip(text).is_some_and(|ip| {
                !non_public_nets()
                    .iter()
                    .chain(internal)
                    .any(|&(net, bits)| in_net(ip, net, bits))
            }),
        }
    }
}

impl Bound {
    fn admits_above(self, n: f64) -> bool {
        match self {
            Bound::Open => true,
            Bound::Inclusive(b) => n >= b,
            Bound::Exclusive(b) => n > b,
        }
    }

    fn admits_below(self, n: f64) -> bool {
        match self {
            Bound::Open => true,
            Bound::Inclusive(b) => n <= b,
            Bound::Exclusive(b) => n < b,
        }
    }
}

/// A number as JSON writes one (`"403"` counts, `"inf"` does not).
fn leaf_number(text: &str) -> Option<f64> {
    let first = text.bytes().next()?;
    if !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    number(text)
}

/// An address, IPv4-mapped IPv6 ones read as IPv4.
fn leaf_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `*` and `?` wildcards over characters. Only the last `*` seen is ever
/// backtracked to, so the cost stays linear in practice.
fn glob_matches(parts: &[GlobPart], text: &str) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        let step = match parts.get(p) {
            Some(GlobPart::AnyRun) => {
                resume = Some((p + 1, t));
                Some(0)
            }
            Some(GlobPart::AnyChar) => text[t..].chars().next().map(char::len_utf8),
            Some(GlobPart::Literal(lit)) => {
                text[t..].starts_with(lit.as_str()).then_some(lit.len())
            }
            None if t == text.len() => return true,
            None => None,
        };
        if let Some(len) = step {
            p += 1;
            t += len;
            continue;
        }
        // Mismatch: let the last `*` take one more character.
        match resume {
            Some((after_star, from)) if from < text.len() => {
                let next = from + text[from..].chars().next().map_or(1, char::len_utf8);
                resume = Some((after_star, next));
                p = after_star;
                t = next;
            }
            _ => return false,
        }
    }
}

/// What a field path leads to: a string (unescaped), another scalar as
/// its JSON text, or an object or list (which only `*` matches).
#[derive(Debug, Clone)]
enum Leaf<'a> {
    Text(Cow<'a, str>),
    Scalar(&'a str),
    Composite,
}

/// A JSON string, borrowed when it has no escapes.
#[derive(Deserialize)]
struct JsonText<'a>(#[serde(borrow)] Cow<'a, str>);

/// An object's members in order, values left raw for later. Reading one
/// does not recurse into the values, so any nesting depth is read.
pub(crate) struct Members<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(JsonText(key)) = map.next_key()? {
                    members.push((key, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// One audit event, read for queries: its top-level members are split
/// once; nested fields are parsed when a query asks for them.
pub struct AuditEvent<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> AuditEvent<'a> {
    /// `None` when `text` is not a JSON object.
    pub fn parse(text: &'a str) -> Option<Self> {
        let members: Members<'a> = serde_json::from_str(text).ok()?;
        Some(Self { members: members.0 })
    }

    fn leaves(&self, path: &[String]) -> Vec<Leaf<'a>> {
        let mut out = Vec::new();
        collect_members(&self.members, path, &mut out);
        out
    }
}

fn collect_members<'a>(
    members: &[(Cow<'a, str>, &'a RawValue)],
    path: &[String],
    out: &mut Vec<Leaf<'a>>,
) {
    for (key, value) in members {
        // The key may be several names of the path joined by dots.
        let mut rest = key.as_ref();
        for (used, name) in path.iter().enumerate() {
            let Some(after) = rest.strip_prefix(name.as_str()) else {
                break;
            };
            if after.is_empty() {
                collect_value(value, &path[used + 1..], out);
                break;
            }
            match after.strip_prefix('.') {
                Some(more) => rest = more,
                None => break,
            }
        }
    }
}

/// Collects what `path` leads to from `raw`. A list is looked into one
/// level deep: its items are matched, a list inside it counts as one
/// composite value. So recursion follows the path's names, never the
/// nesting of a crafted value (a patch body is logged as the client sent
/// it).
fn collect_value<'a>(raw: &'a RawValue, path: &[String], out: &mut Vec<Leaf<'a>>) {
    if raw.get().starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<&'a RawValue>>(raw.get()) {
            for item in items {
                if item.get().starts_with('[') {
                    if path.is_empty() {
                        out.push(Leaf::Composite);
                    }
                } else {
                    collect_single(item, path, out);
                }
            }
        }
        return;
    }
    collect_single(raw, path, out);
}

fn collect_single<'a>(raw: &'a RawValue, path: &[String], out: &mut Vec<Leaf<'a>>) {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') if path.is_empty() => out.push(Leaf::Composite),
        Some(b'{') => {
            if let Ok(members) = serde_json::from_str::<Members<'a>>(text) {
                collect_members(&members.0, path, out);
            }
        }
        _ if !path.is_empty() => {}
        Some(b'"') => {
            if let Ok(JsonText(s)) = serde_json::from_str(text) {
                out.push(Leaf::Text(s));
            }
        }
        Some(b'n') | None => {}
        Some(_) => out.push(Leaf::Scalar(text)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NetworkCall {
    Cidr,
    PublicIp,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    fields: Vec<Vec<String>>,
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')'
}

impl Parser {
    fn error(&self, reason: impl Into<String>) -> QueryError {
        QueryError {
            at: self.pos + 1,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether `word` is next as an operator (followed by a space, a
    /// parenthesis or the end); consumed if so.
    fn keyword(&mut self, word: &str) -> bool {
        let len = word.chars().count();
        let matches = self.chars.len() >= self.pos + len
            && self.chars[self.pos..self.pos + len]
                .iter()
                .copied()
                .eq(word.chars())
            && self.chars.get(self.pos + len).is_none_or(|&c| ends_word(c));
        if matches {
            self.pos += len;
        }
        matches
    }

    fn nested<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(format!("nested more than {MAX_NESTING} deep")));
        }
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// `field` is set inside a value group such as `@verb:(get OR list)`.
    fn or_expr(&mut self, field: Option<usize>) -> Result<Expr, QueryError> {
        let mut any = vec![self.and_expr(field)?];
        loop {
            self.skip_space();
            if !self.keyword("OR") {
                break;
            }
            any.push(self.and_expr(field)?);
        }
        Ok(if any.len() == 1 {
            any.remove(0)
        } else {
            Expr::Any(any)
        })
    }

    fn and_expr(&mut self, field: Option<usize>) -> Result<Expr, QueryError> {
        let mut all = vec![self.unary(field)?];
        loop {
            self.skip_space();
            let before = self.pos;
            if self.at_end() || self.peek() == Some(')') || self.keyword("OR") {
                self.pos = before;
                break;
            }
            self.keyword("AND");
            all.push(self.unary(field)?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::All(all)
        })
    }

    fn unary(&mut self, field: Option<usize>) -> Result<Expr, QueryError> {
        self.skip_space();
        if self.keyword("NOT") || self.take('-') {
            let inner = self.nested(|p| p.unary(field))?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        match self.peek() {
            None => Err(self.error("a term is missing at the end")),
            Some('(') => self.group(field),
            Some(')') => Err(self.error("a term is missing before ')'")),
            Some(_) => match field {
                Some(field) => self.value(field),
                None => self.term(),
            },
        }
    }

    /// `( ... )`, from its `(`.
    fn group(&mut self, field: Option<usize>) -> Result<Expr, QueryError> {
        self.pos += 1;
        let inner = self.nested(|p| p.or_expr(field))?;
        self.skip_space();
        if !self.take(')') {
            return Err(self.error("a '(' is not closed"));
        }
        Ok(inner)
    }

    fn take(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    /// `@field:value`, `@field:(values)`, `CIDR(@field, nets)` or
    /// `PUBLIC_IP(@field[, nets])`.
    fn term(&mut self) -> Result<Expr, QueryError> {
        if self.keyword_call("CIDR(") {
            return self.network_call(NetworkCall::Cidr);
        }
        if self.keyword_call("PUBLIC_IP(") {
            return self.network_call(NetworkCall::PublicIp);
        }
        let start = self.pos;
        let name = self.field_name(':')?;
        if !self.take(':') {
            self.pos = start;
            return Err(self.error(
                "expected @field:value (free-text search is not supported: name the audit field, as in @verb:get)",
            ));
        }
        let field = self.field_index(&name, start)?;
        if self.peek() == Some('(') {
            return self.group(Some(field));
        }
        self.value(field)
    }

    fn keyword_call(&mut self, call: &str) -> bool {
        let len = call.chars().count();
        let matches = self.chars.len() >= self.pos + len
            && self.chars[self.pos..self.pos + len]
                .iter()
                .copied()
                .eq(call.chars());
        if matches {
            self.pos += len;
        }
        matches
    }

    /// A field name up to `stop`, without its `@`, escapes resolved except
    /// `\.`, which stays to mark a dot inside one name.
    fn field_name(&mut self, stop: char) -> Result<String, QueryError> {
        let start = self.pos;
        if !self.take('@') {
            return Err(self.error(
                "expected @field:value, as in @verb:get (audit fields start with @; free-text search and reserved attributes such as source: or service: are not supported)",
            ));
        }
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == stop || ends_word(c) || c == ',' {
                break;
            }
            self.pos += 1;
            // Escapes stay for field_index, which splits on unescaped dots.
            if c == '\\' {
                let escaped = self
                    .peek()
                    .ok_or_else(|| self.error("a '\\' at the end escapes nothing"))?;
                name.push('\\');
                name.push(escaped);
                self.pos += 1;
            } else {
                name.push(c);
            }
        }
        if name.is_empty() || name == "*" {
            self.pos = start;
            return Err(self.error(
                "expected an audit field name after @, as in @verb or @objectRef.resource",
            ));
        }
        Ok(name)
    }

    fn field_index(&mut self, name: &str, at: usize) -> Result<usize, QueryError> {
        // Aliases and refused names compare as read: `\o` is `o`.
        let plain = plain_name(name);
        let name = plain.as_str();
        if let Some((_, instead)) = UNSUPPORTED.iter().find(|(derived, _)| *derived == name) {
            return Err(QueryError {
                at: at + 1,
                reason: format!("@{name} is not a field of the audit event: use {instead}"),
            });
        }
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, field)| field);
        let mut path = Vec::new();
        let mut current = String::new();
        let mut chars = name.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => current.extend(chars.next()),
                '.' => path.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        path.push(current);
        if path.iter().any(String::is_empty) {
            return Err(QueryError {
                at: at + 1,
                reason: format!("{name:?} has an empty name between dots"),
            });
        }
        Ok(match self.fields.iter().position(|f| *f == path) {
            Some(i) => i,
            None => {
                self.fields.push(path);
                self.fields.len() - 1
            }
        })
    }

    /// One value of `field`: a word (maybe with wildcards), a quoted
    /// value, a range or a comparison.
    fn value(&mut self, field: usize) -> Result<Expr, QueryError> {
        let test = match self.peek() {
            Some('[' | '{') => self.range()?,
            Some('>' | '<') => self.comparison()?,
            Some('"') => Test::Exact(self.quoted()?),
            Some(c) if c.is_whitespace() => {
                return Err(self.error("a value is missing after ':'"));
            }
            None => return Err(self.error("a value is missing after ':'")),
            Some('@') => {
                return Err(self.error(
                    "a value cannot start with @ (escape it as \\@); inside @field:( ) write values, not @field terms",
                ));
            }
            Some(_) => word_test(self.word()?),
        };
        Ok(Expr::Field { field, test })
    }

    /// A bare word as glob parts: unescaped `*` and `?` are wildcards.
    fn word(&mut self) -> Result<Vec<GlobPart>, QueryError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            self.pos += 1;
            let part = match c {
                '*' => GlobPart::AnyRun,
                '?' => GlobPart::AnyChar,
                '\\' => {
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("a '\\' at the end escapes nothing"))?;
                    self.pos += 1;
                    literal.push(escaped);
                    continue;
                }
                c => {
                    literal.push(c);
                    continue;
                }
            };
            if !literal.is_empty() {
                parts.push(GlobPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
        }
        if !literal.is_empty() {
            parts.push(GlobPart::Literal(literal));
        }
        if parts.is_empty() {
            return Err(self.error("a value is missing"));
        }
        Ok(parts)
    }

    fn quoted(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("a '\"' is not closed"));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(value);
                }
                Some('\\') if self.pos + 1 < self.chars.len() => {
                    value.push(self.chars[self.pos + 1]);
                    self.pos += 2;
                }
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `[a TO b]`, `{a TO b}`, or a mix; `*` leaves an end open.
    fn range(&mut self) -> Result<Test, QueryError> {
        let inclusive_low = self.peek() == Some('[');
        self.pos += 1;
        self.skip_space();
        let low = self.range_end(inclusive_low)?;
        self.skip_space();
        if !self.keyword("TO") {
            return Err(self.error("expected TO in the range, as in [400 TO 499]"));
        }
        self.skip_space();
        let end_at = self.pos;
        let mut text = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| !c.is_whitespace() && !matches!(c, ']' | '}'))
        {
            text.push(c);
            self.pos += 1;
        }
        self.skip_space();
        let inclusive_high = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(self.error("a range must end with ']' or '}'")),
        };
        self.pos += 1;
        let high = bound(&text, inclusive_high).ok_or(QueryError {
            at: end_at + 1,
            reason: format!("{text:?} is not a number or *"),
        })?;
        Ok(Test::Range { low, high })
    }

    fn range_end(&mut self, inclusive: bool) -> Result<Bound, QueryError> {
        let start = self.pos;
        let mut text = String::new();
        while let Some(c) = self.peek().filter(|c| !c.is_whitespace()) {
            text.push(c);
            self.pos += 1;
        }
        bound(&text, inclusive).ok_or(QueryError {
            at: start + 1,
            reason: format!("{text:?} is not a number or *"),
        })
    }

    fn comparison(&mut self) -> Result<Test, QueryError> {
        let greater = self.peek() == Some('>');
        self.pos += 1;
        let inclusive = self.take('=');
        let start = self.pos;
        let mut text = String::new();
        while let Some(c) = self.peek().filter(|&c| !ends_word(c)) {
            text.push(c);
            self.pos += 1;
        }
        let n = number(&text).ok_or(QueryError {
            at: start + 1,
            reason: format!("expected a number after the comparison, not {text:?}"),
        })?;
        let limit = if inclusive {
            Bound::Inclusive(n)
        } else {
            Bound::Exclusive(n)
        };
        Ok(if greater {
            Test::Range {
                low: limit,
                high: Bound::Open,
            }
        } else {
            Test::Range {
                low: Bound::Open,
                high: limit,
            }
        })
    }

    /// `CIDR(@field, net, ...)` after its `CIDR(`.
    /// `CIDR(@field, net, ...)` or `PUBLIC_IP(@field, net, ...)` after its
    /// `(`. `PUBLIC_IP`'s networks (none needed) count as internal too.
    fn network_call(&mut self, call: NetworkCall) -> Result<Expr, QueryError> {
        self.skip_space();
        let start = self.pos;
        let name = self.field_name(',')?;
        let field = self.field_index(&name, start)?;
        let mut nets = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(')') if !nets.is_empty() || call == NetworkCall::PublicIp => {
                    self.pos += 1;
                    let test = match call {
                        NetworkCall::Cidr => Test::Cidr(nets),
                        NetworkCall::PublicIp => Test::PublicIp(nets),
                    };
                    return Ok(Expr::Field { field, test });
                }
                Some(',') => self.pos += 1,
                _ => {
                    return Err(self.error(match call {
                        NetworkCall::Cidr => {
                            "expected CIDR(@field, net, ...), as in CIDR(@sourceIPs, 10.0.0.0/8)"
                        }
                        NetworkCall::PublicIp => {
                            "expected PUBLIC_IP(@field) or PUBLIC_IP(@field, internal net, ...), as in PUBLIC_IP(@sourceIPs)"
                        }
                    }));
                }
            }
            self.skip_space();
            let at = self.pos;
            let mut text = String::new();
            while let Some(c) = self
                .peek()
                .filter(|&c| !c.is_whitespace() && c != ',' && c != ')')
            {
                text.push(c);
                self.pos += 1;
            }
            nets.push(parse_net(&text).ok_or(QueryError {
                at: at + 1,
                reason: format!("{text:?} is not a network such as 10.0.0.0/8 or fc00::/7"),
            })?);
        }
    }
}

/// `name` with its escapes resolved, except `\.` and `\\`, which the
/// path split still needs.
fn plain_name(name: &str) -> String {
    let mut plain = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            plain.push(c);
            continue;
        }
        match chars.next() {
            Some(kept @ ('.' | '\\')) => {
                plain.push('\\');
                plain.push(kept);
            }
            Some(other) => plain.push(other),
            None => {}
        }
    }
    plain
}

fn word_test(parts: Vec<GlobPart>) -> Test {
    match parts.as_slice() {
        [GlobPart::AnyRun] => Test::Exists,
        [GlobPart::Literal(s)] => Test::Exact(s.clone()),
        [GlobPart::Literal(s), GlobPart::AnyRun] => Test::Prefix(s.clone()),
        _ => Test::Glob(parts),
    }
}

fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn bound(text: &str, inclusive: bool) -> Option<Bound> {
    if text == "*" {
        return Some(Bound::Open);
    }
    let n = number(text)?;
    Some(if inclusive {
        Bound::Inclusive(n)
    } else {
        Bound::Exclusive(n)
    })
}

/// `10.0.0.0/8`, `fc00::/7`, or one address.
pub(crate) fn parse_net(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match text.split_once('/') {
        Some((addr, bits)) => (addr.parse::<IpAddr>().ok()?, Some(bits.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

#[cfg(test)]
mod tests;
