//! The built binary as Lambda runs it: the `lambda_runtime` loop talking HTTP
//! to a Runtime API endpoint, the intake emulator as the logs intake.

mod support;
#[path = "support/workload.rs"]
#[allow(dead_code)] // the benchmarks use the rest
mod workload;

use std::time::Duration;

use support::ForwarderProcess;
use support::intake::{BodyFault, Fault, IntakeContract, IntakeEmulator};
use support::payload::{audit_event, audit_message};
use support::runtime_api::{FUNCTION_ARN, InvocationResult, RuntimeApi};

fn lambda_vars(intake: &IntakeEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("DD_URL", intake.url()),
        ("DD_NO_SSL", "true".into()),
        ("DD_API_KEY", intake.api_key().into()),
        ("DD_TAGS", "env:prod".into()),
        ("DD_LOG_LEVEL", "debug".into()),
    ]
}

fn start(runtime: &RuntimeApi, vars: &[(&'static str, String)]) -> ForwarderProcess {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ForwarderProcess::start_lambda(&runtime.address(), &vars)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_warm_invocations_and_reports_each_outcome() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &lambda_vars(&intake));

    let first: Vec<String> = (0..5).map(audit_message).collect();
    runtime.invoke("req-1", audit_event(&first), Duration::from_secs(30));
    let (id, result) = runtime.next_result().await;
    assert_eq!(id, "req-1");
    let InvocationResult::Response(summary) = result else {
        panic!("{result:?}")
    };
    assert_eq!(summary["logs_forwarded"], 5);
    assert_eq!(summary["events_in"], 5);

    // The same process serves the next invocation (warm start): a control
    // message is acknowledged and nothing is sent.
    let control =
        std::fs::read_to_string(support::repo_root().join("events/control-message.json")).unwrap();
    runtime.invoke("req-2", control, Duration::from_secs(30));
    let (id, result) = runtime.next_result().await;
    assert_eq!(id, "req-2");
    let InvocationResult::Response(summary) = result else {
        panic!("{result:?}")
    };
    assert_eq!(summary["control_message"], true);
    assert_eq!(summary["logs_forwarded"], 0);

    let logs = intake.accepted_logs();
    assert_eq!(logs.len(), 5);
    assert_eq!(intake.requests().len(), 1);
    for (log, msg) in logs.iter().zip(&first) {
        assert_eq!(log["message"].as_str().unwrap(), msg);
        assert_eq!(log["ddsource"], "kubernetes.audit");
        assert_eq!(log["aws"]["invoked_function_arn"], FUNCTION_ARN);
        assert_eq!(
            log["ddtags"],
            "env:prod,kube_cluster_name:prod,aws_account:123456789012,region:eu-west-1,forwardername:eks-audit-forwarder,forwarder_version:0.1.0"
        );
    }

    let stderr = process.stop();
    assert!(
        stderr.contains("\"message\":\"invocation summary\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("control message"),
        "debug line for the control message: {stderr}"
    );
    assert!(
        !stderr.contains(intake.api_key()),
        "the API key leaked into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_events_fail_the_invocation_with_a_short_safe_message() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &lambda_vars(&intake));
    let secret = "SECRET-PAYLOAD-CONTENT";
    let huge_garbage = format!(
        "{{\"awslogs\":{{\"data\":\"{}!\"}}}}",
        "QUJD".repeat(300_000)
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("bad-base64", format!("{{\"awslogs\":{{\"data\":\"{secret}!!\"}}}}"), "not valid base64"),
        ("huge-bad-base64", huge_garbage, "not valid base64"),
        ("not-gzip", support::payload::wrap(b"x").replace("H4sI", "AAAA"), "not gzip"),
        ("not-json", support::payload::wrap(format!("{secret} is not json").as_bytes()), "not a CloudWatch Logs document"),
        (
            "wrong-shape",
            support::payload::wrap(format!("{{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{{\"id\":\"1\",\"timestamp\":\"{secret}\",\"message\":\"m\"}}]}}").as_bytes()),
            "expected i64",
        ),
        ("not-cloudwatch", format!("{{\"Records\":[{{\"body\":\"{secret}\"}}]}}"), "not one this function handles"),
        ("array", format!("[\"{secret}\"]"), "found a JSON array"),
    ];
    for (id, body, expected) in &cases {
        runtime.invoke(id, body.clone(), Duration::from_secs(30));
        let (got_id, result) = runtime.next_result().await;
        assert_eq!(&got_id, id);
        let InvocationResult::Error(err) = result else {
            panic!("{id}: {result:?}")
        };
        assert_eq!(err["errorType"], "DecodeError", "{id}");
        let msg = err["errorMessage"].as_str().unwrap();
        assert!(msg.contains(expected), "{id}: {msg}");
        assert!(msg.len() < 1_000, "{id}: {} chars", msg.len());
        assert!(!msg.contains(secret), "{id}: {msg}");
    }
    // Still alive and serving after every bad event.
    runtime.invoke(
        "good",
        audit_event(&[audit_message(1)]),
        Duration::from_secs(30),
    );
    let (_, result) = runtime.next_result().await;
    assert!(
        matches!(result, InvocationResult::Response(_)),
        "{result:?}"
    );
    let stderr = process.stop();
    assert!(!stderr.contains(secret), "payload content in the logs");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_that_stays_down_fails_the_invocation_before_the_deadline() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    intake.push_faults(std::iter::repeat_n(Fault::Status(503), 100));
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &lambda_vars(&intake));
    // 3 s budget, 1 s safety margin: retries must stop by ~2 s, and the
    // answer must come before the deadline (Lambda would kill it there).
    let started = std::time::Instant::now();
    runtime.invoke(
        "down",
        audit_event(&[audit_message(1)]),
        Duration::from_secs(3),
    );
    let (_, result) = runtime.next_result().await;
    let answered_after = started.elapsed();
    assert!(
        answered_after < Duration::from_secs(3),
        "answered after the deadline: {answered_after:?}"
    );
    let InvocationResult::Error(err) = result else {
        panic!("{result:?}")
    };
    assert_eq!(err["errorType"], "DeliveryError");
    let msg = err["errorMessage"].as_str().unwrap();
    assert!(msg.starts_with("1 of 1 logs were not delivered"), "{msg}");
    assert!(msg.contains("HTTP 503"), "{msg}");
    assert!(intake.requests().len() >= 2, "retried at least once");
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_api_key_is_one_loud_error_without_the_key() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let mut vars = lambda_vars(&intake);
    vars.push(("DD_API_KEY", "0000-wrong-key-0000".into()));
    vars.retain(|(k, v)| *k != "DD_API_KEY" || v.starts_with("0000"));
    let process = start(&runtime, &vars);
    runtime.invoke(
        "auth",
        audit_event(&[audit_message(1)]),
        Duration::from_secs(30),
    );
    let (_, result) = runtime.next_result().await;
    let InvocationResult::Error(err) = result else {
        panic!("{result:?}")
    };
    let msg = err["errorMessage"].as_str().unwrap();
    assert!(msg.contains("refused the API key (HTTP 403)"), "{msg}");
    assert_eq!(intake.requests().len(), 1, "no retry on 403");
    let stderr = process.stop();
    assert!(!stderr.contains("0000-wrong-key-0000"));
    assert_eq!(
        stderr
            .matches("\"message\":\"the intake refused the API key")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn missing_api_key_fails_start_up_naming_the_variable() {
    let out = support::forwarder_command(&[
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"),
        ("AWS_LAMBDA_FUNCTION_NAME", "f"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DD_API_KEY is required"), "{stderr}");
}

/// Regression: the intake's answer was read whole, whatever its size. An
/// endpoint answering 202 with an endless body drove the process to 760 MB
/// within a 1 s request timeout; a 128 MB function dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_read_only_up_to_its_cap() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    intake.set_down(Some(Fault::Body {
        status: None,
        body: BodyFault::Endless,
    }));
    let mut runtime = RuntimeApi::start().await;
    let mut vars = lambda_vars(&intake);
    vars.push(("DD_REQUEST_TIMEOUT_SECONDS", "1".into()));
    let process = start(&runtime, &vars);
    let messages: Vec<String> = (0..50).map(audit_message).collect();
    for i in 0..3 {
        runtime.invoke(
            &format!("endless-{i}"),
            audit_event(&messages),
            Duration::from_secs(20),
        );
        let (_, result) = runtime.next_result().await;
        let InvocationResult::Response(summary) = result else {
            panic!("{result:?}")
        };
        assert_eq!(summary["logs_forwarded"], 50);
    }
    assert_eq!(intake.accepted_count(), 150);
    let peak = process.peak_rss_mb();
    assert!(peak < 64, "peak RSS {peak} MB");
}

/// The largest payload Lambda can hand over: a document that inflates to
/// the 64 MiB cap. Its logs go out while the rest are being built, so the
/// process holds the document and a few request bodies, not the document
/// and every batch (181 MB when all batches were built first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_payload_is_shipped_in_bounded_memory() {
    let intake = IntakeEmulator::start(IntakeContract {
        keep_logs: false,
        ..IntakeContract::default()
    })
    .await;
    let mut runtime = RuntimeApi::start().await;
    let mut vars = lambda_vars(&intake);
    vars.retain(|(k, _)| *k != "DD_LOG_LEVEL");
    let process = start(&runtime, &vars);
    let (event, logs) = workload::largest_event(64 << 20);
    runtime.invoke("largest", event, Duration::from_secs(60));
    let (_, result) = runtime.next_result().await;
    let InvocationResult::Response(summary) = result else {
        panic!("{result:?}")
    };
    assert_eq!(summary["logs_forwarded"], logs);
    assert_eq!(intake.accepted_count(), logs);
    let peak = process.peak_rss_mb();
    assert!(peak < 110, "peak RSS {peak} MB");
}
