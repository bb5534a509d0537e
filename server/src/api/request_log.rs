//! One log line per request, tied to a request id that the response echoes in `X-Request-Id`.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Request, Response};
use uuid::Uuid;

const REQUEST_ID: &str = "x-request-id";

/// The caller's request id when it is a sane one (so ids can be followed across services),
/// otherwise a fresh one. Anything long or unprintable is replaced rather than logged.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID)
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            let id = Uuid::now_v7();
            HeaderValue::from_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()))
                .expect("a UUID is a valid header value")
        })
}

/// A request being answered: its id, the span its work is logged in, and when it began.
pub struct RequestLog {
    id: HeaderValue,
    pub span: tracing::Span,
    started: Instant,
}

impl RequestLog {
    pub fn begin(req: &Request) -> Self {
        let id = request_id(req);
        let span = tracing::info_span!(
            "request",
            request_id = id.to_str().unwrap_or_default(),
            method = %req.method(),
            path = req.uri().path(),
            // Recorded once the caller is known (see `api/auth.rs`).
            tenant = tracing::field::Empty,
        );
        Self {
            id,
            span,
            started: Instant::now(),
        }
    }

    /// Tags the response with the request id and writes the request's log line.
    pub fn finish(self, response: &mut Response) {
        response.headers_mut().insert(REQUEST_ID, self.id);
        let status = response.status().as_u16();
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.span
            .in_scope(|| tracing::info!(status, latency_ms, "request completed"));
    }
}
