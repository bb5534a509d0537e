//! Every error a client can see, and the one place where failures become HTTP responses: RFC 9457
//! problem documents (`application/problem+json`).
//!
//! Handlers return [`ApiError`]s (usually via `?` on a [`ServiceError`]); errors raised by poem
//! and poem-openapi themselves (unknown route, wrong method, bad parameter, wrong content type)
//! are caught by [`problem_details`] and mapped here too, so no response ever leaves the server
//! as poem's default `text/plain`.

use std::error::Error as StdError;
use std::fmt;
use std::marker::PhantomData;

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

use super::schema::{InvalidField, Problem};
use crate::domain::ValidationErrors;
use crate::service::ServiceError;
use crate::storage::StorageError;

/// A failure on its way to becoming a problem document.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Last segment of the problem `type` URI, e.g. `not-found`.
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<InvalidField>,
    /// The internal cause of a 5xx: logged, and shown to clients only in debug mode.
    cause: Option<Box<dyn StdError + Send + Sync>>,
}

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
            detail: detail.into(),
            errors: Vec::new(),
            cause: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
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

    pub fn idempotency_key_in_flight() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-flight",
            "Request In Progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
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
            "Storage cannot be reached right now; retrying later is safe.",
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
    fn other_client_error(status: StatusCode, message: String) -> Self {
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
            ServiceError::NotFound => Self::entry_not_found(),
            ServiceError::PreconditionFailed => Self::precondition_failed(),
            ServiceError::PreconditionRequired => Self::precondition_required(),
            ServiceError::Invalid(errors) => errors.into(),
            ServiceError::Storage(err @ StorageError::Unavailable(_)) => Self::unavailable(err),
            ServiceError::Storage(err @ StorageError::Internal(_)) => Self::internal(err),
        }
    }
}

impl From<poem::Error> for ApiError {
    /// Maps the errors poem and poem-openapi raise before a handler runs.
    fn from(err: poem::Error) -> Self {
        use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError};
        use poem_openapi::error::{ContentTypeError, ParseParamError};

        if err.is::<ApiError>() {
            return err.downcast::<ApiError>().expect("checked by is()");
        }
        if let Some(e) = err.downcast_ref::<ParseParamError>() {
            // poem-openapi prefixes the parser's own words with `failed to parse "<type>": `, which
            // names an internal type; the words after it are the reason.
            let reason = match e.reason.split_once("\": ") {
                Some((prefix, rest)) if prefix.starts_with("failed to parse \"") => rest,
                _ => e.reason.as_str(),
            };
            return Self::invalid_parameter(e.name, reason.trim_end_matches('.').to_owned());
        }
        let context = RequestContext::current();
        if err.is::<NotFoundError>() {
            return Self::unknown_endpoint(&context.path);
        }
        if err.is::<MethodNotAllowedError>() {
            let allow = super::contract::allowed_methods(&context.path).join(", ");
            return Self::method_not_allowed(&context.method, &allow);
        }
        if let Some(e) = err.downcast_ref::<ContentTypeError>() {
            return match e {
                ContentTypeError::NotSupported { content_type } => {
                    Self::unsupported_media_type(Some(content_type), "application/json")
                }
                ContentTypeError::ExpectContentType => {
                    Self::unsupported_media_type(None, "application/json")
                }
            };
        }
        if let Some(ReadBodyError::PayloadTooLarge) = err.downcast_ref::<ReadBodyError>() {
            return Self::payload_too_large(context.body_limit);
        }
        let status = err.status();
        if status.is_client_error() {
            Self::other_client_error(status, err.to_string())
        } else {
            Self::internal(err.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let context = RequestContext::current();
        let chain = error_chain(&self);
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %chain.join(": "), "request failed");
        }
        let allow = (self.status == StatusCode::METHOD_NOT_ALLOWED)
            .then(|| super::contract::allowed_methods(&context.path).join(", "));
        let problem = Problem {
            problem_type: format!("/problems/{}", self.slug),
            title: self.title.to_owned(),
            status: i32::from(self.status.as_u16()),
            detail: self.detail,
            instance: context.path,
            method: context.method.to_string(),
            errors: (!self.errors.is_empty()).then_some(self.errors),
            // Internal details help a developer and would help an attacker: debug mode only.
            error_chain: (context.debug && self.status.is_server_error()).then_some(chain),
        };
        let mut response = ProblemJson(problem)
            .with_status(self.status)
            .into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(
                header::ALLOW,
                allow.parse().expect("method names are valid header text"),
            );
        }
        response
    }
}

/// The internal causes of `err`, without `err`'s own (client-facing) message.
fn error_chain(err: &ApiError) -> Vec<String> {
    err.source()
        .map(crate::telemetry::causes)
        .unwrap_or_default()
}

impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        let status = err.status;
        poem::Error::new(err, status)
    }
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

/// The error statuses one operation declares in the contract. poem-openapi lists an operation's
/// responses from its return type, so each operation names its own set and the generated document
/// says exactly which problems each operation can return.
pub trait ErrorSet: Send + Sync + 'static {
    const STATUSES: &'static [(u16, &'static str)];
}

/// Declares an [`ErrorSet`]: `error_set!(GetErrors: 404 => "…", 500 => "…");`
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal => $description:literal),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;
        impl $crate::api::problem::ErrorSet for $name {
            const STATUSES: &'static [(u16, &'static str)] = &[$(($status, $description)),+];
        }
    };
}
pub(crate) use error_set;

/// An [`ApiError`] returned by an operation whose possible statuses are the set `S`.
pub struct Declared<S>(ApiError, PhantomData<S>);

pub type ApiResult<T, S> = Result<T, Declared<S>>;

impl<S> From<ApiError> for Declared<S> {
    fn from(err: ApiError) -> Self {
        Self(err, PhantomData)
    }
}

impl<S> From<ServiceError> for Declared<S> {
    fn from(err: ServiceError) -> Self {
        Self(err.into(), PhantomData)
    }
}

impl<S: ErrorSet> ApiResponse for Declared<S> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: S::STATUSES
                .iter()
                .map(|&(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: ProblemJson::<Problem>::CONTENT_TYPE,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl<S: ErrorSet> IntoResponse for Declared<S> {
    fn into_response(self) -> Response {
        debug_assert!(
            S::STATUSES
                .iter()
                .any(|&(status, _)| status == self.0.status.as_u16()),
            "status {} is not declared for this operation",
            self.0.status
        );
        self.0.into_response()
    }
}

impl<S: ErrorSet> From<Declared<S>> for poem::Error {
    fn from(err: Declared<S>) -> Self {
        poem::Error::from_response(err.into_response())
    }
}

/// What a problem document says about the request that caused it. Set per request by
/// [`problem_details`]; read wherever an [`ApiError`] becomes a response.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub method: Method,
    pub path: String,
    pub debug: bool,
    pub body_limit: usize,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

impl RequestContext {
    fn current() -> Self {
        CONTEXT
            .try_with(Clone::clone)
            .unwrap_or_else(|_| RequestContext {
                method: Method::GET,
                path: String::new(),
                debug: false,
                body_limit: 0,
            })
    }

    pub fn body_limit() -> usize {
        Self::current().body_limit
    }
}

/// Middleware: runs the request with its [`RequestContext`] and turns every error that reaches
/// it into a problem document.
pub async fn problem_details<E: Endpoint>(
    next: E,
    req: Request,
    debug: bool,
    body_limit: usize,
) -> poem::Result<Response> {
    let context = RequestContext {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        debug,
        body_limit,
    };
    CONTEXT
        .scope(context, async move {
            Ok(match next.call(req).await {
                Ok(response) => response.into_response(),
                Err(err) if err.is_from_response() => err.into_response(),
                Err(err) => ApiError::from(err).into_response(),
            })
        })
        .await
}
