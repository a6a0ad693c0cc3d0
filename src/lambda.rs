//! The Lambda front door: the `lambda_runtime` loop over the Runtime API.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::forward::{Forwarder, Invocation};
use crate::metrics::{BatchItemFailure, InvocationSummary};

/// What an invocation answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// The summary (it is also logged).
    Summary(Box<InvocationSummary>),
    /// A Kinesis batch gets Lambda's partial batch response and nothing
    /// else, so no other field can make Lambda read it as malformed.
    PartialBatch {
        #[serde(rename = "batchItemFailures")]
        batch_item_failures: Vec<BatchItemFailure>,
    },
}

impl From<InvocationSummary> for Response {
    fn from(mut summary: InvocationSummary) -> Self {
        match summary.batch_item_failures.take() {
            Some(batch_item_failures) => Response::PartialBatch {
                batch_item_failures,
            },
            None => Response::Summary(Box::new(summary)),
        }
    }
}

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
) -> Result<Response, Diagnostic> {
    let invocation = Invocation::from_lambda(&event.context);
    // Boxed: the pipeline's future is deep, and the runtime's layers would
    // nest it past the compiler's layout recursion limit.
    Box::pin(forwarder.handle(&event.payload, &invocation))
        .await
        .map(Response::from)
        .map_err(|e| Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.error_message(),
        })
}
