//! The Datadog Forwarder's filtering and scrubbing, with its names and
//! meaning: `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH` (exclude wins) on the
//! message as text, then `REDACT_IP`, `REDACT_EMAIL` and `DD_SCRUBBING_RULE`
//! (with `DD_SCRUBBING_RULE_REPLACEMENT`), in that order.
//!
//! `DD_SCRUBBING_RULE` applies where the Datadog Forwarder (v5) applies it:
//! to the message as it stands in the serialised log, a JSON string whose
//! quotes are `\"` and whose newlines are `\n`. A rule written for it works
//! unchanged here, and its Python replacement syntax (`\1`, `\g<name>`) is
//! translated. A result that is no longer a valid JSON string (the Forwarder
//! would send a body the intake rejects, losing the batch) is withheld,
//! counted and logged instead.
//!
//! `REDACT_IP` and `REDACT_EMAIL` use the Forwarder's patterns and
//! replacements, but on the decoded text, so an audit event stays valid
//! JSON with the same structure: in an event holding an escape that ends in
//! a letter or digit (`\n`, `\u0026`), they go string by string, each
//! decoded, since a pattern could match from inside the escape. That needs
//! no tree, so no nesting, number or surrogate can make them skip an event.

use std::borrow::Cow;

use regex::Regex;

use super::{AuditMessage, AuditRule, AuditTally, EventRef, Step};
use crate::json::{
    decode_literal, encode_literal, encode_with_placeholders, has_letter_escape, is_json_string,
    rewrite_strings,
};

/// A built-in replacement rule: neither its matches nor its replacement
/// contain a JSON structural character, so applying it to a JSON text
/// keeps the JSON valid and its structure the same.
#[derive(Debug, Clone)]
pub struct ScrubRule {
    pub pattern: Regex,
    pub replacement: &'static str,
}

/// What `REDACT_IP` replaces (IPv4 addresses): the Datadog Forwarder's
/// pattern and replacement.
pub fn ip_rule() -> ScrubRule {
    ScrubRule {
        pattern: Regex::new(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}").expect("a valid pattern"),
        replacement: "xxx.xxx.xxx.xxx",
    }
}

/// What `REDACT_EMAIL` replaces: the Datadog Forwarder's pattern and
/// replacement.
pub fn email_rule() -> ScrubRule {
    ScrubRule {
        pattern: Regex::new(r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9.-]+")
            .expect("a valid pattern"),
        replacement: "xxxxx@xxxxx.com",
    }
}

/// `DD_SCRUBBING_RULE` and its replacement, ready for the regex crate.
#[derive(Debug, Clone)]
pub struct SerializedRule {
    pattern: Regex,
    replacement: String,
}

impl SerializedRule {
    /// `replacement` is in Python's `re.sub` syntax, as the Datadog
    /// Forwarder takes it; the reason it is refused, if it is.
    pub fn new(pattern: Regex, replacement: &str) -> Result<Self, &'static str> {
        let replacement = replacement_from_python(&pattern, replacement)?;
        Ok(Self {
            pattern,
            replacement,
        })
    }

    /// The rule on `message_json` (a JSON string, quotes included) as the
    /// Forwarder serialises it.
    fn apply(&self, message_json: &str) -> RuleOutcome {
        // Python's json.dumps(ensure_ascii=False) escapes exactly what
        // serde_json escapes (quote, backslash, control characters, with
        // \b \f \n \r \t and lower-case \u00xx), so writing the decoded
        // text again gives the Forwarder's form byte for byte, whatever
        // escapes CloudWatch chose. A literal that cannot be decoded (a
        // lone surrogate) is taken as it is.
        let forwarder_form = match decode_literal(message_json) {
            Some(decoded) if decoded.placeholders => {
                Cow::Owned(encode_with_placeholders(&decoded.text))
            }
            Some(decoded) if !decoded.lossy => Cow::Owned(encode_literal(&decoded.text)),
            _ => Cow::Borrowed(message_json),
        };
        match self
            .pattern
            .replace_all(&forwarder_form, self.replacement.as_str())
        {
            Cow::Borrowed(_) => RuleOutcome::Unchanged,
            Cow::Owned(out) if is_json_string(&out) => RuleOutcome::Replaced(out),
            Cow::Owned(_) => RuleOutcome::Broken,
        }
    }

    /// Whether the pattern holds a `"` that is not written as the
    /// serialised form's `\\"`: in the serialised message a quote always
    /// follows a backslash, but at its two ends, so such a rule (one
    /// written for the decoded text) matches nothing in the middle.
    pub fn has_bare_quote(&self) -> bool {
        let source = self.pattern.as_str();
        source
            .match_indices('"')
            .any(|(at, _)| !source[..at].ends_with(r"\\"))
    }
}

enum RuleOutcome {
    Unchanged,
    Replaced(String),
    Broken,
}

/// What replaces a message that `DD_SCRUBBING_RULE` left unreadable.
pub const WITHHELD_BY_RULE: &str =
    "[WITHHELD by eks-audit-forwarder: DD_SCRUBBING_RULE left the message an invalid JSON string]";

/// What scrubbing did to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scrubbed {
    Unchanged,
    /// The new message, a JSON string, quotes included.
    Changed(String),
    /// The rule broke the message's JSON string: [`WITHHELD_BY_RULE`],
    /// as a JSON string, goes in its place.
    Withheld(String),
}

/// `REDACT_IP`, `REDACT_EMAIL` (in `rules`, in that order) and
/// `DD_SCRUBBING_RULE`.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    pub rules: Vec<ScrubRule>,
    pub serialized: Option<SerializedRule>,
}

impl Scrubber {
    pub fn is_active(&self) -> bool {
        !self.rules.is_empty() || self.serialized.is_some()
    }

    /// Every rule on `message_json`, a JSON string, quotes included.
    pub fn scrub_message(&self, message_json: &str) -> Scrubbed {
        let mut message = AuditMessage::new(message_json);
        let mut tally = AuditTally::default();
        let at = EventRef {
            request_id: "",
            event_id: "",
        };
        self.apply(&mut message, at, &mut tally);
        match (tally.logs_withheld, tally.logs_scrubbed) {
            (0, 0) => Scrubbed::Unchanged,
            (0, _) => Scrubbed::Changed(message.literal().into_owned()),
            _ => Scrubbed::Withheld(message.literal().into_owned()),
        }
    }

    /// The built-in rules on the message text (not a JSON literal), or
    /// `None` when none matched.
    pub fn scrub(&self, message: &str) -> Option<String> {
        // In JSON text, an escape such as `\n` or `\u003c` ends in letters
        // and digits a rule could match from (`\u003cname@example.com`
        // would lose its `u003c` and leave `\x...`, no longer JSON). In
        // such text the rules go string by string, each decoded.
        let scrubbed = if (message.starts_with('{') || message.starts_with('['))
            && has_letter_escape(message)
        {
            rewrite_strings(message, |s| self.apply_rules(s))
        } else {
            self.apply_rules(message)
        };
        match scrubbed {
            Cow::Owned(replaced) => Some(replaced),
            Cow::Borrowed(_) => None,
        }
    }

    /// The rules, in order, over `text`; borrowed when none matched.
    fn apply_rules<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for rule in &self.rules {
            if let Cow::Owned(replaced) = rule.pattern.replace_all(&out, rule.replacement) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

impl AuditRule for Scrubber {
    fn apply(
        &self,
        message: &mut AuditMessage<'_>,
        at: EventRef<'_>,
        tally: &mut AuditTally,
    ) -> Step {
        let mut changed = false;
        if !self.rules.is_empty()
            && let Some(scrubbed) = self.scrub(message.text())
        {
            message.set_text(scrubbed);
            changed = true;
        }
        if let Some(rule) = &self.serialized {
            match rule.apply(&message.literal()) {
                RuleOutcome::Unchanged => {}
                RuleOutcome::Replaced(literal) => {
                    message.set_literal(&literal);
                    changed = true;
                }
                RuleOutcome::Broken => {
                    message.set_literal(&encode_literal(WITHHELD_BY_RULE));
                    changed = true;
                    tally.logs_withheld += 1;
                    tracing::warn!(
                        request_id = %at.request_id,
                        event_id = %at.event_id,
                        "DD_SCRUBBING_RULE left a message that is no longer a valid JSON string: it was withheld, a marker sent in its place"
                    );
                }
            }
        }
        if changed {
            tally.logs_scrubbed += 1;
        }
        Step::Continue
    }
}

/// A replacement in Python's `re.sub` syntax, as the regex crate writes
/// it: `\1` and `\g<1>` become `${1}`, `\g<name>` `${name}`, `\n` and
/// the other letter escapes their character, `\\` a backslash, and `$` is
/// literal. Python's errors are kept: an unknown letter escape, a dangling
/// backslash and a group the pattern does not have.
fn replacement_from_python(pattern: &Regex, text: &str) -> Result<String, &'static str> {
    let groups = pattern.captures_len();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                None => return Err("a replacement cannot end in a lone backslash"),
                Some(d @ '1'..='9') => {
                    let mut digits = vec![d];
                    if let Some(e) = chars.next_if(char::is_ascii_digit) {
                        digits.push(e);
                        // Three octal digits are a character (\101 is A),
                        // as in Python; two digits at most name a group.
                        if let Some(f) = chars.next_if(|f| ('0'..='7').contains(f)) {
                            digits.push(f);
                        }
                    }
                    if digits.len() == 3 {
                        if !digits.iter().all(|c| ('0'..='7').contains(c)) {
                            return Err("the replacement holds an invalid octal escape");
                        }
                        let code = digits
                            .iter()
                            .fold(0, |n, c| n * 8 + c.to_digit(8).unwrap_or(0));
                        if code > 0o377 {
                            return Err("the replacement holds an octal escape above \\377");
                        }
                        out.extend(char::from_u32(code));
                    } else {
                        let number: usize = digits
                            .iter()
                            .fold(0, |n, c| n * 10 + c.to_digit(10).unwrap_or(0) as usize);
                        if number >= groups {
                            return Err("the replacement names a group the pattern does not have");
                        }
                        out.push_str(&format!("${{{number}}}"));
                    }
                }
                Some('0') => {
                    // Python: \0 starts an octal escape of up to 3 digits.
                    let mut code = 0u32;
                    for _ in 0..2 {
                        match chars.peek().and_then(|e| e.to_digit(8)) {
                            Some(d) => {
                                code = code * 8 + d;
                                chars.next();
                            }
                            None => break,
                        }
                    }
                    out.extend(char::from_u32(code));
                }
                Some('g') => {
                    if chars.next() != Some('<') {
                        return Err("expected \\g<name> or \\g<number> in the replacement");
                    }
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('>') => break,
                            Some(e) => name.push(e),
                            None => return Err("the replacement's \\g<...> has no closing >"),
                        }
                    }
                    let known = match name.parse::<usize>() {
                        Ok(n) => n < groups,
                        Err(_) => pattern.capture_names().flatten().any(|n| n == name),
                    };
                    if name.is_empty() || !known {
                        return Err("the replacement names a group the pattern does not have");
                    }
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('f') => out.push('\u{c}'),
                Some('v') => out.push('\u{b}'),
                Some('a') => out.push('\u{7}'),
                Some('b') => out.push('\u{8}'),
                Some('\\') => out.push('\\'),
                Some(e) if e.is_ascii_alphabetic() => {
                    return Err(
                        "the replacement holds an unknown escape (a backslash and a letter)",
                    );
                }
                // Python keeps other escapes as they are.
                Some('$') => out.push_str("\\$$"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
