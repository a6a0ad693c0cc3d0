//! `eks-audit-forwarder invoke FILE...`: the sample events, dry runs, and
//! start-up errors, through the real binary.

mod support;

use std::collections::BTreeMap;
use std::process::Output;

use serde_json::Value;
use support::intake::{IntakeContract, IntakeEmulator};
use support::{forwarder_command, repo_root};

fn sample(name: &str) -> String {
    repo_root().join("events").join(name).display().to_string()
}

fn run(vars: &[(&str, &str)], args: &[&str]) -> Output {
    forwarder_command(vars).args(args).output().unwrap()
}

fn stdout_logs(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_sample_event_runs_as_a_dry_run() {
    let expected: [(&str, &str, usize); 8] = [
        ("eks-audit.json", "kubernetes.audit", 11),
        ("eks-audit-oversize.json", "kubernetes.audit", 2),
        ("eks-kube-apiserver.json", "kube-apiserver", 4),
        ("eks-authenticator.json", "aws-iam-authenticator", 4),
        (
            "eks-kube-controller-manager.json",
            "kube-controller-manager",
            3,
        ),
        (
            "eks-cloud-controller-manager.json",
            "cloud-controller-manager",
            4,
        ),
        ("eks-kube-scheduler.json", "kube_scheduler", 3),
        ("control-message.json", "", 0),
    ];
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        // The Kinesis and S3 events run in tests/triggers.rs.
        .filter(|n| !n.starts_with("kinesis") && !n.starts_with("s3-"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every sample event is covered here");

    for (file, source, count) in expected {
        let out = run(&[], &["invoke", &sample(file)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file}: {stderr}");
        assert!(stderr.contains("dry run"), "{file}: says it is a dry run");
        assert!(stderr.contains("invocation summary"), "{file}");
        assert!(
            stderr.contains(&format!("{file}: ")),
            "{file}: a line for the file"
        );
        let logs = stdout_logs(&out);
        assert_eq!(logs.len(), count, "{file}");
        for log in &logs {
            assert_eq!(log["ddsource"], source, "{file}");
            assert_eq!(log["host"], "/aws/eks/demo/cluster");
            assert!(log["message"].is_string());
        }
        if file == "eks-audit-oversize.json" {
            let truncated: Vec<&Value> = logs.iter().filter(|l| l["truncated"] == true).collect();
            assert_eq!(truncated.len(), 1);
            assert!(serde_json::to_vec(truncated[0]).unwrap().len() <= 1_000_000);
            let event: Value =
                serde_json::from_str(truncated[0]["message"].as_str().unwrap()).unwrap();
            assert_eq!(event["verb"], "list");
            assert!(event.get("responseObject").is_none());
        }
    }
}

#[test]
fn the_audit_sample_has_the_traffic_the_readme_promises() {
    let out = run(&[], &["invoke", &sample("eks-audit.json")]);
    let mut verbs = BTreeMap::new();
    let mut exec = 0;
    let mut forbidden = 0;
    for log in stdout_logs(&out) {
        let event: Value = serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
        *verbs
            .entry(event["verb"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
        exec += usize::from(event["objectRef"]["subresource"] == "exec");
        forbidden += usize::from(event["responseStatus"]["code"] == 403);
    }
    assert!(verbs.len() >= 6, "{verbs:?}");
    assert!(exec >= 1);
    assert!(forbidden >= 1);
}

/// The noise preset drops the sample's node watch and lease renewal, and
/// counts them; the people's requests, the exec and the 403 all go.
#[test]
fn the_noise_preset_drops_the_samples_heartbeats_and_counts_them() {
    let out = run(
        &[("DD_AUDIT_NOISE_FILTER", "standard")],
        &["invoke", &sample("eks-audit.json")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let logs = stdout_logs(&out);
    assert_eq!(logs.len(), 9);
    for log in &logs {
        let event: Value = serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
        assert!(
            !event["user"]["username"]
                .as_str()
                .unwrap()
                .starts_with("system:node:"),
            "{event}"
        );
    }
    let summary: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "invocation summary")
        .expect("a summary line");
    assert_eq!(summary["filtered_as_noise"], 2);
    assert_eq!(summary["logs_forwarded"], 9);
    assert!(summary["noise_bytes"].as_u64().unwrap() > 1000);
}

#[test]
fn sample_events_match_their_generator() {
    let out = std::process::Command::new("python3")
        .arg(repo_root().join("scripts/make_events.py"))
        .arg("--check")
        .output()
        .expect("python3 runs the sample-event generator");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_dry_run_says_so_even_with_quiet_logs() {
    let out = run(
        &[("DD_LOG_LEVEL", "error")],
        &["invoke", &sample("eks-kube-scheduler.json")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("dry run: DD_API_KEY is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 events from /aws/eks/demo/cluster (kube_scheduler), 3 logs written"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("invocation summary"),
        "info lines are filtered: {stderr}"
    );
}

#[test]
fn bad_configuration_fails_start_up_naming_the_variable() {
    for (var, value, accepts) in [
        ("DD_PORT", "https", "a port number"),
        ("DD_COMPRESSION_LEVEL", "13", "0 to 12"),
        ("DD_COMPRESSION", "lz4", "gzip or zstd"),
        ("DD_USE_COMPRESSION", "sometimes", "true or false"),
        (
            "DD_AUDIT_NOISE_FILTER",
            "loud",
            "off, standard or aggressive",
        ),
        ("DD_AUDIT_EXCLUDE", "@verb:(get OR", "at character 14"),
        ("DD_URL", "https://127.0.0.1:99999", "port from 1 to 65535"),
        ("DD_URL", "https://intake.example.com/p?x=1", "no query"),
    ] {
        let out = run(&[(var, value)], &["invoke", &sample("eks-audit.json")]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var) && stderr.contains(accepts), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// A `DD_SCRUBBING_RULE` written for the decoded text (as the project's
/// earlier versions took it) is valid, but matches nothing in the middle
/// of a message now: start-up says so, naming the variable.
#[test]
fn a_scrubbing_rule_written_for_the_decoded_text_is_warned_about() {
    let out = run(
        &[("DD_SCRUBBING_RULE", r#""password":"[^"]*""#)],
        &["invoke", &sample("eks-audit.json")],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.contains("\"WARN\"")
            && l.contains("DD_SCRUBBING_RULE")
            && l.contains("serialised log")),
        "{stderr}"
    );
    let quiet = run(
        &[("DD_SCRUBBING_RULE", r#"\\"password\\":\\"[^\\]*\\""#)],
        &["invoke", &sample("eks-audit.json")],
    );
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("DD_SCRUBBING_RULE"));
}

#[test]
fn unusable_files_fail_the_run_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = support::write_temp(dir.path(), "not-json.json", "hello");
    let out = run(
        &[],
        &[
            "invoke",
            &not_json.display().to_string(),
            &sample("eks-kube-scheduler.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not-json.json: it is not JSON"), "{stderr}");
    assert_eq!(stdout_logs(&out).len(), 3, "the good file still ran");
    let out = run(&[], &["invoke"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_gzip_bomb_is_refused_at_the_configured_cap() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = vec![b' '; 8 << 20];
    let file = support::write_temp(dir.path(), "bomb.json", &support::payload::wrap(&bomb));
    let out = run(
        &[("DD_MAX_DECOMPRESSED_BYTES", "1048576")],
        &["invoke", &file.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("decompresses to more than 1048576 bytes"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_api_key_the_samples_are_sent() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let (url, key) = (intake.url(), intake.api_key().to_owned());
    let files = [
        sample("eks-audit.json"),
        sample("eks-authenticator.json"),
        sample("control-message.json"),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let mut args = vec!["invoke"];
        args.extend(files.iter().map(String::as_str));
        run(
            &[
                ("DD_URL", &url),
                ("DD_NO_SSL", "true"),
                ("DD_API_KEY", &key),
            ],
            &args,
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout when sending");
    assert_eq!(
        intake.requests().len(),
        2,
        "the control message sends nothing"
    );
    assert_eq!(intake.accepted_logs().len(), 15);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(intake.api_key()));
}

/// A dry run is chosen, not implied: `--dry-run` writes to stdout even
/// with an API key, and nothing reaches the intake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_asked_for_sends_nothing_even_with_a_key() {
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let (url, key) = (intake.url(), intake.api_key().to_owned());
    let file = sample("eks-audit.json");
    let out = tokio::task::spawn_blocking(move || {
        run(
            &[
                ("DD_URL", &url),
                ("DD_NO_SSL", "true"),
                ("DD_API_KEY", &key),
            ],
            &["invoke", "--dry-run", &file],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_logs(&out).len(), 11);
    assert!(intake.requests().is_empty(), "a dry run sends nothing");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("dry run: --dry-run was given"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `--dry-run` alone names no file; it counts after the files too; an
    // unknown option is refused before anything is read or sent.
    let out = run(&[], &["invoke", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    let (url, key) = (intake.url(), intake.api_key().to_owned());
    let file = sample("eks-audit.json");
    let vars = [
        ("DD_URL", url.as_str()),
        ("DD_NO_SSL", "true"),
        ("DD_API_KEY", key.as_str()),
    ];
    let out = tokio::task::block_in_place(|| run(&vars, &["invoke", &file, "--dry-run"]));
    assert!(out.status.success());
    assert_eq!(stdout_logs(&out).len(), 11);
    let out = tokio::task::block_in_place(|| run(&vars, &["invoke", &file, "--dryrun"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --dryrun"));
    assert!(intake.requests().is_empty(), "nothing was sent");
}
