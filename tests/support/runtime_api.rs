//! A Lambda Runtime API endpoint on 127.0.0.1, speaking the protocol the
//! `lambda_runtime` crate uses: `GET .../invocation/next` hands out queued
//! events with the request id, deadline and function ARN headers; the
//! function answers with `POST .../{id}/response` or `.../{id}/error`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:eks-audit-forwarder";

/// What the function said about one invocation.
#[derive(Debug, Clone)]
pub enum InvocationResult {
    Response(Value),
    /// The error document (`errorType`, `errorMessage`).
    Error(Value),
}

#[derive(Debug)]
struct Queued {
    request_id: String,
    deadline_ms: u64,
    body: Vec<u8>,
}

pub struct RuntimeApi {
    addr: SocketAddr,
    /// When the first `next` request arrived: the end of the function's
    /// start-up, for the benchmarks.
    first_next: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    events: mpsc::UnboundedSender<Queued>,
    results: mpsc::UnboundedReceiver<(String, InvocationResult)>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events, queue) = mpsc::unbounded_channel();
        let (results_tx, results) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        let first_next = Arc::new(std::sync::Mutex::new(None));
        let first = first_next.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (queue, results_tx, first) = (queue.clone(), results_tx.clone(), first.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        if req.uri().path().ends_with("/invocation/next") {
                            first
                                .lock()
                                .unwrap()
                                .get_or_insert_with(std::time::Instant::now);
                        }
                        handle(req, queue.clone(), results_tx.clone())
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            first_next,
            events,
            results,
            server,
        }
    }

    /// When the function first asked for an event.
    pub fn first_next_at(&self) -> Option<std::time::Instant> {
        *self.first_next.lock().unwrap()
    }

    /// Value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event with `timeout` until its deadline.
    pub fn invoke(&self, request_id: &str, body: impl Into<Vec<u8>>, timeout: Duration) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.events
            .send(Queued {
                request_id: request_id.to_owned(),
                deadline_ms: now_ms + timeout.as_millis() as u64,
                body: body.into(),
            })
            .unwrap();
    }

    /// The next result the function posted (guard timeout: 60 s).
    pub async fn next_result(&mut self) -> (String, InvocationResult) {
        tokio::time::timeout(Duration::from_secs(60), self.results.recv())
            .await
            .expect("the function posted no result within 60 s")
            .expect("runtime API stopped")
    }
}

fn reply(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn handle(
    req: Request<Incoming>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Queued>>>,
    results: mpsc::UnboundedSender<(String, InvocationResult)>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .to_bytes();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
            // Blocks until an event is queued, as the real API does.
            let Some(next) = queue.lock().await.recv().await else {
                return Err(std::io::Error::other("no more events"));
            };
            Ok(Response::builder()
                .status(200)
                .header("Lambda-Runtime-Aws-Request-Id", &next.request_id)
                .header("Lambda-Runtime-Deadline-Ms", next.deadline_ms.to_string())
                .header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                .header(
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(next.body)))
                .unwrap())
        }
        (
            "POST",
            [
                "2018-06-01",
                "runtime",
                "invocation",
                id,
                kind @ ("response" | "error"),
            ],
        ) => {
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let result = if *kind == "response" {
                InvocationResult::Response(value)
            } else {
                InvocationResult::Error(value)
            };
            let _ = results.send(((*id).to_owned(), result));
            Ok(reply(202, b"{\"status\":\"OK\"}".to_vec()))
        }
        ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = results.send(("init".to_owned(), InvocationResult::Error(value)));
            Ok(reply(202, b"{\"status\":\"OK\"}".to_vec()))
        }
        _ => Ok(reply(404, Vec::new())),
    }
}
