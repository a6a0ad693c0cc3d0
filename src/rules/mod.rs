//! Cloud SIEM detection rules as code: rule files in the body of Datadog's
//! `POST /api/v2/security_monitoring/rules`, checked, replayed on audit
//! logs and tested before they go live.
//!
//! [`file`] reads and validates a rule file; [`condition`] parses the
//! cases' conditions over the query names; [`engine`] replays logs
//! through rules by Datadog's documented semantics; [`input`] reads the
//! logs, local or in S3; [`replay`] orders them and prints signals;
//! [`cases`] runs a rule's test cases; [`export`] writes the API body and
//! the Terraform resource; [`pack`] finds rule files; [`cli`] is the
//! `rules` command.

pub mod cases;
pub mod cli;
pub mod condition;
pub mod engine;
pub mod export;
pub mod file;
pub mod input;
pub mod pack;
pub mod replay;

pub use engine::{LogEvent, RuleEngine, Signal};
pub use file::{DetectionRule, RuleError, RuleFilter, RuleWarning};
