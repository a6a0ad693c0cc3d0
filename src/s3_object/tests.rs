use super::*;
use flate2::{Compression, write::GzEncoder};
use proptest::prelude::*;

/// Values of `input` fed `step` bytes at a time, or the absolute
/// offset of a byte that cannot start one.
fn split_all(input: &[u8], step: usize) -> Result<Vec<String>, usize> {
    let mut splitter = ValueSplitter::default();
    let mut buf = Vec::new();
    let mut base = 0;
    let mut out = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match splitter.scan(&buf) {
                Split::Value(r) => out.push(String::from_utf8(buf[r].to_vec()).unwrap()),
                Split::NotObject(at) => return Err(base + at),
                Split::Incomplete => break,
            }
        }
        let keep = splitter.keep_from();
        buf.drain(..keep);
        splitter.shift(keep);
        base += keep;
    }
    assert!(!splitter.in_value(), "input ends inside a value");
    Ok(out)
}

#[test]
fn splits_json_lines_and_concatenated_documents() {
    let input = br#"{"a":"}{\"x"}{"b":[1,{"c":"]"}]}
 {"d":"\\"}
{"e":{}}"#;
    for step in [1, 2, 7, 1000] {
        assert_eq!(
            split_all(input, step).unwrap(),
            vec![
                r#"{"a":"}{\"x"}"#,
                r#"{"b":[1,{"c":"]"}]}"#,
                r#"{"d":"\\"}"#,
                r#"{"e":{}}"#
            ]
        );
    }
    assert_eq!(split_all(b"{}\nnot json", 3), Err(3));
    assert_eq!(split_all(b"[1,2]", 3), Err(0));
}

proptest! {
    /// Any sequence of JSON objects, whatever their content and however
    /// the bytes arrive, comes back value by value.
    #[test]
    fn splitting_is_independent_of_chunking(
        values in proptest::collection::vec(
            proptest::collection::btree_map("[a-z\"\\\\{}\\[\\]é ]{0,6}", "[a-z\"\\\\{}\\[\\]é ]{0,6}", 0..4), 1..6),
        step in 1usize..40,
        newline in any::<bool>(),
    ) {
        let texts: Vec<String> = values.iter().map(|v| serde_json::to_string(v).unwrap()).collect();
        let joined = texts.join(if newline { "\n" } else { "" });
        prop_assert_eq!(split_all(joined.as_bytes(), step).unwrap(), texts);
    }
}

#[tokio::test]
async fn reads_gzip_members_and_plain_bodies() {
    let text = "{\"n\":1}\n{\"n\":2}{\"n\":3}\n";
    let mut gz = Vec::new();
    for part in [&text[..8], &text[8..]] {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(part.as_bytes()).unwrap();
        gz.extend(enc.finish().unwrap());
    }
    for body in [gz, text.as_bytes().to_vec()] {
        let mut reader = ObjectReader::from_body("b", "k", ByteStream::from(body), 1 << 20);
        let mut seen = Vec::new();
        while let Some((offset, value)) = reader.next_value().await.unwrap() {
            seen.push((offset, String::from_utf8(value.to_vec()).unwrap()));
        }
        assert_eq!(
            seen,
            vec![
                (0, "{\"n\":1}".to_owned()),
                (8, "{\"n\":2}".to_owned()),
                (15, "{\"n\":3}".to_owned())
            ]
        );
    }
}

#[tokio::test]
async fn bad_objects_are_named_errors() {
    let read_all = |body: Vec<u8>, max: usize| async move {
        let mut reader = ObjectReader::from_body("b", "k", ByteStream::from(body), max);
        while reader.next_value().await?.is_some() {}
        Ok::<(), ObjectError>(())
    };
    let err = read_all(b"{\"a\":1}\nplain text".to_vec(), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ObjectError::NotObjects { offset: 8, .. }),
        "{err}"
    );
    let err = read_all(b"{\"a\":\"unterminated".to_vec(), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ObjectError::Truncated { offset: 0, .. }),
        "{err}"
    );
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(5000));
    let err = read_all(big.into_bytes(), 4096).await.unwrap_err();
    assert!(matches!(err, ObjectError::ValueTooLarge { .. }), "{err}");
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(&b"{\"a\":1}".repeat(1000)).unwrap();
    let gz = enc.finish().unwrap();
    let err = read_all(gz[..gz.len() / 2].to_vec(), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ObjectError::Gzip { .. } | ObjectError::Truncated { .. }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("\"a\""), "{err}");
}
