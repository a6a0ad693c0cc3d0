//! Stage benchmarks (criterion): decode, shape + batch, compress, and the
//! whole handler in a dry run, on generated payloads. Run with
//! `cargo bench --bench stages`; `BENCHMARKS.md` has the figures.

#[path = "../tests/support/workload.rs"]
#[allow(dead_code)] // the process benchmark uses the rest
mod workload;

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use eks_audit_forwarder::batch::{BatchLimits, Batcher, IntakeBatch};
use eks_audit_forwarder::config::Config;
use eks_audit_forwarder::decode::{SubscriptionDocument, decompress_payload, parse_document};
use eks_audit_forwarder::shape::{LogOrigin, LogShaper};
use eks_audit_forwarder::ship::{BodyEncoding, EncodedBody};
use eks_audit_forwarder::{Destination, Forwarder, Invocation};
use serde_json::value::RawValue;
use workload::Mix;

const CAP: usize = 64 << 20;

struct Payload {
    name: &'static str,
    events: usize,
    /// `awslogs.data`.
    data: String,
    /// The whole Lambda event.
    event: Box<RawValue>,
}

fn payload(name: &'static str, mix: Mix, seed: u64) -> Payload {
    let messages = workload::audit_messages(mix, seed);
    let gz = workload::gzip(workload::document(&messages).as_bytes());
    let event = workload::lambda_event(&gz);
    let data = serde_json::from_str::<serde_json::Value>(&event).unwrap()["awslogs"]["data"]
        .as_str()
        .unwrap()
        .to_owned();
    Payload {
        name,
        events: messages.len(),
        data,
        event: RawValue::from_string(event).unwrap(),
    }
}

fn config() -> Config {
    config_with(&[])
}

/// The bench configuration with `extra` variables set.
fn config_with(extra: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| match name {
        "DD_TAGS" => Some("env:bench,team:platform".to_owned()),
        _ => extra
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned()),
    })
    .unwrap()
}

/// Shapes and batches every event of `doc`, as the forwarder does.
fn shape_and_batch(shaper: &LogShaper, doc: &SubscriptionDocument<'_>) -> Vec<IntakeBatch> {
    let shape = shaper.for_origin(&LogOrigin::subscription(doc), "", &[]);
    let mut batcher = Batcher::new(BatchLimits::default());
    let mut log = Vec::with_capacity(4096);
    for event in &doc.log_events {
        log.clear();
        shape.write_log(event.into(), event.message.get(), None, &mut log);
        batcher.push(&log).unwrap();
    }
    batcher.finish()
}

fn stages(c: &mut Criterion) {
    let payloads = [
        payload("reference", Mix::REFERENCE, 1),
        payload("metadata", Mix::METADATA_ONLY, 2),
        payload("large", Mix::LARGE_EVENTS, 3),
    ];
    for p in &payloads {
        let mut group = c.benchmark_group(p.name);
        group.throughput(Throughput::Elements(p.events as u64));
        group.sample_size(20);

        group.bench_function("decode", |b| {
            b.iter(|| {
                let bytes = decompress_payload(black_box(&p.data), CAP).unwrap();
                let doc = parse_document(&bytes).unwrap();
                black_box(doc.log_events.len());
            })
        });

        let bytes = decompress_payload(&p.data, CAP).unwrap();
        let doc = parse_document(&bytes).unwrap();
        let shaper = LogShaper::new(&config().shape);
        group.bench_function("shape+batch", |b| {
            b.iter(|| black_box(shape_and_batch(&shaper, &doc)))
        });

        let built = shape_and_batch(&shaper, &doc);
        // zlib (flate2 with zlib-rs), the encoder before libdeflate, for
        // comparison with the production encodings below.
        for level in [1, 6] {
            let zlib = |body: &[u8]| {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 4),
                    flate2::Compression::new(level),
                );
                std::io::Write::write_all(&mut enc, body).unwrap();
                enc.finish().unwrap()
            };
            let wire: usize = built.iter().map(|b| zlib(b.body()).len()).sum();
            group.bench_function(format!("zlib-rs gzip {level} ({wire} bytes)"), |b| {
                b.iter(|| {
                    for batch in &built {
                        black_box(zlib(batch.body()));
                    }
                })
            });
        }
        let encodings = [
            BodyEncoding::Gzip { level: 1 },
            BodyEncoding::Gzip { level: 4 },
            BodyEncoding::Gzip { level: 6 },
            BodyEncoding::Gzip { level: 7 },
            BodyEncoding::Zstd { level: 1 },
            BodyEncoding::Zstd { level: 3 },
        ];
        for encoding in encodings {
            let wire: usize = built
                .iter()
                .map(|b| EncodedBody::encode(b, encoding).bytes.len())
                .sum();
            let name = match encoding {
                BodyEncoding::Gzip { level } => format!("libdeflate gzip {level}"),
                BodyEncoding::Zstd { level } => format!("zstd {level}"),
                BodyEncoding::Identity => "identity".to_owned(),
            };
            group.bench_function(format!("{name} ({wire} bytes)"), |b| {
                b.iter(|| {
                    for batch in &built {
                        black_box(EncodedBody::encode(batch, encoding));
                    }
                })
            });
        }

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The whole handler, and what each audit feature adds to it.
        let features: [(&str, &[(&str, &str)]); 9] = [
            ("handler (dry run: no compression, no network)", &[]),
            (
                "handler without secret redaction",
                &[("DD_REDACT_SECRETS", "false")],
            ),
            (
                "handler with SIEM attributes",
                &[("DD_SIEM_ATTRIBUTES", "true")],
            ),
            (
                "handler with EXCLUDE_AT_MATCH",
                &[("EXCLUDE_AT_MATCH", "never-in-these-events")],
            ),
            ("handler with REDACT_IP", &[("REDACT_IP", "true")]),
            (
                "handler with DD_SCRUBBING_RULE (matching nothing)",
                &[("DD_SCRUBBING_RULE", r#"\\"password\\":\\"[^\\]*\\""#)],
            ),
            (
                "handler with DD_AUDIT_EXCLUDE (matching nothing)",
                &[(
                    "DD_AUDIT_EXCLUDE",
                    r"@verb:(get OR list OR watch) @user.username:system\:node\:* @responseStatus.code:>=500",
                )],
            ),
            (
                "handler with DD_AUDIT_NOISE_FILTER=standard",
                &[("DD_AUDIT_NOISE_FILTER", "standard")],
            ),
            (
                "handler with DD_AUDIT_NOISE_FILTER=aggressive",
                &[("DD_AUDIT_NOISE_FILTER", "aggressive")],
            ),
        ];
        for (name, vars) in features {
            let forwarder = Forwarder::new(
                &config_with(vars),
                Destination::DryRun(Arc::new(Mutex::new(std::io::sink()))),
            );
            group.bench_function(name, |b| {
                b.iter_batched(
                    || Invocation::local("bench"),
                    |invocation| {
                        // The summary and EMF lines go to stderr; at the
                        // default log level that is two lines per iteration.
                        rt.block_on(forwarder.handle(&p.event, &invocation))
                            .unwrap()
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
