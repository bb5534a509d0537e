//! Logging through `tracing`: human-readable lines by default, JSON for log collectors.

use std::error::Error;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(settings.level.as_str()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colour codes help a person at a terminal and garble files and log collectors.
        .with_ansi(std::io::stdout().is_terminal());
    // try_init: a second call (tests building several apps in one process) keeps the first.
    let _ = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// The messages of an error and its causes, outermost first, each said once: many errors (sqlx's
/// among them) include their source's message in their own, which would otherwise appear twice.
pub fn causes(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages: Vec<String> = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        if !messages
            .last()
            .is_some_and(|previous| previous.contains(&message))
        {
            messages.push(message);
        }
        next = cause.source();
    }
    messages
}

/// An error and its causes on one line, for logs: `outer: cause: root cause`.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    causes(err).join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_its_parents_message_is_not_repeated() {
        let err = Repeats(std::io::Error::other("disk gone"));
        assert_eq!(chain(&err), "outer: disk gone");
    }
}
