//! Fleet scale end to end (issue 15): one Kinesis batch as a central
//! account's stream delivers it, mixing clusters, accounts and a log group
//! outside `/aws/eks/`, through the binary and the Runtime API; two
//! regions' forwarders, each tagging its own region; and, where moto has
//! the calls, clusters' log groups subscribed to a stream for real.

mod support;

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use support::ForwarderProcess;
use support::intake::{IntakeContract, IntakeEmulator};
use support::moto::Moto;
use support::payload::audit_message;
use support::runtime_api::{InvocationResult, RuntimeApi};

/// A subscription document of `owner`'s `log_group` with `events` audit
/// events, numbered from `first`, gzip then base64 as in a Kinesis record.
fn record_data(owner: &str, log_group: &str, first: usize, events: usize) -> String {
    let log_events: Vec<Value> = (first..first + events)
        .map(|i| json!({"id": format!("{i:056}"), "timestamp": 1_764_151_200_000u64 + i as u64, "message": audit_message(i)}))
        .collect();
    let doc = json!({
        "messageType": "DATA_MESSAGE", "owner": owner, "logGroup": log_group,
        "logStream": "kube-apiserver-audit-0a1b2c3d4e5f",
        "subscriptionFilters": ["eks-audit-forwarder"], "logEvents": log_events,
    });
    let gz = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(doc.to_string().as_bytes()).unwrap();
        enc.finish().unwrap()
    };
    base64::engine::general_purpose::STANDARD.encode(gz)
}

fn kinesis_event(datas: &[String]) -> (Vec<u8>, Vec<String>) {
    let sequence_numbers: Vec<String> = (0..datas.len())
        .map(|i| format!("4965704329113054828361430211846007109425176013674260{i:04}"))
        .collect();
    let records: Vec<Value> = datas
        .iter()
        .zip(&sequence_numbers)
        .map(|(data, seq)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": seq,
                            "data": data, "approximateArrivalTimestamp": 1795687201.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::999988887777:role/forwarder",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:999988887777:stream/eks-audit",
            })
        })
        .collect();
    (
        json!({"Records": records}).to_string().into_bytes(),
        sequence_numbers,
    )
}

fn start(runtime: &RuntimeApi, intake: &IntakeEmulator, region: &str) -> ForwarderProcess {
    let url = intake.url();
    ForwarderProcess::start_lambda(
        &runtime.address(),
        &[
            ("DD_URL", url.as_str()),
            ("DD_NO_SSL", "true"),
            ("DD_API_KEY", intake.api_key()),
            ("AWS_REGION", region),
        ],
    )
}

async fn invoke(runtime: &mut RuntimeApi, id: &str, body: Vec<u8>) -> Value {
    runtime.invoke(id, body, Duration::from_secs(30));
    let (got, result) = runtime.next_result().await;
    assert_eq!(got, id);
    match result {
        InvocationResult::Response(v) => v,
        InvocationResult::Error(e) => panic!("{id} failed: {e}"),
    }
}

/// The audit event number a log carries (its `auditID` ends with it).
fn event_number(log: &Value) -> usize {
    let event: Value = serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
    event["auditID"].as_str().unwrap()[24..].parse().unwrap()
}

/// Each log carries its own record's cluster and account, whatever the
/// records around it; a group outside `/aws/eks/` is passed over and
/// counted; the records that could not be delivered (one the intake
/// refuses, one that does not decode) are exactly the ones named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_is_tagged_per_record_and_failures_name_their_records() {
    // The intake refuses (400) any request holding gamma's one event.
    let intake = IntakeEmulator::start(IntakeContract {
        poison: Some("web-30\"".into()),
        ..IntakeContract::default()
    })
    .await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &intake, "ap-southeast-2");

    // (owner, group, first event, events); the cluster is the group's.
    let records = [
        ("111111111111", "/aws/eks/alpha/cluster", 0, 3),
        ("222222222222", "/aws/eks/beta-2/cluster", 10, 2),
        ("111111111111", "/aws/lambda/payments", 20, 2),
        ("333333333333", "/aws/eks/gamma/cluster", 30, 1),
        ("111111111111", "/aws/eks/alpha/cluster", 40, 1),
    ];
    let mut datas: Vec<String> = records
        .iter()
        .map(|(owner, group, first, n)| record_data(owner, group, *first, *n))
        .collect();
    datas.insert(4, "bm90IGd6aXA=".to_owned()); // "not gzip"
    let (event, seqs) = kinesis_event(&datas);
    // The records' logs share one request; the intake's 400 is narrowed
    // down to gamma's log, so only its record is named.
    let response = invoke(&mut runtime, "mixed", event).await;
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": seqs[3]}, {"itemIdentifier": seqs[4]}]})
    );

    let logs = intake.accepted_logs();
    let mut seen: Vec<usize> = logs.iter().map(event_number).collect();
    seen.sort_unstable();
    assert_eq!(seen, vec![0, 1, 2, 10, 11, 40]);
    for log in &logs {
        let (owner, cluster) = match event_number(log) {
            0..=2 | 40 => ("111111111111", "alpha"),
            10 | 11 => ("222222222222", "beta-2"),
            other => panic!("event {other} should not have been delivered"),
        };
        let tags = log["ddtags"].as_str().unwrap();
        assert!(
            tags.contains(&format!(
                "kube_cluster_name:{cluster},aws_account:{owner},region:ap-southeast-2,"
            )),
            "{tags}"
        );
        assert_eq!(log["aws"]["awslogs"]["owner"], owner);
    }

    let stderr = process.stop();
    assert!(stderr.contains("\"documents_passed_over\":1"), "{stderr}");
    assert!(stderr.contains("\"DocumentsPassedOver\":1"), "{stderr}");
    assert!(stderr.contains("\"records_failed\":2"), "{stderr}");
}

/// A destination takes only its own region's log groups, so each region
/// has its forwarder: the same records get each forwarder's region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_regions_forwarder_tags_its_own_region() {
    for region in ["us-east-1", "eu-central-1"] {
        let intake = IntakeEmulator::start(IntakeContract::default()).await;
        let mut runtime = RuntimeApi::start().await;
        let process = start(&runtime, &intake, region);
        let (event, _) = kinesis_event(&[
            record_data("111111111111", "/aws/eks/alpha/cluster", 0, 1),
            record_data("222222222222", "/aws/eks/beta/cluster", 1, 1),
        ]);
        let response = invoke(&mut runtime, region, event).await;
        assert_eq!(response, json!({"batchItemFailures": []}));
        let logs = intake.accepted_logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(intake.requests().len(), 1, "the records share a request");
        for log in &logs {
            let tags = log["ddtags"].as_str().unwrap();
            assert!(tags.contains(&format!(",region:{region},")), "{tags}");
        }
        process.stop();
    }
}

/// Sets up, in moto, a Kinesis stream and one log group per cluster
/// subscribed to it, puts each cluster's messages (JSON on stdin, by
/// cluster) and prints the stream's records as a Lambda Kinesis event.
const MOTO_STREAM_SCRIPT: &str = r#"
import base64, boto3, json, sys, time
endpoint, region = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")
logs, kinesis, iam = (boto3.client(s, **kw) for s in ("logs", "kinesis", "iam"))
kinesis.create_stream(StreamName="eks-audit", ShardCount=1)
stream = kinesis.describe_stream(StreamName="eks-audit")["StreamDescription"]["StreamARN"]
role = iam.create_role(RoleName="logs-to-stream", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
now = int(time.time() * 1000)
for cluster, messages in json.load(sys.stdin).items():
    group = f"/aws/eks/{cluster}/cluster"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="kube-apiserver-audit-0a1b")
    logs.put_subscription_filter(logGroupName=group, filterName="eks-audit-forwarder", filterPattern="",
                                 destinationArn=stream, roleArn=role, distribution="Random")
    logs.put_log_events(logGroupName=group, logStreamName="kube-apiserver-audit-0a1b",
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])
iterator = kinesis.get_shard_iterator(StreamName="eks-audit", ShardId="shardId-000000000000",
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
records = kinesis.get_records(ShardIterator=iterator)["Records"]
print(json.dumps({"Records": [{
    "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"], "sequenceNumber": r["SequenceNumber"],
                "data": base64.b64encode(r["Data"]).decode(), "approximateArrivalTimestamp": 0},
    "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000000:" + r["SequenceNumber"],
    "eventName": "aws:kinesis:record", "awsRegion": region, "eventSourceARN": stream} for r in records]}))
"#;

/// The chain as far as moto has it: two clusters' log groups subscribed to
/// a Kinesis stream (moto delivers `PutLogEvents` to it), the stream's
/// records read back and handed to the forwarder as Lambda would. moto has
/// no account policies and no delivery through a destination
/// (docs/testing.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_groups_subscribed_to_a_stream_in_moto_reach_the_intake_tagged() {
    let moto = Moto::start();
    let by_cluster = json!({
        "alpha": [audit_message(0), audit_message(1)],
        "beta-2": [audit_message(2)],
    });
    let python = std::env::var("EAF_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = std::process::Command::new(&python)
        .args([
            "-c",
            MOTO_STREAM_SCRIPT,
            moto.endpoint(),
            support::moto::REGION,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(by_cluster.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event = out.stdout;
    let records: Value = serde_json::from_slice(&event).unwrap();
    assert_eq!(
        records["Records"].as_array().unwrap().len(),
        2,
        "one record per PutLogEvents"
    );

    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let process = start(&runtime, &intake, support::moto::REGION);
    let response = invoke(&mut runtime, "moto", event).await;
    assert_eq!(response, json!({"batchItemFailures": []}));
    let logs = intake.accepted_logs();
    assert_eq!(logs.len(), 3);
    for log in &logs {
        let n = event_number(log);
        let cluster = if n < 2 { "alpha" } else { "beta-2" };
        assert_eq!(log["message"].as_str().unwrap(), audit_message(n));
        let tags = log["ddtags"].as_str().unwrap();
        assert!(
            tags.contains(&format!(
                "kube_cluster_name:{cluster},aws_account:123456789012,region:{},",
                support::moto::REGION
            )),
            "{tags}"
        );
    }
    process.stop();
}

/// The function's own log group is never forwarded, whatever
/// `DD_LOG_GROUP_PREFIXES` says: its logs would invoke it again without
/// end. The mistake is logged as an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_own_log_group_is_never_forwarded() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let mut runtime = RuntimeApi::start().await;
    let url = intake.url();
    // start_lambda names the function's log group /aws/lambda/eks-audit-forwarder.
    let process = ForwarderProcess::start_lambda(
        &runtime.address(),
        &[
            ("DD_URL", url.as_str()),
            ("DD_NO_SSL", "true"),
            ("DD_API_KEY", intake.api_key()),
            ("DD_LOG_GROUP_PREFIXES", "*"),
        ],
    );
    let (event, _) = kinesis_event(&[
        record_data("111111111111", "/aws/lambda/eks-audit-forwarder", 0, 2),
        record_data("111111111111", "/aws/lambda/payments", 2, 1),
    ]);
    let response = invoke(&mut runtime, "own", event).await;
    assert_eq!(response, json!({"batchItemFailures": []}));
    let logs = intake.accepted_logs();
    assert_eq!(logs.len(), 1, "only the other group's log");
    assert_eq!(
        logs[0]["aws"]["awslogs"]["logGroup"],
        "/aws/lambda/payments"
    );
    let stderr = process.stop();
    assert!(stderr.contains("\"documents_passed_over\":1"), "{stderr}");
    assert!(
        stderr.contains("own log group is subscribed to it"),
        "{stderr}"
    );
}
