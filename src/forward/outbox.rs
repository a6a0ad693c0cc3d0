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
    /// For the records of a Kinesis batch: which record each log came from.
    records: Option<RecordTrail>,
    /// Logs added so far.
    pushed: usize,
}

/// Where the logs of a Kinesis batch's records are, so a request that
/// fails names the records it held. Batches fill in order, so the logs not
/// yet taken out belong to the records from `first_untaken` on.
#[derive(Debug, Default)]
struct RecordTrail {
    current: usize,
    /// The first record with a log in a batch not yet taken out.
    first_untaken: Option<usize>,
    /// The record of the open batch's first log.
    open_first: Option<usize>,
    /// Each log's event id (hashed) and record.
    ids: Vec<(u64, usize)>,
}

fn id_hash(id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id)
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
            records: None,
            pushed: 0,
        }
    }

    /// Keeps track of which record each log comes from
    /// ([`Self::begin_record`], [`Self::record_of`]).
    pub(super) fn track_records(&mut self) {
        self.records = Some(RecordTrail::default());
    }

    /// The logs pushed from now on come from record `index`.
    pub(super) fn begin_record(&mut self, index: usize) {
        if let Some(trail) = &mut self.records {
            trail.current = index;
        }
    }

    /// Logs added so far.
    pub(super) fn pushed(&self) -> usize {
        self.pushed
    }

    /// The first record with a log not yet taken out: the records before it
    /// had all their logs in batches already shipped.
    pub(super) fn first_untaken_record(&self) -> Option<usize> {
        self.records.as_ref().and_then(|t| t.first_untaken)
    }

    /// The record the log of event `id` came from.
    pub(super) fn record_of(&self, id: &str) -> Option<usize> {
        let hash = id_hash(id);
        let trail = self.records.as_ref()?;
        trail.ids.iter().find(|(h, _)| *h == hash).map(|&(_, r)| r)
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
        let open_was_empty = self.batcher.open_is_empty();
        let closed_before = self.batcher.closed_len();
        // shrink_message keeps to the budget, so an error here is a bug;
        // fail rather than drop the log.
        self.batcher.push(log).map_err(|source| UnfittableLog {
            event_id: key.id.to_owned(),
            source,
        })?;
        self.pushed += 1;
        if let Some(trail) = &mut self.records {
            if open_was_empty || self.batcher.closed_len() > closed_before {
                trail.open_first = Some(trail.current);
            }
            trail.first_untaken.get_or_insert(trail.current);
            trail.ids.push((id_hash(key.id), trail.current));
        }
        Ok(())
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
        // The batcher closes a batch only when the next log comes, so the
        // open batch holds a log whenever one was pushed.
        if let Some(trail) = &mut self.records {
            trail.first_untaken = trail.open_first;
        }
        self.batcher.take_closed()
    }

    /// Every batch left, the last one closed, without giving up the
    /// records' trail.
    pub(super) fn take_all(&mut self) -> Vec<IntakeBatch> {
        if let Some(trail) = &mut self.records {
            trail.first_untaken = None;
            trail.open_first = None;
        }
        let fresh = Batcher::new(self.batcher.limits());
        std::mem::replace(&mut self.batcher, fresh).finish()
    }

    pub(super) fn full_batches(&self) -> usize {
        self.batcher.closed_len()
    }

    pub(super) fn finish(self) -> Vec<IntakeBatch> {
        self.batcher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditSettings;
    use crate::shape::{LogOrigin, LogShaper, ShapeSettings};
    use proptest::prelude::*;

    proptest! {
        /// Whatever the records' sizes and the batch limit, and wherever
        /// full batches are taken out, the trail names the first record with
        /// a log still in the outbox, and the record of every log.
        #[test]
        fn the_trail_knows_where_each_records_logs_are(
            sizes in proptest::collection::vec(0usize..6, 1..12),
            max_entries in 1usize..5,
            take_after in proptest::collection::vec(proptest::bool::ANY, 12),
        ) {
            let processor = Processor::new(AuditSettings::default());
            let limits = BatchLimits { max_entries, ..BatchLimits::default() };
            let mut outbox = Outbox::new(limits, &processor);
            outbox.track_records();
            let origin = LogOrigin::Subscription { log_group: "/aws/eks/a/cluster", log_stream: "s", owner: "1" };
            let shape = LogShaper::new(&ShapeSettings::default()).for_origin(&origin, "", &[]);
            let invocation = Invocation::local("trail");
            let mut summary = InvocationSummary::default();
            // The record of each log still in the outbox, in order.
            let mut untaken: Vec<usize> = Vec::new();
            for (record, &events) in sizes.iter().enumerate() {
                outbox.begin_record(record);
                for event in 0..events {
                    let id = format!("{record}-{event}");
                    let key = EventKey { id: &id, timestamp: 0, attributes: "" };
                    outbox.push(&shape, key, "\"m\"", &invocation, &mut summary).unwrap();
                    untaken.push(record);
                }
                if take_after[record] {
                    let taken: usize = outbox.take_full().iter().map(IntakeBatch::len).sum();
                    untaken.drain(..taken);
                }
                prop_assert_eq!(outbox.first_untaken_record(), untaken.first().copied());
            }
            for (record, &events) in sizes.iter().enumerate() {
                for event in 0..events {
                    prop_assert_eq!(outbox.record_of(&format!("{record}-{event}")), Some(record));
                }
            }
            prop_assert_eq!(outbox.record_of("elsewhere"), None);
            let rest: usize = outbox.take_all().iter().map(IntakeBatch::len).sum();
            prop_assert_eq!(rest, untaken.len());
            prop_assert_eq!(outbox.first_untaken_record(), None);
            prop_assert_eq!(outbox.pushed(), sizes.iter().sum::<usize>());
        }
    }
}
