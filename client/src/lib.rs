//! Typed Rust client for the address-book service.
//!
//! The client is generated at build time by [progenitor] from the service's contract,
//! `openapi/addressbook.yaml`, so it always matches the spec it was built from. Only two pieces
//! are written by hand, and `build/main.rs` checks the contract still fits them: the merge-patch body
//! [`EntryPatch`], and a pre-hook that sends it with its real media type.
//!
//! # Using it
//!
//! ```no_run
//! use addressbook_client::{Client, Error, types};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("http://127.0.0.1:8080");
//!
//! // Inputs are checked against the schema before anything is sent: a full name that is empty,
//! // too long or blank makes `send()` fail with `Error::InvalidRequest`.
//! let input = types::EntryInput::builder().full_name("Sherlock Holmes");
//! let created = client.create_address().body(input).send().await?;
//! let location = created.headers().get(addressbook_client::reqwest::header::LOCATION);
//! println!("created {} at {location:?}", created.id);
//!
//! match client.get_address().id(created.id).send().await {
//!     Ok(entry) => println!("{}", entry.full_name.as_str()),
//!     // Errors the spec declares come back as typed RFC 9457 problem documents.
//!     Err(Error::ErrorResponse(problem)) => println!("{}: {}", problem.status(), problem.title),
//!     Err(other) => return Err(other.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! * One method per operation, named after its `operationId` in snake case
//!   ([`Client::list_addresses`], [`Client::create_address`], [`Client::get_address`],
//!   [`Client::replace_address`], [`Client::patch_address`], [`Client::delete_address`],
//!   [`Client::batch_addresses`], [`Client::rename_label`], [`Client::delete_label`],
//!   [`Client::list_changes`], [`Client::get_health`],
//!   [`Client::get_readiness`], [`Client::get_metrics`]). Each returns a builder from [`builder`];
//!   set parameters (query parameters and the `If-Match`, `If-None-Match` and `Idempotency-Key`
//!   headers included) and the body on it, then `.send().await`.
//! * [`Client::new`] and [`Client::try_new`] take the service's base URL, with or without a
//!   trailing slash; a URL without `http://` or `https://` is refused at once (`try_new` says why,
//!   `new` panics saying why), never at the first call.
//! * Success gives a [`ResponseValue<T>`]: it derefs to the body and carries
//!   [`status()`](ResponseValue::status) and [`headers()`](ResponseValue::headers);
//!   [`ResponseHeaders`] reads `ETag`, `Location` and `X-Request-Id` from them. A read
//!   [`types::Entry`] converts into the [`types::EntryInput`] that replaces it (`EntryInput::from`).
//! * Failure gives an [`Error<E>`]. A status the operation declares arrives as
//!   [`Error::ErrorResponse`] holding a [`types::Problem`] ([`types::NotReady`] for
//!   `get_readiness`): match on [`types::Problem::kind`] ([`ProblemKind`]), show it with its
//!   `Display` (one line), or the whole error with [`describe`] (which adds the request id). A status it does not declare (for example `405`, or any error from
//!   `get_health`) arrives as [`Error::UnexpectedResponse`] with the raw [`reqwest::Response`];
//!   so does the body-less `304 Not Modified` of a conditional read, which [`is_not_modified`]
//!   recognises. Input that breaks the schema is refused as [`Error::InvalidRequest`] without a
//!   request.
//! * [`builder::ListAddresses::stream`] walks every page of a listing as one stream of entries,
//!   fetching each page as it is read.
//! * [`Client::patch_address`] takes an [`EntryPatch`], written by hand rather than generated so
//!   that a member left out ("leave it alone") and a `null` member ("remove it") stay distinct,
//!   and sends it as `application/merge-patch+json` (RFC 7396).
//!
//! The server sends error bodies as `application/problem+json`. The spec handed to the generator
//! presents them as `application/json` (see `build/main.rs`) so that they are typed; decoding never
//! looks at the response's `Content-Type`, so the real media type is read just the same. It
//! presents the merge-patch request body as `application/json` too, since the generator refuses
//! that media type; a pre-hook puts `application/merge-patch+json` back on the wire.
//!
//! [progenitor]: https://github.com/oxidecomputer/progenitor

/// The generated code, kept in its own module so that lint exceptions for it do not reach the
/// hand-written code of this crate.
// Multi-line descriptions in the spec become Markdown list items in the generated method docs,
// which clippy flags as lazy continuations; the text is the spec's, not ours to reflow.
#[allow(clippy::doc_lazy_continuation)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
}

pub use generated::*;

/// The command-line client's commands, generated from the contract: one `clap` command per
/// operation, and the code that runs it through [`Client`]. The `addressbook-cli` crate names
/// them and prints their results.
#[cfg(feature = "cli")]
// The per-operation hooks of `CliConfig` are generated with parameters they do not use.
#[allow(clippy::all, unused_variables)]
pub mod cli {
    include!(concat!(env!("OUT_DIR"), "/cli.rs"));
}

mod base_url;
pub use base_url::InvalidBaseUrl;

mod batch;

mod entry;
pub use entry::ResponseHeaders;

mod pages;

mod patch;
pub use patch::EntryPatch;

mod problem;
pub use problem::{ProblemKind, describe, problem_of};

mod sort;
pub use sort::SortOrder;

/// A credential a [`Client`] sends on every request.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A JWT, sent as `Authorization: Bearer <token>`.
    BearerToken(String),
    /// An API key (`abk_...`), sent as `X-API-Key`.
    ApiKey(String),
}

/// Why a client could not be made.
#[derive(Debug)]
pub enum ClientBuildError {
    /// The base URL is not `http(s)://host[:port][/stem]`.
    BaseUrl(InvalidBaseUrl),
    /// The credential holds characters a header cannot carry.
    InvalidCredential,
    /// reqwest could not build its client.
    Http(reqwest::Error),
}

impl std::fmt::Display for ClientBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BaseUrl(err) => err.fmt(f),
            Self::InvalidCredential => f.write_str("the credential is not valid header text"),
            Self::Http(err) => write!(f, "cannot build the HTTP client: {err}"),
        }
    }
}

impl std::error::Error for ClientBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BaseUrl(err) => Some(err),
            Self::InvalidCredential => None,
            Self::Http(err) => Some(err),
        }
    }
}

impl Client {
    /// A client for the service at `baseurl` (`http://127.0.0.1:8080`; a trailing slash is
    /// fine), with the same timeouts as [`Client::new`]. Unlike `new`, which panics on a base
    /// URL it cannot use, this says what is wrong with it.
    ///
    /// ```
    /// use addressbook_client::Client;
    /// assert!(Client::try_new("http://127.0.0.1:8080/").is_ok());
    /// let err = Client::try_new("127.0.0.1:8080").unwrap_err();
    /// assert!(err.to_string().contains("http://"));
    /// ```
    pub fn try_new(baseurl: &str) -> Result<Self, ClientBuildError> {
        let baseurl = base_url::checked(baseurl).map_err(ClientBuildError::BaseUrl)?;
        let timeout = std::time::Duration::from_secs(15);
        let client = reqwest::ClientBuilder::new()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(ClientBuildError::Http)?;
        Ok(Self::new_with_client(&baseurl, client))
    }

    /// A client that sends `credential` on every request, with the same timeouts as
    /// [`Client::new`]. Progenitor ignores the contract's security schemes, so the credential
    /// travels as a default header of the underlying `reqwest::Client`.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), addressbook_client::ClientBuildError> {
    /// use addressbook_client::{Client, Credential};
    /// let client = Client::with_credential(
    ///     "https://addressbook.example",
    ///     Credential::ApiKey(std::env::var("ADDRESSBOOK_API_KEY").unwrap_or_default()),
    /// )?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_credential(
        baseurl: &str,
        credential: Credential,
    ) -> Result<Self, ClientBuildError> {
        let baseurl = base_url::checked(baseurl).map_err(ClientBuildError::BaseUrl)?;
        let (name, value) = match credential {
            Credential::BearerToken(token) => {
                (reqwest::header::AUTHORIZATION, format!("Bearer {token}"))
            }
            Credential::ApiKey(key) => (reqwest::header::HeaderName::from_static("x-api-key"), key),
        };
        let mut value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| ClientBuildError::InvalidCredential)?;
        // Kept out of reqwest's debug output and logs.
        value.set_sensitive(true);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(name, value);
        let timeout = std::time::Duration::from_secs(15);
        let client = reqwest::ClientBuilder::new()
            .connect_timeout(timeout)
            .timeout(timeout)
            .default_headers(headers)
            .build()
            .map_err(ClientBuildError::Http)?;
        Ok(Self::new_with_client(&baseurl, client))
    }
}

// Re-exported so callers can build a custom `reqwest::Client` (`Client::new_with_client`) and
// name header constants without having to depend on the exact reqwest version used here.
pub use reqwest;
// The generated types name these (`uuid::Uuid` ids, `chrono` timestamps); re-exported so callers
// use the same versions without depending on them.
pub use chrono;
pub use uuid;
// `ListAddresses::stream` returns a `futures::Stream`; callers read it with these extension traits.
pub use futures;

/// Whether a conditional read was answered `304 Not Modified`: the entry still has the `ETag` sent
/// in `If-None-Match`, so the copy the caller holds is current.
///
/// Progenitor types only 2xx answers as success and 4xx/5xx ones as error responses, so a 304
/// (which has no body) arrives as [`Error::UnexpectedResponse`]. Its `ETag` header is still
/// readable from the response inside.
///
/// ```no_run
/// # async fn demo(client: addressbook_client::Client, id: uuid::Uuid, etag: &str)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// match client.get_address().id(id).if_none_match(etag).send().await {
///     Ok(entry) => println!("changed: now {}", entry.full_name.as_str()),
///     Err(e) if addressbook_client::is_not_modified(&e) => println!("unchanged"),
///     Err(e) => return Err(e.into()),
/// }
/// # Ok(())
/// # }
/// ```
pub fn is_not_modified<E>(error: &Error<E>) -> bool {
    matches!(error, Error::UnexpectedResponse(response)
        if response.status() == reqwest::StatusCode::NOT_MODIFIED)
}

// Compiles the README's examples as doctests so that they cannot drift from the generated API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
