//! The generated client against canned HTTP answers from a one-shot server on the loopback
//! interface (no real service, no outside network). These pin down the behaviour other crates
//! rely on: `application/problem+json` error bodies arrive typed, response headers are readable,
//! and invalid input never leaves the process.

use std::time::Duration;

use addressbook_client::reqwest::header::{ETAG, LINK};
use addressbook_client::{Client, EntryPatch, Error, SortOrder, is_not_modified, types};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const ENTRY_ID: &str = "0192f0c1-7c1d-7b4e-9a57-3f1d2c3b4a5e";

/// One request as the stub received it: the head (request line and headers) and the body.
struct Received {
    head: String,
    body: String,
}

impl Received {
    /// The head lower-cased, so that checks need not care how the client spells header names.
    fn head(&self) -> String {
        self.head.to_ascii_lowercase()
    }

    fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// Binds a loopback port, answers exactly one request with `response`, and yields the request it
/// received.
async fn serve_once(response: String) -> (Client, JoinHandle<Received>) {
    let (client, server) = serve(vec![response]).await;
    let server = tokio::spawn(async move {
        let mut received = server.await.expect("server task");
        received.pop().expect("one request")
    });
    (client, server)
}

/// Binds a loopback port and answers one request per connection with each of `responses` in
/// turn (every response closes its connection), yielding the requests it received.
async fn serve(responses: Vec<String>) -> (Client, JoinHandle<Vec<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base_url = format!("http://{}", listener.local_addr().expect("local addr"));
    let server = tokio::spawn(async move {
        let mut requests = Vec::new();
        for response in responses {
            let (mut socket, _) = listener.accept().await.expect("accept");
            requests.push(read_request(&mut socket).await);
            socket
                .write_all(response.as_bytes())
                .await
                .expect("write response");
            socket.shutdown().await.expect("close");
        }
        requests
    });
    (Client::new(&base_url), server)
}

/// Reads a request head and then as many body bytes as its `Content-Length` says.
async fn read_request(socket: &mut TcpStream) -> Received {
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    let head_len = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = socket.read(&mut buf).await.expect("read request");
        assert!(n > 0, "client closed before sending a full request head");
        received.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(received[..head_len].to_vec()).expect("request head is UTF-8");
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| {
            value
                .trim()
                .parse::<usize>()
                .expect("numeric content-length")
        });
    while received.len() < head_len + content_length {
        let n = socket.read(&mut buf).await.expect("read request body");
        assert!(n > 0, "client closed before sending the whole body");
        received.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8(received[head_len..].to_vec()).expect("request body is UTF-8");
    Received { head, body }
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
        "labels": [],
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
    let request = server.await.expect("server task").head();

    let Err(Error::ErrorResponse(problem)) = result else {
        panic!("expected a typed error response, got {result:?}");
    };
    assert_eq!(problem.status(), 404);
    assert_eq!(problem.title, "Not Found");
    assert_eq!(problem.type_, "/problems/not-found");
    assert_eq!(problem.headers()["x-request-id"], "req-42");

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
    let request = server.await.expect("server task");
    let head = request.head();

    assert_eq!(created.status(), 201);
    assert_eq!(created.id.to_string(), ENTRY_ID);
    assert_eq!(
        created.headers()[addressbook_client::reqwest::header::LOCATION],
        location.as_str()
    );
    assert!(head.starts_with("post /addresses http/1.1\r\n"));
    // The merge-patch pre-hook leaves every other request's media type alone.
    assert!(head.contains("\r\ncontent-type: application/json\r\n"));
    assert!(!head.contains("idempotency-key"));
    assert_eq!(
        request.body_json(),
        serde_json::json!({ "full_name": "Sherlock Holmes" })
    );
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

fn problem_json(status: u16, type_: &str, title: &str, method: &str) -> String {
    serde_json::json!({
        "type": type_,
        "title": title,
        "status": status,
        "detail": format!("{title}."),
        "instance": format!("/addresses/{ENTRY_ID}"),
        "method": method,
    })
    .to_string()
}

fn entry_id() -> uuid::Uuid {
    ENTRY_ID.parse().expect("uuid")
}

#[tokio::test]
async fn patch_is_sent_as_a_merge_patch_with_if_match() {
    let (client, server) = serve_once(http_response(
        "200 OK",
        &[("content-type", "application/json"), ("etag", "\"4\"")],
        &entry_json(),
    ))
    .await;

    let fax = types::PhoneNumber::builder()
        .country_code(44)
        .local_number("79460001");
    let patch = EntryPatch::new()
        .full_name("Sherlock Holmes".parse().expect("valid name"))
        .clear_addresses()
        .fax_numbers(vec![fax.try_into().expect("valid fax number")]);
    // Spawned, so this also checks that the request future is `Send`.
    let patched = tokio::spawn(async move {
        client
            .patch_address()
            .id(entry_id())
            .if_match("\"3\"")
            .body(patch)
            .send()
            .await
    })
    .await
    .expect("client task")
    .expect("patched");
    let request = server.await.expect("server task");
    let head = request.head();

    assert_eq!(patched.status(), 200);
    assert_eq!(patched.full_name.as_str(), "Sherlock Holmes");
    assert_eq!(patched.headers()[ETAG], "\"4\"");
    assert!(head.starts_with(&format!("patch /addresses/{ENTRY_ID} http/1.1\r\n")));
    assert!(
        head.contains("\r\ncontent-type: application/merge-patch+json\r\n"),
        "{head}"
    );
    assert_eq!(head.matches("content-type:").count(), 1, "{head}");
    assert!(head.contains("\r\nif-match: \"3\"\r\n"));
    assert!(head.contains("\r\naccept: application/json\r\n"));
    // Members left alone are absent; the cleared list is `null`.
    assert_eq!(
        request.body_json(),
        serde_json::json!({
            "full_name": "Sherlock Holmes",
            "addresses": null,
            "fax_numbers": [{ "country_code": 44, "local_number": "79460001" }],
        })
    );
}

#[tokio::test]
async fn stale_if_match_is_a_typed_412() {
    let (client, server) = serve_once(http_response(
        "412 Precondition Failed",
        &[("content-type", "application/problem+json")],
        &problem_json(
            412,
            "/problems/precondition-failed",
            "Precondition Failed",
            "PATCH",
        ),
    ))
    .await;

    let result = client
        .patch_address()
        .id(entry_id())
        .if_match("\"2\"")
        .body(EntryPatch::new().clear_emails())
        .send()
        .await;
    server.await.expect("server task");
    let Err(Error::ErrorResponse(problem)) = result else {
        panic!("expected a typed 412, got {result:?}");
    };
    assert_eq!(problem.status(), 412);
    assert_eq!(problem.type_, "/problems/precondition-failed");
}

#[tokio::test]
async fn replace_keeps_json_and_sends_if_match() {
    let (client, server) =
        serve_once(http_response("204 No Content", &[("etag", "\"5\"")], "")).await;

    let replaced = client
        .replace_address()
        .id(entry_id())
        .if_match("\"4\"")
        .body(types::EntryInput::builder().full_name("Sherlock Holmes"))
        .send()
        .await
        .expect("replaced");
    let request = server.await.expect("server task");
    let head = request.head();

    assert_eq!(replaced.status(), 204);
    assert_eq!(replaced.headers()[ETAG], "\"5\"");
    assert!(head.starts_with(&format!("put /addresses/{ENTRY_ID} http/1.1\r\n")));
    assert!(
        head.contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nif-match: \"4\"\r\n"));
    assert_eq!(
        request.body_json(),
        serde_json::json!({ "full_name": "Sherlock Holmes" })
    );
}

#[tokio::test]
async fn delete_sends_if_match() {
    let (client, server) = serve_once(http_response("204 No Content", &[], "")).await;

    let deleted = client
        .delete_address()
        .id(entry_id())
        .if_match("\"5\"")
        .send()
        .await
        .expect("deleted");
    let head = server.await.expect("server task").head();

    assert_eq!(deleted.status(), 204);
    assert!(head.starts_with(&format!("delete /addresses/{ENTRY_ID} http/1.1\r\n")));
    assert!(head.contains("\r\nif-match: \"5\"\r\n"));
    assert!(!head.contains("content-type"), "{head}");
}

#[tokio::test]
async fn not_modified_is_an_unexpected_response_with_its_etag() {
    let (client, server) =
        serve_once(http_response("304 Not Modified", &[("etag", "\"3\"")], "")).await;

    let result = client
        .get_address()
        .id(entry_id())
        .if_none_match("\"3\"")
        .send()
        .await;
    let head = server.await.expect("server task").head();

    assert!(head.contains("\r\nif-none-match: \"3\"\r\n"));
    let Err(error) = result else {
        panic!("a 304 must not be a success, got {result:?}");
    };
    assert!(is_not_modified(&error), "got {error:?}");
    let Error::UnexpectedResponse(response) = error else {
        unreachable!("is_not_modified only matches unexpected responses");
    };
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()[ETAG], "\"3\"");
}

#[tokio::test]
async fn is_not_modified_is_false_for_other_outcomes() {
    let (client, server) = serve_once(http_response(
        "404 Not Found",
        &[("content-type", "application/problem+json")],
        &problem_json(404, "/problems/not-found", "Not Found", "GET"),
    ))
    .await;
    let not_found = client
        .get_address()
        .id(entry_id())
        .send()
        .await
        .expect_err("404");
    server.await.expect("server task");
    assert!(!is_not_modified(&not_found));

    let (client, server) = serve_once(http_response(
        "405 Method Not Allowed",
        &[
            ("content-type", "application/problem+json"),
            ("allow", "GET"),
        ],
        "{}",
    ))
    .await;
    let other = client.get_health().send().await.expect_err("405");
    server.await.expect("server task");
    assert!(!is_not_modified(&other));
}

#[tokio::test]
async fn list_sends_search_and_sort_and_exposes_link() {
    let next = "</addresses?limit=2&cursor=djEu>; rel=\"next\"";
    let page = serde_json::json!({ "items": [], "next_cursor": "djEu" }).to_string();
    let (client, server) = serve_once(http_response(
        "200 OK",
        &[("content-type", "application/json"), ("link", next)],
        &page,
    ))
    .await;

    let listed = client
        .list_addresses()
        .limit(2_u32)
        .q("holmes & co")
        .city("London")
        .country("United Kingdom")
        .sort(SortOrder::UpdatedAtDescending)
        .send()
        .await
        .expect("listed");
    let head = server.await.expect("server task").head();

    assert_eq!(listed.next_cursor.as_deref(), Some("djEu"));
    assert_eq!(listed.headers()[LINK], next);
    let request_line = head.lines().next().expect("request line");
    let query = request_line
        .strip_prefix("get /addresses?")
        .and_then(|rest| rest.strip_suffix(" http/1.1"))
        .unwrap_or_else(|| panic!("unexpected request line {request_line}"));
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [
            "city=london",
            "country=united+kingdom",
            "limit=2",
            "q=holmes+%26+co",
            "sort=-updated_at",
        ]
    );
}

#[tokio::test]
async fn sort_accepts_the_spec_spelling() {
    let page = serde_json::json!({ "items": [] }).to_string();
    let (client, server) = serve_once(http_response(
        "200 OK",
        &[("content-type", "application/json")],
        &page,
    ))
    .await;

    client
        .list_addresses()
        .sort("-full_name")
        .send()
        .await
        .expect("listed");
    let head = server.await.expect("server task").head();
    assert!(
        head.starts_with("get /addresses?sort=-full_name http/1.1\r\n"),
        "{head}"
    );
    assert_eq!(
        "-full_name".parse::<SortOrder>().expect("known order"),
        SortOrder::FullNameDescending
    );
}

#[tokio::test]
async fn repeated_create_sends_the_same_idempotency_key() {
    let location = format!("/addresses/{ENTRY_ID}");
    let created = http_response(
        "201 Created",
        &[
            ("content-type", "application/json"),
            ("location", &location),
            ("etag", "\"1\""),
        ],
        &entry_json(),
    );
    let (client, server) = serve(vec![created.clone(), created]).await;

    let key = "6f1c2b1e-3d4a-4f6b-9c0d-2e7a8b9c0d1e";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let entry = client
            .create_address()
            .idempotency_key(key)
            .body(types::EntryInput::builder().full_name("Sherlock Holmes"))
            .send()
            .await
            .expect("created");
        assert_eq!(entry.headers()[ETAG], "\"1\"");
        ids.push(entry.id);
    }
    let requests = server.await.expect("server task");

    assert_eq!(ids[0], ids[1]);
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let head = request.head();
        assert!(head.starts_with("post /addresses http/1.1\r\n"));
        assert!(
            head.contains(&format!("\r\nidempotency-key: {key}\r\n")),
            "{head}"
        );
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
    }
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn invalid_new_parameters_are_refused_before_sending() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let client = Client::new(&format!(
        "http://{}",
        listener.local_addr().expect("local addr")
    ));

    let no_body = client.patch_address().id(entry_id()).send().await;
    assert!(
        matches!(no_body, Err(Error::InvalidRequest(ref m)) if m.contains("body")),
        "got {no_body:?}"
    );
    let unknown_sort = client.list_addresses().sort("name").send().await;
    assert!(
        matches!(unknown_sort, Err(Error::InvalidRequest(ref m)) if m.contains("sort")),
        "got {unknown_sort:?}"
    );
    let empty_q = client.list_addresses().q("").send().await;
    assert!(
        matches!(empty_q, Err(Error::InvalidRequest(_))),
        "got {empty_q:?}"
    );
    let empty_key = client
        .create_address()
        .idempotency_key("")
        .body(types::EntryInput::builder().full_name("Sherlock Holmes"))
        .send()
        .await;
    assert!(
        matches!(empty_key, Err(Error::InvalidRequest(ref m)) if m.contains("idempotency_key")),
        "got {empty_key:?}"
    );

    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "a request was sent despite invalid input"
    );
}
