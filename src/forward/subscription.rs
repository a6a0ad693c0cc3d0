//! The subscription trigger: one CloudWatch Logs document, from
//! `awslogs.data` or a Kinesis record, decoded, through the audit stage
//! into batches, and shipped.

use super::delivery::ShipTally;
use super::outbox::Outbox;
use super::{ForwardError, Forwarder, Invocation};
use crate::decode::{decompress_payload, parse_document, peek_header};
use crate::limits;
use crate::metrics::{InvocationSummary, SummarySource};
use crate::shape::LogOrigin;

impl Forwarder {
    /// One subscription document (base64 of gzip) from `awslogs.data`.
    /// `Ok(true)` when every log was delivered, `Ok(false)` when some were
    /// kept in S3 instead.
    pub(super) async fn forward_logs(
        &self,
        data: &str,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<bool, ForwardError> {
        // Full batches go out while the rest are built, so a large document
        // costs its own bytes and a few request bodies, not twice its size.
        let mut outbox = self.outbox();
        let mut tally = ShipTally::default();
        self.add_document(data, &mut outbox, invocation, summary, &mut tally)
            .await?;
        self.ship(outbox.finish(), invocation, summary, &mut tally)
            .await?;
        tally.finish()
    }

    /// Decodes one subscription document (base64 of gzip, from
    /// `awslogs.data` or a Kinesis record) and adds its events to `outbox`,
    /// shipping full batches as they fill; the caller ships the rest.
    pub(super) async fn add_document(
        &self,
        data: &str,
        outbox: &mut Outbox<'_>,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
        tally: &mut ShipTally,
    ) -> Result<(), ForwardError> {
        // A document of another log group (an account-level policy sends
        // them all) is passed over on its first kilobytes when they show
        // its group, and after the full parse otherwise.
        if (!self.log_groups.is_all() || self.own_log_group.is_some())
            && let Some(header) = peek_header(data)
            && header.message_type == "DATA_MESSAGE"
            && self.passes_over(&header.log_group)
        {
            self.pass_over(&header.log_group, invocation, summary);
            return Ok(());
        }
        let decompressed = decompress_payload(data, self.max_decompressed_bytes)?;
        let doc = parse_document(&decompressed)?;
        if doc.is_control_message() {
            summary.log_group = doc.log_group.to_string();
            summary.events_in += doc.log_events.len();
            summary.control_message = true;
            tracing::debug!(request_id = %invocation.request_id, "CloudWatch Logs control message: nothing to send");
            return Ok(());
        }
        if self.passes_over(&doc.log_group) {
            self.pass_over(&doc.log_group, invocation, summary);
            return Ok(());
        }
        summary.log_group = doc.log_group.to_string();
        summary.events_in += doc.log_events.len();

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
        for event in &doc.log_events {
            outbox.push(
                &shape,
                event.into(),
                event.message.get(),
                invocation,
                summary,
            )?;
            if outbox.full_batches() >= limits::BATCHES_IN_FLIGHT {
                self.ship(outbox.take_full(), invocation, summary, tally)
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the documents of `log_group` are passed over: a group
    /// `DD_LOG_GROUP_PREFIXES` leaves out, or the function's own.
    pub(super) fn passes_over(&self, log_group: &str) -> bool {
        self.own_log_group.as_deref() == Some(log_group) || !self.log_groups.admits(log_group)
    }

    /// Counts a document [`Self::passes_over`] names, and says why.
    pub(super) fn pass_over(
        &self,
        log_group: &str,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) {
        summary.documents_passed_over += 1;
        if self.own_log_group.as_deref() == Some(log_group) {
            tracing::error!(
                request_id = %invocation.request_id,
                log_group,
                "the function's own log group is subscribed to it (an account-level subscription policy?): its logs invoke it again without end; leave the group out (ExcludedLogGroups in templates/clusters.yaml)"
            );
        } else {
            tracing::debug!(
                request_id = %invocation.request_id,
                log_group,
                "a document of a log group DD_LOG_GROUP_PREFIXES leaves out: passed over"
            );
        }
    }
}
