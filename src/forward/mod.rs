//! The pipeline both front doors call, one invocation at a time: which
//! trigger -> decode -> audit stage -> shape -> batch -> ship or keep, and a
//! summary of what happened.
//!
//! One file per trigger: [`subscription`] (CloudWatch Logs), [`kinesis`],
//! [`s3`] and [`replay`]; each feeds an [`Outbox`] (the audit stage, shape,
//! shrink and batch of every event) and hands its batches to [`delivery`].
//! [`invocation`] holds the time budget they all work to.

mod delivery;
mod invocation;
mod kinesis;
mod outbox;
mod replay;
mod s3;
mod subscription;

pub use invocation::Invocation;
use outbox::Outbox;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use thiserror::Error;
use tokio::time::Instant;

use crate::api_key::ApiKey;
use crate::audit::Processor;
use crate::aws::ObjectReaderClient;
use crate::batch::{BatchLimits, OversizeLog};
use crate::config::Config;
use crate::decode::DecodeError;
use crate::group_tags::{GroupTagCache, GroupTags, partition_of};
use crate::limits;
use crate::log_groups::LogGroupSelection;
use crate::metrics::{InvocationSummary, MetricsSettings, SummarySource};
use crate::proxy::ProxySettings;
use crate::s3_object::ObjectError;
use crate::shape::LogShaper;
use crate::ship::{DeliveryFailures, IntakeClient, IntakeSettings, Shipper};
use crate::spill::{SpillError, SpillStore};
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
    /// Only a forwarder built without AWS (a library user's) lacks one.
    #[error("an S3 event arrived, but this forwarder has no S3 client to read objects with")]
    NoObjectReader,
}

impl ForwardError {
    /// `errorType` of the failed invocation.
    pub fn error_type(&self) -> &'static str {
        match self {
            ForwardError::Decode(_) => "DecodeError",
            ForwardError::Undelivered { .. } | ForwardError::Unfittable(_) => "DeliveryError",
            ForwardError::DryRunOutput(_) => "OutputError",
            ForwardError::NotKept { .. } => "SpillError",
            ForwardError::Object(_) | ForwardError::NoObjectReader => "S3ReadError",
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

/// A log the shrinker could not make fit: a bug, but never a silent drop.
#[derive(Debug, Error)]
#[error("event {event_id} could not be made to fit the intake's limits: {source}")]
pub struct UnfittableLog {
    pub event_id: String,
    pub source: OversizeLog,
}

/// Where the logs go, chosen once at start-up.
#[derive(Clone)]
pub enum Destination {
    Intake(Arc<Shipper<IntakeClient>>),
    /// A dry run: the logs are written as JSON lines to this writer
    /// (`invoke` with no API key, or `invoke --dry-run`).
    DryRun(Arc<Mutex<dyn Write + Send>>),
}

impl Destination {
    /// The intake of `settings`, with the resolved `api_key`.
    pub fn intake(
        settings: &IntakeSettings,
        api_key: ApiKey,
        proxy: &ProxySettings,
    ) -> Result<Self, reqwest::Error> {
        let client = IntakeClient::for_settings(settings, api_key, proxy)?;
        Ok(Self::Intake(Arc::new(Shipper::new(
            client,
            settings.options(),
        ))))
    }

    /// A dry run to stdout.
    pub fn stdout() -> Self {
        Self::DryRun(Arc::new(Mutex::new(std::io::stdout())))
    }
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Intake(_) => f.write_str("Destination::Intake"),
            Destination::DryRun(_) => f.write_str("Destination::DryRun"),
        }
    }
}

/// The forwarder, built once per process and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Forwarder {
    shaper: LogShaper,
    batch_limits: BatchLimits,
    max_decompressed_bytes: usize,
    /// `DD_LOG_GROUP_PREFIXES`: documents of other groups are passed over.
    log_groups: LogGroupSelection,
    /// The function's own log group, always passed over.
    own_log_group: Option<String>,
    destination: Destination,
    /// With `DD_STORE_FAILED_EVENTS`: where undelivered logs are kept.
    spill: Option<Arc<SpillStore>>,
    metrics: MetricsSettings,
    /// With `DD_FETCH_LOG_GROUP_TAGS`: the log groups' tags.
    group_tags: Option<Arc<GroupTagCache>>,
    /// The audit stage: filters, redaction, scrubbing, attributes.
    processor: Arc<Processor>,
    /// The client that reads S3 objects (S3 triggers); without one, an S3
    /// event fails the invocation.
    s3_reader: Option<ObjectReaderClient>,
}

impl Forwarder {
    /// The forwarder of `config`, sending to `destination`.
    pub fn new(config: &Config, destination: Destination) -> Self {
        Self {
            shaper: LogShaper::new(&config.shape),
            batch_limits: BatchLimits::default(),
            max_decompressed_bytes: config.max_decompressed_bytes,
            log_groups: config.log_groups.clone(),
            own_log_group: config.own_log_group.clone(),
            destination,
            spill: None,
            metrics: config.metrics.clone(),
            group_tags: None,
            processor: Arc::new(Processor::new(config.audit.clone())),
            s3_reader: None,
        }
    }

    /// Reads the objects of S3 triggers with `client`.
    pub fn with_s3_reader(mut self, client: ObjectReaderClient) -> Self {
        self.s3_reader = Some(client);
        self
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
            summary.emf_line(&self.metrics.namespace, &self.metrics.function_name, now_ms)
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
                summary.source = SummarySource::Kinesis;
                let failures = self.forward_records(&records, invocation, summary).await;
                if failures.is_empty() && summary.stored == 0 {
                    self.replay_stored(invocation, summary).await;
                }
                summary.batch_item_failures = Some(failures);
                Ok(())
            }
            Trigger::S3Objects { objects, ignored } => {
                summary.source = SummarySource::S3;
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
                summary.source = SummarySource::Replay;
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
}
