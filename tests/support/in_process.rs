//! The forwarder as a library, in this process, sending to the intake
//! emulator: for tests that push many documents and read the summaries.

use std::sync::Arc;

use eks_audit_forwarder::metrics::InvocationSummary;
use eks_audit_forwarder::ship::{IntakeClient, ShipOptions, Shipper};
use eks_audit_forwarder::{Config, Destination, Forwarder, Invocation};
use serde_json::{Value, value::RawValue};

use super::intake::IntakeEmulator;
use super::payload::{document, wrap};

/// The intake's client for `config`, with its API key.
pub fn intake_client(config: &Config) -> IntakeClient {
    IntakeClient::for_settings(
        &config.intake,
        config.api_key.value().expect("DD_API_KEY is set").clone(),
        &config.proxy,
    )
    .unwrap()
}

/// Sends `messages` from `group`/`stream` in subscription documents of
/// `per_document` events, configured by `vars` besides the intake's.
/// Returns the logs the intake accepted and each invocation's summary.
pub async fn forward_messages(
    intake: &IntakeEmulator,
    group: &str,
    stream: &str,
    messages: &[String],
    per_document: usize,
    vars: &[(&str, &str)],
) -> (Vec<Value>, Vec<InvocationSummary>) {
    let mut all = vec![
        ("DD_URL".to_owned(), intake.url()),
        ("DD_NO_SSL".to_owned(), "true".to_owned()),
        ("DD_API_KEY".to_owned(), intake.api_key().to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config =
        Config::from_lookup(|n| all.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())).unwrap();
    let client = intake_client(&config);
    let forwarder = Forwarder::new(
        &config,
        Destination::Intake(Arc::new(Shipper::new(
            client,
            ShipOptions::new(config.intake.encoding),
        ))),
    );
    let before = intake.accepted_logs().len();
    let mut summaries = Vec::new();
    for chunk in messages.chunks(per_document) {
        let event = RawValue::from_string(wrap(document(group, stream, chunk).as_bytes())).unwrap();
        let summary = forwarder
            .handle(&event, &Invocation::local("in-process"))
            .await
            .unwrap();
        // Whatever a filter dropped is counted, so nothing goes missing.
        assert_eq!(
            summary.logs_forwarded
                + summary.filtered
                + summary.filtered_by_query
                + summary.filtered_as_noise,
            chunk.len()
        );
        summaries.push(summary);
    }
    (intake.accepted_logs()[before..].to_vec(), summaries)
}

/// The counters of several invocations added up, as the noise tests
/// compare them.
pub fn totals(summaries: Vec<InvocationSummary>) -> InvocationSummary {
    let mut total = InvocationSummary::default();
    for s in summaries {
        total.events_in += s.events_in;
        total.logs_forwarded += s.logs_forwarded;
        total.filtered_as_noise += s.filtered_as_noise;
        total.filtered_by_query += s.filtered_by_query;
        total.noise_bytes += s.noise_bytes;
        total.raw_bytes += s.raw_bytes;
        total.wire_bytes += s.wire_bytes;
    }
    total
}
