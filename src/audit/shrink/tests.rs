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
fn size_estimates_match_the_encoding() {
    let ev = audit_event(1_000);
    let Value::Object(mut map) = ev.clone() else {
        panic!()
    };
    let full = encode_message(&map, encode_literal).len();
    let value = map.remove("responseObject").unwrap();
    assert_eq!(
        full - field_cost("responseObject", &value, true),
        encode_message(&map, encode_literal).len()
    );
    assert_eq!(
        escaped_len("a\"b\\c\n\u{1}é"),
        1 + 2 + 1 + 2 + 1 + 2 + 6 + 2
    );
    assert_eq!(
        serde_json::to_string("a\"b\\c\n\u{1}é").unwrap().len(),
        2 + escaped_len("a\"b\\c\n\u{1}é")
    );
}

/// An event with thousands of nested bodies (which took minutes when
/// the event was re-serialized after every removal): the size
/// bookkeeping must still land within the budget with the rest intact.
#[test]
fn thousands_of_nested_bodies_shrink_correctly() {
    let mut ev = audit_event(0);
    let items: Vec<Value> = (0..3_000)
        .map(|i| json!({"responseObject": {"pad": "p".repeat(300)}, "requestObject": {"n": i}, "name": format!("item-{i}")}))
        .collect();
    ev["embedded"] = json!(items);
    let lit = literal(&ev);
    let budget = lit.len() / 2;
    let shrunk = shrink_message(&lit, budget);
    let ShrunkMessage::Event {
        removed,
        message_json,
        ..
    } = &shrunk
    else {
        panic!("cut")
    };
    assert!(message_json.len() <= budget);
    assert!(removed.len() > 100, "{}", removed.len());
    let v = parse_shrunk(&shrunk);
    assert_eq!(v["embedded"].as_array().unwrap().len(), 3_000);
    assert_eq!(v["embedded"][2_999]["name"], "item-2999");
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
