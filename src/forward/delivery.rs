//! Ship or keep: batches go to the intake (or the dry-run writer), and
//! what the intake would not take is kept in S3 or makes the invocation
//! fail, counted across every group of batches of the invocation.

use std::io::Write;
use std::sync::Mutex;

use tokio::time::Instant;

use super::invocation::spill_write_deadline;
use super::{Destination, ForwardError, Forwarder, Invocation};
use crate::batch::IntakeBatch;
use crate::limits;
use crate::metrics::InvocationSummary;
use crate::ship::{DeliveryFailures, DeliveryReport};
use crate::spill::{SpillTally, keep_failed};

impl Forwarder {
    /// Sends `batches` (or writes them, in a dry run), keeping what the
    /// intake would not take in S3, and adds the outcome to `tally`. Without
    /// a bucket, what failed is only noted: the caller ships its other
    /// groups and fails the invocation at the end, with counts of the whole.
    /// An error when logs were neither delivered nor kept.
    pub(super) async fn ship(
        &self,
        batches: Vec<IntakeBatch>,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
        tally: &mut ShipTally,
    ) -> Result<(), ForwardError> {
        if batches.is_empty() {
            return Ok(());
        }
        summary.batches += batches.len();
        let total: usize = batches.iter().map(IntakeBatch::len).sum();
        tally.total += total;
        let shipper = match &self.destination {
            Destination::DryRun(out) => {
                write_dry_run(out, &batches).map_err(ForwardError::DryRunOutput)?;
                summary.logs_forwarded += total;
                return Ok(());
            }
            Destination::Intake(shipper) => shipper,
        };
        let report = shipper
            .deliver(batches, self.ship_deadline(invocation))
            .await;
        record_delivery(summary, &report);
        let Some(failures) = report.failures() else {
            return Ok(());
        };
        log_failures(&invocation.request_id, &failures);
        let Some(store) = &self.spill else {
            tally.undelivered(failures);
            return Ok(());
        };
        let write_deadline = spill_write_deadline(invocation);
        let mut kept = SpillTally::default();
        let written = keep_failed(
            store,
            &report.failed,
            &invocation.request_id,
            write_deadline,
            &mut kept,
        )
        .await;
        summary.add_spill(&kept);
        match written {
            Ok(()) => {
                tally.kept = true;
                Ok(())
            }
            Err(source) => Err(ForwardError::NotKept {
                total: tally.total,
                failures,
                source,
            }),
        }
    }

    /// When retries of this invocation's batches must stop: with a spill
    /// store, early enough to still write what failed.
    /// The reserve is at most half the time left, so a short Lambda
    /// timeout still leaves the intake a try before logs go to S3.
    pub(super) fn ship_deadline(&self, invocation: &Invocation) -> Instant {
        if self.spill.is_none() {
            return invocation.deadline;
        }
        let left = invocation
            .deadline
            .saturating_duration_since(Instant::now());
        invocation.deadline - limits::SPILL_RESERVE.min(left / 2)
    }
}

/// What the groups of batches of one document or object came to, added up,
/// so an invocation's error counts every log it had, not the last group's.
#[derive(Debug, Default)]
pub(super) struct ShipTally {
    /// Logs handed to the shipper.
    total: usize,
    /// Some were kept in S3 instead of delivered.
    kept: bool,
    /// Without a bucket: what was not delivered.
    failures: Option<DeliveryFailures>,
}

impl ShipTally {
    fn undelivered(&mut self, failures: DeliveryFailures) {
        match &mut self.failures {
            Some(all) => all.merge(failures),
            None => self.failures = Some(failures),
        }
    }

    /// `Ok(true)` when every log was delivered, `Ok(false)` when some were
    /// kept in S3 instead, an error when some were neither.
    // The async stages return the same error unboxed (their futures are
    // exempt from the lint); boxing it here alone would gain nothing.
    #[allow(clippy::result_large_err)]
    pub(super) fn finish(self) -> Result<bool, ForwardError> {
        match self.failures {
            Some(failures) => Err(ForwardError::Undelivered {
                total: self.total,
                failures,
            }),
            None => Ok(!self.kept),
        }
    }
}

fn write_dry_run(out: &Mutex<dyn Write + Send>, batches: &[IntakeBatch]) -> std::io::Result<()> {
    let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for batch in batches {
        for log in batch.logs() {
            out.write_all(log)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

fn record_delivery(summary: &mut InvocationSummary, report: &DeliveryReport) {
    summary.logs_forwarded += report.delivered_logs;
    summary.logs_failed += report.failed_logs();
    summary.add_traffic(report);
}

/// The failures worth a line of their own: a refused API key (loud, once
/// per invocation, never the key) and the ids of rejected logs (ids only:
/// the intake's answer can echo the payload).
fn log_failures(request_id: &str, failures: &DeliveryFailures) {
    if let Some(status) = failures.unauthorized {
        tracing::error!(
            request_id,
            status,
            "the intake refused the API key: check DD_API_KEY and that it belongs to the DD_SITE/DD_URL in use"
        );
    }
    if !failures.rejected_ids.is_empty() {
        tracing::warn!(
            request_id,
            event_ids = ?failures.rejected_ids,
            "the intake rejected these logs as malformed (HTTP 400)"
        );
    }
}
