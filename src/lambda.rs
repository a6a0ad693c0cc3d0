//! The Lambda front door: the `lambda_runtime` loop over the Runtime API.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;

use crate::forward::{Forwarder, Invocation};
use crate::metrics::InvocationSummary;

/// Runs invocations until the runtime stops. The event is taken as raw JSON
/// so that any shape reaches our own decoder and gets our own error message.
pub async fn run(forwarder: Forwarder) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let forwarder = forwarder.clone();
        async move { handle(&forwarder, event).await }
    }))
    .await
}

async fn handle(
    forwarder: &Forwarder,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<InvocationSummary, Diagnostic> {
    let invocation = Invocation::from_lambda(&event.context);
    // Boxed: the pipeline's future is deep, and the runtime's layers would
    // nest it past the compiler's layout recursion limit.
    Box::pin(forwarder.handle(&event.payload, &invocation))
        .await
        .map_err(|e| Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.error_message(),
        })
}
