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

use super::reason::{FailureCause, SpillKind, SpillReason};
use super::retry_tag::tag_retry;
use crate::aws::s3_call_until;
use crate::batch::IntakeBatch;
use crate::limits;

/// Most characters of an S3 error kept in a message.
const MAX_ERROR_CHARS: usize = 300;
/// Most bytes of the intake's answer kept in a dead letter's metadata
/// (S3 allows 2 KB of user metadata in all).
const MAX_ANSWER_METADATA: usize = 1_024;

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
mod tests;
