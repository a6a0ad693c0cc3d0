//! The local front door: `eks-audit-forwarder invoke FILE...` runs sample
//! events through the same handler as Lambda does.

use std::path::PathBuf;

use serde_json::value::RawValue;

use crate::forward::{Forwarder, Invocation};

/// Runs each file as one invocation; returns how many failed.
pub async fn invoke_files(forwarder: &Forwarder, files: &[PathBuf]) -> usize {
    if forwarder.is_dry_run() {
        tracing::info!(
            "dry run: DD_API_KEY is not set, so log objects are written to stdout as JSON lines, nothing is sent"
        );
    }
    let mut failures = 0;
    for (i, file) in files.iter().enumerate() {
        let shown = file.display().to_string();
        let event = match std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                serde_json::from_slice::<Box<RawValue>>(&bytes)
                    .map_err(|e| format!("not JSON: {e}"))
            }) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(file = %shown, %error, "cannot read the event file");
                failures += 1;
                continue;
            }
        };
        let invocation = Invocation::local(format!("local-{}", i + 1));
        if let Err(e) = forwarder.handle(&event, &invocation).await {
            tracing::error!(file = %shown, error_type = e.error_type(), error = %e.error_message(), "invocation failed");
            failures += 1;
        }
    }
    failures
}
