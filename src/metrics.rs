//! What one invocation did, as one structured log line.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counters of one invocation. Logged once at the end (and returned as the
/// invocation's response), so every drop, truncation and failure is on record.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct InvocationSummary {
    pub request_id: String,
    /// `ddsource` of the document's logs (empty for a control message).
    pub source: String,
    pub log_group: String,
    pub control_message: bool,
    pub dry_run: bool,
    /// Log events in the subscription document.
    pub events_in: usize,
    /// Logs the intake accepted (or, in a dry run, written to stdout).
    pub logs_forwarded: usize,
    /// Logs not delivered; a non-zero count fails the invocation.
    pub logs_failed: usize,
    /// Logs over the per-log limit that were shrunk to fit.
    pub truncated: usize,
    pub batches: usize,
    pub requests: u32,
    pub retries: u32,
    pub splits: u32,
    /// Uncompressed bytes of the log objects built.
    pub raw_bytes: u64,
    /// Bytes sent, compressed, retries included.
    pub wire_bytes: u64,
    pub transport_errors: u32,
    /// Non-2xx answers of the intake, by status.
    pub error_statuses: BTreeMap<u16, u32>,
    pub duration_ms: u64,
}

impl InvocationSummary {
    /// The summary line. Counts only: never a payload, a message or a key.
    pub fn log(&self) {
        let statuses = serde_json::to_string(&self.error_statuses).unwrap_or_default();
        tracing::info!(
            request_id = %self.request_id,
            source = %self.source,
            log_group = %self.log_group,
            control_message = self.control_message,
            dry_run = self.dry_run,
            events_in = self.events_in,
            logs_forwarded = self.logs_forwarded,
            logs_failed = self.logs_failed,
            truncated = self.truncated,
            batches = self.batches,
            requests = self.requests,
            retries = self.retries,
            splits = self.splits,
            raw_bytes = self.raw_bytes,
            wire_bytes = self.wire_bytes,
            transport_errors = self.transport_errors,
            error_statuses = %statuses,
            duration_ms = self.duration_ms,
            "invocation summary"
        );
    }
}
