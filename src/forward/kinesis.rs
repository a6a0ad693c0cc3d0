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
//! An undecodable record (bad base64, gzip or document) is named too, and
//! logged with its sequence number. Retrying cannot fix it, but the retry
//! budget bounds it: after `MaximumRetryAttempts` (or `MaximumRecordAgeInSeconds`)
//! Lambda sends the batch's shard and sequence numbers to the on-failure
//! destination and the shard moves on. The record itself stays readable in
//! the stream for its retention period.

use crate::forward::{ForwardError, Forwarder, Invocation};
use crate::metrics::{BatchItemFailure, InvocationSummary};
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
}
