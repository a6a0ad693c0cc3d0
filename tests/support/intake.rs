//! A Datadog-compatible logs intake on 127.0.0.1 that enforces the
//! documented contract of `POST /api/v2/logs` (API key, content encodings,
//! 5,000,000-byte bodies, 1,000 entries), records what it accepted, and
//! injects faults on demand.

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The contract the emulator enforces; Datadog's limits by default.
#[derive(Debug, Clone)]
pub struct IntakeContract {
    pub api_key: String,
    pub max_body_bytes: usize,
    pub max_entries: usize,
    pub max_log_bytes: usize,
    /// A batch holding a log whose message contains this is answered 400.
    pub poison: Option<String>,
    /// Keep every accepted log for the test to look at; off for tests
    /// that send hundreds of megabytes and only count.
    pub keep_logs: bool,
    /// An intake that does not take this `Content-Encoding` answers it
    /// with this status (415, or 400 as some proxies do).
    pub refuse_encoding: Option<(&'static str, u16)>,
}

impl Default for IntakeContract {
    fn default() -> Self {
        Self {
            api_key: "test-api-key-0123456789abcdef".to_owned(),
            max_body_bytes: 5_000_000,
            max_entries: 1_000,
            max_log_bytes: 1_000_000,
            poison: None,
            keep_logs: true,
            refuse_encoding: None,
        }
    }
}

/// A scripted misbehaviour, used once, in order, before normal handling.
#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16),
    StatusRetryAfter(u16, u64),
    /// Close the connection without an answer.
    Reset,
    /// Answer normally, after this long.
    Delay(Duration),
    /// A redirect (301, 302, 307, 308) to `/elsewhere` on the same server,
    /// which answers 200 to anything.
    Redirect(u16),
    /// An answer whose body misbehaves. With `status: None` the request is
    /// judged (and its logs accepted) as usual and only the body is
    /// replaced; with a status, that status is answered and nothing kept.
    Body {
        status: Option<u16>,
        body: BodyFault,
    },
}

/// How a faulty answer's body misbehaves.
#[derive(Debug, Clone, Copy)]
pub enum BodyFault {
    /// One byte per interval, never ending.
    Slow(Duration),
    /// Data as fast as the client reads, never ending.
    Endless,
    /// A few kilobytes of bytes that are not JSON (nor UTF-8).
    Garbage,
}

/// One request as the intake saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub content_encoding: Option<String>,
    pub content_type: Option<String>,
    pub origin: Option<String>,
    pub origin_version: Option<String>,
    pub api_key: Option<String>,
    pub storage_tag: Option<String>,
    pub wire_bytes: usize,
    pub body_bytes: usize,
    pub entries: usize,
}

/// Faults at random: each request fails with probability `rate`, with a
/// fault drawn from `faults`, from a seeded generator (repeatable).
pub struct Chaos {
    pub rate: f64,
    pub faults: Vec<Fault>,
    pub rng: fastrand::Rng,
}

#[derive(Default)]
struct State {
    faults: VecDeque<Fault>,
    /// Applied to every request while set (after the scripted faults).
    down: Option<Fault>,
    chaos: Option<Chaos>,
    injected: usize,
    requests: Vec<SeenRequest>,
    accepted: Vec<Vec<Value>>,
    accepted_count: usize,
    keep_logs: bool,
    oversize_logs: usize,
    /// Ids of logs answered 400 or 413 in a request of their own.
    refused_alone: Vec<String>,
}

pub struct IntakeEmulator {
    addr: SocketAddr,
    contract: IntakeContract,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for IntakeEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl IntakeEmulator {
    pub async fn start(contract: IntakeContract) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            keep_logs: contract.keep_logs,
            ..State::default()
        }));
        let changed = Arc::new(Notify::new());
        let (st, ch, ct) = (state.clone(), changed.clone(), contract.clone());
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (st, ch, ct) = (st.clone(), ch.clone(), ct.clone());
                tokio::spawn(async move {
                    let svc =
                        service_fn(move |req| handle(req, st.clone(), ch.clone(), ct.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            contract,
            state,
            changed,
            server,
        }
    }

    /// Base URL for `DD_URL` (with `DD_NO_SSL=true`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn api_key(&self) -> &str {
        &self.contract.api_key
    }

    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Drops the scripted faults not used yet.
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Every request gets `fault` until `None` is set.
    pub fn set_down(&self, fault: Option<Fault>) {
        self.state.lock().unwrap().down = fault;
    }

    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.state.lock().unwrap().chaos = chaos;
    }

    /// How many faults were injected so far.
    pub fn injected_faults(&self) -> usize {
        self.state.lock().unwrap().injected
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every accepted log, in the order of the requests that carried them.
    pub fn accepted_logs(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .accepted
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    pub fn accepted_batches(&self) -> Vec<Vec<Value>> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// How many logs were accepted, kept or not.
    pub fn accepted_count(&self) -> usize {
        self.state.lock().unwrap().accepted_count
    }

    /// Ids of the logs the intake answered 400 or 413 when sent alone: the
    /// only ones a forwarder may dead-letter.
    pub fn refused_alone(&self) -> Vec<String> {
        self.state.lock().unwrap().refused_alone.clone()
    }

    pub fn oversize_logs(&self) -> usize {
        self.state.lock().unwrap().oversize_logs
    }

    /// Waits until `n` logs were accepted (a guard timeout, not a sleep).
    pub async fn wait_for_logs(&self, n: usize) {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                if self.accepted_logs().len() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "intake got {} logs, expected {n}",
                    self.accepted_logs().len()
                )
            });
    }
}

/// An answer's body: whole, or streamed (the body faults).
type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

fn answer(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body.to_owned()))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap()
}

fn faulty_body(fault: BodyFault) -> Body {
    use futures_util::StreamExt;
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    let frames: futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, std::io::Error>> =
        match fault {
            BodyFault::Slow(every) => futures_util::stream::unfold((), move |()| async move {
                tokio::time::sleep(every).await;
                Some((Ok(Frame::data(Bytes::from_static(b" "))), ()))
            })
            .boxed(),
            BodyFault::Endless => {
                let chunk = Bytes::from(vec![b'{'; 64 * 1024]);
                futures_util::stream::repeat_with(move || Ok(Frame::data(chunk.clone()))).boxed()
            }
            BodyFault::Garbage => {
                let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 131 % 251) as u8 | 0x80).collect();
                futures_util::stream::once(async move { Ok(Frame::data(Bytes::from(garbage))) })
                    .boxed()
            }
        };
    BodyExt::boxed_unsync(StreamBody::new(frames))
}

fn error_body(status: u16, detail: &str) -> String {
    serde_json::json!({"errors": [{"status": status.to_string(), "detail": detail}]}).to_string()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    contract: IntakeContract,
) -> Result<Response<Body>, std::io::Error> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut seen = SeenRequest {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        status: 0,
        content_encoding: header("content-encoding"),
        content_type: header("content-type"),
        origin: header("dd-evp-origin"),
        origin_version: header("dd-evp-origin-version"),
        api_key: header("dd-api-key"),
        storage_tag: header("dd-storage-tag"),
        wire_bytes: 0,
        body_bytes: 0,
        entries: 0,
    };
    let path_ok = req.method() == hyper::Method::POST && req.uri().path() == "/api/v2/logs";
    let wire = req
        .into_body()
        .collect()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .to_bytes();
    seen.wire_bytes = wire.len();

    let fault = {
        let mut st = state.lock().unwrap();
        let st = &mut *st;
        let fault = st
            .faults
            .pop_front()
            .or_else(|| st.down.clone())
            .or_else(|| {
                let chaos = st.chaos.as_mut()?;
                (chaos.rng.f64() < chaos.rate)
                    .then(|| chaos.faults[chaos.rng.usize(..chaos.faults.len())].clone())
            });
        st.injected += usize::from(fault.is_some());
        fault
    };
    let (response, accepted) = match fault {
        Some(Fault::Reset) => {
            seen.status = 0;
            record(&state, &changed, seen, None, 0);
            return Err(std::io::Error::other("injected connection reset"));
        }
        Some(Fault::Status(s)) => (answer(s, &error_body(s, "injected")), None),
        Some(Fault::StatusRetryAfter(s, secs)) => {
            let mut r = answer(s, &error_body(s, "injected"));
            r.headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
            (r, None)
        }
        Some(Fault::Redirect(s)) => {
            let mut r = answer(s, "");
            r.headers_mut()
                .insert("location", "/elsewhere".parse().unwrap());
            (r, None)
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            judge(&contract, &mut seen, &wire)
        }
        Some(Fault::Body { status: None, body }) => {
            let (r, accepted) = judge(&contract, &mut seen, &wire);
            let (parts, _) = r.into_parts();
            (Response::from_parts(parts, faulty_body(body)), accepted)
        }
        Some(Fault::Body {
            status: Some(s),
            body,
        }) => {
            let (parts, _) = answer(s, "").into_parts();
            (Response::from_parts(parts, faulty_body(body)), None)
        }
        None => judge(&contract, &mut seen, &wire),
    };
    let response = match (path_ok, seen.path.as_str()) {
        (true, _) => response,
        // The target of `Fault::Redirect`: a client that follows it would
        // see a success while nothing was delivered.
        (false, "/elsewhere") => answer(200, "{}"),
        (false, _) => answer(404, &error_body(404, "not found")),
    };
    seen.status = response.status().as_u16();
    if matches!(seen.status, 400 | 413)
        && let Some(id) = single_log_id(seen.content_encoding.as_deref(), &wire)
    {
        state.lock().unwrap().refused_alone.push(id);
    }
    let (accepted, oversize) = match accepted {
        Some((logs, oversize)) if seen.status == 202 => (Some(logs), oversize),
        _ => (None, 0),
    };
    record(&state, &changed, seen, accepted, oversize);
    Ok(response)
}

fn record(
    state: &Mutex<State>,
    changed: &Notify,
    seen: SeenRequest,
    accepted: Option<Vec<Value>>,
    oversize: usize,
) {
    let mut st = state.lock().unwrap();
    st.requests.push(seen);
    st.oversize_logs += oversize;
    if let Some(logs) = accepted {
        st.accepted_count += logs.len();
        if st.keep_logs {
            st.accepted.push(logs);
        }
    }
    drop(st);
    changed.notify_waiters();
}

type Judged = (Response<Body>, Option<(Vec<Value>, usize)>);

/// The intake's rules, in the order the real one applies them.
fn judge(contract: &IntakeContract, seen: &mut SeenRequest, wire: &[u8]) -> Judged {
    if seen.api_key.as_deref() != Some(contract.api_key.as_str()) {
        return (answer(403, &error_body(403, "Forbidden")), None);
    }
    if wire.len() > contract.max_body_bytes {
        return (answer(413, &error_body(413, "payload too large")), None);
    }
    if seen
        .content_type
        .as_deref()
        .map(|t| t.starts_with("application/json"))
        != Some(true)
    {
        return (
            answer(
                400,
                &error_body(400, "content-type must be application/json"),
            ),
            None,
        );
    }
    if let Some((refused, status)) = contract.refuse_encoding
        && seen.content_encoding.as_deref() == Some(refused)
    {
        return (
            answer(status, &error_body(status, "unsupported content encoding")),
            None,
        );
    }
    let body = match seen.content_encoding.as_deref() {
        None | Some("identity") => Ok(wire.to_vec()),
        Some("gzip") => inflate(
            flate2::read::MultiGzDecoder::new(wire),
            contract.max_body_bytes,
        ),
        Some("deflate") => inflate(
            flate2::read::ZlibDecoder::new(wire),
            contract.max_body_bytes,
        ),
        // Not in the public API documentation, but the intake takes it
        // (Datadog's agents send it).
        Some("zstd") => match zstd::stream::read::Decoder::new(wire) {
            Ok(decoder) => inflate(decoder, contract.max_body_bytes),
            Err(_) => Err(400),
        },
        Some(_) => Err(400),
    };
    let body = match body {
        Ok(b) => b,
        Err(status) => {
            return (
                answer(status, &error_body(status, "cannot decode body")),
                None,
            );
        }
    };
    seen.body_bytes = body.len();
    if body.len() > contract.max_body_bytes {
        return (answer(413, &error_body(413, "payload too large")), None);
    }
    let logs: Vec<Value> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) if items.iter().all(Value::is_object) => items,
        Ok(obj @ Value::Object(_)) => vec![obj],
        _ => {
            return (
                answer(
                    400,
                    &error_body(400, "body is not a JSON array of log objects"),
                ),
                None,
            );
        }
    };
    seen.entries = logs.len();
    if logs.len() > contract.max_entries {
        return (answer(413, &error_body(413, "too many entries")), None);
    }
    let poisoned = |l: &Value| {
        let poison = contract.poison.as_deref();
        poison.is_some_and(|p| l["message"].as_str().is_some_and(|m| m.contains(p)))
    };
    if logs.iter().any(poisoned) {
        return (answer(400, &error_body(400, "malformed log")), None);
    }
    // The real intake truncates a log over the limit; count them so tests
    // can assert the forwarder never sends one.
    // Sizes as sent (escapes included), not as re-serialized.
    let raw: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(&body).unwrap_or_default();
    let oversize = raw
        .iter()
        .filter(|l| l.get().len() > contract.max_log_bytes)
        .count();
    (answer(202, "{}"), Some((logs, oversize)))
}

/// The `id` of the one log in a request body, if it holds exactly one;
/// read without decoding the rest (it may not decode).
fn single_log_id(encoding: Option<&str>, wire: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    let body = match encoding {
        Some("gzip") => inflate(flate2::read::MultiGzDecoder::new(wire), 10_000_000).ok()?,
        Some("zstd") => inflate(zstd::stream::read::Decoder::new(wire).ok()?, 10_000_000).ok()?,
        Some("deflate") => inflate(flate2::read::ZlibDecoder::new(wire), 10_000_000).ok()?,
        _ => wire.to_vec(),
    };
    let logs: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&body).ok()?;
    match logs.as_slice() {
        [one] => serde_json::from_str::<IdOnly>(one.get()).ok().map(|l| l.id),
        _ => None,
    }
}

fn inflate(mut reader: impl Read, max: usize) -> Result<Vec<u8>, u16> {
    let mut out = Vec::new();
    match reader.by_ref().take(max as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > max => Err(413),
        Ok(_) => Ok(out),
        Err(_) => Err(400),
    }
}
