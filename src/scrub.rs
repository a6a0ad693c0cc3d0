//! The Datadog Forwarder's filtering and scrubbing, with its names and
//! meaning: `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH` (exclude wins),
//! `REDACT_IP`, `REDACT_EMAIL`, and `DD_SCRUBBING_RULE` with
//! `DD_SCRUBBING_RULE_REPLACEMENT`. All apply to the message as text.
//!
//! One difference: a message that is JSON (an audit event) stays valid
//! JSON with the same structure. A rule is applied to the whole text first
//! (so a rule such as `"password":"[^"]*"` works as it does there); if that
//! breaks the JSON or changes its keys, the rules are applied to each
//! string value of the event instead, so a rule that reaches across quotes
//! cannot corrupt the event.

use std::borrow::Cow;

use regex::Regex;
use serde_json::Value;

/// `INCLUDE_AT_MATCH` and `EXCLUDE_AT_MATCH`.
#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl MatchFilter {
    pub fn is_active(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    /// Whether the message goes on: it matches the include pattern (if
    /// any) and does not match the exclude pattern.
    pub fn keeps(&self, message: &str) -> bool {
        if self.exclude.as_ref().is_some_and(|r| r.is_match(message)) {
            return false;
        }
        self.include.as_ref().is_none_or(|r| r.is_match(message))
    }
}

/// One replacement rule.
#[derive(Debug, Clone)]
pub struct ScrubRule {
    pub pattern: Regex,
    pub replacement: String,
    /// Neither the pattern's matches nor the replacement can contain a
    /// JSON structural character, so applying it to the whole text keeps
    /// any JSON valid and its structure the same (the built-in rules).
    pub keeps_structure: bool,
}

/// What `REDACT_IP` replaces (IPv4 addresses), with the Datadog
/// Forwarder's replacement.
pub fn ip_rule() -> ScrubRule {
    ScrubRule {
        pattern: Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("a valid pattern"),
        replacement: "xxx.xxx.xxx.xxx".to_owned(),
        keeps_structure: true,
    }
}

/// What `REDACT_EMAIL` replaces.
pub fn email_rule() -> ScrubRule {
    ScrubRule {
        pattern: Regex::new(r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9.-]+")
            .expect("a valid pattern"),
        replacement: "xxxxx@xxxxx.com".to_owned(),
        keeps_structure: true,
    }
}

/// The replacement rules, in order.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    pub rules: Vec<ScrubRule>,
}

impl Scrubber {
    pub fn is_active(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The scrubbed message (text, not a JSON literal), or `None` when no
    /// rule matched.
    pub fn scrub(&self, message: &str) -> Option<String> {
        let is_object = message.starts_with('{');
        // In JSON text, an escape such as `\n` or `\u003c` ends in letters
        // and digits a built-in rule could match from
        // (`\u003cname@example.com` would lose its `u003c` and leave
        // `\x...`, no longer JSON) or that hide a word boundary
        // (`\n10.0.0.1`, which a search of the raw text misses). In such
        // events the built-in rules go value by value.
        let built_in_by_value =
            is_object && self.rules.iter().any(|r| r.keeps_structure) && has_letter_escape(message);
        if !built_in_by_value && !self.rules.iter().any(|r| r.pattern.is_match(message)) {
            return None;
        }
        if !is_object {
            return Some(self.apply(message, |_| true).into_owned());
        }
        let mut text = Cow::Borrowed(message);
        let mut changed = false;
        if built_in_by_value {
            if let Ok(mut event) = serde_json::from_str::<Value>(message)
                && self.apply_to_values(&mut event, |r| r.keeps_structure)
            {
                text = Cow::Owned(event.to_string());
                changed = true;
            }
        } else if let Cow::Owned(replaced) = self.apply(message, |r| r.keeps_structure) {
            text = Cow::Owned(replaced);
            changed = true;
        }
        if self.rules.iter().all(|r| r.keeps_structure) {
            return changed.then(|| text.into_owned());
        }
        // The user's rule, whole text first (so a rule such as
        // `"password":"[^"]*"` works as with the Datadog Forwarder), then
        // value by value if that broke the JSON or its keys.
        let whole = self.apply(&text, |r| !r.keeps_structure);
        let Cow::Owned(whole) = whole else {
            return changed.then(|| text.into_owned());
        };
        let Ok(mut event) = serde_json::from_str::<Value>(&text) else {
            return Some(whole);
        };
        if serde_json::from_str::<Value>(&whole).is_ok_and(|after| same_shape(&event, &after)) {
            return Some(whole);
        }
        if self.apply_to_values(&mut event, |r| !r.keeps_structure) || changed {
            return Some(event.to_string());
        }
        None
    }

    /// The rules `which` selects, in order, over `text`; borrowed when
    /// none matched.
    fn apply<'t>(&self, text: &'t str, which: impl Fn(&ScrubRule) -> bool) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for rule in self.rules.iter().filter(|r| which(r)) {
            if let Cow::Owned(replaced) = rule.pattern.replace_all(&out, rule.replacement.as_str())
            {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// The rules `which` selects, applied to each string value; whether
    /// any changed.
    fn apply_to_values(
        &self,
        value: &mut Value,
        which: impl Fn(&ScrubRule) -> bool + Copy,
    ) -> bool {
        match value {
            Value::String(s) => match self.apply(s, which) {
                Cow::Owned(replaced) => {
                    *s = replaced;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.apply_to_values(v, which) | changed),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |changed, v| self.apply_to_values(v, which) | changed),
            _ => false,
        }
    }
}

/// Whether JSON text holds an escape that ends in a letter or digit:
/// `\b`, `\f`, `\n`, `\r`, `\t` or `\uXXXX`.
fn has_letter_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(|&b| b == b'\\') {
        let next = bytes.get(i + at + 1).copied();
        if matches!(next, Some(b'b' | b'f' | b'n' | b'r' | b't' | b'u')) {
            return true;
        }
        // Skip the escaped character, so `\\n` is a backslash, then `n`.
        i += at + 2;
        if i >= bytes.len() {
            return false;
        }
    }
    false
}

/// The same keys at every level, and arrays of the same lengths.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_shape(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_shape(v, w))
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_wins_over_include() {
        let filter = MatchFilter {
            include: Some(Regex::new("verb\":\"(create|delete)").unwrap()),
            exclude: Some(Regex::new("system:node:").unwrap()),
        };
        assert!(filter.keeps(r#"{"verb":"create","user":{"username":"alice"}}"#));
        assert!(!filter.keeps(r#"{"verb":"get","user":{"username":"alice"}}"#));
        assert!(!filter.keeps(r#"{"verb":"create","user":{"username":"system:node:ip-1"}}"#));
        assert!(MatchFilter::default().keeps("anything"));
    }

    #[test]
    fn ips_and_emails_are_replaced_and_json_stays_json() {
        let scrubber = Scrubber {
            rules: vec![ip_rule(), email_rule()],
        };
        let event = r#"{"sourceIPs":["198.51.100.23"],"user":{"username":"élodie@example.com"},"note":"from 10.0.0.1 ✓"}"#;
        let out = scrubber.scrub(event).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["sourceIPs"][0], "xxx.xxx.xxx.xxx");
        // The pattern is ASCII, as the Datadog Forwarder's is.
        assert_eq!(v["user"]["username"], "éxxxxx@xxxxx.com");
        assert_eq!(v["note"], "from xxx.xxx.xxx.xxx ✓");
        assert!(scrubber.scrub(r#"{"verb":"get"}"#).is_none());
        assert_eq!(
            scrubber.scrub("plain 192.0.2.1 text").unwrap(),
            "plain xxx.xxx.xxx.xxx text"
        );
    }

    /// Review finding: the built-in rules matched from inside escapes
    /// (`\u003c` is how the API server writes `<`), leaving invalid JSON,
    /// and missed addresses right after `\n`.
    #[test]
    fn escapes_are_never_cut_and_hide_nothing() {
        let scrubber = Scrubber {
            rules: vec![ip_rule(), email_rule()],
        };
        let event = r#"{"from":"Ops \u003cops@example.com\u003e","hosts":"a\n10.1.2.3\tb","path":"C:\\new"}"#;
        let out = scrubber.scrub(event).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["from"], "Ops <xxxxx@xxxxx.com>");
        assert_eq!(v["hosts"], "a\nxxx.xxx.xxx.xxx\tb");
        assert_eq!(v["path"], "C:\\new");
        assert!(has_letter_escape(r#""a\u0041""#));
        // An address right after an escape is found even when nothing else
        // in the raw text matches.
        let only = r#"{"sourceIPs":["2600:1f18::1"],"hosts":"a\n10.1.2.3"}"#;
        let v: Value = serde_json::from_str(&scrubber.scrub(only).unwrap()).unwrap();
        assert_eq!(v["hosts"], "a\nxxx.xxx.xxx.xxx");
        // Nothing to replace: no change reported, though the text was read.
        assert!(scrubber.scrub(r#"{"note":"a\nb"}"#).is_none());
        // A user's rule written against the JSON text still works on an
        // event with escapes (the API server writes & as \u0026).
        let custom = Scrubber {
            rules: vec![
                ip_rule(),
                ScrubRule {
                    pattern: Regex::new(r#""password":"[^"]*""#).unwrap(),
                    replacement: r#""password":"xxxxx""#.to_owned(),
                    keeps_structure: false,
                },
            ],
        };
        let out = custom
            .scrub(r#"{"requestURI":"/x?a=1\u0026b=2","requestObject":{"password":"hunter2"},"ip":"a\n10.0.0.9"}"#)
            .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["requestObject"]["password"], "xxxxx");
        assert_eq!(v["ip"], "a\nxxx.xxx.xxx.xxx");
        assert_eq!(v["requestURI"], "/x?a=1&b=2");
        assert!(!has_letter_escape(r#""C:\\new \"q\" \/""#));
    }

    #[test]
    fn a_rule_that_would_break_the_json_is_applied_per_value() {
        // Reaches across the closing quote: on the whole text it would eat
        // the structure.
        let scrubber = Scrubber {
            rules: vec![ScrubRule {
                pattern: Regex::new(r#"token=[^ ]*"#).unwrap(),
                replacement: "token=xxxxx".to_owned(),
                keeps_structure: false,
            }],
        };
        let event = r#"{"requestURI":"/x?token=abc","next":"y token=def z"}"#;
        let out = scrubber.scrub(event).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["requestURI"], "/x?token=xxxxx");
        assert_eq!(v["next"], "y token=xxxxx z");

        // A rule written against the JSON text works on the whole text.
        let scrubber = Scrubber {
            rules: vec![ScrubRule {
                pattern: Regex::new(r#""password":"[^"]*""#).unwrap(),
                replacement: r#""password":"xxxxx""#.to_owned(),
                keeps_structure: false,
            }],
        };
        let out = scrubber
            .scrub(r#"{"requestObject":{"password":"hunter2","user":"a"}}"#)
            .unwrap();
        assert_eq!(out, r#"{"requestObject":{"password":"xxxxx","user":"a"}}"#);
    }
}
