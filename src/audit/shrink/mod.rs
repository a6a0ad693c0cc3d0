//! Shrinking a log that is over the intake's per-log limit. The intake
//! would cut such a log at an arbitrary byte, leaving a broken JSON document
//! that no pipeline parses and no detection rule matches. Instead the
//! forwarder removes the bulky object bodies (`responseObject`, then
//! `requestObject`, then the same keys nested deeper) and keeps the fields
//! detections key on intact. Anything that is not an audit event is cut at
//! a character boundary with a visible marker.
//!
//! An event `serde_json::Value` cannot hold (nesting deeper than 128, a
//! number such as `1e400`) is shrunk by its top-level members instead: the
//! object bodies go first, then the other fields that are not identity
//! fields, whole and largest first. It stays a JSON audit event with its
//! `annotations` and timestamps.

use serde_json::{Map, Value};

use crate::json::{Members, decode_literal, encode_literal, encode_with_placeholders};

/// How the shrunk message is written as a JSON string literal: with the
/// lone surrogates its decoding turned into placeholders written back.
type Encode = fn(&str) -> String;

/// Appended to a message that had to be cut as text.
pub const CUT_MARKER: &str = "...[TRUNCATED by eks-audit-forwarder]";

/// Top-level fields of an audit event kept whatever it costs: what an
/// investigation or a detection rule needs to know who did what to what and
/// with which result.
const IDENTITY_FIELDS: [&str; 16] = [
    "kind",
    "apiVersion",
    "level",
    "auditID",
    "stage",
    "requestURI",
    "verb",
    "user",
    "impersonatedUser",
    "sourceIPs",
    "userAgent",
    "objectRef",
    "responseStatus",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "annotations",
];

/// A message made to fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShrunkMessage {
    /// Still a JSON audit event, without the fields named in `removed`.
    Event {
        message_json: String,
        removed: Vec<String>,
        /// No tree could hold the event: top-level fields went whole.
        by_members: bool,
    },
    /// Cut as text, with [`CUT_MARKER`] at the end.
    Cut { message_json: String },
}

impl ShrunkMessage {
    /// The new message as a JSON string literal (quotes included).
    pub fn message_json(&self) -> &str {
        match self {
            ShrunkMessage::Event { message_json, .. } | ShrunkMessage::Cut { message_json } => {
                message_json
            }
        }
    }
}

/// Makes `message_json` (a JSON string literal, as CloudWatch delivered it)
/// at most `budget` bytes long.
pub fn shrink_message(message_json: &str, budget: usize) -> ShrunkMessage {
    if let Some(shrunk) = shrink_audit_event(message_json, budget) {
        return shrunk;
    }
    ShrunkMessage::Cut {
        message_json: cut_json_string(message_json, budget),
    }
}

fn shrink_audit_event(message_json: &str, budget: usize) -> Option<ShrunkMessage> {
    let decoded = decode_literal(message_json)?;
    let encode: Encode = if decoded.placeholders {
        encode_with_placeholders
    } else {
        encode_literal
    };
    let text = decoded.text;
    let mut event = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(event)) => event,
        Ok(_) => return None,
        Err(_) => return shrink_members(&text, budget, encode),
    };
    if !(event.contains_key("auditID")
        || event.get("kind").and_then(Value::as_str) == Some("Event"))
    {
        return None;
    }
    // The size of the re-encoded message is tracked as fields go, from sizes
    // measured once per field; the event is serialized again only when the
    // estimate says it fits. That keeps the work linear in the event's size
    // however many fields it has (an event with thousands of nested bodies
    // would otherwise be re-serialized thousands of times). Estimates never
    // undercount, so the one confirming serialization always succeeds.
    let mut size = encode_message(&event, encode).len();
    let mut removed = Vec::new();

    for key in ["responseObject", "requestObject"] {
        let comma = event.len() > 1;
        if let Some(value) = event.remove(key) {
            size -= field_cost(key, &value, comma);
            removed.push(key.to_owned());
            if let Some(message_json) = confirm_fit(&event, size, budget, encode) {
                return Some(ShrunkMessage::Event {
                    message_json,
                    removed,
                    by_members: false,
                });
            }
        }
    }

    // Nested bodies (e.g. inside a field that embeds other audit events),
    // largest first so as little as possible goes. The comma next to a
    // nested field is not counted: an undercount of the savings is safe.
    let mut nested = Vec::new();
    for (key, value) in &event {
        collect_nested_bodies(value, key.clone(), &mut nested);
    }
    nested.sort_by_key(|n| std::cmp::Reverse(n.1));
    for (path, cost) in nested {
        if remove_path(&mut event, &path) {
            size -= cost;
            removed.push(path);
            if let Some(message_json) = confirm_fit(&event, size, budget, encode) {
                return Some(ShrunkMessage::Event {
                    message_json,
                    removed,
                    by_members: false,
                });
            }
        }
    }

    // Then whatever is not needed to identify the event, largest first.
    let mut others: Vec<(String, usize)> = event
        .iter()
        .filter(|(k, _)| !IDENTITY_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), field_cost(k, v, false)))
        .collect();
    others.sort_by_key(|o| std::cmp::Reverse(o.1));
    for (key, _) in others {
        let comma = event.len() > 1;
        if let Some(value) = event.remove(&key) {
            size -= field_cost(&key, &value, comma);
            removed.push(key);
            if let Some(message_json) = confirm_fit(&event, size, budget, encode) {
                return Some(ShrunkMessage::Event {
                    message_json,
                    removed,
                    by_members: false,
                });
            }
        }
    }
    None
}

/// The re-encoded message, if the estimate says it fits and it does.
fn confirm_fit(
    event: &Map<String, Value>,
    estimate: usize,
    budget: usize,
    encode: Encode,
) -> Option<String> {
    if estimate > budget {
        return None;
    }
    let literal = encode_message(event, encode);
    (literal.len() <= budget).then_some(literal)
}

/// Bytes a `"key":value` member takes in the message literal (the event's
/// JSON, itself escaped as a JSON string), with its comma if `comma`.
fn field_cost(key: &str, value: &Value, comma: bool) -> usize {
    let key_json = serde_json::to_string(key).expect("a string always serializes");
    escaped_len(&key_json) + 1 + escaped_len(&value.to_string()) + usize::from(comma)
}

/// Length of `text` once escaped inside a JSON string, as serde_json
/// escapes: `"` and `\` and control characters; nothing else.
fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

fn encode_message(event: &Map<String, Value>, encode: Encode) -> String {
    let text = serde_json::to_string(event).expect("a JSON map always serializes");
    encode(&text)
}

/// An audit event no tree can hold, shrunk by its top-level members: the
/// object bodies (every duplicate), then the other fields that are not
/// identity fields, largest first.
fn shrink_members(text: &str, budget: usize, encode: Encode) -> Option<ShrunkMessage> {
    let members = Members::of(text)?;
    let is_event = members.0.iter().any(|(key, _)| key == "auditID")
        || members.last("kind") == Some("\"Event\"");
    if !is_event {
        return None;
    }
    let written: Vec<(String, &str)> = members
        .0
        .iter()
        .map(|(key, value)| {
            (
                serde_json::to_string(key.as_ref()).unwrap_or_default(),
                value.get(),
            )
        })
        .collect();
    // Each member's bytes in the literal, with one comma.
    let cost = |(key, value): &(String, &str)| escaped_len(key) + 1 + escaped_len(value) + 1;
    let mut size = 2 + 2 + written.iter().map(cost).sum::<usize>().saturating_sub(1);
    let mut kept = vec![true; written.len()];
    let name = |i: usize| members.0[i].0.as_ref();
    let mut order: Vec<usize> = Vec::new();
    for body in ["responseObject", "requestObject"] {
        order.extend((0..written.len()).filter(|&i| name(i) == body));
    }
    let mut others: Vec<usize> = (0..written.len())
        .filter(|&i| !IDENTITY_FIELDS.contains(&name(i)) && !order.contains(&i))
        .collect();
    others.sort_by_key(|&i| std::cmp::Reverse(cost(&written[i])));
    order.extend(others);
    let mut removed = Vec::new();
    for i in order {
        kept[i] = false;
        size -= cost(&written[i]);
        removed.push(name(i).to_owned());
        if size > budget {
            continue;
        }
        let mut event = String::with_capacity(size);
        event.push('{');
        for ((key, value), _) in written.iter().zip(&kept).filter(|(_, kept)| **kept) {
            if event.len() > 1 {
                event.push(',');
            }
            event.push_str(key);
            event.push(':');
            event.push_str(value);
        }
        event.push('}');
        let message_json = encode(&event);
        if message_json.len() <= budget {
            return Some(ShrunkMessage::Event {
                message_json,
                removed,
                by_members: true,
            });
        }
    }
    None
}

/// Paths (keys and array indexes separated by `/`) of nested
/// `requestObject`/`responseObject` fields, with what removing each saves.
fn collect_nested_bodies(value: &Value, path: String, out: &mut Vec<(String, usize)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}/{key}");
                if key == "requestObject" || key == "responseObject" {
                    out.push((child_path, field_cost(key, child, false)));
                } else {
                    collect_nested_bodies(child, child_path, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_nested_bodies(child, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn remove_path(event: &mut Map<String, Value>, path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return false;
    };
    let mut current = match event.get_mut(first) {
        Some(v) => v,
        None => return false,
    };
    for part in parts {
        current = match current {
            Value::Object(map) => match map.get_mut(part) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(items) => {
                match part.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match current {
        Value::Object(map) => map.remove(last).is_some(),
        _ => false,
    }
}

/// Cuts a JSON string literal to at most `budget` bytes, marker included,
/// never inside an escape sequence, a surrogate pair or a UTF-8 character,
/// so the result is still a valid JSON string.
pub fn cut_json_string(literal: &str, budget: usize) -> String {
    let content = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(literal);
    let room = budget.saturating_sub(2 + CUT_MARKER.len());
    let bytes = content.as_bytes();
    let mut end = 0;
    while end < bytes.len() {
        let token = token_len(content, end);
        if end + token > room {
            break;
        }
        end += token;
    }
    let mut out = String::with_capacity(end + CUT_MARKER.len() + 2);
    out.push('"');
    out.push_str(&content[..end]);
    out.push_str(CUT_MARKER);
    out.push('"');
    out
}

/// Length of the indivisible piece of JSON string content starting at `at`.
fn token_len(content: &str, at: usize) -> usize {
    let bytes = content.as_bytes();
    if bytes[at] != b'\\' {
        return content[at..].chars().next().map_or(1, char::len_utf8);
    }
    if bytes.get(at + 1) != Some(&b'u') {
        return 2.min(bytes.len() - at);
    }
    let unit = |i: usize| {
        content
            .get(i..i + 4)
            .and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    let is_high = unit(at + 2).is_some_and(|u| (0xD800..0xDC00).contains(&u));
    let low_follows = content.get(at + 6..at + 8) == Some("\\u")
        && unit(at + 8).is_some_and(|u| (0xDC00..0xE000).contains(&u));
    if is_high && low_follows {
        12
    } else {
        6.min(bytes.len() - at)
    }
}

#[cfg(test)]
mod tests;
