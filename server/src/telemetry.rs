//! Logging through `tracing`: human-readable lines by default, JSON for log collectors; and,
//! when `tracing.otlp_endpoint` is set, the same spans exported to an OpenTelemetry collector.

use std::error::Error;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, LogSettings, TracingSettings};

/// The exporting tracer provider, when spans are exported: flushed by [`shutdown`].
static EXPORTING: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported (and so have OpenTelemetry ids of their own).
pub fn exporting() -> bool {
    EXPORTING.get().is_some()
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init(settings: &LogSettings, tracing: &TracingSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(settings.level.as_str()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes help a person at a terminal and garble files and log collectors.
    let ansi = std::io::stdout().is_terminal();
    let (text, json) = match settings.format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(ansi),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            ),
        ),
    };
    let export = match &tracing.otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let provider = exporter(endpoint, tracing)?;
            let tracer = provider.tracer("addressbook-server");
            // A second init in one process (tests building several apps) keeps the first.
            let _ = EXPORTING.set(provider);
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
    };
    // try_init: a second call (tests building several apps in one process) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(export)
        .try_init();
    if let Some(endpoint) = &tracing.otlp_endpoint {
        tracing::info!(endpoint, "exporting spans over OTLP");
    }
    Ok(())
}

fn exporter(endpoint: &str, tracing: &TracingSettings) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_millis(tracing.export_timeout_ms))
        .build()
        .map_err(|err| anyhow::anyhow!("tracing.otlp_endpoint {endpoint:?}: {err}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(tracing.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Sends the spans still queued for export; called once the server has drained.
pub fn shutdown() {
    if let Some(provider) = EXPORTING.get()
        && let Err(err) = provider.shutdown()
    {
        tracing::warn!(error = %err, "could not export the last spans");
    }
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
