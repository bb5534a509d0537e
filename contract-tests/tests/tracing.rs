//! W3C Trace Context on the real binary: a request continues the caller's trace and says so in
//! `traceresponse` and in its log line, with no collector anywhere; and with
//! `tracing.otlp_endpoint` set, the request's span reaches a collector (a stand-in that takes
//! OTLP over HTTP) as a child of the caller's span.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use contract_tests::{Reply, Store, TestServer, send};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

contract_tests::engines!(
    a_request_continues_the_callers_trace_without_a_collector,
    a_request_without_a_traceparent_starts_a_trace_of_its_own,
    a_malformed_traceparent_starts_a_new_trace_and_the_request_is_served,
    the_requests_span_is_exported_as_a_child_of_the_callers,
);

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

async fn get_with(server: &TestServer, traceparent: Option<&str>) -> Reply {
    let mut request = server.http().get(server.url("/addresses"));
    if let Some(traceparent) = traceparent {
        request = request
            .header("traceparent", traceparent)
            .header("tracestate", "vendor=opaque");
    }
    send(request).await
}

/// `traceresponse` as (trace id, span id, flags).
fn traceresponse(reply: &Reply) -> (String, String, String) {
    let value = reply.header("traceresponse").expect("a traceresponse");
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "{value}");
    let hex = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        hex(parts[1], 32) && hex(parts[2], 16) && hex(parts[3], 2),
        "{value}"
    );
    (parts[1].into(), parts[2].into(), parts[3].into())
}

async fn a_request_continues_the_callers_trace_without_a_collector(store: Store) {
    let server = store.start().await;

    let reply = get_with(&server, Some(&format!("00-{TRACE_ID}-{PARENT_ID}-01"))).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    let (trace, span, flags) = traceresponse(&reply);
    assert_eq!(trace, TRACE_ID);
    assert_ne!(span, PARENT_ID, "the server's span is its own");
    assert_ne!(span, "0000000000000000");
    assert_eq!(flags, "01");
    assert!(
        server
            .wait_for_log(&format!("trace_id={TRACE_ID}"), Duration::from_secs(5))
            .await,
        "{}",
        server.logs()
    );
}

async fn a_request_without_a_traceparent_starts_a_trace_of_its_own(store: Store) {
    let server = store.start().await;

    let first = traceresponse(&get_with(&server, None).await);
    let second = traceresponse(&get_with(&server, None).await);

    assert_ne!(first.0, "0".repeat(32));
    assert_ne!(first.0, second.0, "each request starts its own trace");
}

async fn a_malformed_traceparent_starts_a_new_trace_and_the_request_is_served(store: Store) {
    let server = store.start().await;

    for bad in [
        "garbage",
        &format!("00-{}-{PARENT_ID}-01", "0".repeat(32)),
        &format!("00-{}-{PARENT_ID}-01", TRACE_ID.to_uppercase()),
    ] {
        let reply = get_with(&server, Some(bad)).await;
        assert_eq!(reply.status, 200, "{bad}: {reply:?}");
        let (trace, _, _) = traceresponse(&reply);
        assert_ne!(trace, TRACE_ID, "{bad}");
        assert_ne!(trace, "0".repeat(32), "{bad}");
    }
}

/// A stand-in for an OpenTelemetry collector: answers every OTLP/HTTP export with an empty
/// success and keeps the bodies.
async fn collector() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!(
        "http://{}/v1/traces",
        listener.local_addr().expect("an address")
    );
    let received = Arc::new(Mutex::new(Vec::new()));
    let bodies = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0_u8; 8192];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        continue;
                    }
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    buffer.drain(..end + 4 + length);
                    bodies.lock().expect("not poisoned").push(body);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn the_requests_span_is_exported_as_a_child_of_the_callers(store: Store) {
    // Arrange
    let (endpoint, received) = collector().await;
    let mut server = store
        .start_with(&[("ADDRESSBOOK_TRACING__OTLP_ENDPOINT", &endpoint)])
        .await;

    // Act: a traced request, then a drain, which sends what is still queued.
    let reply = get_with(&server, Some(&format!("00-{TRACE_ID}-{PARENT_ID}-01"))).await;
    let (_, span, _) = traceresponse(&reply);
    server.terminate().await;

    // Assert: the export (protobuf) carries the caller's trace id, the caller's span as parent,
    // the server's span id as the response named it, and the span's route name.
    let bodies = received.lock().expect("not poisoned").concat();
    assert!(!bodies.is_empty(), "nothing exported\n{}", server.logs());
    assert!(contains(&bodies, &hex_bytes(TRACE_ID)), "trace id");
    assert!(contains(&bodies, &hex_bytes(PARENT_ID)), "parent span id");
    assert!(contains(&bodies, &hex_bytes(&span)), "the server's span id");
    assert!(contains(&bodies, b"GET /addresses"), "the span's name");
    assert!(
        contains(&bodies, b"db.operation.name") && contains(&bodies, b"list"),
        "the storage call's span"
    );
    assert!(contains(&bodies, b"addressbook"), "the service name");
}
