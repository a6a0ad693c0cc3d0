//! The Kinesis Data Streams trigger: record by record, each one a
//! subscription document, answered with a partial batch response.
//!
//! A record whose logs were neither delivered nor kept in S3 is named in
//! `batchItemFailures`; Lambda then retries the batch from the lowest failed
//! sequence number, so records after it may be sent again (at-least-once,
//! as with any retry). Every record is attempted even after one fails:
//! when Lambda gives up on a batch after `MaximumRetryAttempts`, the
//! records after a failed one must already have gone out.
//!
//! An undecodable record (bad base64, gzip or document) is logged with its
//! sequence number. Retrying cannot fix it, so with `DD_STORE_FAILED_EVENTS`
//! its data is kept in the bucket under `dead_letter/` (never replayed) and
//! it is not reported. Without a bucket, or if that write fails, it is named
//! in `batchItemFailures`: after `MaximumRetryAttempts` (or
//! `MaximumRecordAgeInSeconds`) Lambda sends the batch's shard and sequence
//! numbers to the on-failure destination and the shard moves on; the record
//! stays readable in the stream for its retention period.

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
        let mut failures = Vec::new();
        for record in records {
            let Err(e) = self.forward_logs(&record.data, invocation, summary).await else {
                continue;
            };
            let undecodable = matches!(e, ForwardError::Decode(_));
            if undecodable {
                summary.records_undecodable += 1;
                if self.keep_undecodable(record, &e, invocation, summary).await {
                    continue;
                }
            }
            tracing::error!(
                request_id = %invocation.request_id,
                sequence_number = %record.sequence_number,
                undecodable,
                error_type = e.error_type(),
                error = %e.error_message(),
                "Kinesis record not forwarded; reported in batchItemFailures for Lambda to retry"
            );
            failures.push(BatchItemFailure {
                item_identifier: record.sequence_number.clone(),
            });
        }
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
