//! Every limit the forwarder works within, with where it comes from.
//!
//! The logic takes these as parameters (see `BatchLimits`, `ShipOptions`,
//! `RetryPolicy`, `Config::max_decompressed_bytes`), so tests reach the edges
//! with small numbers; the constants here are only the defaults.

use std::time::Duration;

/// Most log objects in one request to `POST /api/v2/logs`.
///
/// Source: Datadog "Send logs" API reference, v2 ("Maximum array size if
/// sending multiple logs in an array: 1000 entries"), checked 2026-11-26.
pub const MAX_ENTRIES_PER_REQUEST: usize = 1_000;

/// Most bytes of uncompressed body in one request.
///
/// Source: the same page ("Maximum content size per payload (uncompressed):
/// 5MB"). The intake counts decimal megabytes, so 5,000,000, not 5 MiB: a body
/// of 5 MiB would get a 413. The batcher counts every byte it frames
/// (brackets and commas), so no margin is needed on top.
pub const MAX_REQUEST_BODY_BYTES: usize = 5_000_000;

/// Most bytes of one serialized log object.
///
/// Source: the same page ("Maximum size for a single log: 1MB"). Past it the
/// intake cuts the log wherever the byte count falls, which can break the
/// JSON of an audit event; the forwarder shrinks such logs itself
/// (`crate::audit::shrink`) so they arrive whole and parseable.
pub const MAX_LOG_BYTES: usize = 1_000_000;

/// Default cap on the decompressed size of one subscription payload.
///
/// CloudWatch Logs delivers at most about 1 MB of compressed data per
/// invocation; audit JSON compresses 10-20x, so real payloads stay well under
/// this. Anything larger is a gzip bomb or a misrouted event and is refused
/// before it can exhaust the function's memory. Configurable with
/// `DD_MAX_DECOMPRESSED_BYTES`.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// How many requests of one invocation are in flight at once.
///
/// Small on purpose: a 128 MB function has a fraction of a vCPU, and the
/// intake rate-limits bursts; four overlaps the network wait without piling up
/// compressed bodies in memory.
pub const MAX_CONCURRENT_REQUESTS: usize = 4;

/// Time kept free before the Lambda deadline: retries stop when the next
/// attempt could not finish before `deadline - margin`, so the function can
/// still report its outcome instead of being killed mid-request.
pub const DEADLINE_SAFETY_MARGIN: Duration = Duration::from_millis(1_000);

/// Longest a single POST may take before it counts as a transport failure
/// (and is retried). Capped further by the time left before the deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a TCP and TLS connection set-up may take. The intake answers in
/// tens of milliseconds from inside AWS; past this the host is unreachable
/// and the attempt counts as a transport failure.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle connection to the intake is kept between invocations.
/// Under the 60 s idle timeout that AWS load balancers use by default, so a
/// warm invocation is unlikely to reuse a connection the server side has
/// already closed (and if it does, the attempt is retried).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Most bytes of an intake's error answer kept with the logs it rejected
/// (dead letters). The answer can echo the payload, so it is never logged.
pub const MAX_INTAKE_ANSWER_BYTES: usize = 512;

/// Most bytes of any intake response body read. Datadog answers `{}` on 202
/// and a short `{"errors":[...]}` otherwise; the rest of a longer body is
/// not read (the connection is closed instead of reused), so an endpoint
/// that streams an endless answer costs 8 KiB, not the function's memory.
pub const MAX_INTAKE_RESPONSE_BYTES: usize = 8 * 1024;

/// Largest `Retry-After` taken at its word. A larger value (or an absurd
/// one) is capped: the deadline ends retries long before anyway.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// Time budget of a local `invoke` run: the default Lambda timeout.
pub const LOCAL_INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);

/// First retry delay ceiling; doubles per attempt up to `RETRY_MAX_DELAY`.
pub const RETRY_BASE_DELAY: Duration = Duration::from_millis(200);

/// Largest retry delay ceiling (full jitter picks a delay in `[0, ceiling]`).
pub const RETRY_MAX_DELAY: Duration = Duration::from_secs(8);

/// Longest the body of an intake answer is read once its status is in.
/// Datadog's answers are a few bytes sent with the headers; a body that
/// stalls past this is abandoned (its connection closed) and the status
/// stands.
pub const INTAKE_ANSWER_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Least time an attempt must have before the retry stop to be worth
/// making: a connection set-up and a body upload from inside AWS take well
/// under this. Retries go on, with capped backoff, for as long as the time
/// left allows the next delay plus this; the deadline ends them, not a count
/// (an intake down for minutes must not fail an invocation after seconds).
pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(1_000);

/// Most requests spent on the halves of one batch split after a 400 or a
/// 413, and on tries of the fallback encoding after a 400 or 415 to a zstd
/// body (one each). Isolating one bad log in a full 1,000-log batch takes
/// 2 x 10 requests (plus one try of gzip while zstd is unproven); this
/// isolates two. Past it, a half answered 400 or 413 is kept to send again
/// (`KeptBack`), so an intake that refuses everything costs tens of
/// requests per batch, not two per log.
pub const MAX_ISOLATION_REQUESTS: u32 = 40;

/// Most characters of an invocation's `errorMessage`: Lambda keeps it in its
/// logs and on-failure records, and it must never carry the payload.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 900;

/// With `DD_STORE_FAILED_EVENTS`, time kept free before the deadline (on top
/// of `DEADLINE_SAFETY_MARGIN`) to write what failed to S3: retries stop this
/// much earlier, so a batch that exhausts them can still be kept.
pub const SPILL_RESERVE: Duration = Duration::from_secs(3);

/// Bytes kept free under `MAX_LOG_BYTES` when a log is shrunk: a replayed
/// log gains `,retry:true` (11 bytes) in its `ddtags`.
pub const REPLAY_TAG_ROOM: usize = 16;

/// S3 writes must finish this long before the deadline, so the function can
/// still report its outcome: its metrics line and its answer to the Runtime
/// API, on the small CPU share of a 128 MB function.
pub const SPILL_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Most stored objects one invocation replays. Each holds at most one
/// request's worth of logs; the schedule and later invocations do the rest.
pub const MAX_REPLAY_OBJECTS: usize = 20;

/// Replay starts on an object only with at least this much time left before
/// the retry stop, so a replayed batch gets a fair number of attempts.
pub const MIN_REPLAY_TIME: Duration = Duration::from_secs(2);

/// `DD_TAGS_CACHE_TTL_SECONDS` default: how long a log group's tags are
/// reused before they are read again (the Datadog Forwarder's default too).
pub const DEFAULT_TAGS_CACHE_TTL: Duration = Duration::from_secs(300);

/// Longest a `ListTagsForResource` call may take, retries included. Tags are
/// an extra; forwarding goes on without them after this.
pub const TAGS_FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest TCP and TLS set-up of an AWS API call (S3, Secrets Manager, SSM,
/// CloudWatch Logs). Regional endpoints answer in milliseconds from Lambda.
pub const AWS_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest single attempt of an AWS API call: a few megabytes to S3 take
/// well under a second from Lambda. Past it the SDK retries (standard
/// mode: 3 attempts), within the operation's bound.
pub const AWS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest AWS API call, retries included, when no invocation deadline is
/// nearer: at start-up (the API key) and as the default of every client.
/// Within an invocation each call is bounded by the time left as well.
pub const AWS_OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// Longest the API key fetch may take at start-up, retries included:
/// Lambda gives the init phase 10 s in all.
pub const API_KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(6);

/// Longest the replay listing may take, retries included. It runs after an
/// invocation's own work; an S3 endpoint that accepts connections and
/// never answers must cost this, not the rest of the invocation.
pub const REPLAY_LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest the read of one stored object for replay may take. Replay is
/// opportunistic: an S3 that lists but then stalls costs a delivered
/// invocation this per object, not the rest of its time.
pub const REPLAY_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest stored object replay reads, compressed or not. The forwarder
/// writes one request body per object (at most `MAX_REQUEST_BODY_BYTES`,
/// plus the `retry:true` tags of a replayed batch); anything larger was
/// put there by hand, and is moved to dead letters rather than read.
pub const MAX_STORED_OBJECT_BYTES: usize = 3 * MAX_REQUEST_BODY_BYTES;

/// Compressed bytes of an S3 object fed to the decompressor at a time. A
/// deflate stream inflates at most ~1032x, so one feed adds at most ~8 MB.
pub const S3_FEED_BYTES: usize = 8 * 1024;

/// Closed batches held before they are shipped while more are built (a
/// large document, an S3 object), so memory stays at a few request bodies
/// whatever the input's size. Two: each 5 MB body held costs RSS, and on a
/// small function compressing a batch (~0.3 s of a 128 MB function's CPU
/// share) takes longer than the intake takes to answer, so more requests
/// in flight would not ship faster.
pub const BATCHES_IN_FLIGHT: usize = 2;

/// gzip level by default: the Datadog Forwarder's, so no more bytes go on
/// the wire than with it; libdeflate spends less CPU on it than zlib does.
pub const DEFAULT_GZIP_LEVEL: u8 = 6;

/// zstd level by default (`DD_COMPRESSION=zstd`): level 1 already takes
/// fewer bytes than gzip 6 at a fifth of its CPU (BENCHMARKS.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;
