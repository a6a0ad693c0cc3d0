//! One event's message on its way through the audit rules: decoded from
//! the JSON string CloudWatch delivered once, its top-level members split
//! once, and encoded again only if a rule changed it.

use std::borrow::Cow;
use std::ops::Range;

use super::query::AuditEvent;
use crate::json::{DecodedText, Members, decode_literal, encode_literal, encode_with_placeholders};

/// Where one top-level member sits in the decoded text.
#[derive(Debug, Clone)]
struct MemberSpan {
    /// The key, when it held an escape (so it is not a slice of the text).
    unescaped_key: Option<String>,
    key: Range<usize>,
    value: Range<usize>,
}

/// The members of the current text, read at most once per version of it.
#[derive(Debug, Clone)]
enum Split {
    NotYet,
    /// Not a JSON object (plain text, or JSON cut short).
    NotAnObject,
    Members(Vec<MemberSpan>),
}

/// A message as the rules see it.
#[derive(Debug)]
pub struct AuditMessage<'m> {
    /// As delivered: a JSON string literal, quotes included.
    delivered: &'m str,
    /// The decoded text, once a rule asked for it.
    text: Option<Cow<'m, str>>,
    /// Lone surrogates stand as placeholders in the text, to be written
    /// back as escapes.
    placeholders: bool,
    /// A lone surrogate was replaced by U+FFFD while decoding.
    lossy: bool,
    /// A rule replaced the text: the literal must be written again.
    changed: bool,
    split: Split,
    /// The SIEM attributes, each as `,"name":value`.
    pub(crate) attributes: String,
}

impl<'m> AuditMessage<'m> {
    pub fn new(delivered: &'m str) -> Self {
        Self {
            delivered,
            text: None,
            placeholders: false,
            lossy: false,
            changed: false,
            split: Split::NotYet,
            attributes: String::new(),
        }
    }

    /// The message as delivered, for cheap tests on its raw text.
    pub fn delivered(&self) -> &'m str {
        self.delivered
    }

    /// Whether the message could be an audit event (a JSON object), by
    /// its first bytes only.
    pub fn looks_like_event(&self) -> bool {
        match &self.text {
            Some(text) => text.starts_with('{'),
            None => self.delivered.starts_with("\"{"),
        }
    }

    /// The decoded text. A literal that is not even a JSON string (the
    /// decoder only hands out valid ones) is taken as its own text.
    pub fn text(&mut self) -> &str {
        if self.text.is_none() {
            let decoded = decode_literal(self.delivered).unwrap_or(DecodedText {
                text: Cow::Borrowed(self.delivered),
                placeholders: false,
                lossy: true,
            });
            self.placeholders = decoded.placeholders;
            self.lossy = decoded.lossy;
            self.text = Some(decoded.text);
        }
        self.text.as_deref().unwrap_or_default()
    }

    /// Whether decoding replaced something (a lone surrogate): a changed
    /// message then goes out with U+FFFD in its place.
    pub fn is_lossy(&mut self) -> bool {
        self.text();
        self.lossy
    }

    /// Replaces the text (a rule rewrote it).
    pub fn set_text(&mut self, text: String) {
        self.text = Some(Cow::Owned(text));
        self.changed = true;
        self.split = Split::NotYet;
    }

    /// Replaces the message with a literal (a rule on the serialised form
    /// rewrote it).
    pub fn set_literal(&mut self, literal: &str) {
        let decoded = decode_literal(literal).map_or_else(
            || literal.to_owned(),
            |d| {
                self.placeholders = d.placeholders;
                self.lossy |= d.lossy;
                d.text.into_owned()
            },
        );
        self.set_text(decoded);
    }

    /// The message as a JSON string literal: as delivered unless a rule
    /// changed it.
    pub fn literal(&self) -> Cow<'m, str> {
        match &self.text {
            Some(text) if self.changed && self.placeholders => {
                Cow::Owned(encode_with_placeholders(text))
            }
            Some(text) if self.changed => Cow::Owned(encode_literal(text)),
            _ => Cow::Borrowed(self.delivered),
        }
    }

    /// The event's top-level members for queries, or `None` when the
    /// message is not a JSON object. Split once per version of the text.
    pub fn event(&mut self) -> Option<AuditEvent<'_>> {
        if !self.looks_like_event() {
            return None;
        }
        if matches!(self.split, Split::NotYet) {
            let text = self.text();
            let base = text.as_ptr() as usize;
            let offset = |s: &str| s.as_ptr() as usize - base;
            self.split = match Members::of(text) {
                Some(Members(members)) => Split::Members(
                    members
                        .iter()
                        .map(|(key, value)| {
                            let (unescaped_key, key) = match key {
                                Cow::Borrowed(k) => (None, offset(k)..offset(k) + k.len()),
                                Cow::Owned(k) => (Some(k.clone()), 0..0),
                            };
                            let start = offset(value.get());
                            MemberSpan {
                                unescaped_key,
                                key,
                                value: start..start + value.get().len(),
                            }
                        })
                        .collect(),
                ),
                None => Split::NotAnObject,
            };
        }
        let Split::Members(spans) = &self.split else {
            return None;
        };
        let text = self.text.as_deref()?;
        Some(AuditEvent::from_members(
            spans
                .iter()
                .map(|span| {
                    let key = match &span.unescaped_key {
                        Some(k) => Cow::Owned(k.clone()),
                        None => Cow::Borrowed(&text[span.key.clone()]),
                    };
                    (key, &text[span.value.clone()])
                })
                .collect(),
        ))
    }

    /// The attributes the SIEM rule wrote.
    pub fn attributes(&self) -> &str {
        &self.attributes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_message_goes_as_delivered() {
        let delivered = r#""{\"verb\":\"get\",\"x\":\"a\\u0026b\"}""#;
        let mut m = AuditMessage::new(delivered);
        assert_eq!(m.text(), r#"{"verb":"get","x":"a\u0026b"}"#);
        assert!(m.event().is_some());
        assert!(matches!(m.literal(), Cow::Borrowed(d) if d == delivered));
        m.set_text(r#"{"verb":"list"}"#.to_owned());
        assert_eq!(m.literal(), r#""{\"verb\":\"list\"}""#);
    }

    /// Review finding: a real character of the placeholders' range went
    /// out as a lone surrogate escape once a rule changed the message.
    #[test]
    fn a_real_character_of_the_placeholder_range_stays_real() {
        let delivered = format!(r#""{{\"a\":\"{}\",\"s\":\"x\ud800\"}}""#, '\u{f0000}');
        let mut m = AuditMessage::new(&delivered);
        let changed = m.text().replace('x', "y");
        m.set_text(changed);
        let literal = m.literal();
        assert!(literal.contains('\u{f0000}'), "{literal}");
        assert!(!literal.contains("\\udb80"), "{literal}");
        assert!(literal.contains("y\u{fffd}"), "{literal}");
        assert!(m.is_lossy());
        // Without the real one, the lone surrogate goes back as it came.
        let mut m = AuditMessage::new(r#""{\"s\":\"x\ud800\"}""#);
        let changed = m.text().replace('x', "y");
        m.set_text(changed);
        assert_eq!(m.literal(), r#""{\"s\":\"y\ud800\"}""#);
    }

    #[test]
    fn members_are_found_whatever_the_values_hold() {
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let text = format!(r#"{{"n":1e400,"d":{deep},"s":"\ud800","v\u0065rb":"get"}}"#);
        let mut m = AuditMessage::new(Box::leak(encode_literal(&text).into_boxed_str()));
        let event = m.event().expect("members split");
        assert_eq!(event.member("verb"), Some(r#""get""#));
        assert_eq!(event.member("n"), Some("1e400"));
    }
}
