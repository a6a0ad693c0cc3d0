//! Secrets stay out of the log platform.
//!
//! An audit event logged at `Request` or `RequestResponse` level carries the
//! object itself. For `secrets` (and any resource added with
//! `DD_REDACT_RESOURCES`, such as `configmaps`) every value under `data`,
//! `stringData` and `binaryData` is replaced by a marker, keys kept, in
//! `requestObject` and `responseObject`, in lists (`items`) too, along with
//! `kubectl.kubernetes.io/last-applied-configuration`, which repeats the
//! object whole. Bearer tokens of TokenReview (`spec.token`) and
//! TokenRequest (`status.token`) are replaced the same way. The message
//! stays valid JSON.
//!
//! A JSON Patch body (`kubectl patch --type=json`) has its values replaced
//! unless the operation's path is under `/metadata` (the last-applied
//! annotation excepted), and a `Table` answer (`kubectl get secrets`) has
//! its rows' objects redacted.
//!
//! An event that `serde_json::Value` cannot hold (nesting deeper than its
//! limit, a number out of range, a lone surrogate) is read at its top
//! level only: for a secret-bearing event its `requestObject` and
//! `responseObject` are replaced whole, and every other field stays. A
//! message that does not even split into top-level fields is withheld: a
//! marker goes in its place, counted, never the text.
//!
//! Cost: a message is parsed only when its raw text could hold such an
//! object (it names `requestObject` or `responseObject`, and one of the
//! resources). EKS logs secrets at `Metadata` level, so most events never
//! get past that check.

use serde_json::{Map, Value};

use super::{AuditMessage, AuditRule, AuditTally, EventRef, Step};
use crate::json::Members;

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// The annotation `kubectl apply` keeps, holding the whole object as JSON.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What replaces a message that may hold secrets but cannot be read.
pub const WITHHELD: &str =
    "[WITHHELD by eks-audit-forwarder: a message that may hold secrets could not be read as JSON]";

/// A resource whose data is redacted: `configmaps`, or with its API group,
/// `sealedsecrets.bitnami.com` (`objectRef` names the two apart).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RedactedResource {
    resource: String,
    group: Option<String>,
}

impl RedactedResource {
    fn parse(name: &str) -> Self {
        match name.split_once('.') {
            Some((resource, group)) => Self {
                resource: resource.to_owned(),
                group: Some(group.to_owned()),
            },
            None => Self {
                resource: name.to_owned(),
                group: None,
            },
        }
    }
}

/// Redaction settings, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SecretRedactor {
    /// Resources whose `data` is redacted (`secrets` always among them).
    resources: Vec<RedactedResource>,
}

/// A message with values replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The new message, as a JSON string literal (quotes included).
    pub message_json: String,
    /// Values replaced.
    pub values: usize,
    /// The whole message was replaced by [`WITHHELD`].
    pub withheld: bool,
}

/// A redacted message's text.
struct RedactedText {
    text: String,
    values: usize,
    withheld: bool,
    /// The event was read at its top level only (no tree could hold it).
    fallback: bool,
}

impl AuditRule for SecretRedactor {
    fn apply(
        &self,
        message: &mut AuditMessage<'_>,
        at: EventRef<'_>,
        tally: &mut AuditTally,
    ) -> Step {
        let Some(redacted) = self.redact_message(message) else {
            return Step::Continue;
        };
        if redacted.values > 0 {
            tally.logs_redacted += 1;
            tally.redacted_values += redacted.values;
        }
        if redacted.fallback {
            tally.read_fallbacks += 1;
            tracing::warn!(
                request_id = %at.request_id,
                event_id = %at.event_id,
                withheld = redacted.withheld,
                "an event that may hold secrets could not be read whole: its object bodies were replaced, or the message withheld"
            );
        }
        if redacted.withheld {
            tally.logs_withheld += 1;
        }
        message.set_text(redacted.text);
        Step::Continue
    }
}

/// The fields of `objectRef` that decide what is redacted.
#[derive(Debug, Default)]
struct Target {
    resource: String,
    subresource: String,
    group: String,
}

impl Target {
    fn of(object_ref: Option<&Value>) -> Self {
        let field = |name: &str| {
            object_ref
                .and_then(|o| o.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            resource: field("resource"),
            subresource: field("subresource"),
            group: field("apiGroup"),
        }
    }
}

impl SecretRedactor {
    /// `extra` are further resources (lower case) beside `secrets`, each
    /// a name or `name.group`.
    pub fn new(extra: &[String]) -> Self {
        let mut resources = vec![RedactedResource::parse("secrets")];
        for name in extra {
            let r = RedactedResource::parse(name);
            if !resources.contains(&r) {
                resources.push(r);
            }
        }
        Self { resources }
    }

    /// The resources besides `secrets`, as configured (`name` or
    /// `name.group`).
    pub fn extra_resources(&self) -> Vec<String> {
        self.resources
            .iter()
            .skip(1)
            .map(|r| match &r.group {
                Some(group) => format!("{}.{group}", r.resource),
                None => r.resource.clone(),
            })
            .collect()
    }

    /// The redacted message, or `None` when there was nothing to redact.
    /// `message_json` is the message as a JSON string literal.
    pub fn redact(&self, message_json: &str) -> Option<Redacted> {
        let mut message = AuditMessage::new(message_json);
        let redacted = self.redact_message(&mut message)?;
        let (values, withheld) = (redacted.values, redacted.withheld);
        message.set_text(redacted.text);
        Some(Redacted {
            message_json: message.literal().into_owned(),
            values,
            withheld,
        })
    }

    fn redact_message(&self, message: &mut AuditMessage<'_>) -> Option<RedactedText> {
        // The raw check sees the literal as delivered: the names it looks
        // for are ASCII that no encoder escapes.
        if !self.may_hold_secrets(message.delivered()) {
            return None;
        }
        let text = message.text();
        // Plain text is not an event with objects attached.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let Ok(mut event) = serde_json::from_str::<Value>(text) else {
            return self.redact_unparsed(text);
        };
        let object = event.as_object_mut()?;
        let bears_secrets = self.bears_secrets(&Target::of(object.get("objectRef")));
        let values = self.redact_event(object);
        // A secret-bearing event is written from the tree even when no
        // value was replaced: a duplicate key (`"data":{..},"data":{}`)
        // reads as its last value, and the text would still hold the first.
        if values == 0 && !bears_secrets {
            return None;
        }
        Some(RedactedText {
            text: serde_json::to_string(&event).ok()?,
            values,
            withheld: false,
            fallback: false,
        })
    }

    /// An event `Value` cannot hold, read at its top level: the object
    /// sides of a secret-bearing event (or of one whose `objectRef` cannot
    /// be read) are replaced whole. A message that does not split into
    /// fields is withheld.
    fn redact_unparsed(&self, text: &str) -> Option<RedactedText> {
        let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(text) else {
            // Not JSON (cut short, say). The API server writes `objectRef`
            // before the objects, so it usually still reads: only an event
            // about a secret-bearing resource, or one whose objectRef does
            // not read, is withheld; any other goes as it came.
            if self.cut_event_bears_secrets(text) {
                return Some(RedactedText {
                    text: WITHHELD.to_owned(),
                    values: 1,
                    withheld: true,
                    fallback: true,
                });
            }
            return None;
        };
        // The last one, as serde_json (and so the intake) reads duplicates.
        let object_ref = members
            .iter()
            .rev()
            .find(|(k, _)| k == "objectRef")
            .map(|(_, v)| serde_json::from_str::<Value>(v.get()));
        let bears_secrets = match &object_ref {
            Some(Ok(o)) => self.bears_secrets(&Target::of(Some(o))),
            // An objectRef too odd to read: assume the worst.
            Some(Err(_)) => true,
            None => false,
        };
        if !bears_secrets {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut values = 0;
        out.push('{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key.as_ref()).ok()?);
            out.push(':');
            if key == "requestObject" || key == "responseObject" {
                out.push_str(&serde_json::to_string(REDACTED).ok()?);
                values += 1;
            } else {
                out.push_str(value.get());
            }
        }
        out.push('}');
        if values == 0 {
            return None;
        }
        Some(RedactedText {
            text: out,
            values,
            withheld: false,
            fallback: true,
        })
    }

    /// Whether a message that is not JSON may be about a secret-bearing
    /// resource: the first `"objectRef":` value that reads says, and none
    /// that reads means it may.
    fn cut_event_bears_secrets(&self, text: &str) -> bool {
        let Some(at) = text.find("\"objectRef\"") else {
            return true;
        };
        let after = text[at + "\"objectRef\"".len()..].trim_start();
        let Some(value) = after.strip_prefix(':') else {
            return true;
        };
        let mut reader = serde_json::Deserializer::from_str(value);
        match serde::Deserialize::deserialize(&mut reader) {
            Ok(object_ref) => self.bears_secrets(&Target::of(Some(&object_ref))),
            Err(_) => true,
        }
    }

    /// A cheap look at the raw text: an object is attached, and a resource
    /// (or a token API) is named. Keys and resource names are ASCII that
    /// the API server's encoder never escapes, so they appear as written.
    /// Most events hold no object: one vectorised search for the part the
    /// two keys share rules them out.
    fn may_hold_secrets(&self, raw: &str) -> bool {
        memchr::memmem::find(raw.as_bytes(), b"Object").is_some()
            && (raw.contains("requestObject") || raw.contains("responseObject"))
            && (raw.contains("token")
                || self
                    .resources
                    .iter()
                    .any(|r| raw.contains(r.resource.as_str())))
    }

    fn is_redacted_resource(&self, target: &Target) -> bool {
        self.resources.iter().any(|r| {
            r.resource == target.resource && r.group.as_ref().is_none_or(|g| *g == target.group)
        })
    }

    /// Whether the event's objects may hold secret values.
    fn bears_secrets(&self, target: &Target) -> bool {
        (target.subresource.is_empty() && self.is_redacted_resource(target))
            || target.resource == "tokenreviews"
            || (target.resource == "serviceaccounts" && target.subresource == "token")
    }

    fn redact_event(&self, event: &mut Map<String, Value>) -> usize {
        let target = Target::of(event.get("objectRef"));
        let (resource, subresource) = (target.resource.as_str(), target.subresource.as_str());
        let mut values = 0;
        for side in ["requestObject", "responseObject"] {
            let Some(object) = event.get_mut(side) else {
                continue;
            };
            if subresource.is_empty() && self.is_redacted_resource(&target) {
                values += match object {
                    Value::Array(ops) => redact_json_patch(ops),
                    // An object, or anything else (replaced whole).
                    _ => redact_data(object),
                };
            }
            if resource == "tokenreviews" {
                values += redact_path(object, &["spec", "token"]);
            }
            if resource == "serviceaccounts" && subresource == "token" {
                values += redact_path(object, &["status", "token"]);
            }
        }
        values
    }
}

/// `data`, `stringData`, `binaryData` and the last-applied annotation of an
/// object, and of each object of a list. Where an object belongs and
/// something else is found, it is replaced whole: no shape is assumed safe.
fn redact_data(object: &mut Value) -> usize {
    let Some(map) = object.as_object_mut() else {
        return replace_whole(object);
    };
    let mut values = 0;
    for key in ["data", "stringData", "binaryData"] {
        match map.get_mut(key) {
            Some(Value::Object(entries)) => {
                for value in entries.values_mut() {
                    *value = Value::String(REDACTED.to_owned());
                    values += 1;
                }
            }
            // Something else where data belongs: replaced whole.
            Some(other) if !other.is_null() => {
                *other = Value::String(REDACTED.to_owned());
                values += 1;
            }
            _ => {}
        }
    }
    values += match object.get_mut("metadata") {
        Some(metadata @ Value::Object(_)) => redact_annotations_of(metadata),
        Some(other) => replace_whole(other),
        None => 0,
    };
    match object.get_mut("items") {
        Some(Value::Array(items)) => values += items.iter_mut().map(redact_data).sum::<usize>(),
        Some(other) => values += replace_whole(other),
        None => {}
    }
    // A Table answer (`kubectl get`): each row may carry the object.
    if let Some(Value::Array(rows)) = object.get_mut("rows") {
        for row in rows {
            if !row.is_object() {
                values += replace_whole(row);
            } else if let Some(row_object) = row.get_mut("object") {
                values += redact_data(row_object);
            }
        }
    }
    values
}

/// A JSON Patch (RFC 6902) body: every operation's `value` is replaced,
/// except under `/metadata` where the last-applied annotation is the only
/// secret.
fn redact_json_patch(ops: &mut [Value]) -> usize {
    let mut values = 0;
    for op in ops {
        if !op.is_object() {
            values += replace_whole(op);
            continue;
        }
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(value) = op.get_mut("value") else {
            continue;
        };
        values += match path.as_str() {
            "/metadata" if value.is_object() => redact_annotations_of(value),
            "/metadata/annotations" if value.is_object() => redact_path(value, &[LAST_APPLIED]),
            "/metadata" | "/metadata/annotations" => replace_whole(value),
            p if p.starts_with("/metadata/") && !p.contains("last-applied-configuration") => 0,
            _ if value.is_null() => 0,
            _ => {
                *value = Value::String(REDACTED.to_owned());
                1
            }
        };
    }
    values
}

/// The last-applied annotation of a `metadata` object; annotations that
/// are not an object are replaced whole.
fn redact_annotations_of(metadata: &mut Value) -> usize {
    match metadata.get_mut("annotations") {
        Some(annotations @ Value::Object(_)) => redact_path(annotations, &[LAST_APPLIED]),
        Some(other) => replace_whole(other),
        None => 0,
    }
}

/// Replaces a value whole (not a null: nothing to hide).
fn replace_whole(value: &mut Value) -> usize {
    if value.is_null() {
        return 0;
    }
    *value = Value::String(REDACTED.to_owned());
    1
}

/// Replaces the value at `path` if there is one.
fn redact_path(object: &mut Value, path: &[&str]) -> usize {
    let mut at = object;
    for key in path {
        match at.get_mut(*key) {
            Some(next) => at = next,
            None => return 0,
        }
    }
    if at.is_null() {
        return 0;
    }
    *at = Value::String(REDACTED.to_owned());
    1
}

#[cfg(test)]
mod tests;
