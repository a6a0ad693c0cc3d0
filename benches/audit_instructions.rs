//! The audit stage's work counted in instructions, which stay the same
//! whatever else the machine is doing: the whole-process benchmark's times
//! move with the machine's state (BENCHMARKS.md), this count does not.
//!
//! `scripts/audit-instructions` runs this under callgrind and prints the
//! instructions each part takes over the reference payload's 4,700
//! messages:
//! - `part_decode`: each message's literal decoded;
//! - `part_filter`: the standard noise preset's verdict on each;
//! - `part_all_features`: the audit stage with secret redaction, the noise
//!   preset, `REDACT_IP` and the SIEM attributes.
//!
//! Under `cargo test` it runs each part once on a few messages, to check
//! the harness.

#[path = "../tests/support/workload.rs"]
#[allow(dead_code)] // the process benchmark uses the rest
mod workload;

use std::hint::black_box;

use eks_audit_forwarder::audit::{AuditFilter, AuditTally, EventRef, NoiseLevel, Processor};
use eks_audit_forwarder::config::Config;
use eks_audit_forwarder::json::{decode_literal, encode_literal};

#[inline(never)]
fn part_decode(literals: &[String]) {
    for literal in literals {
        black_box(decode_literal(literal));
    }
}

#[inline(never)]
fn part_filter(filter: &AuditFilter, literals: &[String]) {
    for literal in literals {
        black_box(filter.verdict(literal));
    }
}

#[inline(never)]
fn part_all_features(processor: &Processor, literals: &[String]) -> usize {
    let at = EventRef {
        request_id: "bench",
        event_id: "0",
    };
    let mut tally = AuditTally::default();
    literals
        .iter()
        .filter(|literal| black_box(processor.process(literal, at, &mut tally)).is_some())
        .count()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let mut messages = workload::audit_messages(workload::Mix::REFERENCE, 1);
    if !bench {
        messages.truncate(200);
    }
    let literals: Vec<String> = messages.iter().map(|m| encode_literal(m)).collect();
    let vars = [
        ("DD_API_KEY", "unused"),
        ("DD_AUDIT_NOISE_FILTER", "standard"),
        ("REDACT_IP", "true"),
        ("DD_SIEM_ATTRIBUTES", "true"),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("the benchmark's settings parse");
    let filter = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &[]);
    let processor = Processor::new(config.audit);

    part_decode(&literals);
    part_filter(&filter, &literals);
    let kept = part_all_features(&processor, &literals);
    assert!(kept > 0 && kept < literals.len(), "the preset keeps some");
    println!("{} messages, {kept} kept with all features", literals.len());
}
