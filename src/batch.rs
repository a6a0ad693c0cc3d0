//! Log objects -> request bodies within the intake's limits.
//!
//! A batch is the exact bytes that will be sent (`[log,log,...]`), cut by
//! exact serialized size, brackets and commas counted, so no request the
//! forwarder builds can be refused as too large. Each batch remembers where
//! its entries are, so the shipper can split it (on a 413 or to isolate a
//! rejected log) without serializing anything again.

use std::ops::Range;

use thiserror::Error;

use crate::limits;

/// The intake's limits, as parameters so tests can reach the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_entries: usize,
    pub max_body_bytes: usize,
    pub max_log_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_entries: limits::MAX_ENTRIES_PER_REQUEST,
            max_body_bytes: limits::MAX_REQUEST_BODY_BYTES,
            max_log_bytes: limits::MAX_LOG_BYTES,
        }
    }
}

/// A log object larger than the limits allow; the caller must shrink it first.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("a log object of {len} bytes is over the {limit}-byte limit")]
pub struct OversizeLog {
    pub len: usize,
    pub limit: usize,
}

/// One request body: a JSON array of log objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeBatch {
    body: Vec<u8>,
    entries: Vec<Range<usize>>,
}

impl IntakeBatch {
    /// Builds a batch from log objects; the caller keeps it within the limits.
    pub fn from_logs<'a>(logs: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut open = OpenBatch::default();
        for log in logs {
            open.push(log);
        }
        open.close()
    }

    /// The request body, uncompressed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Number of log objects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The serialized log objects, in order.
    pub fn logs(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.iter().map(|r| &self.body[r.clone()])
    }

    /// Two batches holding the first and the second half of the logs.
    /// Only meaningful for batches of two or more.
    pub fn split_in_half(&self) -> (IntakeBatch, IntakeBatch) {
        let mid = self.len() / 2;
        let first = IntakeBatch::from_logs(self.logs().take(mid));
        let second = IntakeBatch::from_logs(self.logs().skip(mid));
        (first, second)
    }
}

#[derive(Debug)]
struct OpenBatch {
    body: Vec<u8>,
    entries: Vec<Range<usize>>,
}

impl Default for OpenBatch {
    fn default() -> Self {
        Self {
            body: vec![b'['],
            entries: Vec::new(),
        }
    }
}

impl OpenBatch {
    /// An empty batch with room for a whole body: a body that grew by
    /// doubling would copy itself a dozen times and end with up to twice
    /// the bytes it needs. Pages never written are never resident.
    fn with_room(bytes: usize) -> Self {
        let mut body = Vec::with_capacity(bytes);
        body.push(b'[');
        Self {
            body,
            entries: Vec::new(),
        }
    }

    /// Size of the closed body if `log` were added.
    fn len_with(&self, log: &[u8]) -> usize {
        self.body.len() + usize::from(!self.entries.is_empty()) + log.len() + 1
    }

    fn push(&mut self, log: &[u8]) {
        if !self.entries.is_empty() {
            self.body.push(b',');
        }
        let start = self.body.len();
        self.body.extend_from_slice(log);
        self.entries.push(start..self.body.len());
    }

    fn close(mut self) -> IntakeBatch {
        self.body.push(b']');
        IntakeBatch {
            body: self.body,
            entries: self.entries,
        }
    }
}

/// Cuts a stream of log objects into [`IntakeBatch`]es, keeping their order.
#[derive(Debug)]
pub struct Batcher {
    limits: BatchLimits,
    open: OpenBatch,
    closed: Vec<IntakeBatch>,
}

impl Batcher {
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            open: OpenBatch::with_room(limits.max_body_bytes),
            closed: Vec::new(),
        }
    }

    /// The largest log object a batch can carry.
    pub fn max_log_bytes(&self) -> usize {
        self.limits
            .max_log_bytes
            .min(self.limits.max_body_bytes - 2)
    }

    /// Adds one serialized log object.
    pub fn push(&mut self, log: &[u8]) -> Result<(), OversizeLog> {
        let limit = self.max_log_bytes();
        if log.len() > limit {
            return Err(OversizeLog {
                len: log.len(),
                limit,
            });
        }
        if !self.open.entries.is_empty()
            && (self.open.entries.len() >= self.limits.max_entries
                || self.open.len_with(log) > self.limits.max_body_bytes)
        {
            let full = std::mem::replace(
                &mut self.open,
                OpenBatch::with_room(self.limits.max_body_bytes),
            );
            self.closed.push(full.close());
        }
        self.open.push(log);
        Ok(())
    }

    /// The batches closed so far, taken out; later pushes go on filling
    /// the open one.
    pub fn take_closed(&mut self) -> Vec<IntakeBatch> {
        std::mem::take(&mut self.closed)
    }

    /// How many batches are closed and waiting.
    pub fn closed_len(&self) -> usize {
        self.closed.len()
    }

    pub fn limits(&self) -> BatchLimits {
        self.limits
    }

    /// Whether the open batch has no log yet.
    pub fn open_is_empty(&self) -> bool {
        self.open.entries.is_empty()
    }

    /// All batches, the last one closed.
    pub fn finish(mut self) -> Vec<IntakeBatch> {
        if !self.open.entries.is_empty() {
            self.closed.push(self.open.close());
        }
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn log_of(i: usize, len: usize) -> Vec<u8> {
        // A valid JSON object of exactly `len` bytes (len >= 12) carrying `i`.
        let head = format!("{{\"i\":{i},\"p\":\"");
        let pad = len.saturating_sub(head.len() + 2);
        let mut v = head.into_bytes();
        v.extend(std::iter::repeat_n(b'x', pad));
        v.extend_from_slice(b"\"}");
        v
    }

    #[test]
    fn body_is_a_json_array_with_exact_framing() {
        let mut b = Batcher::new(BatchLimits::default());
        b.push(br#"{"a":1}"#).unwrap();
        b.push(br#"{"b":2}"#).unwrap();
        let batches = b.finish();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].body(), br#"[{"a":1},{"b":2}]"#);
        assert_eq!(batches[0].len(), 2);
    }

    #[test]
    fn body_limit_counts_brackets_and_commas() {
        let limits = BatchLimits {
            max_entries: 100,
            max_body_bytes: 2 + 20 + 1 + 20,
            max_log_bytes: 20,
        };
        let mut b = Batcher::new(limits);
        b.push(&log_of(0, 20)).unwrap();
        b.push(&log_of(1, 20)).unwrap(); // exactly at the limit
        b.push(&log_of(2, 20)).unwrap(); // one comma and 20 bytes too many
        let batches = b.finish();
        assert_eq!(
            batches.iter().map(IntakeBatch::len).collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(batches[0].body().len(), 43);
    }

    #[test]
    fn oversize_log_is_refused_not_dropped() {
        let mut b = Batcher::new(BatchLimits {
            max_entries: 10,
            max_body_bytes: 1000,
            max_log_bytes: 30,
        });
        assert_eq!(
            b.push(&log_of(0, 31)),
            Err(OversizeLog { len: 31, limit: 30 })
        );
    }

    #[test]
    fn split_in_half_keeps_every_log_in_order() {
        let logs: Vec<Vec<u8>> = (0..5).map(|i| log_of(i, 15)).collect();
        let batch = IntakeBatch::from_logs(logs.iter().map(Vec::as_slice));
        let (a, b) = batch.split_in_half();
        assert_eq!((a.len(), b.len()), (2, 3));
        let joined: Vec<&[u8]> = a.logs().chain(b.logs()).collect();
        assert_eq!(joined, logs.iter().map(Vec::as_slice).collect::<Vec<_>>());
        serde_json::from_slice::<serde_json::Value>(a.body()).unwrap();
    }

    proptest! {
        #[test]
        fn every_log_once_in_order_within_limits(
            sizes in proptest::collection::vec(12usize..200, 0..300),
            max_entries in 1usize..20,
            max_body in 250usize..1200,
        ) {
            let limits = BatchLimits { max_entries, max_body_bytes: max_body, max_log_bytes: 200 };
            let logs: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, s)| log_of(i, *s)).collect();
            let mut b = Batcher::new(limits);
            for log in &logs {
                b.push(log).unwrap();
            }
            let batches = b.finish();
            let mut seen = Vec::new();
            for batch in &batches {
                prop_assert!(!batch.is_empty());
                prop_assert!(batch.len() <= max_entries);
                prop_assert!(batch.body().len() <= max_body);
                let parsed: Vec<serde_json::Value> = serde_json::from_slice(batch.body()).unwrap();
                prop_assert_eq!(parsed.len(), batch.len());
                seen.extend(batch.logs().map(<[u8]>::to_vec));
            }
            prop_assert_eq!(seen, logs);
        }
    }
}
