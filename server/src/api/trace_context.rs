//! W3C Trace Context: the caller's `traceparent` (and `tracestate`) is continued by the request's
//! span, and the response says which trace and span answered in `traceresponse` (Trace Context
//! Level 2), so a caller without a tracer of its own can still quote the trace id.
//!
//! When spans are exported (`tracing.otlp_endpoint`), the ids are OpenTelemetry's: the request's
//! span is made a child of the caller's. Otherwise the service keeps the caller's trace id (or
//! starts a trace) and gives the request a span id of its own, which logs carry as `trace_id`.

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use poem::http::HeaderValue;
use poem::{Request, Response};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const TRACERESPONSE: &str = "traceresponse";

/// The trace a request belongs to and its own span in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub flags: TraceFlags,
}

impl TraceIds {
    fn header(&self) -> HeaderValue {
        let text = format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            self.flags.to_u8()
        );
        HeaderValue::from_str(&text).expect("hex digits and dashes")
    }
}

/// The caller's span, from a well-formed `traceparent` (version 00, or a later one read as 00
/// would be); anything else starts a new trace, as the recommendation says.
pub fn parent(req: &Request) -> Option<SpanContext> {
    let value = req.headers().get(TRACEPARENT)?.to_str().ok()?;
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !lower_hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !lower_hex(trace, 32) || !lower_hex(span, 16) || !lower_hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let state = req
        .headers()
        .get(TRACESTATE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(SpanContext::new(trace_id, span_id, flags, true, state))
}

/// Makes `span` continue `parent`, and says which ids it has.
pub fn continue_trace(span: &tracing::Span, parent: Option<&SpanContext>) -> TraceIds {
    if crate::telemetry::exporting() {
        if let Some(parent) = parent {
            let context = opentelemetry::Context::new().with_remote_span_context(parent.clone());
            // Fails only when the span is disabled (filtered out): it then has no ids either.
            let _ = span.set_parent(context);
        }
        let context = span.context();
        let own = context.span().span_context().clone();
        if own.is_valid() {
            return TraceIds {
                trace_id: own.trace_id(),
                span_id: own.span_id(),
                flags: own.trace_flags(),
            };
        }
    }
    let random = uuid::Uuid::new_v4().into_bytes();
    let span_id = SpanId::from_bytes(random[..8].try_into().expect("8 of 16 bytes"));
    match parent {
        Some(parent) => TraceIds {
            trace_id: parent.trace_id(),
            span_id,
            flags: parent.trace_flags(),
        },
        None => TraceIds {
            trace_id: TraceId::from_bytes(uuid::Uuid::new_v4().into_bytes()),
            span_id,
            flags: TraceFlags::SAMPLED,
        },
    }
}

/// Tells the caller which trace and span answered.
pub fn tag(response: &mut Response, ids: &TraceIds) {
    response.headers_mut().insert(TRACERESPONSE, ids.header());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(traceparent: &str) -> Option<SpanContext> {
        parent(&Request::builder().header(TRACEPARENT, traceparent).finish())
    }

    #[test]
    fn a_well_formed_traceparent_is_continued() {
        let parent =
            parsed("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").expect("valid");
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parent.is_sampled());
        let ids = continue_trace(&tracing::Span::none(), Some(&parent));
        assert_eq!(ids.trace_id, parent.trace_id());
        assert_ne!(ids.span_id, parent.span_id());
        assert_ne!(ids.span_id, SpanId::INVALID);
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parsed(bad), None, "{bad:?}");
        }
        let fresh = continue_trace(&tracing::Span::none(), None);
        assert_ne!(fresh.trace_id, TraceId::INVALID);
        assert_ne!(
            fresh.trace_id,
            continue_trace(&tracing::Span::none(), None).trace_id
        );
    }
}
