//! One invocation: its identity, and its time budget with the deadlines
//! the stages work to.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::limits;

/// One invocation's identity and time budget.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub invoked_function_arn: String,
    pub deadline: Instant,
}

impl Invocation {
    /// From the Runtime API's context: the deadline arrives as epoch
    /// milliseconds and is turned into a monotonic instant once.
    pub fn from_lambda(ctx: &lambda_runtime::Context) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = time_left(ctx.deadline, now_ms);
        tracing::debug!(
            request_id = %ctx.request_id,
            deadline_ms = ctx.deadline,
            time_left_ms = left.as_millis() as u64,
            "invocation received"
        );
        Self {
            request_id: ctx.request_id.clone(),
            invoked_function_arn: ctx.invoked_function_arn.clone(),
            deadline: Instant::now() + left,
        }
    }

    /// `margin` before the deadline (the deadline itself if less is left):
    /// when work must be over to leave time for what follows it.
    pub fn deadline_less(&self, margin: Duration) -> Instant {
        self.deadline.checked_sub(margin).unwrap_or(self.deadline)
    }

    /// A local run, with as much time as the default Lambda timeout.
    pub fn local(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            invoked_function_arn: String::new(),
            deadline: Instant::now() + limits::LOCAL_INVOCATION_TIMEOUT,
        }
    }
}

/// Epoch milliseconds before this are not a deadline Lambda would send
/// (2001-09-09); such a value is a duration.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// Time until `deadline_ms`. Lambda sends epoch milliseconds in the future.
/// Local emulators differ: cargo-lambda's `watch` sends the timeout itself
/// (`600000`), which is read as a duration; a deadline already past would
/// leave no time at all, so it gets the local budget, with a warning.
fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms < EPOCH_MS_FLOOR {
        return Duration::from_millis(deadline_ms);
    }
    if deadline_ms <= now_ms {
        tracing::warn!(
            deadline_ms,
            now_ms,
            "the invocation's deadline is already past; using the local 60 s budget"
        );
        return limits::LOCAL_INVOCATION_TIMEOUT;
    }
    Duration::from_millis(deadline_ms - now_ms)
}

pub(super) fn spill_write_deadline(invocation: &Invocation) -> Instant {
    invocation.deadline_less(limits::SPILL_DEADLINE_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_lambda_and_emulator_deadlines() {
        let now = 1_795_712_117_997;
        assert_eq!(time_left(now + 30_000, now), Duration::from_secs(30));
        // cargo lambda watch sends the timeout, not an epoch.
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
        assert_eq!(time_left(now - 5, now), limits::LOCAL_INVOCATION_TIMEOUT);
    }
}
