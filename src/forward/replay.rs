//! Replay: logs kept in S3 sent again, while the intake is healthy.

use super::invocation::spill_write_deadline;
use super::{Destination, Forwarder, Invocation};
use crate::metrics::InvocationSummary;
use crate::spill::{ReplayDeadlines, SpillTally, replay};

impl Forwarder {
    pub(super) async fn replay_stored(
        &self,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) {
        let (Some(store), Destination::Intake(shipper)) = (&self.spill, &self.destination) else {
            return;
        };
        let deadlines = ReplayDeadlines {
            ship: self.ship_deadline(invocation),
            write: spill_write_deadline(invocation),
        };
        let mut tally = SpillTally::default();
        replay(
            store,
            shipper,
            self.batch_limits,
            &invocation.request_id,
            deadlines,
            &mut tally,
        )
        .await;
        summary.add_spill(&tally);
    }
}
