//! A case's condition: comparisons of query results with numbers, joined
//! by `&&` and `||` (`a > 10`, `a > 3 && b > 0`), as Datadog's rule cases
//! write them. `&&` binds tighter than `||`; parentheses group. As
//! Datadog's documentation of threshold rules says, the query's name comes
//! first: `a > 3`, never `3 < a`.

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A query's result against a number.
    Compare {
        query: String,
        op: Comparison,
        number: f64,
    },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Equal,
    NotEqual,
}

/// Why a condition could not be read, at which character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub at: usize,
    pub expected: &'static str,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} at character {}", self.expected, self.at + 1)
    }
}

/// Longer than any real condition; with [`MAX_DEPTH`], it bounds the
/// recursion of parsing, evaluating and dropping a crafted one.
pub const MAX_CONDITION_CHARS: usize = 1_024;
/// Parentheses nested deeper than this are refused.
pub const MAX_DEPTH: usize = 16;

impl Condition {
    pub fn parse(text: &str) -> Result<Self, ConditionError> {
        if text.len() > MAX_CONDITION_CHARS {
            return Err(ConditionError {
                at: MAX_CONDITION_CHARS,
                expected: "the end (a condition is at most 1,024 characters)",
            });
        }
        let mut parser = Parser {
            text,
            at: 0,
            depth: 0,
        };
        let condition = parser.or()?;
        parser.skip_space();
        if parser.at < text.len() {
            return Err(parser.error("&&, || or the end"));
        }
        Ok(condition)
    }

    /// The query names the condition reads, in order of appearance.
    pub fn query_names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_names(&mut names);
        names
    }

    fn collect_names<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            Condition::Compare { query, .. } => names.push(query),
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.collect_names(names);
                b.collect_names(names);
            }
        }
    }

    /// Whether the condition holds, with each query's result from `value`.
    pub fn holds(&self, value: &impl Fn(&str) -> f64) -> bool {
        match self {
            Condition::Compare { query, op, number } => {
                let (l, r) = (value(query), *number);
                match op {
                    Comparison::Greater => l > r,
                    Comparison::GreaterOrEqual => l >= r,
                    Comparison::Less => l < r,
                    Comparison::LessOrEqual => l <= r,
                    Comparison::Equal => l == r,
                    Comparison::NotEqual => l != r,
                }
            }
            Condition::And(a, b) => a.holds(value) && b.holds(value),
            Condition::Or(a, b) => a.holds(value) || b.holds(value),
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &'static str) -> ConditionError {
        ConditionError {
            at: self.at,
            expected,
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.term()?;
        while self.eat("&&") {
            left = Condition::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Condition, ConditionError> {
        if self.eat("(") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.error("fewer nested parentheses (at most 16)"));
            }
            let inner = self.or()?;
            self.depth -= 1;
            if !self.eat(")") {
                return Err(self.error(")"));
            }
            return Ok(inner);
        }
        let query = self.query_name()?;
        let op = self.comparison()?;
        let number = self.number()?;
        Ok(Condition::Compare { query, op, number })
    }

    fn comparison(&mut self) -> Result<Comparison, ConditionError> {
        // Two-character operators first.
        for (token, op) in [
            (">=", Comparison::GreaterOrEqual),
            ("<=", Comparison::LessOrEqual),
            ("==", Comparison::Equal),
            ("!=", Comparison::NotEqual),
            (">", Comparison::Greater),
            ("<", Comparison::Less),
        ] {
            if self.eat(token) {
                return Ok(op);
            }
        }
        Err(self.error("a comparison (>, >=, <, <=, ==, !=)"))
    }

    fn query_name(&mut self) -> Result<String, ConditionError> {
        self.skip_space();
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 || rest.as_bytes()[0].is_ascii_digit() {
            return Err(self.error("a query name (it comes before the comparison)"));
        }
        let name = rest[..len].to_owned();
        self.at += len;
        Ok(name)
    }

    fn number(&mut self) -> Result<f64, ConditionError> {
        self.skip_space();
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = rest[..len]
            .parse::<f64>()
            .map_err(|_| self.error("a number"))?;
        self.at += len;
        Ok(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_hold_as_written() {
        let c = Condition::parse("a > 3 && b > 0 || c >= 10").unwrap();
        assert_eq!(c.query_names(), ["a", "b", "c"]);
        let values = |a: f64, b: f64, cc: f64| {
            move |name: &str| match name {
                "a" => a,
                "b" => b,
                _ => cc,
            }
        };
        assert!(c.holds(&values(4.0, 1.0, 0.0)));
        assert!(!c.holds(&values(4.0, 0.0, 0.0)));
        assert!(c.holds(&values(0.0, 0.0, 10.0)));
        // Parentheses change the grouping.
        let grouped = Condition::parse("a > 3 && (b > 0 || c >= 10)").unwrap();
        assert!(!grouped.holds(&values(0.0, 0.0, 10.0)));
        assert!(grouped.holds(&values(4.0, 0.0, 10.0)));
        for (text, ok) in [
            ("failed_logins >= 2.5", true),
            ("a != 0", true),
            ("a <= 1", true),
            ("a < 1", true),
            // The query's name comes first, and is compared with a number.
            ("3 < a", false),
            ("a == b", false),
        ] {
            assert_eq!(Condition::parse(text).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn bad_conditions_say_where() {
        for (text, at) in [
            ("a >", 3),
            ("a 10", 2),
            ("> 1", 0),
            ("a > 1 &&", 8),
            ("(a > 1", 6),
            ("a > 1 b", 6),
            ("a > 1.2.3", 4),
            ("3 < a", 0),
            ("a == b", 5),
        ] {
            let e = Condition::parse(text).unwrap_err();
            assert_eq!(e.at, at, "{text}: {e}");
        }
    }

    /// A crafted condition is refused, never a stack overflow: nesting
    /// and length are bounded.
    #[test]
    fn deep_or_long_conditions_are_refused() {
        let deep = format!("{}a > 0{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Condition::parse(&deep).is_err());
        let nested = format!("{}a > 0{}", "(".repeat(16), ")".repeat(16));
        assert!(Condition::parse(&nested).is_ok());
        let too_deep = format!("{}a > 0{}", "(".repeat(17), ")".repeat(17));
        assert!(Condition::parse(&too_deep).is_err());
        let long = vec!["a > 0"; 200_000].join(" && ");
        assert!(Condition::parse(&long).is_err());
        let chain = vec!["a > 0"; 100].join(" && ");
        assert!(Condition::parse(&chain).unwrap().holds(&|_| 1.0));
    }
}
