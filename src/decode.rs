//! base64 -> gunzip (capped) -> the subscription document, borrowed.
//!
//! The decompressed buffer is owned by the caller and every string of the
//! document borrows from it: each log message stays the already-escaped JSON
//! string CloudWatch delivered, and is copied once, into the request body.
//! Decompression stops at a hard cap, so a gzip bomb costs at most the cap in
//! memory and ends in an error instead of an out-of-memory kill.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;
use thiserror::Error;

/// Why a payload could not be decoded. Messages say what and where, never
/// the payload's bytes.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error(
        "the event is not one this function handles (a CloudWatch Logs subscription {{\"awslogs\":{{\"data\":\"...\"}}}}, Kinesis records, S3 object-created notifications, or {{\"retry\":\"true\"}}): found {found}"
    )]
    UnknownEvent { found: String },
    #[error("the log data is not valid base64: {source}")]
    Base64 { source: base64::DecodeError },
    #[error("the log data is not gzip data (decoded {len} bytes without the gzip magic number)")]
    NotGzip { len: usize },
    #[error("the log data holds a corrupt or truncated gzip stream: {source}")]
    Gzip { source: std::io::Error },
    #[error(
        "the log data decompresses to more than {limit} bytes (DD_MAX_DECOMPRESSED_BYTES); refused"
    )]
    TooLarge { limit: usize },
    #[error("the decompressed log data is not a CloudWatch Logs document: {source}")]
    Document { source: MaskedJsonError },
    #[error("logEvents[{index}].message is not a JSON string")]
    MessageNotString { index: usize },
}

/// What CloudWatch Logs sends to a subscription, borrowed from the
/// decompressed buffer. Unknown fields (such as `policyLevel` from
/// account-level subscriptions) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDocument<'a> {
    #[serde(borrow)]
    pub message_type: Cow<'a, str>,
    #[serde(borrow, default)]
    pub owner: Cow<'a, str>,
    #[serde(borrow, default)]
    pub log_group: Cow<'a, str>,
    #[serde(borrow, default)]
    pub log_stream: Cow<'a, str>,
    #[serde(borrow, default)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub log_events: Vec<CloudWatchLogEvent<'a>>,
}

impl SubscriptionDocument<'_> {
    /// CloudWatch's own health checks of the destination, not logs.
    pub fn is_control_message(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

/// One log event. `message` is the JSON string exactly as delivered, quotes
/// and escapes included.
#[derive(Debug, Deserialize)]
pub struct CloudWatchLogEvent<'a> {
    /// A string of digits from CloudWatch Logs; a whole number, as
    /// emulators such as moto write it, is taken as its digits.
    #[serde(borrow, deserialize_with = "event_id")]
    pub id: Cow<'a, str>,
    pub timestamp: i64,
    #[serde(borrow)]
    pub message: &'a RawValue,
}

/// An event id: a string (borrowed when it has no escape) or a whole
/// number.
fn event_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cow<'de, str>, D::Error> {
    struct EventId;
    impl<'de> serde::de::Visitor<'de> for EventId {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a whole number")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
    }
    deserializer.deserialize_any(EventId)
}

/// Decodes `awslogs.data` into the decompressed document bytes.
pub fn decompress_payload(
    data: &str,
    max_decompressed_bytes: usize,
) -> Result<Vec<u8>, DecodeError> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|source| DecodeError::Base64 { source })?;
    if gz.len() < 18 || gz[0] != 0x1f || gz[1] != 0x8b {
        return Err(DecodeError::NotGzip { len: gz.len() });
    }
    // The gzip trailer's ISIZE (size mod 2^32) is a good first guess for the
    // buffer; it is only a hint, the cap below is what bounds memory.
    let trailer = &gz[gz.len() - 4..];
    let hint = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    // What CloudWatch sends: one gzip member whose trailer gives its size.
    if hint <= max_decompressed_bytes
        && let Some(out) = inflate_one_member(&gz, hint)
    {
        return Ok(out);
    }
    // Anything else (several members, a trailer that lies, corruption)
    // goes through the streaming decoder, which caps what it inflates and
    // names what is wrong.
    let mut out = Vec::with_capacity(hint.min(max_decompressed_bytes) + 1);
    let cap = max_decompressed_bytes as u64 + 1;
    MultiGzDecoder::new(gz.as_slice())
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|source| DecodeError::Gzip { source })?;
    if out.len() > max_decompressed_bytes {
        return Err(DecodeError::TooLarge {
            limit: max_decompressed_bytes,
        });
    }
    Ok(out)
}

/// libdeflate's whole-buffer inflate, about twice as fast as streaming:
/// `gz` inflated into exactly `size` bytes, when it is one gzip member of
/// that size that takes all of `gz`. `None` otherwise.
fn inflate_one_member(gz: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(size);
    let (mut read, mut written) = (0usize, 0usize);
    // SAFETY: the decompressor is checked for null and freed below; the
    // input pointer and length come from one slice; the output pointer and
    // length are the vector's spare capacity, which libdeflate only writes
    // into, never reads, and `written` (at most `size`) says how much it
    // wrote, so only written bytes become part of the vector.
    let result = unsafe {
        let decompressor = libdeflate_sys::libdeflate_alloc_decompressor();
        if decompressor.is_null() {
            return None;
        }
        let result = libdeflate_sys::libdeflate_gzip_decompress_ex(
            decompressor,
            gz.as_ptr().cast(),
            gz.len(),
            out.as_mut_ptr().cast(),
            size,
            &mut read,
            &mut written,
        );
        libdeflate_sys::libdeflate_free_decompressor(decompressor);
        if result == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS && written <= size {
            out.set_len(written);
        }
        result
    };
    let whole = result == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS
        && read == gz.len()
        && written == size;
    whole.then_some(out)
}

/// Base64 characters of a payload read to find its header: 3 KB of gzip,
/// which inflates to more than a header of the longest log group name
/// (512 characters) needs.
const PEEK_BASE64_CHARS: usize = 4096;
/// Inflated bytes the header is looked for in.
const PEEK_BYTES: usize = 2048;

/// The fields of a subscription document that say whether to forward it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentHeader {
    pub message_type: String,
    pub log_group: String,
}

/// `messageType` and `logGroup` of a subscription payload, read from its
/// first few kilobytes without inflating the rest. CloudWatch Logs writes
/// them first, before `logStream`, `subscriptionFilters` and `logEvents`;
/// `None` when the start of the payload does not show both (another order,
/// a key written twice, a payload that is not gzip), and the caller decodes
/// the whole document instead. So a document is passed over on this
/// reading only when its own first fields name the group.
pub fn peek_header(data: &str) -> Option<DocumentHeader> {
    let data = data.trim();
    let head = if data.len() > PEEK_BASE64_CHARS {
        data.get(..PEEK_BASE64_CHARS)?
    } else {
        data
    };
    let gz = base64::engine::general_purpose::STANDARD
        .decode(head)
        .ok()?;
    if gz.len() < 10 || gz[0] != 0x1f || gz[1] != 0x8b {
        return None;
    }
    let mut inflated = Vec::with_capacity(PEEK_BYTES);
    // A cut stream ends in an error once its input runs out; what was
    // inflated before it is what the header is looked for in.
    let _ = flate2::read::GzDecoder::new(gz.as_slice())
        .take(PEEK_BYTES as u64)
        .read_to_end(&mut inflated);
    header_fields(&inflated)
}

/// The leading string members of a JSON object, up to the first member of
/// another type: `messageType` and `logGroup` if both are among them, each
/// once.
fn header_fields(bytes: &[u8]) -> Option<DocumentHeader> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // The cut may fall inside a character.
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
    };
    let mut rest = text.trim_start().strip_prefix('{')?;
    let (mut message_type, mut log_group) = (None, None);
    loop {
        rest = rest.trim_start();
        let (key, after) = string_literal(rest)?;
        let after = after.trim_start().strip_prefix(':')?.trim_start();
        let Some((value, after)) = string_literal(after) else {
            // The first member that is not a string (subscriptionFilters,
            // logEvents): the header is over.
            break;
        };
        rest = after.trim_start().strip_prefix(',')?;
        let slot = match serde_json::from_str::<String>(key).ok()?.as_str() {
            "messageType" => &mut message_type,
            "logGroup" => &mut log_group,
            _ => continue,
        };
        if slot
            .replace(serde_json::from_str::<String>(value).ok()?)
            .is_some()
        {
            return None;
        }
    }
    Some(DocumentHeader {
        message_type: message_type?,
        log_group: log_group?,
    })
}

/// The JSON string literal `text` starts with (quotes included), and what
/// follows it; `None` when `text` does not start with a whole one.
fn string_literal(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some((&text[..=i], &text[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// Parses the decompressed document, borrowing from `bytes`.
pub fn parse_document(bytes: &[u8]) -> Result<SubscriptionDocument<'_>, DecodeError> {
    let doc: SubscriptionDocument<'_> =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Document {
            source: MaskedJsonError::new(&e),
        })?;
    if let Some(index) = doc
        .log_events
        .iter()
        .position(|e| !e.message.get().starts_with('"'))
    {
        return Err(DecodeError::MessageNotString { index });
    }
    Ok(doc)
}

/// A serde_json error with every value of the input cut out of its text:
/// serde names an unexpected value between the error's kind and
/// `, expected ...` (`invalid type: floating point \`4111111111111111.0\`,
/// expected a string`, or a string with escaped quotes in it). The
/// serde_json error itself is not kept, so no `source()` can show the value
/// either; its position is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedJsonError {
    /// serde_json's message without its position, the value masked.
    message: String,
    /// 1-based; 0 when serde_json gave no position.
    line: usize,
    column: usize,
}

impl MaskedJsonError {
    /// Everything from the first quote or backtick of a data error's message
    /// up to its last `, expected` (or up to its end) is cut. The `expected`
    /// part and `missing field` / `duplicate field` name fields of our own
    /// types and are kept; a syntax error names what the parser expected,
    /// never a value, and is kept whole.
    pub fn new(e: &serde_json::Error) -> Self {
        let (line, column) = (e.line(), e.column());
        let text = e.to_string();
        // serde_json's Display adds the position after the message.
        let position = format!(" at line {line} column {column}");
        let text = match text.strip_suffix(&position) {
            Some(message) if line != 0 => message,
            _ => &text,
        };
        let data = e.classify() == serde_json::error::Category::Data;
        let message =
            if !data || text.starts_with("missing field") || text.starts_with("duplicate field") {
                text.to_owned()
            } else {
                // The last one: a value may itself hold ", expected".
                let value_end = text.rfind(", expected").unwrap_or(text.len());
                let (head, tail) = text.split_at(value_end);
                match head.find(['"', '`']) {
                    Some(quote) => format!("{}…{tail}", &head[..quote]),
                    None => text.to_owned(),
                }
            };
        Self {
            message,
            line,
            column,
        }
    }

    pub fn line(&self) -> usize {
        self.line
    }

    pub fn column(&self) -> usize {
        self.column
    }
}

/// serde_json's own layout: the message, then where.
impl std::fmt::Display for MaskedJsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if self.line != 0 {
            write!(f, " at line {} column {}", self.line, self.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for MaskedJsonError {}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    const DOC: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-abc","subscriptionFilters":["all"],"policyLevel":"ACCOUNT_LEVEL_POLICY","logEvents":[{"id":"1","timestamp":1764150000000,"message":"{\"verb\":\"get\",\"note\":\"caf\u00e9 ü\"}"}]}"#;

    #[test]
    fn decodes_a_document_and_keeps_messages_raw() {
        let bytes = decompress_payload(&b64(&gzip(DOC.as_bytes())), 1 << 20).unwrap();
        let doc = parse_document(&bytes).unwrap();
        assert_eq!(doc.log_group, "/aws/eks/prod/cluster");
        assert_eq!(doc.log_stream, "kube-apiserver-audit-abc");
        assert_eq!(doc.owner, "123456789012");
        assert!(!doc.is_control_message());
        assert_eq!(doc.log_events.len(), 1);
        assert_eq!(doc.log_events[0].timestamp, 1_764_150_000_000);
        assert_eq!(
            doc.log_events[0].message.get(),
            r#""{\"verb\":\"get\",\"note\":\"caf\u00e9 ü\"}""#
        );
    }

    #[test]
    fn control_message_is_recognised() {
        let doc = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination"}]}"#;
        assert!(parse_document(doc).unwrap().is_control_message());
    }

    #[test]
    fn bad_base64_gzip_and_json_are_named() {
        assert!(matches!(
            decompress_payload("not base64!!", 1 << 20),
            Err(DecodeError::Base64 { .. })
        ));
        assert!(matches!(
            decompress_payload(&b64(b"plain text, not gzip at all"), 1 << 20),
            Err(DecodeError::NotGzip { .. })
        ));
        let gz = gzip(DOC.as_bytes());
        let truncated = &gz[..gz.len() - 10];
        let err = decompress_payload(&b64(truncated), 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::Gzip { .. }), "{err}");
        let err = parse_document(b"{\"messageType\":").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_document(br#"{"messageType":"DATA_MESSAGE"}"#).unwrap_err();
        assert!(err.to_string().contains("logEvents"), "{err}");
    }

    #[test]
    fn wrong_types_do_not_echo_values() {
        let doc = br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":"s3cr3t-value","message":"x"}]}"#;
        let err = parse_document(doc).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("expected i64"), "{err}");
        let doc = br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":{"a":1}}]}"#;
        assert!(matches!(
            parse_document(doc),
            Err(DecodeError::MessageNotString { index: 0 })
        ));
    }

    /// The whole chain, not only the top message: a `source()` that were
    /// serde_json's own error would quote the value.
    #[test]
    fn document_error_sources_do_not_echo_values() {
        let doc = br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":"s3cr3t-value","message":"x"}]}"#;
        let err = parse_document(doc).unwrap_err();
        let mut next: Option<&dyn std::error::Error> = Some(&err);
        let mut texts = Vec::new();
        while let Some(e) = next {
            texts.push(e.to_string());
            next = e.source();
        }
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert_eq!(
            texts[1],
            "invalid type: string …, expected i64 at line 1 column 79"
        );
        assert!(texts.iter().all(|t| !t.contains("s3cr3t")), "{texts:?}");
        let DecodeError::Document { source } = err else {
            panic!("{err}");
        };
        assert_eq!((source.line(), source.column()), (1, 79));
    }

    /// The whole-buffer inflate takes one member only: two members whose
    /// last trailer gives the first one's size too (the same content twice)
    /// must still come out whole, and so must a trailer that lies.
    #[test]
    fn every_gzip_member_is_inflated_whatever_the_trailer_says() {
        let one = gzip(b"abc");
        let two = [one.clone(), one.clone()].concat();
        assert_eq!(decompress_payload(&b64(&two), 1 << 20).unwrap(), b"abcabc");
        assert_eq!(decompress_payload(&b64(&one), 1 << 20).unwrap(), b"abc");
        let mut lying = gzip(DOC.as_bytes());
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            decompress_payload(&b64(&lying), 1 << 20),
            Err(DecodeError::Gzip { .. })
        ));
    }

    /// A gzip bomb: 200 MiB of zeros compresses to ~200 KB. Refused at the
    /// cap instead of being inflated whole.
    #[test]
    fn gzip_bomb_is_refused_at_the_cap() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            enc.write_all(&zeros).unwrap();
        }
        let gz = enc.finish().unwrap();
        let err = decompress_payload(&b64(&gz), 8 << 20).unwrap_err();
        assert!(
            matches!(err, DecodeError::TooLarge { limit } if limit == 8 << 20),
            "{err}"
        );
    }

    #[test]
    fn exactly_at_the_cap_is_accepted() {
        let body = vec![b'a'; 4096];
        assert_eq!(
            decompress_payload(&b64(&gzip(&body)), 4096).unwrap().len(),
            4096
        );
        assert!(decompress_payload(&b64(&gzip(&body)), 4095).is_err());
    }

    proptest::proptest! {
        /// Regression: "invalid type: floating point `4111111111111111.0`"
        /// reached the invocation's errorMessage. No value of the payload,
        /// of any type, in any field, shows in the error.
        #[test]
        fn document_errors_never_quote_a_value(
            field in proptest::sample::select(vec!["messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents", "id", "timestamp"]),
            kind in 0..5u8,
            digits in 10_000_000u64..u64::MAX,
            word in "[A-Za-z][A-Za-z0-9]{7,20}",
            before in "[a-z\"\\\\` ,]{0,4}",
            after in "[a-z\"\\\\` ,]{0,6}",
        ) {
            // Quotes, backslashes and backticks around the word: serde
            // quotes a string with escapes, which must not end the mask.
            let text = serde_json::to_string(&format!("{before}{word}{after}, expected x at line 1")).unwrap();
            let value = match kind {
                0 => format!("{digits}"),
                1 => format!("{digits}.5"),
                2 => format!("-{digits}"),
                3 => text,
                _ => format!("[{text}, {digits}]"),
            };
            let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
            let v: serde_json::Value = serde_json::from_str(&value).unwrap();
            if matches!(field, "id" | "timestamp") {
                doc["logEvents"][0][field] = v;
            } else {
                doc[field] = v;
            }
            let bytes = serde_json::to_vec(&doc).unwrap();
            if let Err(e) = parse_document(&bytes) {
                let msg = e.to_string();
                proptest::prop_assert!(!msg.contains(&digits.to_string()), "{}", msg);
                proptest::prop_assert!(!msg.contains(&word), "{}", msg);
            }
        }
    }

    /// A JSON object from members in the given order, each value written
    /// as serde_json writes it.
    fn object(members: &[(String, serde_json::Value)]) -> String {
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    #[test]
    fn an_event_id_is_a_string_or_a_whole_number() {
        let doc = |id: &str| {
            format!(
                r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"id":{id},"timestamp":1,"message":"m"}}]}}"#
            )
        };
        for (id, expected) in [
            (r#""3780""#, "3780"),
            (r#""37\u0038""#, "378"),
            ("0", "0"),
            ("42", "42"),
        ] {
            let text = doc(id);
            let parsed = parse_document(text.as_bytes()).unwrap();
            assert_eq!(parsed.log_events[0].id, expected, "{id}");
        }
        for id in ["-1", "1.5", "null", "[]"] {
            let text = doc(id);
            let e = parse_document(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("a string or a whole number"), "{id}: {e}");
        }
    }

    #[test]
    fn the_header_is_read_from_the_start_of_a_large_payload() {
        let message = serde_json::to_string(&"x".repeat(4000)).unwrap();
        let events: Vec<String> = (0..500)
            .map(|i| format!(r#"{{"id":"{i}","timestamp":1,"message":{message}}}"#))
            .collect();
        let doc = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/other","logStream":"s","subscriptionFilters":["f"],"logEvents":[{}]}}"#,
            events.join(",")
        );
        let data = b64(&gzip(doc.as_bytes()));
        assert!(data.len() > PEEK_BASE64_CHARS);
        assert_eq!(
            peek_header(&data),
            Some(DocumentHeader {
                message_type: "DATA_MESSAGE".into(),
                log_group: "/aws/lambda/other".into()
            })
        );
        // Not gzip, not base64, a header in another order: nothing.
        assert_eq!(peek_header(&b64(doc.as_bytes())), None);
        assert_eq!(peek_header("not base64!"), None);
        let late = r#"{"logEvents":[],"messageType":"DATA_MESSAGE","logGroup":"/x"}"#;
        assert_eq!(peek_header(&b64(&gzip(late.as_bytes()))), None);
    }

    proptest::proptest! {
        /// Whatever the members, their order and their escapes, the header
        /// read from the start of a payload is the one the full parse
        /// gives, or nothing.
        #[test]
        fn a_peeked_header_is_the_documents_own(
            group in "[/a-zA-Z0-9._#\\\"\u{e9}-]{0,40}",
            shadow in "[/a-z]{0,10}",
            message_type in proptest::sample::select(vec!["DATA_MESSAGE", "CONTROL_MESSAGE", "OTHER"]),
            order in proptest::sample::subsequence(vec![0usize, 1, 2, 3, 4, 5, 6], 0..=7),
            twice in proptest::bool::ANY,
            pad in 0usize..3000,
        ) {
            let mut members = Vec::new();
            for i in order {
                let member = match i {
                    0 => ("messageType".to_owned(), serde_json::json!(message_type)),
                    1 => ("owner".to_owned(), serde_json::json!("123456789012")),
                    2 => ("logGroup".to_owned(), serde_json::json!(group)),
                    3 => ("logStream".to_owned(), serde_json::json!("x".repeat(pad))),
                    4 => ("subscriptionFilters".to_owned(), serde_json::json!(["f"])),
                    5 => ("logEvents".to_owned(), serde_json::json!([{"id": "1", "timestamp": 1, "message": "{\"logGroup\":\"/aws/eks/x/cluster\"}"}])),
                    _ => ("policyLevel".to_owned(), serde_json::json!(shadow)),
                };
                members.push(member);
            }
            if twice {
                members.push(("logGroup".to_owned(), serde_json::json!(shadow)));
            }
            let doc = object(&members);
            let Some(header) = peek_header(&b64(&gzip(doc.as_bytes()))) else {
                return Ok(());
            };
            // A document cut short after its header (no logEvents) is
            // passed over too when its group is another's: it would never
            // have been forwarded.
            let Ok(full) = parse_document(doc.as_bytes()) else {
                return Ok(());
            };
            proptest::prop_assert_eq!(&header.log_group, &*full.log_group);
            proptest::prop_assert_eq!(&header.message_type, &*full.message_type);
        }
    }
}
