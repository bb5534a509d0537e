//! `/metrics`: the process's metrics for Prometheus ([`crate::metrics`]). Needs no credential,
//! like the probes; it names routes and counts, never entries, tenants or credentials. Served on
//! the API's port, or only on a port of its own (`metrics.port`), or not at all.

use std::sync::Arc;

use poem::Request;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::declared::{ApiResult, error_set};
use super::problem::ApiError;
use crate::metrics::Metrics;
use crate::service::AddressBook;

pub struct MetricsApi {
    pub metrics: Arc<Metrics>,
    pub book: AddressBook,
    /// Whether this port serves them: off, or on another port, it answers 404 like an unknown
    /// path.
    pub served_here: bool,
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// Every metric, in the OpenMetrics text format (which Prometheus reads).
    #[oai(
        status = 200,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )]
    Metrics(PlainText<String>),
}

error_set!(MetricsErrors:
    404 => "Metrics are off, or served on a port of their own (`metrics.port`).",
    500 => "An unexpected failure.");

#[OpenApi(tag = "ApiTags::Metrics")]
impl MetricsApi {
    /// Metrics for Prometheus
    ///
    /// The process's metrics in the OpenMetrics text format, named and labelled after
    /// OpenTelemetry's semantic conventions. Needs no credential, and holds no entry, tenant or
    /// credential. Served here unless `metrics.port` moves it to a port of its own or
    /// `metrics.enabled` is false; then this path is a 404.
    #[oai(path = "/metrics", method = "get", operation_id = "getMetrics")]
    async fn metrics(&self, req: &Request) -> ApiResult<MetricsResponse, MetricsErrors> {
        if !self.served_here {
            return Err(ApiError::unknown_endpoint(req.uri().path()).into());
        }
        Ok(MetricsResponse::Metrics(PlainText(
            self.metrics.render(self.book.engine(), self.book.pool()),
        )))
    }
}
