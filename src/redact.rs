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
//! Cost: a message is parsed only when its raw text could hold such an
//! object (it names `requestObject` or `responseObject`, and one of the
//! resources). EKS logs secrets at `Metadata` level, so most events never
//! get past that check.

use serde_json::{Map, Value};

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// The annotation `kubectl apply` keeps, holding the whole object as JSON.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Redaction settings, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SecretRedactor {
    /// Resources whose `data` is redacted (`secrets` always among them).
    resources: Vec<String>,
}

/// A message with values replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The new message, as a JSON string literal (quotes included).
    pub message_json: String,
    /// Values replaced.
    pub values: usize,
}

impl SecretRedactor {
    /// `extra` are further resources (lower case) beside `secrets`.
    pub fn new(extra: &[String]) -> Self {
        let mut resources = vec!["secrets".to_owned()];
        for r in extra {
            if !resources.contains(r) {
                resources.push(r.clone());
            }
        }
        Self { resources }
    }

    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The redacted message, or `None` when there was nothing to redact.
    /// `message_json` is the message as a JSON string literal.
    pub fn redact(&self, message_json: &str) -> Option<Redacted> {
        if !self.may_hold_secrets(message_json) {
            return None;
        }
        let text: String = serde_json::from_str(message_json).ok()?;
        let mut event: Value = serde_json::from_str(&text).ok()?;
        let values = self.redact_event(event.as_object_mut()?);
        if values == 0 {
            return None;
        }
        let text = serde_json::to_string(&event).ok()?;
        Some(Redacted {
            message_json: serde_json::to_string(&text).ok()?,
            values,
        })
    }

    /// A cheap look at the raw text: an object is attached, and a resource
    /// (or a token API) is named.
    fn may_hold_secrets(&self, raw: &str) -> bool {
        (raw.contains("requestObject") || raw.contains("responseObject"))
            && (raw.contains("token") || self.resources.iter().any(|r| raw.contains(r.as_str())))
    }

    fn redact_event(&self, event: &mut Map<String, Value>) -> usize {
        let object_ref = event.get("objectRef").and_then(Value::as_object);
        let field = |name: &str| {
            object_ref
                .and_then(|o| o.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (resource, subresource) = (field("resource"), field("subresource"));
        let mut values = 0;
        for side in ["requestObject", "responseObject"] {
            let Some(object) = event.get_mut(side) else {
                continue;
            };
            if subresource.is_empty() && self.resources.contains(&resource) {
                values += redact_data(object);
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
/// object, and of each object of a list.
fn redact_data(object: &mut Value) -> usize {
    let Some(map) = object.as_object_mut() else {
        return 0;
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
    values += redact_path(object, &["metadata", "annotations", LAST_APPLIED]);
    if let Some(Value::Array(items)) = object.get_mut("items") {
        values += items.iter_mut().map(redact_data).sum::<usize>();
    }
    values
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
mod tests {
    use super::*;
    use serde_json::json;

    fn literal(event: &Value) -> String {
        serde_json::to_string(&event.to_string()).unwrap()
    }

    fn redacted(r: &SecretRedactor, event: &Value) -> Option<(Value, usize)> {
        let out = r.redact(&literal(event))?;
        let text: String = serde_json::from_str(&out.message_json).unwrap();
        Some((serde_json::from_str(&text).unwrap(), out.values))
    }

    fn secret_event(verb: &str, request: Value, response: Value) -> Value {
        json!({
            "kind": "Event", "level": "RequestResponse", "verb": verb,
            "objectRef": {"resource": "secrets", "namespace": "prod", "name": "db"},
            "requestObject": request, "responseObject": response,
        })
    }

    #[test]
    fn secret_values_go_keys_stay() {
        let r = SecretRedactor::new(&[]);
        let applied = r#"{"apiVersion":"v1","data":{"password":"aHVudGVyMg=="},"kind":"Secret"}"#;
        let event = secret_event(
            "create",
            json!({"kind": "Secret", "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}, "stringData": {"token": "s3cr3t-é"},
                   "metadata": {"name": "db", "annotations": {LAST_APPLIED: applied, "team": "a"}}}),
            json!({"kind": "Secret", "data": {"password": "aHVudGVyMg=="}, "type": "Opaque"}),
        );
        let (out, values) = redacted(&r, &event).unwrap();
        assert_eq!(values, 5);
        assert_eq!(
            out["requestObject"]["data"],
            json!({"password": REDACTED, "user": REDACTED})
        );
        assert_eq!(
            out["requestObject"]["stringData"],
            json!({"token": REDACTED})
        );
        assert_eq!(
            out["requestObject"]["metadata"]["annotations"][LAST_APPLIED],
            REDACTED
        );
        assert_eq!(out["requestObject"]["metadata"]["annotations"]["team"], "a");
        assert_eq!(out["responseObject"]["data"]["password"], REDACTED);
        assert_eq!(out["responseObject"]["type"], "Opaque");
        let text = out.to_string();
        for secret in ["aHVudGVyMg==", "YWRtaW4=", "s3cr3t"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn lists_of_secrets_and_extra_resources() {
        let list = json!({"kind": "Event", "level": "RequestResponse", "verb": "list",
            "objectRef": {"resource": "secrets", "namespace": "prod"},
            "responseObject": {"kind": "SecretList", "items": [{"data": {"a": "MQ=="}}, {"data": {"b": "Mg=="}}, {"metadata": {}}]}});
        let (out, values) = redacted(&SecretRedactor::new(&[]), &list).unwrap();
        assert_eq!(values, 2);
        assert_eq!(out["responseObject"]["items"][1]["data"]["b"], REDACTED);

        let cm = json!({"kind": "Event", "level": "Request", "verb": "update",
            "objectRef": {"resource": "configmaps", "name": "aws-auth"},
            "requestObject": {"data": {"mapRoles": "- rolearn: x"}, "binaryData": {"blob": "AAEC"}}});
        assert!(redacted(&SecretRedactor::new(&[]), &cm).is_none());
        let (out, values) =
            redacted(&SecretRedactor::new(&["configmaps".to_owned()]), &cm).unwrap();
        assert_eq!(values, 2);
        assert_eq!(out["requestObject"]["data"]["mapRoles"], REDACTED);
    }

    #[test]
    fn bearer_tokens_of_token_apis() {
        let r = SecretRedactor::new(&[]);
        let review = json!({"kind": "Event", "verb": "create",
            "objectRef": {"resource": "tokenreviews", "apiGroup": "authentication.k8s.io"},
            "requestObject": {"kind": "TokenReview", "spec": {"token": "eyJhbGciOi.payload.sig"}},
            "responseObject": {"kind": "TokenReview", "spec": {"token": "eyJhbGciOi.payload.sig"}, "status": {"authenticated": true}}});
        let (out, values) = redacted(&r, &review).unwrap();
        assert_eq!(values, 2);
        assert!(!out.to_string().contains("eyJhbGciOi"));
        assert_eq!(out["responseObject"]["status"]["authenticated"], true);

        let request = json!({"kind": "Event", "verb": "create",
            "objectRef": {"resource": "serviceaccounts", "subresource": "token", "name": "default"},
            "requestObject": {"kind": "TokenRequest", "spec": {"audiences": ["sts.amazonaws.com"]}},
            "responseObject": {"kind": "TokenRequest", "status": {"token": "eyJ.tok.en", "expirationTimestamp": "2026-11-26T11:00:00Z"}}});
        let (out, values) = redacted(&r, &request).unwrap();
        assert_eq!(values, 1);
        assert_eq!(out["responseObject"]["status"]["token"], REDACTED);
        assert_eq!(
            out["requestObject"]["spec"]["audiences"][0],
            "sts.amazonaws.com"
        );
    }

    #[test]
    fn other_events_are_left_alone_byte_for_byte() {
        let r = SecretRedactor::new(&[]);
        // Metadata level: no object, no parse.
        let meta =
            json!({"kind": "Event", "level": "Metadata", "objectRef": {"resource": "secrets"}});
        assert!(r.redact(&literal(&meta)).is_none());
        // A pod that mentions secrets is not a secret.
        let pod = json!({"kind": "Event", "objectRef": {"resource": "pods"},
            "requestObject": {"spec": {"volumes": [{"secret": {"secretName": "db"}}]}, "data": {"x": "y"}}});
        assert!(r.redact(&literal(&pod)).is_none());
        // Odd types where objects belong, and text that is not JSON.
        let odd = json!({"objectRef": "secrets", "requestObject": 5});
        assert!(r.redact(&literal(&odd)).is_none());
        assert!(r.redact(r#""requestObject secrets, not JSON""#).is_none());
        let weird =
            json!({"objectRef": {"resource": "secrets"}, "requestObject": {"data": "not-a-map"}});
        let (out, values) = redacted(&r, &weird).unwrap();
        assert_eq!(
            (values, out["requestObject"]["data"].clone()),
            (1, json!(REDACTED))
        );
    }
}
