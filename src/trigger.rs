//! Which kind of Lambda event this is.
//!
//! Four shapes are handled: a CloudWatch Logs subscription delivery
//! (`{"awslogs":{"data":"..."}}`), a Kinesis Data Streams batch whose
//! records carry subscription documents, S3 object-created notifications
//! (direct or through EventBridge) for objects holding audit logs, and the
//! scheduled replay event (`{"retry":"true"}`). Anything else is refused
//! with an error that says what was found, so a misrouted trigger shows up
//! as a failed invocation instead of silence.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::decode::DecodeError;

/// The event, recognised.
#[derive(Debug)]
pub enum Trigger {
    /// A CloudWatch Logs subscription delivery: base64 of gzip of JSON.
    CloudWatchLogs { data: String },
    /// A Kinesis batch: each record's data is what `awslogs.data` would be.
    Kinesis { records: Vec<KinesisRecord> },
    /// Objects created in S3 (records of other S3 event types are counted
    /// in `ignored` and skipped).
    S3Objects {
        objects: Vec<S3ObjectRef>,
        ignored: usize,
    },
    /// `{"retry":"true"}`: only replay what is kept in S3.
    Replay,
}

/// One Kinesis record: the sequence number names it in a partial batch
/// response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    pub sequence_number: String,
    pub data: String,
}

/// An object to read, with its key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ObjectRef {
    pub bucket: String,
    pub key: String,
}

#[derive(Deserialize)]
struct AwsLogsEvent {
    awslogs: AwsLogsData,
}

/// The replay event: `{"retry":"true"}` from our template's schedule, or
/// `{"retry": true}` from the Datadog Forwarder's, which users may keep. As
/// there, the event has this one key, and `retry` reads as `true` in any
/// case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayEvent {
    retry: ReplayFlag,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReplayFlag {
    Bool(bool),
    Text(String),
}

impl ReplayFlag {
    fn is_true(&self) -> bool {
        match self {
            ReplayFlag::Bool(b) => *b,
            ReplayFlag::Text(s) => s.eq_ignore_ascii_case("true"),
        }
    }
}

#[derive(Deserialize)]
struct AwsLogsData {
    data: String,
}

/// `Records` of a Kinesis or S3 notification event; which one is decided
/// by `eventSource`.
#[derive(Deserialize)]
struct RecordsEvent {
    #[serde(rename = "Records")]
    records: Vec<EventRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventRecord {
    #[serde(default)]
    event_source: String,
    #[serde(default)]
    event_name: String,
    kinesis: Option<KinesisPayload>,
    s3: Option<S3Entity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KinesisPayload {
    data: String,
    sequence_number: String,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
}

/// An S3 event delivered by EventBridge.
#[derive(Deserialize)]
struct EventBridgeEvent {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: S3Entity,
}

/// Most top-level key names quoted back in an error, and most characters of each.
const KEYS_SHOWN: usize = 5;
const KEY_CHARS_SHOWN: usize = 40;

/// Recognises the Lambda event. `event` is the invocation's JSON payload.
pub fn classify_event(event: &RawValue) -> Result<Trigger, DecodeError> {
    if let Ok(e) = serde_json::from_str::<AwsLogsEvent>(event.get()) {
        return Ok(Trigger::CloudWatchLogs {
            data: e.awslogs.data,
        });
    }
    if let Ok(e) = serde_json::from_str::<RecordsEvent>(event.get()) {
        return classify_records(e.records);
    }
    if let Ok(e) = serde_json::from_str::<EventBridgeEvent>(event.get())
        && e.source == "aws.s3"
    {
        // EventBridge gives the key as it is, unlike S3's own notifications.
        return Ok(match e.detail_type.as_str() {
            "Object Created" => Trigger::S3Objects {
                objects: vec![S3ObjectRef {
                    bucket: e.detail.bucket.name,
                    key: e.detail.object.key,
                }],
                ignored: 0,
            },
            _ => Trigger::S3Objects {
                objects: Vec::new(),
                ignored: 1,
            },
        });
    }
    if serde_json::from_str::<ReplayEvent>(event.get()).is_ok_and(|e| e.retry.is_true()) {
        return Ok(Trigger::Replay);
    }
    // Say what the event looks like without quoting its values: key names
    // are the event's shape, values may be anything.
    let found =
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(event.get()) {
            Ok(map) if map.contains_key("awslogs") => {
                "an `awslogs` object without a string `data` field".to_owned()
            }
            Ok(map) => {
                let keys: Vec<String> = map
                    .keys()
                    .take(KEYS_SHOWN)
                    .map(|k| k.chars().take(KEY_CHARS_SHOWN).collect())
                    .collect();
                format!("an object with keys {keys:?}")
            }
            Err(_) => match event.get().trim_start().as_bytes().first() {
                Some(b'[') => "a JSON array".to_owned(),
                Some(b'"') => "a JSON string".to_owned(),
                _ => "a JSON scalar".to_owned(),
            },
        };
    Err(DecodeError::UnknownEvent { found })
}

/// A `Records` batch: all Kinesis records, or all S3 records.
fn classify_records(records: Vec<EventRecord>) -> Result<Trigger, DecodeError> {
    let unknown = |found: String| Err(DecodeError::UnknownEvent { found });
    let Some(first) = records.first() else {
        return unknown("an empty `Records` array".to_owned());
    };
    match first.event_source.as_str() {
        "aws:kinesis" => {
            let mut out = Vec::with_capacity(records.len());
            for (index, record) in records.into_iter().enumerate() {
                match (record.event_source.as_str(), record.kinesis) {
                    ("aws:kinesis", Some(k)) => out.push(KinesisRecord {
                        sequence_number: k.sequence_number,
                        data: k.data,
                    }),
                    _ => {
                        return unknown(format!(
                            "Records[{index}] is not a Kinesis record with data and a sequence number"
                        ));
                    }
                }
            }
            Ok(Trigger::Kinesis { records: out })
        }
        "aws:s3" => {
            let (mut objects, mut ignored) = (Vec::new(), 0);
            for (index, record) in records.into_iter().enumerate() {
                match (record.event_source.as_str(), record.s3) {
                    ("aws:s3", Some(s3)) if record.event_name.starts_with("ObjectCreated:") => {
                        objects.push(S3ObjectRef {
                            bucket: s3.bucket.name,
                            key: decode_notification_key(&s3.object.key),
                        })
                    }
                    ("aws:s3", Some(_)) => ignored += 1,
                    _ => {
                        return unknown(format!(
                            "Records[{index}] is not an S3 record with a bucket and an object"
                        ));
                    }
                }
            }
            Ok(Trigger::S3Objects { objects, ignored })
        }
        other => unknown(format!(
            "`Records` from event source {:?}",
            other.chars().take(KEY_CHARS_SHOWN).collect::<String>()
        )),
    }
}

/// S3 notifications give object keys form-encoded (`+` for a space,
/// `%XX` for other bytes). A malformed escape is kept as it is.
fn decode_notification_key(key: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn recognises_awslogs() {
        let Trigger::CloudWatchLogs { data } =
            classify_event(&raw(r#"{"awslogs":{"data":"H4sI"}}"#)).unwrap()
        else {
            panic!("not recognised")
        };
        assert_eq!(data, "H4sI");
        // Issue 12 (e): the Datadog Forwarder's schedule sends a boolean.
        for replay in [
            r#"{"retry":"true"}"#,
            r#"{"retry": true}"#,
            r#"{"retry":"TRUE"}"#,
        ] {
            assert!(
                matches!(classify_event(&raw(replay)), Ok(Trigger::Replay)),
                "{replay}"
            );
        }
        for other in [
            r#"{"retry":"false"}"#,
            r#"{"retry":false}"#,
            r#"{"retry":1}"#,
            r#"{"retry":"true","x":1}"#,
        ] {
            assert!(classify_event(&raw(other)).is_err(), "{other}");
        }
    }

    #[test]
    fn recognises_kinesis_records() {
        let event = raw(
            r#"{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"p","sequenceNumber":"495","data":"H4sIAA==","approximateArrivalTimestamp":1.5},"eventSource":"aws:kinesis","eventID":"shardId-000000000000:495","eventName":"aws:kinesis:record"},{"kinesis":{"sequenceNumber":"496","data":"eA=="},"eventSource":"aws:kinesis"}]}"#,
        );
        let Trigger::Kinesis { records } = classify_event(&event).unwrap() else {
            panic!("not recognised")
        };
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].sequence_number, "495");
        assert_eq!(records[0].data, "H4sIAA==");
        let mixed = raw(
            r#"{"Records":[{"kinesis":{"sequenceNumber":"1","data":""},"eventSource":"aws:kinesis"},{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#,
        );
        let err = classify_event(&mixed).unwrap_err().to_string();
        assert!(err.contains("Records[1]"), "{err}");
    }

    #[test]
    fn recognises_s3_notifications_and_decodes_keys() {
        let event = raw(
            r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"audit/2026/a+b%3Ac%2B%C3%A9%zz.json.gz","size":10}}},{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"logs"},"object":{"key":"gone"}}}]}"#,
        );
        let Trigger::S3Objects { objects, ignored } = classify_event(&event).unwrap() else {
            panic!("not recognised")
        };
        assert_eq!(ignored, 1);
        assert_eq!(
            objects,
            vec![S3ObjectRef {
                bucket: "logs".to_owned(),
                key: "audit/2026/a b:c+é%zz.json.gz".to_owned()
            }]
        );
    }

    #[test]
    fn recognises_s3_events_from_eventbridge() {
        let event = raw(
            r#"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2026-11-26T00:00:00Z","region":"us-east-1","resources":[],"detail":{"version":"0","bucket":{"name":"logs"},"object":{"key":"a b:c.json","size":5}}}"#,
        );
        let Trigger::S3Objects { objects, ignored } = classify_event(&event).unwrap() else {
            panic!("not recognised")
        };
        assert_eq!(ignored, 0);
        assert_eq!(objects[0].key, "a b:c.json");
    }

    #[test]
    fn other_events_are_named_by_shape_not_content() {
        let err = classify_event(&raw(r#"{"Records":[{"secret":"hunter2"}]}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Records"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = classify_event(&raw(r#"{"awslogs":{"data":5}}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("without a string `data`"), "{err}");
        let err = classify_event(&raw(r#"["x"]"#)).unwrap_err().to_string();
        assert!(err.contains("array"), "{err}");
    }
}
