//! The middleware every API request passes through: it hands the body-size limit to the body
//! reader as request data, and renders every error that reaches it as a problem document about
//! the request (its method and path).

use poem::{Endpoint, IntoResponse, Request, Response};

use super::problem::{ApiError, RequestInfo};

/// The largest request body accepted, after decompression: request data for the body reader.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// How the middleware treats requests, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct ProblemSettings {
    pub body_limit: BodyLimit,
    /// Whether 5xx problems carry their internal error chain.
    pub debug: bool,
}

/// Middleware: runs `req` with its [`BodyLimit`] and turns every error into a problem document.
pub async fn problem_details<E: Endpoint>(
    next: E,
    mut req: Request,
    settings: ProblemSettings,
) -> poem::Result<Response> {
    let info = RequestInfo {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
    };
    req.set_data(settings.body_limit);
    Ok(match next.call(req).await {
        Ok(response) => response.into_response(),
        Err(err) if err.is_from_response() => err.into_response(),
        Err(err) => {
            ApiError::from_poem(err, &info, settings.body_limit.0).render(&info, settings.debug)
        }
    })
}
