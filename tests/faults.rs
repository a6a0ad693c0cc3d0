//! The fault suite: generated cases of intake behaviour, S3 behaviour and
//! payloads, each run through the built binary and the Runtime API, each
//! held to one invariant:
//!
//! - every log of an invocation that succeeded was accepted by the intake
//!   or is in the bucket (to replay, or as a dead letter); an invocation
//!   that failed is retried by Lambda, so its logs are not lost either;
//! - no invocation answers after its deadline (or not at all);
//! - the process's peak memory stays within the function's `MemorySize`;
//! - an `errorMessage` never carries payload content.
//!
//! Cases come from a seeded generator: `EAF_FAULT_CASES` (default 24) cases
//! of `EAF_FAULT_SEED` (default below); `EAF_FAULT_CASE=N` runs case N
//! alone. A failure names the seed and case so it can be run again.

#[path = "support/proxy.rs"]
#[allow(dead_code)] // s3_faults uses only its upstream half
mod proxy;
#[path = "support/s3_faults.rs"]
#[allow(dead_code)] // the spill test reads what the proxy saw
mod s3_faults;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use s3_faults::{S3Behaviour, S3FaultProxy};
use serde_json::Value;
use serde_json::value::RawValue;
use support::ForwarderProcess;
use support::intake::{BodyFault, Fault, IntakeContract, IntakeEmulator};
use support::moto::{Moto, list_keys, read_gzip_bytes};
use support::payload::{
    AUDIT_GROUP, AUDIT_STREAM, audit_message, document, oversize_audit_message, wrap,
};
use support::runtime_api::{InvocationResult, RuntimeApi};

const DEFAULT_SEED: u64 = 20_261_202;
const DEFAULT_CASES: usize = 24;
/// Cases run at once: each is mostly waiting (retries, timeouts). Two, so
/// that on a 2-core machine (with moto beside them) no forwarder is starved
/// of CPU past its deadline margins.
const CONCURRENCY: usize = 2;
/// The template's default `MemorySize`.
const MEMORY_SIZE_MB: u64 = 128;
/// The intake answers 400 to a batch holding a log with this.
const POISON: &str = "POISON-LOG";
/// Text of every generated message; never in an error.
const CONTENT_MARK: &str = "kubernetes-admin";
const FAILED: &str = "failed_events/";
const DEAD: &str = "dead_letter/";

#[derive(Debug, Clone)]
enum Payload {
    Good(usize),
    /// `n` good logs and bad ones: one the intake refuses (400), and
    /// optionally one whose message holds a lone surrogate.
    Poison {
        n: usize,
        surrogate: bool,
    },
    /// A log over the intake's 1 MB limit among a few good ones.
    Oversize,
    /// Enough small events for several batch groups.
    ManyTiny(usize),
    /// A document whose first event's timestamp is a string holding
    /// quotes and this number: it does not decode, and the number must not
    /// show in the error.
    Malformed(u64),
}

/// What happens after the forwarding invocation, with a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    None,
    /// A `{"retry":"true"}` invocation with the intake and S3 healthy: it
    /// must empty `failed_events/`.
    Healthy,
    /// The same with the faults still on.
    UnderFaults,
}

#[derive(Debug, Clone)]
struct Case {
    index: usize,
    seed: u64,
    /// Scripted answers of the intake, in order, before `then`.
    schedule: Vec<Fault>,
    /// After the schedule: `None`, healthy; otherwise every request gets it.
    then: Option<Fault>,
    /// `DD_URL` is https:// to the plain-HTTP emulator: every TLS handshake fails.
    tls_fails: bool,
    /// `None`: no bucket (`DD_STORE_FAILED_EVENTS` off).
    s3: Option<S3Behaviour>,
    payload: Payload,
    timeout: Duration,
    replay: Replay,
}

fn pick<T: Clone>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())].clone()
}

fn intake_fault(rng: &mut fastrand::Rng) -> Fault {
    let body = |rng: &mut fastrand::Rng| {
        pick(
            rng,
            &[
                BodyFault::Slow(Duration::from_millis(150)),
                BodyFault::Endless,
                BodyFault::Garbage,
            ],
        )
    };
    match rng.u8(..15) {
        0 => Fault::Delay(Duration::ZERO), // a normal answer
        1 => Fault::Redirect(pick(rng, &[301, 302, 307, 308])),
        2 => Fault::Status(400),
        3 => Fault::Status(403),
        4 => Fault::Status(408),
        5 => Fault::Status(413),
        6 => Fault::StatusRetryAfter(429, 1),
        7 => Fault::Status(pick(rng, &[500, 502, 503, 504])),
        8 | 9 => Fault::Reset,
        10 => Fault::Delay(Duration::from_millis(1_500)), // slow headers, past the 1 s timeout
        11 | 12 => Fault::Body {
            status: None,
            body: body(rng),
        },
        13 => Fault::Body {
            status: Some(pick(rng, &[500, 503])),
            body: body(rng),
        },
        // (A 2xx is the intake's word that it kept the logs: one that did
        // not would be the intake losing them, which no client can see.)
        _ => Fault::Body {
            status: Some(400),
            body: BodyFault::Garbage,
        },
    }
}

impl Case {
    fn generate(seed: u64, index: usize) -> Self {
        let mut rng =
            fastrand::Rng::with_seed(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Short enough that `then` often applies: a small payload takes
        // only a request or two.
        let schedule = (0..rng.usize(0..5))
            .map(|_| intake_fault(&mut rng))
            .collect();
        let then = match rng.u8(..10) {
            0..=5 => None,
            _ => Some(pick(
                &mut rng,
                &[
                    Fault::Status(503),
                    Fault::Reset,
                    Fault::Status(400),
                    Fault::Status(400),
                    Fault::Status(413),
                    Fault::Status(403),
                    Fault::Delay(Duration::from_secs(2)),
                    Fault::Body {
                        status: Some(502),
                        body: BodyFault::Slow(Duration::from_millis(100)),
                    },
                ],
            )),
        };
        let tls_fails = rng.u8(..20) == 0;
        let s3 = match rng.u8(..10) {
            0..=2 => None,
            _ => Some(pick(
                &mut rng,
                &[
                    S3Behaviour::Up,
                    S3Behaviour::Up,
                    S3Behaviour::Up,
                    S3Behaviour::Slow(Duration::from_millis(300)),
                    S3Behaviour::BlackHole,
                    S3Behaviour::Down,
                    S3Behaviour::Failing,
                    S3Behaviour::DenyWrite,
                    S3Behaviour::DenyDelete,
                ],
            )),
        };
        let payload = match rng.u8(..10) {
            0..=3 => Payload::Good(rng.usize(1..300)),
            4..=6 => Payload::Poison {
                n: rng.usize(10..100),
                surrogate: rng.bool(),
            },
            7 => Payload::Oversize,
            8 => Payload::ManyTiny(rng.usize(1_200..3_000)),
            _ if rng.bool() => Payload::ManyTiny(rng.usize(1_200..3_000)),
            _ => Payload::Malformed(rng.u64(10_000_000_000..u64::MAX)),
        };
        Self {
            index,
            seed,
            schedule,
            then,
            tls_fails,
            s3,
            payload,
            timeout: Duration::from_millis(rng.u64(3_000..7_000)),
            replay: pick(
                &mut rng,
                &[
                    Replay::None,
                    Replay::Healthy,
                    Replay::Healthy,
                    Replay::UnderFaults,
                ],
            ),
        }
    }

    /// The Lambda event and the CloudWatch ids of its events.
    fn event(&self) -> (String, BTreeSet<String>) {
        let mut messages: Vec<String> = match &self.payload {
            Payload::Good(n) | Payload::Poison { n, .. } | Payload::ManyTiny(n) => {
                (0..*n).map(audit_message).collect()
            }
            Payload::Oversize => {
                let mut m: Vec<String> = (0..5).map(audit_message).collect();
                m.insert(2, oversize_audit_message(1_500_000));
                m
            }
            Payload::Malformed(_) => (0..3).map(audit_message).collect(),
        };
        let mut surrogate = false;
        if let Payload::Poison { surrogate: s, .. } = &self.payload {
            let at = messages.len() / 2;
            messages[at] =
                messages[at].replace("\"verb\"", &format!("\"note\":\"{POISON}\",\"verb\""));
            if *s {
                messages.push(
                    audit_message(999).replace("\"verb\"", "\"note\":\"SURROGATE\",\"verb\""),
                );
                surrogate = true;
            }
        }
        let mut doc: Value =
            serde_json::from_str(&document(AUDIT_GROUP, AUDIT_STREAM, &messages)).unwrap();
        if let Payload::Malformed(marker) = &self.payload {
            doc["logEvents"][0]["timestamp"] = Value::String(format!("x\"{marker}\\"));
        }
        let id = |e: &Value| e["id"].as_str().unwrap().to_owned();
        let events = doc["logEvents"].as_array().unwrap();
        let ids = events.iter().map(id).collect();
        // A lone surrogate at the document's level: its message string does
        // not decode.
        let mut doc = doc.to_string();
        if surrogate {
            doc = doc.replace("SURROGATE", "\\ud800");
        }
        (wrap(doc.as_bytes()), ids)
    }

    fn rerun(&self) -> String {
        format!("EAF_FAULT_SEED={} EAF_FAULT_CASE={}", self.seed, self.index)
    }
}

/// What a case came to, for the run's tally.
#[derive(Debug, Default)]
struct Outcome {
    succeeded: usize,
    failed: usize,
    accepted: usize,
    in_bucket: usize,
}

/// The `id` of each log in a stored object, read without decoding the rest
/// (a dead letter can hold a message serde_json will not decode).
fn stored_ids(json: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    let logs: Vec<&RawValue> = serde_json::from_slice(json).unwrap_or_default();
    logs.iter()
        .filter_map(|l| serde_json::from_str::<IdOnly>(l.get()).ok())
        .map(|l| l.id)
        .collect()
}

async fn invoke(
    runtime: &mut RuntimeApi,
    id: &str,
    body: String,
    timeout: Duration,
) -> Result<(Duration, InvocationResult), String> {
    let started = Instant::now();
    runtime.invoke(id, body, timeout);
    // A guard, not a sleep: a process that died or hangs never answers.
    match tokio::time::timeout(timeout + Duration::from_secs(20), runtime.next_result()).await {
        Ok((_, result)) => Ok((started.elapsed(), result)),
        Err(_) => Err(format!("{id}: no answer within its timeout and 20 s more")),
    }
}

async fn run_case(case: Case, moto: &Moto) -> Result<Outcome, String> {
    let bucket = format!("fault-case-{}", case.index);
    let s3 = moto.create_bucket(&bucket).await;
    let proxy = S3FaultProxy::start(moto.endpoint(), case.s3.unwrap_or(S3Behaviour::Up)).await;
    let intake = IntakeEmulator::start(IntakeContract {
        poison: Some(POISON.to_owned()),
        ..IntakeContract::default()
    })
    .await;
    intake.push_faults(case.schedule.clone());
    intake.set_down(case.then.clone());
    let url = if case.tls_fails {
        intake.url().replace("http://", "https://")
    } else {
        intake.url()
    };
    let mut vars: Vec<(&str, String)> = vec![
        ("DD_URL", url),
        ("DD_API_KEY", intake.api_key().to_owned()),
        ("DD_REQUEST_TIMEOUT_SECONDS", "1".to_owned()),
        ("DD_LOG_LEVEL", "warn".to_owned()),
    ];
    if !case.tls_fails {
        vars.push(("DD_NO_SSL", "true".to_owned()));
    }
    vars.extend(moto.env());
    vars.push(("AWS_ENDPOINT_URL", proxy.endpoint()));
    if case.s3.is_some() {
        vars.push(("DD_STORE_FAILED_EVENTS", "true".to_owned()));
        vars.push(("DD_S3_BUCKET_NAME", bucket.clone()));
    }
    let mut runtime = RuntimeApi::start().await;
    let process = {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ForwarderProcess::start_lambda(&runtime.address(), &vars)
    };
    let (event, ids) = case.event();
    let api_key = intake.api_key().to_owned();
    let mut problems = Vec::new();
    let mut outcome = Outcome::default();
    // Ids of logs the forwarder answered for: acknowledged by a succeeded
    // invocation, or seen in the bucket (kept) before a replay.
    let mut must_be_kept = BTreeSet::new();

    let mut invocations = vec![("forward", event, case.timeout)];
    if case.replay != Replay::None && case.s3.is_some() {
        invocations.push((
            "replay",
            r#"{"retry":"true"}"#.to_owned(),
            Duration::from_secs(10),
        ));
    }
    let mut healthy_replay_succeeded = false;
    let mut objects_before_replay = 0;
    for (name, body, timeout) in invocations {
        if name == "replay" {
            let kept = bucket_ids(&s3, &bucket, "").await;
            objects_before_replay = list_keys(&s3, &bucket, FAILED).await.len();
            must_be_kept.extend(kept);
            if case.replay == Replay::Healthy {
                intake.clear_faults();
                intake.set_down(None);
                proxy.set(S3Behaviour::Up);
            }
        }
        let (took, result) = match invoke(&mut runtime, name, body, timeout).await {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                break;
            }
        };
        if took >= timeout {
            problems.push(format!(
                "{name}: answered after {took:?}, past its {timeout:?} timeout"
            ));
        }
        match result {
            InvocationResult::Response(_) => {
                outcome.succeeded += 1;
                if name == "forward" {
                    must_be_kept.extend(ids.iter().cloned());
                    if matches!(case.payload, Payload::Malformed(_)) {
                        problems
                            .push("forward: an undecodable document was acknowledged".to_owned());
                    }
                }
                healthy_replay_succeeded |= name == "replay" && case.replay == Replay::Healthy;
            }
            InvocationResult::Error(e) => {
                outcome.failed += 1;
                let message = e["errorMessage"].as_str().unwrap_or("");
                let leaks = [CONTENT_MARK, POISON, api_key.as_str()];
                let marker = match case.payload {
                    Payload::Malformed(m) => m.to_string(),
                    _ => CONTENT_MARK.to_owned(),
                };
                if leaks.iter().any(|l| message.contains(l)) || message.contains(&marker) {
                    problems.push(format!(
                        "{name}: errorMessage carries payload content or the key: {message}"
                    ));
                }
            }
        }
    }
    let peak = process.peak_rss_mb();
    let stderr = process.stop();
    if peak >= MEMORY_SIZE_MB {
        problems.push(format!(
            "peak RSS {peak} MB, over the {MEMORY_SIZE_MB} MB function"
        ));
    }
    for leak in [CONTENT_MARK, POISON, api_key.as_str()] {
        if stderr.contains(leak) {
            problems.push(format!("the function's log carries {leak:?}"));
        }
    }

    let accepted: BTreeSet<String> = intake
        .accepted_logs()
        .iter()
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect();
    let in_bucket = bucket_ids(&s3, &bucket, "").await;
    let lost: Vec<&String> = must_be_kept
        .iter()
        .filter(|id| !accepted.contains(*id) && !in_bucket.contains(*id))
        .collect();
    if !lost.is_empty() {
        problems.push(format!(
            "{} of {} logs acknowledged and lost (neither accepted nor in the bucket)",
            lost.len(),
            must_be_kept.len()
        ));
    }
    // Only a log the intake refused on its own may be dead-lettered.
    let refused: BTreeSet<String> = intake.refused_alone().into_iter().collect();
    let dead = bucket_ids(&s3, &bucket, DEAD).await;
    let wrongly: Vec<&String> = dead.iter().filter(|id| !refused.contains(*id)).collect();
    if !wrongly.is_empty() {
        problems.push(format!(
            "{} logs in dead letters that the intake never refused alone",
            wrongly.len()
        ));
    }
    // A healthy replay succeeds and empties failed_events/ (within its 20
    // objects). (TLS that fails stays failing.)
    let healthy_replay = case.replay == Replay::Healthy && case.s3.is_some() && !case.tls_fails;
    if healthy_replay && objects_before_replay <= 20 {
        if !healthy_replay_succeeded {
            problems.push("a healthy replay did not succeed".to_owned());
        }
        let left = list_keys(&s3, &bucket, FAILED).await;
        if !left.is_empty() {
            problems.push(format!(
                "a healthy replay left {} objects in failed_events/",
                left.len()
            ));
        }
    }
    outcome.accepted = accepted.len();
    outcome.in_bucket = in_bucket.len();
    if problems.is_empty() {
        Ok(outcome)
    } else {
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "case {} ({}) failed:\n  {}\n  case: {case:?}\n  last lines of stderr:\n{}",
            case.index,
            case.rerun(),
            problems.join("\n  "),
            tail.join("\n")
        ))
    }
}

/// Ids of the logs stored under `prefix` of the bucket.
async fn bucket_ids(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for key in list_keys(s3, bucket, prefix).await {
        ids.extend(stored_ids(&read_gzip_bytes(s3, bucket, &key).await));
    }
    ids
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_faults_never_lose_an_acknowledged_log() {
    let seed = env_number("EAF_FAULT_SEED").unwrap_or(DEFAULT_SEED);
    let cases: Vec<Case> = match env_number("EAF_FAULT_CASE") {
        Some(i) => vec![Case::generate(seed, i as usize)],
        None => {
            let n = env_number("EAF_FAULT_CASES").map_or(DEFAULT_CASES, |n| n as usize);
            (0..n).map(|i| Case::generate(seed, i)).collect()
        }
    };
    let total = cases.len();
    let moto = Moto::start();
    let started = Instant::now();
    let results: Vec<Result<Outcome, String>> = futures_util::stream::iter(cases)
        .map(|case| run_case(case, &moto))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut tally = Outcome::default();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(o) => {
                tally.succeeded += o.succeeded;
                tally.failed += o.failed;
                tally.accepted += o.accepted;
                tally.in_bucket += o.in_bucket;
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "fault suite, seed {seed}: {total} cases in {:.0?}; invocations {} succeeded, {} failed (Lambda retries); logs accepted {}, kept in S3 {}; {} cases broke the invariant",
        started.elapsed(),
        tally.succeeded,
        tally.failed,
        tally.accepted,
        tally.in_bucket,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
