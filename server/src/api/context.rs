//! The middleware every API request passes through, as one layer. It gives the request its id
//! and log line (`request_log.rs`); refuses an HTTP/1.1 request without `Host`; sheds load past
//! the in-flight cap and cancels a request past its deadline (both 503 at once, never a queue);
//! hands its settings (body rules, authenticator, rate limits) to the operations as one piece
//! of request data; renders every error that reaches it as a problem document about the request; and sets
//! the headers every response carries (`X-Content-Type-Options`, `Cache-Control`).

use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderValue, Version, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::limits::RateLimits;
use super::problem::{ApiError, RequestInfo};
use super::request_log::RequestLog;
use crate::auth::Authenticator;

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
    let log = RequestLog::begin(&req, &settings.trusted_proxies);
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
            Err(err) => ApiError::from_poem(err, &info, settings.body.max_bytes)
                .render(&info, settings.debug),
        }
    }
    .instrument(span)
    .await;
    set_common_headers(&mut response, &info.path);
    log.finish(&mut response);
    Ok(response)
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
