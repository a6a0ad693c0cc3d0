//! Matching a parsed query against one audit event: its top-level members
//! are split once, and a field path is followed into nested values only
//! when a query asks for it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use serde_json::value::RawValue;

use super::network::{in_net, leaf_ip, non_public_nets};
use super::parser::number;
use super::{AuditQuery, Bound, Expr, GlobPart, Test};
use crate::json::{Members, string_value};

/// The values of the fields the queries of one filter read, for one
/// event: queries that share a field table ([`AuditQuery::share_fields`])
/// look each field up once per event, whichever of them reads it first.
#[derive(Default)]
pub(crate) struct FieldCache<'a>(Vec<Option<Vec<Leaf<'a>>>>);

impl AuditQuery {
    /// Whether `event` matches.
    pub fn matches(&self, event: &AuditEvent<'_>) -> bool {
        self.matches_cached(event, &mut FieldCache::default())
    }

    /// Whether `event` matches, with the field values `cache` holds for it
    /// already (from queries that share this one's field table).
    pub(crate) fn matches_cached<'a>(
        &self,
        event: &AuditEvent<'a>,
        cache: &mut FieldCache<'a>,
    ) -> bool {
        if cache.0.len() < self.fields.len() {
            cache.0.resize(self.fields.len(), None);
        }
        self.eval(&self.root, event, &mut cache.0)
    }

    /// Numbers this query's fields as they stand in `table`, adding the
    /// ones it lacks, so that queries sharing the table can share one
    /// [`FieldCache`] per event.
    pub(crate) fn share_fields(&mut self, table: &mut Vec<Vec<String>>) {
        let shared: Vec<usize> = self
            .fields
            .iter()
            .map(|path| {
                table.iter().position(|p| p == path).unwrap_or_else(|| {
                    table.push(path.clone());
                    table.len() - 1
                })
            })
            .collect();
        renumber(&mut self.root, &shared);
        self.fields = table.clone();
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

fn renumber(expr: &mut Expr, shared: &[usize]) {
    match expr {
        Expr::All(exprs) | Expr::Any(exprs) => {
            exprs.iter_mut().for_each(|e| renumber(e, shared));
        }
        Expr::Not(inner) => renumber(inner, shared),
        Expr::Field { field, .. } => *field = shared[*field],
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

/// `*` and `?` wildcards over characters. Only the last `*` seen is ever
/// backtracked to, so the cost stays linear in practice.
pub(super) fn glob_matches(parts: &[GlobPart], text: &str) -> bool {
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

/// An object's members: keys unescaped, values as JSON text.
type SplitObject<'a> = [(Cow<'a, str>, &'a str)];

/// One audit event, read for queries: its top-level members are split
/// once; nested fields are parsed when a query asks for them.
pub struct AuditEvent<'a> {
    /// Keys unescaped, values as JSON text.
    members: Vec<(Cow<'a, str>, &'a str)>,
    /// Nested objects already split, by where their text starts: every
    /// query, and every field of one, reads `user` or `objectRef` once.
    nested: RefCell<Vec<(usize, Rc<SplitObject<'a>>)>>,
}

impl<'a> AuditEvent<'a> {
    /// `None` when `text` is not a JSON object.
    pub fn parse(text: &'a str) -> Option<Self> {
        let members = Members::of(text)?;
        Some(Self::from_members(
            members.0.into_iter().map(|(k, v)| (k, v.get())).collect(),
        ))
    }

    /// An audit event, split already, with the members of its log (a
    /// JSON object from [`super::LogContext::members`]) after its own;
    /// `None` when `log` is not a JSON object.
    pub(crate) fn with_log(event: Members<'a>, log: &'a str) -> Option<Self> {
        let mut members = event.0;
        members.extend(Members::of(log)?.0);
        Some(Self::from_members(
            members.into_iter().map(|(k, v)| (k, v.get())).collect(),
        ))
    }

    /// The values `path` ([`super::field_path`]) leads to, as text:
    /// strings unescaped, numbers and booleans as written; objects and
    /// lists inside lists are left out.
    pub fn values(&self, path: &[String]) -> Vec<Cow<'a, str>> {
        self.leaves(path)
            .into_iter()
            .filter_map(|leaf| match leaf {
                Leaf::Text(text) => Some(text),
                Leaf::Scalar(raw) => Some(Cow::Borrowed(raw)),
                Leaf::Composite => None,
            })
            .collect()
    }

    /// From members already split (keys unescaped, values as JSON text).
    pub fn from_members(members: Vec<(Cow<'a, str>, &'a str)>) -> Self {
        Self {
            members,
            nested: RefCell::default(),
        }
    }

    /// The JSON text of the top-level member `name`: the last one, as
    /// serde_json and the intake read duplicates.
    pub fn member(&self, name: &str) -> Option<&'a str> {
        self.members
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| *value)
    }

    fn leaves(&self, path: &[String]) -> Vec<Leaf<'a>> {
        let mut out = Vec::new();
        self.collect_members(&self.members, path, &mut out);
        out
    }

    /// The members of the nested object `text`, split the first time.
    fn split(&self, text: &'a str) -> Option<Rc<SplitObject<'a>>> {
        let at = text.as_ptr() as usize;
        if let Some((_, split)) = self.nested.borrow().iter().find(|(a, _)| *a == at) {
            return Some(Rc::clone(split));
        }
        let Members(members) = Members::of(text)?;
        let split: Rc<SplitObject<'a>> = members.into_iter().map(|(k, v)| (k, v.get())).collect();
        self.nested.borrow_mut().push((at, Rc::clone(&split)));
        Some(split)
    }

    fn collect_members(
        &self,
        members: &[(Cow<'a, str>, &'a str)],
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
                    self.collect_value(value, &path[used + 1..], out);
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
    fn collect_value(&self, raw: &'a str, path: &[String], out: &mut Vec<Leaf<'a>>) {
        if raw.starts_with('[') {
            if let Ok(items) = serde_json::from_str::<Vec<&'a RawValue>>(raw) {
                for item in items.into_iter().map(RawValue::get) {
                    if item.starts_with('[') {
                        if path.is_empty() {
                            out.push(Leaf::Composite);
                        }
                    } else {
                        self.collect_single(item, path, out);
                    }
                }
            }
            return;
        }
        self.collect_single(raw, path, out);
    }

    fn collect_single(&self, text: &'a str, path: &[String], out: &mut Vec<Leaf<'a>>) {
        match text.as_bytes().first() {
            Some(b'{') if path.is_empty() => out.push(Leaf::Composite),
            Some(b'{') => {
                if let Some(members) = self.split(text) {
                    self.collect_members(&members, path, out);
                }
            }
            _ if !path.is_empty() => {}
            Some(b'"') => {
                if let Some(s) = string_value(text) {
                    out.push(Leaf::Text(s));
                }
            }
            Some(b'n') | None => {}
            Some(_) => out.push(Leaf::Scalar(text)),
        }
    }
}
