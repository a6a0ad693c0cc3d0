//! What one invocation did: one structured log line, and one CloudWatch
//! embedded-metric-format (EMF) line that CloudWatch turns into metrics with
//! no API call.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where the metrics go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `DD_METRICS_NAMESPACE`: namespace of the embedded-metric-format line.
    pub namespace: String,
    /// The Lambda function's name as Lambda gives it
    /// (`AWS_LAMBDA_FUNCTION_NAME`): the `FunctionName` dimension, which
    /// alarms name exactly.
    pub function_name: String,
}

/// Counters of one invocation. Logged once at the end (and returned as the
/// invocation's response), so every drop, truncation and failure is on record.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct InvocationSummary {
    pub request_id: String,
    /// The trigger, or a subscription's `ddsource`.
    pub source: SummarySource,
    pub log_group: String,
    pub control_message: bool,
    pub dry_run: bool,
    /// Log events in the subscription documents (or values read from S3
    /// objects).
    pub events_in: usize,
    /// Kinesis records in the batch.
    pub records_in: usize,
    /// Kinesis records reported back as failed (`batchItemFailures`), the
    /// undecodable ones included.
    pub records_failed: usize,
    /// Kinesis records whose data could not be decoded.
    pub records_undecodable: usize,
    /// Subscription documents of log groups `DD_LOG_GROUP_PREFIXES` leaves
    /// out, passed over unread.
    pub documents_passed_over: usize,
    /// S3 objects read to the end.
    pub objects_read: usize,
    /// S3 records of other event types than object-created, skipped.
    pub s3_events_ignored: usize,
    /// Log groups whose tags could not be read (their logs went without).
    pub tag_fetch_errors: usize,
    /// Logs the intake accepted (or, in a dry run, written to stdout).
    pub logs_forwarded: usize,
    /// Logs the intake did not take: kept in S3 (`stored`, `dead_lettered`)
    /// or, without S3, the reason the invocation fails.
    pub logs_failed: usize,
    /// Logs over the per-log limit that were shrunk to fit.
    pub truncated: usize,
    /// Logs dropped by `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH`.
    pub filtered: usize,
    /// Audit logs dropped by `DD_AUDIT_INCLUDE` / `DD_AUDIT_EXCLUDE`.
    pub filtered_by_query: usize,
    /// Audit logs dropped by the noise preset (`DD_AUDIT_NOISE_FILTER`).
    pub filtered_as_noise: usize,
    /// Bytes of the messages dropped as noise: what the preset saved.
    pub noise_bytes: u64,
    /// Logs changed by `REDACT_IP`, `REDACT_EMAIL` or `DD_SCRUBBING_RULE`.
    pub logs_scrubbed: usize,
    /// Logs whose message had secret values replaced
    /// (`crate::audit::redaction`).
    pub logs_redacted: usize,
    /// Values replaced in them.
    pub redacted_values: usize,
    /// Of those, messages replaced whole: they may hold secrets and are
    /// not valid JSON (`crate::audit::redaction::WITHHELD`), or were
    /// broken by `DD_SCRUBBING_RULE`.
    pub logs_withheld: usize,
    /// Events a privacy rule could not read whole (too deep, a number out
    /// of range, a lone surrogate) and so treated on the safe side.
    pub read_fallbacks: usize,
    /// Logs kept in S3 under `failed_events/` for replay, including those
    /// a replay wrote back after they failed again.
    pub stored: usize,
    /// Logs kept in S3 under `dead_letter/` (rejected by the intake as malformed).
    pub dead_lettered: usize,
    /// Stored logs delivered by replay.
    pub replayed: usize,
    /// Stored objects replayed completely and deleted.
    pub replayed_objects: usize,
    /// Replay steps that failed (the objects stay in S3).
    pub replay_errors: usize,
    pub batches: usize,
    pub requests: u32,
    /// Requests sent again (attempts after the first).
    pub retries: u32,
    /// Batches that needed at least one retry.
    pub batches_retried: u32,
    pub splits: u32,
    /// Uncompressed bytes of the log objects built.
    pub raw_bytes: u64,
    /// Bytes sent, compressed, retries included.
    pub wire_bytes: u64,
    pub transport_errors: u32,
    /// Batches sent again as gzip after the intake answered 400 or 415 to
    /// them in zstd (`DD_COMPRESSION`).
    pub encoding_probes: u32,
    /// Non-2xx answers of the intake, by status.
    pub error_statuses: BTreeMap<u16, u32>,
    pub duration_ms: u64,
    /// For a Kinesis batch: the records to retry. Lambda's partial batch
    /// response carries only this field (see `crate::lambda`).
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
}

/// What the summary's `source` names: the trigger, or for a CloudWatch
/// Logs subscription the `ddsource` of its logs. Written as that one string,
/// as the field was when it was a string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum SummarySource {
    /// Not known yet: a control message, or an event that failed before
    /// its logs were shaped. Written as `""`.
    #[default]
    Unknown,
    /// A subscription document: the `ddsource` of its logs (`DD_SOURCE`
    /// can make it any word, `s3` included).
    Subscription(String),
    Kinesis,
    S3,
    /// A `{"retry":"true"}` event.
    Replay,
}

impl SummarySource {
    pub fn as_str(&self) -> &str {
        match self {
            SummarySource::Unknown => "",
            SummarySource::Subscription(ddsource) => ddsource,
            SummarySource::Kinesis => "kinesis",
            SummarySource::S3 => "s3",
            SummarySource::Replay => "replay",
        }
    }
}

impl std::fmt::Display for SummarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SummarySource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One entry of a partial batch response.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl InvocationSummary {
    /// Adds what a delivery cost (requests, retries, bytes, errors); the
    /// logs it delivered are counted by the caller, as forwarded or replayed.
    pub fn add_traffic(&mut self, report: &crate::ship::DeliveryReport) {
        self.requests += report.requests;
        self.retries += report.retries;
        self.batches_retried += report.batches_retried;
        self.splits += report.splits;
        self.wire_bytes += report.wire_bytes;
        self.transport_errors += report.transport_errors;
        self.encoding_probes += report.encoding_probes;
        for (status, n) in &report.error_statuses {
            *self.error_statuses.entry(*status).or_default() += n;
        }
    }

    /// Adds what keeping and replaying did.
    pub fn add_spill(&mut self, tally: &crate::spill::SpillTally) {
        self.stored += tally.stored;
        self.dead_lettered += tally.dead_lettered;
        self.replayed += tally.replayed;
        self.replayed_objects += tally.replayed_objects;
        self.replay_errors += tally.replay_errors;
        self.batches += tally.batches;
        self.add_traffic(&tally.traffic);
    }

    /// Adds what the audit stage did to one or more events.
    pub fn add_audit(&mut self, tally: &crate::audit::AuditTally) {
        self.filtered += tally.filtered;
        self.filtered_by_query += tally.filtered_by_query;
        self.filtered_as_noise += tally.filtered_as_noise;
        self.noise_bytes += tally.noise_bytes;
        self.logs_redacted += tally.logs_redacted;
        self.redacted_values += tally.redacted_values;
        self.logs_withheld += tally.logs_withheld;
        self.logs_scrubbed += tally.logs_scrubbed;
        self.read_fallbacks += tally.read_fallbacks;
    }

    /// The summary line. Counts only: never a payload, a message or a key.
    /// Written directly, in the shape of the other log lines, because it
    /// has more fields than a `tracing` event can carry.
    pub fn log(&self) {
        if tracing::enabled!(tracing::Level::INFO) {
            eprintln!("{}", self.log_line(std::time::SystemTime::now()));
        }
    }

    fn log_line(&self, now: std::time::SystemTime) -> String {
        let mut line = serde_json::Map::new();
        line.insert(
            "timestamp".into(),
            crate::calendar::rfc3339_micros(now).into(),
        );
        line.insert("level".into(), "INFO".into());
        line.insert("message".into(), "invocation summary".into());
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) {
            line.extend(fields);
        }
        line.insert("target".into(), module_path!().into());
        serde_json::Value::Object(line).to_string()
    }

    /// The embedded-metric-format line for this invocation.
    pub fn emf_line(&self, namespace: &str, function_name: &str, now_ms: u64) -> String {
        let (mut client_errors, mut server_errors) = (0u32, 0u32);
        for (status, n) in &self.error_statuses {
            if *status >= 500 {
                server_errors += n;
            } else {
                client_errors += n;
            }
        }
        let values: [(&str, &str, u64); 29] = [
            ("LogsIn", "Count", self.events_in as u64),
            ("LogsForwarded", "Count", self.logs_forwarded as u64),
            ("LogsFailed", "Count", self.logs_failed as u64),
            ("LogsTruncated", "Count", self.truncated as u64),
            ("LogsFiltered", "Count", self.filtered as u64),
            (
                "LogsFilteredByQuery",
                "Count",
                self.filtered_by_query as u64,
            ),
            (
                "LogsFilteredAsNoise",
                "Count",
                self.filtered_as_noise as u64,
            ),
            ("NoiseBytes", "Bytes", self.noise_bytes),
            ("LogsStored", "Count", self.stored as u64),
            ("LogsReplayed", "Count", self.replayed as u64),
            ("LogsDeadLettered", "Count", self.dead_lettered as u64),
            ("Batches", "Count", self.batches as u64),
            ("BatchesRetried", "Count", u64::from(self.batches_retried)),
            ("Retries", "Count", u64::from(self.retries)),
            ("RawBytes", "Bytes", self.raw_bytes),
            ("WireBytes", "Bytes", self.wire_bytes),
            ("IntakeClientErrors", "Count", u64::from(client_errors)),
            ("IntakeServerErrors", "Count", u64::from(server_errors)),
            (
                "IntakeTransportErrors",
                "Count",
                u64::from(self.transport_errors),
            ),
            ("ReplayErrors", "Count", self.replay_errors as u64),
            ("RecordsFailed", "Count", self.records_failed as u64),
            (
                "RecordsUndecodable",
                "Count",
                self.records_undecodable as u64,
            ),
            (
                "DocumentsPassedOver",
                "Count",
                self.documents_passed_over as u64,
            ),
            ("ObjectsRead", "Count", self.objects_read as u64),
            ("TagFetchErrors", "Count", self.tag_fetch_errors as u64),
            ("LogsRedacted", "Count", self.logs_redacted as u64),
            ("LogsWithheld", "Count", self.logs_withheld as u64),
            ("LogsScrubbed", "Count", self.logs_scrubbed as u64),
            ("ReadFallbacks", "Count", self.read_fallbacks as u64),
        ];
        let definitions: Vec<serde_json::Value> = values
            .iter()
            .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit}))
            .collect();
        let mut line = serde_json::json!({
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": definitions,
                }],
            },
            "FunctionName": function_name,
        });
        for (name, _, value) in values {
            line[name] = serde_json::json!(value);
        }
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_is_one_flat_json_object() {
        let summary = InvocationSummary {
            request_id: "r-1".into(),
            events_in: 3,
            error_statuses: [(503, 2)].into_iter().collect(),
            ..Default::default()
        };
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_795_687_200_000_001);
        let line: serde_json::Value = serde_json::from_str(&summary.log_line(t)).unwrap();
        assert_eq!(line["timestamp"], "2026-11-26T10:00:00.000001Z");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "invocation summary");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["events_in"], 3);
        assert_eq!(line["error_statuses"]["503"], 2);
        assert!(line.get("batchItemFailures").is_none());
    }

    /// The source is written as the string it was before it was typed.
    #[test]
    fn source_is_written_as_a_string() {
        let source_of = |source: SummarySource| {
            let summary = InvocationSummary {
                source,
                ..Default::default()
            };
            serde_json::to_value(&summary).unwrap()["source"].clone()
        };
        assert_eq!(source_of(SummarySource::Unknown), "");
        assert_eq!(
            source_of(SummarySource::Subscription("kube_scheduler".into())),
            "kube_scheduler"
        );
        assert_eq!(source_of(SummarySource::Kinesis), "kinesis");
        assert_eq!(source_of(SummarySource::S3), "s3");
        assert_eq!(source_of(SummarySource::Replay), "replay");
    }

    #[test]
    fn emf_line_declares_and_carries_every_metric() {
        let summary = InvocationSummary {
            events_in: 10,
            logs_forwarded: 7,
            stored: 2,
            dead_lettered: 1,
            retries: 3,
            batches_retried: 2,
            error_statuses: [(503, 2), (400, 1), (429, 1)].into_iter().collect(),
            transport_errors: 4,
            ..Default::default()
        };
        let line: serde_json::Value =
            serde_json::from_str(&summary.emf_line("Ns", "fwd", 1_764_151_200_000)).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ns");
        assert_eq!(line["_aws"]["Timestamp"], 1_764_151_200_000u64);
        assert_eq!(line["FunctionName"], "fwd");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_u64(), "{name} has a value");
        }
        assert_eq!(line["LogsIn"], 10);
        assert_eq!(line["LogsStored"], 2);
        assert_eq!(line["LogsDeadLettered"], 1);
        assert_eq!(line["BatchesRetried"], 2);
        assert_eq!(line["Retries"], 3);
        assert_eq!(line["IntakeServerErrors"], 2);
        assert_eq!(line["IntakeClientErrors"], 2);
        assert_eq!(line["IntakeTransportErrors"], 4);
    }
}
