//! The fleet's capacity (issue 15): the Kinesis path as a central account's
//! stream feeds it, through the forwarder binary under a local Lambda
//! Runtime API, shipping to the intake emulator.
//!
//! `cargo bench --bench fleet` (release binary). Each record is a whole
//! CloudWatch Logs document of 100 audit events of the reference mix
//! (`workload`), from one of 50 clusters in 5 accounts, taken in turn. It
//! reports, per batch size: CPU per invocation and per event, events per
//! CPU-second, wall time per invocation and peak RSS. It also reports the
//! cost of a batch of records from a group outside `/aws/eks/` (passed
//! over), and, with F forwarders taking batches at once, their total rate
//! and each one's peak memory. F stands for `KinesisParallelizationFactor`
//! on one shard: Lambda runs each concurrent batch in an execution
//! environment of its own. Bodies go out in zstd, the default towards a
//! Datadog site; one row shows gzip.
//!
//! Under `cargo test` (no `--bench` argument) it runs a short pass with the
//! debug binary, so the harness itself is checked on every test run.

#[path = "../tests/support/measure.rs"]
#[allow(dead_code)] // page faults are the process bench's
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "../tests/support/workload.rs"]
#[allow(dead_code)] // the process bench's payloads
mod workload;

use std::time::{Duration, Instant};

use base64::Engine;
use measure::{peak_rss_kb, process_cpu};
use serde_json::{Value, json};
use support::ForwarderProcess;
use support::intake::{IntakeContract, IntakeEmulator};
use support::runtime_api::{InvocationResult, RuntimeApi};
use workload::Mix;

const EVENTS_PER_RECORD: usize = 100;
const CLUSTERS: usize = 50;
const ACCOUNTS: usize = 5;

/// A Kinesis batch of `records` documents; `group` names each record's
/// owner and log group. Returns the event and the audit events it holds.
fn kinesis_batch(
    records: usize,
    seed: u64,
    group: impl Fn(usize) -> (String, String),
) -> (Vec<u8>, usize) {
    let mix = Mix {
        events: EVENTS_PER_RECORD,
        large_every: 97,
        pods_per_list: 200,
    };
    let records: Vec<Value> = (0..records)
        .map(|i| {
            let (owner, log_group) = group(i);
            let messages = workload::audit_messages(mix, seed + i as u64);
            let doc = workload::document_of(&owner, &log_group, &messages);
            let data = base64::engine::general_purpose::STANDARD.encode(workload::gzip(doc.as_bytes()));
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": format!("{i}"),
                            "sequenceNumber": format!("{:056}", 49_000_000 + i), "data": data,
                            "approximateArrivalTimestamp": 1795687201.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{i}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::999988887777:role/forwarder", "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:999988887777:stream/eks-audit",
            })
        })
        .collect();
    let body = json!({"Records": records}).to_string().into_bytes();
    (body, records.len() * EVENTS_PER_RECORD)
}

/// The mean size of a record's data (gzip, before base64): what a
/// subscription writes to the stream for 100 events.
fn mean_record_bytes(event: &[u8]) -> usize {
    let event: Value = serde_json::from_slice(event).unwrap();
    let records = event["Records"].as_array().unwrap();
    let total: usize = records
        .iter()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r["kinesis"]["data"].as_str().unwrap())
                .unwrap()
                .len()
        })
        .sum();
    total / records.len()
}

/// Record `i` of a fleet batch: 50 clusters, 10 in each of 5 accounts.
fn fleet_group(i: usize) -> (String, String) {
    let cluster = i % CLUSTERS;
    let account = cluster / (CLUSTERS / ACCOUNTS);
    (
        format!("{:012}", 111_111_111_111u64 * (account as u64 + 1)),
        format!("/aws/eks/cluster-{cluster:02}/cluster"),
    )
}

fn other_group(i: usize) -> (String, String) {
    (
        "111111111111".into(),
        format!("/aws/lambda/service-{}", i % 7),
    )
}

/// A forwarder under its own Runtime API, warmed up on `event`.
struct Environment {
    runtime: RuntimeApi,
    process: ForwarderProcess,
}

impl Environment {
    async fn start(intake: &IntakeEmulator, vars: &[(&str, &str)], event: &[u8]) -> Self {
        let mut runtime = RuntimeApi::start().await;
        let url = intake.url();
        let mut all = vec![
            ("DD_URL", url.as_str()),
            ("DD_NO_SSL", "true"),
            ("DD_API_KEY", intake.api_key()),
            ("DD_LOG_LEVEL", "warn"),
            ("DD_COMPRESSION", "zstd"),
        ];
        all.extend_from_slice(vars);
        let process = ForwarderProcess::start_lambda(&runtime.address(), &all);
        invoke(&mut runtime, "warm-up", event).await;
        Self { runtime, process }
    }
}

async fn invoke(runtime: &mut RuntimeApi, id: &str, event: &[u8]) {
    runtime.invoke(id, event.to_vec(), Duration::from_secs(300));
    let (got, result) = runtime.next_result().await;
    assert_eq!(got, id);
    match result {
        InvocationResult::Response(v) => {
            assert_eq!(v, json!({"batchItemFailures": []}), "{id}: records failed")
        }
        InvocationResult::Error(e) => panic!("{id} failed: {e}"),
    }
}

struct Measured {
    cpu_per_invocation: Duration,
    wall_per_invocation: Duration,
    peak_rss_kb: u64,
}

/// `rounds` batches through one warmed-up forwarder.
async fn measure(
    intake: &IntakeEmulator,
    vars: &[(&str, &str)],
    event: &[u8],
    rounds: usize,
) -> Measured {
    let mut env = Environment::start(intake, vars, event).await;
    let pid = env.process.pid();
    let cpu_before = process_cpu(pid);
    let started = Instant::now();
    for i in 0..rounds {
        invoke(&mut env.runtime, &format!("r{i}"), event).await;
    }
    let wall = started.elapsed();
    let cpu = process_cpu(pid) - cpu_before;
    let peak = peak_rss_kb(pid);
    env.process.stop();
    Measured {
        cpu_per_invocation: cpu / rounds as u32,
        wall_per_invocation: wall / rounds as u32,
        peak_rss_kb: peak,
    }
}

/// `factor` forwarders taking `rounds` batches each at the same time: the
/// events per second of wall time they reach together, the CPU of one
/// batch, and the largest peak RSS among them.
async fn measure_parallel(
    intake: &IntakeEmulator,
    event: &[u8],
    events: usize,
    factor: usize,
    rounds: usize,
) -> (f64, Duration, u64) {
    let mut envs = Vec::new();
    for _ in 0..factor {
        envs.push(Environment::start(intake, &[], event).await);
    }
    let pids: Vec<u32> = envs.iter().map(|e| e.process.pid()).collect();
    let cpu_before: Duration = pids.iter().map(|&p| process_cpu(p)).sum();
    let started = Instant::now();
    let tasks: Vec<_> = envs
        .into_iter()
        .enumerate()
        .map(|(n, mut env)| {
            let event = event.to_vec();
            tokio::spawn(async move {
                for i in 0..rounds {
                    invoke(&mut env.runtime, &format!("f{n}-{i}"), &event).await;
                }
                env
            })
        })
        .collect();
    let mut envs = Vec::new();
    for task in tasks {
        envs.push(task.await.unwrap());
    }
    let wall = started.elapsed();
    let cpu: Duration = pids.iter().map(|&p| process_cpu(p)).sum::<Duration>() - cpu_before;
    let peak = pids.iter().map(|&p| peak_rss_kb(p)).max().unwrap();
    for env in envs {
        env.process.stop();
    }
    let batches = (factor * rounds) as u32;
    (
        (events * factor * rounds) as f64 / wall.as_secs_f64(),
        cpu / batches,
        peak,
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 10 } else { 1 };
    let sizes: &[usize] = if bench { &[10, 100, 300] } else { &[2] };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let intake = IntakeEmulator::start(IntakeContract {
            keep_logs: false,
            ..IntakeContract::default()
        })
        .await;
        println!("{EVENTS_PER_RECORD} audit events per record (the reference mix), {CLUSTERS} clusters in {ACCOUNTS} accounts, {rounds} measured batches per row after one warm-up");
        println!();
        println!("| batch | events | body | CPU / batch | CPU / event | events per CPU-second | wall / batch | peak RSS |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut hundred = None;
        for &records in sizes {
            let (event, events) = kinesis_batch(records, 1, fleet_group);
            for (label, vars) in [("zstd", &[][..]), ("gzip", &[("DD_COMPRESSION", "gzip")][..])] {
                // gzip once, at the batch size.
                if label == "gzip" && records != 100 && bench {
                    continue;
                }
                let before = intake.accepted_count();
                let m = measure(&intake, vars, &event, rounds).await;
                assert_eq!(intake.accepted_count() - before, events * (rounds + 1), "{records} records");
                let per_event = m.cpu_per_invocation / events as u32;
                println!(
                    "| {records} records | {events} | {label} | {} | {:.1} µs | {:.0} | {} | {:.1} MB |",
                    ms(m.cpu_per_invocation),
                    per_event.as_secs_f64() * 1e6,
                    events as f64 / m.cpu_per_invocation.as_secs_f64(),
                    ms(m.wall_per_invocation),
                    m.peak_rss_kb as f64 / 1024.0
                );
                if label == "zstd" && (records == 100 || !bench) {
                    hundred = Some((event.clone(), events));
                }
            }
        }

        // Records of a group outside /aws/eks/: passed over from their
        // first kilobytes, nothing sent.
        let records = if bench { 100 } else { 2 };
        let (event, _) = kinesis_batch(records, 1, other_group);
        let before = intake.accepted_count();
        let m = measure(&intake, &[], &event, rounds).await;
        assert_eq!(intake.accepted_count(), before, "other groups' records are passed over");
        println!();
        println!(
            "Records of other log groups (passed over): {records} records of {EVENTS_PER_RECORD} events, {} per batch, {:.1} µs per record, peak RSS {:.1} MB",
            ms(m.cpu_per_invocation),
            m.cpu_per_invocation.as_secs_f64() * 1e6 / records as f64,
            m.peak_rss_kb as f64 / 1024.0
        );

        let (event, events) = hundred.expect("a batch measured");
        println!();
        println!(
            "A record of {EVENTS_PER_RECORD} events is {} bytes of gzip on the stream",
            mean_record_bytes(&event)
        );
        println!();
        println!("| parallel batches (F) | events per second, all together (wall) | CPU / batch | peak RSS of each |");
        println!("|---|---|---|---|");
        for factor in [1, 2] {
            let (rate, cpu, peak) = measure_parallel(&intake, &event, events, factor, rounds).await;
            println!("| {factor} | {rate:.0} | {} | {:.1} MB |", ms(cpu), peak as f64 / 1024.0);
        }
    });
}
