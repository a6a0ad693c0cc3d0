//! Reading an S3 object of audit logs as a stream of JSON values.
//!
//! The objects are what Firehose writes from a CloudWatch Logs stream
//! (subscription documents back to back, gzip members or plain) or JSON
//! lines of audit events, gzip or not. The body is read chunk by chunk,
//! inflated a few kilobytes at a time and cut into top-level JSON objects,
//! so memory holds one value and a chunk, not the object: an object of
//! hundreds of megabytes costs what its largest document costs.

use std::io::Write;
use std::ops::Range;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::{ByteStream, ByteStreamError};
use bytes::Bytes;
use flate2::write::MultiGzDecoder;
use thiserror::Error;
use tokio::time::Instant;

use crate::decode::DecodeError;
use crate::limits;

/// Why an object could not be read. Messages name the object and the
/// offset (in the decompressed bytes), never its content.
#[derive(Debug, Error)]
pub enum ObjectError {
    #[error(
        "reading s3://{bucket}/{key} failed: {}: {}",
        .source.code().unwrap_or("none"),
        DisplayErrorContext(.source.as_ref())
    )]
    Get {
        bucket: String,
        key: String,
        /// Boxed: the SDK's error is large, and every `Result` of the
        /// forwarder carries this one.
        source: Box<SdkError<GetObjectError>>,
    },
    #[error(
        "reading s3://{bucket}/{key} failed: ReadBody: {}",
        DisplayErrorContext(.source)
    )]
    ReadBody {
        bucket: String,
        key: String,
        source: ByteStreamError,
    },
    #[error(
        "reading s3://{bucket}/{key} did not finish before the invocation's deadline; Lambda will retry the event"
    )]
    Deadline { bucket: String, key: String },
    #[error("s3://{bucket}/{key} is not gzip data or JSON from byte {offset}: {source}")]
    Gzip {
        bucket: String,
        key: String,
        offset: u64,
        source: std::io::Error,
    },
    #[error(
        "s3://{bucket}/{key} holds something other than JSON objects at byte {offset} (expected CloudWatch Logs documents or JSON lines of audit events)"
    )]
    NotObjects {
        bucket: String,
        key: String,
        offset: u64,
    },
    #[error("s3://{bucket}/{key} ends inside a JSON value that starts at byte {offset}")]
    Truncated {
        bucket: String,
        key: String,
        offset: u64,
    },
    #[error(
        "s3://{bucket}/{key} holds a JSON value over {limit} bytes at byte {offset} (DD_MAX_DECOMPRESSED_BYTES); refused"
    )]
    ValueTooLarge {
        bucket: String,
        key: String,
        offset: u64,
        limit: usize,
    },
    #[error("s3://{bucket}/{key}: the value at byte {offset} is not usable: {source}")]
    Value {
        bucket: String,
        key: String,
        offset: u64,
        source: ValueError,
    },
}

impl ObjectError {
    /// An error about the value at `offset` of `s3://bucket/key`.
    pub fn value(bucket: &str, key: &str, offset: u64, source: ValueError) -> Self {
        ObjectError::Value {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            offset,
            source,
        }
    }
}

/// Why one value of an object cannot be forwarded.
#[derive(Debug, Error)]
pub enum ValueError {
    #[error("it is not UTF-8")]
    NotUtf8 { source: std::str::Utf8Error },
    /// Only the column: serde_json's message can quote the value.
    #[error("not valid JSON (at {column} of the value)")]
    NotJson { column: usize },
    /// A CloudWatch Logs document that does not decode.
    #[error(transparent)]
    Document(#[from] DecodeError),
}

/// Finds where each top-level JSON object ends in a growing buffer,
/// remembering its place between calls so no byte is scanned twice.
/// Values may be separated by whitespace (JSON lines) or by nothing
/// (Firehose's concatenated documents).
#[derive(Debug, Default)]
pub struct ValueSplitter {
    /// Next byte to look at.
    pos: usize,
    /// Start of the value being scanned, if one has begun.
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What the splitter saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Split {
    /// A complete value.
    Value(Range<usize>),
    /// More bytes are needed.
    Incomplete,
    /// A byte that cannot start a JSON object, at this position.
    NotObject(usize),
}

impl ValueSplitter {
    pub fn scan(&mut self, buf: &[u8]) -> Split {
        while self.pos < buf.len() {
            let b = buf[self.pos];
            self.pos += 1;
            let Some(start) = self.start else {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'{' => {
                        self.start = Some(self.pos - 1);
                        self.depth = 1;
                        continue;
                    }
                    _ => return Split::NotObject(self.pos - 1),
                }
            };
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.start = None;
                        return Split::Value(start..self.pos);
                    }
                }
                _ => {}
            }
        }
        Split::Incomplete
    }

    /// Where the unfinished value begins (or the scan position, between
    /// values): bytes before it are no longer needed.
    pub fn keep_from(&self) -> usize {
        self.start.unwrap_or(self.pos)
    }

    /// The buffer lost its first `n` bytes.
    pub fn shift(&mut self, n: usize) {
        self.pos -= n;
        if let Some(start) = &mut self.start {
            *start -= n;
        }
    }

    /// A value has begun and not ended.
    pub fn in_value(&self) -> bool {
        self.start.is_some()
    }
}

/// An object being read.
pub struct ObjectReader {
    bucket: String,
    key: String,
    body: ByteStream,
    /// Compressed (or plain) bytes received and not yet fed on.
    pending: Bytes,
    /// `None` until the first bytes tell whether the object is gzip.
    gzip: Option<Option<MultiGzDecoder<Vec<u8>>>>,
    /// Decompressed bytes from the start of the unfinished value on.
    buf: Vec<u8>,
    /// Offset of `buf[0]` in the decompressed object.
    base: u64,
    splitter: ValueSplitter,
    max_value_bytes: usize,
    /// The body has ended.
    done: bool,
    /// The decompressor was told the input ended.
    finished: bool,
    /// Reading must be over by then (the invocation's deadline, less the
    /// time to report), so a stalled body fails the invocation in time.
    read_by: Option<Instant>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ObjectReader {
    /// Starts reading `s3://bucket/key`; the request and every read of
    /// the body end by `read_by`.
    pub async fn open(
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        max_value_bytes: usize,
        read_by: Instant,
    ) -> Result<Self, ObjectError> {
        let get = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .customize()
            .config_override(crate::aws::s3_call_until(read_by))
            .send();
        let object = tokio::time::timeout_at(read_by, get)
            .await
            .map_err(|_| ObjectError::Deadline {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })?
            .map_err(|source| ObjectError::Get {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                source: Box::new(source),
            })?;
        let mut reader = Self::from_body(bucket, key, object.body, max_value_bytes);
        reader.read_by = Some(read_by);
        Ok(reader)
    }

    pub fn from_body(bucket: &str, key: &str, body: ByteStream, max_value_bytes: usize) -> Self {
        Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            body,
            pending: Bytes::new(),
            gzip: None,
            buf: Vec::new(),
            base: 0,
            splitter: ValueSplitter::default(),
            max_value_bytes,
            done: false,
            finished: false,
            read_by: None,
        }
    }

    /// The next top-level JSON object and its offset in the decompressed
    /// object, or `None` at the end.
    pub async fn next_value(&mut self) -> Result<Option<(u64, &[u8])>, ObjectError> {
        loop {
            match self.splitter.scan(&self.buf) {
                Split::Value(range) => {
                    let offset = self.base + range.start as u64;
                    if range.len() > self.max_value_bytes {
                        return Err(ObjectError::ValueTooLarge {
                            bucket: self.bucket.clone(),
                            key: self.key.clone(),
                            offset,
                            limit: self.max_value_bytes,
                        });
                    }
                    return Ok(Some((offset, &self.buf[range])));
                }
                Split::NotObject(at) => {
                    return Err(ObjectError::NotObjects {
                        bucket: self.bucket.clone(),
                        key: self.key.clone(),
                        offset: self.base + at as u64,
                    });
                }
                Split::Incomplete => {}
            }
            // Drop what is behind the unfinished value before reading more.
            let keep = self.splitter.keep_from();
            self.buf.drain(..keep);
            self.splitter.shift(keep);
            self.base += keep as u64;
            if self.buf.len() > self.max_value_bytes {
                return Err(ObjectError::ValueTooLarge {
                    bucket: self.bucket.clone(),
                    key: self.key.clone(),
                    offset: self.base,
                    limit: self.max_value_bytes,
                });
            }
            if !self.fill().await? {
                if self.splitter.in_value() {
                    return Err(ObjectError::Truncated {
                        bucket: self.bucket.clone(),
                        key: self.key.clone(),
                        offset: self.base,
                    });
                }
                return Ok(None);
            }
        }
    }

    /// Adds at most one feed of decompressed bytes to `buf`; `false` at
    /// the end of the object.
    async fn fill(&mut self) -> Result<bool, ObjectError> {
        while self.pending.is_empty() || (self.gzip.is_none() && self.pending.len() < 2) {
            if self.done {
                break;
            }
            let next = match self.read_by {
                Some(at) => tokio::time::timeout_at(at, self.body.next())
                    .await
                    .map_err(|_| ObjectError::Deadline {
                        bucket: self.bucket.clone(),
                        key: self.key.clone(),
                    })?,
                None => self.body.next().await,
            };
            match next {
                Some(Ok(chunk)) => {
                    if self.pending.is_empty() {
                        self.pending = chunk;
                    } else {
                        let mut joined = Vec::with_capacity(self.pending.len() + chunk.len());
                        joined.extend_from_slice(&self.pending);
                        joined.extend_from_slice(&chunk);
                        self.pending = Bytes::from(joined);
                    }
                }
                Some(Err(source)) => {
                    return Err(ObjectError::ReadBody {
                        bucket: self.bucket.clone(),
                        key: self.key.clone(),
                        source,
                    });
                }
                None => self.done = true,
            }
        }
        let gzip = self
            .gzip
            .get_or_insert_with(|| match self.pending.get(..2) {
                Some([0x1f, 0x8b]) => Some(MultiGzDecoder::new(Vec::new())),
                _ => None,
            });
        let input = if self.pending.is_empty() {
            // The end of the object: once more to the decompressor, which
            // fails here on a stream cut short.
            if gzip.is_none() || self.finished {
                return Ok(false);
            }
            self.finished = true;
            None
        } else {
            Some(
                self.pending
                    .split_to(self.pending.len().min(limits::S3_FEED_BYTES)),
            )
        };
        let before = self.buf.len();
        inflate(gzip.as_mut(), input.as_deref(), &mut self.buf).map_err(|source| {
            ObjectError::Gzip {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                offset: self.base + before as u64,
                source,
            }
        })?;
        Ok(input.is_some() || self.buf.len() > before)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// An error about the value at `offset`.
    pub fn value_error(&self, offset: u64, source: ValueError) -> ObjectError {
        ObjectError::value(&self.bucket, &self.key, offset, source)
    }
}

/// Appends what `input` inflates to (or, for a plain object, `input`
/// itself) to `out`; `None` ends the compressed stream.
fn inflate(
    decoder: Option<&mut MultiGzDecoder<Vec<u8>>>,
    input: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let Some(decoder) = decoder else {
        out.extend_from_slice(input.unwrap_or_default());
        return Ok(());
    };
    match input {
        Some(bytes) => {
            decoder.write_all(bytes)?;
            decoder.flush()?;
        }
        None => decoder.try_finish()?,
    }
    let inflated = decoder.get_mut();
    out.extend_from_slice(inflated);
    inflated.clear();
    Ok(())
}

#[cfg(test)]
mod tests;
