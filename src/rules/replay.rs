//! `rules run`: logs replayed through rules in event-time order, signals
//! out as JSON lines, and a summary.
//!
//! Inputs are read one after the other; a bounded buffer puts their events
//! in time order ([`REORDER_EVENTS`] events at a time), which covers the
//! disorder of CloudWatch deliveries and Firehose objects without holding
//! a week of logs (nor more than [`REORDER_BYTES`] of them). An event older than one already evaluated is counted as
//! late and evaluated at the time already reached.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::UNIX_EPOCH;

use serde_json::{Map, Value, json};

use super::engine::{LogEvent, ReplayTally, RuleEngine, Signal};
use super::file::Severity;
use super::input::InputTally;
use crate::calendar::rfc3339_micros;

/// Events held to be put in time order.
pub const REORDER_EVENTS: usize = 50_000;

/// Bytes of audit events the order buffer may hold, whatever their count:
/// large events are put in order over fewer of them.
pub const REORDER_BYTES: usize = 256 << 20;

/// How often (in events) closed signals are handed out and idle groups
/// forgotten.
const SWEEP_EVERY: u64 = 10_000;

/// An event waiting in the reorder buffer: by time, then by arrival.
struct Pending {
    time_ms: i64,
    seq: u64,
    event: LogEvent,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ms, self.seq) == (other.time_ms, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time_ms, self.seq).cmp(&(other.time_ms, other.seq))
    }
}

/// A replay in progress.
pub struct Replay<'e, F: FnMut(Signal)> {
    engine: &'e mut RuleEngine,
    buffer: BinaryHeap<Reverse<Pending>>,
    capacity: usize,
    /// Bytes of the audit events held.
    held_bytes: usize,
    seq: u64,
    emit: F,
}

impl<'e, F: FnMut(Signal)> Replay<'e, F> {
    pub fn new(engine: &'e mut RuleEngine, capacity: usize, emit: F) -> Self {
        Self {
            engine,
            buffer: BinaryHeap::new(),
            capacity: capacity.max(1),
            held_bytes: 0,
            seq: 0,
            emit,
        }
    }

    pub fn push(&mut self, event: LogEvent) {
        self.seq += 1;
        self.held_bytes += event.audit.len();
        self.buffer.push(Reverse(Pending {
            time_ms: event.time_ms,
            seq: self.seq,
            event,
        }));
        while self.buffer.len() > self.capacity
            || (self.held_bytes > REORDER_BYTES && self.buffer.len() > 1)
        {
            self.evaluate_oldest();
        }
    }

    fn evaluate_oldest(&mut self) {
        if let Some(Reverse(pending)) = self.buffer.pop() {
            self.held_bytes -= pending.event.audit.len();
            self.engine.observe(&pending.event, &mut self.emit);
            if self.engine.tally().events.is_multiple_of(SWEEP_EVERY) {
                self.engine.sweep(&mut self.emit);
            }
        }
    }

    /// Evaluates what is left and closes the open signals.
    pub fn finish(mut self) -> ReplayTally {
        while !self.buffer.is_empty() {
            self.evaluate_oldest();
        }
        self.engine.finish(&mut self.emit);
        self.engine.tally().clone()
    }
}

fn time_text(ms: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    rfc3339_micros(t)
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// A signal as one JSON object: what `rules run` prints.
pub fn signal_json(signal: &Signal) -> Value {
    let group: Map<String, Value> = signal
        .group
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let mut out = json!({
        "rule": signal.rule,
        "case": signal.case,
        "status": severity_name(signal.status),
        "group": group,
        "first_seen": time_text(signal.first_seen_ms),
        "last_seen": time_text(signal.last_seen_ms),
        "events": signal.events,
    });
    if let Some(v) = &signal.new_value {
        out["new_value"] = Value::from(v.as_str());
    }
    if !signal.results.is_empty() {
        let results: Map<String, Value> = signal
            .results
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        out["results"] = Value::Object(results);
    }
    out
}

/// The human summary: per rule, the events it matched and its signals.
pub fn summary_table(
    names: &[String],
    tally: &ReplayTally,
    signals: &[u64],
    inputs: &InputTally,
) -> String {
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("{:<width$}  {:>9}  {:>7}\n", "rule", "matched", "signals");
    for (i, name) in names.iter().enumerate() {
        out.push_str(&format!(
            "{:<width$}  {:>9}  {:>7}\n",
            name,
            tally.matched.get(i).copied().unwrap_or(0),
            signals.get(i).copied().unwrap_or(0)
        ));
    }
    out.push_str(&format!(
        "{} events replayed ({} late, {} not JSON objects)\n",
        tally.events, tally.late, tally.unreadable
    ));
    out.push_str(&format!(
        "read from {} files and {} S3 objects; {} CloudWatch Logs control messages skipped\n",
        inputs.files, inputs.objects, inputs.control_messages
    ));
    out
}
