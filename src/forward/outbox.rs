//! Log objects on their way into request bodies: each event's message
//! through the audit stage (filters, redaction, scrubbing, attributes),
//! shaped, shrunk when over the per-log limit (counted and logged, never
//! dropped), and batched.

use crate::audit::{AuditTally, EventRef, Processor, ShrunkMessage, shrink_message};
use crate::batch::{BatchLimits, Batcher, IntakeBatch};
use crate::decode::SubscriptionDocument;
use crate::limits;
use crate::metrics::InvocationSummary;
use crate::shape::{DocumentShape, EventKey, Truncation};

use super::{Invocation, UnfittableLog};

pub(super) struct Outbox<'f> {
    processor: &'f Processor,
    batcher: Batcher,
    /// The largest log object, with room for the `retry:true` tag a replay
    /// adds, so a log shrunk to the limit still fits when it comes back.
    max_log: usize,
    log: Vec<u8>,
}

impl<'f> Outbox<'f> {
    pub(super) fn new(batch_limits: BatchLimits, processor: &'f Processor) -> Self {
        let batcher = Batcher::new(batch_limits);
        let max_log = batcher.max_log_bytes() - limits::REPLAY_TAG_ROOM;
        Self {
            processor,
            batcher,
            max_log,
            log: Vec::with_capacity(4096),
        }
    }

    /// Adds one log with `message_json` (a JSON string, quotes included).
    pub(super) fn push(
        &mut self,
        shape: &DocumentShape,
        key: EventKey<'_>,
        message_json: &str,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<(), UnfittableLog> {
        let at = EventRef {
            request_id: &invocation.request_id,
            event_id: key.id,
        };
        let mut tally = AuditTally::default();
        let prepared = self.processor.process(message_json, at, &mut tally);
        summary.add_audit(&tally);
        let Some(prepared) = prepared else {
            return Ok(());
        };
        let message_json: &str = &prepared.message_json;
        let key = EventKey {
            attributes: &prepared.attributes,
            ..key
        };
        let log = &mut self.log;
        log.clear();
        shape.write_log(key, message_json, None, log);
        // The attributes repeat fields of the message: a log too large with
        // them goes without them, so they can never be what keeps it from
        // fitting, nor cost it a field.
        let attributes_left_out = log.len() > self.max_log && !key.attributes.is_empty();
        let key = if attributes_left_out {
            let key = EventKey {
                attributes: "",
                ..key
            };
            log.clear();
            shape.write_log(key, message_json, None, log);
            tracing::warn!(
                request_id = %invocation.request_id,
                event_id = %key.id,
                "log over the intake's per-log limit with its SIEM attributes goes without them"
            );
            key
        } else {
            key
        };
        if log.len() > self.max_log {
            let truncation = Truncation {
                original_size: log.len(),
            };
            let budget = self
                .max_log
                .saturating_sub(shape.envelope_len(key, Some(truncation)));
            let shrunk = shrink_message(message_json, budget);
            log.clear();
            shape.write_log(key, shrunk.message_json(), Some(truncation), log);
            summary.truncated += 1;
            // A count, not the names: in a non-standard event the field
            // names are log content.
            let (removed_fields, by_members) = match &shrunk {
                ShrunkMessage::Event {
                    removed,
                    by_members,
                    ..
                } => (removed.len(), *by_members),
                ShrunkMessage::Cut { .. } => (0, false),
            };
            // No tree could hold the event: it was read at its top level.
            if by_members {
                summary.read_fallbacks += 1;
            }
            tracing::warn!(
                request_id = %invocation.request_id,
                event_id = %key.id,
                original_bytes = truncation.original_size,
                new_bytes = log.len(),
                removed_fields,
                cut_as_text = matches!(shrunk, ShrunkMessage::Cut { .. }),
                by_members,
                siem_attributes_left_out = attributes_left_out,
                "log over the intake's per-log limit was shrunk to fit"
            );
        }
        summary.raw_bytes += log.len() as u64;
        // shrink_message keeps to the budget, so an error here is a bug;
        // fail rather than drop the log.
        self.batcher.push(log).map_err(|source| UnfittableLog {
            event_id: key.id.to_owned(),
            source,
        })
    }

    /// Adds every event of a subscription document.
    pub(super) fn push_document(
        &mut self,
        shape: &DocumentShape,
        doc: &SubscriptionDocument<'_>,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<(), UnfittableLog> {
        for event in &doc.log_events {
            self.push(
                shape,
                event.into(),
                event.message.get(),
                invocation,
                summary,
            )?;
        }
        Ok(())
    }

    /// Batches already full, to send while more logs are being read.
    pub(super) fn take_full(&mut self) -> Vec<IntakeBatch> {
        self.batcher.take_closed()
    }

    pub(super) fn full_batches(&self) -> usize {
        self.batcher.closed_len()
    }

    pub(super) fn finish(self) -> Vec<IntakeBatch> {
        self.batcher.finish()
    }
}
