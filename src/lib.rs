//! eks-audit-forwarder: ships Amazon EKS control-plane logs from a CloudWatch
//! Logs subscription to a Datadog-compatible log intake (HTTP logs API v2).
//!
//! The data path, one module per stage:
//! [`trigger`] (which event) -> [`decode`] (base64, capped gunzip, borrowed
//! document) -> [`audit`] (filters, secret redaction, scrubbing, SIEM
//! attributes, on one event's message decoded once) -> [`shape`] (one
//! Datadog log object per event; [`audit::shrink`] makes an oversize one
//! fit) -> [`batch`] (request bodies within the intake's limits) -> [`ship`]
//! (compressed POSTs, retries within the deadline) -> [`spill`] (what still
//! failed, kept in S3 and replayed).
//!
//! [`forward`] runs the path for one invocation, one file per trigger;
//! [`lambda`] and [`local`] are the two front doors. Besides subscriptions,
//! [`trigger`] recognises Kinesis batches and S3 objects ([`s3_object`]
//! streams them); [`log_groups`] says which log groups are forwarded and
//! [`group_tags`] adds their tags. [`config`] reads
//! the environment once into one value per stage; [`api_key`] resolves the
//! key and [`aws`] holds the one SDK configuration, both in `main`.
//! [`rules`] reads and checks Cloud SIEM detection rule files.

pub mod api_key;
pub mod audit;
pub mod aws;
pub mod batch;
pub mod calendar;
pub mod config;
pub mod decode;
pub mod forward;
pub mod group_tags;
pub mod json;
pub mod lambda;
pub mod limits;
pub mod local;
pub mod log_groups;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod rules;
pub mod s3_object;
pub mod shape;
pub mod ship;
pub mod spill;
pub mod trigger;

pub use config::Config;

/// The `DD-EVP-ORIGIN` header and the user agent's name; the
/// `forwardername` tag when the function name is unknown (local runs).
pub const FORWARDER_NAME: &str = "eks-audit-forwarder";
/// The `forwarder_version` tag and the user agent's version.
pub const FORWARDER_VERSION: &str = env!("CARGO_PKG_VERSION");
pub use forward::{Destination, ForwardError, Forwarder, Invocation};
