//! The pipeline both front doors call: event -> decode -> shape -> batch ->
//! ship, and a summary of what happened.
//!
//! The subscription path is here; [`kinesis`] and [`s3`] run the same
//! stages for their triggers through the same [`Outbox`].

mod kinesis;
mod outbox;
mod s3;

use outbox::Outbox;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use thiserror::Error;
use tokio::time::Instant;

use crate::audit::{AuditSettings, Processor};
use crate::batch::OversizeLog;
use crate::batch::{BatchLimits, IntakeBatch};
use crate::config::{ApiKey, Config};
use crate::decode::{DecodeError, decompress_payload, parse_document};
use crate::group_tags::{GroupTagCache, GroupTags, partition_of};
use crate::limits;
use crate::metrics::InvocationSummary;
use crate::s3_object::ObjectError;
use crate::shape::{LogOrigin, LogShaper};
use crate::ship::{
    DeliveryFailures, DeliveryReport, IntakeClient, IntakeTarget, ShipOptions, Shipper,
};
use crate::spill::{ReplayDeadlines, SpillError, SpillStore, keep_failed, replay};
use crate::trigger::{Trigger, classify_event};

/// Why an invocation failed. Lambda retries a failed invocation and then
/// hands the event to the function's on-failure destination, so failing is
/// how undeliverable logs avoid being lost.
#[derive(Debug, Error)]
pub enum ForwardError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{} of {total} logs were not delivered: {failures}", failures.failed)]
    Undelivered {
        total: usize,
        failures: DeliveryFailures,
    },
    #[error(transparent)]
    Unfittable(#[from] UnfittableLog),
    #[error("writing the dry-run output failed: {0}")]
    DryRunOutput(std::io::Error),
    /// `total` counts the logs handed to the shipper up to this failure.
    #[error("{} of {total} logs were neither delivered ({failures}) nor kept: {source}", failures.failed)]
    NotKept {
        total: usize,
        failures: DeliveryFailures,
        source: SpillError,
    },
    #[error(transparent)]
    Object(#[from] ObjectError),
}

impl ForwardError {
    /// `errorType` of the failed invocation.
    pub fn error_type(&self) -> &'static str {
        match self {
            ForwardError::Decode(_) => "DecodeError",
            ForwardError::Undelivered { .. } | ForwardError::Unfittable(_) => "DeliveryError",
            ForwardError::DryRunOutput(_) => "OutputError",
            ForwardError::NotKept { .. } => "SpillError",
            ForwardError::Object(_) => "S3ReadError",
        }
    }

    /// `errorMessage` of the failed invocation: short, and free of payload
    /// bytes and of the API key by construction (no variant carries them).
    pub fn error_message(&self) -> String {
        let text = self.to_string();
        match text.char_indices().nth(limits::MAX_ERROR_MESSAGE_CHARS) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text,
        }
    }
}

/// The intake's client for `config`'s endpoint, headers and proxy.
pub fn intake_client(config: &Config, api_key: ApiKey) -> Result<IntakeClient, reqwest::Error> {
    IntakeClient::new(IntakeTarget {
        url: config.intake_url.clone(),
        api_key,
        storage_tag: config.storage_tag,
        proxy: config.proxy.clone(),
    })
}

/// A log the shrinker could not make fit: a bug, but never a silent drop.
#[derive(Debug, Error)]
#[error("event {event_id} could not be made to fit the intake's limits: {source}")]
pub struct UnfittableLog {
    pub event_id: String,
    pub source: OversizeLog,
}

/// Where the logs go.
#[derive(Clone)]
pub enum Destination {
    Intake(Arc<Shipper<IntakeClient>>),
    /// No API key: the logs are written as JSON lines to this writer.
    DryRun(Arc<Mutex<dyn Write + Send>>),
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Intake(_) => f.write_str("Destination::Intake"),
            Destination::DryRun(_) => f.write_str("Destination::DryRun"),
        }
    }
}

/// One invocation's identity and time budget.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub invoked_function_arn: String,
    pub deadline: Instant,
}

impl Invocation {
    /// From the Runtime API's context: the deadline arrives as epoch
    /// milliseconds and is turned into a monotonic instant once.
    pub fn from_lambda(ctx: &lambda_runtime::Context) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = time_left(ctx.deadline, now_ms);
        tracing::debug!(
            request_id = %ctx.request_id,
            deadline_ms = ctx.deadline,
            time_left_ms = left.as_millis() as u64,
            "invocation received"
        );
        Self {
            request_id: ctx.request_id.clone(),
            invoked_function_arn: ctx.invoked_function_arn.clone(),
            deadline: Instant::now() + left,
        }
    }

    /// `margin` before the deadline (the deadline itself if less is left):
    /// when work must be over to leave time for what follows it.
    pub fn deadline_less(&self, margin: Duration) -> Instant {
        self.deadline.checked_sub(margin).unwrap_or(self.deadline)
    }

    /// A local run, with as much time as the default Lambda timeout.
    pub fn local(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            invoked_function_arn: String::new(),
            deadline: Instant::now() + limits::LOCAL_INVOCATION_TIMEOUT,
        }
    }
}

/// The forwarder, built once per process and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Forwarder {
    shaper: LogShaper,
    batch_limits: BatchLimits,
    max_decompressed_bytes: usize,
    destination: Destination,
    /// With `DD_STORE_FAILED_EVENTS`: where undelivered logs are kept.
    spill: Option<Arc<SpillStore>>,
    metrics_namespace: String,
    function_name: String,
    /// With `DD_FETCH_LOG_GROUP_TAGS`: the log groups' tags.
    group_tags: Option<Arc<GroupTagCache>>,
    /// The audit stage: filters, redaction, scrubbing, attributes.
    processor: Arc<Processor>,
    /// The client that reads S3 objects, built on the first S3 event.
    s3_reader: Arc<tokio::sync::OnceCell<aws_sdk_s3::Client>>,
    /// For the S3 reader's client.
    proxy: crate::proxy::ProxySettings,
}

impl Forwarder {
    /// Builds the intake client when an API key is configured, a dry run otherwise.
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        let destination = match &config.api_key {
            Some(key) => {
                let client = intake_client(config, key.clone())?;
                let options = ShipOptions {
                    request_timeout: config.request_timeout,
                    ..ShipOptions::new(config.encoding)
                };
                Destination::Intake(Arc::new(Shipper::new(client, options)))
            }
            None => Destination::DryRun(Arc::new(Mutex::new(std::io::stdout()))),
        };
        Ok(Self::with_destination(config, destination))
    }

    pub fn with_destination(config: &Config, destination: Destination) -> Self {
        Self {
            shaper: LogShaper::new(config),
            batch_limits: BatchLimits::default(),
            max_decompressed_bytes: config.max_decompressed_bytes,
            destination,
            spill: None,
            metrics_namespace: config.metrics_namespace.clone(),
            function_name: config.function_name.clone(),
            group_tags: None,
            processor: Arc::new(Processor::new(AuditSettings {
                match_filter: config.match_filter.clone(),
                audit_filter: config.audit_filter.clone(),
                scrubber: config.scrubber.clone(),
                redactor: config
                    .redact_resources
                    .as_deref()
                    .map(crate::audit::SecretRedactor::new),
                siem_attributes: config.siem_attributes,
            })),
            s3_reader: Arc::default(),
            proxy: config.proxy.clone(),
        }
    }

    /// Adds each log group's own tags to its logs.
    pub fn with_group_tags(mut self, cache: GroupTagCache) -> Self {
        self.group_tags = Some(Arc::new(cache));
        self
    }

    /// Keeps undelivered logs in `store` instead of failing the invocation,
    /// and replays them.
    pub fn with_spill(mut self, store: SpillStore) -> Self {
        self.spill = Some(Arc::new(store));
        self
    }

    /// Smaller intake limits, for tests that reach the edges.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Self {
        self.batch_limits = limits;
        self
    }

    pub fn is_dry_run(&self) -> bool {
        matches!(self.destination, Destination::DryRun(_))
    }

    /// Handles one Lambda event.
    pub async fn handle(
        &self,
        event: &RawValue,
        invocation: &Invocation,
    ) -> Result<InvocationSummary, ForwardError> {
        let started = Instant::now();
        let mut summary = InvocationSummary {
            request_id: invocation.request_id.clone(),
            dry_run: self.is_dry_run(),
            ..Default::default()
        };
        let result = self.forward(event, invocation, &mut summary).await;
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.log();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        // EMF goes to stderr with the other log lines: stdout belongs to
        // the dry run's log objects, and CloudWatch reads both.
        eprintln!(
            "{}",
            summary.emf_line(&self.metrics_namespace, &self.function_name, now_ms)
        );
        match &result {
            Ok(()) => Ok(summary),
            Err(e) => {
                tracing::error!(
                    request_id = %invocation.request_id,
                    error_type = e.error_type(),
                    error = %e.error_message(),
                    "invocation failed; Lambda will retry the event"
                );
                result.map(|()| summary)
            }
        }
    }

    async fn forward(
        &self,
        event: &RawValue,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<(), ForwardError> {
        match classify_event(event)? {
            Trigger::CloudWatchLogs { data } => {
                let all_delivered = self.forward_logs(&data, invocation, summary).await?;
                drop(data);
                // Replay only while the intake is healthy: after failures of
                // its own, this invocation would only spend its time on more.
                if all_delivered {
                    self.replay_stored(invocation, summary).await;
                }
                Ok(())
            }
            Trigger::Kinesis { records } => {
                summary.source = "kinesis".to_owned();
                let failures = self.forward_records(&records, invocation, summary).await;
                if failures.is_empty() && summary.stored == 0 {
                    self.replay_stored(invocation, summary).await;
                }
                summary.batch_item_failures = Some(failures);
                Ok(())
            }
            Trigger::S3Objects { objects, ignored } => {
                summary.source = "s3".to_owned();
                summary.s3_events_ignored = ignored;
                if ignored > 0 {
                    tracing::warn!(
                        request_id = %invocation.request_id,
                        ignored,
                        "S3 records that are not object-created events were skipped"
                    );
                }
                self.forward_objects(&objects, invocation, summary).await
            }
            Trigger::Replay => {
                summary.source = "replay".to_owned();
                if self.spill.is_none() {
                    tracing::warn!(
                        "a {{\"retry\":\"true\"}} event, but DD_STORE_FAILED_EVENTS is off: nothing to replay"
                    );
                }
                self.replay_stored(invocation, summary).await;
                Ok(())
            }
        }
    }

    /// One subscription document (base64 of gzip), from `awslogs.data` or a
    /// Kinesis record. `Ok(true)` when every log was delivered, `Ok(false)`
    /// when some were kept in S3 instead.
    async fn forward_logs(
        &self,
        data: &str,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> Result<bool, ForwardError> {
        let decompressed = decompress_payload(data, self.max_decompressed_bytes)?;
        let doc = parse_document(&decompressed)?;
        summary.log_group = doc.log_group.to_string();
        summary.events_in += doc.log_events.len();
        if doc.is_control_message() {
            summary.control_message = true;
            tracing::debug!(request_id = %invocation.request_id, "CloudWatch Logs control message: nothing to send");
            return Ok(true);
        }

        let origin = LogOrigin::subscription(&doc);
        let tags = self
            .group_tags(&doc.owner, &doc.log_group, invocation, summary)
            .await;
        let shape = self
            .shaper
            .for_origin(&origin, &invocation.invoked_function_arn, &tags.tags);
        if summary.source.is_empty() {
            summary.source = shape.source().to_owned();
        }
        // Full batches go out while the rest are built, so a large document
        // costs its own bytes and a few request bodies, not twice its size.
        let mut outbox = self.outbox();
        let mut tally = ShipTally::default();
        for event in &doc.log_events {
            outbox.push(
                &shape,
                event.into(),
                event.message.get(),
                invocation,
                summary,
            )?;
            if outbox.full_batches() >= limits::BATCHES_IN_FLIGHT {
                self.ship(outbox.take_full(), invocation, summary, &mut tally)
                    .await?;
            }
        }
        self.ship(outbox.finish(), invocation, summary, &mut tally)
            .await?;
        tally.finish()
    }

    /// An empty outbox with this forwarder's limits and rules.
    fn outbox(&self) -> Outbox<'_> {
        Outbox::new(self.batch_limits, &self.processor)
    }

    /// The log group's tags, when they are fetched.
    async fn group_tags(
        &self,
        owner: &str,
        log_group: &str,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
    ) -> GroupTags {
        let Some(cache) = &self.group_tags else {
            return GroupTags::default();
        };
        let partition = partition_of(&invocation.invoked_function_arn);
        let by = invocation.deadline_less(limits::DEADLINE_SAFETY_MARGIN);
        let tags = cache.lookup(partition, owner, log_group, by).await;
        if tags.fetch_failed {
            summary.tag_fetch_errors += 1;
        }
        tags
    }

    /// Sends `batches` (or writes them, in a dry run), keeping what the
    /// intake would not take in S3, and adds the outcome to `tally`. Without
    /// a bucket, what failed is only noted: the caller ships its other
    /// groups and fails the invocation at the end, with counts of the whole.
    /// An error when logs were neither delivered nor kept.
    async fn ship(
        &self,
        batches: Vec<IntakeBatch>,
        invocation: &Invocation,
        summary: &mut InvocationSummary,
        tally: &mut ShipTally,
    ) -> Result<(), ForwardError> {
        if batches.is_empty() {
            return Ok(());
        }
        summary.batches += batches.len();
        let total: usize = batches.iter().map(IntakeBatch::len).sum();
        tally.total += total;
        let shipper = match &self.destination {
            Destination::DryRun(out) => {
                write_dry_run(out, &batches).map_err(ForwardError::DryRunOutput)?;
                summary.logs_forwarded += total;
                return Ok(());
            }
            Destination::Intake(shipper) => shipper,
        };
        let report = shipper
            .deliver(batches, self.ship_deadline(invocation))
            .await;
        record_delivery(summary, &report);
        let Some(failures) = report.failures() else {
            return Ok(());
        };
        log_failures(&invocation.request_id, &failures);
        let Some(store) = &self.spill else {
            tally.undelivered(failures);
            return Ok(());
        };
        let write_deadline = spill_write_deadline(invocation);
        match keep_failed(
            store,
            &report.failed,
            &invocation.request_id,
            write_deadline,
            summary,
        )
        .await
        {
            Ok(()) => {
                tally.kept = true;
                Ok(())
            }
            Err(source) => Err(ForwardError::NotKept {
                total: tally.total,
                failures,
                source,
            }),
        }
    }

    /// When retries of this invocation's batches must stop: with a spill
    /// store, early enough to still write what failed.
    /// The reserve is at most half the time left, so a short Lambda
    /// timeout still leaves the intake a try before logs go to S3.
    fn ship_deadline(&self, invocation: &Invocation) -> Instant {
        if self.spill.is_none() {
            return invocation.deadline;
        }
        let left = invocation
            .deadline
            .saturating_duration_since(Instant::now());
        invocation.deadline - limits::SPILL_RESERVE.min(left / 2)
    }

    async fn replay_stored(&self, invocation: &Invocation, summary: &mut InvocationSummary) {
        let (Some(store), Destination::Intake(shipper)) = (&self.spill, &self.destination) else {
            return;
        };
        let deadlines = ReplayDeadlines {
            ship: self.ship_deadline(invocation),
            write: spill_write_deadline(invocation),
        };
        replay(
            store,
            shipper,
            self.batch_limits,
            &invocation.request_id,
            deadlines,
            summary,
        )
        .await;
    }
}

/// What the groups of batches of one document or object came to, added up,
/// so an invocation's error counts every log it had, not the last group's.
#[derive(Debug, Default)]
struct ShipTally {
    /// Logs handed to the shipper.
    total: usize,
    /// Some were kept in S3 instead of delivered.
    kept: bool,
    /// Without a bucket: what was not delivered.
    failures: Option<DeliveryFailures>,
}

impl ShipTally {
    fn undelivered(&mut self, failures: DeliveryFailures) {
        match &mut self.failures {
            Some(all) => all.merge(failures),
            None => self.failures = Some(failures),
        }
    }

    /// `Ok(true)` when every log was delivered, `Ok(false)` when some were
    /// kept in S3 instead, an error when some were neither.
    // The async stages return the same error unboxed (their futures are
    // exempt from the lint); boxing it here alone would gain nothing.
    #[allow(clippy::result_large_err)]
    fn finish(self) -> Result<bool, ForwardError> {
        match self.failures {
            Some(failures) => Err(ForwardError::Undelivered {
                total: self.total,
                failures,
            }),
            None => Ok(!self.kept),
        }
    }
}

/// Epoch milliseconds before this are not a deadline Lambda would send
/// (2001-09-09); such a value is a duration.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// Time until `deadline_ms`. Lambda sends epoch milliseconds in the future.
/// Local emulators differ: cargo-lambda's `watch` sends the timeout itself
/// (`600000`), which is read as a duration; a deadline already past would
/// leave no time at all, so it gets the local budget, with a warning.
fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms < EPOCH_MS_FLOOR {
        return Duration::from_millis(deadline_ms);
    }
    if deadline_ms <= now_ms {
        tracing::warn!(
            deadline_ms,
            now_ms,
            "the invocation's deadline is already past; using the local 60 s budget"
        );
        return limits::LOCAL_INVOCATION_TIMEOUT;
    }
    Duration::from_millis(deadline_ms - now_ms)
}

pub(crate) fn spill_write_deadline(invocation: &Invocation) -> Instant {
    invocation.deadline_less(limits::SPILL_DEADLINE_MARGIN)
}

fn write_dry_run(out: &Mutex<dyn Write + Send>, batches: &[IntakeBatch]) -> std::io::Result<()> {
    let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for batch in batches {
        for log in batch.logs() {
            out.write_all(log)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

fn record_delivery(summary: &mut InvocationSummary, report: &DeliveryReport) {
    summary.logs_forwarded += report.delivered_logs;
    summary.logs_failed += report.failed_logs();
    summary.add_traffic(report);
}

/// The failures worth a line of their own: a refused API key (loud, once
/// per invocation, never the key) and the ids of rejected logs (ids only:
/// the intake's answer can echo the payload).
fn log_failures(request_id: &str, failures: &DeliveryFailures) {
    if let Some(status) = failures.unauthorized {
        tracing::error!(
            request_id,
            status,
            "the intake refused the API key: check DD_API_KEY and that it belongs to the DD_SITE/DD_URL in use"
        );
    }
    if !failures.rejected_ids.is_empty() {
        tracing::warn!(
            request_id,
            event_ids = ?failures.rejected_ids,
            "the intake rejected these logs as malformed (HTTP 400)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_lambda_and_emulator_deadlines() {
        let now = 1_795_712_117_997;
        assert_eq!(time_left(now + 30_000, now), Duration::from_secs(30));
        // cargo lambda watch sends the timeout, not an epoch.
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
        assert_eq!(time_left(now - 5, now), limits::LOCAL_INVOCATION_TIMEOUT);
    }
}
