//! The local front door: `eks-audit-forwarder invoke FILE...` runs sample
//! events through the same handler as Lambda does.
//!
//! What it says to the person at the terminal (dry run or not, a line per
//! file) goes to stderr directly, whatever `DD_LOG_LEVEL` filters out of the
//! structured logs.

use std::path::{Path, PathBuf};

use serde_json::value::RawValue;
use thiserror::Error;

use crate::forward::{Forwarder, Invocation};
use crate::metrics::{InvocationSummary, SummarySource};

#[derive(Debug, Error)]
enum EventFileError {
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    #[error("it is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

fn read_event(path: &Path) -> Result<Box<RawValue>, EventFileError> {
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

/// Runs each file as one invocation; returns how many failed. `asked`:
/// the dry run was asked for (`--dry-run`), not the result of a missing key.
pub async fn invoke_files(forwarder: &Forwarder, files: &[PathBuf], asked: bool) -> usize {
    if forwarder.is_dry_run() {
        let why = if asked {
            "--dry-run was given"
        } else {
            "DD_API_KEY is not set"
        };
        eprintln!(
            "dry run: {why}, so the log objects are written to stdout as JSON lines; nothing is sent"
        );
    }
    let mut failures = 0;
    for (i, file) in files.iter().enumerate() {
        let shown = file.display();
        let event = match read_event(file) {
            Ok(event) => event,
            Err(e) => {
                eprintln!("{shown}: {e}");
                failures += 1;
                continue;
            }
        };
        let invocation = Invocation::local(format!("local-{}", i + 1));
        match forwarder.handle(&event, &invocation).await {
            Ok(summary) => eprintln!("{shown}: {}", describe(&summary)),
            Err(e) => {
                eprintln!(
                    "{shown}: failed ({}): {}",
                    e.error_type(),
                    e.error_message()
                );
                failures += 1;
            }
        }
    }
    if let Some(kb) = peak_memory_kb() {
        eprintln!("peak memory: {} MB", kb / 1024);
    }
    failures
}

/// The process's peak resident memory (`VmHWM`), where Linux tells it.
/// Lambda reports the same figure as "Max Memory Used".
fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn describe(s: &InvocationSummary) -> String {
    if let Some(failures) = &s.batch_item_failures {
        let ids: Vec<&str> = failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        return format!(
            "{} Kinesis records, {} events, {} logs forwarded, {} undecodable, batchItemFailures {:?}",
            s.records_in, s.events_in, s.logs_forwarded, s.records_undecodable, ids
        );
    }
    if s.source == SummarySource::S3 {
        return format!(
            "{} S3 objects read ({} other S3 records skipped), {} events, {} logs forwarded in {} batches, {} kept in S3",
            s.objects_read, s.s3_events_ignored, s.events_in, s.logs_forwarded, s.batches, s.stored
        );
    }
    if s.control_message {
        return "a CloudWatch Logs control message: nothing to send".to_owned();
    }
    if s.source == SummarySource::Replay {
        return format!(
            "replay: {} logs from {} stored objects",
            s.replayed, s.replayed_objects
        );
    }
    let verb = if s.dry_run { "written" } else { "delivered" };
    format!(
        "{} events from {} ({}), {} logs {verb} in {} batches, {} truncated, {} kept in S3, {} bytes raw, {} on the wire",
        s.events_in,
        s.log_group,
        s.source,
        s.logs_forwarded,
        s.batches,
        s.truncated,
        s.stored,
        s.raw_bytes,
        s.wire_bytes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the source was compared with the string "s3", so the
    /// logs of a subscription sent with `DD_SOURCE=s3` were described as
    /// S3 objects read.
    #[test]
    fn a_subscription_is_described_whatever_its_ddsource() {
        let summary = InvocationSummary {
            source: SummarySource::Subscription("s3".into()),
            log_group: "/aws/eks/demo/cluster".into(),
            events_in: 3,
            logs_forwarded: 3,
            ..Default::default()
        };
        assert!(
            describe(&summary).starts_with("3 events from /aws/eks/demo/cluster (s3), 3 logs"),
            "{}",
            describe(&summary)
        );
        let read = InvocationSummary {
            source: SummarySource::S3,
            objects_read: 1,
            ..Default::default()
        };
        assert!(describe(&read).starts_with("1 S3 objects read"));
    }
}
