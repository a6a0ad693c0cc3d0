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
use eks_audit_forwarder::ship::EncodedBody;
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
    Config::from_lookup(|name| match name {
        "DD_TAGS" => Some("env:bench,team:platform".to_owned()),
        _ => None,
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
        let shaper = LogShaper::new(&config());
        group.bench_function("shape+batch", |b| {
            b.iter(|| black_box(shape_and_batch(&shaper, &doc)))
        });

        let built = shape_and_batch(&shaper, &doc);
        for level in [1, 4, 6] {
            let wire: usize = built
                .iter()
                .map(|b| EncodedBody::encode(b, Some(level)).bytes.len())
                .sum();
            group.bench_function(format!("gzip {level} ({wire} bytes)"), |b| {
                b.iter(|| {
                    for batch in &built {
                        black_box(EncodedBody::encode(batch, Some(level)));
                    }
                })
            });
        }

        let forwarder = Forwarder::with_destination(
            &config(),
            Destination::DryRun(Arc::new(Mutex::new(std::io::sink()))),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        group.bench_function("handler (dry run: no compression, no network)", |b| {
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
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
