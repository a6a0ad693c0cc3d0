//! What happened to the batches of a delivery: every log delivered, or
//! failed with a reason, and the failures summed up for the invocation's
//! error.

use std::collections::BTreeMap;

use crate::batch::IntakeBatch;

use super::TransportFailure;

/// Why logs were not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// The intake kept failing (transport errors, 408/429/5xx) until no
    /// attempt fit before the deadline. `last` is the last answer.
    Exhausted { attempts: u32, last: LastFailure },
    /// The intake refused the API key (401/403).
    Unauthorized { status: u16 },
    /// The intake rejected this log as malformed (400, isolated by
    /// splitting).
    Rejected { answer: String },
    /// Another status that retrying cannot fix (404 from a wrong `DD_URL`, say).
    Refused { status: u16 },
    /// A single log still too large for the intake (413 on one entry).
    TooLarge,
    /// A half answered 400 or 413 after the batch's isolation budget was
    /// spent: its logs may well be good, so they are kept to send again,
    /// not dead-lettered.
    KeptBack { status: u16 },
}

/// The last failed attempt of an exhausted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastFailure {
    Status(u16),
    Transport(TransportFailure),
    /// No attempt fit before the deadline.
    Deadline,
}

impl std::fmt::Display for LastFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LastFailure::Status(s) => write!(f, "HTTP {s}"),
            LastFailure::Transport(t) => write!(f, "{t}"),
            LastFailure::Deadline => f.write_str("no time left before the deadline"),
        }
    }
}

/// Logs that could not be delivered, and why.
#[derive(Debug, Clone)]
pub struct FailedBatch {
    pub batch: IntakeBatch,
    pub reason: FailureReason,
}

/// What happened to the batches of one invocation.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    pub delivered_logs: usize,
    pub requests: u32,
    /// Attempts after the first, for the same body.
    pub retries: u32,
    /// Batches (or split halves) that needed at least one retry.
    pub batches_retried: u32,
    /// 413 and 400 splits.
    pub splits: u32,
    /// Compressed bytes of every request sent, retries included.
    pub wire_bytes: u64,
    /// Answers other than 2xx, by status.
    pub error_statuses: BTreeMap<u16, u32>,
    pub transport_errors: u32,
    /// Batches sent again in the fallback encoding after a 400 or 415 to
    /// the primary one.
    pub encoding_probes: u32,
    pub failed: Vec<FailedBatch>,
}

impl DeliveryReport {
    pub fn failed_logs(&self) -> usize {
        self.failed.iter().map(|f| f.batch.len()).sum()
    }

    /// What failed, by reason, or `None` when every log was delivered.
    pub fn failures(&self) -> Option<DeliveryFailures> {
        if self.failed.is_empty() {
            return None;
        }
        let mut f = DeliveryFailures {
            failed: self.failed_logs(),
            ..DeliveryFailures::default()
        };
        for failed in &self.failed {
            match &failed.reason {
                FailureReason::Exhausted { last, attempts } => {
                    f.exhausted += failed.batch.len();
                    f.last = Some((*last, *attempts));
                }
                FailureReason::Rejected { .. } => {
                    f.rejected_ids.extend(failed.batch.logs().map(log_id))
                }
                FailureReason::TooLarge => f.too_large_ids.extend(failed.batch.logs().map(log_id)),
                FailureReason::KeptBack { status } => {
                    f.kept_back += failed.batch.len();
                    f.kept_back_status = Some(*status);
                }
                FailureReason::Unauthorized { status } => f.unauthorized = Some(*status),
                FailureReason::Refused { status } => f.refused = Some(*status),
            }
        }
        Some(f)
    }

    pub fn merge(&mut self, other: DeliveryReport) {
        self.delivered_logs += other.delivered_logs;
        self.requests += other.requests;
        self.retries += other.retries;
        self.batches_retried += other.batches_retried;
        self.splits += other.splits;
        self.wire_bytes += other.wire_bytes;
        for (status, n) in other.error_statuses {
            *self.error_statuses.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.encoding_probes += other.encoding_probes;
        self.failed.extend(other.failed);
    }
}

/// The undelivered logs of an invocation, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFailures {
    pub failed: usize,
    /// Logs whose retries ran out, and the last failure with its attempts.
    pub exhausted: usize,
    pub last: Option<(LastFailure, u32)>,
    /// CloudWatch event ids of the logs the intake rejected as malformed.
    pub rejected_ids: Vec<String>,
    /// CloudWatch event ids of single logs refused as too large.
    pub too_large_ids: Vec<String>,
    /// Logs of halves answered 400/413 once the isolation budget was spent,
    /// and that status.
    pub kept_back: usize,
    pub kept_back_status: Option<u16>,
    /// The status of a refused API key.
    pub unauthorized: Option<u16>,
    /// Another status retrying cannot fix.
    pub refused: Option<u16>,
}

impl DeliveryFailures {
    /// Adds another group's failures: counts and ids add up; the last
    /// failure with the most attempts is kept.
    pub fn merge(&mut self, other: DeliveryFailures) {
        self.failed += other.failed;
        self.exhausted += other.exhausted;
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(if b.1 > a.1 { b } else { a }),
            (a, b) => a.or(b),
        };
        self.rejected_ids.extend(other.rejected_ids);
        self.too_large_ids.extend(other.too_large_ids);
        self.kept_back += other.kept_back;
        self.kept_back_status = self.kept_back_status.or(other.kept_back_status);
        self.unauthorized = self.unauthorized.or(other.unauthorized);
        self.refused = self.refused.or(other.refused);
    }
}

/// Most event ids quoted in a message.
const IDS_SHOWN: usize = 3;

impl std::fmt::Display for DeliveryFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(status) = self.unauthorized {
            parts.push(format!(
                "the intake refused the API key (HTTP {status}); check DD_API_KEY and DD_SITE"
            ));
        }
        if let Some(status) = self.refused {
            parts.push(format!(
                "the intake answered HTTP {status}, which retrying cannot fix; check DD_URL and DD_SITE"
            ));
        }
        if let Some((last, attempts)) = self.last {
            parts.push(format!(
                "{} still failing after retries (last: {last}, {attempts} attempts)",
                self.exhausted
            ));
        }
        let with_ids = |n: &str, ids: &[String]| {
            let shown: Vec<&str> = ids.iter().take(IDS_SHOWN).map(String::as_str).collect();
            let more = if ids.len() > IDS_SHOWN { ", ..." } else { "" };
            format!("{} {n} (event ids {}{more})", ids.len(), shown.join(", "))
        };
        if !self.rejected_ids.is_empty() {
            parts.push(with_ids(
                "rejected by the intake as malformed (HTTP 400)",
                &self.rejected_ids,
            ));
        }
        if !self.too_large_ids.is_empty() {
            parts.push(with_ids(
                "refused as too large (HTTP 413)",
                &self.too_large_ids,
            ));
        }
        if let Some(status) = self.kept_back_status {
            parts.push(format!(
                "{} in batches still answered HTTP {status} when the isolation budget ran out",
                self.kept_back
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// The CloudWatch event id of a serialized log object (for reports; never
/// the content).
fn log_id(log: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_slice::<IdOnly>(log).map_or_else(|_| "?".to_owned(), |l| l.id)
}
