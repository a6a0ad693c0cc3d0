//! `retry:true` in a replayed log's `ddtags`, so a replayed log can be
//! told from the first delivery, as the Datadog Forwarder tags them.

use serde_json::value::RawValue;

use crate::json::Members;

/// Adds `retry:true` to a replayed log's `ddtags`, once. Member values stay
/// raw, so whatever their strings hold goes out as it was stored, in the
/// same order. `None` for a value that is not an object with readable
/// member names.
pub(super) fn tag_retry(log: &RawValue) -> Option<Vec<u8>> {
    let Members(members) = Members::of(log.get())?;
    // With a duplicate `ddtags`, parsers keep the last: that one is tagged
    // and the others dropped.
    let tags_at = members.iter().rposition(|(k, _)| k == "ddtags");
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
    let tags = serde_json::to_string(&tags).ok()?;
    let mut out = Vec::with_capacity(log.get().len() + 16);
    out.push(b'{');
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, name: &str, value: &str| -> Option<()> {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name).ok()?;
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        Some(())
    };
    for (i, (name, value)) in members.iter().enumerate() {
        match tags_at {
            Some(at) if i == at => member(&mut out, name, &tags)?,
            _ if name == "ddtags" => {}
            _ => member(&mut out, name, value.get())?,
        }
    }
    if tags_at.is_none() {
        member(&mut out, "ddtags", &tags)?;
    }
    out.push(b'}');
    Some(out)
}
