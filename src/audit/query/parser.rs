//! The query text into an expression tree. The parser recurses, with a
//! bound on nesting so a hostile value cannot overflow the stack.

use super::network::parse_net;
use super::{
    ALIASES, AuditQuery, Bound, Expr, GlobPart, MAX_NESTING, QueryError, RESERVED, TAGS_MEMBER,
    Test, UNSUPPORTED, reserved_member,
};

impl std::str::FromStr for AuditQuery {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, QueryError> {
        parse(text, false)
    }
}

impl AuditQuery {
    /// A query in the dialect of detection rules, which search logs rather
    /// than audit events: besides `@field:value`, the reserved attributes
    /// (`source:kubernetes.audit`, `service:`, `host:`, `status:`), tags
    /// (`kube_cluster_name:prod`), and the attributes Datadog derives that
    /// have no single audit field (`@network.client.ip`,
    /// `@http.url_details.path`). The event they are matched against must
    /// carry those as [`super::LogContext`] members.
    pub fn parse_log_search(text: &str) -> Result<Self, QueryError> {
        parse(text, true)
    }
}

/// The path a field name stands for: `@usr.name` or `usr.name` (aliases
/// resolved), or, in the log search dialect, a reserved attribute such as
/// `host` without its `@`. Group-by fields and metrics are written so.
pub fn field_path(name: &str, log_search: bool) -> Result<Vec<String>, QueryError> {
    let at = |reason: String| QueryError { at: 1, reason };
    let name = name.trim();
    match name.strip_prefix('@') {
        None if log_search && RESERVED.contains(&name) => Ok(vec![reserved_member(name)]),
        None if log_search => Ok(split_path(name, log_search).map_err(at)?),
        None => Err(at(format!("{name:?} must start with @, as in @usr.name"))),
        Some(field) => split_path(field, log_search).map_err(at),
    }
}

fn parse(text: &str, log_search: bool) -> Result<AuditQuery, QueryError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
        fields: Vec::new(),
        log_search,
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
    /// The detection rules' dialect ([`AuditQuery::parse_log_search`]).
    log_search: bool,
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
        if self.log_search && self.peek() != Some('@') {
            return self.log_term();
        }
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

    /// `source:value`, `host:value`, ... or a tag `key:value`: a name
    /// without `@` in the log search dialect.
    fn log_term(&mut self) -> Result<Expr, QueryError> {
        let start = self.pos;
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == ':' || ends_word(c) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty() || !self.take(':') {
            self.pos = start;
            return Err(self.error(
                "expected @field:value, a reserved attribute (source:, service:, host:, status:) or a tag key:value (free-text search is not supported)",
            ));
        }
        if name == "status" {
            self.pos = start;
            return Err(self.error(
                "status: is not set on audit logs by this forwarder (Datadog's pipeline may set it); use @responseStatus.code or @http.status_code",
            ));
        }
        let path = if RESERVED.contains(&name.as_str()) {
            vec![reserved_member(&name)]
        } else {
            vec![TAGS_MEMBER.to_owned(), name]
        };
        let field = self.path_index(path);
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
        let path = split_path(name, self.log_search)
            .map_err(|reason| QueryError { at: at + 1, reason })?;
        Ok(self.path_index(path))
    }

    fn path_index(&mut self, path: Vec<String>) -> usize {
        match self.fields.iter().position(|f| *f == path) {
            Some(i) => i,
            None => {
                self.fields.push(path);
                self.fields.len() - 1
            }
        }
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

/// A field name (without `@`) into its path: aliases resolved, split on
/// unescaped dots. The derived attributes without an audit field are
/// refused, except in the log search dialect, whose events carry them.
fn split_path(name: &str, log_search: bool) -> Result<Vec<String>, String> {
    // Aliases and refused names compare as read: `\o` is `o`.
    let plain = plain_name(name);
    let name = plain.as_str();
    if let Some((derived, instead)) = UNSUPPORTED.iter().find(|(derived, _)| *derived == name) {
        if log_search {
            return Ok(vec![(*derived).to_owned()]);
        }
        return Err(format!(
            "@{name} is not a field of the audit event: use {instead}"
        ));
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
        return Err(format!("{name:?} has an empty name between dots"));
    }
    Ok(path)
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

pub(super) fn number(text: &str) -> Option<f64> {
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
