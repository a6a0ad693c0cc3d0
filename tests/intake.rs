//! The forwarder library against the intake emulator: what arrives, and what
//! happens when the intake misbehaves.

#[path = "support/proxy.rs"]
mod proxy;
mod support;

use std::sync::Arc;
use std::time::Duration;

use eks_audit_forwarder::batch::BatchLimits;
use eks_audit_forwarder::ship::{BodyEncoding, RetryPolicy, ShipOptions, Shipper};
use eks_audit_forwarder::{Config, Destination, ForwardError, Forwarder, Invocation};
use serde_json::value::RawValue;
use support::intake::{BodyFault, Fault, IntakeContract, IntakeEmulator};
use support::payload::{audit_event, audit_message, oversize_audit_message};

fn config(intake: &IntakeEmulator, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("DD_URL".to_owned(), intake.url()),
        ("DD_NO_SSL".to_owned(), "true".to_owned()),
        ("DD_API_KEY".to_owned(), intake.api_key().to_owned()),
        ("DD_TAGS".to_owned(), "env:test".to_owned()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|n| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// Fast retries, so fault tests take milliseconds.
fn fast_options(config: &Config) -> ShipOptions {
    ShipOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            min_attempt_time: Duration::ZERO,
            jitter: false,
        },
        request_timeout: Duration::from_millis(1_500),
        deadline_margin: Duration::from_millis(200),
        ..ShipOptions::new(config.intake.encoding)
    }
}

fn forwarder(config: &Config) -> Forwarder {
    let client = support::in_process::intake_client(config);
    let shipper = Shipper::new(client, fast_options(config));
    Forwarder::new(config, Destination::Intake(Arc::new(shipper)))
}

fn event(json: String) -> Box<RawValue> {
    RawValue::from_string(json).unwrap()
}

fn messages(n: usize) -> Vec<String> {
    (0..n).map(audit_message).collect()
}

/// Four audit logs through a forwarder pointed at `intake`, which first
/// answers with `faults`.
async fn forward_after_faults(
    intake: &IntakeEmulator,
    faults: impl IntoIterator<Item = Fault>,
) -> eks_audit_forwarder::metrics::InvocationSummary {
    intake.push_faults(faults);
    let cfg = config(intake, &[]);
    forwarder(&cfg)
        .handle(&event(audit_event(&messages(4))), &invocation())
        .await
        .unwrap()
}

fn invocation() -> Invocation {
    Invocation {
        request_id: "req-1".into(),
        invoked_function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:fwd".into(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
    }
}

#[tokio::test]
async fn logs_arrive_gzipped_with_the_right_headers_and_shape() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[]);
    let msgs = messages(3);
    let summary = forwarder(&cfg)
        .handle(&event(audit_event(&msgs)), &invocation())
        .await
        .unwrap();
    assert_eq!(
        (
            summary.events_in,
            summary.logs_forwarded,
            summary.logs_failed
        ),
        (3, 3, 0)
    );

    let reqs = intake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].status, 202);
    assert_eq!(reqs[0].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(reqs[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(reqs[0].origin.as_deref(), Some("eks-audit-forwarder"));
    assert_eq!(
        reqs[0].origin_version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    // As the Datadog Forwarder by default: Datadog adds the log group's
    // and the bucket's tags itself (issue 12 (d)).
    assert_eq!(reqs[0].storage_tag.as_deref(), Some("s3,cloudwatch"));
    assert!(reqs[0].wire_bytes < reqs[0].body_bytes);
    assert_eq!(summary.wire_bytes, reqs[0].wire_bytes as u64);

    let logs = intake.accepted_logs();
    let got: Vec<&str> = logs
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(got, msgs);
    assert_eq!(logs[0]["ddsource"], "kubernetes.audit");
    assert_eq!(logs[0]["service"], "kubernetes.audit");
    assert_eq!(logs[0]["host"], "/aws/eks/prod/cluster");
    assert_eq!(
        logs[0]["ddtags"],
        "env:test,kube_cluster_name:prod,aws_account:123456789012,forwardername:eks-audit-forwarder,forwarder_version:0.1.0"
    );
    assert_eq!(
        logs[0]["aws"]["invoked_function_arn"],
        "arn:aws:lambda:eu-west-1:123456789012:function:fwd"
    );
    assert_eq!(intake.oversize_logs(), 0);
}

/// The Datadog Forwarder's recorded request for a plain CloudWatch Logs
/// delivery (`tools/integration_tests/snapshots/cloudwatch_log.json` and
/// its `~snapshot` in DataDog/datadog-serverless-functions, v5.4.11), under
/// the environment it was recorded with (function `test_function`, no
/// compression, no tags): the same log objects and headers, but for the
/// origin, which names the sender. The Forwarder's version is redacted in
/// the snapshot, and so it is left out here.
#[tokio::test]
async fn the_forwarders_recorded_cloudwatch_request_is_matched() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let vars = [
        ("DD_URL", intake.url()),
        ("DD_NO_SSL", "true".to_owned()),
        ("DD_API_KEY", intake.api_key().to_owned()),
        ("DD_USE_COMPRESSION", "false".to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "test_function".to_owned()),
        // The Forwarder forwards every log group; the fixture's is not EKS's.
        ("DD_LOG_GROUP_PREFIXES", "*".to_owned()),
    ];
    let cfg = Config::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
        .unwrap();
    let document = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789123",
        "logGroup": "testLogGroup", "logStream": "testLogStream",
        "subscriptionFilters": ["testFilter"],
        "logEvents": [
            {"id": "eventId1", "timestamp": 1440442987000u64, "message": "[ERROR] First test message"},
            {"id": "eventId2", "timestamp": 1440442987001u64, "message": "[ERROR] Second test message"},
        ],
    });
    let recorded_invocation = Invocation {
        invoked_function_arn: "arn:aws:lambda:us-east-1:012345678912:function:test_function".into(),
        ..invocation()
    };
    forwarder(&cfg)
        .handle(
            &event(support::payload::wrap(document.to_string().as_bytes())),
            &recorded_invocation,
        )
        .await
        .unwrap();

    let reqs = intake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/api/v2/logs")
    );
    assert_eq!(reqs[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(reqs[0].content_encoding, None);
    assert_eq!(reqs[0].storage_tag.as_deref(), Some("s3,cloudwatch"));
    assert_eq!(reqs[0].api_key.as_deref(), Some(intake.api_key()));
    let version = format!("forwarder_version:{}", env!("CARGO_PKG_VERSION"));
    let mut logs = intake.accepted_logs();
    for log in &mut logs {
        let tags = log["ddtags"]
            .as_str()
            .unwrap()
            .replace(&version, "forwarder_version:<redacted from snapshot>");
        log["ddtags"] = tags.into();
    }
    let recorded = |id: &str, timestamp: u64, message: &str| {
        serde_json::json!({
            "aws": {
                "awslogs": {"logGroup": "testLogGroup", "logStream": "testLogStream", "owner": "123456789123"},
                "invoked_function_arn": "arn:aws:lambda:us-east-1:012345678912:function:test_function"
            },
            "ddsource": "cloudwatch",
            "ddsourcecategory": "aws",
            "ddtags": "forwardername:test_function,forwarder_version:<redacted from snapshot>",
            "host": "testLogGroup",
            "id": id,
            "message": message,
            "service": "cloudwatch",
            "timestamp": timestamp
        })
    };
    assert_eq!(
        logs,
        vec![
            recorded("eventId1", 1440442987000, "[ERROR] First test message"),
            recorded("eventId2", 1440442987001, "[ERROR] Second test message"),
        ]
    );
}

/// Issue 12: the intake's client goes through the proxy with the proxy's
/// credentials (percent-encoded in the URL, sent as `Proxy-Authorization`),
/// and straight to the hosts `NO_PROXY` names.
#[tokio::test]
async fn the_intake_is_reached_through_the_proxy_unless_no_proxy_names_it() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let proxy = proxy::ForwardProxy::start().await;
    let with_credentials = proxy.url().replace("http://", "http://eaf:p%40ss@");
    let cfg = config(
        &intake,
        &[
            ("HTTP_PROXY", with_credentials.as_str()),
            ("HTTPS_PROXY", with_credentials.as_str()),
        ],
    );
    forwarder(&cfg)
        .handle(&event(audit_event(&messages(2))), &invocation())
        .await
        .unwrap();
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/api/v2/logs");
    // Basic base64("eaf:p@ss").
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic ZWFmOnBAc3M="));
    assert_eq!(intake.accepted_logs().len(), 2);

    let cfg = config(
        &intake,
        &[
            ("HTTP_PROXY", with_credentials.as_str()),
            ("NO_PROXY", "localhost,127.0.0.1"),
        ],
    );
    forwarder(&cfg)
        .handle(&event(audit_event(&messages(2))), &invocation())
        .await
        .unwrap();
    assert_eq!(proxy.seen().len(), 1, "NO_PROXY: straight to the intake");
    assert_eq!(intake.accepted_logs().len(), 4);
}

/// Issue 12 (d): `DD_ENRICH_S3_TAGS` and `DD_ENRICH_CLOUDWATCH_TAGS` set
/// the `DD-STORAGE-TAG` header as the Datadog Forwarder does.
#[tokio::test]
async fn the_storage_tag_header_follows_the_enrichment_switches() {
    for (s3, cloudwatch, expected) in [
        ("false", "true", Some("cloudwatch")),
        ("true", "false", Some("s3")),
        ("false", "false", None),
    ] {
        let intake = IntakeEmulator::start(IntakeContract::default()).await;
        let cfg = config(
            &intake,
            &[
                ("DD_ENRICH_S3_TAGS", s3),
                ("DD_ENRICH_CLOUDWATCH_TAGS", cloudwatch),
            ],
        );
        forwarder(&cfg)
            .handle(&event(audit_event(&messages(1))), &invocation())
            .await
            .unwrap();
        let reqs = intake.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].storage_tag.as_deref(),
            expected,
            "{s3} {cloudwatch}"
        );
    }
}

#[tokio::test]
async fn compression_can_be_turned_off_and_the_header_follows() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[("DD_USE_COMPRESSION", "false")]);
    forwarder(&cfg)
        .handle(&event(audit_event(&messages(2))), &invocation())
        .await
        .unwrap();
    let reqs = intake.requests();
    assert_eq!(reqs[0].content_encoding, None);
    assert_eq!(reqs[0].wire_bytes, reqs[0].body_bytes);
    assert_eq!(intake.accepted_logs().len(), 2);
}

#[tokio::test]
async fn zstd_bodies_arrive_smaller_than_gzip_with_their_header() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let sent = messages(200);
    for vars in [
        &[("DD_COMPRESSION", "gzip")][..],
        &[("DD_COMPRESSION", "zstd")][..],
        &[("DD_COMPRESSION", "ZSTD"), ("DD_COMPRESSION_LEVEL", "3")][..],
    ] {
        forwarder(&config(&intake, vars))
            .handle(&event(audit_event(&sent)), &invocation())
            .await
            .unwrap();
    }
    let reqs = intake.requests();
    let encodings: Vec<Option<&str>> = reqs.iter().map(|r| r.content_encoding.as_deref()).collect();
    assert_eq!(encodings, [Some("gzip"), Some("zstd"), Some("zstd")]);
    assert!(reqs[1].wire_bytes < reqs[0].wire_bytes, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.body_bytes == reqs[0].body_bytes));
    let logs = intake.accepted_logs();
    assert_eq!(logs.len(), 600);
    assert_eq!(logs[200..400], logs[..200]);
}

#[tokio::test]
async fn batches_respect_the_entry_limit_and_keep_order() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[]);
    let msgs = messages(2_345);
    let summary = forwarder(&cfg)
        .handle(&event(audit_event(&msgs)), &invocation())
        .await
        .unwrap();
    assert_eq!(summary.batches, 3);
    let sizes: Vec<usize> = intake.accepted_batches().iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|n| *n <= 1_000), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 2_345);
    // Batches go out concurrently, so compare as sets of ids.
    let mut ids: Vec<String> = intake
        .accepted_logs()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2_345);
}

#[tokio::test]
async fn retries_server_errors_resets_and_slow_answers() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let faults = [
        Fault::Status(500),
        Fault::Reset,
        Fault::StatusRetryAfter(429, 0),
        Fault::Delay(Duration::from_secs(5)), // over the 1.5 s request timeout
        Fault::Status(503),
    ];
    let summary = forward_after_faults(&intake, faults).await;
    assert_eq!(summary.logs_forwarded, 4);
    assert_eq!(summary.retries, 5);
    assert_eq!(summary.transport_errors, 2);
    assert_eq!(intake.accepted_logs().len(), 4);
}

/// Retries end at the deadline, not after a count: an intake down for the
/// whole invocation is retried until the last attempt that fits, then the
/// invocation fails (no bucket), in time.
#[tokio::test]
async fn retries_end_at_the_deadline_and_fail_the_invocation() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    intake.set_down(Some(Fault::Status(503)));
    let cfg = config(&intake, &[]);
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(2);
    let inv = Invocation {
        deadline,
        ..invocation()
    };
    let err = forwarder(&cfg)
        .handle(&event(audit_event(&messages(3))), &inv)
        .await
        .unwrap_err();
    let msg = err.error_message();
    assert!(
        matches!(&err, ForwardError::Undelivered { total: 3, failures } if failures.failed == 3 && failures.exhausted == 3),
        "{msg}"
    );
    let requests = intake.requests().len();
    // 5-20 ms apart for 1.8 s: more than the old count of 8, even on a
    // loaded machine.
    assert!(requests > 8, "{requests} requests");
    // The last attempt may be cut short by the stop (a timeout).
    assert!(msg.contains(&format!(", {requests} attempts)")), "{msg}");
    assert!(tokio::time::Instant::now() < deadline);
}

/// Regression: the error counted only the failing group of batches ("2000
/// of 2000" for a 2,500-event payload).
#[tokio::test]
async fn undelivered_counts_add_up_across_batch_groups() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[]);
    let payload = event(audit_event(&messages(2_500)));
    let failure = || async {
        let short = Invocation {
            deadline: tokio::time::Instant::now() + Duration::from_secs(4),
            ..invocation()
        };
        let err = forwarder(&cfg).handle(&payload, &short).await.unwrap_err();
        err.error_message()
    };
    intake.set_down(Some(Fault::Status(503)));
    let msg = failure().await;
    assert!(
        msg.starts_with("2500 of 2500 logs were not delivered: 2500 still failing"),
        "{msg}"
    );
    // The first group (two full batches) goes through; the last 500 do not.
    intake.push_faults([Fault::Delay(Duration::ZERO), Fault::Delay(Duration::ZERO)]);
    let msg = failure().await;
    assert!(
        msg.starts_with("500 of 2500 logs were not delivered"),
        "{msg}"
    );
    assert_eq!(intake.accepted_count(), 2_000);
}

/// Regression: a body that stalled after a 400 turned the answer into a
/// transport error, so the batch was retried whole instead of split.
#[tokio::test]
async fn a_status_stands_when_its_body_stalls() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let summary = forward_after_faults(
        &intake,
        [Fault::Body {
            status: Some(400),
            body: BodyFault::Slow(Duration::from_millis(100)),
        }],
    )
    .await;
    assert_eq!(summary.logs_forwarded, 4);
    // The 400 split the batch: one request, then one per half.
    assert_eq!(intake.requests().len(), 3);
    assert_eq!(summary.transport_errors, 0);
}

#[tokio::test]
async fn a_wrong_api_key_is_not_retried_and_is_named_without_the_key() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[("DD_API_KEY", "wrong-key-value-123")]);
    let err = forwarder(&cfg)
        .handle(&event(audit_event(&messages(2))), &invocation())
        .await
        .unwrap_err();
    let msg = err.error_message();
    assert!(msg.contains("refused the API key (HTTP 403)"), "{msg}");
    assert!(msg.contains("DD_API_KEY"), "{msg}");
    assert!(!msg.contains("wrong-key-value-123"), "{msg}");
    assert_eq!(intake.requests().len(), 1);
}

/// Regression: reqwest followed redirects by default, turning the POST into
/// a body-less GET that "succeeded" (logs lost), or re-sending the API key
/// to the redirect's host.
#[tokio::test]
async fn redirects_are_refused_not_followed() {
    for status in [301, 302, 307, 308] {
        let intake = IntakeEmulator::start(IntakeContract::default()).await;
        intake.push_faults([Fault::Redirect(status)]);
        let cfg = config(&intake, &[]);
        let err = forwarder(&cfg)
            .handle(&event(audit_event(&messages(2))), &invocation())
            .await
            .unwrap_err();
        let msg = err.error_message();
        assert!(msg.contains(&format!("HTTP {status}")), "{status}: {msg}");
        let reqs = intake.requests();
        assert_eq!(
            reqs.len(),
            1,
            "{status}: the redirect was not followed: {reqs:?}"
        );
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].path.as_str()),
            ("POST", "/api/v2/logs")
        );
    }
}

#[tokio::test]
async fn a_malformed_log_is_isolated_and_the_rest_delivered() {
    let intake = IntakeEmulator::start(IntakeContract {
        poison: Some("web-6\"".into()),
        ..IntakeContract::default()
    })
    .await;
    let cfg = config(&intake, &[]);
    let err = forwarder(&cfg)
        .handle(&event(audit_event(&messages(10))), &invocation())
        .await
        .unwrap_err();
    let ForwardError::Undelivered {
        total: 10,
        failures,
    } = &err
    else {
        panic!("{err}")
    };
    // The rejected log is named by its CloudWatch event id.
    assert_eq!(failures.rejected_ids, vec![format!("{:056}", 37_000_006)]);
    assert!(
        err.error_message()
            .contains(&format!("event ids {:056}", 37_000_006)),
        "{err}"
    );
    assert!(
        err.error_message()
            .contains("1 rejected by the intake as malformed")
    );
    let delivered: Vec<String> = intake
        .accepted_logs()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered.len(), 9);
    assert!(!delivered.iter().any(|m| m.contains("web-6\"")));
}

#[tokio::test]
async fn payload_too_large_is_split_until_it_fits() {
    // An intake stricter than the forwarder's limits: 3 entries at most.
    let intake = IntakeEmulator::start(IntakeContract {
        max_entries: 3,
        ..IntakeContract::default()
    })
    .await;
    let cfg = config(&intake, &[]);
    let summary = forwarder(&cfg)
        .handle(&event(audit_event(&messages(10))), &invocation())
        .await
        .unwrap();
    assert_eq!(summary.logs_forwarded, 10);
    assert!(summary.splits >= 3, "{summary:?}");
    assert_eq!(
        summary.error_statuses.get(&413).copied().unwrap_or(0),
        summary.splits
    );
    assert_eq!(intake.accepted_logs().len(), 10);
}

#[tokio::test]
async fn batches_are_cut_by_exact_size_and_never_get_413() {
    // Same contract on both sides, small enough that sizes decide the cuts.
    let limits = BatchLimits {
        max_entries: 1_000,
        max_body_bytes: 8_000,
        max_log_bytes: 4_000,
    };
    let intake = IntakeEmulator::start(IntakeContract {
        max_body_bytes: 8_000,
        ..IntakeContract::default()
    })
    .await;
    let cfg = config(&intake, &[("DD_USE_COMPRESSION", "false")]);
    let summary = forwarder(&cfg)
        .with_batch_limits(limits)
        .handle(&event(audit_event(&messages(60))), &invocation())
        .await
        .unwrap();
    assert!(summary.batches > 5, "{summary:?}");
    assert!(intake.requests().iter().all(|r| r.status == 202));
    assert!(intake.requests().iter().all(|r| r.body_bytes <= 8_000));
    assert_eq!(intake.accepted_logs().len(), 60);
}

#[tokio::test]
async fn an_oversize_audit_event_arrives_shrunk_valid_and_marked() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[]);
    let big = oversize_audit_message(1_400_000);
    let msgs = vec![audit_message(1), big.clone()];
    let summary = forwarder(&cfg)
        .handle(&event(audit_event(&msgs)), &invocation())
        .await
        .unwrap();
    assert_eq!(summary.truncated, 1);
    let logs = intake.accepted_logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["message"], msgs[0]);
    assert!(logs[0].get("truncated").is_none());
    let shrunk = &logs[1];
    assert_eq!(shrunk["truncated"], true);
    assert!(shrunk["original_size"].as_u64().unwrap() > 1_400_000);
    assert!(shrunk.to_string().len() <= 1_000_000);
    let original: serde_json::Value = serde_json::from_str(&big).unwrap();
    let event: serde_json::Value =
        serde_json::from_str(shrunk["message"].as_str().unwrap()).unwrap();
    assert!(event.get("responseObject").is_none());
    for key in [
        "auditID",
        "verb",
        "user",
        "objectRef",
        "responseStatus",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "requestObject",
    ] {
        assert_eq!(event[key], original[key], "{key}");
    }
    assert_eq!(intake.oversize_logs(), 0);
}

/// Review finding: with SIEM attributes, an event whose `objectRef` alone
/// passed the per-log limit failed the whole invocation, every retry.
#[tokio::test]
async fn an_oversize_event_with_siem_attributes_goes_without_them() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[("DD_SIEM_ATTRIBUTES", "true")]);
    let name = "n".repeat(600_000);
    let big = serde_json::json!({"kind": "Event", "verb": "get", "auditID": "big",
        "requestURI": format!("/api/v1/namespaces/default/pods/{name}"),
        "user": {"username": "system:anonymous"},
        "objectRef": {"resource": "pods", "namespace": "default", "name": name},
        "responseStatus": {"code": 404}})
    .to_string();
    let msgs = vec![audit_message(1), big];
    let summary = forwarder(&cfg)
        .handle(&event(audit_event(&msgs)), &invocation())
        .await
        .unwrap();
    assert_eq!((summary.logs_forwarded, summary.truncated), (2, 1));
    let logs = intake.accepted_logs();
    assert_eq!(logs[0]["http"]["method"], "get", "small logs keep theirs");
    assert_eq!(logs[1]["truncated"], true);
    assert!(logs[1].get("objectRef").is_none() && logs[1].get("http").is_none());
    assert_eq!(intake.oversize_logs(), 0);
}

/// Second review: a log over the limit only because of its attributes
/// goes whole, without them, rather than shrunk.
#[tokio::test]
async fn a_log_over_the_limit_only_with_attributes_goes_whole_without_them() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[("DD_SIEM_ATTRIBUTES", "true")]);
    let name = "n".repeat(60_000);
    let big = serde_json::json!({"kind": "Event", "verb": "create", "auditID": "near",
        "requestURI": format!("/api/v1/namespaces/default/configmaps/{name}"),
        "user": {"username": "alice"},
        "objectRef": {"resource": "configmaps", "namespace": "default", "name": name},
        "requestObject": {"data": {"blob": "b".repeat(800_000)}},
        "responseStatus": {"code": 201}})
    .to_string();
    let msgs = vec![big.clone()];
    let summary = forwarder(&cfg)
        .handle(&event(audit_event(&msgs)), &invocation())
        .await
        .unwrap();
    assert_eq!((summary.logs_forwarded, summary.truncated), (1, 0));
    let logs = intake.accepted_logs();
    assert_eq!(logs[0]["message"], big, "the message goes whole");
    assert!(logs[0].get("http").is_none() && logs[0].get("truncated").is_none());
}

#[tokio::test]
async fn an_oversize_text_log_is_cut_with_a_marker() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[]);
    let text = "ü".repeat(700_000); // 1.4 MB of two-byte characters
    let doc = support::payload::document("/aws/eks/prod/cluster", "kube-apiserver-0a1b", &[text]);
    let summary = forwarder(&cfg)
        .handle(
            &event(support::payload::wrap(doc.as_bytes())),
            &invocation(),
        )
        .await
        .unwrap();
    assert_eq!(summary.truncated, 1);
    let log = &intake.accepted_logs()[0];
    let message = log["message"].as_str().unwrap();
    assert!(message.ends_with(eks_audit_forwarder::audit::CUT_MARKER));
    assert!(
        message
            .trim_end_matches(eks_audit_forwarder::audit::CUT_MARKER)
            .chars()
            .all(|c| c == 'ü')
    );
    assert_eq!(log["ddsource"], "kube-apiserver");
    assert!(serde_json::to_vec(log).unwrap().len() <= 1_000_000);
}

#[tokio::test]
async fn the_retry_budget_ends_before_the_deadline() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    intake.push_faults(std::iter::repeat_n(Fault::StatusRetryAfter(429, 2), 10));
    let cfg = config(&intake, &[]);
    let inv = Invocation {
        deadline: tokio::time::Instant::now() + Duration::from_millis(1_500),
        ..invocation()
    };
    let err = forwarder(&cfg)
        .handle(&event(audit_event(&messages(1))), &inv)
        .await
        .unwrap_err();
    // A 2 s Retry-After cannot fit before the deadline: one attempt, then give up.
    assert_eq!(intake.requests().len(), 1);
    assert!(
        err.error_message().contains("last: HTTP 429"),
        "{}",
        err.error_message()
    );
}

/// The Cloud SIEM query `source:kubernetes.audit @objectRef.resource:pods
/// @objectRef.subresource:exec @http.method:create
/// @http.status_code:[101 TO 299]`, evaluated the way an intake that
/// indexes JSON attributes would: on the log's own attributes, not on its
/// message.
fn exec_detection_matches(log: &serde_json::Value) -> bool {
    let status = log["http"]["status_code"].as_u64();
    log["ddsource"] == "kubernetes.audit"
        && log["objectRef"]["resource"] == "pods"
        && log["objectRef"]["subresource"] == "exec"
        && log["http"]["method"] == "create"
        && status.is_some_and(|s| (101..=299).contains(&s))
}

#[tokio::test]
async fn siem_attributes_make_the_exec_detection_match_on_attributes_alone() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let sample =
        std::fs::read_to_string(support::repo_root().join("events/eks-audit.json")).unwrap();

    // Off by default: the detection cannot match without parsing messages.
    forwarder(&config(&intake, &[]))
        .handle(&event(sample.clone()), &invocation())
        .await
        .unwrap();
    let plain = intake.accepted_logs();
    assert_eq!(plain.len(), 11);
    assert!(!plain.iter().any(exec_detection_matches));
    assert!(plain.iter().all(|l| l.get("http").is_none()));

    forwarder(&config(&intake, &[("DD_SIEM_ATTRIBUTES", "true")]))
        .handle(&event(sample), &invocation())
        .await
        .unwrap();
    let logs = &intake.accepted_logs()[11..];
    // The exec, in both of its stages; nothing else.
    let hits: Vec<&serde_json::Value> = logs.iter().filter(|l| exec_detection_matches(l)).collect();
    assert_eq!(hits.len(), 2, "{logs:?}");
    for (log, plain) in logs.iter().zip(&plain) {
        // The message is untouched; the attributes agree with it.
        assert_eq!(log["message"], plain["message"]);
        let event: serde_json::Value =
            serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
        assert_eq!(log["http"]["method"], event["verb"]);
        assert_eq!(log["http"]["status_code"], event["responseStatus"]["code"]);
        assert_eq!(log["usr"]["name"], event["user"]["username"]);
        assert_eq!(log["network"]["client"]["ip"], event["sourceIPs"][0]);
        assert_eq!(log["objectRef"], event["objectRef"]);
        let uri = event["requestURI"].as_str().unwrap();
        assert_eq!(
            log["http"]["url_details"]["path"],
            uri.split('?').next().unwrap()
        );
        if let Some(ns) = event["objectRef"]["namespace"].as_str() {
            assert_eq!(log["kube_namespace"], ns);
        }
    }
    // The denied secret read carries its 403 as an attribute.
    assert!(
        logs.iter()
            .any(|l| l["http"]["status_code"] == 403 && l["objectRef"]["resource"] == "secrets")
    );
}

#[tokio::test]
async fn datadog_forwarder_filters_and_scrubbing_apply_to_the_message() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let sample =
        std::fs::read_to_string(support::repo_root().join("events/eks-audit.json")).unwrap();
    let summary = forwarder(&config(
        &intake,
        &[
            // Writes only, except by nodes; exclude wins over include.
            (
                "INCLUDE_AT_MATCH",
                r#""verb":"(create|update|patch|delete)""#,
            ),
            ("EXCLUDE_AT_MATCH", r#""username":"system:node:"#),
            ("REDACT_IP", "true"),
            ("REDACT_EMAIL", "true"),
            ("DD_SCRUBBING_RULE", r"AROA[A-Z0-9]+"),
            ("DD_SCRUBBING_RULE_REPLACEMENT", "AROA-REDACTED"),
            ("DD_SIEM_ATTRIBUTES", "true"),
        ],
    ))
    .handle(&event(sample), &invocation())
    .await
    .unwrap();
    let logs = intake.accepted_logs();
    // Of the 11 sample events the writes by people go through; the reads,
    // the watch and the node's lease update are filtered out.
    let verbs: Vec<String> = logs
        .iter()
        .map(|l| l["http"]["method"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        verbs
            .iter()
            .all(|v| ["create", "patch", "delete"].contains(&v.as_str())),
        "{verbs:?}"
    );
    assert_eq!(summary.filtered + logs.len(), 11);
    assert_eq!(summary.filtered, 11 - logs.len());
    assert!(summary.filtered >= 5, "{}", summary.filtered);
    assert!(summary.logs_scrubbed > 0);
    for log in &logs {
        let message = log["message"].as_str().unwrap();
        // Still the same event, as valid JSON, with nothing left to scrub.
        let event: serde_json::Value = serde_json::from_str(message).unwrap();
        assert!(event["auditID"].is_string());
        assert!(
            !message.contains("198.51.100.23") && !message.contains("AROAEXAMPLE"),
            "{message}"
        );
        // Attributes come from the scrubbed message.
        if let Some(ip) = log["network"]["client"]["ip"].as_str() {
            assert_eq!(ip, "xxx.xxx.xxx.xxx");
        }
    }
}

/// A forwarder sending zstd with gzip as the fallback, in batches of
/// `per_batch` logs, one request at a time.
fn zstd_forwarder(config: &Config, per_batch: usize) -> Forwarder {
    let client = support::in_process::intake_client(config);
    let options = ShipOptions {
        encoding: BodyEncoding::Zstd { level: 1 },
        fallback: Some(BodyEncoding::Gzip { level: 6 }),
        max_concurrent_requests: 1,
        ..fast_options(config)
    };
    Forwarder::new(
        config,
        Destination::Intake(Arc::new(Shipper::new(client, options))),
    )
    .with_batch_limits(BatchLimits {
        max_entries: per_batch,
        ..BatchLimits::default()
    })
}

/// An intake that refuses zstd (with 415, or with 400 as some proxies do)
/// gets the same batch again as gzip, and gzip from then on: every log
/// once, none lost, none twice.
#[tokio::test]
async fn a_refused_zstd_body_goes_again_as_gzip_and_gzip_stays() {
    for status in [415, 400] {
        let intake = IntakeEmulator::start(IntakeContract {
            refuse_encoding: Some(("zstd", status)),
            ..IntakeContract::default()
        })
        .await;
        let cfg = config(&intake, &[]);
        let forwarder = zstd_forwarder(&cfg, 4);
        for round in 0..2 {
            let summary = forwarder
                .handle(&event(audit_event(&messages(10))), &invocation())
                .await
                .unwrap_or_else(|e| panic!("{status}, round {round}: {e}"));
            assert_eq!(summary.logs_forwarded, 10, "{status}: {summary:?}");
        }
        let ids: Vec<String> = intake
            .accepted_logs()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), 20, "{status}: every log, each round");
        assert_eq!(unique.len(), 10, "{status}: the same 10 ids per round");
        let encodings: Vec<Option<String>> = intake
            .requests()
            .iter()
            .map(|r| r.content_encoding.clone())
            .collect();
        // One refused zstd request, then gzip for every batch: 3 per round.
        let gzip = Some("gzip".to_owned());
        assert_eq!(encodings[0].as_deref(), Some("zstd"), "{status}");
        assert_eq!(encodings[1..], vec![gzip; 6], "{status}");
    }
}

/// A 400 that is the logs' fault, not the encoding's: the gzip try is
/// refused too, the batch is split as usual, the good logs go in zstd,
/// and the shipper keeps zstd.
#[tokio::test]
async fn a_malformed_log_in_a_zstd_body_does_not_switch_the_encoding() {
    let intake = IntakeEmulator::start(IntakeContract {
        poison: Some("web-6\"".into()),
        ..IntakeContract::default()
    })
    .await;
    let cfg = config(&intake, &[]);
    let forwarder = zstd_forwarder(&cfg, 1_000);
    let err = forwarder
        .handle(&event(audit_event(&messages(10))), &invocation())
        .await
        .unwrap_err();
    let ForwardError::Undelivered { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.rejected_ids, vec![format!("{:056}", 37_000_006)]);
    assert_eq!(intake.accepted_logs().len(), 9);
    let requests = intake.requests();
    assert_eq!(requests[1].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(requests[1].status, 400, "the gzip try is refused too");
    let last = requests.last().unwrap();
    assert_eq!(
        last.content_encoding.as_deref(),
        Some("zstd"),
        "{requests:?}"
    );
    // A later delivery is still zstd.
    let before = intake.requests().len();
    forwarder
        .handle(&event(audit_event(&[audit_message(1)])), &invocation())
        .await
        .unwrap();
    assert_eq!(
        intake.requests()[before].content_encoding.as_deref(),
        Some("zstd")
    );
}

/// A forwarder built without an S3 client (as a library user may build
/// one) fails an S3 event, so Lambda retries it, rather than drop it.
#[tokio::test]
async fn an_s3_event_without_an_s3_client_fails_the_invocation() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let cfg = config(&intake, &[]);
    let s3_event =
        std::fs::read_to_string(support::repo_root().join("events/s3-firehose-object.json"))
            .unwrap();
    let err = forwarder(&cfg)
        .handle(&event(s3_event), &invocation())
        .await
        .unwrap_err();
    assert!(matches!(err, ForwardError::NoObjectReader), "{err}");
    assert_eq!(err.error_type(), "S3ReadError");
    assert!(intake.requests().is_empty());
}
