//! SIEM-ready attributes (`DD_SIEM_ATTRIBUTES=true`): the top-level
//! attributes Datadog's `kubernetes.audit` pipeline would otherwise derive
//! from the message, so detection rules work on any intake that indexes a
//! log's JSON attributes.
//!
//! | attribute | from the audit event |
//! |---|---|
//! | `http.method` | `verb` |
//! | `http.status_code` | `responseStatus.code` |
//! | `http.useragent` | `userAgent` |
//! | `http.url_details.path` | `requestURI` without its query |
//! | `usr.name` | `user.username` |
//! | `network.client.ip` | `sourceIPs[0]` |
//! | `kube_namespace` | `objectRef.namespace` |
//! | `objectRef` | `objectRef`, as it is |
//!
//! A field that is missing or of an unexpected type (partial events have
//! many) is left out; the log itself is never held back.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::query::AuditEvent;
use super::{AuditMessage, AuditRule, AuditTally, EventRef, Step};
use crate::json::{JsonText, Members};

/// `DD_SIEM_ATTRIBUTES=true`.
#[derive(Debug, Clone, Copy)]
pub struct SiemAttributes;

impl AuditRule for SiemAttributes {
    fn apply(&self, message: &mut AuditMessage<'_>, _: EventRef<'_>, _: &mut AuditTally) -> Step {
        let mut out = std::mem::take(&mut message.attributes);
        out.clear();
        if let Some(event) = message.event() {
            write_event_attributes(&event, &mut out);
        }
        message.attributes = out;
        Step::Continue
    }
}

/// A string field's text.
fn text(raw: Option<&str>) -> Option<Cow<'_, str>> {
    serde_json::from_str::<JsonText<'_>>(raw?).ok().map(|t| t.0)
}

/// A member of a nested object (the last one, as with duplicates above).
fn member<'a>(raw: Option<&'a str>, name: &str) -> Option<&'a str> {
    let raw = raw.filter(|r| r.starts_with('{'))?;
    Members::of(raw)?.last(name)
}

fn write_event_attributes(event: &AuditEvent<'_>, out: &mut String) {
    let status: Option<u16> =
        member(event.member("responseStatus"), "code").and_then(|c| serde_json::from_str(c).ok());
    let path = text(event.member("requestURI")).map(|uri| {
        let end = uri.find('?').unwrap_or(uri.len());
        uri[..end].to_owned()
    });
    let mut http = serde_json::Map::new();
    if let Some(verb) = text(event.member("verb")) {
        http.insert("method".into(), verb.into());
    }
    if let Some(code) = status {
        http.insert("status_code".into(), code.into());
    }
    if let Some(agent) = text(event.member("userAgent")) {
        http.insert("useragent".into(), agent.into());
    }
    if let Some(path) = path {
        http.insert("url_details".into(), serde_json::json!({ "path": path }));
    }
    push(
        out,
        "http",
        (!http.is_empty()).then_some(serde_json::Value::Object(http)),
    );

    let user = text(member(event.member("user"), "username"));
    push(
        out,
        "usr",
        user.map(|name| serde_json::json!({ "name": name })),
    );

    let ip = event
        .member("sourceIPs")
        .filter(|ips| ips.starts_with('['))
        .and_then(|ips| serde_json::from_str::<Vec<&RawValue>>(ips).ok())
        .and_then(|ips| {
            ips.first()
                .and_then(|first| text(Some(first.get())))
                .map(Cow::into_owned)
        });
    push(
        out,
        "network",
        ip.map(|ip| serde_json::json!({ "client": { "ip": ip } })),
    );

    if let Some(object_ref) = event.member("objectRef").filter(|o| o.starts_with('{')) {
        let namespace = text(member(Some(object_ref), "namespace"));
        push(out, "kube_namespace", namespace.map(|n| n.into()));
        out.push_str(",\"objectRef\":");
        out.push_str(object_ref);
    }
}

fn push(out: &mut String, name: &str, value: Option<serde_json::Value>) {
    if let Some(value) = value {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        out.push_str(&value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Appends the attributes of the audit event in `message_json` (a JSON
    /// string literal) to `out`, each as `,"name":value`. Nothing is appended
    /// for a message that is not an audit event.
    fn write_attributes(message_json: &str, out: &mut String) {
        let mut message = AuditMessage::new(message_json);
        if let Some(event) = message.event() {
            write_event_attributes(&event, out);
        }
    }

    fn attributes(event: &Value) -> Value {
        let literal = serde_json::to_string(&event.to_string()).unwrap();
        let mut out = String::new();
        write_attributes(&literal, &mut out);
        serde_json::from_str(&format!("{{\"x\":0{out}}}")).unwrap()
    }

    #[test]
    fn exec_into_a_pod_maps_to_the_detection_fields() {
        let event = json!({
            "kind": "Event", "verb": "create", "stage": "ResponseStarted",
            "requestURI": "/api/v1/namespaces/prod/pods/web-0/exec?command=sh&stdin=true",
            "user": {"username": "arn:aws:iam::123456789012:role/admin", "groups": ["system:masters"]},
            "sourceIPs": ["198.51.100.23", "10.0.0.1"], "userAgent": "kubectl/v1.31.2",
            "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "web-0", "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 101},
        });
        let a = attributes(&event);
        assert_eq!(a["http"]["method"], "create");
        assert_eq!(a["http"]["status_code"], 101);
        assert_eq!(a["http"]["useragent"], "kubectl/v1.31.2");
        assert_eq!(
            a["http"]["url_details"]["path"],
            "/api/v1/namespaces/prod/pods/web-0/exec"
        );
        assert_eq!(a["usr"]["name"], "arn:aws:iam::123456789012:role/admin");
        assert_eq!(a["network"]["client"]["ip"], "198.51.100.23");
        assert_eq!(a["kube_namespace"], "prod");
        assert_eq!(a["objectRef"], event["objectRef"]);
    }

    #[test]
    fn odd_types_and_non_events_leave_attributes_out() {
        let event = json!({"verb": 7, "responseStatus": {"code": "200"}, "user": "alice",
                           "sourceIPs": "1.2.3.4", "objectRef": ["pods"], "requestURI": "/healthz"});
        let a = attributes(&event);
        assert_eq!(
            a,
            json!({"x": 0, "http": {"url_details": {"path": "/healthz"}}})
        );
        let mut out = String::new();
        write_attributes(r#""I1126 10:00:00.000 plain klog line""#, &mut out);
        write_attributes(r#""{not json""#, &mut out);
        assert!(out.is_empty());
    }
}
