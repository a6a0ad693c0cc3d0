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
    let (out, values) = redacted(&SecretRedactor::new(&["configmaps".to_owned()]), &cm).unwrap();
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
    let meta = json!({"kind": "Event", "level": "Metadata", "objectRef": {"resource": "secrets"}});
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

/// Review findings: shapes that let values through.
#[test]
fn json_patches_tables_and_grouped_resources() {
    let r = SecretRedactor::new(&["sealedsecrets.bitnami.com".to_owned()]);
    let patch = json!({"kind": "Event", "verb": "patch",
        "objectRef": {"resource": "secrets", "namespace": "prod", "name": "db"},
        "requestObject": [
            {"op": "replace", "path": "/data/password", "value": "aHVudGVyMg=="},
            {"op": "add", "path": "/stringData", "value": {"k": "plain-secret"}},
            {"op": "add", "path": "/metadata/labels/team", "value": "payments"},
            {"op": "add", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration", "value": "{\"data\":{\"p\":\"eA==\"}}"},
            {"op": "remove", "path": "/data/old"}]});
    let (out, values) = redacted(&r, &patch).unwrap();
    assert_eq!(values, 3);
    assert_eq!(out["requestObject"][2]["value"], "payments");
    let text = out.to_string();
    for secret in ["aHVudGVyMg==", "plain-secret", "eA=="] {
        assert!(!text.contains(secret), "{text}");
    }

    let table = json!({"kind": "Event", "verb": "list", "objectRef": {"resource": "secrets"},
        "responseObject": {"kind": "Table", "rows": [{"cells": ["db", "Opaque", 1], "object": {"kind": "Secret", "data": {"p": "c2VjcmV0"},
            "metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"p\":\"c2VjcmV0\"}}"}}}}]}});
    let (out, _) = redacted(&r, &table).unwrap();
    assert!(!out.to_string().contains("c2VjcmV0"), "{out}");
    assert_eq!(out["responseObject"]["rows"][0]["cells"][0], "db");

    let sealed = |group: &str| {
        json!({"kind": "Event", "verb": "create",
        "objectRef": {"resource": "sealedsecrets", "apiGroup": group},
        "requestObject": {"data": {"x": "c2VhbGVk"}}})
    };
    assert!(redacted(&r, &sealed("bitnami.com")).is_some());
    assert!(redacted(&r, &sealed("example.com")).is_none());
}

/// Review finding: an event `Value` cannot hold (too deep, a number
/// out of range, a lone surrogate) went out unredacted.
#[test]
fn events_that_cannot_be_parsed_whole_lose_their_objects_not_their_fields() {
    let r = SecretRedactor::new(&[]);
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    for odd in [deep.as_str(), "1e400", r#""\ud800""#] {
        let text = format!(
            r#"{{"kind":"Event","verb":"patch","user":{{"username":"alice"}},"objectRef":{{"resource":"secrets","name":"db"}},"requestObject":{{"x":{odd},"data":{{"p":"c2VjcmV0"}}}},"responseObject":{{"data":{{"p":"c2VjcmV0"}}}}}}"#
        );
        let out = r.redact(&serde_json::to_string(&text).unwrap()).expect(odd);
        let message: String = serde_json::from_str(&out.message_json).unwrap();
        assert!(!message.contains("c2VjcmV0"), "{message}");
        assert!(message.contains(r#""username":"alice""#), "{message}");
        assert_eq!((out.values, out.withheld), (2, false));
    }
    // Not a secret: left alone, however odd.
    let deployment = format!(
        r#"{{"objectRef":{{"resource":"deployments"}},"requestObject":{{"token":{deep}}}}}"#
    );
    assert!(
        r.redact(&serde_json::to_string(&deployment).unwrap())
            .is_none()
    );
    // Cut short: withheld when about a secret (or unknowable), left as
    // it came otherwise (a pod spec names "token" and "secrets" too).
    let cut = r#"{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"p":"c2Vj"#;
    let out = r.redact(&serde_json::to_string(cut).unwrap()).unwrap();
    assert!(out.withheld);
    assert_eq!(out.message_json, serde_json::to_string(WITHHELD).unwrap());
    let pod = r#"{"verb":"create","objectRef":{"resource":"pods","namespace":"kube-system"},"requestObject":{"spec":{"volumes":[{"projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}],"containers":[{"volumeMounts":[{"mountPath":"/var/run/secrets/x"}"#;
    assert!(r.redact(&serde_json::to_string(pod).unwrap()).is_none());
    let unknowable = r#"{"verb":"create","requestObject":{"data":{"token":"c2Vj"#;
    assert!(
        r.redact(&serde_json::to_string(unknowable).unwrap())
            .unwrap()
            .withheld
    );
    // Duplicate objectRef: the last one counts, as for serde_json.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let dup = format!(
        r#"{{"objectRef":{{"resource":"pods"}},"objectRef":{{"resource":"secrets"}},"requestObject":{{"x":{deep},"data":{{"p":"c2VjcmV0"}}}}}}"#
    );
    let out = r.redact(&serde_json::to_string(&dup).unwrap()).unwrap();
    assert!(!out.message_json.contains("c2VjcmV0"));
}

/// Second review: shapes where an object belongs but something else
/// is found are replaced whole, never passed.
#[test]
fn unexpected_shapes_of_secret_objects_are_replaced_whole() {
    let r = SecretRedactor::new(&[]);
    let sides = [
        json!([[{"op": "add", "path": "/data/x", "value": "SEKRIT"}]]),
        json!(["SEKRIT"]),
        json!("password=SEKRIT"),
        json!({"kind": "Table", "rows": [{"object": "SEKRIT"}, ["SEKRIT"]]}),
        json!({"kind": "SecretList", "items": [[{"stringData": {"k": "SEKRIT"}}]]}),
        json!({"kind": "SecretList", "items": "SEKRIT"}),
        json!([{"op": "add", "path": "/metadata/annotations", "value": "SEKRIT"}]),
        json!([{"op": "add", "path": "/metadata", "value": {"annotations": "SEKRIT"}}]),
        json!({"metadata": {"annotations": "SEKRIT"}}),
        json!({"metadata": "SEKRIT"}),
    ];
    for side in sides {
        let event = json!({"kind": "Event", "verb": "patch",
            "objectRef": {"resource": "secrets", "name": "db"}, "requestObject": side});
        let (out, values) = redacted(&r, &event).unwrap_or_else(|| panic!("{event}"));
        assert!(
            values > 0 && !out.to_string().contains("SEKRIT"),
            "{event} -> {out}"
        );
    }
}
