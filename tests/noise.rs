//! The noise preset (`DD_AUDIT_NOISE_FILTER`) on generated EKS traffic
//! (`support/traffic.rs`): every event a detection needs survives it, and on
//! the model traffic mix it removes most events and bytes.
//!
//! `cargo test --test noise -- --nocapture` prints the reduction the
//! docs/audit.md quotes.

mod support;
#[path = "support/traffic.rs"]
mod traffic;

use std::collections::{BTreeMap, HashSet};

use eks_audit_forwarder::audit::filter::{NOISE_AGGRESSIVE_EXTRA, NOISE_STANDARD};
use eks_audit_forwarder::metrics::InvocationSummary;
use serde_json::Value;
use support::in_process::forward_messages;
use support::intake::{IntakeContract, IntakeEmulator};
use support::payload::{AUDIT_GROUP, AUDIT_STREAM};
use traffic::{model_mix, model_mix_labelled, never_drop_golden};

/// Events per subscription document, about what CloudWatch Logs sends a
/// busy audit stream.
const PER_DOCUMENT: usize = 1_000;

async fn forward(
    intake: &IntakeEmulator,
    messages: &[String],
    vars: &[(&str, &str)],
) -> (Vec<Value>, InvocationSummary) {
    let (logs, summaries) = forward_messages(
        intake,
        AUDIT_GROUP,
        AUDIT_STREAM,
        messages,
        PER_DOCUMENT,
        vars,
    )
    .await;
    (logs, support::in_process::totals(summaries))
}

fn messages_of(logs: &[Value]) -> HashSet<String> {
    logs.iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_id(log: &Value) -> String {
    let event: Value = serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
    event["auditID"].as_str().unwrap().to_owned()
}

/// Every golden event (one or more of each "never drop" class of
/// AUDIT_TRAFFIC.md, and lookalikes of the noise that belong to one)
/// arrives unchanged with either preset, amid the noise it resembles.
#[tokio::test]
async fn every_never_drop_event_survives_both_presets() {
    let golden = never_drop_golden();
    let classes: HashSet<&str> = golden.iter().map(|g| g.class).collect();
    assert!(classes.len() >= 30, "{classes:?}");
    let mut messages = model_mix(3_000, 7);
    for (i, g) in golden.iter().enumerate() {
        messages.insert((i * 37) % messages.len(), g.message.clone());
    }
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    for level in ["standard", "aggressive"] {
        let (logs, total) = forward(
            &intake,
            &messages,
            &[
                ("DD_AUDIT_NOISE_FILTER", level),
                // Compared byte for byte: secrets stay as generated.
                ("DD_REDACT_SECRETS", "false"),
            ],
        )
        .await;
        assert!(total.filtered_as_noise > messages.len() / 2, "{level}");
        let arrived = messages_of(&logs);
        let lost: Vec<&str> = golden
            .iter()
            .filter(|g| !arrived.contains(&g.message))
            .map(|g| g.class)
            .collect();
        assert!(
            lost.is_empty(),
            "{level} dropped never-drop events: {lost:?}"
        );
    }
}

/// The guard is what keeps the lookalikes: the presets' noise queries on
/// their own (as `DD_AUDIT_EXCLUDE`, which no guard protects) drop them.
#[tokio::test]
async fn without_the_guard_the_lookalikes_would_be_dropped() {
    let golden = never_drop_golden();
    let messages: Vec<String> = golden.iter().map(|g| g.message.clone()).collect();
    let bare = format!("({NOISE_STANDARD}) OR ({NOISE_AGGRESSIVE_EXTRA})");
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let (logs, total) = forward(
        &intake,
        &messages,
        &[("DD_AUDIT_EXCLUDE", &bare), ("DD_REDACT_SECRETS", "false")],
    )
    .await;
    let arrived = messages_of(&logs);
    let guarded: Vec<&str> = golden
        .iter()
        .filter(|g| !arrived.contains(&g.message))
        .map(|g| g.class)
        .collect();
    eprintln!("kept only by the guard: {guarded:?}");
    assert_eq!(total.filtered_by_query, guarded.len());
    // The others (a 409, a watch of secrets, an anonymous user, ...) are
    // not noise to begin with: the noise queries name 2xx answers to
    // system principals, and never secrets.
    for class in ["system principal from a public IP", "impersonation"] {
        assert!(
            guarded.iter().any(|g| g.starts_with(class)),
            "{class}: {guarded:?}"
        );
    }
}

/// What each preset removes from the model mix of AUDIT_TRAFFIC.md, by
/// events and by bytes; the figures docs/audit.md quotes.
#[tokio::test]
async fn the_presets_remove_most_of_the_model_traffic_mix() {
    let labelled = model_mix_labelled(20_000, 1);
    let messages: Vec<String> = labelled.iter().map(|(_, m)| m.clone()).collect();
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let (all_logs, off) = forward(&intake, &messages, &[]).await;
    assert_eq!(all_logs.len(), messages.len());
    let message_bytes: u64 = messages
        .iter()
        .map(|m| serde_json::to_string(m).unwrap().len() as u64)
        .sum();

    let mut removed = BTreeMap::new();
    for level in ["standard", "aggressive"] {
        let (logs, total) = forward(&intake, &messages, &[("DD_AUDIT_NOISE_FILTER", level)]).await;
        let share_events = total.filtered_as_noise as f64 / total.events_in as f64;
        let share_bytes = 1.0 - total.raw_bytes as f64 / off.raw_bytes as f64;
        let share_wire = 1.0 - total.wire_bytes as f64 / off.wire_bytes as f64;
        println!(
            "{level}: removed {:.1}% of events ({} of {}), {:.1}% of log bytes ({} of {}), \
             {:.1}% of gzip bytes on the wire ({} of {}); noise_bytes {:.1}% of message bytes",
            100.0 * share_events,
            total.filtered_as_noise,
            total.events_in,
            100.0 * share_bytes,
            off.raw_bytes - total.raw_bytes,
            off.raw_bytes,
            100.0 * share_wire,
            off.wire_bytes - total.wire_bytes,
            off.wire_bytes,
            100.0 * total.noise_bytes as f64 / message_bytes as f64,
        );
        // What stays, by row of the model table. By audit ID: redaction
        // changes the messages of TokenRequests.
        let kept: HashSet<String> = logs.iter().map(audit_id).collect();
        let mut rows: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (row, message) in &labelled {
            let entry = rows.entry(row).or_default();
            entry.0 += 1;
            let id = audit_id(&serde_json::json!({ "message": message }));
            entry.1 += usize::from(kept.contains(&id));
        }
        for (row, (n, k)) in &rows {
            println!("  {row:<50} kept {k:>5} of {n:>5}");
        }
        // People's requests and denied or anonymous ones all stay.
        for (row, (n, k)) in &rows {
            if row.contains("human") || row.contains("denied") {
                assert_eq!(n, k, "{level}: {row}");
            }
        }
        removed.insert(level, (share_events, share_bytes, share_wire));
    }
    let (standard, aggressive) = (removed["standard"], removed["aggressive"]);
    assert!(
        (0.70..0.95).contains(&standard.0) && standard.1 > 0.5 && standard.2 > 0.4,
        "{standard:?}"
    );
    assert!(
        aggressive.0 > standard.0 && aggressive.1 > standard.1,
        "{aggressive:?}"
    );
}

/// The dry-run report (`noise-report`) says what the preset would drop
/// on the same events: its count is the forwarder's, for both presets,
/// and it shows the stolen-credential lookalikes it keeps.
#[tokio::test]
async fn the_noise_report_matches_what_the_preset_drops() {
    let golden = never_drop_golden();
    let mut messages = model_mix(3_000, 11);
    messages.extend(golden.iter().map(|g| g.message.clone()));
    let dir = tempfile::tempdir().unwrap();
    let lines = support::write_temp(dir.path(), "audit.jsonl", &(messages.join("\n") + "\n"));
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    for level in ["standard", "aggressive"] {
        let (_, total) = forward(
            &intake,
            &messages,
            &[
                ("DD_AUDIT_NOISE_FILTER", level),
                ("DD_REDACT_SECRETS", "false"),
            ],
        )
        .await;
        let out = support::forwarder_command(&[])
            .args(["noise-report", "--level", level, lines.to_str().unwrap()])
            .output()
            .unwrap();
        let report = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = format!(
            "DD_AUDIT_NOISE_FILTER={level} would drop {} of {} audit events",
            total.filtered_as_noise,
            messages.len()
        );
        assert!(report.starts_with(&expected), "{expected}\n{report}");
        assert!(report.contains("agent=\"curl/8.5.0\""), "{report}");
    }
}
