//! Browsers on other origins: CORS is off unless origins are configured; then their requests
//! get the headers that let a page read the answer, and their preflights are answered without a
//! credential. Other origins are served as if CORS were off.

use contract_tests::{Reply, Store, TestServer, send};

contract_tests::engines!(
    without_configured_origins_no_cors_header_is_sent,
    an_allowed_origin_may_read_the_answer_and_its_headers,
    a_preflight_from_an_allowed_origin_is_answered_without_a_credential,
    another_origin_is_served_without_cors_headers,
);

const APP: &str = "https://app.example";

async fn with_cors(store: &Store) -> TestServer {
    contract_tests::auth::requiring_credentials(store)
        .env("ADDRESSBOOK_CORS__ALLOWED_ORIGINS", &format!("[{APP}]"))
        .start()
        .await
}

async fn preflight(server: &TestServer, origin: &str) -> Reply {
    send(
        server
            .http()
            .request(reqwest::Method::OPTIONS, server.url("/addresses"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "authorization, if-match"),
    )
    .await
}

async fn without_configured_origins_no_cors_header_is_sent(store: Store) {
    let server = store.start().await;

    let read = send(
        server
            .http()
            .get(server.url("/addresses"))
            .header("origin", APP),
    )
    .await;
    let preflight = preflight(&server, APP).await;

    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.header("access-control-allow-origin"), None, "{read:?}");
    preflight.expect_problem(405);
    assert_eq!(preflight.header("access-control-allow-origin"), None);
}

async fn an_allowed_origin_may_read_the_answer_and_its_headers(store: Store) {
    let server = with_cors(&store).await;
    let token = contract_tests::auth::token("cors", &["read"], 600);

    let read = send(
        server
            .http()
            .get(server.url("/addresses"))
            .header("origin", APP)
            .bearer_auth(token),
    )
    .await;
    let refused = send(
        server
            .http()
            .get(server.url("/addresses"))
            .header("origin", APP),
    )
    .await;

    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.header("access-control-allow-origin"), Some(APP));
    let exposed = read
        .header("access-control-expose-headers")
        .expect("exposed headers")
        .to_lowercase();
    for name in ["etag", "location", "link", "x-request-id", "retry-after"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    assert!(
        read.headers
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("Origin"))),
        "{read:?}"
    );
    // A page must be able to read why it was refused, too.
    refused.expect_problem(401);
    assert_eq!(refused.header("access-control-allow-origin"), Some(APP));
}

async fn a_preflight_from_an_allowed_origin_is_answered_without_a_credential(store: Store) {
    let server = with_cors(&store).await;

    let reply = preflight(&server, APP).await;

    assert_eq!(reply.status, 204, "{reply:?}");
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    let methods = reply
        .header("access-control-allow-methods")
        .expect("allowed methods");
    assert!(methods.contains("PUT"), "{methods}");
    let headers = reply
        .header("access-control-allow-headers")
        .expect("allowed headers")
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("if-match"),
        "{headers}"
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
}

async fn another_origin_is_served_without_cors_headers(store: Store) {
    let server = with_cors(&store).await;

    let reply = send(
        server
            .http()
            .get(server.url("/healthz"))
            .header("origin", "https://elsewhere.example"),
    )
    .await;
    let preflight = preflight(&server, "https://elsewhere.example").await;

    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    assert_ne!(preflight.status, 204, "{preflight:?}");
}
