//! The S3 trigger: objects of audit logs, read as a stream and shipped as
//! they are read.
//!
//! Each top-level JSON object in the object is either a CloudWatch Logs
//! document (it has `logEvents`: Firehose's output), whose events get the
//! shape they would have had from the subscription, or one audit event
//! (`kubernetes.audit`). Batches are sent as soon as a few are full, so the
//! reader waits for the intake and memory stays at a few request bodies.
//!
//! A read or format error fails the invocation with the object and byte
//! offset named; Lambda's asynchronous retries then read the object again
//! from the start (what was delivered before the error is sent again).

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::calendar::rfc3339_millis;
use crate::decode::parse_document;
use crate::forward::{ForwardError, Forwarder, Invocation};
use crate::limits;
use crate::metrics::InvocationSummary;
use crate::s3_object::{ObjectError, ObjectReader, ValueError};
use crate::shape::{EventKey, LogOrigin};
use crate::trigger::S3ObjectRef;

/// The fields that tell a subscription document from an audit event, and
/// an audit event's time. Timestamps are taken raw: partial events carry
/// fields of unexpected types, and those must not stop the object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueProbe<'a> {
    log_events: Option<IgnoredAny>,
    #[serde(borrow)]
    stage_timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    request_received_timestamp: Option<&'a RawValue>,
}

impl ValueProbe<'_> {
    fn event_millis(&self) -> Option<i64> {
        [self.stage_timestamp, self.request_received_timestamp]
            .into_iter()
            .flatten()
            .find_map(|raw| {
                let text: Cow<'_, str> = serde_json::from_str(raw.get()).ok()?;
                rfc3339_millis(&text)
            })
    }
}

impl Forwarder {
    pub(super) async fn forward_objects(
        &self,
        objects: &[S3ObjectRef],
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<(), ForwardError> {
        if objects.is_empty() {
            return Ok(());
        }
        let Some(reader) = &self.s3_reader else {
            return Err(ForwardError::NoObjectReader);
        };
        let s3 = reader.get().await;
        for object in objects {
            self.forward_object(s3, object, invocation, summary).await?;
            summary.objects_read += 1;
        }
        Ok(())
    }

    async fn forward_object(
        &self,
        s3: &aws_sdk_s3::Client,
        object: &S3ObjectRef,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<(), ForwardError> {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        // Not the reader's `value_error`: the value borrows the reader.
        let value_error =
            |offset: u64, source: ValueError| ObjectError::value(bucket, key, offset, source);
        let read_by = invocation.deadline_less(limits::DEADLINE_SAFETY_MARGIN);
        let mut reader =
            ObjectReader::open(s3, bucket, key, self.max_decompressed_bytes, read_by).await?;
        let arn = &invocation.invoked_function_arn;
        let lines_shape =
            self.shaper
                .for_origin(&LogOrigin::S3AuditLines { bucket, key }, arn, &[]);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut outbox = self.outbox();
        let mut tally = super::delivery::ShipTally::default();
        while let Some((offset, value)) = reader.next_value().await? {
            let text = std::str::from_utf8(value)
                .map_err(|source| value_error(offset, ValueError::NotUtf8 { source }))?;
            let probe: ValueProbe<'_> = serde_json::from_str(text).map_err(|e| {
                let column = e.column();
                value_error(offset, ValueError::NotJson { column })
            })?;
            if probe.log_events.is_some() {
                let doc = parse_document(value).map_err(|e| value_error(offset, e.into()))?;
                if doc.is_control_message() {
                    summary.events_in += doc.log_events.len();
                    summary.control_message = true;
                    continue;
                }
                if self.passes_over(&doc.log_group) {
                    self.pass_over(&doc.log_group, invocation, summary);
                    continue;
                }
                summary.events_in += doc.log_events.len();
                let tags = self
                    .group_tags(&doc.owner, &doc.log_group, invocation, summary)
                    .await;
                let origin = LogOrigin::S3Document {
                    bucket,
                    key,
                    log_group: &doc.log_group,
                    log_stream: &doc.log_stream,
                };
                let shape = self.shaper.for_origin(&origin, arn, &tags.tags);
                outbox.push_document(&shape, &doc, invocation, summary)?;
            } else {
                summary.events_in += 1;
                // A string always serializes: the writer is a Vec.
                let message = serde_json::to_string(text).expect("a string serializes");
                // The offset names the event within the object, the same on
                // every read of it.
                let id = offset.to_string();
                let event = EventKey {
                    id: &id,
                    timestamp: probe.event_millis().unwrap_or(now_ms),
                    attributes: "",
                };
                outbox.push(&lines_shape, event, &message, invocation, summary)?;
            }
            if outbox.full_batches() >= limits::BATCHES_IN_FLIGHT {
                self.ship(outbox.take_full(), invocation, summary, &mut tally)
                    .await?;
            }
        }
        self.ship(outbox.finish(), invocation, summary, &mut tally)
            .await?;
        let kept_some = !tally.finish()?;
        tracing::info!(
            request_id = %invocation.request_id,
            bucket,
            key,
            kept_in_s3 = kept_some,
            "S3 object forwarded"
        );
        Ok(())
    }
}
