//! The middleware every API request passes through, as one layer. It gives the request its id
//! and log line (`request_log.rs`); refuses an HTTP/1.1 request without `Host`; sheds load past
//! the in-flight cap and cancels a request past its deadline (both 503 at once, never a queue);
//! hands its settings (body rules, authenticator, rate limits) to the operations as one piece
//! of request data; renders every error that reaches it as a problem document about the request;
//! sets the headers every response carries (`X-Content-Type-Options`, `Cache-Control`, and the
//! CORS headers for a configured origin, whose preflights it answers, `cors.rs`); and counts and
//! times the request by its route template in the metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{HeaderValue, StatusCode, Version, header};
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};
use poem_openapi::OperationId;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::cors::Cors;
use super::limits::RateLimits;
use super::problem::{ApiError, RequestInfo};
use super::request_log::RequestLog;
use crate::auth::Authenticator;
use crate::metrics::Metrics;

/// How request bodies are read: request data for the body reader.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    /// The largest body accepted, after decompression.
    pub max_bytes: usize,
    /// How long the body may take to arrive once the headers are in.
    pub deadline: Duration,
}

/// How the middleware treats requests, from configuration. Built once; each request carries the
/// one `Arc` of it as request data (a single insert, where one per setting cost a measurable
/// share of a cheap request).
pub struct RequestSettings {
    pub body: BodyRules,
    /// Whether 5xx problems carry their internal error chain.
    pub debug: bool,
    /// For the operations' [`super::auth::Authenticated`] callers.
    pub authenticator: Arc<Authenticator>,
    pub rate_limits: Arc<RateLimits>,
    /// Permits for the requests processed at once.
    pub in_flight: Arc<Semaphore>,
    pub deadline: Duration,
    /// Load balancers whose `X-Forwarded-For` the request log believes.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Where requests are counted, unless metrics are off.
    pub metrics: Option<Arc<Metrics>>,
    /// Each operation's route template, by operation id, for the metrics and exported spans.
    pub routes: HashMap<String, Arc<str>>,
    /// Which browser pages of other origins may call the API; `None`: CORS off.
    pub cors: Option<Arc<Cors>>,
}

/// Paths that are answered whatever the load: orchestrators must see a live, ready server, and
/// the documents cost nothing.
fn always_answered(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readiness" | "/openapi.yaml" | "/openapi.json" | "/docs"
    )
}

/// Middleware: runs `req` under the limits, with its id, log line and request data, and turns
/// every error into a problem document.
pub async fn handle<E: Endpoint>(
    next: E,
    mut req: Request,
    settings: Arc<RequestSettings>,
) -> poem::Result<Response> {
    let started = Instant::now();
    let active = settings
        .metrics
        .as_ref()
        .map(|metrics| metrics.request_started(req.method()));
    let log = RequestLog::begin(&req, &settings.trusted_proxies);
    let origin = settings
        .cors
        .as_ref()
        .and_then(|cors| cors.allowed_origin(&req));
    let info = RequestInfo {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
    };
    let span = log.span.clone();
    let mut response = async {
        let refusal =
            if req.version() == Version::HTTP_11 && !req.headers().contains_key(header::HOST) {
                Some(ApiError::missing_host())
            } else {
                None
            };
        if let Some(refusal) = refusal {
            return refusal.render(&info, settings.debug);
        }
        // A preflight carries no credential: it is answered here, before any operation.
        if let Some((cors, origin)) = settings.cors.as_ref().zip(origin.as_ref())
            && let Some(preflight) = cors.preflight(&req, origin)
        {
            return preflight;
        }
        let permit = if always_answered(&info.path) {
            None
        } else {
            match settings.in_flight.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => return ApiError::overloaded().render(&info, settings.debug),
            }
        };
        req.set_data(settings.clone());
        let answer = if permit.is_some() {
            match tokio::time::timeout(settings.deadline, next.call(req)).await {
                Ok(answer) => answer,
                Err(_) => Err(ApiError::deadline_exceeded(settings.deadline).into()),
            }
        } else {
            next.call(req).await
        };
        drop(permit);
        match answer {
            Ok(response) => response.into_response(),
            Err(err) if err.is_from_response() => err.into_response(),
            Err(err) => {
                // The operation and route it came from, for the metrics, outlive the error it
                // is rendered from.
                let operation = err.data::<OperationId>().copied();
                let route = err.data::<PathPattern>().cloned();
                let mut response = ApiError::from_poem(err, &info, settings.body.max_bytes)
                    .render(&info, settings.debug);
                if let Some(operation) = operation {
                    response.set_data(operation);
                }
                if let Some(route) = route {
                    response.set_data(route);
                }
                response
            }
        }
    }
    .instrument(span)
    .await;
    set_common_headers(&mut response, &info.path);
    if let Some(cors) = &settings.cors {
        cors.decorate(origin, &mut response);
    }
    let route = route_of(&settings, &response);
    if let Some(route) = &route {
        log.routed(&info.method, route);
    }
    log.finish(&mut response);
    if let Some(metrics) = &settings.metrics {
        record(metrics, route, &info, &response, started);
    }
    drop(active);
    Ok(response)
}

/// Counts the answered request by its route template and status, and a refused precondition by
/// its operation.
fn record(
    metrics: &Metrics,
    route: Option<Arc<str>>,
    info: &RequestInfo,
    response: &Response,
    started: Instant,
) {
    let status = response.status();
    metrics.request_finished(&info.method, route, status.as_u16(), started.elapsed());
    if status == StatusCode::PRECONDITION_FAILED
        && let Some(operation) = response.data::<OperationId>()
    {
        metrics.precondition_failed(operation.0);
    }
}

/// The template of the route that answered (`/addresses/{id}`), if one did. poem-openapi's
/// patterns name path parameters `:param0`; the contract's template is the operation's. Other
/// routes (the documents) have patterns without parameters.
fn route_of(settings: &RequestSettings, response: &Response) -> Option<Arc<str>> {
    let operation = response.data::<OperationId>();
    match operation.and_then(|operation| settings.routes.get(operation.0)) {
        Some(template) => Some(template.clone()),
        None => response
            .data::<PathPattern>()
            .map(|pattern| pattern.0.clone()),
    }
}

/// Each operation's route template (`/addresses/{id}`), by operation id, from the generated
/// OpenAPI document.
pub fn route_templates(document: &str) -> HashMap<String, Arc<str>> {
    let document: serde_json::Value =
        serde_json::from_str(document).expect("poem-openapi writes JSON");
    let mut routes = HashMap::new();
    for (template, operations) in document["paths"].as_object().into_iter().flatten() {
        for operation in operations
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, op)| op)
        {
            if let Some(id) = operation["operationId"].as_str() {
                routes.insert(id.to_owned(), Arc::from(template.as_str()));
            }
        }
    }
    routes
}

/// No response is to be sniffed as another media type. Problems are never cached; entries and
/// pages are private to their caller and revalidated (cheaply, with their ETag) before reuse.
fn set_common_headers(response: &mut Response, path: &str) {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let problem = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|media| media.as_bytes().starts_with(b"application/problem+json"));
    let cache = if problem {
        Some("no-store")
    } else if path.starts_with("/addresses") {
        Some("private, no-cache")
    } else {
        None
    };
    if let Some(cache) = cache {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
}
