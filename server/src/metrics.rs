//! What the service counts and times, in Prometheus' text format at `/metrics`.
//!
//! Names and labels follow OpenTelemetry's semantic conventions as Prometheus spells them:
//! `http_server_request_duration_seconds` by method, route template and status,
//! `http_server_active_requests`, `db_client_operation_duration_seconds` by engine and storage
//! operation, `db_client_connection_count` by state. Every label takes values from a closed set
//! (route templates, never raw paths; methods outside the standard ones become `_OTHER`), so
//! however many ids and query strings clients send, the number of series stays bounded.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use poem::http::Method;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The media type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// OpenTelemetry's advice for HTTP server durations, in seconds.
const HTTP_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Storage calls are mostly sub-millisecond; the buckets start lower than HTTP's.
const STORAGE_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    http_request_method: &'static str,
    http_route: Route,
    http_response_status_code: u16,
}

/// The matched route as poem spells its pattern (`/addresses/:id`), kept as it comes (an `Arc`
/// clone per request) and written in OpenAPI's spelling (`/addresses/{id}`) when scraped;
/// empty when no route matched.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Route(Option<Arc<str>>);

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let Some(pattern) = &self.0 else {
            return Ok(());
        };
        for (i, segment) in pattern.split('/').enumerate() {
            if i > 0 {
                encoder.write_char('/')?;
            }
            match segment.strip_prefix(':') {
                Some(name) => write!(encoder, "{{{name}}}")?,
                None => encoder.write_str(segment)?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    http_request_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    db_system_name: &'static str,
    db_operation_name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageErrorLabels {
    db_system_name: &'static str,
    db_operation_name: &'static str,
    error_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    db_system_name: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineLabels {
    db_system_name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// A storage engine's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub idle: u64,
    pub used: u64,
    /// The most it will open, when it has a limit.
    pub max: Option<u64>,
}

/// Every metric of one server process. Cheap to share: the API and the storage each hold an
/// `Arc` of it.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    active: Family<MethodLabels, Gauge>,
    storage: Family<StorageLabels, Histogram, fn() -> Histogram>,
    storage_errors: Family<StorageErrorLabels, Counter>,
    connections: Family<ConnectionLabels, Gauge>,
    connections_max: Family<EngineLabels, Gauge>,
    replays: Counter,
    precondition_failures: Family<OperationLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<_, _, fn() -> Histogram>::new_with_constructor(|| {
            Histogram::new(HTTP_BUCKETS)
        });
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests, by method, route template and status code",
            Unit::Seconds,
            requests.clone(),
        );
        let active = Family::default();
        registry.register(
            "http_server_active_requests",
            "HTTP server requests being processed now",
            active.clone(),
        );
        let storage = Family::<_, _, fn() -> Histogram>::new_with_constructor(|| {
            Histogram::new(STORAGE_BUCKETS)
        });
        registry.register_with_unit(
            "db_client_operation_duration",
            "Duration of storage operations, by engine and operation, failed ones included",
            Unit::Seconds,
            storage.clone(),
        );
        let storage_errors = Family::default();
        registry.register(
            "db_client_operation_errors",
            "Storage operations that failed, by engine, operation and kind of failure",
            storage_errors.clone(),
        );
        let connections = Family::default();
        registry.register(
            "db_client_connection_count",
            "Storage connections open now, by state (idle or used)",
            connections.clone(),
        );
        let connections_max = Family::default();
        registry.register(
            "db_client_connection_max",
            "The most storage connections the pool will open",
            connections_max.clone(),
        );
        let replays = Counter::default();
        registry.register(
            "addressbook_idempotent_replays",
            "Creates answered from an earlier request with the same Idempotency-Key",
            replays.clone(),
        );
        let precondition_failures = Family::default();
        registry.register(
            "addressbook_precondition_failures",
            "Conditional writes refused because the entry had changed (412), by operation",
            precondition_failures.clone(),
        );
        Arc::new(Self {
            registry,
            requests,
            active,
            storage,
            storage_errors,
            connections,
            connections_max,
            replays,
            precondition_failures,
        })
    }

    /// Counts a request as being processed until the returned guard is dropped (when the
    /// request ends, or is cancelled).
    pub fn request_started(self: &Arc<Self>, method: &Method) -> ActiveRequest {
        let labels = MethodLabels {
            http_request_method: method_label(method),
        };
        self.active.get_or_create(&labels).inc();
        ActiveRequest {
            metrics: self.clone(),
            labels,
        }
    }

    /// Records a finished request. `route` is poem's pattern of the matched route
    /// (`/addresses/:id`), or `None` when no route matched.
    pub fn request_finished(
        &self,
        method: &Method,
        route: Option<Arc<str>>,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = RequestLabels {
            http_request_method: method_label(method),
            http_route: Route(route),
            http_response_status_code: status,
        };
        self.requests
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one storage call; `error` names its kind of failure, if it failed.
    pub fn storage_call(
        &self,
        engine: &'static str,
        operation: &'static str,
        elapsed: Duration,
        error: Option<&'static str>,
    ) {
        let labels = StorageLabels {
            db_system_name: engine,
            db_operation_name: operation,
        };
        self.storage
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(error_type) = error {
            self.storage_errors
                .get_or_create(&StorageErrorLabels {
                    db_system_name: engine,
                    db_operation_name: operation,
                    error_type,
                })
                .inc();
        }
    }

    pub fn idempotent_replay(&self) {
        self.replays.inc();
    }

    pub fn precondition_failed(&self, operation: &'static str) {
        self.precondition_failures
            .get_or_create(&OperationLabels { operation })
            .inc();
    }

    /// The text a scrape receives, with the connection gauges read now from `pool`.
    pub fn render(&self, engine: &'static str, pool: Option<PoolState>) -> String {
        if let Some(pool) = pool {
            let set = |state, value: u64| {
                self.connections
                    .get_or_create(&ConnectionLabels {
                        db_system_name: engine,
                        state,
                    })
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            };
            set("idle", pool.idle);
            set("used", pool.used);
            if let Some(max) = pool.max {
                self.connections_max
                    .get_or_create(&EngineLabels {
                        db_system_name: engine,
                    })
                    .set(i64::try_from(max).unwrap_or(i64::MAX));
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// A request being processed; dropping it ends the count.
pub struct ActiveRequest {
    metrics: Arc<Metrics>,
    labels: MethodLabels,
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.metrics.active.get_or_create(&self.labels).dec();
    }
}

/// The method as a label: the standard ones by name, any other as `_OTHER` (OpenTelemetry's
/// spelling), so that made-up methods cannot create series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_carries_names_units_and_labels() {
        let metrics = Metrics::new();
        let active = metrics.request_started(&Method::GET);
        metrics.request_finished(
            &Method::GET,
            Some("/addresses/:id".into()),
            200,
            Duration::from_millis(3),
        );
        metrics.storage_call("sqlite", "get", Duration::from_micros(80), None);
        metrics.storage_call("sqlite", "insert", Duration::from_micros(80), Some("full"));
        let text = metrics.render(
            "sqlite",
            Some(PoolState {
                idle: 2,
                used: 1,
                max: None,
            }),
        );
        assert!(text.contains(
            "http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"/addresses/{id}\",http_response_status_code=\"200\"} 1"
        ), "{text}");
        assert!(
            text.contains("http_server_active_requests{http_request_method=\"GET\"} 1"),
            "{text}"
        );
        assert!(text.contains(
            "db_client_operation_errors_total{db_system_name=\"sqlite\",db_operation_name=\"insert\",error_type=\"full\"} 1"
        ), "{text}");
        assert!(
            text.contains("db_client_connection_count{db_system_name=\"sqlite\",state=\"idle\"} 2"),
            "{text}"
        );
        drop(active);
        let text = metrics.render("sqlite", None);
        assert!(
            text.contains("http_server_active_requests{http_request_method=\"GET\"} 0"),
            "{text}"
        );
    }
}
