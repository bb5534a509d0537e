//! The HTTP API: one file per resource, the body and error conventions they share, and
//! [`build`], which assembles them with the middleware every request passes through.

mod addresses;
mod body;
mod contract;
mod health;
mod problem;
mod request_log;
mod schema;

use std::time::Instant;

use poem::middleware::Compression;
use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::{OpenApiService, Tags};

pub use contract::CONTRACT_YAML;

use crate::domain::Cursors;
use crate::service::{AddressBook, Policy};

#[derive(Tags)]
enum ApiTags {
    /// Address-book entries.
    #[oai(rename = "addresses")]
    Addresses,
    /// Liveness and readiness probes.
    #[oai(rename = "health")]
    Health,
}

/// What the API needs to know about how it is run.
#[derive(Clone)]
pub struct ApiOptions {
    /// Largest accepted request body, after decompression.
    pub max_body_bytes: usize,
    /// Whether 5xx problems carry their internal error chain.
    pub debug: bool,
    /// Signs and checks pagination cursors.
    pub cursors: Cursors,
}

type Api = (addresses::AddressesApi, health::HealthApi);

fn service(book: AddressBook, cursors: Cursors, started: Instant) -> OpenApiService<Api, ()> {
    let apis = (
        addresses::AddressesApi {
            book: book.clone(),
            cursors,
        },
        health::HealthApi { book, started },
    );
    OpenApiService::new(apis, "Address Book API", "1.0.0")
}

/// The OpenAPI document poem-openapi derives from the handlers, as JSON. The drift test compares
/// it with the contract.
pub fn generated_document() -> String {
    let storage = std::sync::Arc::new(crate::storage::MemoryStorage::new());
    let book = AddressBook::new(storage, Policy::default());
    service(book, Cursors::new(b"unused"), Instant::now()).spec()
}

/// The whole HTTP application.
pub fn build(book: AddressBook, options: ApiOptions, started: Instant) -> impl Endpoint {
    let ApiOptions {
        max_body_bytes,
        debug,
        cursors,
    } = options;
    let api = service(book, cursors, started);
    let docs = contract::swagger_ui(&api.spec(), api.swagger_ui_html());
    Route::new()
        .at("/openapi.yaml", get(contract::openapi_yaml))
        .at("/openapi.json", get(contract::openapi_json))
        .at("/docs", get(docs))
        .nest("/", api)
        .around(move |next, req| problem::problem_details(next, req, debug, max_body_bytes))
        .with(Compression::new())
        .around(request_log::log_request)
}
