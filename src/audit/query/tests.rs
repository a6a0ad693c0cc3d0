use super::eval::glob_matches;
use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn query(text: &str) -> AuditQuery {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn matches(text: &str, event: &Value) -> bool {
    let json = event.to_string();
    let event = AuditEvent::parse(&json).expect("an object");
    query(text).matches(&event)
}

fn error(text: &str) -> QueryError {
    match text.parse::<AuditQuery>() {
        Ok(q) => panic!("{text:?} should not parse, got {q:?}"),
        Err(e) => e,
    }
}

fn node_watch() -> Value {
    json!({
        "kind": "Event", "verb": "watch", "stage": "ResponseComplete",
        "requestURI": "/api/v1/pods?watch=true",
        "user": {"username": "system:node:ip-10-0-1-23.eu-west-1.compute.internal",
                 "groups": ["system:nodes", "system:authenticated"]},
        "sourceIPs": ["10.0.1.23"],
        "userAgent": "kubelet/v1.31.2",
        "objectRef": {"resource": "pods", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "annotations": {"authorization.k8s.io/decision": "allow"}
    })
}

#[test]
fn the_issue_example_selects_system_reads() {
    let q = r"@verb:(get OR list OR watch) @user.username:system\:*";
    assert!(matches(q, &node_watch()));
    let mut write = node_watch();
    write["verb"] = json!("update");
    assert!(!matches(q, &write));
    let mut human = node_watch();
    human["user"]["username"] = json!("arn:aws:iam::123456789012:role/admin");
    assert!(!matches(q, &human));
}

#[test]
fn values_are_exact_case_sensitive_and_globbed() {
    let e = node_watch();
    assert!(matches("@verb:watch", &e));
    assert!(!matches("@verb:Watch", &e));
    assert!(!matches("@verb:wat", &e));
    assert!(matches("@verb:wat*", &e));
    assert!(matches("@verb:w?tch", &e));
    assert!(matches("@verb:*a*c*", &e));
    assert!(!matches("@verb:w?ch", &e));
    // Unescaped colons after the first are part of the value.
    assert!(matches("@user.username:system:node:*", &e));
    assert!(matches(r"@user.username:system\:node\:ip-10-0-1-23*", &e));
    assert!(matches(r#"@requestURI:"/api/v1/pods?watch=true""#, &e));
    assert!(!matches(r#"@requestURI:"/api/v1/pods*""#, &e));
    assert!(matches(r"@requestURI:/api/v1/pods\?watch=true", &e));
}

#[test]
fn lists_match_on_any_item_and_star_means_present() {
    let e = node_watch();
    assert!(matches(r"@user.groups:system\:nodes", &e));
    assert!(matches(r"@user.groups:system\:authenticated", &e));
    assert!(!matches(r"@user.groups:system\:masters", &e));
    assert!(matches("@objectRef:*", &e));
    assert!(matches("@user.groups:*", &e));
    assert!(!matches("@impersonatedUser:*", &e));
    assert!(matches("-@impersonatedUser:*", &e));
    // A list of objects: a path through it reaches every item.
    let list = json!({"responseObject": {"items": [
        {"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}});
    assert!(matches("@responseObject.items.metadata.name:b", &list));
    assert!(!matches("@responseObject.items.metadata.name:c", &list));
}

#[test]
fn numbers_compare_in_ranges() {
    let mut e = node_watch();
    assert!(matches("@responseStatus.code:[200 TO 299]", &e));
    assert!(matches("@responseStatus.code:200", &e));
    assert!(!matches("@responseStatus.code:{200 TO 299]", &e));
    assert!(matches("@responseStatus.code:[200 TO 299}", &e));
    assert!(matches("@responseStatus.code:[* TO 200]", &e));
    assert!(!matches("@responseStatus.code:>=400", &e));
    assert!(matches("@responseStatus.code:<=200", &e));
    assert!(!matches("@responseStatus.code:<200", &e));
    assert!(matches("@responseStatus.code:>199.5", &e));
    e["responseStatus"]["code"] = json!(403);
    assert!(matches("@responseStatus.code:>=400", &e));
    assert!(matches("@responseStatus.code:[400 TO *]", &e));
    assert!(!matches("@verb:>1", &e), "text is not a number");
    e["responseStatus"]["code"] = json!("inf");
    assert!(!matches("@responseStatus.code:>=400", &e), "nor is inf");
    e["responseStatus"]["code"] = json!(404);
    assert!(matches("@responseStatus.code:[400 TO 499 ]", &e));
}

#[test]
fn boolean_operators_follow_datadog_precedence() {
    let e = node_watch();
    // AND binds tighter than OR.
    assert!(matches("@verb:get AND @verb:list OR @verb:watch", &e));
    assert!(!matches("@verb:get AND (@verb:list OR @verb:watch)", &e));
    assert!(matches("@verb:watch -@objectRef.resource:secrets", &e));
    assert!(!matches("@verb:watch NOT @objectRef.resource:pods", &e));
    assert!(matches("NOT (@verb:get OR @verb:list)", &e));
    assert!(matches("-(@verb:get OR @verb:list)", &e));
    assert!(matches("@verb:(get OR (list OR watch))", &e));
    assert!(!matches("@verb:(-watch)", &e));
    assert!(matches("@verb:(watch AND w*)", &e));
    assert!(matches(
        "  @verb:watch\n  AND\t@objectRef.resource:(pods OR nodes)  ",
        &e
    ));
}

#[test]
fn dotted_keys_are_found_as_written_or_escaped() {
    let e = node_watch();
    assert!(matches(
        "@annotations.authorization.k8s.io/decision:allow",
        &e
    ));
    assert!(matches(
        r"@annotations.authorization\.k8s\.io/decision:allow",
        &e
    ));
    assert!(!matches(
        "@annotations.authorization.k8s.io/decision:forbid",
        &e
    ));
    assert!(!matches("@annotations.authorization:*", &e));
}

#[test]
fn datadog_attribute_names_read_the_audit_fields() {
    let e = node_watch();
    assert!(matches("@http.method:watch", &e));
    assert!(
        matches(r"@http.meth\od:watch", &e),
        "escapes resolve before aliases"
    );
    assert!(matches("@http.status_code:[200 TO 299]", &e));
    assert!(matches(r"@usr.name:system\:node\:*", &e));
    assert!(matches("@http.useragent:kubelet*", &e));
    let mut ns = node_watch();
    ns["objectRef"]["namespace"] = json!("kube-system");
    assert!(matches("@kube_namespace:kube-system", &ns));
}

#[test]
fn cidr_matches_v4_and_v6_networks() {
    let mut e = node_watch();
    let private = "CIDR(@sourceIPs, 10.0.0.0/8, 172.16.0.0/12, fc00::/7)";
    assert!(matches(private, &e));
    assert!(matches("CIDR(@sourceIPs,10.0.1.0/24)", &e));
    assert!(!matches("CIDR(@sourceIPs, 10.0.2.0/24)", &e));
    e["sourceIPs"] = json!(["203.0.113.50"]);
    assert!(!matches(private, &e));
    assert!(matches("CIDR(@sourceIPs, 203.0.113.50)", &e));
    e["sourceIPs"] = json!(["fd00:ec2::23"]);
    assert!(matches(private, &e));
    e["sourceIPs"] = json!(["2001:db8::1", "not an ip"]);
    assert!(!matches(private, &e));
    assert!(matches("CIDR(@sourceIPs, 0.0.0.0/0, ::/0)", &e));
    // An IPv4-mapped IPv6 address is its IPv4 address.
    e["sourceIPs"] = json!(["::ffff:10.0.1.23"]);
    assert!(matches(private, &e));
}

/// A client can put private addresses first (`X-Forwarded-For`); the API
/// server appends the real one. `-CIDR(private)` would miss it (no item
/// is private? one is), `PUBLIC_IP` finds it.
#[test]
fn public_ip_finds_a_public_address_anywhere_in_the_list() {
    let mut e = node_watch();
    assert!(!matches("PUBLIC_IP(@sourceIPs)", &e));
    e["sourceIPs"] = json!(["10.0.1.23", "203.0.113.50"]);
    assert!(matches("PUBLIC_IP(@sourceIPs)", &e));
    assert!(!matches("-CIDR(@sourceIPs, 10.0.0.0/8)", &e));
    for private in [
        "100.64.1.2",
        "169.254.169.254",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
        "::1",
        "::ffff:192.168.1.1",
    ] {
        e["sourceIPs"] = json!([private, "not an address"]);
        assert!(!matches("PUBLIC_IP( @sourceIPs )", &e), "{private}");
    }
    e["sourceIPs"] = json!(["2600:1f18::1"]);
    assert!(matches("PUBLIC_IP(@sourceIPs)", &e));
}

/// Review finding: a crafted deeply nested list in a patch body overflowed
/// the stack when a query read a field holding it.
#[test]
fn deeply_nested_lists_are_not_recursed_into() {
    let depth = 200_000;
    let json = format!(
        r#"{{"verb":"patch","requestObject":{{"spec":{{"containers":{}1{}}}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let event = AuditEvent::parse(&json).expect("serde_json skips raw values without recursing");
    assert!(
        !query("@requestObject.spec.containers.securityContext.privileged:true").matches(&event)
    );
    assert!(query("@requestObject.spec.containers:*").matches(&event));
    assert!(query("@verb:patch").matches(&event));
}

#[test]
fn escapes_in_field_names_are_read_once() {
    let e = json!({"a\\": {"b": 1}, "a.b": 2});
    assert!(matches(r"@a\\.b:1", &e));
    assert!(matches(r"@a\.b:2", &e));
}

#[test]
fn odd_types_and_missing_fields_match_nothing() {
    let odd = json!({"verb": 7, "user": "alice", "objectRef": ["pods"],
                     "responseStatus": {"code": "403"}, "sourceIPs": "10.0.0.1",
                     "stage": null, "annotations": true});
    assert!(matches("@verb:7", &odd), "a number matches by its text");
    assert!(!matches("@user.username:*", &odd));
    assert!(matches("-@user.username:alice", &odd));
    assert!(matches("@objectRef:pods", &odd));
    assert!(
        matches("@responseStatus.code:>=400", &odd),
        "a numeric string compares"
    );
    assert!(matches("CIDR(@sourceIPs, 10.0.0.0/8)", &odd));
    assert!(!matches("@stage:*", &odd));
    assert!(matches("@annotations:true", &odd));
    assert!(!matches("@annotations.x:*", &odd));
    assert!(AuditEvent::parse("[1, 2]").is_none());
    assert!(AuditEvent::parse("plain text").is_none());
    assert!(AuditEvent::parse("{\"truncated\": ").is_none());
}

#[test]
fn non_ascii_text_matches_by_character() {
    let e = json!({"user": {"username": "zoë@東京.example", "extra": {"sessionName": ["Ğüñ-1"]}},
                   "objectRef": {"name": "café-✓"}});
    assert!(matches("@user.username:zoë*", &e));
    assert!(matches("@user.username:zo?@東?.example", &e));
    assert!(!matches("@user.username:zo?@?.example", &e));
    assert!(matches("@user.extra.sessionName:Ğüñ-?", &e));
    assert!(matches(r#"@objectRef.name:"café-✓""#, &e));
    // Escaped in the JSON text, the same characters still match.
    let escaped = r#"{"user":{"username":"zo\u00eb"}}"#;
    let event = AuditEvent::parse(escaped).unwrap();
    assert!(query("@user.username:zoë").matches(&event));
}

#[test]
fn bad_queries_say_where_and_what() {
    let cases = [
        ("", 1, "empty"),
        ("   ", 4, "empty"),
        ("watch", 1, "free-text"),
        ("verb:get", 1, "start with @"),
        ("source:kubernetes.audit", 1, "reserved attributes"),
        ("@verb:(get OR @user.username:bob)", 15, "not @field terms"),
        ("PUBLIC_IP(@sourceIPs", 21, "PUBLIC_IP(@field)"),
        ("@network.client.ip:10.0.0.1", 1, "use @sourceIPs"),
        (r"@netw\ork.client.ip:10.0.0.1", 1, "use @sourceIPs"),
        (
            "@verb:get -@http.url_details.path:/api*",
            12,
            "use @requestURI",
        ),
        ("@verb:", 7, "value is missing"),
        ("@verb: get", 7, "value is missing"),
        ("@verb:(get OR list", 19, "not closed"),
        ("@verb:get)", 10, "without its '('"),
        ("@verb:get OR", 13, "missing at the end"),
        ("@:get", 1, "field name"),
        ("*:get", 1, "start with @"),
        ("@*:get", 1, "field name"),
        ("@responseStatus.code:[400 499]", 27, "TO"),
        ("@responseStatus.code:[400 TO 499", 33, "']' or '}'"),
        ("@responseStatus.code:[four TO 499]", 23, "not a number"),
        ("@responseStatus.code:>=four", 24, "number"),
        ("@user..username:x", 1, "empty name"),
        ("@verb:get\\", 11, "escapes nothing"),
        ("@name:\"open", 7, "not closed"),
        ("CIDR(@sourceIPs)", 16, "CIDR(@field"),
        ("CIDR(@sourceIPs, 10.0.0.0/33)", 18, "not a network"),
        ("CIDR(@sourceIPs, nope)", 18, "not a network"),
        ("()", 2, "before ')'"),
    ];
    for (text, at, reason) in cases {
        let e = error(text);
        assert!(
            e.at == at && e.reason.contains(reason),
            "{text:?}: got {e}, expected at {at} with {reason:?}"
        );
    }
    let deep = format!("{}@verb:get{}", "(".repeat(40), ")".repeat(40));
    assert!(error(&deep).reason.contains("nested"));
    let negations = format!("{}@verb:get", "-".repeat(100));
    assert!(error(&negations).reason.contains("nested"));
}

/// The glob as a regular expression, for comparison.
fn glob_regex(parts: &[GlobPart]) -> regex::Regex {
    let mut pattern = String::from("^");
    for part in parts {
        match part {
            GlobPart::Literal(s) => pattern.push_str(&regex::escape(s)),
            GlobPart::AnyRun => pattern.push_str("(?s:.*)"),
            GlobPart::AnyChar => pattern.push_str("(?s:.)"),
        }
    }
    pattern.push('$');
    regex::Regex::new(&pattern).unwrap()
}

fn glob_part() -> impl Strategy<Value = GlobPart> {
    prop_oneof![
        "[ab✓]{1,3}".prop_map(GlobPart::Literal),
        Just(GlobPart::AnyRun),
        Just(GlobPart::AnyChar),
    ]
}

/// Queries that share a field table, and one cache per event, answer as
/// they do alone, whatever order they run in and whichever field values
/// another query looked up first.
#[test]
fn queries_sharing_fields_answer_as_they_do_alone() {
    let texts = [
        r"@verb:(watch OR get) @user.username:system\:node\:*",
        r"-@verb:watch OR @objectRef.resource:pods",
        r"@responseStatus.code:[200 TO 299] @user.groups:system\:nodes",
        r"CIDR(@sourceIPs, 10.0.0.0/8) -@objectRef.subresource:*",
        r"@annotations.authorization.k8s.io/decision:allow @verb:get",
    ];
    let mut events = vec![node_watch()];
    for (field, value) in [
        ("verb", json!("get")),
        ("sourceIPs", json!(["203.0.113.9"])),
        (
            "objectRef",
            json!({"resource": "secrets", "subresource": "x"}),
        ),
        (
            "user",
            json!({"username": "alice", "groups": ["system:nodes"]}),
        ),
        ("responseStatus", json!({"code": 403})),
    ] {
        let mut e = node_watch();
        e[field] = value;
        events.push(e);
    }
    let alone: Vec<AuditQuery> = texts.iter().map(|t| query(t)).collect();
    for rotation in 0..texts.len() {
        let mut shared = alone.clone();
        shared.rotate_left(rotation);
        let mut table = Vec::new();
        for q in &mut shared {
            q.share_fields(&mut table);
        }
        shared.rotate_right(rotation);
        for event in &events {
            let json = event.to_string();
            let parsed = AuditEvent::parse(&json).unwrap();
            let mut cache = FieldCache::default();
            for (i, (a, s)) in alone.iter().zip(&shared).enumerate().rev() {
                assert_eq!(
                    a.matches(&parsed),
                    s.matches_cached(&parsed, &mut cache),
                    "query {i} on {event}"
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn glob_agrees_with_a_regex(parts in prop::collection::vec(glob_part(), 0..6), text in "[ab✓]{0,8}") {
        prop_assert_eq!(glob_matches(&parts, &text), glob_regex(&parts).is_match(&text));
    }

    #[test]
    fn any_text_parses_or_fails_without_panicking(text in "[@a-z:().*?\\[\\]{}<>=\" \\\\-]{0,40}") {
        if let Ok(q) = text.parse::<AuditQuery>() {
            let json = node_watch().to_string();
            q.matches(&AuditEvent::parse(&json).unwrap());
        }
    }
}
