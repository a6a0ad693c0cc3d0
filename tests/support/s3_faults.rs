//! A fault-injecting reverse proxy in front of moto's S3 on 127.0.0.1.
//!
//! moto answers every request it understands and enforces no bucket
//! policy, so it cannot play an S3 that is slow, never answers, fails, or
//! refuses writes or deletes. The forwarder's `AWS_ENDPOINT_URL` points
//! here instead; requests go on to moto unchanged (moto does not check
//! SigV4 signatures, so the `Host` header may stay the proxy's), unless
//! the current [`S3Behaviour`] says otherwise. Tests read the bucket
//! straight from moto.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::proxy::send_upstream;

/// How the S3 behind the proxy behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Behaviour {
    Up,
    /// Every request answered after this long.
    Slow(Duration),
    /// Connections are accepted and requests read, and never answered.
    BlackHole,
    /// Connections are closed without an answer.
    Down,
    /// `500 InternalError` to everything.
    Failing,
    /// `403 AccessDenied` to writes (PutObject, CopyObject).
    DenyWrite,
    /// `403 AccessDenied` to DeleteObject.
    DenyDelete,
}

/// The S3 operation a request is, from its method and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Operation {
    List,
    Get,
    Head,
    Put,
    Copy,
    Delete,
    Other,
}

pub struct S3FaultProxy {
    addr: SocketAddr,
    behaviour: Arc<Mutex<S3Behaviour>>,
    seen: Arc<Mutex<Vec<(S3Operation, u16)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for S3FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl S3FaultProxy {
    /// A proxy to `upstream` (moto's `http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str, behaviour: S3Behaviour) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("moto's endpoint is http://127.0.0.1:<port>");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (b, s) = (behaviour.clone(), seen.clone());
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (b, s) = (b.clone(), s.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(req, upstream, b.clone(), s.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            behaviour,
            seen,
            server,
        }
    }

    /// For `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, behaviour: S3Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Every request, with the status it got (0: none).
    pub fn seen(&self) -> Vec<(S3Operation, u16)> {
        self.seen.lock().unwrap().clone()
    }
}

fn operation(req: &Request<Incoming>) -> S3Operation {
    let query = req.uri().query().unwrap_or("");
    match *req.method() {
        Method::GET if query.contains("list-type=2") => S3Operation::List,
        Method::GET => S3Operation::Get,
        Method::HEAD => S3Operation::Head,
        Method::PUT if req.headers().contains_key("x-amz-copy-source") => S3Operation::Copy,
        Method::PUT => S3Operation::Put,
        Method::DELETE => S3Operation::Delete,
        _ => S3Operation::Other,
    }
}

fn s3_error(status: u16, code: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message><RequestId>0</RequestId></Error>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn handle(
    req: Request<Incoming>,
    upstream: SocketAddr,
    behaviour: Arc<Mutex<S3Behaviour>>,
    seen: Arc<Mutex<Vec<(S3Operation, u16)>>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let op = operation(&req);
    let behaviour = *behaviour.lock().unwrap();
    let record = |status: u16| seen.lock().unwrap().push((op, status));
    let refused = match behaviour {
        S3Behaviour::Up | S3Behaviour::Slow(_) => None,
        S3Behaviour::BlackHole => {
            record(0);
            // Read the request, then hold the connection open forever.
            let _ = req.into_body().collect().await;
            match std::future::pending::<std::convert::Infallible>().await {}
        }
        S3Behaviour::Down => {
            record(0);
            return Err(std::io::Error::other("injected: S3 down"));
        }
        S3Behaviour::Failing => Some(s3_error(500, "InternalError")),
        S3Behaviour::DenyWrite if matches!(op, S3Operation::Put | S3Operation::Copy) => {
            Some(s3_error(403, "AccessDenied"))
        }
        S3Behaviour::DenyDelete if op == S3Operation::Delete => Some(s3_error(403, "AccessDenied")),
        S3Behaviour::DenyWrite | S3Behaviour::DenyDelete => None,
    };
    if let Some(answer) = refused {
        record(answer.status().as_u16());
        return Ok(answer);
    }
    if let S3Behaviour::Slow(d) = behaviour {
        tokio::time::sleep(d).await;
    }
    let answer = send_upstream(TcpStream::connect(upstream).await?, req).await?;
    record(answer.status().as_u16());
    Ok(answer)
}
