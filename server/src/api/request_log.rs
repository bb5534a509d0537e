//! One log line per request, tied to a request id that the response echoes in `X-Request-Id`,
//! in the span that continues the caller's trace (`trace_context.rs`).

use std::net::IpAddr;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Request, Response};
use uuid::Uuid;

use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::trace_context::{self, TraceIds};

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

/// The nearest address in `X-Forwarded-For` that is not one of the trusted proxies: the client
/// as the last trusted hop saw it (addresses further left are the client's own word).
fn forwarded_client(req: &Request, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let hops: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|hop| !trusted_proxies.contains(hop))
}

/// A request being answered: its id, the span its work is logged in, and when it began.
pub struct RequestLog {
    id: HeaderValue,
    pub span: tracing::Span,
    trace: TraceIds,
    started: Instant,
}

impl RequestLog {
    /// The log of `req`, from `client`; its `X-Forwarded-For` is believed when `client` is
    /// one of `trusted_proxies`. The path is logged, never the query: it holds search texts.
    pub fn begin(req: &Request, trusted_proxies: &[IpAddr]) -> Self {
        let id = request_id(req);
        let client = req.remote_addr().as_socket_addr().map(|addr| addr.ip());
        let forwarded_for = client
            .filter(|ip| trusted_proxies.contains(ip))
            .and_then(|_| forwarded_client(req, trusted_proxies));
        let span = tracing::info_span!(
            "request",
            request_id = id.to_str().unwrap_or_default(),
            method = %req.method(),
            path = req.uri().path(),
            client = client.map(tracing::field::display),
            forwarded_for = forwarded_for.map(tracing::field::display),
            // Recorded once the caller is known (see `api/auth.rs`).
            tenant = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            // For exported spans: a server span, named after its route once routed.
            otel.kind = "server",
            http.response.status_code = tracing::field::Empty,
        );
        let trace = trace_context::continue_trace(&span, trace_context::parent(req).as_ref());
        span.record("trace_id", tracing::field::display(trace.trace_id));
        Self {
            id,
            span,
            trace,
            started: Instant::now(),
        }
    }

    /// Names the exported span after the route that answered (`GET /addresses/{id}`).
    pub fn routed(&self, method: &poem::http::Method, route: &str) {
        if crate::telemetry::exporting() {
            // The OpenTelemetry span exists by now (its ids were read at the start), so it is
            // renamed directly; recording `otel.name` would only name a span not yet started.
            self.span
                .context()
                .span()
                .update_name(format!("{method} {route}"));
        }
    }

    /// Tags the response with the request id and writes the request's log line.
    pub fn finish(self, response: &mut Response) {
        response.headers_mut().insert(REQUEST_ID, self.id);
        trace_context::tag(response, &self.trace);
        let status = response.status().as_u16();
        self.span.record("http.response.status_code", status);
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.span
            .in_scope(|| tracing::info!(status, latency_ms, "request completed"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_client_is_the_nearest_hop_no_trusted_proxy_added() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = Request::builder()
            .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
            .header("x-forwarded-for", "10.0.0.1")
            .finish();
        // 6.6.6.6 is only what the client claims; 203.0.113.7 is who reached the proxy.
        assert_eq!(
            forwarded_client(&req, &[proxy]),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&Request::builder().finish(), &[proxy]),
            None
        );
    }
}
