use super::*;
use crate::ship::LastFailure;

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
    let raw = RawValue::from_string(r#"{"ddtags":"a:1","m":1,"ddtags":"b:2"}"#.to_owned()).unwrap();
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
