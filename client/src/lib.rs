//! Typed Rust client for the address-book service.
//!
//! Everything here is generated at build time by [progenitor] from the service's contract,
//! `openapi/addressbook.yaml`, so the client always matches the spec it was built from. There is
//! no hand-written request code to drift from the server.
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
//!   [`Client::replace_address`], [`Client::delete_address`], [`Client::get_health`],
//!   [`Client::get_readiness`]). Each returns a builder from [`builder`]; set parameters and the
//!   body on it, then `.send().await`.
//! * Success gives a [`ResponseValue<T>`]: it derefs to the body and carries
//!   [`status()`](ResponseValue::status) and [`headers()`](ResponseValue::headers). Response
//!   headers such as `Location` and `X-Request-Id` are not typed; read them from `headers()`.
//! * Failure gives an [`Error<E>`]. A status the operation declares arrives as
//!   [`Error::ErrorResponse`] holding a [`types::Problem`] ([`types::NotReady`] for
//!   `get_readiness`). A status it does not declare (for example `405`, or any error from
//!   `get_health`) arrives as [`Error::UnexpectedResponse`] with the raw [`reqwest::Response`].
//!   Input that breaks the schema is refused as [`Error::InvalidRequest`] without a request.
//!
//! The server sends error bodies as `application/problem+json`. The spec handed to the generator
//! presents them as `application/json` (see `build.rs`) so that they are typed; decoding never
//! looks at the response's `Content-Type`, so the real media type is read just the same.
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

// Re-exported so callers can build a custom `reqwest::Client` (`Client::new_with_client`) and
// name header constants without having to depend on the exact reqwest version used here.
pub use reqwest;

// Compiles the README's examples as doctests so that they cannot drift from the generated API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
