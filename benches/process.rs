//! The whole-process benchmark: the forwarder binary under a local Lambda
//! Runtime API endpoint, shipping to the intake emulator, as Lambda runs it.
//!
//! `cargo bench --bench process` (the binary is built with the bench
//! profile, i.e. release) reports, for generated payloads:
//! - warm CPU per invocation (user + system time of the process, from
//!   `/proc/<pid>/stat`, over many invocations after a warm-up one);
//! - start-up: from spawning the process to its first `next` request;
//! - peak RSS (`VmHWM`) after the invocations;
//! - bytes on the wire per invocation;
//! - the floor measured in the same run: CPU of `gzip -dc` of the payload's
//!   gzip plus `gzip -6` of the decoded document (system gzip), and each
//!   figure's ratio to it.
//!
//! Under `cargo test` (no `--bench` argument) it runs a short pass with the
//! debug binary, so the harness itself is checked on every test run.

#[path = "../tests/support/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "../tests/support/traffic.rs"]
#[allow(dead_code)] // the noise test uses the golden set
mod traffic;
#[path = "../tests/support/workload.rs"]
mod workload;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use measure::{minor_faults, peak_rss_kb, process_cpu};
use support::ForwarderProcess;
use support::intake::{IntakeContract, IntakeEmulator};
use support::runtime_api::{InvocationResult, RuntimeApi};
use workload::Mix;

/// CPU time of the children waited for so far.
fn children_cpu() -> Duration {
    // SAFETY: a zeroed rusage is valid for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the call.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU of `gzip -dc` of `gz` plus `gzip -6` of `doc`: the floor. The median
/// of `rounds` runs.
fn gzip_floor(gz: &[u8], doc: &[u8], rounds: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let (gz_path, doc_path) = (dir.path().join("payload.gz"), dir.path().join("doc.json"));
    std::fs::write(&gz_path, gz).unwrap();
    std::fs::write(&doc_path, doc).unwrap();
    let run = |args: &[&str], input: &std::path::Path| {
        let status = Command::new("gzip")
            .args(args)
            .stdin(std::fs::File::open(input).unwrap())
            .stdout(Stdio::null())
            .status()
            .expect("run the system gzip");
        assert!(status.success());
    };
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let before = children_cpu();
            run(&["-dc"], &gz_path);
            run(&["-6", "-c"], &doc_path);
            children_cpu() - before
        })
        .collect();
    samples.sort();
    samples[rounds / 2]
}

/// JSON as Python's `json.dumps` writes it by default: `", "` and `": "`.
struct PythonSeparators;

impl serde_json::ser::Formatter for PythonSeparators {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// What the Datadog Python forwarder would put on the wire for `messages`,
/// emulated (its code is not run here): its CloudWatch log object (id,
/// timestamp, message, `aws.awslogs`, function version and ARN, source
/// `cloudwatch`, its forwarder tags), `json.dumps` separators, batches of
/// 400 logs, gzip level 6.
fn python_forwarder_wire_estimate(messages: &[String]) -> usize {
    let objects: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({
                "id": format!("{:056}", 38_000_000_000u64 + i as u64),
                "timestamp": 1_795_687_200_000u64 + i as u64 / 10,
                "message": m,
                "aws": {
                    "awslogs": {"logGroup": workload::GROUP, "logStream": workload::STREAM, "owner": "123456789012"},
                    "function_version": "$LATEST",
                    "invoked_function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:datadog-forwarder",
                },
                "ddsourcecategory": "aws", "ddsource": "cloudwatch", "service": "cloudwatch",
                "host": workload::GROUP,
                "ddtags": "forwardername:datadog-forwarder,forwarder_memorysize:1024,forwarder_version:4.12.0",
            })
        })
        .collect();
    objects
        .chunks(400)
        .map(|batch| {
            let mut body = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut body, PythonSeparators);
            serde::Serialize::serialize(batch, &mut ser).unwrap();
            workload::gzip(&body).len()
        })
        .sum()
}

struct Measured {
    name: &'static str,
    startup: Duration,
    cpu_per_invocation: Duration,
    /// The outside harness's figure: (CPU after 6 invocations - CPU after
    /// the first) / 5, i.e. the mean of the first five warm invocations.
    first_five: Option<Duration>,
    /// Minor page faults per warm invocation.
    faults_per_invocation: u64,
    peak_rss_kb: u64,
    wire_bytes: u64,
    logs: usize,
}

/// Starts the forwarder, sends `event` once to warm up and `rounds` times
/// measured, and reads what it cost. `expected_logs` is `None` when a
/// filter decides: every round must then deliver what the warm-up did.
async fn measure(
    name: &'static str,
    event: &str,
    expected_logs: Option<usize>,
    rounds: usize,
    extra_vars: &[(&str, &str)],
) -> Measured {
    let intake = IntakeEmulator::start(IntakeContract {
        keep_logs: false,
        ..IntakeContract::default()
    })
    .await;
    let mut runtime = RuntimeApi::start().await;
    let url = intake.url();
    let mut vars = vec![
        ("DD_URL", url.as_str()),
        ("DD_NO_SSL", "true"),
        ("DD_API_KEY", intake.api_key()),
        ("DD_LOG_LEVEL", "warn"),
    ];
    vars.extend_from_slice(extra_vars);
    let spawned = Instant::now();
    let process = ForwarderProcess::start_lambda(&runtime.address(), &vars);
    let pid = process.pid();

    runtime.invoke(
        "warm-up",
        event.as_bytes().to_vec(),
        Duration::from_secs(120),
    );
    let (got, result) = runtime.next_result().await;
    assert_eq!(got, "warm-up");
    assert!(
        matches!(result, InvocationResult::Response(_)),
        "{name}: {result:?}"
    );
    let startup = runtime
        .first_next_at()
        .expect("the function asked for an event")
        .duration_since(spawned);
    let expected_logs = expected_logs.unwrap_or_else(|| intake.accepted_count());
    assert_eq!(intake.accepted_count(), expected_logs, "{name}");
    let wire_before: usize = intake.requests().iter().map(|r| r.wire_bytes).sum();

    let cpu_before = process_cpu(pid);
    let faults_before = minor_faults(pid);
    let mut after_each = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let id = format!("r{i}");
        runtime.invoke(&id, event.as_bytes().to_vec(), Duration::from_secs(120));
        let (got, result) = runtime.next_result().await;
        assert_eq!(got, id);
        assert!(
            matches!(result, InvocationResult::Response(_)),
            "{name}: {result:?}"
        );
        after_each.push(process_cpu(pid));
    }
    let cpu = process_cpu(pid) - cpu_before;
    let faults = minor_faults(pid) - faults_before;
    let first_five = after_each.get(4).map(|&c| (c - cpu_before) / 5);
    let peak = peak_rss_kb(pid);
    assert_eq!(
        intake.accepted_count(),
        expected_logs * (rounds + 1),
        "{name}"
    );
    let wire_after: usize = intake.requests().iter().map(|r| r.wire_bytes).sum();
    process.stop();
    Measured {
        name,
        startup,
        cpu_per_invocation: cpu / rounds as u32,
        first_five,
        faults_per_invocation: faults / rounds as u64,
        peak_rss_kb: peak,
        wire_bytes: ((wire_after - wire_before) / rounds) as u64,
        logs: expected_logs,
    }
}

/// One row of the table: a payload and the settings it runs with.
struct Row<'a> {
    name: &'static str,
    event: &'a str,
    /// `None` when a filter decides how many logs go out.
    logs: Option<usize>,
    vars: &'a [(&'a str, &'a str)],
    /// Fewer rounds than the others (the largest payload).
    rounds: Option<usize>,
}

impl<'a> Row<'a> {
    fn new(
        name: &'static str,
        event: &'a str,
        logs: Option<usize>,
        vars: &'a [(&'a str, &'a str)],
    ) -> Self {
        Self {
            name,
            event,
            logs,
            vars,
            rounds: None,
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 30 } else { 2 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let reference = workload::audit_messages(Mix::REFERENCE, 1);
    let doc = workload::document(&reference);
    let gz = workload::gzip(doc.as_bytes());
    let reference_event = workload::lambda_event(&gz);
    let floor = gzip_floor(&gz, doc.as_bytes(), if bench { 7 } else { 1 });

    // The same number of events as the reference payload, drawn from the
    // model traffic mix the noise preset is measured on.
    let model = traffic::model_mix(Mix::REFERENCE.events, 1);
    let model_event =
        workload::lambda_event(&workload::gzip(workload::document(&model).as_bytes()));
    let metadata = workload::audit_messages(Mix::METADATA_ONLY, 2);
    let metadata_event =
        workload::lambda_event(&workload::gzip(workload::document(&metadata).as_bytes()));
    let large = workload::audit_messages(Mix::LARGE_EVENTS, 3);
    let large_event =
        workload::lambda_event(&workload::gzip(workload::document(&large).as_bytes()));
    let cap = 64 << 20;
    let (largest_event, largest_logs) = workload::largest_event(cap);

    // Every feature of the audit stage at once (secret redaction is on by
    // default).
    let all_features: &[(&str, &str)] = &[
        ("DD_SIEM_ATTRIBUTES", "true"),
        ("REDACT_IP", "true"),
        ("DD_AUDIT_NOISE_FILTER", "standard"),
    ];
    let rows: Vec<Row<'_>> = vec![
        Row::new(
            "reference, gzip 6 (default)",
            &reference_event,
            Some(reference.len()),
            &[],
        ),
        Row::new(
            "reference, zstd 1",
            &reference_event,
            Some(reference.len()),
            &[("DD_COMPRESSION", "zstd")],
        ),
        Row::new(
            "reference, all audit features (redaction, SIEM attributes, REDACT_IP, noise standard)",
            &reference_event,
            None,
            all_features,
        ),
        Row::new(
            "model traffic mix (AUDIT_TRAFFIC.md), gzip 6",
            &model_event,
            Some(model.len()),
            &[],
        ),
        Row::new(
            "model traffic mix, DD_AUDIT_NOISE_FILTER=standard",
            &model_event,
            None,
            &[("DD_AUDIT_NOISE_FILTER", "standard")],
        ),
        Row::new(
            "model traffic mix, all audit features",
            &model_event,
            None,
            all_features,
        ),
        Row::new(
            "metadata events only",
            &metadata_event,
            Some(metadata.len()),
            &[],
        ),
        Row::new(
            "large RequestResponse events",
            &large_event,
            Some(large.len()),
            &[],
        ),
        Row {
            rounds: Some(3),
            ..Row::new(
                "largest payload (64 MiB decoded)",
                &largest_event,
                Some(largest_logs),
                &[],
            )
        },
    ];
    // EAF_BENCH_ONLY=<text>: only the rows whose name holds it.
    let only = std::env::var("EAF_BENCH_ONLY").ok();
    let results = runtime.block_on(async {
        let mut results = Vec::new();
        for row in rows
            .iter()
            .filter(|r| only.as_deref().is_none_or(|o| r.name.contains(o)))
        {
            let rounds = row.rounds.map_or(rounds, |r| r.min(rounds));
            results.push(measure(row.name, row.event, row.logs, rounds, row.vars).await);
        }
        results
    });

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "reference payload: {} events, {} bytes decoded, {} bytes gzip, {} bytes of Lambda event",
        reference.len(),
        doc.len(),
        gz.len(),
        reference_event.len()
    )
    .unwrap();
    writeln!(
        out,
        "floor (gzip -dc payload + gzip -6 document, system gzip): {}",
        ms(floor)
    )
    .unwrap();
    writeln!(
        out,
        "the Datadog Python forwarder's wire bytes for it, emulated: {}",
        python_forwarder_wire_estimate(&reference)
    )
    .unwrap();
    writeln!(
        out,
        "{} measured invocations per row, after one warm-up\n",
        rounds
    )
    .unwrap();
    writeln!(out, "| payload | logs | warm CPU / invocation | × floor | black-box (6 − 1) / 5 | × floor | start-up | peak RSS | page faults / invocation | wire bytes / invocation |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|").unwrap();
    let ratio = |d: Duration| d.as_secs_f64() / floor.as_secs_f64();
    for m in &results {
        let (first_five, first_five_ratio) =
            m.first_five.map_or(("–".to_owned(), "–".to_owned()), |d| {
                (ms(d), format!("{:.2}", ratio(d)))
            });
        writeln!(
            out,
            "| {} | {} | {} | {:.2} | {} | {} | {} | {:.1} MB | {} | {} |",
            m.name,
            m.logs,
            ms(m.cpu_per_invocation),
            ratio(m.cpu_per_invocation),
            first_five,
            first_five_ratio,
            ms(m.startup),
            m.peak_rss_kb as f64 / 1024.0,
            m.faults_per_invocation,
            m.wire_bytes
        )
        .unwrap();
    }
}
