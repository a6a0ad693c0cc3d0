//! Batches -> the intake: compressed POSTs, retries within the Lambda
//! deadline, 413 splits and 400 isolation.
//!
//! Retry is three pieces: classification ([`retry::classify_status`]), policy
//! ([`retry::RetryPolicy`]) and transport ([`client::Transport`]). The
//! [`DeliveryReport`] says what happened to every log: delivered, or failed
//! with a reason, the failed logs handed back as batches for the caller to
//! keep in S3 or to fail the invocation with.

pub mod client;
mod report;
pub mod retry;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use crate::batch::IntakeBatch;
use crate::limits;
pub use client::{
    AttemptOutcome, BodyEncoding, EncodedBody, IntakeClient, IntakeTarget, Transport,
    TransportFailure,
};
pub use report::{DeliveryFailures, DeliveryReport, FailedBatch, FailureReason, LastFailure};
pub use retry::{ResponseClass, RetryPolicy, classify_status};

/// Where and how logs are sent, parsed once from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSettings {
    /// The full URL of the logs endpoint, such as
    /// `https://http-intake.logs.datadoghq.com/api/v2/logs`.
    pub url: String,
    /// The `DD-STORAGE-TAG` header (`DD_ENRICH_S3_TAGS`,
    /// `DD_ENRICH_CLOUDWATCH_TAGS`): `s3,cloudwatch`, `s3`, `cloudwatch`.
    pub storage_tag: Option<&'static str>,
    /// `DD_USE_COMPRESSION`, `DD_COMPRESSION`, `DD_COMPRESSION_LEVEL`.
    pub encoding: BodyEncoding,
    /// What the shipper falls back to if the intake refuses `encoding`
    /// (zstd, which Datadog's public API does not document).
    pub fallback: Option<BodyEncoding>,
    /// `DD_REQUEST_TIMEOUT_SECONDS`: longest one POST may take.
    pub request_timeout: Duration,
}

impl IntakeSettings {
    /// The shipper's options for these settings.
    pub fn options(&self) -> ShipOptions {
        ShipOptions {
            request_timeout: self.request_timeout,
            fallback: self.fallback,
            ..ShipOptions::new(self.encoding)
        }
    }
}

/// How the shipper behaves; limits from [`crate::limits`] by default.
#[derive(Debug, Clone, Copy)]
pub struct ShipOptions {
    pub encoding: BodyEncoding,
    /// Tried once when the intake answers 400 or 415 to a body in
    /// `encoding`; if it takes the same batch that way, every later body
    /// uses it (see [`Shipper`]).
    pub fallback: Option<BodyEncoding>,
    pub retry: RetryPolicy,
    pub max_concurrent_requests: usize,
    pub request_timeout: Duration,
    pub deadline_margin: Duration,
    /// Requests allowed for the split halves of one batch (400/413).
    pub isolation_requests: u32,
}

impl ShipOptions {
    pub fn new(encoding: BodyEncoding) -> Self {
        Self {
            encoding,
            fallback: None,
            retry: RetryPolicy::default(),
            max_concurrent_requests: limits::MAX_CONCURRENT_REQUESTS,
            request_timeout: limits::REQUEST_TIMEOUT,
            deadline_margin: limits::DEADLINE_SAFETY_MARGIN,
            isolation_requests: limits::MAX_ISOLATION_REQUESTS,
        }
    }
}

/// Delivers batches through a [`Transport`].
///
/// With a fallback encoding, a 400 or 415 answer to a body in the primary
/// one is first taken as a refusal of the encoding: the same batch goes
/// again in the fallback (the intake took none of it, so nothing is
/// doubled). If that is accepted, the shipper uses the fallback from then
/// on, for the life of the process; if not, the 400 was the logs', and the
/// batch is split as usual.
#[derive(Debug, Clone)]
pub struct Shipper<T> {
    transport: T,
    options: ShipOptions,
    /// The intake refused the primary encoding and took the fallback.
    fell_back: Arc<AtomicBool>,
    /// The intake took a body in the primary encoding: it is not refused,
    /// and a 400 is the logs'.
    primary_accepted: Arc<AtomicBool>,
}

/// A batch waiting to be sent.
struct Pending {
    batch: IntakeBatch,
    /// It tries the fallback encoding after a refusal of the primary one.
    probe: bool,
    /// A refusal of it may still be the encoding's (not for halves of a
    /// batch that was refused in both).
    may_probe: bool,
    /// Attempts already made for these logs (before a probe).
    attempts_before: u32,
}

impl Pending {
    fn new(batch: IntakeBatch) -> Self {
        Self {
            batch,
            probe: false,
            may_probe: true,
            attempts_before: 0,
        }
    }
}

impl<T: Transport> Shipper<T> {
    pub fn new(transport: T, options: ShipOptions) -> Self {
        Self {
            transport,
            options,
            fell_back: Arc::default(),
            primary_accepted: Arc::default(),
        }
    }

    /// The encoding bodies go in now.
    pub fn encoding(&self) -> BodyEncoding {
        match self.options.fallback {
            Some(fallback) if self.fell_back.load(Ordering::Relaxed) => fallback,
            _ => self.options.encoding,
        }
    }

    /// Sends every batch, a few at a time, and finishes before
    /// `deadline - margin`.
    pub async fn deliver(&self, batches: Vec<IntakeBatch>, deadline: Instant) -> DeliveryReport {
        let stop_at = deadline
            .checked_sub(self.options.deadline_margin)
            .unwrap_or(deadline);
        let mut reports = futures_util::stream::iter(batches)
            .map(|batch| self.deliver_batch(batch, stop_at))
            .buffer_unordered(self.options.max_concurrent_requests.max(1));
        let mut total = DeliveryReport::default();
        while let Some(report) = reports.next().await {
            total.merge(report);
        }
        total
    }

    /// One batch, and whatever halves it is split into, in order.
    async fn deliver_batch(&self, batch: IntakeBatch, stop_at: Instant) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let mut pending = vec![Pending::new(batch)];
        let mut isolation = IsolationBudget {
            requests_left: self.options.isolation_requests,
        };
        while let Some(Pending {
            mut batch,
            probe,
            may_probe,
            attempts_before,
        }) = pending.pop()
        {
            // Out of time before even encoding it (a split half, a probe).
            if Instant::now() >= stop_at {
                report.failed.push(out_of_time(batch, attempts_before));
                continue;
            }
            let encoding = match (probe, self.options.fallback) {
                (true, Some(fallback)) => fallback,
                _ => self.encoding(),
            };
            let body = EncodedBody::encode(&batch, encoding);
            // A refusal can be the encoding's only for a body actually in
            // the primary encoding, with a fallback left to try, and while
            // the intake has not yet taken that encoding.
            let may_refuse_encoding = may_probe
                && !probe
                && self.options.fallback.is_some()
                && body.encoding == self.options.encoding
                && !self.primary_accepted.load(Ordering::Relaxed);
            let mut attempt = attempts_before;
            loop {
                let now = Instant::now();
                if now >= stop_at {
                    report.failed.push(out_of_time(batch, attempt));
                    break;
                }
                attempt += 1;
                if attempt > attempts_before + 1 {
                    report.retries += 1;
                }
                if attempt == attempts_before + 2 {
                    report.batches_retried += 1;
                }
                report.requests += 1;
                report.wire_bytes += body.bytes.len() as u64;
                let timeout = self.options.request_timeout.min(stop_at - now);
                let outcome = self.transport.post(&body, timeout).await;
                if let AttemptOutcome::Answered { status, .. } = &outcome {
                    let status = *status;
                    let accepted = classify_status(status) == ResponseClass::Accepted;
                    if accepted && body.encoding == self.options.encoding {
                        self.primary_accepted.store(true, Ordering::Relaxed);
                    }
                    if probe && accepted {
                        self.fall_back(encoding);
                    }
                    // The same batch again in the fallback, charged to the
                    // isolation budget: if it is taken, the encoding was
                    // refused; if not, the 400 was the logs'.
                    if may_refuse_encoding && matches!(status, 400 | 415) && isolation.take(1) {
                        *report.error_statuses.entry(status).or_default() += 1;
                        report.encoding_probes += 1;
                        pending.push(Pending {
                            batch,
                            probe: true,
                            may_probe: false,
                            attempts_before: attempt,
                        });
                        break;
                    }
                }
                // Halves of a batch whose encoding was already tried both
                // ways do not try again.
                let halves_may_probe = may_probe && !probe;
                let settled = settle(
                    batch,
                    outcome,
                    &mut report,
                    &mut pending,
                    &mut isolation,
                    halves_may_probe,
                );
                let (last, retry_after) = match settled {
                    Settled::Done => break,
                    Settled::Retry {
                        batch: again,
                        last,
                        retry_after,
                    } => {
                        batch = again;
                        (last, retry_after)
                    }
                };
                // The deadline ends retries, not a count: another attempt
                // is made while the delay and a useful attempt still fit.
                let delay = self
                    .options
                    .retry
                    .next_delay(attempt - attempts_before, retry_after);
                let out_of_time = Instant::now()
                    .checked_add(delay)
                    .and_then(|at| at.checked_add(self.options.retry.min_attempt_time))
                    .is_none_or(|end| end >= stop_at);
                if out_of_time {
                    report.failed.push(FailedBatch {
                        batch,
                        reason: FailureReason::Exhausted {
                            attempts: attempt,
                            last,
                        },
                    });
                    break;
                }
                tracing::debug!(attempt, last = %last, delay_ms = delay.as_millis() as u64, "retrying a batch");
                tokio::time::sleep(delay).await;
            }
        }
        merge_kept_back(&mut report.failed);
        report
    }
}

impl<T> Shipper<T> {
    /// The intake took in `encoding` what it refused in the primary one.
    fn fall_back(&self, encoding: BodyEncoding) {
        if !self.fell_back.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                refused = ?self.options.encoding.content_encoding(),
                now = ?encoding.content_encoding(),
                "the intake refused the body encoding and took the fallback: every later request uses the fallback"
            );
        }
    }
}

/// A batch the deadline stopped after `attempts` attempts.
fn out_of_time(batch: IntakeBatch, attempts: u32) -> FailedBatch {
    FailedBatch {
        batch,
        reason: FailureReason::Exhausted {
            attempts,
            last: LastFailure::Deadline,
        },
    }
}

/// The halves of one batch kept back when its isolation budget ran out go
/// back as one batch (they came from it, so they fit its limits): one S3
/// object and one replay later, not one per half.
fn merge_kept_back(failed: &mut Vec<FailedBatch>) {
    let is_kept_back = |f: &FailedBatch| matches!(f.reason, FailureReason::KeptBack { .. });
    if failed.iter().filter(|f| is_kept_back(f)).count() < 2 {
        return;
    }
    let (kept, mut rest): (Vec<FailedBatch>, Vec<FailedBatch>) =
        failed.drain(..).partition(is_kept_back);
    let reason = kept[0].reason.clone();
    let batch = IntakeBatch::from_logs(kept.iter().flat_map(|f| f.batch.logs()));
    rest.push(FailedBatch { batch, reason });
    *failed = rest;
}

/// Requests left for the halves of batches split after a 400 or 413.
struct IsolationBudget {
    requests_left: u32,
}

impl IsolationBudget {
    /// Whether `requests` more may be spent: a split costs two (one per
    /// half), a try of the fallback encoding one.
    fn take(&mut self, requests: u32) -> bool {
        let ok = self.requests_left >= requests;
        if ok {
            self.requests_left -= requests;
        }
        ok
    }
}

/// What an attempt's outcome leaves to do.
enum Settled {
    /// Delivered, split into `pending`, or recorded as failed.
    Done,
    /// Worth another try.
    Retry {
        batch: IntakeBatch,
        last: LastFailure,
        retry_after: Option<Duration>,
    },
}

fn settle(
    batch: IntakeBatch,
    outcome: AttemptOutcome,
    report: &mut DeliveryReport,
    pending: &mut Vec<Pending>,
    isolation: &mut IsolationBudget,
    halves_may_probe: bool,
) -> Settled {
    let (status, retry_after, answer) = match outcome {
        AttemptOutcome::Answered {
            status,
            retry_after,
            answer,
        } => (status, retry_after, answer),
        AttemptOutcome::Transport { kind } => {
            report.transport_errors += 1;
            return Settled::Retry {
                batch,
                last: LastFailure::Transport(kind),
                retry_after: None,
            };
        }
    };
    let class = classify_status(status);
    if class != ResponseClass::Accepted {
        *report.error_statuses.entry(status).or_default() += 1;
    }
    let reason = match class {
        ResponseClass::Accepted => {
            report.delivered_logs += batch.len();
            return Settled::Done;
        }
        ResponseClass::Retry => {
            return Settled::Retry {
                batch,
                last: LastFailure::Status(status),
                retry_after,
            };
        }
        ResponseClass::TooLarge | ResponseClass::BadRequest if batch.len() > 1 => {
            if !isolation.take(2) {
                report.failed.push(FailedBatch {
                    batch,
                    reason: FailureReason::KeptBack { status },
                });
                return Settled::Done;
            }
            // Halve until the offending logs stand alone; the second half is
            // pushed first so the first half goes out first.
            report.splits += 1;
            let (first, second) = batch.split_in_half();
            for half in [second, first] {
                pending.push(Pending {
                    may_probe: halves_may_probe,
                    ..Pending::new(half)
                });
            }
            return Settled::Done;
        }
        ResponseClass::TooLarge => FailureReason::TooLarge,
        ResponseClass::BadRequest => FailureReason::Rejected { answer },
        ResponseClass::Unauthorized => FailureReason::Unauthorized { status },
        ResponseClass::Refused => FailureReason::Refused { status },
    };
    report.failed.push(FailedBatch { batch, reason });
    Settled::Done
}
