//! Replay speed of the detection rules (issue 16): `eks-audit-forwarder
//! rules run rules/ --on FILE` over a local file of audit events, one per
//! line, as a child process.
//!
//! `cargo bench --bench rules` (release binary). It writes, in a temporary
//! directory, 1,000,000 audit events of the reference mix (`workload`:
//! Metadata events of a busy control plane, every 97th a RequestResponse
//! list of 200 pods), dated over one day, with a few events mixed in that
//! the pack's rules match: pod execs (some into kube-system), a steady
//! stream of 403s from three service accounts, secrets lists and watches,
//! anonymous requests, privileged pods and cluster-admin bindings. It
//! replays the whole pack over them, then over the same count of Metadata
//! events only, and reports CPU (user + system), wall time, peak RSS,
//! events per minute per CPU against the issue's 1,000,000, and the
//! signals (lines of stdout).
//!
//! Then the memory of a new value rule: one rule (`@usr.name`, threshold
//! learning, nothing learned) over 1,000,000 events each of a different
//! user, and over the same events all of one user (the same bytes): the
//! difference of their peak RSS, per distinct value.
//!
//! CPU and peak RSS are the child's own, from `wait4` when it ends: the
//! kernel's `rusage` holds what `/proc/<pid>` showed (`measure.rs`), which
//! is gone once the process has exited.
//!
//! Under `cargo test` (no `--bench` argument) it runs a short pass with the
//! debug binary, so the harness itself is checked on every test run. It
//! fails only when the command does; no figure is asserted.

#[path = "../tests/support/workload.rs"]
#[allow(dead_code)] // the process bench's payloads
mod workload;

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use workload::Mix;

const BINARY: &str = env!("CARGO_BIN_EXE_eks-audit-forwarder");
const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
/// Issue 16: events per minute on one core.
const TARGET_PER_MINUTE: f64 = 1_000_000.0;
/// The events of one run of the workload generator: its 40-node cluster
/// is drawn again for each chunk.
const CHUNK: usize = 50_000;
/// The replayed day starts at 2026-11-26T00:00:00Z.
const DAY_US: u64 = 86_400_000_000;

/// `2026-11-26T00:00:00Z` + `us`, as the API server writes its stamps.
fn stamp(us: u64) -> String {
    let secs = us / 1_000_000;
    let day = 26 + secs / 86_400;
    assert!(day <= 30, "the replayed span stays in November");
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!(
        "2026-11-{day:02}T{h:02}:{m:02}:{s:02}.{:06}Z",
        us % 1_000_000
    )
}

/// Microseconds of the day in a workload stamp, `2026-11-26THH:MM:SS.ffffffZ`.
fn stamp_us(text: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| text[r].parse::<u64>().expect("a workload stamp");
    ((n(11..13) * 60 + n(14..16)) * 60 + n(17..19)) * 1_000_000 + n(20..26)
}

/// The range of the string value of `"key":"...` in `event`.
fn value_range(event: &str, key: &str) -> std::ops::Range<usize> {
    let pattern = format!("\"{key}\":\"");
    let start = event
        .find(&pattern)
        .unwrap_or_else(|| panic!("{key} in a workload event"))
        + pattern.len();
    let end = start + event[start..].find('"').expect("a closed string");
    start..end
}

/// Dates a workload event `received_us` into the day, keeping how long
/// the API server took over it.
fn redate(event: &mut String, received_us: u64) {
    let received = value_range(event, "requestReceivedTimestamp");
    let took =
        stamp_us(&event[value_range(event, "stageTimestamp")]) - stamp_us(&event[received.clone()]);
    event.replace_range(received, &stamp(received_us));
    let stage = value_range(event, "stageTimestamp");
    event.replace_range(stage, &stamp(received_us + took));
}

/// An event of the kinds the pack looks for, in place of the workload's
/// `i`-th, or None. The residues below never pick the same `i` twice: per
/// million events, 1,000 execs, 25,000 403s, 2,000 secrets lists, 200
/// anonymous requests, 10 cluster-admin bindings, 20 privileged pods.
fn matched_event(i: usize, rng: &mut fastrand::Rng, received_us: u64) -> Option<String> {
    let iam = |role: &str| format!("arn:aws:iam::111122223333:role/{role}");
    let (user, verb, uri, object_ref, code, extra) = if i % 1000 == 500 {
        // An exec, by one of 40 people; one in ten into kube-system.
        let ns = if rng.u8(0..10) == 0 {
            "kube-system"
        } else {
            ["staging", "prod", "default"][rng.usize(0..3)]
        };
        let pod = format!("api-6b8f7c9d4-{:05}", rng.u32(0..100_000));
        (
            iam(&format!("dev-{}", rng.u8(0..40))),
            "create",
            format!(
                "/api/v1/namespaces/{ns}/pods/{pod}/exec?command=sh&container=api&stdin=true&stdout=true&tty=true"
            ),
            json!({"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "exec"}),
            101,
            json!({}),
        )
    } else if i % 40 == 7 {
        // A controller without the RBAC it needs: steady 403s.
        let sa = [
            "monitoring:prometheus",
            "flux-system:kustomize-controller",
            "batch:report-exporter",
        ][rng.usize(0..3)];
        let resource = ["secrets", "nodes", "configmaps"][rng.usize(0..3)];
        (
            format!("system:serviceaccount:{sa}"),
            "list",
            format!("/api/v1/{resource}?limit=500"),
            json!({"resource": resource, "apiVersion": "v1"}),
            403,
            json!({}),
        )
    } else if i % 500 == 250 {
        // Secrets listed or watched: by nodes (left out), by operators,
        // now and then by a person.
        let user = match rng.u8(0..10) {
            0..=5 => format!(
                "system:node:ip-10-0-1-{}.eu-west-1.compute.internal",
                rng.u8(2..250)
            ),
            6..=8 => [
                "system:serviceaccount:external-secrets:external-secrets",
                "system:serviceaccount:argocd:argocd-application-controller",
            ][rng.usize(0..2)]
            .to_owned(),
            _ => iam(&format!("ops-{}", rng.u8(0..20))),
        };
        (
            user,
            ["list", "watch"][rng.usize(0..2)],
            "/api/v1/namespaces/prod/secrets?limit=500".to_owned(),
            json!({"resource": "secrets", "namespace": "prod", "apiVersion": "v1"}),
            200,
            json!({}),
        )
    } else if i % 5000 == 1234 {
        // Anonymous: the version endpoint (left out), or a refused list.
        let (uri, code) = if rng.bool() {
            ("/version", 200)
        } else {
            ("/api/v1/namespaces/default/pods", 403)
        };
        (
            "system:anonymous".to_owned(),
            "get",
            uri.to_owned(),
            json!({"resource": "pods", "namespace": "default", "apiVersion": "v1"}),
            code,
            json!({}),
        )
    } else if i % 100_000 == 50_000 {
        (
            iam("platform-admin"),
            "create",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings".to_owned(),
            json!({"resource": "clusterrolebindings", "name": "break-glass", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}),
            201,
            json!({"requestObject": {"kind": "ClusterRoleBinding", "metadata": {"name": "break-glass"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "User", "name": "oncall"}]}}),
        )
    } else if i % 50_000 == 25_000 {
        (
            iam("dev-3"),
            "create",
            "/api/v1/namespaces/default/pods".to_owned(),
            json!({"resource": "pods", "namespace": "default", "name": "debug", "apiVersion": "v1"}),
            201,
            json!({"requestObject": {"kind": "Pod", "metadata": {"name": "debug"}, "spec": {"containers": [{"name": "debug", "image": "busybox", "securityContext": {"privileged": true}}]}}}),
        )
    } else {
        return None;
    };
    let mut event = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": format!("{:08x}-0000-4000-8000-{:012x}", rng.u32(..), i),
        "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": [format!("10.20.{}.{}", rng.u8(0..8), rng.u8(2..250))],
        "userAgent": "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
        "objectRef": object_ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": stamp(received_us),
        "stageTimestamp": stamp(received_us + 40_000),
        "annotations": {"authorization.k8s.io/decision": if code == 403 { "forbid" } else { "allow" }}
    });
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            event[k] = v.clone();
        }
    }
    if extra.get("requestObject").is_some() {
        event["level"] = json!("Request");
    }
    Some(event.to_string())
}

/// How the events of a file are made.
#[derive(Clone, Copy)]
enum Events {
    /// The workload `mix`, with the pack's matches mixed in.
    Pack(Mix),
    /// Metadata events, the user of the `i`-th `bench-user-{i}` if
    /// `distinct`, else always `bench-user-0000000`.
    Users { distinct: bool },
}

/// Writes `n` events, one per line, dated over a day; returns the bytes.
fn write_events(path: &Path, n: usize, events: Events) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut rng = fastrand::Rng::with_seed(16);
    let step = DAY_US / n as u64;
    let mut bytes = 0u64;
    for chunk in 0..n.div_ceil(CHUNK) {
        let first = chunk * CHUNK;
        let len = CHUNK.min(n - first);
        let mix = match events {
            Events::Pack(mix) => Mix { events: len, ..mix },
            Events::Users { .. } => Mix {
                events: len,
                ..Mix::METADATA_ONLY
            },
        };
        for (k, mut event) in workload::audit_messages(mix, 1 + chunk as u64)
            .into_iter()
            .enumerate()
        {
            let i = first + k;
            let received = i as u64 * step;
            match events {
                Events::Pack(_) => {
                    if let Some(matched) = matched_event(i, &mut rng, received) {
                        event = matched;
                    } else {
                        redate(&mut event, received);
                    }
                }
                Events::Users { distinct } => {
                    redate(&mut event, received);
                    let user = value_range(&event, "username");
                    let n = if distinct { i } else { 0 };
                    event.replace_range(user, &format!("bench-user-{n:07}"));
                }
            }
            out.write_all(event.as_bytes()).unwrap();
            out.write_all(b"\n").unwrap();
            bytes += event.len() as u64 + 1;
        }
    }
    out.flush().unwrap();
    bytes
}

/// What one `rules run` used.
struct Run {
    cpu: Duration,
    wall: Duration,
    peak_rss_kb: u64,
    signals: u64,
    stderr: String,
}

/// Runs `rules run RULES --on INPUT` to its end; exits the bench if it fails.
#[allow(clippy::zombie_processes)] // reaped by wait4, for its rusage
fn rules_run(rules: &Path, input: &Path) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BINARY)
        .arg("rules")
        .arg("run")
        .arg(rules)
        .arg("--on")
        .arg(input)
        .env("DD_LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the forwarder binary");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Signals are counted as they come, not kept: a new value rule over a
    // million users prints a million lines.
    let lines = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut lines = 0u64;
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => return lines,
                Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's, not yet waited for; both pointers
    // are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(
        pid,
        child.id() as libc::pid_t,
        "wait4: {}",
        std::io::Error::last_os_error()
    );
    let wall = started.elapsed();
    let signals = lines.join().unwrap();
    let stderr = errors.join().unwrap();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        eprintln!(
            "rules run {} --on {} failed (wait status {status}):\n{stderr}",
            rules.display(),
            input.display()
        );
        std::process::exit(1);
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        wall,
        peak_rss_kb: usage.ru_maxrss as u64,
        signals,
        stderr,
    }
}

/// The events the summary says were replayed.
fn replayed(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("events replayed"))
        .unwrap_or("no summary")
        .to_owned()
}

const NEW_VALUE_RULE: &str = r#"name: 'Bench: a user not seen before'
type: log_detection
isEnabled: true
message: 'A user not seen before: {{@usr.name}}'
tags:
  - source:kubernetes.audit
queries:
  - name: a
    query: 'source:kubernetes.audit'
    aggregation: new_value
    groupByFields: []
    distinctFields: []
    metrics:
      - '@usr.name'
cases:
  - name: a new user
    status: info
    condition: ''
options:
  detectionMethod: new_value
  keepAlive: 3600
  maxSignalDuration: 86400
  newValueOptions:
    learningMethod: threshold
    learningThreshold: 0
    learningDuration: 0
    forgetAfter: 28
"#;

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 1_000_000 } else { 2_000 };
    let users = if bench { 1_000_000 } else { 5_000 };
    let dir = tempfile::tempdir().unwrap();
    let rules = PathBuf::from(RULES_DIR);
    let per_minute = |events: usize, run: &Run| events as f64 / run.cpu.as_secs_f64() * 60.0;

    println!(
        "`rules run` as a child process ({BINARY}), a local file of JSON lines, events dated over one day"
    );
    println!();
    println!(
        "| rules | input | events | file | signals | CPU (user + sys) | wall | events per minute per CPU | × 1,000,000 | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let row = |rules: &str, input: &str, events: usize, bytes: u64, run: &Run| {
        println!(
            "| {rules} | {input} | {events} | {:.0} MB | {} | {:.2} s | {:.2} s | {:.0} | {:.2} | {} |",
            bytes as f64 / 1e6,
            run.signals,
            run.cpu.as_secs_f64(),
            run.wall.as_secs_f64(),
            per_minute(events, run),
            per_minute(events, run) / TARGET_PER_MINUTE,
            mb(run.peak_rss_kb),
        );
    };

    let mut summaries = Vec::new();
    for (label, mix) in [
        (
            "reference mix (every 97th a list of 200 pods) + matches",
            Mix::REFERENCE,
        ),
        ("Metadata events only + matches", Mix::METADATA_ONLY),
    ] {
        let file = dir.path().join("pack.jsonl");
        let bytes = write_events(&file, n, Events::Pack(mix));
        let run = rules_run(&rules, &file);
        std::fs::remove_file(&file).unwrap();
        row("pack (8 rules)", label, n, bytes, &run);
        summaries.push((label, run.stderr));
    }

    let rule = dir.path().join("new-user.yaml");
    std::fs::write(&rule, NEW_VALUE_RULE).unwrap();
    let mut peaks = Vec::new();
    for (label, distinct) in [
        ("Metadata events, each of a different user", true),
        ("the same events, all of one user", false),
    ] {
        let file = dir.path().join("users.jsonl");
        let bytes = write_events(&file, users, Events::Users { distinct });
        let run = rules_run(&rule, &file);
        std::fs::remove_file(&file).unwrap();
        row(
            "one new value rule (`@usr.name`)",
            label,
            users,
            bytes,
            &run,
        );
        summaries.push((label, run.stderr.clone()));
        peaks.push(run.peak_rss_kb);
    }
    let per_value = (peaks[0] as f64 - peaks[1] as f64) * 1024.0 / users as f64;
    println!();
    println!(
        "New value rule over {users} distinct values: peak RSS {} against {} for one value, {per_value:.0} bytes per distinct value",
        mb(peaks[0]),
        mb(peaks[1]),
    );
    for (label, stderr) in &summaries {
        println!();
        if bench && label.contains("reference") {
            println!("Summary of the pack over the {label}:");
            println!("```");
            print!("{stderr}");
            println!("```");
        } else {
            println!("{label}: {}", replayed(stderr));
        }
    }
}
