//! The error statuses each operation declares. poem-openapi lists an operation's responses from
//! its return type, so each operation names its own [`ErrorSet`] and the generated document says
//! exactly which problems each operation can return; the drift test holds that document to the
//! contract, and `tests/declared_statuses.rs` holds every handler to its set.

use std::marker::PhantomData;

use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;

use super::problem::{ApiError, ProblemJson};
use super::schema::Problem;
use crate::service::ServiceError;

/// The error statuses of one operation, each with what it means there.
pub trait ErrorSet: Send + Sync + 'static {
    const STATUSES: &'static [(u16, &'static str)];
}

/// Declares an [`ErrorSet`]: `error_set!(GetErrors: 404 => "…", 500 => "…");`
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal => $description:literal),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;
        impl $crate::api::declared::ErrorSet for $name {
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
                    headers: headers_of(status),
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

/// The headers a problem of `status` carries: a 503 or 429 says when to retry, a 401 or 403 what
/// credential is wanted (RFC 6750).
fn headers_of(status: u16) -> Vec<MetaHeader> {
    let header = |name: &str, description: &str, schema: MetaSchema| MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(schema)),
    };
    match status {
        503 => vec![header(
            "Retry-After",
            "Seconds to wait before retrying.",
            MetaSchema::new_with_format("integer", "int32"),
        )],
        401 | 403 => vec![header(
            "WWW-Authenticate",
            "The credential wanted (RFC 6750).",
            MetaSchema::new("string"),
        )],
        429 => vec![
            header(
                "Retry-After",
                "Seconds to wait before retrying.",
                MetaSchema::new_with_format("integer", "int32"),
            ),
            header(
                "RateLimit-Policy",
                "The credential's quota (draft-ietf-httpapi-ratelimit-headers).",
                MetaSchema::new("string"),
            ),
            header(
                "RateLimit",
                "What is left of it, and when it is full again.",
                MetaSchema::new("string"),
            ),
        ],
        _ => Vec::new(),
    }
}

impl<S: ErrorSet> From<Declared<S>> for poem::Error {
    fn from(Declared(err, _): Declared<S>) -> Self {
        let status = err.status().as_u16();
        if S::STATUSES.iter().any(|&(declared, _)| declared == status) {
            return err.into();
        }
        // A client must never get a status the contract does not promise for the operation; a
        // 500 (declared by every operation) says that this is the server's fault, and the log
        // says which status it was about to send.
        tracing::error!(status, error = %err, "an operation answered a status it does not declare");
        ApiError::internal(format!("undeclared status {status}: {err}")).into()
    }
}
