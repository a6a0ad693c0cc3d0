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

use serde::Deserialize;
use serde_json::value::RawValue;

/// The fields read, each taken raw so an odd type costs only its attribute.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditFields<'a> {
    #[serde(borrow)]
    verb: Option<&'a RawValue>,
    #[serde(borrow, rename = "requestURI")]
    request_uri: Option<&'a RawValue>,
    #[serde(borrow)]
    user_agent: Option<&'a RawValue>,
    #[serde(borrow, rename = "sourceIPs")]
    source_ips: Option<&'a RawValue>,
    #[serde(borrow)]
    user: Option<&'a RawValue>,
    #[serde(borrow)]
    response_status: Option<&'a RawValue>,
    #[serde(borrow)]
    object_ref: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    username: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Status<'a> {
    #[serde(borrow)]
    code: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ObjectRef<'a> {
    #[serde(borrow)]
    namespace: Option<&'a RawValue>,
}

fn text<'a>(raw: Option<&'a RawValue>) -> Option<Cow<'a, str>> {
    serde_json::from_str(raw?.get()).ok()
}

fn nested<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    serde_json::from_str(raw?.get()).ok()
}

/// Appends the attributes of the audit event in `message_json` (a JSON
/// string literal) to `out`, each as `,"name":value`. Nothing is appended
/// for a message that is not an audit event.
pub fn write_attributes(message_json: &str, out: &mut String) {
    if !message_json.starts_with("\"{") {
        return;
    }
    let Ok(message) = serde_json::from_str::<Cow<'_, str>>(message_json) else {
        return;
    };
    let Ok(event) = serde_json::from_str::<AuditFields<'_>>(&message) else {
        return;
    };
    let status: Option<u16> = nested::<Status<'_>>(event.response_status)
        .and_then(|s| serde_json::from_str(s.code?.get()).ok());
    let path = text(event.request_uri).map(|uri| {
        let end = uri.find('?').unwrap_or(uri.len());
        uri[..end].to_owned()
    });
    let mut http = serde_json::Map::new();
    if let Some(verb) = text(event.verb) {
        http.insert("method".into(), verb.into());
    }
    if let Some(code) = status {
        http.insert("status_code".into(), code.into());
    }
    if let Some(agent) = text(event.user_agent) {
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

    let user = nested::<User<'_>>(event.user).and_then(|u| text(u.username));
    push(
        out,
        "usr",
        user.map(|name| serde_json::json!({ "name": name })),
    );

    let ip = nested::<Vec<Cow<'_, str>>>(event.source_ips).and_then(|ips| ips.into_iter().next());
    push(
        out,
        "network",
        ip.map(|ip| serde_json::json!({ "client": { "ip": ip } })),
    );

    if let Some(object_ref) = event.object_ref.filter(|o| o.get().starts_with('{')) {
        let namespace = nested::<ObjectRef<'_>>(Some(object_ref)).and_then(|o| text(o.namespace));
        push(out, "kube_namespace", namespace.map(|n| n.into()));
        out.push_str(",\"objectRef\":");
        out.push_str(object_ref.get());
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
