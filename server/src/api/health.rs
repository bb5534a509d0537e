//! `/healthz` and `/readiness`: probes for orchestrators and load balancers. Besides the API's
//! own port they can be served on a port of their own (`server.probe_port`), from a thread and
//! runtime of their own, so that they answer within milliseconds however busy the API is; there
//! readiness reports the state a watcher checks every [`WATCH_EVERY`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::problem::ProblemJson;
use super::schema::{Health, NotReady, Readiness};
use crate::service::AddressBook;

/// How long readiness waits for storage before calling it unreachable: probes must answer
/// promptly even when the database hangs rather than refuses.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the watcher behind the probe port checks readiness.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

pub struct HealthApi {
    pub book: AddressBook,
    pub started: Instant,
    /// Where readiness comes from: checked on each request, or as last watched.
    pub watched: Option<Arc<Watched>>,
}

/// Readiness as last checked: `None` when ready, else why not.
pub struct Watched(Mutex<Option<&'static str>>);

impl Watched {
    pub fn new() -> Self {
        Self(Mutex::new(Some("Readiness has not been checked yet.")))
    }

    fn get(&self) -> Option<&'static str> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks readiness every [`WATCH_EVERY`], for ever (on the API's runtime, where storage
    /// lives).
    pub async fn watch(self: Arc<Self>, book: AddressBook) {
        let mut every = tokio::time::interval(WATCH_EVERY);
        loop {
            every.tick().await;
            let state = not_ready_because(&book).await;
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = state;
        }
    }
}

impl Default for Watched {
    fn default() -> Self {
        Self::new()
    }
}

/// Why the book cannot serve requests now, if it cannot.
async fn not_ready_because(book: &AddressBook) -> Option<&'static str> {
    match tokio::time::timeout(READINESS_TIMEOUT, book.check_ready()).await {
        Ok(Ok(())) => None,
        Ok(Err(err)) => {
            tracing::warn!(error = %crate::telemetry::chain(&err), "not ready");
            Some("Storage cannot serve requests now: it cannot be reached, or cannot take writes.")
        }
        Err(_) => {
            tracing::warn!(timeout = ?READINESS_TIMEOUT, "not ready: storage did not answer in time");
            Some("Storage did not answer in time.")
        }
    }
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The process is alive.
    #[oai(status = 200)]
    Alive(Json<Health>),
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// The service is ready.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// The service is not ready.
    #[oai(status = 503)]
    NotReady(ProblemJson<NotReady>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness probe
    #[oai(path = "/healthz", method = "get", operation_id = "getHealth")]
    async fn health(&self) -> HealthResponse {
        HealthResponse::Alive(Json(Health {
            uptime: self.uptime(),
        }))
    }

    /// Readiness probe
    #[oai(path = "/readiness", method = "get", operation_id = "getReadiness")]
    async fn readiness(&self, req: &Request) -> ReadinessResponse {
        let not_ready = match &self.watched {
            Some(watched) => watched.get(),
            None => not_ready_because(&self.book).await,
        };
        let Some(reason) = not_ready else {
            return ReadinessResponse::Ready(Json(Readiness {
                ready: true,
                uptime: self.uptime(),
            }));
        };
        ReadinessResponse::NotReady(ProblemJson(NotReady {
            problem_type: "/problems/not-ready".to_owned(),
            title: "Not Ready".to_owned(),
            status: 503,
            detail: reason.to_owned(),
            instance: req.uri().path().to_owned(),
            method: req.method().to_string(),
            ready: false,
            uptime: self.uptime(),
        }))
    }
}

impl HealthApi {
    fn uptime(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
