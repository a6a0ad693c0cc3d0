//! Privacy fails closed: generated audit events that no JSON tree can
//! hold (escapes, deep nesting, `1e400`, lone surrogates, duplicate keys,
//! oversize), sent through the forwarder with secret redaction,
//! `REDACT_IP`, `REDACT_EMAIL` and the SIEM attributes on. No secret
//! value, address or email of the input may reach the output in any
//! spelling, and every message shipped must still be a JSON document.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use eks_audit_forwarder::metrics::InvocationSummary;
use eks_audit_forwarder::{Config, Destination, Forwarder, Invocation};
use proptest::prelude::*;
use serde_json::value::RawValue;

/// One hostile event's recipe.
#[derive(Debug, Clone)]
struct Recipe {
    /// What the event is about: a secret, a token review, a config map
    /// (redacted with `DD_REDACT_RESOURCES=configmaps`) or a pod (not).
    kind: Kind,
    /// Secret values, addresses and emails are written with `\u` escapes.
    escaped: bool,
    /// `\u0026` in the request URI, as Go writes every `&`.
    ampersand: bool,
    /// Nesting depth of a value in the request body (0: none).
    depth: usize,
    /// A number no `f64` holds.
    huge_number: bool,
    /// A lone surrogate in the body (the event's own escape).
    inner_surrogate: bool,
    /// A lone surrogate in the CloudWatch message string itself.
    outer_surrogate: bool,
    /// The secret data twice, the last copy empty.
    duplicate_data: bool,
    /// Bulk that takes the log over the intake's 1 MB limit.
    oversize: bool,
    ip: [u8; 4],
    mailbox: String,
    token: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    TokenReview,
    ConfigMap,
    Pod,
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        prop_oneof![
            Just(Kind::Secret),
            Just(Kind::TokenReview),
            Just(Kind::ConfigMap),
            Just(Kind::Pod)
        ],
        any::<[bool; 7]>(),
        prop_oneof![Just(0usize), 129usize..400],
        proptest::bool::weighted(0.15),
        (1u8..=254, any::<u8>(), any::<u8>(), 1u8..=254),
        "[a-z]{3,8}",
        any::<u32>(),
    )
        .prop_map(
            |(kind, flags, depth, oversize, ip, mailbox, token)| Recipe {
                kind,
                escaped: flags[0],
                ampersand: flags[1],
                depth,
                huge_number: flags[2],
                inner_surrogate: flags[3],
                outer_surrogate: flags[4],
                duplicate_data: flags[5],
                oversize,
                ip: [ip.0, ip.1, ip.2, ip.3],
                mailbox,
                token,
            },
        )
}

impl Recipe {
    fn address(&self) -> String {
        let [a, b, c, d] = self.ip;
        format!("{a}.{b}.{c}.{d}")
    }

    fn email(&self) -> String {
        format!("{}@corp.example.com", self.mailbox)
    }

    fn secret(&self) -> String {
        format!("S3CR3T{:08x}", self.token)
    }

    /// Every value that must not come out, as the input spells it.
    fn forbidden(&self) -> Vec<String> {
        let mut out = vec![self.address(), self.email()];
        if self.kind != Kind::Pod {
            out.push(self.secret());
        }
        out
    }

    /// `text` as a JSON string body, each character escaped as `\uXXXX`
    /// when the recipe says so: what a client may send in a body.
    fn spell(&self, text: &str) -> String {
        if !self.escaped {
            return text.to_owned();
        }
        text.chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect()
    }

    /// The audit event's JSON text, written by hand so every escape is
    /// the recipe's.
    fn event_text(&self) -> String {
        let (resource, group, object_kind) = match self.kind {
            Kind::Secret => ("secrets", "", "Secret"),
            Kind::TokenReview => ("tokenreviews", "authentication.k8s.io", "TokenReview"),
            Kind::ConfigMap => ("configmaps", "", "ConfigMap"),
            Kind::Pod => ("pods", "", "Pod"),
        };
        let query = if self.ampersand {
            r"?fieldManager=kubectl\u0026dryRun=None"
        } else {
            ""
        };
        let mut extras = String::new();
        if self.depth > 0 {
            extras.push_str(&format!(
                r#","deep":{}"x"{}"#,
                "[".repeat(self.depth),
                "]".repeat(self.depth)
            ));
        }
        if self.huge_number {
            extras.push_str(r#","replicas":1e400"#);
        }
        if self.inner_surrogate {
            extras.push_str(r#","note":"\ud800 half""#);
        }
        if self.oversize {
            extras.push_str(&format!(r#","bulk":"{}""#, "b".repeat(1_100_000)));
        }
        let secret = self.spell(&self.secret());
        let body = match self.kind {
            Kind::TokenReview => {
                format!(r#"{{"kind":"TokenReview","spec":{{"token":"{secret}"}}{extras}}}"#)
            }
            _ => {
                let data = if self.duplicate_data {
                    format!(r#""data":{{"password":"{secret}"}},"data":{{}}"#)
                } else {
                    format!(r#""data":{{"password":"{secret}"}}"#)
                };
                format!(
                    r#"{{"kind":"{object_kind}","metadata":{{"name":"app","annotations":{{"owner":"{email}","peer":"{ip}"}}}},{data}{extras}}}"#,
                    email = self.spell(&self.email()),
                    ip = self.spell(&self.address()),
                )
            }
        };
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0d5c3a1e-4a7b-4e8f-9d2c-{token:012x}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/{resource}{query}","verb":"create","user":{{"username":"{email}","groups":["system:authenticated"]}},"sourceIPs":["{ip}"],"userAgent":"kubectl/v1.31.2","objectRef":{{"resource":"{resource}","namespace":"prod","name":"app","apiGroup":"{group}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":201}},"requestObject":{body},"responseObject":{body},"requestReceivedTimestamp":"2026-11-26T10:00:00.000000Z","stageTimestamp":"2026-11-26T10:00:00.004000Z","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by {ip}"}}}}"#,
            token = self.token,
            email = self.email(),
            ip = self.address(),
        )
    }

    /// The CloudWatch message: the event text as a JSON string. The
    /// message string's own lone surrogate goes inside a value of the
    /// event (the decision's reason), where the event stays JSON.
    fn message_literal(&self) -> String {
        let literal = serde_json::to_string(&self.event_text()).unwrap();
        if self.outer_surrogate {
            literal.replacen("RBAC: allowed", "RBAC:\\ud800 allowed", 1)
        } else {
            literal
        }
    }
}

/// A subscription delivery holding `literals` as its messages.
fn lambda_event(literals: &[String]) -> Box<RawValue> {
    let events: Vec<String> = literals
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                r#"{{"id":"{:056}","timestamp":{},"message":{m}}}"#,
                37_000_000 + i,
                1_764_151_200_000u64 + i as u64
            )
        })
        .collect();
    let document = format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-0a1b","subscriptionFilters":["f"],"logEvents":[{}]}}"#,
        events.join(",")
    );
    RawValue::from_string(support::payload::wrap(document.as_bytes())).unwrap()
}

/// A writer the dry run fills and the test reads.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn forwarder(out: &Captured) -> Forwarder {
    let vars = [
        ("REDACT_IP", "true"),
        ("REDACT_EMAIL", "true"),
        ("DD_SIEM_ATTRIBUTES", "true"),
        ("DD_REDACT_RESOURCES", "configmaps"),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    Forwarder::new(
        &config,
        Destination::DryRun(Arc::new(Mutex::new(out.clone()))),
    )
}

/// Grammar-level JSON check with no depth limit and no opinion on lone
/// surrogates (a decoder would refuse them; the grammar does not).
fn is_json_document(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let mut stack: Vec<u8> = Vec::new();
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\n' | b'\r' | b'\t') {
            *i += 1;
        }
    };
    // Expecting a value at i.
    loop {
        ws(&mut i);
        let Some(&c) = b.get(i) else { return false };
        match c {
            b'{' | b'[' => {
                stack.push(c);
                i += 1;
                ws(&mut i);
                let close = if c == b'{' { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    stack.pop();
                    i += 1;
                } else {
                    if c == b'{' && !key(b, &mut i) {
                        return false;
                    }
                    continue;
                }
            }
            b'"' => {
                if !string(b, &mut i) {
                    return false;
                }
            }
            _ => {
                let start = i;
                while i < b.len()
                    && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let number = token
                    .trim_start_matches('-')
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit());
                if !(number || matches!(token, "true" | "false" | "null")) {
                    return false;
                }
            }
        }
        // After a value: a comma, a close, or the end.
        loop {
            ws(&mut i);
            match (stack.last(), b.get(i)) {
                (None, None) => return true,
                (None, Some(_)) => return false,
                (Some(&open), Some(b',')) => {
                    i += 1;
                    if open == b'{' && !key(b, &mut i) {
                        return false;
                    }
                    break;
                }
                (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')) => {
                    stack.pop();
                    i += 1;
                }
                _ => return false,
            }
        }
    }
}

/// An object's key and its colon at `i`, with the spaces around them.
fn key(b: &[u8], i: &mut usize) -> bool {
    let skip_spaces = |i: &mut usize| {
        while b
            .get(*i)
            .is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
        {
            *i += 1;
        }
    };
    skip_spaces(i);
    if !string(b, i) {
        return false;
    }
    skip_spaces(i);
    if b.get(*i) != Some(&b':') {
        return false;
    }
    *i += 1;
    true
}

/// A string literal at `i` (escapes checked by shape only).
fn string(b: &[u8], i: &mut usize) -> bool {
    if b.get(*i) != Some(&b'"') {
        return false;
    }
    *i += 1;
    while let Some(&c) = b.get(*i) {
        match c {
            b'"' => {
                *i += 1;
                return true;
            }
            b'\\' => match b.get(*i + 1) {
                Some(b'u') => {
                    if !b
                        .get(*i + 2..*i + 6)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
                    {
                        return false;
                    }
                    *i += 6;
                }
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => *i += 2,
                _ => return false,
            },
            0x00..=0x1f => return false,
            _ => *i += 1,
        }
    }
    false
}

/// Every text the output holds, at every level of escaping: the raw
/// line, and each string decoded, recursively (a message is a string
/// holding JSON whose strings may hold JSON). Lone surrogates decode to
/// U+FFFD here, so nothing hides behind one.
fn every_text(raw: &str, depth: usize, out: &mut Vec<String>) {
    out.push(raw.to_owned());
    if depth == 0 {
        return;
    }
    let b = raw.as_bytes();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'"') {
        let start = i + p;
        let mut end = start + 1;
        while end < b.len() && b[end] != b'"' {
            end += if b[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(b.len());
        let decoded = decode_lossy(&raw[start + 1..end]);
        if decoded.contains('"') || decoded.contains('\\') {
            every_text(&decoded, depth - 1, out);
        } else {
            out.push(decoded);
        }
        i = end + 1;
        if i >= b.len() {
            break;
        }
    }
}

fn decode_lossy(content: &str) -> String {
    let units: Vec<u16> = {
        let mut units = Vec::new();
        let mut chars = content.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
                continue;
            }
            match chars.next() {
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    units.push(u16::from_str_radix(&hex, 16).unwrap_or(0xFFFD));
                }
                Some('n') => units.push(u16::from(b'\n')),
                Some('t') => units.push(u16::from(b'\t')),
                Some('r') => units.push(u16::from(b'\r')),
                Some('b') => units.push(8),
                Some('f') => units.push(12),
                Some(other) => units.push(other as u16),
                None => {}
            }
        }
        units
    };
    String::from_utf16_lossy(&units)
}

/// Sends `recipes` as one delivery and checks every log that comes out.
fn check(recipes: &[Recipe]) -> Result<InvocationSummary, TestCaseError> {
    let out = Captured::default();
    let forwarder = forwarder(&out);
    let literals: Vec<String> = recipes.iter().map(Recipe::message_literal).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = runtime
        .block_on(forwarder.handle(&lambda_event(&literals), &Invocation::local("privacy")))
        .expect("the invocation succeeds");
    prop_assert_eq!(summary.logs_forwarded, recipes.len());
    let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    prop_assert_eq!(lines.len(), recipes.len());
    for (line, recipe) in lines.iter().zip(recipes) {
        prop_assert!(is_json_document(line), "the log is not JSON");
        let mut texts = Vec::new();
        every_text(line, 4, &mut texts);
        for forbidden in recipe.forbidden() {
            prop_assert!(
                !texts.iter().any(|t| t.contains(&forbidden)),
                "{forbidden} reached the output for {recipe:?}"
            );
        }
        // The message: a JSON string holding a JSON document.
        let at = line.find(r#""message":""#).expect("a message") + r#""message":"#.len();
        let mut end = at;
        prop_assert!(string(line.as_bytes(), &mut end));
        let message = decode_lossy(&line[at + 1..end - 1]);
        prop_assert!(
            is_json_document(&message),
            "the message is no longer JSON for {:?}",
            recipe
        );
        for field in [
            "\"auditID\"",
            "\"annotations\"",
            "\"stageTimestamp\"",
            "\"objectRef\"",
        ] {
            prop_assert!(message.contains(field), "{field} was lost for {recipe:?}");
        }
    }
    Ok(summary)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // EAF_PRIVACY_CASES for a longer run.
        cases: std::env::var("EAF_PRIVACY_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_events_leak_nothing_and_stay_json(recipes in proptest::collection::vec(recipe(), 1..4)) {
        check(&recipes).map(drop)?;
    }
}

/// A plain pod event; each finding's test changes what it needs.
fn plain(kind: Kind) -> Recipe {
    Recipe {
        kind,
        escaped: false,
        ampersand: false,
        depth: 0,
        huge_number: false,
        inner_surrogate: false,
        outer_surrogate: false,
        duplicate_data: false,
        oversize: false,
        ip: [198, 51, 100, 23],
        mailbox: "alice".to_owned(),
        token: 0xfeed,
    }
}

/// Issue 14, finding 1: with a letter escape (Go's `\u0026`) and a value
/// no tree can hold, REDACT_IP and REDACT_EMAIL went over the text, where
/// an escaped address does not match.
#[test]
fn addresses_are_scrubbed_in_an_event_no_tree_can_hold() {
    for unholdable in [
        Recipe {
            depth: 200,
            ..plain(Kind::Pod)
        },
        Recipe {
            huge_number: true,
            ..plain(Kind::Pod)
        },
    ] {
        check(&[Recipe {
            escaped: true,
            ampersand: true,
            ..unholdable
        }])
        .unwrap();
    }
}

/// Issue 14, finding 2: an event over 1 MB that no tree can hold was cut
/// as text, no longer JSON, its annotations and timestamps lost.
#[test]
fn an_oversize_event_no_tree_can_hold_is_shrunk_as_json() {
    let summary = check(&[Recipe {
        oversize: true,
        huge_number: true,
        ..plain(Kind::Pod)
    }])
    .unwrap();
    assert_eq!(
        (summary.truncated, summary.read_fallbacks),
        (1, 1),
        "counted"
    );
    // Redaction replaces the config map's bodies whole, which leaves it
    // small enough: one fallback, no shrinking.
    let summary = check(&[Recipe {
        oversize: true,
        depth: 300,
        ..plain(Kind::ConfigMap)
    }])
    .unwrap();
    assert_eq!(summary.read_fallbacks, 1, "counted");
}

/// Issue 14, finding 3: a lone surrogate in the CloudWatch message made
/// the redactor see "nothing to redact".
#[test]
fn a_secret_beside_a_lone_surrogate_is_redacted() {
    check(&[Recipe {
        outer_surrogate: true,
        ..plain(Kind::Secret)
    }])
    .unwrap();
    check(&[Recipe {
        outer_surrogate: true,
        ..plain(Kind::TokenReview)
    }])
    .unwrap();
}

/// A duplicate key reads as its last value: the first copy of the data
/// must not go out because the last one is empty.
#[test]
fn secret_data_given_twice_is_redacted() {
    check(&[Recipe {
        duplicate_data: true,
        ..plain(Kind::Secret)
    }])
    .unwrap();
}

#[test]
fn the_json_check_can_fail() {
    assert!(is_json_document(
        r#"{"a":[1,-2.5e3,"\ud800",{"b":null}],"c":true}"#
    ));
    for broken in [
        r#"{"a":1"#,
        r#"{"a" 1}"#,
        r#"[1,]"#,
        r#""a\x""#,
        "plain text",
        r#"{"a":1}}"#,
    ] {
        assert!(!is_json_document(broken), "{broken}");
    }
    let mut texts = Vec::new();
    every_text(r#"{"m":"{\"ip\":\"\\u0031.2.3.4\"}"}"#, 4, &mut texts);
    assert!(texts.iter().any(|t| t.contains("1.2.3.4")), "{texts:?}");
}
