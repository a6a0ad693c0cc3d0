//! The Kinesis Data Streams trigger: every record a subscription document,
//! their logs batched together, answered with a partial batch response.
//!
//! The records' logs share request bodies, so a batch of many small
//! records makes a request or two, not one per record. A record whose logs
//! were neither delivered nor kept in S3 is named in `batchItemFailures`:
//! when the intake named each log it refused (a 400 or 413 narrowed down to
//! single logs), the records of those logs; otherwise every record with a
//! log in the failed requests. Lambda then retries the batch from the
//! lowest failed sequence number, so records after it may be sent again
//! (at-least-once, as with any retry). Every record is attempted even after
//! one fails: when Lambda gives up on a batch after `MaximumRetryAttempts`,
//! the records after a failed one must already have gone out.
//!
//! An undecodable record (bad base64, gzip or document) is logged with its
//! sequence number. Retrying cannot fix it, so with `DD_STORE_FAILED_EVENTS`
//! its data is kept in the bucket under `dead_letter/` (never replayed) and
//! it is not reported. Without a bucket, or if that write fails, it is named
//! in `batchItemFailures`: after `MaximumRetryAttempts` (or
//! `MaximumRecordAgeInSeconds`) Lambda sends the batch's shard and sequence
//! numbers to the on-failure destination and the shard moves on; the record
//! stays readable in the stream for its retention period.

use super::delivery::ShipTally;
use super::outbox::Outbox;
use crate::batch::IntakeBatch;
use crate::forward::invocation::spill_write_deadline;
use crate::forward::{ForwardError, Forwarder, Invocation};
use crate::metrics::{BatchItemFailure, InvocationSummary};
use crate::spill::{FailureCause, SpillKind, SpillReason};
use crate::trigger::KinesisRecord;

impl Forwarder {
    /// Forwards every record; returns the ones to report as failed.
    pub(super) async fn forward_records(
        &self,
        records: &[KinesisRecord],
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Vec<BatchItemFailure> {
        summary.records_in = records.len();
        let mut judged = RecordJudgement::new(records.len());
        // One outbox for the whole batch: the records' logs share request
        // bodies, so a hundred small records make a request or two, not a
        // hundred.
        let mut outbox = self.outbox();
        outbox.track_records();
        // Every record before this one had all its logs in requests already
        // answered (delivered, kept, or marked failed).
        let mut settled = 0;
        for (i, record) in records.iter().enumerate() {
            outbox.begin_record(i);
            let pushed = outbox.pushed();
            let mut tally = ShipTally::default();
            let added = self
                .add_document(&record.data, &mut outbox, invocation, summary, &mut tally)
                .await;
            judged.with_logs[i] = outbox.pushed() > pushed;
            match added {
                Err(e @ ForwardError::Decode(_)) => {
                    summary.records_undecodable += 1;
                    if !self.keep_undecodable(record, &e, invocation, summary).await {
                        judged.fail(i, records, &e, true, invocation);
                    }
                }
                // A log that could not be made to fit, or a group of
                // batches neither delivered nor kept: this record (even if
                // its first log was the one), and the records of the
                // failed requests.
                Err(e) => {
                    judged.fail(i, records, &e, false, invocation);
                    judged.fail_requests(settled..=i, &outbox, records, &e, invocation);
                }
                Ok(()) => {}
            }
            if let Err(e) = tally.finish() {
                judged.fail_requests(settled..=i, &outbox, records, &e, invocation);
            }
            settled = outbox.first_untaken_record().unwrap_or(i + 1);
        }
        if settled < records.len() {
            let mut tally = ShipTally::default();
            let last = records.len() - 1;
            if let Err(e) = self
                .ship(outbox.take_all(), invocation, summary, &mut tally)
                .await
            {
                judged.fail_requests(settled..=last, &outbox, records, &e, invocation);
            }
            if let Err(e) = tally.finish() {
                judged.fail_requests(settled..=last, &outbox, records, &e, invocation);
            }
        }
        let failures = judged.failures(records);
        summary.records_failed = failures.len();
        failures
    }

    /// Keeps an undecodable record's data in the bucket's dead letters, as
    /// one object naming its sequence number and what was wrong. `true` when
    /// it is kept.
    async fn keep_undecodable(
        &self,
        record: &KinesisRecord,
        error: &ForwardError,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> bool {
        let Some(store) = &self.spill else {
            return false;
        };
        let entry = serde_json::json!({
            "id": record.sequence_number,
            "undecodable": true,
            "error": error.error_message(),
            "kinesis": {"sequenceNumber": record.sequence_number, "data": record.data},
        });
        let entry = serde_json::to_vec(&entry).expect("a JSON value serializes");
        let reason = SpillReason {
            last_error: FailureCause::UndecodableRecord,
            attempts: 0,
            answer: None,
        };
        let batch = IntakeBatch::from_logs([entry.as_slice()]);
        let deadline = spill_write_deadline(invocation);
        match store
            .store(
                SpillKind::DeadLetter,
                &batch,
                &reason,
                &invocation.request_id,
                deadline,
            )
            .await
        {
            Ok(key) => {
                summary.dead_lettered += 1;
                tracing::error!(
                    request_id = %invocation.request_id,
                    sequence_number = %record.sequence_number,
                    error = %error.error_message(),
                    bucket = store.bucket(),
                    key = %key,
                    "undecodable Kinesis record kept in S3 (dead letter); not retried"
                );
                true
            }
            Err(e) => {
                tracing::error!(
                    request_id = %invocation.request_id,
                    sequence_number = %record.sequence_number,
                    error = %e,
                    "keeping an undecodable Kinesis record in S3 failed"
                );
                false
            }
        }
    }
}

/// Which records of a batch failed.
struct RecordJudgement {
    failed: Vec<bool>,
    /// Records that added at least one log (a control message or a passed
    /// over group adds none, and is never in a failed request).
    with_logs: Vec<bool>,
}

impl RecordJudgement {
    fn new(records: usize) -> Self {
        Self {
            failed: vec![false; records],
            with_logs: vec![false; records],
        }
    }

    fn fail(
        &mut self,
        index: usize,
        records: &[KinesisRecord],
        error: &ForwardError,
        undecodable: bool,
        invocation: &Invocation,
    ) {
        if std::mem::replace(&mut self.failed[index], true) {
            return;
        }
        tracing::error!(
            request_id = %invocation.request_id,
            sequence_number = %records[index].sequence_number,
            undecodable,
            error_type = error.error_type(),
            error = %error.error_message(),
            "Kinesis record not forwarded; reported in batchItemFailures for Lambda to retry"
        );
    }

    /// Requests holding logs of the records in `range` were neither
    /// delivered nor kept. When the intake named every log it refused (a
    /// 400 or 413 narrowed down to single logs), their records fail;
    /// otherwise every record of the range with a log does.
    fn fail_requests(
        &mut self,
        range: std::ops::RangeInclusive<usize>,
        outbox: &Outbox<'_>,
        records: &[KinesisRecord],
        error: &ForwardError,
        invocation: &Invocation,
    ) {
        let named = match error {
            ForwardError::Undelivered { failures, .. }
                if failures.failed > 0
                    && failures.failed
                        == failures.rejected_ids.len() + failures.too_large_ids.len() =>
            {
                failures
                    .rejected_ids
                    .iter()
                    .chain(&failures.too_large_ids)
                    .map(|id| outbox.record_of(id))
                    .collect::<Option<Vec<usize>>>()
            }
            _ => None,
        };
        let targets = named.unwrap_or_else(|| range.filter(|&r| self.with_logs[r]).collect());
        for index in targets {
            self.fail(index, records, error, false, invocation);
        }
    }

    /// The failed records, in their order.
    fn failures(&self, records: &[KinesisRecord]) -> Vec<BatchItemFailure> {
        records
            .iter()
            .zip(&self.failed)
            .filter(|(_, failed)| **failed)
            .map(|(record, _)| BatchItemFailure {
                item_identifier: record.sequence_number.clone(),
            })
            .collect()
    }
}
