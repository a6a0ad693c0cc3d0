//! What the forwarder knows about Kubernetes audit events.
//!
//! Today: shrinking a log that is over the intake's per-log limit. The intake
//! would cut such a log at an arbitrary byte, leaving a broken JSON document
//! that no pipeline parses and no detection rule matches. Instead the
//! forwarder removes the bulky object bodies (`responseObject`, then
//! `requestObject`, then the same keys nested deeper) and keeps the fields
//! detections key on intact. Anything that is not an audit event is cut at
//! a character boundary with a visible marker.

use serde_json::{Map, Value};

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
    let text: String = serde_json::from_str(message_json).ok()?;
    let Value::Object(mut event) = serde_json::from_str::<Value>(&text).ok()? else {
        return None;
    };
    if !(event.contains_key("auditID")
        || event.get("kind").and_then(Value::as_str) == Some("Event"))
    {
        return None;
    }
    let mut removed = Vec::new();
    let fits = |event: &Map<String, Value>| -> Option<String> {
        let literal = encode_message(event);
        (literal.len() <= budget).then_some(literal)
    };

    for key in ["responseObject", "requestObject"] {
        if event.remove(key).is_some() {
            removed.push(key.to_owned());
            if let Some(message_json) = fits(&event) {
                return Some(ShrunkMessage::Event {
                    message_json,
                    removed,
                });
            }
        }
    }

    // Nested bodies (e.g. inside a field that embeds other audit events),
    // largest first so as little as possible goes.
    let mut nested = Vec::new();
    for (key, value) in &event {
        collect_nested_bodies(value, key.clone(), &mut nested);
    }
    nested.sort_by_key(|n| std::cmp::Reverse(n.1));
    for (path, _) in nested {
        if remove_path(&mut event, &path) {
            removed.push(path);
            if let Some(message_json) = fits(&event) {
                return Some(ShrunkMessage::Event {
                    message_json,
                    removed,
                });
            }
        }
    }

    // Then whatever is not needed to identify the event, largest first.
    let mut others: Vec<(String, usize)> = event
        .iter()
        .filter(|(k, _)| !IDENTITY_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.to_string().len()))
        .collect();
    others.sort_by_key(|o| std::cmp::Reverse(o.1));
    for (key, _) in others {
        event.remove(&key);
        removed.push(key);
        if let Some(message_json) = fits(&event) {
            return Some(ShrunkMessage::Event {
                message_json,
                removed,
            });
        }
    }
    None
}

fn encode_message(event: &Map<String, Value>) -> String {
    let text = serde_json::to_string(event).expect("a JSON map always serializes");
    serde_json::to_string(&text).expect("a string always serializes")
}

/// Paths (`a.b[2].c` style, with `/` separating keys) of nested
/// `requestObject`/`responseObject` fields and their serialized sizes.
fn collect_nested_bodies(value: &Value, path: String, out: &mut Vec<(String, usize)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}/{key}");
                if key == "requestObject" || key == "responseObject" {
                    out.push((child_path, child.to_string().len()));
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
mod tests {
    use super::*;
    use serde_json::json;

    fn literal(v: &Value) -> String {
        serde_json::to_string(&v.to_string()).unwrap()
    }

    fn audit_event(body_bytes: usize) -> Value {
        json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": "0b2f6c8e-5d1a-4f4e-9a55-0e3c2b4f8a11", "stage": "ResponseComplete",
            "requestURI": "/api/v1/pods?limit=500", "verb": "list",
            "user": {"username": "admin", "groups": ["system:masters"]},
            "sourceIPs": ["10.0.0.1"], "userAgent": "kubectl/v1.31",
            "objectRef": {"resource": "pods", "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestObject": {"kind": "ListOptions", "pad": "r".repeat(body_bytes / 4)},
            "responseObject": {"kind": "PodList", "items": "x".repeat(body_bytes)},
            "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z",
            "stageTimestamp": "2026-11-26T10:00:00.100000Z"
        })
    }

    fn parse_shrunk(s: &ShrunkMessage) -> Value {
        let text: String = serde_json::from_str(s.message_json()).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn response_object_goes_first() {
        let ev = audit_event(20_000);
        let lit = literal(&ev);
        let shrunk = shrink_message(&lit, 10_000);
        assert!(shrunk.message_json().len() <= 10_000);
        let ShrunkMessage::Event { removed, .. } = &shrunk else {
            panic!("{shrunk:?}")
        };
        assert_eq!(removed, &["responseObject"]);
        let v = parse_shrunk(&shrunk);
        assert!(v.get("requestObject").is_some());
        for key in [
            "auditID",
            "verb",
            "user",
            "objectRef",
            "responseStatus",
            "requestReceivedTimestamp",
            "stageTimestamp",
        ] {
            assert_eq!(v[key], ev[key], "{key}");
        }
    }

    #[test]
    fn request_object_goes_next_when_needed() {
        let ev = audit_event(40_000);
        let shrunk = shrink_message(&literal(&ev), 5_000);
        let ShrunkMessage::Event { removed, .. } = &shrunk else {
            panic!("{shrunk:?}")
        };
        assert_eq!(removed, &["responseObject", "requestObject"]);
        assert_eq!(parse_shrunk(&shrunk)["auditID"], ev["auditID"]);
    }

    #[test]
    fn nested_bodies_then_other_fields() {
        let mut ev = audit_event(0);
        ev["embedded"] = json!([{"responseObject": "n".repeat(30_000), "keep": 1}]);
        ev["extra"] = json!("e".repeat(3_000));
        let shrunk = shrink_message(&literal(&ev), 4_000);
        let ShrunkMessage::Event { removed, .. } = &shrunk else {
            panic!("{shrunk:?}")
        };
        assert_eq!(
            removed,
            &[
                "responseObject",
                "requestObject",
                "embedded/0/responseObject"
            ]
        );
        assert_eq!(parse_shrunk(&shrunk)["embedded"][0]["keep"], 1);

        let shrunk = shrink_message(&literal(&ev), 1_500);
        let ShrunkMessage::Event { removed, .. } = &shrunk else {
            panic!("{shrunk:?}")
        };
        assert!(removed.contains(&"extra".to_owned()), "{removed:?}");
        assert_eq!(parse_shrunk(&shrunk)["verb"], "list");
    }

    #[test]
    fn plain_text_is_cut_with_a_marker_at_a_char_boundary() {
        let text = "é".repeat(1000);
        let lit = serde_json::to_string(&text).unwrap();
        for budget in [100, 101, 102, 103] {
            let shrunk = shrink_message(&lit, budget);
            let ShrunkMessage::Cut { message_json } = &shrunk else {
                panic!()
            };
            assert!(message_json.len() <= budget);
            let back: String = serde_json::from_str(message_json).unwrap();
            assert!(back.ends_with(CUT_MARKER));
            assert!(back.trim_end_matches(CUT_MARKER).chars().all(|c| c == 'é'));
        }
    }

    #[test]
    fn cut_never_splits_escapes_or_surrogate_pairs() {
        let lit = r#""ab\n\u0001\"\\\ud83d\ude00\u00e9tail""#;
        for budget in 0..lit.len() + CUT_MARKER.len() + 3 {
            let cut = cut_json_string(lit, budget);
            let back: String =
                serde_json::from_str(&cut).unwrap_or_else(|e| panic!("{budget}: {cut}: {e}"));
            assert!(back.ends_with(CUT_MARKER));
            if budget >= 2 + CUT_MARKER.len() {
                assert!(cut.len() <= budget, "{budget}: {cut}");
            }
        }
    }

    #[test]
    fn json_that_is_not_an_audit_event_is_cut() {
        let lit = literal(&json!({"msg": "y".repeat(5_000), "responseObject": 1}));
        assert!(matches!(
            shrink_message(&lit, 1_000),
            ShrunkMessage::Cut { .. }
        ));
    }

    #[test]
    fn huge_identity_fields_fall_back_to_a_cut() {
        let mut ev = audit_event(0);
        ev["requestURI"] = json!(format!("/api/{}", "u".repeat(50_000)));
        let shrunk = shrink_message(&literal(&ev), 10_000);
        assert!(matches!(shrunk, ShrunkMessage::Cut { .. }));
        assert!(shrunk.message_json().len() <= 10_000);
    }
}
