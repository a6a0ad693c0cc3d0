//! Nothing lost: undelivered logs kept in S3 (moto's server on 127.0.0.1)
//! and replayed, through the real binary and the Runtime API, faults included.

#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/s3_faults.rs"]
#[allow(dead_code)] // the fault suite sets the other behaviours
mod s3_faults;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use eks_audit_forwarder::batch::BatchLimits;
use eks_audit_forwarder::ship::{RetryPolicy, ShipOptions, Shipper};
use eks_audit_forwarder::spill::SpillStore;
use eks_audit_forwarder::{Config, Destination, Forwarder, Invocation};
use proxy::ForwardProxy;
use s3_faults::{S3Behaviour, S3FaultProxy, S3Operation};
use serde_json::{Value, value::RawValue};
use support::ForwarderProcess;
use support::intake::{Chaos, Fault, IntakeContract, IntakeEmulator};
use support::moto::{Moto, list_keys};
use support::payload::{AUDIT_GROUP, AUDIT_STREAM, audit_message, document, wrap};
use support::runtime_api::{InvocationResult, RuntimeApi};

const BUCKET: &str = "failed-logs";
/// `AWS_LAMBDA_FUNCTION_NAME` of the test processes, lower-cased.
const FAILED_PREFIX: &str = "failed_events/eks-audit-forwarder/";
const DEAD_PREFIX: &str = "dead_letter/eks-audit-forwarder/";

/// `n` audit events whose CloudWatch ids start at `first`.
fn audit_payload(first: usize, n: usize) -> String {
    let messages: Vec<String> = (first..first + n).map(audit_message).collect();
    let doc: Value = serde_json::from_str(&document(AUDIT_GROUP, AUDIT_STREAM, &messages)).unwrap();
    let mut doc = doc;
    for (i, e) in doc["logEvents"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        e["id"] = Value::String(format!("{:056}", first + i));
    }
    wrap(doc.to_string().as_bytes())
}

fn spill_vars(intake: &IntakeEmulator, moto: &Moto) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("DD_URL", intake.url()),
        ("DD_NO_SSL", "true".into()),
        ("DD_API_KEY", intake.api_key().into()),
        ("DD_STORE_FAILED_EVENTS", "true".into()),
        ("DD_S3_BUCKET_NAME", BUCKET.into()),
        ("DD_METRICS_NAMESPACE", "EafTest".into()),
    ];
    vars.extend(moto.env());
    vars
}

fn start(runtime: &RuntimeApi, vars: &[(&'static str, String)]) -> ForwarderProcess {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ForwarderProcess::start_lambda(&runtime.address(), &vars)
}

async fn invoke(
    runtime: &mut RuntimeApi,
    id: &str,
    body: String,
    timeout: Duration,
) -> Result<Value, Value> {
    runtime.invoke(id, body, timeout);
    let (got, result) = runtime.next_result().await;
    assert_eq!(got, id);
    match result {
        InvocationResult::Response(v) => Ok(v),
        InvocationResult::Error(v) => Err(v),
    }
}

/// Ids of the accepted logs, with how often each arrived.
fn arrivals(intake: &IntakeEmulator) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for log in intake.accepted_logs() {
        *seen
            .entry(log["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    seen
}

async fn stored_logs(s3: &aws_sdk_s3::Client, key: &str) -> Vec<Value> {
    serde_json::from_value(support::moto::read_gzip_json(s3, BUCKET, key).await).unwrap()
}

/// Regression: with the intake down, 50 good logs and one whose message
/// holds a lone surrogate (`\ud800`, which serde_json will not decode) were
/// stored as one object; replay could not parse it, moved it whole to
/// `dead_letter/.../unreadable/`, and none of the 50 was ever delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_undecodable_log_does_not_hold_back_its_stored_siblings() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &spill_vars(&intake, &moto));

    let mut messages: Vec<String> = (0..51).map(audit_message).collect();
    messages[50] = messages[50].replace("\"verb\"", "\"note\":\"POISON\",\"verb\"");
    let doc = document(AUDIT_GROUP, AUDIT_STREAM, &messages).replace("POISON", "\\ud800");
    assert!(
        doc.contains(r#"\"note\":\"\ud800\""#),
        "a lone surrogate in the message string"
    );
    intake.set_down(Some(Fault::Status(503)));
    let summary = invoke(
        &mut runtime,
        "down",
        wrap(doc.as_bytes()),
        Duration::from_secs(6),
    )
    .await
    .expect("kept in S3");
    assert_eq!(summary["stored"], 51);
    assert_eq!(list_keys(&s3, BUCKET, FAILED_PREFIX).await.len(), 1);

    intake.set_down(None);
    let summary = invoke(
        &mut runtime,
        "replay",
        r#"{"retry":"true"}"#.into(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let stderr = process.stop();
    assert_eq!(summary["replayed"], 50, "{summary}\n{stderr}");
    assert_eq!(intake.accepted_count(), 50);
    assert!(list_keys(&s3, BUCKET, FAILED_PREFIX).await.is_empty());
    let dead = list_keys(&s3, BUCKET, DEAD_PREFIX).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(!dead[0].contains("unreadable"), "{}", dead[0]);
    // The dead letter holds the one log, byte for byte as it was sent.
    let body = support::moto::read_gzip_bytes(&s3, BUCKET, &dead[0]).await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(r#"\ud800"#), "{text}");
    assert_eq!(text.matches("\"id\":").count(), 1, "{text}");
}

/// Regression: the replay listing after a delivered invocation had no bound
/// but the invocation's deadline, so an S3 endpoint that accepts
/// connections and never answers made every invocation run to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_that_never_answers_costs_a_delivered_invocation_seconds_not_its_timeout() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let s3 = S3FaultProxy::start(moto.endpoint(), S3Behaviour::BlackHole).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let mut vars = spill_vars(&intake, &moto);
    vars.push(("AWS_ENDPOINT_URL", s3.endpoint()));
    let process = start(&runtime, &vars);
    let timeout = Duration::from_secs(30);
    let started = std::time::Instant::now();
    let summary = invoke(&mut runtime, "bh", audit_payload(0, 20), timeout)
        .await
        .expect("delivered");
    let took = started.elapsed();
    let stderr = process.stop();
    assert_eq!(summary["logs_forwarded"], 20);
    assert_eq!(summary["replay_errors"], 1, "{summary}");
    assert!(
        s3.seen()
            .iter()
            .any(|(op, status)| *op == S3Operation::List && *status == 0),
        "the listing went to the black hole"
    );
    // The listing's own bound (2 s), not the 30 s timeout.
    assert!(took < timeout / 3, "took {took:?}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_down_keeps_everything_in_s3_and_the_next_invocations_replay_it() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &spill_vars(&intake, &moto));

    // Down for a whole invocation: everything lands in S3, and it succeeds.
    intake.set_down(Some(Fault::Status(503)));
    let summary = invoke(
        &mut runtime,
        "down-1",
        audit_payload(0, 300),
        Duration::from_secs(6),
    )
    .await
    .expect("the invocation succeeds once the logs are kept");
    assert_eq!(summary["stored"], 300);
    assert_eq!(summary["logs_forwarded"], 0);
    let keys = list_keys(&s3, BUCKET, FAILED_PREFIX).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].ends_with("-down-1-000.json.gz"), "{}", keys[0]);
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("last-error").map(String::as_str), Some("HTTP 503"));
    assert_eq!(meta.get("log-count").map(String::as_str), Some("300"));
    let kept = stored_logs(&s3, &keys[0]).await;
    assert_eq!(kept.len(), 300);
    assert_eq!(kept[0]["message"], audit_message(0));

    // Back up: a {"retry":"true"} invocation delivers all of it and empties the bucket.
    intake.set_down(None);
    let summary = invoke(
        &mut runtime,
        "retry-1",
        r#"{"retry":"true"}"#.into(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(summary["replayed"], 300);
    assert_eq!(summary["replayed_objects"], 1);
    assert!(list_keys(&s3, BUCKET, "").await.is_empty());
    let logs = intake.accepted_logs();
    assert_eq!(logs.len(), 300);
    assert!(
        logs.iter()
            .all(|l| l["ddtags"].as_str().unwrap().ends_with(",retry:true"))
    );
    assert_eq!(logs[0]["message"], audit_message(0));

    // Down again, then an ordinary invocation replays what the last one kept.
    intake.set_down(Some(Fault::Reset));
    let summary = invoke(
        &mut runtime,
        "down-2",
        audit_payload(1_000, 50),
        Duration::from_secs(6),
    )
    .await
    .unwrap();
    assert_eq!(summary["stored"], 50);
    intake.set_down(None);
    let summary = invoke(
        &mut runtime,
        "up-2",
        audit_payload(2_000, 5),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(summary["logs_forwarded"], 5);
    assert_eq!(summary["replayed"], 50);
    assert!(list_keys(&s3, BUCKET, "").await.is_empty());
    let seen = arrivals(&intake);
    assert_eq!(seen.len(), 355);
    assert!(
        seen.values().all(|n| *n == 1),
        "no duplicates in this sequence"
    );

    let stderr = process.stop();
    let emf: Vec<Value> = stderr
        .lines()
        .filter(|l| l.contains("\"_aws\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(emf.len(), 4, "one EMF line per invocation");
    assert_eq!(
        emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "EafTest"
    );
    assert_eq!(emf[0]["LogsStored"], 300);
    // The dimension is the function's name as Lambda gives it: the
    // template's alarms name it exactly (the tag and prefixes stay lower case).
    assert_eq!(emf[0]["FunctionName"], "EKS-Audit-Forwarder");
    assert_eq!(emf[1]["LogsReplayed"], 300);
    assert!(stderr.contains("undelivered logs kept in S3"));
}

/// Issue 12: behind an egress proxy (`HTTPS_PROXY` and `HTTP_PROXY`, as the
/// template's `DdHttpProxyURL` sets them), the intake's requests and the AWS SDK's (the
/// spill to S3 and its replay) all go through the proxy; and the Datadog
/// Forwarder's replay event, `{"retry": true}`, replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_proxy_the_intake_and_s3_are_both_reached_by_way_of_it() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let proxy = ForwardProxy::start().await;
    let mut runtime = RuntimeApi::start().await;
    let mut vars = spill_vars(&intake, &moto);
    // Both, as the template's DdHttpProxyURL sets them.
    vars.push(("HTTPS_PROXY", proxy.url()));
    vars.push(("HTTP_PROXY", proxy.url()));
    let process = start(&runtime, &vars);

    intake.set_down(Some(Fault::Status(503)));
    let summary = invoke(
        &mut runtime,
        "down-1",
        audit_payload(0, 20),
        Duration::from_secs(6),
    )
    .await
    .expect("kept in S3");
    assert_eq!(summary["stored"], 20);
    intake.set_down(None);
    let summary = invoke(
        &mut runtime,
        "retry-1",
        r#"{"retry": true}"#.into(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(summary["replayed"], 20);
    assert!(list_keys(&s3, BUCKET, "").await.is_empty());
    assert_eq!(arrivals(&intake).len(), 20);
    process.stop();

    let seen = proxy.seen();
    let intake_authority = intake.url().trim_start_matches("http://").to_owned();
    let moto_authority = moto.endpoint().trim_start_matches("http://").to_owned();
    let to = |authority: &str, method: &str| {
        seen.iter()
            .filter(|r| r.authority == authority && r.method == method)
            .count()
    };
    assert!(to(&intake_authority, "POST") >= 2, "{seen:?}");
    assert_eq!(
        intake.requests().len(),
        to(&intake_authority, "POST"),
        "every intake request came through the proxy"
    );
    for method in ["PUT", "GET", "DELETE"] {
        assert!(to(&moto_authority, method) >= 1, "no S3 {method}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_down_and_s3_down_fails_the_invocation() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    intake.set_down(Some(Fault::Status(500)));
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut vars: Vec<(&'static str, String)> = vec![
        ("DD_URL", intake.url()),
        ("DD_NO_SSL", "true".into()),
        ("DD_API_KEY", intake.api_key().into()),
        ("DD_STORE_FAILED_EVENTS", "true".into()),
        ("DD_S3_BUCKET_NAME", BUCKET.into()),
        ("AWS_ENDPOINT_URL", format!("http://{closed}")),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ];
    vars.push(("AWS_MAX_ATTEMPTS", "2".into()));
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &vars);
    let err = invoke(
        &mut runtime,
        "both-down",
        audit_payload(0, 20),
        Duration::from_secs(6),
    )
    .await
    .expect_err("neither delivered nor kept: the invocation must fail");
    assert_eq!(err["errorType"], "SpillError");
    let msg = err["errorMessage"].as_str().unwrap();
    assert!(
        msg.starts_with("20 of 20 logs were neither delivered"),
        "{msg}"
    );
    assert!(
        msg.contains("HTTP 500") && msg.contains("PutObject"),
        "{msg}"
    );
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_log_goes_to_dead_letter_and_the_rest_arrive() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract {
        poison: Some("web-7\"".into()),
        ..IntakeContract::default()
    })
    .await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &spill_vars(&intake, &moto));
    let summary = invoke(
        &mut runtime,
        "poison",
        audit_payload(0, 12),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(summary["logs_forwarded"], 11);
    assert_eq!(summary["dead_lettered"], 1);
    assert_eq!(summary["stored"], 0);
    assert_eq!(intake.accepted_logs().len(), 11);
    assert!(list_keys(&s3, BUCKET, FAILED_PREFIX).await.is_empty());
    let dead = list_keys(&s3, BUCKET, DEAD_PREFIX).await;
    assert_eq!(dead.len(), 1);
    let logs = stored_logs(&s3, &dead[0]).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["message"], audit_message(7));
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(&dead[0])
        .send()
        .await
        .unwrap();
    let answer = head
        .metadata()
        .unwrap()
        .get("intake-answer")
        .cloned()
        .unwrap_or_default();
    assert!(answer.contains("malformed log"), "{answer}");
    // Dead letters are not replayed.
    let summary = invoke(
        &mut runtime,
        "retry",
        r#"{"retry":"true"}"#.into(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(summary["replayed"], 0);
    assert_eq!(list_keys(&s3, BUCKET, DEAD_PREFIX).await.len(), 1);
    drop(process);
}

/// A forwarder in this process, with small batches so one stored object is
/// several requests.
fn library_forwarder(intake: &IntakeEmulator, s3: aws_sdk_s3::Client) -> Forwarder {
    let vars = [
        ("DD_URL", intake.url()),
        ("DD_NO_SSL", "true".to_owned()),
        ("DD_API_KEY", intake.api_key().to_owned()),
        ("DD_STORE_FAILED_EVENTS", "true".to_owned()),
        ("DD_S3_BUCKET_NAME", BUCKET.to_owned()),
    ];
    let config =
        Config::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    let client = support::in_process::intake_client(&config);
    let options = ShipOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
            min_attempt_time: Duration::ZERO,
            jitter: false,
        },
        max_concurrent_requests: 1,
        ..ShipOptions::new(config.intake.encoding)
    };
    Forwarder::new(
        &config,
        Destination::Intake(Arc::new(Shipper::new(client, options))),
    )
    .with_batch_limits(BatchLimits {
        max_entries: 10,
        ..BatchLimits::default()
    })
    .with_spill(SpillStore::new(s3, BUCKET, "eks-audit-forwarder"))
}

fn retry_event() -> Box<RawValue> {
    RawValue::from_string(r#"{"retry":"true"}"#.to_owned()).unwrap()
}

fn long_invocation(id: &str) -> Invocation {
    Invocation {
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
        ..Invocation::local(id)
    }
}

/// Puts an object of `logs` where the forwarder keeps failed batches.
async fn put_failed(s3: &aws_sdk_s3::Client, name: &str, logs: &[Value]) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, serde_json::to_vec(logs).unwrap().as_slice()).unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("{FAILED_PREFIX}2026/11/26/{name}.json.gz"))
        .body(ByteStream::from(gz.finish().unwrap()))
        .send()
        .await
        .unwrap();
}

fn logs_with_ids(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| serde_json::json!({"message": audit_message(i), "ddsource": "kubernetes.audit", "ddtags": "env:test", "id": format!("{i:056}")}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_failed_replay_writes_back_what_failed_before_deleting() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    put_failed(&s3, "1764151200000-old-000", &logs_with_ids(0..30)).await;
    put_failed(&s3, "1764151200001-old-000", &logs_with_ids(30..60)).await;
    let forwarder = library_forwarder(&intake, s3.clone());

    // In each object, the first request (10 logs) goes through, the next one
    // is refused (a key rotated mid-invocation, say: kept to send again),
    // the third goes through.
    let partly = [Fault::Delay(Duration::ZERO), Fault::Status(403)];
    intake.push_faults(partly.clone());
    intake.push_faults([Fault::Delay(Duration::ZERO)]);
    intake.push_faults(partly);
    let summary = forwarder
        .handle(&retry_event(), &long_invocation("partial"))
        .await
        .unwrap();
    assert_eq!(summary.replayed, 40);
    assert_eq!(summary.stored, 20);
    let keys = list_keys(&s3, BUCKET, FAILED_PREFIX).await;
    assert_eq!(
        keys.len(),
        2,
        "the old objects are gone, each remainder is a new one: {keys:?}"
    );
    let mut remainder = BTreeSet::new();
    for key in &keys {
        assert!(key.contains("-partial-"), "{key}");
        remainder.extend(
            stored_logs(&s3, key)
                .await
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned()),
        );
    }
    let expected: BTreeSet<String> = (10..20).chain(40..50).map(|i| format!("{i:056}")).collect();
    assert_eq!(remainder, expected);

    let summary = forwarder
        .handle(&retry_event(), &long_invocation("again"))
        .await
        .unwrap();
    assert_eq!(summary.replayed, 20);
    assert!(list_keys(&s3, BUCKET, "").await.is_empty());
    let seen = arrivals(&intake);
    assert_eq!(seen.len(), 60, "every stored log arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_stops_while_the_intake_is_still_down_and_keeps_the_objects() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    put_failed(&s3, "1764151200000-a-000", &logs_with_ids(0..5)).await;
    put_failed(&s3, "1764151200001-b-000", &logs_with_ids(5..10)).await;
    let forwarder = library_forwarder(&intake, s3.clone());
    intake.set_down(Some(Fault::Status(503)));
    // Enough time for replay to start (its minimum plus the margins).
    let invocation = Invocation {
        deadline: tokio::time::Instant::now() + Duration::from_secs(8),
        ..Invocation::local("down")
    };
    let summary = forwarder.handle(&retry_event(), &invocation).await.unwrap();
    assert_eq!(summary.replayed, 0);
    assert!(summary.requests > 1, "retried until the stop");
    assert_eq!(summary.replay_errors, 0);
    assert!(tokio::time::Instant::now() < invocation.deadline);
    let keys = list_keys(&s3, BUCKET, FAILED_PREFIX).await;
    assert_eq!(keys.len(), 2);
    assert!(
        keys[0].ends_with("1764151200000-a-000.json.gz"),
        "untouched, oldest first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replays_of_the_same_objects_lose_nothing() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    for i in 0..4 {
        put_failed(
            &s3,
            &format!("17641512000{i:02}-r-000"),
            &logs_with_ids(i * 25..i * 25 + 25),
        )
        .await;
    }
    let a = library_forwarder(&intake, s3.clone());
    let b = library_forwarder(&intake, s3.clone());
    let (event, inv_a, inv_b) = (retry_event(), long_invocation("a"), long_invocation("b"));
    let (ra, rb) = tokio::join!(a.handle(&event, &inv_a), b.handle(&event, &inv_b));
    let replayed = ra.unwrap().replayed + rb.unwrap().replayed;
    assert!(list_keys(&s3, BUCKET, "").await.is_empty());
    let seen = arrivals(&intake);
    assert_eq!(seen.len(), 100, "every stored log arrived");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert_eq!(replayed, 100 + duplicates);
    println!("concurrent replay: 100 stored logs, {duplicates} duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_event_arrives_through_a_faulty_intake() {
    // Many small invocations, so the faults hit many requests.
    const INVOCATIONS: usize = 100;
    const PER_INVOCATION: usize = 40;
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    intake.set_chaos(Some(Chaos {
        rate: 0.45,
        faults: vec![
            Fault::Status(500),
            Fault::Status(503),
            Fault::StatusRetryAfter(429, 1),
            Fault::Status(408),
            Fault::Reset,
            Fault::Delay(Duration::from_millis(1_500)), // past the 0.5 s client timeout
        ],
        rng: fastrand::Rng::with_seed(20261126),
    }));
    let mut vars = spill_vars(&intake, &moto);
    vars.push(("DD_REQUEST_TIMEOUT_SECONDS", "0.5".into()));
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &vars);

    let (mut stored, mut replayed) = (0, 0);
    for i in 0..INVOCATIONS {
        let summary = invoke(
            &mut runtime,
            &format!("chaos-{i}"),
            audit_payload(i * PER_INVOCATION, PER_INVOCATION),
            // 6 s: retries get about 2 s before the spill reserve, so the
            // unluckiest batches end up in S3 and come back through replay.
            Duration::from_secs(6),
        )
        .await
        .unwrap_or_else(|e| panic!("chaos-{i}: {e}"));
        stored += summary["stored"].as_u64().unwrap();
        replayed += summary["replayed"].as_u64().unwrap();
    }
    let faults = intake.injected_faults();
    let requests = intake.requests().len();
    intake.set_chaos(None);
    for round in 0..10 {
        if list_keys(&s3, BUCKET, FAILED_PREFIX).await.is_empty() {
            break;
        }
        let summary = invoke(
            &mut runtime,
            &format!("drain-{round}"),
            r#"{"retry":"true"}"#.into(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        replayed += summary["replayed"].as_u64().unwrap();
    }
    assert!(
        list_keys(&s3, BUCKET, "").await.is_empty(),
        "the bucket drains once the intake is healthy"
    );
    let seen = arrivals(&intake);
    let sent = INVOCATIONS * PER_INVOCATION;
    let missing: Vec<usize> = (0..sent)
        .filter(|i| !seen.contains_key(&format!("{i:056}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} events never arrived: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let delivered: usize = seen.values().sum();
    let duplicates = delivered - sent;
    let rate = faults as f64 / requests as f64;
    println!(
        "chaos: {sent} events sent, {delivered} delivered ({duplicates} duplicates), {stored} stored, {replayed} replayed; \
         {faults} faults in {requests} requests ({:.0}%)",
        rate * 100.0
    );
    assert!(rate >= 0.30, "fault rate {rate}");
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_object_is_moved_aside_and_replay_goes_on() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    // Oldest first: the unreadable object would block replay if it stopped it.
    s3.put_object()
        .bucket(BUCKET)
        .key(format!(
            "{FAILED_PREFIX}2026/11/26/1764151200000-hand-000.json.gz"
        ))
        .body(ByteStream::from_static(
            b"[{\"message\":\"uploaded uncompressed\"}]",
        ))
        .send()
        .await
        .unwrap();
    put_failed(&s3, "1764151200001-b-000", &logs_with_ids(0..5)).await;
    let forwarder = library_forwarder(&intake, s3.clone());
    let summary = forwarder
        .handle(&retry_event(), &long_invocation("r"))
        .await
        .unwrap();
    assert_eq!(summary.replayed, 5);
    assert_eq!(summary.replay_errors, 1);
    assert!(list_keys(&s3, BUCKET, FAILED_PREFIX).await.is_empty());
    assert_eq!(
        list_keys(&s3, BUCKET, DEAD_PREFIX).await,
        vec![format!(
            "{DEAD_PREFIX}unreadable/1764151200000-hand-000.json.gz"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_lambda_timeout_still_tries_the_intake_before_s3() {
    let moto = Moto::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let forwarder = library_forwarder(&intake, s3.clone());
    // Lambda's default 3 s timeout: the S3 reserve shrinks to half of it.
    let invocation = Invocation {
        deadline: tokio::time::Instant::now() + Duration::from_secs(3),
        ..Invocation::local("short")
    };
    let event = RawValue::from_string(audit_payload(0, 5)).unwrap();
    let summary = forwarder.handle(&event, &invocation).await.unwrap();
    assert_eq!(summary.logs_forwarded, 5);
    assert_eq!(summary.stored, 0);
    assert!(list_keys(&s3, BUCKET, "").await.is_empty());
}
