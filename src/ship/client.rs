//! One POST to the intake: the only place that touches HTTP.

use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::retry::parse_retry_after;
use crate::api_key::ApiKey;
use crate::batch::IntakeBatch;
use crate::limits;
use crate::proxy::ProxySettings;
use crate::{FORWARDER_NAME, FORWARDER_VERSION};

/// How request bodies are encoded (`DD_USE_COMPRESSION`, `DD_COMPRESSION`,
/// `DD_COMPRESSION_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    Identity,
    /// gzip, with libdeflate: whole buffers, faster than zlib at the same
    /// level for the same or fewer bytes (BENCHMARKS.md).
    Gzip {
        level: u8,
    },
    /// zstd: the intake takes it in practice (Datadog's own agents send it)
    /// though its public API documents only gzip and deflate.
    Zstd {
        level: i32,
    },
}

impl BodyEncoding {
    /// The `Content-Encoding` header for it, if any.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            BodyEncoding::Identity => None,
            BodyEncoding::Gzip { .. } => Some("gzip"),
            BodyEncoding::Zstd { .. } => Some("zstd"),
        }
    }
}

/// A request body as it goes on the wire, and the encoding actually applied
/// to it: the `Content-Encoding` header is derived from this, never from
/// configuration.
#[derive(Debug, Clone)]
pub struct EncodedBody {
    pub bytes: Bytes,
    pub encoding: BodyEncoding,
}

impl EncodedBody {
    /// Encodes `batch`. Compression of a buffer in memory cannot fail; if a
    /// library ever said otherwise the body goes uncompressed (and says so
    /// in its header) rather than not at all.
    pub fn encode(batch: &IntakeBatch, encoding: BodyEncoding) -> Self {
        let body = batch.body();
        let compressed = match encoding {
            BodyEncoding::Identity => None,
            BodyEncoding::Gzip { level } => gzip(body, level),
            BodyEncoding::Zstd { level } => zstd::bulk::compress(body, level).ok(),
        };
        match compressed {
            Some(bytes) => Self {
                bytes: Bytes::from(bytes),
                encoding,
            },
            None => Self {
                bytes: Bytes::copy_from_slice(body),
                encoding: BodyEncoding::Identity,
            },
        }
    }
}

fn gzip(body: &[u8], level: u8) -> Option<Vec<u8>> {
    let level = libdeflater::CompressionLvl::new(i32::from(level)).ok()?;
    let mut compressor = libdeflater::Compressor::new(level);
    let mut out = vec![0; compressor.gzip_compress_bound(body.len())];
    let n = compressor.gzip_compress(body, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The intake answered.
    Answered {
        status: u16,
        retry_after: Option<Duration>,
        /// The start of the answer's body, for rejected logs only.
        answer: String,
    },
    /// No answer: connection refused or reset, TLS failure, or timeout.
    Transport { kind: TransportFailure },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    Timeout,
    Connect,
    Other,
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportFailure::Timeout => "timeout",
            TransportFailure::Connect => "connection failed",
            TransportFailure::Other => "transport error",
        })
    }
}

/// Sends one encoded body. A trait so the retry logic can be driven by a
/// scripted transport under paused time; production uses [`IntakeClient`].
pub trait Transport: Send + Sync {
    fn post(
        &self,
        body: &EncodedBody,
        timeout: Duration,
    ) -> impl Future<Output = AttemptOutcome> + Send;
}

/// Where and how requests go.
#[derive(Debug, Clone)]
pub struct IntakeTarget {
    /// The full URL of the logs endpoint.
    pub url: String,
    pub api_key: ApiKey,
    /// The `DD-STORAGE-TAG` header: `s3,cloudwatch`, `s3`, `cloudwatch`.
    pub storage_tag: Option<&'static str>,
    pub proxy: ProxySettings,
}

/// The HTTP client for the logs intake, built once and reused across warm
/// invocations (its connection pool survives between them).
#[derive(Debug, Clone)]
pub struct IntakeClient {
    http: reqwest::Client,
    url: String,
    api_key: ApiKey,
    storage_tag: Option<&'static str>,
}

impl IntakeClient {
    /// The client for `settings`' endpoint with `api_key`, through `proxy`.
    pub fn for_settings(
        settings: &super::IntakeSettings,
        api_key: ApiKey,
        proxy: &ProxySettings,
    ) -> Result<Self, reqwest::Error> {
        Self::new(IntakeTarget {
            url: settings.url.clone(),
            api_key,
            storage_tag: settings.storage_tag,
            proxy: proxy.clone(),
        })
    }

    pub fn new(target: IntakeTarget) -> Result<Self, reqwest::Error> {
        let builder = reqwest::Client::builder()
            .user_agent(format!("{FORWARDER_NAME}/{FORWARDER_VERSION}"))
            .connect_timeout(limits::CONNECT_TIMEOUT)
            .pool_idle_timeout(limits::POOL_IDLE_TIMEOUT)
            // Never follow a redirect: reqwest would turn the POST into a
            // body-less GET (logs lost while the answer looks like success),
            // or re-send the API key to whatever host the redirect names.
            // A 3xx is classified as a refusal instead.
            .redirect(reqwest::redirect::Policy::none());
        let http = target.proxy.apply_to_reqwest(builder)?.build()?;
        Ok(Self {
            http,
            url: target.url,
            api_key: target.api_key,
            storage_tag: target.storage_tag,
        })
    }
}

impl Transport for IntakeClient {
    async fn post(&self, body: &EncodedBody, timeout: Duration) -> AttemptOutcome {
        let mut request = self
            .http
            .post(&self.url)
            .timeout(timeout)
            .header("DD-API-KEY", self.api_key.expose())
            .header("Content-Type", "application/json")
            .header("DD-EVP-ORIGIN", FORWARDER_NAME)
            .header("DD-EVP-ORIGIN-VERSION", FORWARDER_VERSION);
        if let Some(encoding) = body.encoding.content_encoding() {
            request = request.header("Content-Encoding", encoding);
        }
        if let Some(tag) = self.storage_tag {
            request = request.header("DD-STORAGE-TAG", tag);
        }
        let response = match request.body(body.bytes.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                return AttemptOutcome::Transport {
                    kind: transport_failure(&e),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Only rejected logs need the answer. The body is read up to a small
        // cap whatever the status: an endless answer must not fill memory.
        // Its own short time, too: the status is already the answer, and a
        // stalled body must not hold the attempt to its request timeout.
        let read = tokio::time::timeout(
            limits::INTAKE_ANSWER_READ_TIMEOUT,
            read_capped(response, limits::MAX_INTAKE_RESPONSE_BYTES),
        )
        .await
        .unwrap_or_else(|_| Ok(Vec::new()));
        let answer = match read {
            Ok(b) if status == 400 => {
                String::from_utf8_lossy(&b[..b.len().min(limits::MAX_INTAKE_ANSWER_BYTES)])
                    .into_owned()
            }
            Ok(_) => String::new(),
            Err(e) => {
                // The status is the answer: a body that stalls or breaks
                // after it changes nothing (after a 2xx the logs are in;
                // a 400 is still split, a 403 still refused).
                tracing::debug!(status, error = %e, "reading the intake's answer failed");
                String::new()
            }
        };
        AttemptOutcome::Answered {
            status,
            retry_after,
            answer,
        }
    }
}

/// The first `cap` bytes of a response body. The rest is never read: the
/// response is dropped, which closes its connection rather than draining it.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while body.len() < cap {
        match response.chunk().await? {
            Some(chunk) => {
                let take = chunk.len().min(cap - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            None => break,
        }
    }
    Ok(body)
}

fn transport_failure(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Other
    }
}
