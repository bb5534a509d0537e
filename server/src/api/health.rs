//! `/healthz` and `/readiness`: probes for orchestrators and load balancers.

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

pub struct HealthApi {
    pub book: AddressBook,
    pub started: Instant,
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
        let reason = match tokio::time::timeout(READINESS_TIMEOUT, self.book.check_ready()).await {
            Ok(Ok(())) => {
                return ReadinessResponse::Ready(Json(Readiness {
                    ready: true,
                    uptime: self.uptime(),
                }));
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %crate::telemetry::chain(&err), "not ready");
                "Storage cannot be reached."
            }
            Err(_) => {
                tracing::warn!(timeout = ?READINESS_TIMEOUT, "not ready: storage did not answer in time");
                "Storage did not answer in time."
            }
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
