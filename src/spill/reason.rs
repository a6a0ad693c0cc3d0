//! Why logs are kept, and where: `failed_events/` to be sent again, or
//! `dead_letter/` for a person; the reason goes with the object as its
//! metadata.

use crate::ship::{FailureReason, LastFailure, TransportFailure};

/// Where in the bucket a batch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpillKind {
    /// Worth sending again: replayed automatically.
    Failed,
    /// Rejected by the intake as malformed: kept for a person, not replayed.
    DeadLetter,
}

impl SpillKind {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            SpillKind::Failed => "failed_events",
            SpillKind::DeadLetter => "dead_letter",
        }
    }
}

/// Why the logs are being kept, written as object metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillReason {
    pub last_error: FailureCause,
    pub attempts: u32,
    /// The intake's answer, for dead letters.
    pub answer: Option<String>,
}

/// What last went wrong with the logs of an object. Its text is the
/// object's `last-error` metadata (`HTTP 503`, `timeout`, ...), which
/// people and tools read: it stays as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// The intake's answer.
    Status(u16),
    /// The last attempt failed in transport.
    Transport(TransportFailure),
    /// No attempt fit before the deadline.
    Deadline,
    /// A half answered `status` (400 or 413) after its batch's isolation
    /// budget was spent.
    BudgetSpent { status: u16 },
    /// Values of a stored object that are not log objects.
    UnreadableStored,
    /// A Kinesis record whose data could not be decoded.
    UndecodableRecord,
}

impl From<LastFailure> for FailureCause {
    fn from(last: LastFailure) -> Self {
        match last {
            LastFailure::Status(status) => FailureCause::Status(status),
            LastFailure::Transport(kind) => FailureCause::Transport(kind),
            LastFailure::Deadline => FailureCause::Deadline,
        }
    }
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureCause::Status(status) => write!(f, "HTTP {status}"),
            FailureCause::Transport(kind) => write!(f, "{kind}"),
            FailureCause::Deadline => f.write_str("no time left before the deadline"),
            FailureCause::BudgetSpent { status } => {
                write!(f, "HTTP {status}, isolation budget spent")
            }
            FailureCause::UnreadableStored => f.write_str("unreadable in a stored object"),
            FailureCause::UndecodableRecord => f.write_str("undecodable Kinesis record"),
        }
    }
}

/// Where a failed batch goes, and the metadata that says why.
pub fn spill_plan(reason: &FailureReason) -> (SpillKind, SpillReason) {
    let failed = |last_error: FailureCause, attempts: u32| {
        (
            SpillKind::Failed,
            SpillReason {
                last_error,
                attempts,
                answer: None,
            },
        )
    };
    match reason {
        FailureReason::Exhausted { attempts, last } => failed((*last).into(), *attempts),
        FailureReason::Unauthorized { status } | FailureReason::Refused { status } => {
            failed(FailureCause::Status(*status), 1)
        }
        FailureReason::KeptBack { status } => {
            failed(FailureCause::BudgetSpent { status: *status }, 1)
        }
        FailureReason::Rejected { answer } => (
            SpillKind::DeadLetter,
            SpillReason {
                last_error: FailureCause::Status(400),
                attempts: 1,
                answer: Some(answer.clone()),
            },
        ),
        FailureReason::TooLarge => (
            SpillKind::DeadLetter,
            SpillReason {
                last_error: FailureCause::Status(413),
                attempts: 1,
                answer: None,
            },
        ),
    }
}
