//! The forwarder's own logs: JSON lines on stderr, one object per line, fit
//! for Lambda's JSON log format and for CloudWatch Logs Insights.
//! stdout is left to the dry run's log objects.

use tracing::Level;

use crate::config::LogLevel;

/// Installs the global subscriber. Safe to call once per process.
pub fn init(level: LogLevel) {
    let level = match level {
        LogLevel::Error => Level::ERROR,
        LogLevel::Warn => Level::WARN,
        LogLevel::Info => Level::INFO,
        LogLevel::Debug => Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
}
