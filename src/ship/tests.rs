//! The shipper's decisions under paused time: exact delays, deadline, splits.
//! The real HTTP transport is exercised against the intake emulator in
//! `tests/`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// A transport that answers from a script and records what it was sent.
struct Scripted<F> {
    respond: F,
    start: Instant,
    /// (time since start, ids of the logs in the body)
    calls: Mutex<Vec<(Duration, Vec<u64>)>>,
    /// How long each request stays in flight (zero: answers at once).
    hold: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl<F> Scripted<F>
where
    F: Fn(usize, &[u64]) -> AttemptOutcome + Send + Sync,
{
    fn new(respond: F) -> Self {
        Self {
            respond,
            start: Instant::now(),
            calls: Mutex::new(Vec::new()),
            hold: Duration::ZERO,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    fn call_times_ms(&self) -> Vec<u128> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.as_millis())
            .collect()
    }

    fn call_ids(&self) -> Vec<Vec<u64>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, ids)| ids.clone())
            .collect()
    }
}

impl<F> Transport for Scripted<F>
where
    F: Fn(usize, &[u64]) -> AttemptOutcome + Send + Sync,
{
    async fn post(&self, body: &EncodedBody, _timeout: Duration) -> AttemptOutcome {
        assert_eq!(
            body.encoding,
            BodyEncoding::Identity,
            "tests send uncompressed bodies"
        );
        let logs: Vec<serde_json::Value> = serde_json::from_slice(&body.bytes).unwrap();
        let ids: Vec<u64> = logs.iter().map(|l| l["i"].as_u64().unwrap()).collect();
        let n = {
            let mut calls = self.calls.lock().unwrap();
            calls.push((self.start.elapsed(), ids.clone()));
            calls.len() - 1
        };
        if !self.hold.is_zero() {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.hold).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        (self.respond)(n, &ids)
    }
}

fn status(code: u16) -> AttemptOutcome {
    AttemptOutcome::Answered {
        status: code,
        retry_after: None,
        answer: String::new(),
    }
}

fn batch(ids: std::ops::Range<u64>) -> IntakeBatch {
    let logs: Vec<Vec<u8>> = ids.map(|i| format!("{{\"i\":{i}}}").into_bytes()).collect();
    IntakeBatch::from_logs(logs.iter().map(Vec::as_slice))
}

fn options() -> ShipOptions {
    ShipOptions {
        encoding: BodyEncoding::Identity,
        fallback: None,
        retry: RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
            min_attempt_time: Duration::ZERO,
            jitter: false,
        },
        max_concurrent_requests: 1,
        request_timeout: Duration::from_secs(5),
        deadline_margin: Duration::from_secs(1),
        isolation_requests: limits::MAX_ISOLATION_REQUESTS,
    }
}

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

#[tokio::test(start_paused = true)]
async fn retries_with_exponential_backoff_then_delivers() {
    let t = Scripted::new(|n, _| if n < 3 { status(503) } else { status(202) });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..3)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 3);
    assert_eq!(report.retries, 3);
    assert_eq!(report.batches_retried, 1);
    assert!(report.failed.is_empty());
    assert_eq!(shipper.transport.call_times_ms(), vec![0, 100, 300, 700]);
    assert_eq!(report.error_statuses.get(&503), Some(&3));
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let t = Scripted::new(|n, _| {
        if n == 0 {
            AttemptOutcome::Answered {
                status: 429,
                retry_after: Some(Duration::from_secs(3)),
                answer: String::new(),
            }
        } else {
            status(202)
        }
    });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..1)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 1);
    assert_eq!(shipper.transport.call_times_ms(), vec![0, 3_000]);
}

#[tokio::test(start_paused = true)]
async fn transport_errors_and_every_retryable_status_are_retried() {
    let script = [408, 429, 500, 502, 503, 504];
    let t = Scripted::new(move |n, _| match n {
        0 => AttemptOutcome::Transport {
            kind: TransportFailure::Connect,
        },
        n if n <= script.len() => status(script[n - 1]),
        _ => status(202),
    });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..2)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 2);
    assert_eq!(report.requests, 8);
    assert_eq!(report.transport_errors, 1);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_before_the_deadline_margin() {
    let t = Scripted::new(|_, _| status(500));
    let shipper = Shipper::new(t, options());
    let start = Instant::now();
    // 2.5 s to the deadline, 1 s margin: attempts at 0, 100, 300, 700 ms;
    // the next would be at 1,500 ms, which is past the 1,500 ms stop.
    let report = shipper
        .deliver(vec![batch(0..4)], start + Duration::from_millis(2_500))
        .await;
    assert_eq!(shipper.transport.call_times_ms(), vec![0, 100, 300, 700]);
    assert!(Instant::now() - start < Duration::from_millis(1_500));
    assert_eq!(report.delivered_logs, 0);
    assert_eq!(report.failed_logs(), 4);
    assert_eq!(
        report.failed[0].reason,
        FailureReason::Exhausted {
            attempts: 4,
            last: LastFailure::Status(500)
        }
    );
}

/// Regression: retries stopped after 8 attempts, about 14 s into a 120 s
/// deadline, so an outage of a minute failed the invocation.
#[tokio::test(start_paused = true)]
async fn retries_go_on_until_the_deadline_not_for_a_count() {
    // The production policy, jitter off: 11 failures take about 43 s.
    let opts = ShipOptions {
        retry: RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        },
        ..options()
    };
    let t = Scripted::new(|n, _| {
        if n < 11 {
            AttemptOutcome::Transport {
                kind: TransportFailure::Timeout,
            }
        } else {
            status(202)
        }
    });
    let shipper = Shipper::new(t, opts);
    let start = Instant::now();
    let report = shipper
        .deliver(vec![batch(0..3)], start + Duration::from_secs(120))
        .await;
    assert_eq!(report.delivered_logs, 3);
    assert_eq!(report.requests, 12);
    assert!(report.failed.is_empty());

    // Down for good: attempts go on until the next one would not fit
    // before the stop (120 s - 1 s margin) with its minimum time.
    let t = Scripted::new(|_, _| status(503));
    let shipper = Shipper::new(t, opts);
    let start = Instant::now();
    let report = shipper
        .deliver(vec![batch(0..3)], start + Duration::from_secs(120))
        .await;
    let times = shipper.transport.call_times_ms();
    let last = *times.last().unwrap();
    // 200, 400, ..., 6,400, then 8,000 per retry: the last attempt starts
    // within one delay plus the minimum attempt time of the stop.
    assert!(times.len() > 15, "{times:?}");
    assert!(last + 8_000 + 1_000 >= 119_000, "{times:?}");
    assert!(Instant::now() - start < Duration::from_secs(119));
    let FailureReason::Exhausted { attempts, last } = &report.failed[0].reason else {
        panic!("{:?}", report.failed[0].reason);
    };
    assert_eq!(*attempts as usize, times.len());
    assert_eq!(*last, LastFailure::Status(503));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_the_time_left_ends_retries_at_once() {
    let t = Scripted::new(|_, _| AttemptOutcome::Answered {
        status: 429,
        retry_after: Some(Duration::from_secs(30)),
        answer: String::new(),
    });
    let shipper = Shipper::new(t, options());
    let start = Instant::now();
    let report = shipper
        .deliver(vec![batch(0..1)], start + Duration::from_secs(20))
        .await;
    assert_eq!(report.requests, 1);
    assert_eq!(Instant::now(), start);
    assert_eq!(report.failed_logs(), 1);
}

#[tokio::test(start_paused = true)]
async fn no_attempt_after_the_deadline() {
    let t = Scripted::new(|_, _| status(202));
    let shipper = Shipper::new(t, options());
    let report = shipper
        .deliver(
            vec![batch(0..2)],
            Instant::now() + Duration::from_millis(500),
        )
        .await;
    assert_eq!(report.requests, 0);
    assert_eq!(
        report.failed[0].reason,
        FailureReason::Exhausted {
            attempts: 0,
            last: LastFailure::Deadline
        }
    );
}

#[tokio::test(start_paused = true)]
async fn payload_too_large_splits_in_half() {
    // The "intake" takes at most 2 logs per request.
    let t = Scripted::new(|_, ids| {
        if ids.len() > 2 {
            status(413)
        } else {
            status(202)
        }
    });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..5)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 5);
    assert!(report.failed.is_empty());
    assert_eq!(
        shipper.transport.call_ids(),
        vec![
            vec![0, 1, 2, 3, 4],
            vec![0, 1],
            vec![2, 3, 4],
            vec![2],
            vec![3, 4]
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn bad_request_isolates_the_rejected_log_and_delivers_the_rest() {
    let t = Scripted::new(|_, ids| {
        if ids.contains(&5) {
            AttemptOutcome::Answered {
                status: 400,
                retry_after: None,
                answer: "{\"errors\":[\"bad log\"]}".into(),
            }
        } else {
            status(202)
        }
    });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..8)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 7);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(
        report.failed[0].batch.logs().collect::<Vec<_>>(),
        vec![b"{\"i\":5}".as_slice()]
    );
    assert_eq!(
        report.failed[0].reason,
        FailureReason::Rejected {
            answer: "{\"errors\":[\"bad log\"]}".into()
        }
    );
    // log2(8) rounds of halving: 1 + 2 + 2 + 2 requests.
    assert_eq!(report.requests, 7);
}

/// Regression: an intake answering 400 to everything (an encoding it does
/// not take, say) made isolation send about two requests per log.
#[tokio::test(start_paused = true)]
async fn isolation_has_a_budget_when_every_log_is_rejected() {
    let t = Scripted::new(|_, _| AttemptOutcome::Answered {
        status: 400,
        retry_after: None,
        answer: "nope".into(),
    });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..1_000)], far_deadline()).await;
    // The first request and the budget's 40 for the halves.
    assert_eq!(report.requests, 41);
    assert_eq!(report.delivered_logs, 0);
    assert_eq!(report.failed_logs(), 1_000, "every log is accounted for");
    // Isolated singles are rejected; the halves left when the budget ran
    // out are kept back to send again, not dead-lettered.
    let logs_where = |f: fn(&FailureReason) -> bool| -> usize {
        report
            .failed
            .iter()
            .filter(|b| f(&b.reason))
            .map(|b| b.batch.len())
            .sum()
    };
    let rejected = logs_where(|r| matches!(r, FailureReason::Rejected { .. }));
    let kept_back = logs_where(|r| matches!(r, FailureReason::KeptBack { status: 400 }));
    assert!(rejected > 0 && rejected < 20, "{rejected}");
    assert_eq!(rejected + kept_back, 1_000);
    assert_eq!(
        report
            .failed
            .iter()
            .filter(|f| matches!(f.reason, FailureReason::KeptBack { .. }))
            .count(),
        1,
        "the halves kept back go back as one batch"
    );
    let failures = report.failures().unwrap();
    assert_eq!(failures.kept_back, kept_back);
    assert!(
        failures
            .to_string()
            .contains("still answered HTTP 400 when the isolation budget ran out"),
        "{failures}"
    );
    // Same for 413 on everything.
    let t = Scripted::new(|_, _| status(413));
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..1_000)], far_deadline()).await;
    assert_eq!(report.requests, 41);
    assert_eq!(report.failed_logs(), 1_000);
}

#[tokio::test(start_paused = true)]
async fn the_budget_still_isolates_two_bad_logs_in_a_full_batch() {
    let t = Scripted::new(|_, ids| {
        if ids.contains(&17) || ids.contains(&933) {
            status(400)
        } else {
            status(202)
        }
    });
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..1_000)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 998);
    let rejected: Vec<&[u8]> = report.failed.iter().flat_map(|f| f.batch.logs()).collect();
    assert_eq!(rejected, vec![b"{\"i\":17}".as_slice(), b"{\"i\":933}"]);
}

#[tokio::test(start_paused = true)]
async fn unauthorized_is_not_retried() {
    for code in [401, 403] {
        let t = Scripted::new(move |_, _| status(code));
        let shipper = Shipper::new(t, options());
        let report = shipper.deliver(vec![batch(0..3)], far_deadline()).await;
        assert_eq!(report.requests, 1);
        assert_eq!(
            report.failed[0].reason,
            FailureReason::Unauthorized { status: code }
        );
    }
}

#[tokio::test(start_paused = true)]
async fn other_statuses_are_refused_without_retry() {
    let t = Scripted::new(|_, _| status(404));
    let shipper = Shipper::new(t, options());
    let report = shipper.deliver(vec![batch(0..3)], far_deadline()).await;
    assert_eq!(report.requests, 1);
    assert_eq!(
        report.failed[0].reason,
        FailureReason::Refused { status: 404 }
    );
}

#[tokio::test(start_paused = true)]
async fn batches_go_out_concurrently_within_the_bound() {
    let mut t = Scripted::new(|_, _| status(202));
    t.hold = Duration::from_millis(50);
    let mut opts = options();
    opts.max_concurrent_requests = 3;
    let shipper = Shipper::new(t, opts);
    let batches = (0..7).map(|i| batch(i * 10..i * 10 + 10)).collect();
    let report = shipper.deliver(batches, far_deadline()).await;
    assert_eq!(report.delivered_logs, 70);
    let mut firsts: Vec<u64> = shipper
        .transport
        .call_ids()
        .iter()
        .map(|ids| ids[0])
        .collect();
    firsts.sort_unstable();
    assert_eq!(firsts, vec![0, 10, 20, 30, 40, 50, 60]);
    assert_eq!(shipper.transport.max_in_flight.load(Ordering::SeqCst), 3);
}

#[test]
fn encoded_bodies_decode_to_the_batch_and_say_how() {
    let b = batch(0..300);
    for level in [0, 1, 6, 12] {
        let enc = EncodedBody::encode(&b, BodyEncoding::Gzip { level });
        assert_eq!(enc.encoding.content_encoding(), Some("gzip"));
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&enc.bytes[..]), &mut out)
            .unwrap();
        assert_eq!(out, b.body(), "gzip {level}");
    }
    let enc = EncodedBody::encode(&b, BodyEncoding::Zstd { level: 1 });
    assert_eq!(enc.encoding.content_encoding(), Some("zstd"));
    assert!(enc.bytes.len() < b.body().len() / 2);
    assert_eq!(
        zstd::bulk::decompress(&enc.bytes, 1 << 20).unwrap(),
        b.body()
    );
    let plain = EncodedBody::encode(&b, BodyEncoding::Identity);
    assert_eq!(plain.encoding.content_encoding(), None);
    assert_eq!(&plain.bytes[..], b.body());
}

/// A transport that decodes each body, records its encoding and ids, and
/// answers from a script.
struct Encodings<F> {
    respond: F,
    calls: Mutex<Vec<(BodyEncoding, Vec<u64>)>>,
}

impl<F> Transport for Encodings<F>
where
    F: Fn(BodyEncoding, &[u64]) -> AttemptOutcome + Send + Sync,
{
    async fn post(&self, body: &EncodedBody, _timeout: Duration) -> AttemptOutcome {
        let json = match body.encoding {
            BodyEncoding::Zstd { .. } => zstd::decode_all(&body.bytes[..]).unwrap(),
            BodyEncoding::Gzip { .. } => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(&body.bytes[..]),
                    &mut out,
                )
                .unwrap();
                out
            }
            BodyEncoding::Identity => body.bytes.to_vec(),
        };
        let logs: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
        let ids: Vec<u64> = logs.iter().map(|l| l["i"].as_u64().unwrap()).collect();
        self.calls
            .lock()
            .unwrap()
            .push((body.encoding, ids.clone()));
        (self.respond)(body.encoding, &ids)
    }
}

const ZSTD: BodyEncoding = BodyEncoding::Zstd { level: 1 };
const GZIP: BodyEncoding = BodyEncoding::Gzip { level: 6 };

fn zstd_options() -> ShipOptions {
    ShipOptions {
        encoding: ZSTD,
        fallback: Some(GZIP),
        ..options()
    }
}

/// Once the intake has taken a zstd body, a 400 is the logs' fault: no
/// gzip try, straight to isolation.
#[tokio::test(start_paused = true)]
async fn after_zstd_is_taken_a_400_is_not_blamed_on_it() {
    let transport = Encodings {
        respond: |_: BodyEncoding, ids: &[u64]| status(if ids.contains(&5) { 400 } else { 202 }),
        calls: Mutex::new(Vec::new()),
    };
    let shipper = Shipper::new(transport, zstd_options());
    let first = shipper.deliver(vec![batch(0..4)], far_deadline()).await;
    assert_eq!(first.delivered_logs, 4);
    let second = shipper.deliver(vec![batch(4..8)], far_deadline()).await;
    assert_eq!(second.delivered_logs, 3);
    assert_eq!(second.encoding_probes, 0);
    let calls = shipper.transport.calls.lock().unwrap();
    assert!(calls.iter().all(|(e, _)| *e == ZSTD), "{calls:?}");
}

/// An intake that refuses everything: the gzip try is one request of the
/// isolation budget, its halves do not try gzip again, and the attempts
/// already made are kept in the count.
#[tokio::test(start_paused = true)]
async fn a_gzip_try_spends_the_isolation_budget_and_halves_do_not_repeat_it() {
    let transport = Encodings {
        respond: |_: BodyEncoding, _: &[u64]| status(400),
        calls: Mutex::new(Vec::new()),
    };
    let options = ShipOptions {
        isolation_requests: 3,
        ..zstd_options()
    };
    let shipper = Shipper::new(transport, options);
    let report = shipper.deliver(vec![batch(0..4)], far_deadline()).await;
    assert_eq!(report.delivered_logs, 0);
    assert_eq!(report.encoding_probes, 1);
    let calls = shipper.transport.calls.lock().unwrap();
    let encodings: Vec<BodyEncoding> = calls.iter().map(|(e, _)| *e).collect();
    // zstd refused, gzip refused (1 of the budget), split in two (2 more),
    // the halves in zstd, refused, kept back: 4 requests in all.
    assert_eq!(encodings, vec![ZSTD, GZIP, ZSTD, ZSTD], "{calls:?}");
    assert_eq!(report.requests, 4);
    assert!(
        report
            .failed
            .iter()
            .all(|f| matches!(f.reason, FailureReason::KeptBack { status: 400 })),
        "{:?}",
        report.failed
    );
}
