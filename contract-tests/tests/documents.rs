//! What the server serves besides entries: the contract itself (YAML, JSON, Swagger UI), the
//! probes, and compressed responses for clients that ask for them.

use std::io::Read;

use contract_tests::fixtures::{full_entry, typed};
use contract_tests::{Reply, Store, TestServer, contract, send};
use serde_json::Value;

contract_tests::engines!(
    the_contract_is_served_byte_for_byte_at_openapi_yaml,
    the_contract_is_served_as_json_at_openapi_json,
    a_configured_public_url_is_listed_first_in_the_served_contract,
    the_docs_page_is_html_naming_the_api,
    liveness_reports_a_growing_uptime,
    readiness_reports_ready_with_the_uptime,
    responses_are_gzip_compressed_when_the_client_asks,
    responses_are_brotli_compressed_when_the_client_asks,
    responses_are_not_compressed_unless_the_client_asks,
);

async fn the_contract_is_served_byte_for_byte_at_openapi_yaml(store: Store) {
    let server = store.start().await;

    let reply = send(server.http().get(server.url("/openapi.yaml"))).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.media_type().is_some_and(|t| t.contains("yaml")),
        "{reply:?}"
    );
    assert!(
        reply.body == contract::bytes(),
        "/openapi.yaml differs from openapi/addressbook.yaml"
    );
}

async fn a_configured_public_url_is_listed_first_in_the_served_contract(store: Store) {
    let public = "https://book.example/api";
    let server = store
        .start_with(&[("ADDRESSBOOK_SERVER__PUBLIC_URL", public)])
        .await;

    let yaml = send(server.http().get(server.url("/openapi.yaml"))).await;
    let json = send(server.http().get(server.url("/openapi.json"))).await;
    let docs = send(server.http().get(server.url("/docs"))).await;

    let served: Value = serde_yaml::from_slice(&yaml.body).expect("YAML");
    assert_eq!(served["servers"][0]["url"], public);
    let mut rest = served.clone();
    rest["servers"].as_array_mut().expect("servers").remove(0);
    assert_eq!(&rest, contract::document(), "only the public URL was added");
    assert_eq!(json.expect_json(200), served);
    assert!(
        String::from_utf8_lossy(&docs.body).contains(public),
        "Swagger UI offers the public URL"
    );
}

async fn the_contract_is_served_as_json_at_openapi_json(store: Store) {
    let server = store.start().await;

    let reply = send(server.http().get(server.url("/openapi.json"))).await;

    let served = reply.expect_json(200);
    assert!(
        &served == contract::document(),
        "/openapi.json is not openapi/addressbook.yaml as JSON"
    );
}

async fn the_docs_page_is_html_naming_the_api(store: Store) {
    let server = store.start().await;

    let reply = send(server.http().get(server.url("/docs"))).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.media_type().as_deref(),
        Some("text/html"),
        "{reply:?}"
    );
    assert!(reply.text().contains(contract::title()), "{reply:?}");
}

async fn liveness_reports_a_growing_uptime(store: Store) {
    let server = store.start().await;
    let client = server.client();

    let first = client.get_health().send().await.expect("healthz");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = client.get_health().send().await.expect("healthz");

    assert_eq!(first.status().as_u16(), 200);
    assert!(first.uptime.is_finite() && first.uptime >= 0.0, "{first:?}");
    assert!(second.uptime > first.uptime, "{first:?} then {second:?}");
    let reply = send(server.http().get(server.url("/healthz"))).await;
    assert!(reply.expect_json(200)["uptime"].is_number());
}

async fn readiness_reports_ready_with_the_uptime(store: Store) {
    let server = store.start().await;

    let readiness = server
        .client()
        .get_readiness()
        .send()
        .await
        .expect("readiness");

    assert_eq!(readiness.status().as_u16(), 200);
    assert!(readiness.ready);
    assert!(readiness.uptime.is_finite() && readiness.uptime >= 0.0);
    let reply = send(server.http().get(server.url("/readiness"))).await;
    let body = reply.expect_json(200);
    assert_eq!(body["ready"], Value::Bool(true));
}

/// A list with one entry in it, fetched with `Accept-Encoding: encoding`.
async fn list_with_encoding(server: &TestServer, encoding: Option<&str>) -> Reply {
    server
        .client()
        .create_address()
        .body(typed(&full_entry("Compressed Person")))
        .send()
        .await
        .expect("create");
    let mut request = server.http().get(server.url("/addresses"));
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    send(request).await
}

fn assert_one_entry_page(json: &[u8]) {
    let page: Value = serde_json::from_slice(json).expect("the decompressed body is JSON");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["items"][0]["full_name"], "Compressed Person");
}

async fn responses_are_gzip_compressed_when_the_client_asks(store: Store) {
    let server = store.start().await;

    let reply = list_with_encoding(&server, Some("gzip")).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-encoding"), Some("gzip"), "{reply:?}");
    assert_eq!(reply.media_type().as_deref(), Some("application/json"));
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(reply.body.as_slice())
        .read_to_end(&mut json)
        .expect("the body is gzip");
    assert_one_entry_page(&json);

    // Problem documents too.
    let reply = send(
        server
            .http()
            .get(server.url("/nowhere"))
            .header("accept-encoding", "gzip"),
    )
    .await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"), "{reply:?}");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(reply.body.as_slice())
        .read_to_end(&mut json)
        .expect("the body is gzip");
    let problem: Value = serde_json::from_slice(&json).expect("a JSON problem");
    assert_eq!(problem["status"], 404);
}

async fn responses_are_brotli_compressed_when_the_client_asks(store: Store) {
    let server = store.start().await;

    let reply = list_with_encoding(&server, Some("br")).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-encoding"), Some("br"), "{reply:?}");
    let mut json = Vec::new();
    brotli_decompressor::Decompressor::new(reply.body.as_slice(), 4096)
        .read_to_end(&mut json)
        .expect("the body is brotli");
    assert_one_entry_page(&json);
}

async fn responses_are_not_compressed_unless_the_client_asks(store: Store) {
    let server = store.start().await;

    let plain = list_with_encoding(&server, None).await;
    let identity = send(
        server
            .http()
            .get(server.url("/addresses"))
            .header("accept-encoding", "identity"),
    )
    .await;

    for reply in [plain, identity] {
        assert_eq!(reply.header("content-encoding"), None, "{reply:?}");
        assert_eq!(
            reply.expect_json(200)["items"].as_array().map(Vec::len),
            Some(1)
        );
    }
}
