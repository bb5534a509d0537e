//! The generated client against canned HTTP answers from a one-shot server on the loopback
//! interface (no real service, no outside network). These pin down the behaviour other crates
//! rely on: `application/problem+json` error bodies arrive typed, response headers are readable,
//! and invalid input never leaves the process.

use std::time::Duration;

use addressbook_client::{Client, Error, types};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const ENTRY_ID: &str = "0192f0c1-7c1d-7b4e-9a57-3f1d2c3b4a5e";

/// Binds a loopback port, answers exactly one request with `response`, and yields the raw request
/// head it received.
async fn serve_once(response: String) -> (Client, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base_url = format!("http://{}", listener.local_addr().expect("local addr"));
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut received = Vec::new();
        let mut buf = [0_u8; 4096];
        // The head is all these tests look at; a body, if any, is left unread because the
        // response closes the connection anyway.
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read request");
            assert!(n > 0, "client closed before sending a full request head");
            received.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(response.as_bytes())
            .await
            .expect("write response");
        socket.shutdown().await.expect("close");
        String::from_utf8(received).expect("request head is UTF-8")
    });
    (Client::new(&base_url), server)
}

fn http_response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut response = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    response
}

fn entry_json() -> String {
    serde_json::json!({
        "id": ENTRY_ID,
        "full_name": "Sherlock Holmes",
        "addresses": [],
        "phone_numbers": [],
        "fax_numbers": [],
        "emails": [],
        "created_at": "2026-11-21T09:30:00Z",
        "updated_at": "2026-11-21T09:30:00Z",
    })
    .to_string()
}

#[tokio::test]
async fn problem_json_error_body_is_typed() {
    let body = serde_json::json!({
        "type": "/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "No entry has this id.",
        "instance": format!("/addresses/{ENTRY_ID}"),
        "method": "GET",
    })
    .to_string();
    let (client, server) = serve_once(http_response(
        "404 Not Found",
        &[
            ("content-type", "application/problem+json"),
            ("x-request-id", "req-42"),
        ],
        &body,
    ))
    .await;

    let id: uuid::Uuid = ENTRY_ID.parse().expect("uuid");
    let result = client.get_address().id(id).send().await;
    let request = server.await.expect("server task");

    let Err(Error::ErrorResponse(problem)) = result else {
        panic!("expected a typed error response, got {result:?}");
    };
    assert_eq!(problem.status(), 404);
    assert_eq!(problem.title, "Not Found");
    assert_eq!(problem.type_, "/problems/not-found");
    assert_eq!(problem.headers()["x-request-id"], "req-42");

    let request = request.to_ascii_lowercase();
    assert!(request.starts_with(&format!("get /addresses/{ENTRY_ID} http/1.1\r\n")));
    // The client asks for JSON only; the server must still answer errors with its problem
    // document rather than refusing with 406.
    assert!(request.contains("\r\naccept: application/json\r\n"));
    assert!(request.contains("\r\napi-version: 1.0.0\r\n"));
}

#[tokio::test]
async fn not_ready_is_typed() {
    let body = serde_json::json!({
        "type": "/problems/not-ready",
        "title": "Not Ready",
        "status": 503,
        "detail": "Storage cannot be reached.",
        "instance": "/readiness",
        "method": "GET",
        "ready": false,
        "uptime": 12.5,
    })
    .to_string();
    let (client, server) = serve_once(http_response(
        "503 Service Unavailable",
        &[("content-type", "application/problem+json")],
        &body,
    ))
    .await;

    let result = client.get_readiness().send().await;
    server.await.expect("server task");
    let Err(Error::ErrorResponse(not_ready)) = result else {
        panic!("expected a typed NotReady, got {result:?}");
    };
    assert!(!not_ready.ready);
    assert_eq!(not_ready.detail, "Storage cannot be reached.");
}

#[tokio::test]
async fn created_entry_and_location_header() {
    let location = format!("/addresses/{ENTRY_ID}");
    let (client, server) = serve_once(http_response(
        "201 Created",
        &[
            ("content-type", "application/json"),
            ("location", &location),
        ],
        &entry_json(),
    ))
    .await;

    let created = client
        .create_address()
        .body(types::EntryInput::builder().full_name("Sherlock Holmes"))
        .send()
        .await
        .expect("created");
    let request = server.await.expect("server task").to_ascii_lowercase();

    assert_eq!(created.status(), 201);
    assert_eq!(created.id.to_string(), ENTRY_ID);
    assert_eq!(
        created.headers()[addressbook_client::reqwest::header::LOCATION],
        location.as_str()
    );
    assert!(request.starts_with("post /addresses http/1.1\r\n"));
    assert!(request.contains("\r\ncontent-type: application/json\r\n"));
}

#[tokio::test]
async fn undeclared_status_is_an_unexpected_response() {
    // `get_health` declares no error responses, so even a problem document comes back raw.
    let (client, server) = serve_once(http_response(
        "405 Method Not Allowed",
        &[
            ("content-type", "application/problem+json"),
            ("allow", "GET"),
        ],
        r#"{"type":"/problems/method-not-allowed"}"#,
    ))
    .await;

    let result = client.get_health().send().await;
    server.await.expect("server task");
    let Err(Error::UnexpectedResponse(response)) = result else {
        panic!("expected an unexpected response, got {result:?}");
    };
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}

#[tokio::test]
async fn error_body_that_is_not_a_problem_is_reported_with_its_bytes() {
    // A declared status whose body does not match the schema (here plain text, as a proxy might
    // send) is not an ErrorResponse: decoding fails and the raw bytes are kept.
    let (client, server) = serve_once(http_response(
        "503 Service Unavailable",
        &[("content-type", "text/plain")],
        "upstream unavailable",
    ))
    .await;

    let result = client.list_addresses().send().await;
    server.await.expect("server task");
    let Err(Error::InvalidResponsePayload(bytes, _)) = result else {
        panic!("expected an invalid payload, got {result:?}");
    };
    assert_eq!(&bytes[..], b"upstream unavailable");
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let client = Client::new(&format!(
        "http://{}",
        listener.local_addr().expect("local addr")
    ));

    let blank_name = client
        .create_address()
        .body(types::EntryInput::builder().full_name("  "))
        .send()
        .await;
    assert!(
        matches!(blank_name, Err(Error::InvalidRequest(ref m)) if m.contains("full_name")),
        "got {blank_name:?}"
    );

    let zero_limit = client.list_addresses().limit(0_u32).send().await;
    assert!(
        matches!(zero_limit, Err(Error::InvalidRequest(_))),
        "got {zero_limit:?}"
    );

    let empty_cursor = client.list_addresses().cursor("").send().await;
    assert!(
        matches!(empty_cursor, Err(Error::InvalidRequest(_))),
        "got {empty_cursor:?}"
    );

    let no_id = client.delete_address().send().await;
    assert!(
        matches!(no_id, Err(Error::InvalidRequest(_))),
        "got {no_id:?}"
    );

    // Nothing reached the listener.
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "a request was sent despite invalid input"
    );
}
