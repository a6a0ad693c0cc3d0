//! Real audit events from public projects (`../shared/corpus`, see its
//! SOURCES.md), wrapped in subscription payloads, must arrive byte for byte
//! as `kubernetes.audit`. Plus generated cases for what the corpus lacks:
//! non-ASCII text, events over 10 KB, `impersonatedUser`, EKS IAM `user.extra`,
//! and the `\u0026`-style escapes the API server's JSON encoder writes.

mod support;

use std::path::Path;

use eks_audit_forwarder::{Config, Destination, Forwarder, Invocation};
use serde_json::{Value, json, value::RawValue};
use support::intake::{IntakeContract, IntakeEmulator};
use support::payload::{AUDIT_GROUP, AUDIT_STREAM, wrap};

/// The shared corpus lives beside this repository, not in it: CI (and any
/// run with `EAF_REQUIRE_CORPUS` set) requires it; a clone without it gets a
/// loud notice instead of a failure.
fn corpus_present() -> bool {
    let dir = support::corpus_dir();
    if dir.join("SOURCES.md").exists() {
        return true;
    }
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("EAF_REQUIRE_CORPUS").is_some();
    assert!(
        !required,
        "the shared corpus is missing at {} (set EAF_CORPUS_DIR)",
        dir.display()
    );
    eprintln!(
        "NOTICE: the shared corpus is missing at {}; the corpus test checked nothing (CI requires it)",
        dir.display()
    );
    false
}

fn corpus_messages() -> Vec<String> {
    let dir = support::corpus_dir();
    let mut messages = Vec::new();
    let mut falco: Vec<_> = std::fs::read_dir(dir.join("falco_k8s_audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    falco.sort();
    for file in &falco {
        let text = std::fs::read_to_string(file).unwrap();
        messages.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    assert!(messages.len() >= 52, "falco files hold at least 52 events");
    let panther =
        std::fs::read_to_string(dir.join("panther/panther_eks_k8s_audit_tests.jsonl")).unwrap();
    let mut n = 0;
    for line in panther.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        messages.push(case["log"].to_string());
        n += 1;
    }
    assert_eq!(n, 188);
    messages
}

fn generated_messages() -> Vec<String> {
    let big_annotations: serde_json::Map<String, Value> = (0..300)
        .map(|i| {
            (
                format!("example.com/note-{i}"),
                json!(format!("value {i} with some text to grow the event")),
            )
        })
        .collect();
    vec![
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","verb":"get",
               "user":{"username":"arn:aws:iam::123456789012:role/dev","extra":{"accessKeyId":["ASIAEXAMPLE"],"arn":["arn:aws:sts::123456789012:assumed-role/dev/élodie"],"sessionName":["élodie"]}},
               "impersonatedUser":{"username":"system:serviceaccount:prod:deployer","groups":["system:serviceaccounts"]},
               "objectRef":{"resource":"secrets","namespace":"prod","name":"db-пароль"},
               "responseStatus":{"metadata":{},"code":200},
               "annotations":{"note":"日本語 ✓ emoji 🚀 and \"quotes\" \\ backslash \t tab"}})
        .to_string(),
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a2","verb":"patch",
               "objectRef":{"resource":"configmaps","namespace":"default","name":"big"},
               "requestObject":{"metadata":{"annotations": big_annotations}},
               "responseStatus":{"metadata":{},"code":200}})
        .to_string(),
        // The API server's encoder escapes &, < and > inside strings.
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a3","verb":"create","requestURI":"/api/v1/namespaces/default/pods/web/exec?command=sh\u0026stdin=true\u0026tty=true","objectRef":{"resource":"pods","subresource":"exec"},"responseStatus":{"metadata":{},"code":101},"annotations":{"x":"\u003cscript\u003e"}}"#.to_owned(),
    ]
}

async fn forward_all(
    intake: &IntakeEmulator,
    group: &str,
    stream: &str,
    messages: &[String],
) -> Vec<Value> {
    forward_all_with(intake, group, stream, messages, &[]).await
}

async fn forward_all_with(
    intake: &IntakeEmulator,
    group: &str,
    stream: &str,
    messages: &[String],
    extra: &[(&str, &str)],
) -> Vec<Value> {
    // Several payloads, as CloudWatch would deliver them.
    support::in_process::forward_messages(intake, group, stream, messages, 40, extra)
        .await
        .0
}

fn assert_arrived(logs: &[Value], messages: &[String], source: &str) {
    assert_eq!(logs.len(), messages.len());
    for (log, sent) in logs.iter().zip(messages) {
        assert_eq!(
            log["message"].as_str().unwrap(),
            sent,
            "message changed in transit"
        );
        assert_eq!(log["ddsource"], source);
        assert!(log.get("truncated").is_none());
    }
}

#[tokio::test]
async fn every_corpus_event_arrives_byte_for_byte_as_kubernetes_audit() {
    if !corpus_present() {
        return;
    }
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let messages = corpus_messages();
    let logs = forward_all(&intake, AUDIT_GROUP, AUDIT_STREAM, &messages).await;
    assert_arrived(&logs, &messages, "kubernetes.audit");
}

#[tokio::test]
async fn generated_edge_cases_arrive_byte_for_byte() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let messages = generated_messages();
    assert!(messages[1].len() > 10_000);
    assert!(messages[2].contains(r"\u0026"));
    let logs = forward_all(&intake, AUDIT_GROUP, AUDIT_STREAM, &messages).await;
    assert_arrived(&logs, &messages, "kubernetes.audit");
}

#[tokio::test]
async fn real_cloudwatch_examples_decode_and_keep_their_source() {
    if !corpus_present() {
        return;
    }
    let dir = support::corpus_dir().join("cwl_examples");
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    // The aws_lambda_events fixture is a whole Lambda event.
    let event_file = dir.join("aws_lambda_events-1.2.1_example-cloudwatch_logs-event.json");
    let docs_file = dir.join("aws_docs_lambda_services-cloudwatchlogs_decoded.json");
    // Neither group is EKS's: by default each document is passed over and
    // counted; with DD_LOG_GROUP_PREFIXES=* its logs go out.
    let cases = [
        (std::fs::read_to_string(&event_file).unwrap(), 2),
        (wrap(&read(&docs_file)), 1),
    ];
    for ((event, in_document), every_group) in
        cases.iter().flat_map(|case| [(case, false), (case, true)])
    {
        let config = Config::from_lookup(|n| match n {
            "DD_URL" => Some(intake.url()),
            "DD_NO_SSL" => Some("true".into()),
            "DD_API_KEY" => Some(intake.api_key().into()),
            "DD_LOG_GROUP_PREFIXES" if every_group => Some("*".into()),
            _ => None,
        })
        .unwrap();
        let before = intake.accepted_logs().len();
        let key = config.api_key.value().unwrap().clone();
        let destination = Destination::intake(&config.intake, key, &config.proxy).unwrap();
        let forwarder = Forwarder::new(&config, destination);
        let summary = forwarder
            .handle(
                &RawValue::from_string(event.clone()).unwrap(),
                &Invocation::local("example"),
            )
            .await
            .unwrap();
        let expected = if every_group { *in_document } else { 0 };
        assert_eq!(summary.logs_forwarded, expected);
        assert_eq!(summary.documents_passed_over, usize::from(!every_group));
        for log in &intake.accepted_logs()[before..] {
            assert_eq!(log["ddsource"], "cloudwatch", "not an EKS group");
            assert!(log["timestamp"].is_u64());
        }
    }
}

/// Secret and token events with their values attached, as an API server
/// logs them at `Request`/`RequestResponse` level (the corpus's secret
/// events are all `Metadata`).
fn generated_secret_messages() -> Vec<String> {
    let applied =
        r#"{"apiVersion":"v1","data":{"password":"bGFzdC1hcHBsaWVkLXB3"},"kind":"Secret"}"#;
    [
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s1","verb":"create",
               "objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},
               "requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db","annotations":{"kubectl.kubernetes.io/last-applied-configuration": applied}},
                                "data":{"password":"c3VwZXItc2VjcmV0LXB3","user":"YWRtaW4tdXNlcg=="},"stringData":{"dsn":"postgres://admin:pässwörd@db/prod"}},
               "responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"password":"c3VwZXItc2VjcmV0LXB3","user":"YWRtaW4tdXNlcg=="},"type":"Opaque"},
               "responseStatus":{"metadata":{},"code":201}}),
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s2","verb":"list",
               "objectRef":{"resource":"secrets","namespace":"kube-system","apiVersion":"v1"},
               "responseObject":{"kind":"SecretList","items":[{"metadata":{"name":"a"},"data":{"token":"ZXlKaGJHY2lPaUpTVXpJMU5pSXNJbXRwWkNJNklpSjk="}},{"metadata":{"name":"b"},"data":{"ca.crt":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"}}]},
               "responseStatus":{"metadata":{},"code":200}}),
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s3","verb":"create",
               "objectRef":{"resource":"tokenreviews","apiGroup":"authentication.k8s.io","apiVersion":"v1"},
               "requestObject":{"kind":"TokenReview","spec":{"token":"eyJhbGciOiJSUzI1NiJ9.review-token.signature"}},
               "responseObject":{"kind":"TokenReview","spec":{"token":"eyJhbGciOiJSUzI1NiJ9.review-token.signature"},"status":{"authenticated":true}},
               "responseStatus":{"metadata":{},"code":201}}),
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s4","verb":"create",
               "objectRef":{"resource":"serviceaccounts","subresource":"token","namespace":"prod","name":"app","apiVersion":"v1"},
               "requestObject":{"kind":"TokenRequest","spec":{"audiences":["sts.amazonaws.com"]}},
               "responseObject":{"kind":"TokenRequest","status":{"token":"eyJhbGciOiJSUzI1NiJ9.issued-token.signature","expirationTimestamp":"2026-11-26T11:00:00Z"}},
               "responseStatus":{"metadata":{},"code":201}}),
        // kubectl patch --type=json, and kubectl get secrets (a Table).
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s5","verb":"patch",
               "objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},
               "requestObject":[{"op":"replace","path":"/data/password","value":"cGF0Y2hlZC1wdw=="},{"op":"add","path":"/metadata/labels/team","value":"payments"}],
               "responseStatus":{"metadata":{},"code":200}}),
        json!({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s6","verb":"list",
               "objectRef":{"resource":"secrets","namespace":"prod","apiVersion":"v1"},
               "responseObject":{"kind":"Table","rows":[{"cells":["db","Opaque",1],"object":{"kind":"Secret","metadata":{"name":"db"},"data":{"password":"dGFibGUtcm93LXB3"}}}]},
               "responseStatus":{"metadata":{},"code":200}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

/// Every secret value in `messages`: the strings under `data`,
/// `stringData`, `binaryData` and the last-applied annotation of secrets
/// and configmaps, and the token APIs' tokens.
fn secret_values(messages: &[String]) -> Vec<String> {
    fn strings_under(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Object(map) => map.values().for_each(|v| strings_under(v, out)),
            Value::Array(items) => items.iter().for_each(|v| strings_under(v, out)),
            _ => {}
        }
    }
    fn data_of(object: &Value, out: &mut Vec<String>) {
        for key in ["data", "stringData", "binaryData"] {
            strings_under(&object[key], out);
        }
        strings_under(
            &object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            out,
        );
        if let Some(items) = object["items"].as_array() {
            items.iter().for_each(|i| data_of(i, out));
        }
        if let Some(rows) = object["rows"].as_array() {
            rows.iter().for_each(|r| data_of(&r["object"], out));
        }
        // A JSON Patch: the values, except labels and the like.
        if let Some(ops) = object.as_array() {
            for op in ops {
                if !op["path"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("/metadata/")
                {
                    strings_under(&op["value"], out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for message in messages {
        let Ok(event) = serde_json::from_str::<Value>(message) else {
            continue;
        };
        let resource = event["objectRef"]["resource"].as_str().unwrap_or_default();
        for side in ["requestObject", "responseObject"] {
            let object = &event[side];
            match resource {
                "secrets" | "configmaps" => data_of(object, &mut out),
                "tokenreviews" => strings_under(&object["spec"]["token"], &mut out),
                "serviceaccounts" => strings_under(&object["status"]["token"], &mut out),
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn no_secret_value_of_the_corpus_reaches_the_intake() {
    if !corpus_present() {
        return;
    }
    let mut messages = corpus_messages();
    messages.extend(generated_secret_messages());
    let secrets = secret_values(&messages);
    // The corpus's sensitive configmaps (AWS keys among them) and the
    // generated secrets and tokens.
    assert!(
        secrets.iter().any(|s| s.contains("aws_secret_access_key")),
        "{secrets:?}"
    );
    assert!(secrets.len() >= 10, "{secrets:?}");
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let logs = forward_all_with(
        &intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        &messages,
        &[("DD_REDACT_RESOURCES", "configmaps")],
    )
    .await;
    assert_eq!(logs.len(), messages.len(), "redaction drops nothing");
    let everything: String = logs.iter().map(Value::to_string).collect();
    for secret in &secrets {
        // Both as sent and as JSON-escaped inside the message string.
        let escaped = serde_json::to_string(secret).unwrap();
        assert!(
            !everything.contains(secret.as_str())
                && !everything.contains(&escaped[1..escaped.len() - 1]),
            "a secret value reached the intake: {secret:?}"
        );
    }
    // Redacted messages are still the same events, as valid JSON.
    for (log, sent) in logs.iter().zip(&messages) {
        let Ok(original) = serde_json::from_str::<Value>(sent) else {
            continue;
        };
        let arrived: Value = serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
        assert_eq!(arrived["auditID"], original["auditID"]);
        assert_eq!(arrived["objectRef"], original["objectRef"]);
    }

    // With redaction off, the same values do arrive: the check above can fail.
    let logs = forward_all_with(
        &intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        &generated_secret_messages(),
        &[("DD_REDACT_SECRETS", "false")],
    )
    .await;
    let everything: String = logs.iter().map(Value::to_string).collect();
    assert!(everything.contains("c3VwZXItc2VjcmV0LXB3"));
}

#[tokio::test]
async fn siem_attributes_over_the_corpus_agree_with_each_event() {
    if !corpus_present() {
        return;
    }
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut messages = corpus_messages();
    messages.extend(generated_messages());
    let logs = forward_all_with(
        &intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        &messages,
        &[("DD_SIEM_ATTRIBUTES", "true")],
    )
    .await;
    // Partial events, odd types and the non-JSON file all arrive, unchanged.
    assert_arrived(&logs, &messages, "kubernetes.audit");
    let mut with_method = 0;
    for log in &logs {
        let Ok(event) = serde_json::from_str::<Value>(log["message"].as_str().unwrap()) else {
            assert!(log.get("http").is_none());
            continue;
        };
        match event["verb"].as_str() {
            Some(verb) => {
                assert_eq!(log["http"]["method"], verb);
                with_method += 1;
            }
            None => assert!(log["http"].get("method").is_none()),
        }
        match event["user"]["username"].as_str() {
            Some(name) => assert_eq!(log["usr"]["name"], name),
            None => assert!(log.get("usr").is_none()),
        }
        if event["objectRef"].is_object() {
            assert_eq!(log["objectRef"], event["objectRef"]);
        }
    }
    assert!(with_method > 200, "{with_method}");
}

/// `event[path...]` as text: strings as they are, numbers by their text.
fn field_text(event: &Value, path: &[&str]) -> Option<String> {
    let mut v = event;
    for name in path {
        v = v.get(name)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The messages the forwarder should keep: every one that is not a JSON
/// object, and the audit events `keep` accepts.
fn expected_kept(messages: &[String], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    messages
        .iter()
        .filter(|m| match serde_json::from_str::<Value>(m) {
            Ok(event @ Value::Object(_)) => keep(&event),
            _ => true,
        })
        .cloned()
        .collect()
}

/// Audit queries over real and generated events, partial ones and odd
/// types included, agree with the same rule written out by hand in Rust.
#[tokio::test]
async fn audit_queries_drop_exactly_the_events_they_name() {
    if !corpus_present() {
        return;
    }
    let mut messages = corpus_messages();
    messages.extend(generated_messages());
    let intake = IntakeEmulator::start(IntakeContract::default()).await;

    // The issue's example: reads by system principals.
    let logs = forward_all_with(
        &intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        &messages,
        &[(
            "DD_AUDIT_EXCLUDE",
            r"@verb:(get OR list OR watch) @user.username:system\:*",
        )],
    )
    .await;
    let kept = expected_kept(&messages, |e| {
        let read = field_text(e, &["verb"])
            .is_some_and(|v| ["get", "list", "watch"].contains(&v.as_str()));
        let system = field_text(e, &["user", "username"]).is_some_and(|u| u.starts_with("system:"));
        !(read && system)
    });
    assert!(kept.len() < messages.len() && kept.len() > messages.len() / 2);
    assert_arrived(&logs, &kept, "kubernetes.audit");

    // Failures and exec/attach only, by status range and subresource.
    let logs = forward_all_with(
        &intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        &messages,
        &[(
            "DD_AUDIT_INCLUDE",
            "@responseStatus.code:[400 TO 599] OR @objectRef.subresource:(exec OR attach)",
        )],
    )
    .await;
    let kept = expected_kept(&messages, |e| {
        let failed = field_text(e, &["responseStatus", "code"])
            .and_then(|c| c.parse::<f64>().ok())
            .is_some_and(|c| (400.0..=599.0).contains(&c));
        let subresource = field_text(e, &["objectRef", "subresource"]);
        failed || subresource.is_some_and(|s| s == "exec" || s == "attach")
    });
    assert!(
        kept.len() > 10 && kept.len() < messages.len() / 2,
        "{}",
        kept.len()
    );
    assert_arrived(&logs, &kept, "kubernetes.audit");

    // Non-ASCII values select too.
    let logs = forward_all_with(
        &intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        &messages,
        &[("DD_AUDIT_INCLUDE", "@objectRef.name:db-пар*")],
    )
    .await;
    let kept = expected_kept(&messages, |e| {
        field_text(e, &["objectRef", "name"]).is_some_and(|n| n.starts_with("db-пар"))
    });
    assert_eq!(kept.len(), 1);
    assert!(kept[0].contains("db-пароль"));
    assert_arrived(&logs, &kept, "kubernetes.audit");
}

/// The events of the corpus that a detection rule fires on (Panther's
/// positive test cases, `_expected: true`) all survive both noise presets.
#[tokio::test]
async fn detection_events_of_the_corpus_survive_the_noise_presets() {
    if !corpus_present() {
        return;
    }
    let dir = support::corpus_dir();
    let panther =
        std::fs::read_to_string(dir.join("panther/panther_eks_k8s_audit_tests.jsonl")).unwrap();
    let positives: Vec<String> = panther
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|case| case["_expected"] == true)
        .map(|case| case["log"].to_string())
        .collect();
    assert!(positives.len() >= 60, "{}", positives.len());
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    for level in ["standard", "aggressive"] {
        let logs = forward_all_with(
            &intake,
            AUDIT_GROUP,
            AUDIT_STREAM,
            &positives,
            &[("DD_AUDIT_NOISE_FILTER", level)],
        )
        .await;
        assert_arrived(&logs, &positives, "kubernetes.audit");
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
