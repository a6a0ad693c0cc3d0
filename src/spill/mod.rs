//! Keeping what could not be delivered (S3), and replaying it.
//!
//! After an invocation's own work, failed batches are written to the bucket
//! (or the invocation fails, if that write fails too). Then, within the time
//! left, stored objects are replayed oldest first; an object is deleted only
//! once all its logs were accepted or what failed again was written back.
//! Two invocations replaying the same object at once can both deliver it
//! (duplicates) but cannot lose it: each deletes only after its own copy of
//! the logs is delivered or stored again.

mod reason;
mod retry_tag;
mod store;

pub use reason::{FailureCause, SpillKind, SpillReason, spill_plan};
pub use store::{CorruptObject, S3Failure, SpillError, SpillStore, StoredLogs};

/// `DD_STORE_FAILED_EVENTS` with `DD_S3_BUCKET_NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillSettings {
    pub bucket: String,
    /// The function's name, lower-cased: the prefixes are
    /// `failed_events/<name>/` and `dead_letter/<name>/`, as the Datadog
    /// Forwarder names them.
    pub forwarder_name: String,
}

use futures_util::StreamExt;
use tokio::time::Instant;

use crate::batch::{BatchLimits, Batcher, IntakeBatch};
use crate::limits;
use crate::ship::{DeliveryReport, FailedBatch, FailureReason, Shipper, Transport};

/// What keeping and replaying did, added to the invocation's summary by
/// the caller ([`crate::metrics::InvocationSummary::add_spill`]).
#[derive(Debug, Default)]
pub struct SpillTally {
    /// Logs written under `failed_events/`.
    pub stored: usize,
    /// Logs written under `dead_letter/`.
    pub dead_lettered: usize,
    /// Stored logs delivered by replay.
    pub replayed: usize,
    /// Stored objects replayed completely and deleted.
    pub replayed_objects: usize,
    /// Replay steps that failed (the objects stay in S3).
    pub replay_errors: usize,
    /// Batches replay sent.
    pub batches: usize,
    /// What replay's requests cost (its failed logs are kept, not here).
    pub traffic: DeliveryReport,
}

/// Most S3 writes in flight at once.
const CONCURRENT_WRITES: usize = 4;

/// Writes every failed batch to the bucket, a few at a time, counting into
/// `tally`. Any write that fails makes the whole call fail: the caller
/// must then fail the invocation (what was written already is duplicated
/// when Lambda retries the event).
pub async fn keep_failed(
    store: &SpillStore,
    failed: &[FailedBatch],
    request_id: &str,
    deadline: Instant,
    tally: &mut SpillTally,
) -> Result<(), SpillError> {
    let writes = futures_util::stream::iter(failed)
        .map(|f| async move {
            let (kind, reason) = spill_plan(&f.reason);
            let key = store
                .store(kind, &f.batch, &reason, request_id, deadline)
                .await;
            (f, kind, reason, key)
        })
        .buffer_unordered(CONCURRENT_WRITES)
        .collect::<Vec<_>>()
        .await;
    let mut first_error = None;
    for (f, kind, reason, key) in writes {
        let key = match key {
            Ok(key) => key,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        match kind {
            SpillKind::Failed => tally.stored += f.batch.len(),
            SpillKind::DeadLetter => tally.dead_lettered += f.batch.len(),
        }
        tracing::warn!(
            request_id,
            bucket = store.bucket(),
            key = %key,
            logs = f.batch.len(),
            last_error = %reason.last_error,
            dead_letter = kind == SpillKind::DeadLetter,
            "undelivered logs kept in S3"
        );
    }
    first_error.map_or(Ok(()), Err)
}

/// Time budget of a replay.
#[derive(Debug, Clone, Copy)]
pub struct ReplayDeadlines {
    /// Retries of replayed batches stop here (the shipper keeps its own
    /// safety margin before it).
    pub ship: Instant,
    /// S3 calls must finish by here.
    pub write: Instant,
}

/// Replays stored objects, oldest first, while time allows.
pub async fn replay<T: Transport>(
    store: &SpillStore,
    shipper: &Shipper<T>,
    batch_limits: BatchLimits,
    request_id: &str,
    deadlines: ReplayDeadlines,
    tally: &mut SpillTally,
) {
    let enough_time = || {
        Instant::now() + limits::MIN_REPLAY_TIME + limits::DEADLINE_SAFETY_MARGIN <= deadlines.ship
    };
    if !enough_time() {
        return;
    }
    // Its own short bound: an S3 that never answers must not hold every
    // delivered invocation to its deadline.
    let list_by = deadlines
        .write
        .min(Instant::now() + limits::REPLAY_LIST_TIMEOUT);
    let keys = match store.list_failed(limits::MAX_REPLAY_OBJECTS, list_by).await {
        Ok(keys) => keys,
        Err(e) => {
            tally.replay_errors += 1;
            tracing::error!(request_id, error = %e, "listing stored logs for replay failed");
            return;
        }
    };
    for key in keys {
        if !enough_time() {
            break;
        }
        match replay_object(
            store,
            shipper,
            batch_limits,
            request_id,
            &key,
            deadlines,
            tally,
        )
        .await
        {
            Ok(ObjectReplay::Done) => tally.replayed_objects += 1,
            Ok(ObjectReplay::IntakeStillDown) => {
                tracing::info!(request_id, key = %key, "the intake still fails; replay stops until a later invocation");
                break;
            }
            Err(SpillError::Gone { key }) => {
                tracing::debug!(request_id, key = %key, "stored object already replayed by another invocation");
            }
            Err(SpillError::Corrupt { key, source, .. }) => {
                tally.replay_errors += 1;
                match store.move_to_dead_letter(&key, deadlines.write).await {
                    Ok(target) => {
                        tracing::error!(request_id, key = %key, detail = %source, moved_to = %target, "stored object is unreadable; moved to dead letters")
                    }
                    Err(e) => {
                        tracing::error!(request_id, key = %key, error = %e, "stored object is unreadable and could not be moved")
                    }
                }
            }
            Err(e) => {
                // S3 trouble or no time left: the object stays where it is,
                // nothing is lost, it is replayed again later.
                tally.replay_errors += 1;
                tracing::error!(request_id, key = %key, error = %e, "replaying a stored object failed; it stays in S3");
                break;
            }
        }
    }
}

enum ObjectReplay {
    Done,
    IntakeStillDown,
}

async fn replay_object<T: Transport>(
    store: &SpillStore,
    shipper: &Shipper<T>,
    batch_limits: BatchLimits,
    request_id: &str,
    key: &str,
    deadlines: ReplayDeadlines,
    tally: &mut SpillTally,
) -> Result<ObjectReplay, SpillError> {
    let read_by = deadlines
        .write
        .min(Instant::now() + limits::REPLAY_READ_TIMEOUT);
    let StoredLogs { logs, unreadable } = store.load(key, read_by).await?;
    if !unreadable.is_empty() {
        // Set aside before anything is sent: the object is deleted only
        // after this write, so a failure here leaves it to a later replay,
        // which overwrites this dead letter rather than add a copy.
        let batch = IntakeBatch::from_logs(unreadable.iter().map(Vec::as_slice));
        let target = store.store_unreadable(key, &batch, deadlines.write).await?;
        tally.dead_lettered += unreadable.len();
        tracing::error!(
            request_id,
            key,
            moved_to = %target,
            values = unreadable.len(),
            "values of a stored object that are not log objects were moved to dead letters; the rest is replayed"
        );
    }
    let mut batcher = Batcher::new(batch_limits);
    let mut oversize = Vec::new();
    for log in &logs {
        if batcher.push(log).is_err() {
            // Written by an older version with other limits: never dropped,
            // kept aside as a dead letter.
            oversize.push(log.as_slice());
        }
    }
    let batches = batcher.finish();
    let batch_count = batches.len();
    let mut report = shipper.deliver(batches, deadlines.ship).await;
    let delivered = report.delivered_logs;
    let failed = std::mem::take(&mut report.failed);
    tally.replayed += delivered;
    tally.batches += batch_count;
    // Failures that say the intake (or its key) is unusable right now, as
    // opposed to something wrong with these logs.
    let intake_unusable = |r: &FailureReason| {
        matches!(
            r,
            FailureReason::Exhausted { .. }
                | FailureReason::Unauthorized { .. }
                | FailureReason::Refused { .. }
        )
    };
    let untouched =
        delivered == 0 && oversize.is_empty() && failed.iter().all(|f| intake_unusable(&f.reason));
    tally.traffic.merge(report);
    if untouched && !failed.is_empty() {
        // Nothing went through: leave the object as it is rather than
        // rewrite it under a new name.
        return Ok(ObjectReplay::IntakeStillDown);
    }
    let mut remainder = failed;
    if !oversize.is_empty() {
        remainder.push(FailedBatch {
            batch: IntakeBatch::from_logs(oversize),
            reason: FailureReason::TooLarge,
        });
    }
    if !remainder.is_empty() {
        keep_failed(store, &remainder, request_id, deadlines.write, tally).await?;
    }
    store.delete(key, deadlines.write).await?;
    tracing::info!(
        request_id,
        key,
        logs = logs.len(),
        delivered,
        "stored object replayed"
    );
    Ok(ObjectReplay::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ship::LastFailure;

    /// Only what the intake refused on its own is a dead letter; a half
    /// kept back when the isolation budget ran out is sent again.
    #[test]
    fn only_logs_refused_alone_are_dead_letters() {
        let kind = |reason: FailureReason| spill_plan(&reason).0;
        assert_eq!(
            kind(FailureReason::KeptBack { status: 400 }),
            SpillKind::Failed
        );
        assert_eq!(
            kind(FailureReason::KeptBack { status: 413 }),
            SpillKind::Failed
        );
        assert_eq!(
            spill_plan(&FailureReason::KeptBack { status: 400 })
                .1
                .last_error
                .to_string(),
            "HTTP 400, isolation budget spent"
        );
        assert_eq!(
            kind(FailureReason::Rejected { answer: "x".into() }),
            SpillKind::DeadLetter
        );
        assert_eq!(kind(FailureReason::TooLarge), SpillKind::DeadLetter);
        for reason in [
            FailureReason::Exhausted {
                attempts: 3,
                last: LastFailure::Deadline,
            },
            FailureReason::Unauthorized { status: 403 },
            FailureReason::Refused { status: 404 },
        ] {
            assert_eq!(kind(reason), SpillKind::Failed);
        }
    }
}
