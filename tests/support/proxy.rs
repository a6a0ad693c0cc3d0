//! A forward HTTP proxy on 127.0.0.1 for `http://` destinations: clients
//! send it absolute-form requests (`POST http://host:port/path`), and it
//! records each destination and passes the request on, as a corporate
//! egress proxy does. (`https://` destinations would use CONNECT tunnels,
//! which the tests do not need: every test server here speaks plain HTTP.)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// One request the proxy passed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    pub method: String,
    /// `host:port` of the destination.
    pub authority: String,
    pub path: String,
    /// The `Proxy-Authorization` header the client sent, if any.
    pub authorization: Option<String>,
}

pub struct ForwardProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<ProxiedRequest>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ForwardProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let record = record.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| relay(req, record.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen, server }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<ProxiedRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn refuse(status: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn relay(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<ProxiedRequest>>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    // Only absolute-form requests come to a proxy; anything else is a
    // client that did not know it was talking to one.
    let Some(authority) = req.uri().authority().map(|a| a.to_string()) else {
        return Ok(refuse(StatusCode::BAD_REQUEST));
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    seen.lock().unwrap().push(ProxiedRequest {
        method: req.method().to_string(),
        authority: authority.clone(),
        path: path.clone(),
        authorization: req
            .headers()
            .get("proxy-authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let Ok(upstream) = TcpStream::connect(&authority).await else {
        return Ok(refuse(StatusCode::BAD_GATEWAY));
    };
    let (mut parts, body) = req.into_parts();
    parts.uri = path.parse().map_err(std::io::Error::other)?;
    parts.headers.remove("proxy-connection");
    parts.headers.remove("proxy-authorization");
    send_upstream(upstream, Request::from_parts(parts, body)).await
}

/// Sends `req` over a new connection to `upstream` and returns the whole
/// answer (for the test proxies in front of a real server).
pub async fn send_upstream(
    upstream: TcpStream,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(upstream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let answer = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
