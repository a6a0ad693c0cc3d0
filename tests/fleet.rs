//! Fleet scale end to end (issue 15): one Kinesis batch as a central
//! account's stream delivers it, mixing clusters, accounts and a log group
//! outside `/aws/eks/`, through the binary and the Runtime API; and two
//! regions' forwarders, each tagging its own region.

mod support;

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use support::ForwarderProcess;
use support::intake::{Fault, IntakeContract, IntakeEmulator};
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
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
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
    // One request per delivered record, in order: alpha, beta-2, then gamma,
    // which the intake refuses (400: its one log is bad), then alpha again.
    intake.push_faults([
        Fault::Delay(Duration::ZERO),
        Fault::Delay(Duration::ZERO),
        Fault::Status(400),
    ]);
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
        for log in &logs {
            let tags = log["ddtags"].as_str().unwrap();
            assert!(tags.contains(&format!(",region:{region},")), "{tags}");
        }
        process.stop();
    }
}
