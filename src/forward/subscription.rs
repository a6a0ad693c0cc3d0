//! The subscription trigger: one CloudWatch Logs document, from
//! `awslogs.data` or a Kinesis record, decoded, through the audit stage
//! into batches, and shipped.

use super::delivery::ShipTally;
use super::{ForwardError, Forwarder, Invocation};
use crate::decode::{decompress_payload, parse_document};
use crate::limits;
use crate::metrics::{InvocationSummary, SummarySource};
use crate::shape::LogOrigin;

impl Forwarder {
    /// One subscription document (base64 of gzip), from `awslogs.data` or a
    /// Kinesis record. `Ok(true)` when every log was delivered, `Ok(false)`
    /// when some were kept in S3 instead.
    pub(super) async fn forward_logs(
        &self,
        data: &str,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<bool, ForwardError> {
        let decompressed = decompress_payload(data, self.max_decompressed_bytes)?;
        let doc = parse_document(&decompressed)?;
        summary.log_group = doc.log_group.to_string();
        summary.events_in += doc.log_events.len();
        if doc.is_control_message() {
            summary.control_message = true;
            tracing::debug!(request_id = %invocation.request_id, "CloudWatch Logs control message: nothing to send");
            return Ok(true);
        }

        let origin = LogOrigin::subscription(&doc);
        let tags = self
            .group_tags(&doc.owner, &doc.log_group, invocation, summary)
            .await;
        let shape = self
            .shaper
            .for_origin(&origin, &invocation.invoked_function_arn, &tags.tags);
        if summary.source == SummarySource::Unknown {
            summary.source = SummarySource::Subscription(shape.source().to_owned());
        }
        // Full batches go out while the rest are built, so a large document
        // costs its own bytes and a few request bodies, not twice its size.
        let mut outbox = self.outbox();
        let mut tally = ShipTally::default();
        for event in &doc.log_events {
            outbox.push(
                &shape,
                event.into(),
                event.message.get(),
                invocation,
                summary,
            )?;
            if outbox.full_batches() >= limits::BATCHES_IN_FLIGHT {
                self.ship(outbox.take_full(), invocation, summary, &mut tally)
                    .await?;
            }
        }
        self.ship(outbox.finish(), invocation, summary, &mut tally)
            .await?;
        tally.finish()
    }
}
