//! Real audit events from public projects (`../shared/corpus`, see its
//! SOURCES.md), wrapped in subscription payloads, must arrive byte for byte
//! as `kubernetes.audit`. Plus generated cases for what the corpus lacks:
//! non-ASCII text, events over 10 KB, `impersonatedUser`, EKS IAM `user.extra`,
//! and the `\u0026`-style escapes the API server's JSON encoder writes.

mod support;

use std::path::Path;
use std::sync::Arc;

use eks_audit_forwarder::ship::{IntakeClient, ShipOptions, Shipper};
use eks_audit_forwarder::{Config, Destination, Forwarder, Invocation};
use serde_json::{Value, json, value::RawValue};
use support::intake::{IntakeContract, IntakeEmulator};
use support::payload::{AUDIT_GROUP, AUDIT_STREAM, document, wrap};

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
    let vars = [
        ("DD_URL".to_owned(), intake.url()),
        ("DD_NO_SSL".to_owned(), "true".to_owned()),
        ("DD_API_KEY".to_owned(), intake.api_key().to_owned()),
    ];
    let config =
        Config::from_lookup(|n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())).unwrap();
    let client =
        IntakeClient::new(config.intake_url.clone(), config.api_key.clone().unwrap()).unwrap();
    let forwarder = Forwarder::with_destination(
        &config,
        Destination::Intake(Arc::new(Shipper::new(
            client,
            ShipOptions::new(config.encoding),
        ))),
    );
    let before = intake.accepted_logs().len();
    // Several payloads, as CloudWatch would deliver them.
    for chunk in messages.chunks(40) {
        let event = RawValue::from_string(wrap(document(group, stream, chunk).as_bytes())).unwrap();
        let summary = forwarder
            .handle(&event, &Invocation::local("corpus"))
            .await
            .unwrap();
        assert_eq!(summary.logs_forwarded, chunk.len());
    }
    intake.accepted_logs()[before..].to_vec()
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
    for (event, expected) in [
        (std::fs::read_to_string(&event_file).unwrap(), 2),
        (wrap(&read(&docs_file)), 1),
    ] {
        let config = Config::from_lookup(|n| match n {
            "DD_URL" => Some(intake.url()),
            "DD_NO_SSL" => Some("true".into()),
            "DD_API_KEY" => Some(intake.api_key().into()),
            _ => None,
        })
        .unwrap();
        let before = intake.accepted_logs().len();
        let forwarder = Forwarder::new(&config).unwrap();
        let summary = forwarder
            .handle(
                &RawValue::from_string(event).unwrap(),
                &Invocation::local("example"),
            )
            .await
            .unwrap();
        assert_eq!(summary.logs_forwarded, expected);
        for log in &intake.accepted_logs()[before..] {
            assert_eq!(log["ddsource"], "cloudwatch", "not an EKS group");
            assert!(log["timestamp"].is_u64());
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
