//! The S3 bucket that keeps what the intake would not take.
//!
//! Objects are gzip-compressed JSON arrays of the exact log objects (a
//! batch's body), under
//! `failed_events/<function>/<yyyy>/<mm>/<dd>/<epoch ms>-<request id>-<n>.json.gz`
//! for logs worth sending again, and the same under `dead_letter/` for logs
//! the intake rejected as malformed. The date path and the zero-padded
//! milliseconds make S3's lexicographic listing oldest first.
//!
//! An object is deleted only after every log in it was accepted, or after
//! what still failed was written back as a new object: a crash in between
//! leaves duplicates, never a gap.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::copy_object::CopyObjectError;
use aws_sdk_s3::operation::delete_object::DeleteObjectError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::{ByteStream, ByteStreamError};
use flate2::{Compression, read::MultiGzDecoder, write::GzEncoder};
use serde_json::value::RawValue;
use thiserror::Error;
use tokio::time::Instant;

use crate::aws::s3_call_until;
use crate::batch::IntakeBatch;
use crate::limits;
use crate::ship::{LastFailure, TransportFailure};

/// Most characters of an S3 error kept in a message.
const MAX_ERROR_CHARS: usize = 300;
/// Most bytes of the intake's answer kept in a dead letter's metadata
/// (S3 allows 2 KB of user metadata in all).
const MAX_ANSWER_METADATA: usize = 1_024;

/// Where in the bucket a batch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpillKind {
    /// Worth sending again: replayed automatically.
    Failed,
    /// Rejected by the intake as malformed: kept for a person, not replayed.
    DeadLetter,
}

impl SpillKind {
    fn prefix(self) -> &'static str {
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

#[derive(Debug, Error)]
pub enum SpillError {
    #[error("S3 {operation} of s3://{bucket}/{key} failed: {source}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        /// Boxed: the SDK's errors are a few hundred bytes each.
        source: Box<S3Failure>,
    },
    #[error("S3 {operation} on bucket {bucket} did not finish before the Lambda deadline")]
    Deadline {
        operation: &'static str,
        bucket: String,
    },
    /// Another invocation replayed and deleted it first.
    #[error("stored object {key} is gone (replayed by another invocation)")]
    Gone { key: String },
    #[error("stored object s3://{bucket}/{key} is not a gzip JSON array of log objects: {source}")]
    Corrupt {
        bucket: String,
        key: String,
        source: CorruptObject,
    },
}

/// The SDK's error of a failed S3 call. The text is the service's code and
/// message (or, without a code, the error and its causes), at most
/// `MAX_ERROR_CHARS` of it.
#[derive(Debug, Error)]
pub enum S3Failure {
    #[error("{}", sdk_detail(.0))]
    PutObject(#[from] SdkError<PutObjectError>),
    #[error("{}", sdk_detail(.0))]
    ListObjectsV2(#[from] SdkError<ListObjectsV2Error>),
    #[error("{}", sdk_detail(.0))]
    GetObject(#[from] SdkError<GetObjectError>),
    /// Reading the body of a GetObject answer.
    #[error("{}", truncate(&.0.to_string()))]
    ReadBody(#[from] ByteStreamError),
    #[error("{}", sdk_detail(.0))]
    CopyObject(#[from] SdkError<CopyObjectError>),
    #[error("{}", sdk_detail(.0))]
    DeleteObject(#[from] SdkError<DeleteObjectError>),
}

fn sdk_detail<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    let detail = match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
        None => DisplayErrorContext(e).to_string(),
    };
    truncate(&detail)
}

/// What is wrong with a stored object that cannot be replayed.
#[derive(Debug, Error)]
pub enum CorruptObject {
    #[error("larger than the {limit} bytes of any object the forwarder writes")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Gzip(std::io::Error),
    /// Only where: serde_json's message can quote a value of the object.
    #[error("at line {line} column {column}")]
    NotJsonArray { line: usize, column: usize },
}

/// The bucket that keeps failed logs.
#[derive(Debug, Clone)]
pub struct SpillStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
    function_name: String,
    writes: Arc<AtomicUsize>,
}

impl SpillStore {
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        function_name: impl Into<String>,
    ) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
            function_name: function_name.into(),
            writes: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `failed_events/<function>/` or `dead_letter/<function>/`.
    pub fn prefix(&self, kind: SpillKind) -> String {
        format!("{}/{}/", kind.prefix(), self.function_name)
    }

    /// A key no other write can have: the time, the request id (unique
    /// across instances) and a counter of this process (unique across the
    /// writes of one invocation, and of one warm instance).
    fn object_key(&self, kind: SpillKind, now: SystemTime, request_id: &str) -> String {
        let seq = self.writes.fetch_add(1, Ordering::Relaxed);
        let ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let (y, m, d) = crate::calendar::civil_date((ms / 86_400_000) as i64);
        let request: String = request_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        format!(
            "{}{y:04}/{m:02}/{d:02}/{ms:013}-{request}-{seq:03}.json.gz",
            self.prefix(kind)
        )
    }

    /// Writes `batch` as one object; returns its key.
    pub async fn store(
        &self,
        kind: SpillKind,
        batch: &IntakeBatch,
        reason: &SpillReason,
        request_id: &str,
        deadline: Instant,
    ) -> Result<String, SpillError> {
        let key = self.object_key(kind, SystemTime::now(), request_id);
        self.put_batch(key, batch, reason, deadline).await
    }

    /// Writes the values of stored object `source_key` that are not log
    /// objects as a dead letter whose key follows from the source's, so a
    /// replay that runs again (the source not deleted yet) overwrites it
    /// instead of adding a copy.
    pub async fn store_unreadable(
        &self,
        source_key: &str,
        batch: &IntakeBatch,
        deadline: Instant,
    ) -> Result<String, SpillError> {
        let reason = SpillReason {
            last_error: FailureCause::UnreadableStored,
            attempts: 0,
            answer: None,
        };
        let name = source_key.rsplit('/').next().unwrap_or(source_key);
        let stem = name.strip_suffix(".json.gz").unwrap_or(name);
        let key = format!(
            "{}unreadable/{stem}-values.json.gz",
            self.prefix(SpillKind::DeadLetter)
        );
        self.put_batch(key, batch, &reason, deadline).await
    }

    async fn put_batch(
        &self,
        key: String,
        batch: &IntakeBatch,
        reason: &SpillReason,
        deadline: Instant,
    ) -> Result<String, SpillError> {
        if Instant::now() >= deadline {
            return Err(SpillError::Deadline {
                operation: "PutObject",
                bucket: self.bucket.clone(),
            });
        }
        // Level 1: this runs in the last seconds before the deadline, on a
        // fraction of a vCPU; a few per cent more bytes in S3 cost nothing.
        let mut gz = GzEncoder::new(
            Vec::with_capacity(batch.body().len() / 4 + 64),
            Compression::fast(),
        );
        gz.write_all(batch.body())
            .expect("gzip into a Vec cannot fail");
        let body = gz.finish().expect("gzip into a Vec cannot fail");
        let mut put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .content_encoding("gzip")
            .body(ByteStream::from(body))
            .metadata("log-count", batch.len().to_string())
            .metadata(
                "last-error",
                metadata_value(&reason.last_error.to_string(), 128),
            )
            .metadata("attempts", reason.attempts.to_string());
        if let Some(answer) = &reason.answer {
            put = put.metadata("intake-answer", metadata_value(answer, MAX_ANSWER_METADATA));
        }
        let put = put.customize().config_override(s3_call_until(deadline));
        self.bounded("PutObject", deadline, put.send())
            .await?
            .map_err(|e| self.s3_error("PutObject", &key, e))?;
        Ok(key)
    }

    /// Up to `max` keys of stored failed logs, oldest first.
    pub async fn list_failed(
        &self,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<String>, SpillError> {
        let prefix = self.prefix(SpillKind::Failed);
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        while keys.len() < max {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .max_keys((max - keys.len()).min(1_000) as i32)
                .set_continuation_token(token.take())
                .customize()
                .config_override(s3_call_until(deadline));
            let page = self
                .bounded("ListObjectsV2", deadline, page.send())
                .await?
                .map_err(|e| self.s3_error("ListObjectsV2", &prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        keys.truncate(max);
        Ok(keys)
    }

    /// The log objects of a stored batch, each tagged `retry:true`, read
    /// log by log: the array is split into raw values without decoding
    /// their strings, so a log serde_json cannot decode (a lone surrogate
    /// escape, say) goes out as stored, and a value that is not a log object
    /// is set aside alone, instead of either making the whole object
    /// unreadable. An object larger than any the forwarder writes is
    /// refused before it is read whole.
    pub async fn load(&self, key: &str, deadline: Instant) -> Result<StoredLogs, SpillError> {
        let get = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .customize()
            .config_override(s3_call_until(deadline));
        let object = self
            .bounded("GetObject", deadline, get.send())
            .await?
            .map_err(|e| match e.as_service_error() {
                Some(err) if err.is_no_such_key() => SpillError::Gone {
                    key: key.to_owned(),
                },
                _ => self.s3_error("GetObject", key, e),
            })?;
        let corrupt = |source: CorruptObject| SpillError::Corrupt {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source,
        };
        let too_large = || {
            corrupt(CorruptObject::TooLarge {
                limit: limits::MAX_STORED_OBJECT_BYTES,
            })
        };
        if object
            .content_length()
            .is_some_and(|n| n as u64 > limits::MAX_STORED_OBJECT_BYTES as u64)
        {
            return Err(too_large());
        }
        let bytes = self
            .bounded("GetObject", deadline, object.body.collect())
            .await?
            .map_err(|e| self.s3_error("GetObject", key, e))?
            .into_bytes();
        let mut json = Vec::new();
        MultiGzDecoder::new(&bytes[..])
            .take(limits::MAX_STORED_OBJECT_BYTES as u64 + 1)
            .read_to_end(&mut json)
            .map_err(|e| corrupt(CorruptObject::Gzip(e)))?;
        if json.len() > limits::MAX_STORED_OBJECT_BYTES {
            return Err(too_large());
        }
        let values: Vec<&RawValue> = serde_json::from_slice(&json).map_err(|e| {
            corrupt(CorruptObject::NotJsonArray {
                line: e.line(),
                column: e.column(),
            })
        })?;
        let mut stored = StoredLogs::default();
        for value in values {
            match tag_retry(value) {
                Some(log) => stored.logs.push(log),
                None => stored.unreadable.push(value.get().as_bytes().to_vec()),
            }
        }
        Ok(stored)
    }

    /// Moves an object that cannot be replayed under `dead_letter/`, so it
    /// stops blocking replay and stays where a person can find it.
    pub async fn move_to_dead_letter(
        &self,
        key: &str,
        deadline: Instant,
    ) -> Result<String, SpillError> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let target = format!("{}unreadable/{name}", self.prefix(SpillKind::DeadLetter));
        let copy = self
            .s3
            .copy_object()
            .bucket(&self.bucket)
            .key(&target)
            .copy_source(format!("{}/{key}", self.bucket))
            .customize()
            .config_override(s3_call_until(deadline));
        self.bounded("CopyObject", deadline, copy.send())
            .await?
            .map_err(|e| self.s3_error("CopyObject", key, e))?;
        self.delete(key, deadline).await?;
        Ok(target)
    }

    pub async fn delete(&self, key: &str, deadline: Instant) -> Result<(), SpillError> {
        let delete = self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .customize()
            .config_override(s3_call_until(deadline));
        self.bounded("DeleteObject", deadline, delete.send())
            .await?
            .map_err(|e| self.s3_error("DeleteObject", key, e))?;
        Ok(())
    }

    /// The SDK's own timeouts end a call by `deadline`; this is the guard
    /// for what they do not cover (a streamed body).
    async fn bounded<F: Future>(
        &self,
        operation: &'static str,
        deadline: Instant,
        f: F,
    ) -> Result<F::Output, SpillError> {
        tokio::time::timeout_at(deadline, f)
            .await
            .map_err(|_| SpillError::Deadline {
                operation,
                bucket: self.bucket.clone(),
            })
    }

    fn s3_error(
        &self,
        operation: &'static str,
        key: &str,
        failure: impl Into<S3Failure>,
    ) -> SpillError {
        SpillError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source: Box::new(failure.into()),
        }
    }
}

/// The logs of a stored object.
#[derive(Debug, Default)]
pub struct StoredLogs {
    /// Ready to send again.
    pub logs: Vec<Vec<u8>>,
    /// Values that are not a log object with readable member names: kept
    /// as they are, for a dead letter of their own.
    pub unreadable: Vec<Vec<u8>>,
}

/// Adds `retry:true` to a replayed log's `ddtags`, once. Member values stay
/// raw, so whatever their strings hold goes out as it was stored, in the
/// same order. `None` for a value that is not an object with readable
/// member names.
fn tag_retry(log: &RawValue) -> Option<Vec<u8>> {
    let Members(mut members) = serde_json::from_str(log.get()).ok()?;
    // With a duplicate `ddtags`, parsers keep the last: that one is tagged
    // and the others dropped.
    let tags_at = members.iter().rposition(|(k, _)| k == "ddtags");
    if let Some(last) = tags_at {
        let mut i = 0;
        members.retain(|(k, _)| {
            i += 1;
            k != "ddtags" || i - 1 == last
        });
    }
    let tags_at = members.iter().position(|(k, _)| k == "ddtags");
    let tags = match tags_at.map(|i| serde_json::from_str::<String>(members[i].1.get())) {
        Some(Ok(t)) if t.split(',').any(|t| t == "retry:true") => t,
        Some(Ok(t)) if t.is_empty() => "retry:true".to_owned(),
        None => "retry:true".to_owned(),
        Some(Ok(t)) => format!("{t},retry:true"),
        // Tags that do not decode as a string (a lone surrogate; a number,
        // which the forwarder never writes): the log goes as stored,
        // untagged, rather than not at all.
        Some(Err(_)) => return Some(log.get().as_bytes().to_vec()),
    };
    let tags = serde_json::value::to_raw_value(&tags).ok()?;
    match tags_at {
        Some(i) => members[i].1 = tags,
        None => members.push(("ddtags".to_owned(), tags)),
    }
    let mut out = Vec::with_capacity(log.get().len() + 16);
    out.push(b'{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name).ok()?;
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
    Some(out)
}

/// An object's members in order, values undecoded.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a log object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}

/// S3 metadata travels as HTTP headers: printable ASCII only.
fn metadata_value(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_store() -> SpillStore {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        SpillStore::new(aws_sdk_s3::Client::from_conf(config), "bucket", "fwd")
    }

    /// Regression: keys were time + request id + the index within one call,
    /// so two writes of one replay invocation in the same millisecond had
    /// the same key, and the second overwrote the first.
    #[test]
    fn keys_are_unique_within_an_invocation_and_sort_by_time() {
        let store = offline_store();
        let now = UNIX_EPOCH + std::time::Duration::from_millis(1_795_687_200_123);
        let a = store.object_key(SpillKind::Failed, now, "req/1");
        let b = store.object_key(SpillKind::Failed, now, "req/1");
        assert_ne!(a, b);
        assert_eq!(
            a,
            "failed_events/fwd/2026/11/26/1795687200123-req_1-000.json.gz"
        );
        let clone = store.clone();
        assert_eq!(
            clone.object_key(SpillKind::DeadLetter, now, "req/1"),
            "dead_letter/fwd/2026/11/26/1795687200123-req_1-002.json.gz",
            "clones share the counter"
        );
    }

    fn tagged(log: &str) -> Option<serde_json::Value> {
        let raw = RawValue::from_string(log.to_owned()).unwrap();
        tag_retry(&raw).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn retry_tag_is_added_once() {
        let once = tagged(r#"{"message":"m \u00e9","ddtags":"env:prod","id":"1"}"#).unwrap();
        assert_eq!(once["ddtags"], "env:prod,retry:true");
        assert_eq!(once["message"], "m é");
        let twice = tagged(&once.to_string()).unwrap();
        assert_eq!(once, twice);
        assert_eq!(
            tagged(r#"{"message":"m"}"#).unwrap()["ddtags"],
            "retry:true"
        );
        assert_eq!(tagged(r#"{"ddtags":""}"#).unwrap()["ddtags"], "retry:true");
        let raw =
            RawValue::from_string(r#"{"ddtags":"a:1","m":1,"ddtags":"b:2"}"#.to_owned()).unwrap();
        assert_eq!(
            tag_retry(&raw).unwrap(),
            br#"{"m":1,"ddtags":"b:2,retry:true"}"#,
            "the last of duplicate tags is the one parsers keep"
        );
    }

    /// Regression: one log serde_json cannot decode made the whole stored
    /// object unreadable, and none of its logs was replayed.
    #[test]
    fn a_log_with_a_lone_surrogate_is_kept_byte_for_byte() {
        let raw = RawValue::from_string(
            r#"{"message":"{\"note\":\"\ud800\"}","ddtags":"env:prod","id":"7"}"#.to_owned(),
        )
        .unwrap();
        let out = String::from_utf8(tag_retry(&raw).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"message":"{\"note\":\"\ud800\"}","ddtags":"env:prod,retry:true","id":"7"}"#
        );
        for unreadable in [r#""a string""#, "12", r#"{"\ud800":1}"#, "[1]"] {
            let raw = RawValue::from_string(unreadable.to_owned()).unwrap();
            assert_eq!(tag_retry(&raw), None, "{unreadable}");
        }
        // Tags that do not decode: sent untagged, not dropped.
        let raw = RawValue::from_string(r#"{"ddtags":"\udc00","id":"8"}"#.to_owned()).unwrap();
        assert_eq!(tag_retry(&raw).unwrap(), br#"{"ddtags":"\udc00","id":"8"}"#);
    }

    /// The `last-error` metadata of stored objects, as it was written when
    /// it was a string: tools that read the bucket match on it.
    #[test]
    fn failure_causes_read_as_before() {
        use crate::ship::TransportFailure;
        let cases = [
            (FailureCause::Status(503), "HTTP 503"),
            (
                FailureCause::Transport(TransportFailure::Timeout),
                "timeout",
            ),
            (
                FailureCause::Transport(TransportFailure::Connect),
                "connection failed",
            ),
            (
                FailureCause::Transport(TransportFailure::Other),
                "transport error",
            ),
            (FailureCause::Deadline, "no time left before the deadline"),
            (
                FailureCause::BudgetSpent { status: 413 },
                "HTTP 413, isolation budget spent",
            ),
            (
                FailureCause::UnreadableStored,
                "unreadable in a stored object",
            ),
            (
                FailureCause::UndecodableRecord,
                "undecodable Kinesis record",
            ),
        ];
        for (cause, text) in cases {
            assert_eq!(cause.to_string(), text);
        }
        for last in [
            LastFailure::Status(429),
            LastFailure::Transport(TransportFailure::Connect),
            LastFailure::Deadline,
        ] {
            assert_eq!(FailureCause::from(last).to_string(), last.to_string());
        }
    }

    /// S3's code and message, cut to `MAX_ERROR_CHARS`; the SDK's error
    /// stays the source.
    #[test]
    fn s3_errors_say_code_and_message() {
        use aws_sdk_s3::config::http::HttpResponse;
        use aws_sdk_s3::error::ErrorMetadata;
        use aws_sdk_s3::primitives::SdkBody;
        use std::error::Error as _;
        let failure = |message: &str| {
            let meta = ErrorMetadata::builder()
                .code("NoSuchBucket")
                .message(message)
                .build();
            let answer = HttpResponse::new(404.try_into().unwrap(), SdkBody::empty());
            offline_store().s3_error(
                "PutObject",
                "failed_events/k",
                SdkError::service_error(PutObjectError::generic(meta), answer),
            )
        };
        let err = failure("The specified bucket does not exist");
        assert_eq!(
            err.to_string(),
            "S3 PutObject of s3://bucket/failed_events/k failed: NoSuchBucket: The specified bucket does not exist"
        );
        let source = err.source().expect("the S3 failure");
        assert!(source.source().is_some(), "the SDK's error");
        let long = failure(&"x".repeat(1000)).to_string();
        assert!(long.ends_with(&format!("NoSuchBucket: {}", "x".repeat(286))));
        let timeout = offline_store().s3_error(
            "DeleteObject",
            "k",
            SdkError::<DeleteObjectError>::timeout_error("no answer"),
        );
        assert!(
            timeout.to_string().starts_with(
                "S3 DeleteObject of s3://bucket/k failed: request has timed out: no answer"
            ),
            "{timeout}"
        );
    }

    #[test]
    fn metadata_is_header_safe() {
        assert_eq!(
            metadata_value("HTTP 400: caf\u{e9}\n", 100),
            "HTTP 400: caf??"
        );
        assert_eq!(metadata_value("abcdef", 3), "abc");
    }
}
