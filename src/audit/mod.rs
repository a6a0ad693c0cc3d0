//! The audit stage: what happens to one event's message between decoding
//! and shaping.
//!
//! A [`Processor`] runs the rules the configuration turned on, in a fixed
//! order, over one [`AuditMessage`]:
//!
//! 1. [`filter`]: `DD_AUDIT_INCLUDE` / `DD_AUDIT_EXCLUDE` and the noise
//!    preset (on the event as it arrived), then the Datadog Forwarder's
//!    `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH` on its text;
//! 2. [`redaction`]: secret values (`DD_REDACT_SECRETS`), first, so no
//!    scrubbing rule can hide from it what it looks for;
//! 3. [`scrubbing`]: `REDACT_IP`, `REDACT_EMAIL`, `DD_SCRUBBING_RULE`;
//! 4. [`siem`]: the SIEM attributes (`DD_SIEM_ATTRIBUTES`), from the
//!    message as it will be sent.
//!
//! The message is decoded once, and its top-level members are split once
//! per version of its text, whatever the rules. [`shrink`] runs later, on
//! a shaped log over the per-log limit. [`query`] is the language of the
//! filters.
//!
//! Fail closed: no rule depends on `serde_json::Value` holding the event.
//! When it cannot (nesting deeper than 128, `1e400`), redaction replaces
//! the object bodies whole and shrinking removes whole top-level members;
//! each such event is counted in `read_fallbacks` and logged. Scrubbing
//! goes string by string through the text and the attributes come from
//! the top-level members, always, so neither has a fallback to count. A
//! lone surrogate is kept through a decode and an encode (see
//! [`crate::json`]).
//!
//! Adding a rule: a file with a type that implements [`AuditRule`], and a
//! line in [`Processor::new`].

pub mod filter;
mod message;
pub mod noise_report;
pub mod query;
pub mod redaction;
pub mod scrubbing;
pub mod shrink;
pub mod siem;

use std::borrow::Cow;
use std::fmt::Debug;

pub use filter::{AuditFilter, MatchFilter, NoiseLevel};
pub use message::AuditMessage;
pub use redaction::SecretRedactor;
pub use scrubbing::Scrubber;
pub use shrink::{CUT_MARKER, ShrunkMessage, shrink_message};

/// What the audit rules are set to, parsed once from the configuration.
#[derive(Debug, Clone, Default)]
pub struct AuditSettings {
    /// `DD_AUDIT_INCLUDE` / `DD_AUDIT_EXCLUDE` / `DD_AUDIT_NOISE_FILTER`.
    pub audit_filter: AuditFilter,
    /// `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH`.
    pub match_filter: MatchFilter,
    /// `DD_REDACT_SECRETS` with `DD_REDACT_RESOURCES`; `None` when off.
    pub redactor: Option<SecretRedactor>,
    /// `REDACT_IP`, `REDACT_EMAIL`, `DD_SCRUBBING_RULE`.
    pub scrubber: Scrubber,
    /// `DD_SIEM_ATTRIBUTES`.
    pub siem_attributes: bool,
}

/// Which event a rule is looking at, for its log lines (ids only, never
/// content).
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub request_id: &'a str,
    pub event_id: &'a str,
}

/// Why a rule dropped an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Matched `DD_AUDIT_EXCLUDE`, or not `DD_AUDIT_INCLUDE`.
    Query,
    /// The noise preset.
    Noise,
    /// `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH`.
    Match,
}

/// A rule's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Continue,
    Drop(DropReason),
}

/// One rule of the stage.
pub trait AuditRule: Debug + Send + Sync {
    fn apply(
        &self,
        message: &mut AuditMessage<'_>,
        at: EventRef<'_>,
        tally: &mut AuditTally,
    ) -> Step;
}

/// What the stage did, over all the events of an invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditTally {
    /// Dropped by `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH`.
    pub filtered: usize,
    pub filtered_by_query: usize,
    pub filtered_as_noise: usize,
    /// Message bytes of the events dropped as noise.
    pub noise_bytes: u64,
    pub logs_redacted: usize,
    pub redacted_values: usize,
    /// Messages replaced by a marker (unreadable and possibly secret, or
    /// broken by `DD_SCRUBBING_RULE`).
    pub logs_withheld: usize,
    pub logs_scrubbed: usize,
    /// Events a privacy rule could not read whole and so treated on the
    /// safe side.
    pub read_fallbacks: usize,
}

/// What goes on to be shaped: the message as a JSON string literal, and
/// the SIEM attributes (each `,"name":value`; empty for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared<'m> {
    pub message_json: Cow<'m, str>,
    pub attributes: String,
}

/// The rules, in order, built once.
#[derive(Debug, Default)]
pub struct Processor {
    rules: Vec<Box<dyn AuditRule>>,
}

impl Processor {
    pub fn new(settings: AuditSettings) -> Self {
        let AuditSettings {
            audit_filter,
            match_filter,
            redactor,
            scrubber,
            siem_attributes,
        } = settings;
        let mut rules: Vec<Box<dyn AuditRule>> = Vec::new();
        if audit_filter.is_active() {
            rules.push(Box::new(audit_filter));
        }
        if match_filter.is_active() {
            rules.push(Box::new(match_filter));
        }
        if let Some(redactor) = redactor {
            rules.push(Box::new(redactor));
        }
        if scrubber.is_active() {
            rules.push(Box::new(scrubber));
        }
        if siem_attributes {
            rules.push(Box::new(siem::SiemAttributes));
        }
        Self { rules }
    }

    /// Runs the rules over `message_json` (the JSON string literal
    /// CloudWatch delivered): `None` when a rule dropped the event (the
    /// tally says which).
    pub fn process<'m>(
        &self,
        message_json: &'m str,
        at: EventRef<'_>,
        tally: &mut AuditTally,
    ) -> Option<Prepared<'m>> {
        if self.rules.is_empty() {
            return Some(Prepared {
                message_json: Cow::Borrowed(message_json),
                attributes: String::new(),
            });
        }
        let mut message = AuditMessage::new(message_json);
        for rule in &self.rules {
            match rule.apply(&mut message, at, tally) {
                Step::Continue => {}
                Step::Drop(reason) => {
                    match reason {
                        DropReason::Query => tally.filtered_by_query += 1,
                        DropReason::Noise => {
                            tally.filtered_as_noise += 1;
                            tally.noise_bytes += message_json.len() as u64;
                        }
                        DropReason::Match => tally.filtered += 1,
                    }
                    return None;
                }
            }
        }
        let message_json = message.literal();
        // A lone surrogate no placeholder could stand for went out as
        // U+FFFD in a message a rule changed.
        if matches!(message_json, Cow::Owned(_)) && message.is_lossy() {
            tally.read_fallbacks += 1;
            tracing::warn!(
                request_id = %at.request_id,
                event_id = %at.event_id,
                "a changed message held lone surrogates that were replaced by U+FFFD"
            );
        }
        Some(Prepared {
            message_json,
            attributes: std::mem::take(&mut message.attributes),
        })
    }
}
