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
use crate::json::{Members, encode_literal, string_value};

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

/// A string value's JSON text, ready to be written out again: as it
/// stands when it holds no escape (serde_json would write it the same),
/// otherwise decoded and written the way serde_json writes strings.
fn string_json(raw: Option<&str>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    Some(match string_value(raw)? {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(text) => Cow::Owned(encode_literal(&text)),
    })
}

/// A member of a nested object (the last one, as with duplicates above).
fn member<'a>(raw: Option<&'a str>, name: &str) -> Option<&'a str> {
    let raw = raw.filter(|r| r.starts_with('{'))?;
    Members::of(raw)?.last(name)
}

/// `requestURI` up to its query, as a JSON string.
fn path_json(raw: Option<&str>) -> Option<String> {
    let uri = string_value(raw?)?;
    let end = uri.find('?').unwrap_or(uri.len());
    Some(encode_literal(&uri[..end]))
}

/// Writes `,"name":{` and each present field as `"key":value`, then
/// `}`; nothing when no field is present.
fn push_object(out: &mut String, name: &str, fields: &[(&str, Option<&str>)]) {
    let mut open = false;
    for (key, value) in fields {
        let Some(value) = value else { continue };
        if open {
            out.push(',');
        } else {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":{");
            open = true;
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        out.push_str(value);
    }
    if open {
        out.push('}');
    }
}

fn write_event_attributes(event: &AuditEvent<'_>, out: &mut String) {
    let status = member(event.member("responseStatus"), "code")
        .and_then(|c| serde_json::from_str::<u16>(c).ok())
        .map(|code| code.to_string());
    let verb = string_json(event.member("verb"));
    let agent = string_json(event.member("userAgent"));
    let path = path_json(event.member("requestURI")).map(|path| format!("{{\"path\":{path}}}"));
    push_object(
        out,
        "http",
        &[
            ("method", verb.as_deref()),
            ("status_code", status.as_deref()),
            ("useragent", agent.as_deref()),
            ("url_details", path.as_deref()),
        ],
    );

    let user = string_json(member(event.member("user"), "username"));
    push_object(out, "usr", &[("name", user.as_deref())]);

    let ip = event
        .member("sourceIPs")
        .filter(|ips| ips.starts_with('['))
        .and_then(|ips| serde_json::from_str::<Vec<&RawValue>>(ips).ok())
        .and_then(|ips| string_json(ips.first().map(|first| first.get())).map(Cow::into_owned));
    let client = ip.map(|ip| format!("{{\"ip\":{ip}}}"));
    push_object(out, "network", &[("client", client.as_deref())]);

    if let Some(object_ref) = event.member("objectRef").filter(|o| o.starts_with('{')) {
        if let Some(namespace) = string_json(member(Some(object_ref), "namespace")) {
            out.push_str(",\"kube_namespace\":");
            out.push_str(&namespace);
        }
        out.push_str(",\"objectRef\":");
        out.push_str(object_ref);
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

    proptest::proptest! {
        /// Strings reach the attributes unchanged whatever they hold, and
        /// whether the event wrote them with escapes or not.
        #[test]
        fn strings_carry_over_whatever_they_hold(
            fields in proptest::collection::vec("[a-z&\"\\\\/é\u{1}\u{2028}? ]{0,8}", 6),
            go in proptest::bool::ANY,
        ) {
            let [verb, name, agent, ip, namespace, uri] = <[String; 6]>::try_from(fields).unwrap();
            let event = json!({
                "verb": verb, "userAgent": agent, "requestURI": uri, "sourceIPs": [ip],
                "user": {"username": name}, "objectRef": {"namespace": namespace},
            });
            let mut literal = serde_json::to_string(&event.to_string()).unwrap();
            if go {
                literal = literal.replace('&', "\\\\u0026");
            }
            let mut out = String::new();
            write_attributes(&literal, &mut out);
            let a: Value = serde_json::from_str(&format!("{{\"x\":0{out}}}")).unwrap();
            let path = uri.split('?').next().unwrap();
            proptest::prop_assert_eq!(&a["http"], &json!({"method": verb, "useragent": agent, "url_details": {"path": path}}));
            proptest::prop_assert_eq!(&a["usr"]["name"], &json!(name));
            proptest::prop_assert_eq!(&a["network"]["client"]["ip"], &json!(ip));
            proptest::prop_assert_eq!(&a["kube_namespace"], &json!(namespace));
        }
    }
}
