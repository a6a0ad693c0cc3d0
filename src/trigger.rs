//! Which kind of Lambda event this is.
//!
//! CloudWatch Logs subscription events (`{"awslogs":{"data":"..."}}`) and
//! the scheduled replay event (`{"retry":"true"}`) are handled; anything else
//! is refused with an error that says what was found, so a misrouted trigger
//! shows up as a failed invocation instead of silence.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::decode::DecodeError;

/// The event, recognised.
#[derive(Debug)]
pub enum Trigger {
    /// A CloudWatch Logs subscription delivery: base64 of gzip of JSON.
    CloudWatchLogs { data: String },
    /// `{"retry":"true"}`: only replay what is kept in S3.
    Replay,
}

#[derive(Deserialize)]
struct AwsLogsEvent {
    awslogs: AwsLogsData,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayEvent {
    retry: String,
}

#[derive(Deserialize)]
struct AwsLogsData {
    data: String,
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
    if serde_json::from_str::<ReplayEvent>(event.get()).is_ok_and(|e| e.retry == "true") {
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
        assert!(matches!(
            classify_event(&raw(r#"{"retry":"true"}"#)),
            Ok(Trigger::Replay)
        ));
        assert!(classify_event(&raw(r#"{"retry":"false"}"#)).is_err());
        assert!(classify_event(&raw(r#"{"retry":"true","x":1}"#)).is_err());
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
