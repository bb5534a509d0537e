//! The catalogue of problems a client can see, and how each becomes an RFC 9457 problem document
//! (`application/problem+json`). [`ApiError`] is the one error type of the API layer: handlers
//! return it (usually via `?` on a [`ServiceError`]), `rejection.rs` maps poem's own errors to it,
//! and the middleware in `context.rs` renders it with what it knows of the request.

use std::error::Error as StdError;
use std::fmt;

use poem::http::{Method, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

use super::schema::{InvalidField, Problem};
use crate::domain::ValidationErrors;
use crate::service::ServiceError;

/// A failure on its way to becoming a problem document.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Last segment of the problem `type` URI, e.g. `not-found`.
    slug: &'static str,
    title: &'static str,
    // Boxed: every handler's `Result` carries an `ApiError`, and clippy rightly wants it small.
    detail: Box<str>,
    errors: Vec<InvalidField>,
    /// The internal cause of a 5xx: logged, and shown to clients only in debug mode.
    cause: Option<Box<dyn StdError + Send + Sync>>,
    /// Headers the problem's response carries (`Retry-After`, `WWW-Authenticate`).
    headers: Vec<(header::HeaderName, header::HeaderValue)>,
}

/// The protection space `WWW-Authenticate` names.
const REALM: &str = "addressbook";

/// How long a client should wait before retrying a request refused with 503: storage faults
/// this service recovers from (a lock held by another process, a connection lost) last seconds.
pub const RETRY_AFTER_SECS: u32 = 1;

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into().into_boxed_str(),
            errors: Vec::new(),
            cause: None,
            headers: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The same problem, its response carrying `name: value` too.
    fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        let value = header::HeaderValue::from_str(&value).expect("header values are built here");
        self.headers.push((name, value));
        self
    }

    /// No credential, or one that is not accepted (RFC 6750, 3). `error` is the RFC's code for
    /// a credential sent but refused, absent when none was sent.
    pub fn unauthorized(error: Option<&str>, detail: &str) -> Self {
        let challenge = match error {
            Some(error) => format!(
                "Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{detail}\""
            ),
            None => format!("Bearer realm=\"{REALM}\""),
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            format!(
                "{detail}. Send a bearer token (Authorization: Bearer ...) or an API key \
                 (X-API-Key)."
            ),
        )
        .with_header(header::WWW_AUTHENTICATE, challenge)
    }

    /// The credential is good, but not for this: it lacks `scope`.
    pub fn insufficient_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Insufficient Scope",
            format!("This operation needs the `{scope}` scope, which the credential lacks."),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""),
        )
    }

    pub fn entry_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not Found",
            "No entry has this id.",
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition Failed",
            "The entry does not match If-Match: it changed since you read it. Read it again, then retry.",
        )
    }

    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Precondition Required",
            "This server requires If-Match on writes: read the entry and send its ETag.",
        )
    }

    pub fn edit_conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "edit-conflict",
            "Edit Conflict",
            "The entry kept changing while the patch was applied, so nothing was written; retry it.",
        )
    }

    pub fn idempotency_key_in_flight() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-flight",
            "Request In Progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )
    }

    pub fn idempotency_claim_lost() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency-claim-lost",
            "Idempotency Key Taken Over",
            "This request took so long that another request with the same Idempotency-Key took \
             it over; nothing was created by this one. Retry with the same key to get the outcome.",
        )
    }

    pub fn sync_token_expired() -> Self {
        Self::new(
            StatusCode::GONE,
            "sync-token-expired",
            "Sync Token Expired",
            "This token is older than the change history kept: changes it would need are gone. \
             Sync again from the start, without a token, and keep the token that ends that sync.",
        )
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency Key Reused",
            "This Idempotency-Key was used with a different body; use a new key for a new entry.",
        )
    }

    pub fn unknown_endpoint(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown-endpoint",
            "Unknown Endpoint",
            format!("The API has no endpoint at {path}; see /openapi.yaml for the ones it has."),
        )
    }

    pub fn method_not_allowed(method: &Method, allow: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method Not Allowed",
            format!("This endpoint does not support {method}; it supports {allow}."),
        )
    }

    pub fn malformed_json(err: &serde_json::Error) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            format!("The body is not valid JSON: {err}."),
        )
    }

    /// The body could not be read: broken compression, a connection cut mid-body.
    pub fn malformed_body(err: &dyn StdError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed Body",
            format!("The body could not be read: {err}."),
        )
    }

    pub fn invalid_parameter(name: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut err = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid Parameter",
            format!("The parameter `{name}` {reason}."),
        );
        err.errors.push(InvalidField {
            pointer: None,
            parameter: Some(name.to_owned()),
            reason,
        });
        err
    }

    pub fn invalid_header(name: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut err = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            "Invalid Header",
            format!("The header `{name}` {reason}."),
        );
        err.errors.push(InvalidField {
            pointer: None,
            parameter: Some(name.to_owned()),
            reason,
        });
        err
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload Too Large",
            format!("The body is larger than {limit} bytes once decompressed."),
        )
    }

    pub fn unsupported_media_type(content_type: Option<&str>, expected: &str) -> Self {
        let detail = match content_type {
            Some(ct) => format!("The body is sent as {ct:?}; this endpoint takes {expected}."),
            None => format!("The request has no Content-Type; this endpoint takes {expected}."),
        };
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported Media Type",
            detail,
        )
    }

    pub fn unsupported_encoding(encoding: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported Media Type",
            format!(
                "The body is encoded as {encoding:?}; send it as is, or with gzip, deflate or br."
            ),
        )
    }

    pub fn unavailable(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service Unavailable",
            "Storage cannot take this request right now, and nothing was written; retrying after \
             Retry-After seconds is safe.",
        );
        err.cause = Some(cause.into());
        err.with_header(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())
    }

    /// More requests are being processed than the server takes at once.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Overloaded",
            "The server is processing as many requests as it takes at once; nothing was done. \
             Retry after Retry-After seconds.",
        )
        .with_header(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())
    }

    /// The request took longer than the server allows, and its work was cancelled.
    pub fn deadline_exceeded(deadline: std::time::Duration) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "deadline-exceeded",
            "Deadline Exceeded",
            format!(
                "The request took longer than {} ms and was cancelled. A write may or may not \
                 have been made: read before retrying, or retry a create with an Idempotency-Key.",
                deadline.as_millis()
            ),
        )
        .with_header(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())
    }

    /// The body did not arrive within the body deadline.
    pub fn body_timeout(deadline: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request Timeout",
            format!(
                "The body did not arrive within {} ms of the headers; nothing was written.",
                deadline.as_millis()
            ),
        )
    }

    /// The caller has used up its rate; it may retry after `wait`.
    pub fn rate_limited(wait: std::time::Duration, rate: u32) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too Many Requests",
            format!(
                "This credential may make {rate} requests a second; nothing was done. Retry \
                 after Retry-After seconds."
            ),
        )
        .with_header(header::RETRY_AFTER, seconds.to_string())
        .with_header(
            header::HeaderName::from_static("ratelimit-policy"),
            format!("\"per-credential\";q={rate};w=1"),
        )
        .with_header(
            header::HeaderName::from_static("ratelimit"),
            format!("\"per-credential\";r=0;t={seconds}"),
        )
    }

    /// An HTTP/1.1 request without `Host` (RFC 9112, 3.2).
    pub fn missing_host() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "missing-host",
            "Missing Host",
            "An HTTP/1.1 request must carry a Host header.",
        )
    }

    pub fn insufficient_storage(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let mut err = Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient-storage",
            "Insufficient Storage",
            "The server's disk is full, so nothing was written; retry once space has been freed.",
        );
        err.cause = Some(cause.into());
        err
    }

    pub fn internal(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal Server Error",
            "The server failed unexpectedly; the failure is logged under this request's X-Request-Id.",
        );
        err.cause = Some(cause.into());
        err
    }

    /// A 4xx poem raised for a reason this module has no better words for.
    pub(super) fn other_client_error(status: StatusCode, message: String) -> Self {
        let title = status.canonical_reason().unwrap_or("Bad Request");
        Self::new(status, "bad-request", title, message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn StdError + 'static))
    }
}

impl ApiError {
    /// The same problem, saying `detail` instead.
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = detail.into();
        self
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        let mut err = Self::new(
            StatusCode::BAD_REQUEST,
            "validation-failed",
            "Validation Failed",
            format!("{errors}; `errors` lists each one."),
        );
        err.errors = errors
            .0
            .into_iter()
            .map(|e| InvalidField {
                pointer: Some(e.pointer),
                parameter: None,
                reason: e.reason,
            })
            .collect();
        err
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Forbidden(scope) => Self::insufficient_scope(scope.name()),
            ServiceError::NotFound => Self::entry_not_found(),
            ServiceError::PreconditionFailed => Self::precondition_failed(),
            ServiceError::PreconditionRequired => Self::precondition_required(),
            ServiceError::Invalid(errors) => errors.into(),
            ServiceError::EditConflict => Self::edit_conflict(),
            ServiceError::KeyInFlight => Self::idempotency_key_in_flight(),
            ServiceError::KeyReused => Self::idempotency_key_reused(),
            ServiceError::KeyTakenOver => Self::idempotency_claim_lost(),
            ServiceError::HistoryGone => Self::sync_token_expired(),
            err @ ServiceError::Unavailable(_) => Self::unavailable(err),
            err @ ServiceError::StorageFull(_) => Self::insufficient_storage(err),
            err @ ServiceError::Internal(_) => Self::internal(err),
        }
    }
}

impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        let status = err.status;
        poem::Error::new(err, status)
    }
}

/// What a problem document says about the request that caused it.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    pub method: Method,
    pub path: String,
}

impl ApiError {
    /// The problem document of this error, answering `request`. With `debug`, a 5xx carries its
    /// internal error chain; otherwise that goes to the log only.
    pub fn render(self, request: &RequestInfo, debug: bool) -> Response {
        let status = self.status;
        let allow = (status == StatusCode::METHOD_NOT_ALLOWED)
            .then(|| super::contract::allowed_methods(&request.path).join(", "));
        let (problem, headers) = self.document(request, debug);
        let mut response = ProblemJson(problem).with_status(status).into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(
                header::ALLOW,
                allow.parse().expect("method names are valid header text"),
            );
        }
        for (name, value) in headers {
            response.headers_mut().insert(name, value);
        }
        response
    }

    /// The problem document of this error as one part of an answer (an operation of a batch):
    /// without the headers, which belong to whole responses, and without the internal causes of
    /// a 5xx, which are logged.
    pub fn into_problem(self, request: &RequestInfo) -> Problem {
        self.document(request, false).0
    }

    /// The problem document, and the headers its response carries. A 5xx is logged with its
    /// causes; with `debug`, the document carries them too.
    fn document(
        self,
        request: &RequestInfo,
        debug: bool,
    ) -> (Problem, Vec<(header::HeaderName, header::HeaderValue)>) {
        let chain = error_chain(&self);
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %chain.join(": "), "request failed");
        }
        let problem = Problem {
            problem_type: format!("/problems/{}", self.slug),
            title: self.title.to_owned(),
            status: i32::from(self.status.as_u16()),
            detail: self.detail.into(),
            instance: request.path.clone(),
            method: request.method.to_string(),
            errors: (!self.errors.is_empty()).then_some(self.errors),
            // Internal details help a developer and would help an attacker: debug mode only.
            error_chain: (debug && self.status.is_server_error()).then_some(chain),
        };
        (problem, self.headers)
    }
}

/// The internal causes of `err`, without `err`'s own (client-facing) message.
fn error_chain(err: &ApiError) -> Vec<String> {
    err.source()
        .map(crate::telemetry::causes)
        .unwrap_or_default()
}

/// A body sent as `application/problem+json`.
pub struct ProblemJson<T>(pub T);

impl<T: Type + Send> Payload for ProblemJson<T> {
    const CONTENT_TYPE: &'static str = "application/problem+json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for ProblemJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type("application/problem+json")
                .body(body),
            // Problem types hold only strings and numbers; this cannot fail.
            Err(err) => unreachable!("a problem document always serializes: {err}"),
        }
    }
}
