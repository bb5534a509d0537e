//! Problem documents as a caller handles them: matched by kind ([`ProblemKind`], no string
//! compares) and shown as one readable line.

use std::fmt;

use crate::types::Problem;

/// Declares [`ProblemKind`] with the slug of each kind, as it appears after `/problems/` in a
/// problem's `type`.
macro_rules! problem_kinds {
    ($($(#[$doc:meta])* $kind:ident = $slug:literal,)+) => {
        /// What kind of problem the service reported: its `type`, `/problems/<slug>`. Match on
        /// this rather than on `title` or `detail`, which are for people and may be reworded.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProblemKind {
            $($(#[$doc])* $kind,)+
            /// A kind this version of the client does not know (a newer server's), by its
            /// `type`.
            Other(String),
        }

        impl ProblemKind {
            /// Every kind this client knows, with its slug.
            pub const KNOWN: &'static [(&'static str, ProblemKind)] =
                &[$(($slug, ProblemKind::$kind)),+];

            /// The kind named by a problem's `type`.
            pub fn of(problem_type: &str) -> Self {
                match problem_type.strip_prefix("/problems/") {
                    $(Some($slug) => Self::$kind,)+
                    _ => Self::Other(problem_type.to_owned()),
                }
            }
        }
    };
}

problem_kinds! {
    /// The body is not a valid entry; `errors` lists every invalid field.
    ValidationFailed = "validation-failed",
    /// The body is not JSON.
    MalformedJson = "malformed-json",
    /// The body could not be read (bad compression, for example).
    MalformedBody = "malformed-body",
    /// A query or path parameter is malformed or out of range.
    InvalidParameter = "invalid-parameter",
    /// A header (`If-Match`, `If-None-Match`, `Idempotency-Key`) is malformed.
    InvalidHeader = "invalid-header",
    /// No entry has this id (or it is another tenant's).
    NotFound = "not-found",
    /// The entry changed since its `ETag` was read: read it again, then retry.
    PreconditionFailed = "precondition-failed",
    /// The server requires `If-Match` on writes.
    PreconditionRequired = "precondition-required",
    /// A patch kept losing to other writers; nothing was written.
    EditConflict = "edit-conflict",
    /// A request with this `Idempotency-Key` is still being processed.
    IdempotencyKeyInFlight = "idempotency-key-in-flight",
    /// This request took so long that another with the same key took it over.
    IdempotencyClaimLost = "idempotency-claim-lost",
    /// The `Idempotency-Key` was used with another body.
    IdempotencyKeyReused = "idempotency-key-reused",
    /// The body is larger than the server accepts.
    PayloadTooLarge = "payload-too-large",
    /// The body's media type is not one the operation takes.
    UnsupportedMediaType = "unsupported-media-type",
    /// No endpoint at this path.
    UnknownEndpoint = "unknown-endpoint",
    /// The endpoint does not take this method.
    MethodNotAllowed = "method-not-allowed",
    /// An HTTP/1.1 request without `Host`.
    MissingHost = "missing-host",
    /// Another malformed request.
    BadRequest = "bad-request",
    /// The body did not arrive in time.
    RequestTimeout = "request-timeout",
    /// The credential used up its rate; retry after `Retry-After`.
    RateLimited = "rate-limited",
    /// Storage cannot be reached now; retry after `Retry-After`.
    ServiceUnavailable = "service-unavailable",
    /// The server is at its in-flight cap; retry after `Retry-After`.
    Overloaded = "overloaded",
    /// The request ran past its deadline; a write may or may not have been made.
    DeadlineExceeded = "deadline-exceeded",
    /// The server's disk is full; nothing was written.
    InsufficientStorage = "insufficient-storage",
    /// No credential, or one that is not accepted.
    Unauthorized = "unauthorized",
    /// The credential lacks the scope the operation needs.
    InsufficientScope = "insufficient-scope",
    /// The sync token is older than the change history the server keeps: sync again from the
    /// start, without a token.
    SyncTokenExpired = "sync-token-expired",
    /// An unexpected failure of the server.
    InternalError = "internal-error",
    /// The readiness probe: the service cannot serve requests now.
    NotReady = "not-ready",
}

impl Problem {
    /// What kind of problem this is.
    pub fn kind(&self) -> ProblemKind {
        ProblemKind::of(&self.type_)
    }
}

/// One line: `404 Not Found (/problems/not-found): No entry has this id. [GET /addresses/…]`,
/// then each invalid field of a validation problem.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}): {} [{} {}]",
            self.status, self.title, self.type_, self.detail, self.method, self.instance
        )?;
        for field in &self.errors {
            let at = field.pointer.as_deref().or(field.parameter.as_deref());
            write!(f, "; {}: {}", at.unwrap_or("request"), field.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// One readable line for any error of this client: for a problem the service sent, the problem
/// (see [`Problem`]'s `Display`) and the request id to quote when reporting it; for anything else,
/// what progenitor says.
pub fn describe(error: &crate::Error<Problem>) -> String {
    match error {
        crate::Error::ErrorResponse(response) => {
            let request_id = response
                .headers()
                .get("x-request-id")
                .and_then(|id| id.to_str().ok())
                .unwrap_or("none");
            let problem: &Problem = response;
            format!("{problem} (request id {request_id})")
        }
        other => other.to_string(),
    }
}

/// The problem a failed call got, if the service answered with one.
pub fn problem_of(error: &crate::Error<Problem>) -> Option<&Problem> {
    match error {
        crate::Error::ErrorResponse(response) => Some(response),
        _ => None,
    }
}
