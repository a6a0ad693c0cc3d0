//! JSON reading without a tree, which the audit rules and replay share: an
//! object's members split without recursion, string literals decoded
//! whatever they hold, and string values rewritten in text no tree can
//! hold.
//!
//! `serde_json::Value` refuses nesting deeper than 128 and numbers beyond
//! `f64` (`1e400`), and a `String` refuses a lone surrogate (`\ud800`). A
//! user who can send a request body can put any of them into an audit
//! event, so nothing here builds a tree: members are split one level at a
//! time, and a lone surrogate decodes to a placeholder that is written
//! back as the same escape (see [`DecodedText`]).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON string, borrowed when it has no escapes.
#[derive(Deserialize)]
pub(crate) struct JsonText<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

/// An object's members in order, values left raw for later. Reading one
/// does not recurse into the values, so any nesting depth is read, and
/// numbers are skipped, not converted.
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

impl<'a> Members<'a> {
    /// The members of the object `text`, or `None` when it is not one.
    pub(crate) fn of(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The value of `name`: the last one, as serde_json and the intake
    /// read duplicates.
    pub(crate) fn last(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.get())
    }
}

/// A JSON string literal (quotes included) decoded.
///
/// A lone surrogate (`\ud800` without its pair) has no place in a Rust
/// string. Each one becomes a placeholder from a private-use range that
/// [`encode_with_placeholders`] writes back as the same escape, so a
/// message a rule changes keeps it. Should the text hold a real character
/// of that range too, lone surrogates become U+FFFD instead and `lossy`
/// says so: a placeholder must never be mistaken for text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText<'a> {
    pub text: Cow<'a, str>,
    /// `text` holds placeholders, and only placeholders, in their range.
    pub placeholders: bool,
    /// Lone surrogates became U+FFFD.
    pub lossy: bool,
}

/// Where the placeholders of lone surrogates start: U+F0000 stands for
/// `\ud800`, up to U+F07FF for `\udfff`.
const PLACEHOLDER_BASE: u32 = 0xF0000;
const SURROGATES: std::ops::Range<u32> = 0xD800..0xE000;

fn is_placeholder(c: char) -> bool {
    (PLACEHOLDER_BASE..PLACEHOLDER_BASE + (SURROGATES.end - SURROGATES.start)).contains(&(c as u32))
}

/// Decodes `literal`, a JSON string with its quotes; `None` when it is
/// not one. Borrowed when it holds no escape.
pub fn decode_literal(literal: &str) -> Option<DecodedText<'_>> {
    let content = literal.strip_prefix('"')?.strip_suffix('"')?;
    if memchr::memchr2(b'\\', b'"', content.as_bytes()).is_none()
        && !has_control_character(content.as_bytes())
    {
        return Some(DecodedText {
            text: Cow::Borrowed(content),
            placeholders: false,
            lossy: false,
        });
    }
    decode_content(content).map(|(text, surrogates)| DecodedText {
        text: Cow::Owned(text),
        placeholders: surrogates == Surrogates::Placeholders,
        lossy: surrogates == Surrogates::Replaced,
    })
}

/// The decoded text of a JSON string value from a document serde_json
/// has read (so a valid one): what lies between the quotes when it holds
/// no escape. `None` for anything but a string, and for a lone surrogate.
pub(crate) fn string_value(json: &str) -> Option<Cow<'_, str>> {
    if !json.contains('\\') {
        return json.strip_prefix('"')?.strip_suffix('"').map(Cow::Borrowed);
    }
    serde_json::from_str::<JsonText<'_>>(json).ok().map(|t| t.0)
}

/// A raw control character, which has no place in a JSON string. One pass
/// without early exit, which the compiler vectorises.
fn has_control_character(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |bad, &b| bad | (b < 0x20))
}

/// `text` as a JSON string literal, quotes included.
pub fn encode_literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\""))
}

/// `text` (decoded with placeholders) as a JSON string literal, quotes
/// included, each placeholder written back as the escape it stands for.
pub fn encode_with_placeholders(text: &str) -> String {
    let literal = encode_literal(text);
    if !literal.chars().any(is_placeholder) {
        return literal;
    }
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if is_placeholder(c) {
            let unit = c as u32 - PLACEHOLDER_BASE + SURROGATES.start;
            out.push_str(&format!("\\u{unit:04x}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The four digits of a `\\u` escape at `at`. Lenient as it always was
/// (it takes `+123`): [`rewrite_strings`] reads text that may not be JSON,
/// and reading more as an escape scrubs more.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// What became of the lone surrogates of a decoded string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surrogates {
    None,
    Placeholders,
    Replaced,
}

/// The content of a JSON string (between its quotes) decoded, lone
/// surrogates as placeholders, or as U+FFFD when the decoded text holds
/// real characters of the placeholders' range as well (raw, or escaped as
/// a surrogate pair).
pub(crate) fn decode_content(content: &str) -> Option<(String, Surrogates)> {
    let (text, lone) = unescape(content, true)?;
    if lone == 0 {
        return Some((text, Surrogates::None));
    }
    if text.chars().filter(|&c| is_placeholder(c)).count() > lone {
        return unescape(content, false).map(|(text, _)| (text, Surrogates::Replaced));
    }
    Some((text, Surrogates::Placeholders))
}

/// The content of a JSON string with its escapes resolved. A surrogate
/// escape without its pair becomes a placeholder (or U+FFFD); how many did
/// comes back with the text. A raw quote or control character, or an
/// unknown escape, gives `None`.
fn unescape(content: &str, placeholders: bool) -> Option<(String, usize)> {
    let bytes = content.as_bytes();
    if has_control_character(bytes) {
        return None;
    }
    // An audit event's literal has an escape every few bytes (`\"` around
    // every key and string): the text is sized once, and the runs between
    // escapes are found with a vectorised search and copied whole.
    let mut out = String::with_capacity(content.len());
    let mut lone = 0;
    let mut i = 0;
    loop {
        let at = match memchr::memchr2(b'\\', b'"', &bytes[i..]) {
            None => break,
            // A raw quote ends a string: it cannot stand inside one.
            Some(n) if bytes[i + n] == b'"' => return None,
            Some(n) => i + n,
        };
        out.push_str(&content[i..at]);
        let escape = *bytes.get(at + 1)?;
        i = at + 2;
        match escape {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let unit = hex4(bytes, i)?;
                i += 4;
                let low = (bytes.get(i..i + 2) == Some(b"\\u"))
                    .then(|| hex4(bytes, i + 2))
                    .flatten()
                    .filter(|low| (0xDC00..0xE000).contains(low));
                let c = match (unit, low) {
                    (0xD800..0xDC00, Some(low)) => {
                        i += 6;
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    }
                    (unit, _) if SURROGATES.contains(&unit) => {
                        lone += 1;
                        Some(if placeholders {
                            char::from_u32(PLACEHOLDER_BASE + unit - SURROGATES.start)?
                        } else {
                            char::REPLACEMENT_CHARACTER
                        })
                    }
                    (other, _) => char::from_u32(other),
                };
                out.push(c?);
            }
            _ => return None,
        }
    }
    out.push_str(&content[i..]);
    Some((out, lone))
}

/// Whether `text` is a JSON string literal by the grammar (RFC 8259): the
/// quotes, no raw control character or lone quote or backslash, and only
/// the defined escapes. Unlike a decode, it accepts a `\ud800` with no
/// pair, which a message may hold.
pub fn is_json_string(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'"' | 0x00..=0x1f => return false,
            b'\\' => match bytes.next() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                Some(b'u') => {
                    if !(0..4).all(|_| bytes.next().is_some_and(|h| h.is_ascii_hexdigit())) {
                        return false;
                    }
                }
                _ => return false,
            },
            _ => {}
        }
    }
    true
}

/// Whether JSON text holds an escape that ends in a letter or digit:
/// `\b`, `\f`, `\n`, `\r`, `\t` or `\uXXXX`.
pub fn has_letter_escape(text: &str) -> bool {
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

/// `rewrite` applied to every string of JSON `text`, keys included, each
/// decoded first, and to the text between strings as it stands. No tree
/// is built, so any depth, number or surrogate is handled, and text that
/// is not JSON at all (cut short, say) is still rewritten throughout.
/// `rewrite` must not write a quote, a backslash or a control character,
/// so a valid document stays valid with the same structure. Borrowed
/// when nothing changed.
pub fn rewrite_strings<'t>(text: &'t str, rewrite: impl Fn(&str) -> Cow<'_, str>) -> Cow<'t, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    // Bytes before `done` are already in `out` (or unchanged so far).
    let mut done = 0;
    let mut i = 0;
    let replace =
        |out: &mut Option<String>, from: usize, to: usize, with: &str, done: &mut usize| {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[*done..from]);
            buf.push_str(with);
            *done = to;
        };
    while i < bytes.len() {
        let quote = bytes[i..].iter().position(|&b| b == b'"').map(|p| i + p);
        // The text before the next string: no escapes live there.
        let outside_end = quote.unwrap_or(bytes.len());
        if outside_end > i
            && let Cow::Owned(new) = rewrite(&text[i..outside_end])
        {
            replace(&mut out, i, outside_end, &new, &mut done);
        }
        let Some(quote) = quote else { break };
        let start = quote + 1;
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'"' {
            if bytes[end] == b'\\' {
                // The escaped character whole, whatever its width.
                end += 1 + text[end + 1..].chars().next().map_or(0, char::len_utf8);
            } else {
                end += 1;
            }
        }
        let end = end.min(bytes.len());
        let content = &text[start..end];
        if !content.contains('\\') {
            if let Cow::Owned(new) = rewrite(content) {
                replace(&mut out, start, end, &new, &mut done);
            }
        } else if let Some((decoded, surrogates)) = decode_content(content) {
            if let Cow::Owned(new) = rewrite(&decoded) {
                let literal = if surrogates == Surrogates::Placeholders {
                    encode_with_placeholders(&new)
                } else {
                    encode_literal(&new)
                };
                replace(
                    &mut out,
                    start,
                    end,
                    &literal[1..literal.len() - 1],
                    &mut done,
                );
            }
        } else if let Cow::Owned(new) = rewrite(content) {
            // Not a valid string: rewritten as it stands, privacy first.
            replace(&mut out, start, end, &new, &mut done);
        }
        i = end + 1;
    }
    match out {
        Some(mut buf) => {
            buf.push_str(&text[done.min(text.len())..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of a literal's content: plain text, each escape JSON has
    /// (some invalid), raw characters a literal cannot hold, surrogates.
    const PIECES: &[&str] = &[
        "a",
        "é",
        "✓",
        "\u{1f600}",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0026",
        "\\u00e9",
        "\\u0000",
        "\\uD83D\\uDE00",
        "\\ud800",
        "\\u12",
        "\\u+123",
        "\\x",
        "\\",
        "\"",
        "\u{1}",
        "\t",
    ];

    proptest! {
        /// A literal serde_json decodes is decoded to the same text; one it
        /// refuses is refused too, unless it holds a lone surrogate (kept
        /// as a placeholder) or a `\u` escape with a sign (read leniently).
        #[test]
        fn decoding_agrees_with_serde_json(
            pieces in prop::collection::vec(prop::sample::select(PIECES), 0..24),
        ) {
            let literal = format!("\"{}\"", pieces.concat());
            let serde = serde_json::from_str::<JsonText<'_>>(&literal).ok().map(|t| t.0);
            let ours = decode_literal(&literal);
            match (&serde, &ours) {
                (Some(serde), Some(ours)) => {
                    prop_assert_eq!(serde, &ours.text);
                    prop_assert!(!ours.placeholders && !ours.lossy);
                    prop_assert_eq!(
                        matches!(serde, Cow::Borrowed(_)),
                        matches!(ours.text, Cow::Borrowed(_))
                    );
                }
                (Some(_), None) => prop_assert!(false, "refused {literal:?}"),
                (None, Some(_)) => {
                    let lower = literal.to_ascii_lowercase();
                    let lenient = ["\\u+", "\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"]
                        .iter()
                        .any(|s| lower.contains(s));
                    prop_assert!(lenient, "took {literal:?}");
                }
                (None, None) => {}
            }
        }
    }

    #[test]
    fn lone_surrogates_survive_a_decode_and_an_encode() {
        for (literal, encoded) in [
            (r#""a\ud800b""#, r#""a\ud800b""#),
            (r#""\ud83d\ude00 \udc00""#, "\"\u{1f600} \\udc00\""),
            (r#""x\udbff""#, r#""x\udbff""#),
        ] {
            let d = decode_literal(literal).unwrap();
            assert!(!d.lossy);
            assert_eq!(encode_with_placeholders(&d.text), encoded);
        }
        // With a real character of the placeholders' range in the text,
        // raw or as an escaped pair: U+FFFD, and the real one stays real.
        for literal in ["\"\u{f0000} \\ud800\"", r#""\udb80\udc00 \ud800""#] {
            let d = decode_literal(literal).unwrap();
            assert!(d.lossy && !d.placeholders, "{literal}");
            assert_eq!(d.text, "\u{f0000} \u{fffd}");
            assert_eq!(encode_literal(&d.text), "\"\u{f0000} \u{fffd}\"");
        }
        // Without any lone surrogate, a real one is plain text.
        let d = decode_literal("\"\u{f0000}\"").unwrap();
        assert!(!d.placeholders && !d.lossy);
        let d = decode_literal(r#""plain""#).unwrap();
        assert!(matches!(d.text, Cow::Borrowed("plain")));
        assert!(!d.lossy);
        assert_eq!(decode_literal(r#""bad \x""#), None);
        assert_eq!(decode_literal("not a literal"), None);
    }

    #[test]
    fn strings_are_rewritten_decoded_and_keys_too() {
        fn upper(s: &str) -> Cow<'_, str> {
            if s.contains("ip") {
                Cow::Owned(s.replace("ip", "IP"))
            } else {
                Cow::Borrowed(s)
            }
        }
        assert_eq!(
            rewrite_strings(r#"{"ip":"\u0069p","n":1e400,"d":[[[["zip"]]]]}"#, upper),
            r#"{"IP":"IP","n":1e400,"d":[[[["zIP"]]]]}"#
        );
        // Cut short, and text between strings: rewritten all the same.
        assert_eq!(
            rewrite_strings(r#"{"a": ip, "b":"zi\u0070"#, upper),
            r#"{"a": IP, "b":"zIP"#
        );
        assert!(matches!(
            rewrite_strings(r#"{"a":"b"}"#, upper),
            Cow::Borrowed(_)
        ));
    }
}
