//! The middleware every API request passes through, as one layer: it gives the request its id
//! and log line (`request_log.rs`), hands the body-size limit to the body reader as request data,
//! and renders every error that reaches it as a problem document about the request (its method
//! and path).

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument as _;

use super::problem::{ApiError, RequestInfo};
use super::request_log::RequestLog;
use crate::auth::Authenticator;

/// The largest request body accepted, after decompression: request data for the body reader.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// How the middleware treats requests, from configuration.
#[derive(Clone)]
pub struct RequestSettings {
    pub body_limit: BodyLimit,
    /// Whether 5xx problems carry their internal error chain.
    pub debug: bool,
    /// Request data for the operations' [`super::auth::Authenticated`] callers.
    pub authenticator: Arc<Authenticator>,
}

/// Middleware: runs `req` with its id, log line and [`BodyLimit`], and turns every error into a
/// problem document.
pub async fn handle<E: Endpoint>(
    next: E,
    mut req: Request,
    settings: RequestSettings,
) -> poem::Result<Response> {
    let log = RequestLog::begin(&req);
    let info = RequestInfo {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
    };
    req.set_data(settings.body_limit);
    req.set_data(settings.authenticator.clone());
    let span = log.span.clone();
    let mut response = async {
        match next.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) if err.is_from_response() => err.into_response(),
            Err(err) => {
                ApiError::from_poem(err, &info, settings.body_limit.0).render(&info, settings.debug)
            }
        }
    }
    .instrument(span)
    .await;
    log.finish(&mut response);
    Ok(response)
}
