//! The HTTP API: one file per resource (`addresses.rs`, `health.rs`), what they share (bodies,
//! parameters, headers, schema types, the problem catalogue and each operation's declared
//! errors), and [`build`], which assembles them with the middleware every request passes through.

mod addresses;
mod auth;
mod batch;
mod body;
mod changes;
mod constrained;
mod context;
mod contract;
mod cors;
pub(crate) mod declared;
mod document;
mod headers;
mod health;
mod labels;
mod limits;
mod metrics;
mod params;
mod problem;
mod rejection;
mod request_log;
mod schema;
mod trace_context;

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::middleware::Compression;
use poem::{Endpoint, EndpointExt, IntoResponse, Route, get};
use poem_openapi::{OpenApiService, Tags};

pub use contract::CONTRACT_YAML;
pub use cors::Cors;
pub use limits::RateLimits;

use crate::auth::Authenticator;
use crate::domain::Cursors;
use crate::metrics::Metrics;
use crate::service::AddressBook;

#[derive(Tags)]
enum ApiTags {
    /// Address-book entries.
    #[oai(rename = "addresses")]
    Addresses,
    /// Liveness and readiness probes.
    #[oai(rename = "health")]
    Health,
    /// Metrics for Prometheus.
    #[oai(rename = "metrics")]
    Metrics,
    /// Labels across the book.
    #[oai(rename = "labels")]
    Labels,
    /// The change feed.
    #[oai(rename = "changes")]
    Changes,
}

/// What the API needs to know about how it is run.
#[derive(Clone)]
pub struct ApiOptions {
    /// Largest accepted request body, after decompression.
    pub max_body_bytes: usize,
    /// How long a body may take to arrive once the headers are in.
    pub body_timeout: Duration,
    /// Most requests processed at once, and how long one may take.
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub rate_limits: Arc<RateLimits>,
    /// Load balancers whose `X-Forwarded-For` the request log believes.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whether 5xx problems carry their internal error chain.
    pub debug: bool,
    /// Signs and checks pagination cursors.
    pub cursors: Cursors,
    /// Who a request's credential names.
    pub authenticator: Arc<Authenticator>,
    /// What requests and storage calls are counted in, and where `/metrics` is served.
    pub metrics: Arc<Metrics>,
    pub metrics_served: MetricsServed,
    /// Which browser pages of other origins may call the API; `None`: CORS off.
    pub cors: Option<Arc<Cors>>,
    /// Where clients reach this deployment, listed first in the served documents.
    pub public_url: Option<String>,
}

/// Where `/metrics` is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsServed {
    /// On the API's port.
    Here,
    /// On a port of its own (`metrics.port`): a 404 on the API's.
    Elsewhere,
    /// Nowhere, and nothing is counted.
    Off,
}

type Api = (
    addresses::AddressesApi,
    batch::BatchApi,
    labels::LabelsApi,
    changes::ChangesApi,
    health::HealthApi,
    metrics::MetricsApi,
);

fn service(
    book: AddressBook,
    cursors: Cursors,
    started: Instant,
    metrics: Arc<Metrics>,
    metrics_served: MetricsServed,
) -> OpenApiService<Api, ()> {
    let apis = (
        addresses::AddressesApi {
            book: book.clone(),
            cursors: cursors.clone(),
            metrics: metrics.clone(),
        },
        batch::BatchApi {
            book: book.clone(),
            metrics: metrics.clone(),
        },
        labels::LabelsApi { book: book.clone() },
        changes::ChangesApi {
            book: book.clone(),
            cursors,
        },
        health::HealthApi {
            book: book.clone(),
            started,
            watched: None,
        },
        metrics::MetricsApi {
            metrics,
            book,
            served_here: metrics_served == MetricsServed::Here,
        },
    );
    OpenApiService::new(apis, "Address Book API", "1.0.0")
}

/// The probes alone, answering readiness from `watched`: what the probe port serves.
pub fn probes(book: AddressBook, watched: Arc<health::Watched>, started: Instant) -> impl Endpoint {
    let probes = health::HealthApi {
        book,
        started,
        watched: Some(watched),
    };
    Route::new()
        .nest(
            "/",
            OpenApiService::new(probes, "Address Book probes", "1.0.0"),
        )
        .around(|next, req| async move {
            let info = problem::RequestInfo {
                method: req.method().clone(),
                path: req.uri().path().to_owned(),
            };
            Ok(match next.call(req).await {
                Ok(response) => response.into_response(),
                Err(err) => problem::ApiError::from_poem(err, &info, 0).render(&info, false),
            })
        })
}

pub use health::Watched;

/// `/metrics` alone, for a port of its own (`metrics.port`).
pub fn metrics_only(book: AddressBook, metrics: Arc<Metrics>) -> impl Endpoint {
    let api = metrics::MetricsApi {
        metrics,
        book,
        served_here: true,
    };
    Route::new().nest(
        "/",
        OpenApiService::new(api, "Address Book metrics", "1.0.0"),
    )
}

/// The OpenAPI document poem-openapi derives from the handlers, as JSON. The drift test compares
/// it with the contract.
pub fn generated_document() -> String {
    service(
        AddressBook::in_memory(),
        Cursors::new(b"unused"),
        Instant::now(),
        Metrics::new(),
        MetricsServed::Here,
    )
    .spec()
}

/// The whole HTTP application.
pub fn build(book: AddressBook, options: ApiOptions, started: Instant) -> impl Endpoint {
    let ApiOptions {
        max_body_bytes,
        body_timeout,
        max_in_flight,
        request_timeout,
        rate_limits,
        trusted_proxies,
        debug,
        cursors,
        authenticator,
        metrics,
        metrics_served,
        cors,
        public_url,
    } = options;
    let api = service(book, cursors, started, metrics.clone(), metrics_served);
    let document = api.spec();
    let settings = Arc::new(context::RequestSettings {
        body: context::BodyRules {
            max_bytes: max_body_bytes,
            deadline: body_timeout,
        },
        debug,
        authenticator,
        rate_limits,
        in_flight: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
        deadline: request_timeout,
        trusted_proxies: trusted_proxies.into(),
        metrics: (metrics_served != MetricsServed::Off).then_some(metrics),
        routes: context::route_templates(&document),
        cors,
    });
    let documents = contract::Documents::new(public_url.as_deref());
    let docs = documents.swagger_ui(&document, api.swagger_ui_html());
    Route::new()
        .at("/openapi.yaml", get(documents.yaml()))
        .at("/openapi.json", get(documents.json()))
        .at("/docs", get(docs))
        .nest("/", api)
        .around(move |next, req| context::handle(next, req, settings.clone()))
        .with(Compression::new())
}
