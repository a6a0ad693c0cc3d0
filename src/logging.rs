//! The forwarder's own logs: JSON lines on stderr, one object per line, fit
//! for Lambda's JSON log format and for CloudWatch Logs Insights.
//! stdout is left to the dry run's log objects.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Verbosity of the forwarder's own logs (`DD_LOG_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(level: LogLevel) {
    let level = match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
    };
    // DD_LOG_LEVEL=debug is about this forwarder's decisions; the HTTP
    // stack's connection chatter stays at info and above.
    let filter = Targets::new()
        .with_default(level.min(LevelFilter::INFO))
        .with_target("eks_audit_forwarder", level);
    let format = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter)
        .try_init();
}
