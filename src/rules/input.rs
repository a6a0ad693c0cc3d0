//! The logs a replay reads: local files or `s3://bucket/prefix`, each
//! streamed as top-level JSON values (gzip or not), whatever their kind:
//!
//! - a Lambda event of a CloudWatch Logs subscription (`awslogs.data`) or
//!   of a Kinesis batch (`Records[].kinesis.data`);
//! - a CloudWatch Logs document (`logEvents`), as Firehose writes them;
//! - a Datadog log object (`message` with `ddsource`), as `invoke
//!   --dry-run` prints them;
//! - an audit event, one per line.
//!
//! Each event becomes a [`LogEvent`] with the source, service, host and
//! tags this forwarder would give its log (`DD_TAGS`, `DD_SOURCE` and the
//! other shaping settings apply), and its time: the CloudWatch timestamp,
//! the log object's `timestamp`, or else the audit event's
//! `stageTimestamp` (then `requestReceivedTimestamp`), as the S3 trigger
//! dates audit lines.

use std::borrow::Cow;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use thiserror::Error;

use super::engine::LogEvent;
use crate::calendar::rfc3339_millis;
use crate::decode::{DecodeError, SubscriptionDocument, decompress_payload, parse_document};
use crate::s3_object::{ObjectError, ObjectReader};
use crate::shape::{EventKey, LogOrigin, LogShaper};

/// How long reading one S3 object may take.
const OBJECT_READ_TIME: std::time::Duration = std::time::Duration::from_secs(900);

/// Where logs are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Input {
    /// `s3://bucket/prefix` (the prefix may be empty), or a local path.
    pub fn parse(arg: &str) -> Result<Self, InputError> {
        match arg.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(InputError::BadS3Url(arg.to_owned()));
                }
                Ok(Input::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                })
            }
            None => Ok(Input::Local(PathBuf::from(arg))),
        }
    }

    pub fn is_s3(&self) -> bool {
        matches!(self, Input::S3 { .. })
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Local(path) => write!(f, "{}", path.display()),
            Input::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Why an input could not be read. Messages name the input and where in
/// it, never a log's content.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("{0:?} is not an S3 URL: write s3://bucket/prefix")]
    BadS3Url(String),
    #[error("{path}: cannot read it: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{input}: {source}")]
    Read { input: String, source: ObjectError },
    #[error("{input}: the value at byte {offset} is not JSON")]
    NotJson { input: String, offset: u64 },
    #[error("{input}: the value at byte {offset}: {source}")]
    Decode {
        input: String,
        offset: u64,
        source: DecodeError,
    },
    #[error(
        "{input}: the value at byte {offset} is an S3 event notification; read the objects it names with s3://bucket/prefix"
    )]
    S3Notification { input: String, offset: u64 },
    #[error("{input}: no S3 client: s3:// inputs need AWS credentials")]
    NoS3Client { input: String },
    #[error("listing {input} failed: {source}")]
    List {
        input: String,
        source: Box<
            aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error>,
        >,
    },
}

/// What reading the inputs found besides events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputTally {
    pub files: u64,
    pub objects: u64,
    /// CloudWatch Logs control messages, skipped.
    pub control_messages: u64,
}

/// Reads inputs into [`LogEvent`]s.
pub struct LogReader {
    shaper: LogShaper,
    /// The header of audit events read as lines from a local file.
    lines: LogHeader,
    max_value_bytes: usize,
    pub tally: InputTally,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe<'a> {
    #[serde(borrow)]
    awslogs: Option<AwsLogs<'a>>,
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<Record<'a>>>,
    log_events: Option<IgnoredAny>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    // Raw: a field of an unexpected type must not stop the input.
    #[serde(borrow)]
    ddsource: Option<&'a RawValue>,
    #[serde(borrow)]
    service: Option<&'a RawValue>,
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(borrow)]
    ddtags: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    stage_timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    request_received_timestamp: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    #[serde(borrow)]
    kinesis: Option<KinesisData<'a>>,
    #[serde(borrow)]
    event_source: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct KinesisData<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// An audit event's own time, as the S3 trigger reads it.
fn audit_time(stage: Option<&RawValue>, received: Option<&RawValue>) -> Option<i64> {
    [stage, received].into_iter().flatten().find_map(|raw| {
        let text: Cow<'_, str> = serde_json::from_str(raw.get()).ok()?;
        rfc3339_millis(&text)
    })
}

/// The source, service, host and tags of the logs of one shape, read
/// back from a log object it writes.
struct LogHeader {
    source: String,
    service: String,
    host: String,
    tags: String,
}

impl LogHeader {
    fn of(shape: &crate::shape::DocumentShape) -> Self {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Header {
            ddsource: String,
            service: String,
            host: String,
            ddtags: String,
        }
        let mut out = Vec::new();
        let key = EventKey {
            id: "",
            timestamp: 0,
            attributes: "",
        };
        shape.write_log(key, "\"\"", None, &mut out);
        let header: Header = serde_json::from_slice(&out).unwrap_or_default();
        Self {
            source: header.ddsource,
            service: header.service,
            host: header.host,
            tags: header.ddtags,
        }
    }

    fn event(&self, time_ms: i64, audit: String) -> LogEvent {
        LogEvent {
            time_ms,
            audit,
            source: self.source.clone(),
            service: self.service.clone(),
            host: self.host.clone(),
            tags: self.tags.clone(),
        }
    }
}

impl LogReader {
    pub fn new(shaper: LogShaper, max_value_bytes: usize) -> Self {
        let lines = LogHeader::of(&shaper.for_origin(
            &LogOrigin::S3AuditLines {
                bucket: "",
                key: "",
            },
            "",
            &[],
        ));
        Self {
            shaper,
            lines,
            max_value_bytes,
            tally: InputTally::default(),
        }
    }

    /// The largest JSON value read, decompressed.
    pub fn max_value_bytes(&self) -> usize {
        self.max_value_bytes
    }

    /// One audit event (JSON text) as a log read from a local file of
    /// audit lines, dated by its own timestamps.
    pub fn audit_line(&self, audit: String) -> LogEvent {
        let time = embedded_time(&audit);
        self.lines.event(time, audit)
    }

    /// Reads every event of `input` into `sink`, in the order they are
    /// stored.
    pub async fn read(
        &mut self,
        input: &Input,
        s3: Option<&aws_sdk_s3::Client>,
        sink: &mut impl FnMut(LogEvent),
    ) -> Result<(), InputError> {
        match input {
            Input::Local(path) => {
                self.tally.files += 1;
                let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
                    .await
                    .map_err(|e| InputError::Open {
                        path: path.display().to_string(),
                        source: std::io::Error::other(e),
                    })?;
                let name = path.display().to_string();
                let reader = ObjectReader::from_body("", &name, body, self.max_value_bytes);
                self.read_values(
                    &name,
                    reader,
                    LogOrigin::S3AuditLines {
                        bucket: "",
                        key: &name,
                    },
                    sink,
                )
                .await
            }
            Input::S3 { bucket, prefix } => {
                let s3 = s3.ok_or_else(|| InputError::NoS3Client {
                    input: input.to_string(),
                })?;
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                let mut keys = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|source| InputError::List {
                        input: input.to_string(),
                        source: Box::new(source),
                    })?;
                    keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(str::to_owned)),
                    );
                }
                for key in keys {
                    self.tally.objects += 1;
                    let name = format!("s3://{bucket}/{key}");
                    let read_by = tokio::time::Instant::now() + OBJECT_READ_TIME;
                    let reader =
                        ObjectReader::open(s3, bucket, &key, self.max_value_bytes, read_by)
                            .await
                            .map_err(|source| InputError::Read {
                                input: name.clone(),
                                source,
                            })?;
                    self.read_values(
                        &name,
                        reader,
                        LogOrigin::S3AuditLines { bucket, key: &key },
                        sink,
                    )
                    .await?;
                }
                Ok(())
            }
        }
    }

    async fn read_values(
        &mut self,
        name: &str,
        mut reader: ObjectReader,
        lines_origin: LogOrigin<'_>,
        sink: &mut impl FnMut(LogEvent),
    ) -> Result<(), InputError> {
        let lines = LogHeader::of(&self.shaper.for_origin(&lines_origin, "", &[]));
        loop {
            let next = reader
                .next_value()
                .await
                .map_err(|source| InputError::Read {
                    input: name.to_owned(),
                    source,
                })?;
            let Some((offset, value)) = next else {
                return Ok(());
            };
            let not_json = || InputError::NotJson {
                input: name.to_owned(),
                offset,
            };
            let text = std::str::from_utf8(value).map_err(|_| not_json())?;
            let probe: Probe<'_> = serde_json::from_str(text).map_err(|_| not_json())?;
            let decode_error = |source| InputError::Decode {
                input: name.to_owned(),
                offset,
                source,
            };
            if let Some(awslogs) = &probe.awslogs {
                let bytes = decompress_payload(&awslogs.data, self.max_value_bytes)
                    .map_err(decode_error)?;
                self.document(&bytes, sink).map_err(decode_error)?;
            } else if let Some(records) = &probe.records {
                for record in records {
                    match (&record.kinesis, &record.event_source) {
                        (Some(kinesis), _) => {
                            let bytes = decompress_payload(&kinesis.data, self.max_value_bytes)
                                .map_err(decode_error)?;
                            self.document(&bytes, sink).map_err(decode_error)?;
                        }
                        (None, Some(source)) if source == "aws:s3" => {
                            return Err(InputError::S3Notification {
                                input: name.to_owned(),
                                offset,
                            });
                        }
                        (None, _) => {}
                    }
                }
            } else if probe.log_events.is_some() {
                self.document(value, sink).map_err(decode_error)?;
            } else if let (Some(message), Some(source)) =
                (probe.message, probe.ddsource.and_then(text_of))
            {
                // A log object: its message is the audit event, as a
                // string (or, from other shippers, as an object).
                let audit = match serde_json::from_str::<String>(message.get()) {
                    Ok(text) => text,
                    Err(_) => message.get().to_owned(),
                };
                let time = probe
                    .timestamp
                    .and_then(|raw| raw.get().parse::<i64>().ok())
                    .unwrap_or_else(|| embedded_time(&audit));
                let text = |raw: Option<&RawValue>| raw.and_then(text_of).unwrap_or_default();
                sink(LogEvent {
                    time_ms: time,
                    audit,
                    source,
                    service: text(probe.service),
                    host: text(probe.host),
                    tags: text(probe.ddtags),
                });
            } else {
                let time = audit_time(probe.stage_timestamp, probe.request_received_timestamp)
                    .unwrap_or(0);
                sink(lines.event(time, text.to_owned()));
            }
        }
    }

    /// The events of one CloudWatch Logs document.
    fn document(
        &mut self,
        bytes: &[u8],
        sink: &mut impl FnMut(LogEvent),
    ) -> Result<(), DecodeError> {
        let doc: SubscriptionDocument<'_> = parse_document(bytes)?;
        if doc.is_control_message() {
            self.tally.control_messages += 1;
            return Ok(());
        }
        let header = LogHeader::of(&self.shaper.for_origin(
            &LogOrigin::subscription(&doc),
            "",
            &[],
        ));
        for event in &doc.log_events {
            let raw = event.message.get();
            let audit = serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned());
            sink(header.event(event.timestamp, audit));
        }
        Ok(())
    }
}

/// A JSON string's text; `None` for any other value.
fn text_of(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// The time an audit event carries, or 0 (the start of the replay).
fn embedded_time(audit: &str) -> i64 {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Times<'a> {
        #[serde(borrow)]
        stage_timestamp: Option<&'a RawValue>,
        #[serde(borrow)]
        request_received_timestamp: Option<&'a RawValue>,
    }
    serde_json::from_str::<Times<'_>>(audit)
        .ok()
        .and_then(|t| audit_time(t.stage_timestamp, t.request_received_timestamp))
        .unwrap_or(0)
}
