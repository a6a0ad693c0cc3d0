//! Cloud SIEM detection rules as code: rule files in the body of Datadog's
//! `POST /api/v2/security_monitoring/rules`, checked before they go live.
//!
//! [`file`] reads and validates a rule file; [`condition`] parses the
//! cases' conditions over the query names.

pub mod condition;
pub mod file;

pub use file::{DetectionRule, RuleError, RuleWarning};
