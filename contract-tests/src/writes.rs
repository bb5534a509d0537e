//! Reads and writes of entries as raw HTTP, with the headers of conditional requests (`ETag`,
//! `If-Match`, `If-None-Match`) and of idempotent creates (`Idempotency-Key`) set exactly as a
//! test wants them; and [`HeldCreate`], a create whose body stops half-way so that its key stays
//! claimed for as long as a test needs.

use std::time::Duration;

use futures::StreamExt as _;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::http::{Reply, send};
use crate::server::TestServer;

pub const IF_MATCH: &str = "if-match";
pub const IF_NONE_MATCH: &str = "if-none-match";
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// How long [`HeldCreate::claim`] may take to get the server to hold the key, and a held
/// request to be answered once released.
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(15);

/// The `ETag` among `headers`, checked to be a strong entity tag: `"…"`, not `W/"…"`.
pub fn etag(headers: &HeaderMap) -> String {
    let tag = headers
        .get(ETAG)
        .unwrap_or_else(|| panic!("no ETag among {headers:?}"))
        .to_str()
        .unwrap_or_else(|_| panic!("the ETag is not text: {headers:?}"))
        .to_owned();
    assert!(
        tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'),
        "{tag:?} is not a strong entity tag (a quoted string without W/)"
    );
    tag
}

/// The weak form of a strong entity tag: `W/"3"` for `"3"`.
pub fn weak(tag: &str) -> String {
    format!("W/{tag}")
}

/// `path` of the entry `id`.
pub fn entry_path(id: Uuid) -> String {
    format!("/addresses/{id}")
}

/// `GET /addresses/{id}` with `headers`.
pub async fn get(server: &TestServer, id: Uuid, headers: &[(&str, &str)]) -> Reply {
    let request = server.http().get(server.url(&entry_path(id)));
    send(with_headers(request, headers)).await
}

/// `POST /addresses` with `body` as JSON and `headers`.
pub async fn create(server: &TestServer, body: &Value, headers: &[(&str, &str)]) -> Reply {
    create_raw(server, &json_bytes(body), headers).await
}

/// `POST /addresses` with `body` exactly as given, sent as `application/json`, and `headers`.
pub async fn create_raw(server: &TestServer, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    let request = server
        .http()
        .post(server.url("/addresses"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    send(with_headers(request, headers)).await
}

/// `PUT /addresses/{id}` with `body` as JSON and `headers`.
pub async fn put(server: &TestServer, id: Uuid, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let request = server
        .http()
        .put(server.url(&entry_path(id)))
        .header(CONTENT_TYPE, "application/json")
        .body(json_bytes(body));
    send(with_headers(request, headers)).await
}

/// `PATCH /addresses/{id}` with `patch` sent as `application/merge-patch+json`, and `headers`.
pub async fn patch(
    server: &TestServer,
    id: Uuid,
    patch: &Value,
    headers: &[(&str, &str)],
) -> Reply {
    patch_as(
        server,
        id,
        &json_bytes(patch),
        Some(MERGE_PATCH_JSON),
        headers,
    )
    .await
}

/// `PATCH /addresses/{id}` with `body` exactly as given, sent with `content_type` (none when
/// `None`), and `headers`.
pub async fn patch_as(
    server: &TestServer,
    id: Uuid,
    body: &[u8],
    content_type: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = server
        .http()
        .patch(server.url(&entry_path(id)))
        .body(body.to_vec());
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    send(with_headers(request, headers)).await
}

/// `DELETE /addresses/{id}` with `headers`.
pub async fn delete(server: &TestServer, id: Uuid, headers: &[(&str, &str)]) -> Reply {
    let request = server.http().delete(server.url(&entry_path(id)));
    send(with_headers(request, headers)).await
}

/// The entry `id` and its `ETag`, read with a plain `GET` that must succeed.
pub async fn current(server: &TestServer, id: Uuid) -> (Value, String) {
    let reply = get(server, id, &[]).await;
    let entry = reply.expect_json(200);
    (entry, etag(&reply.headers))
}

fn with_headers(
    mut request: reqwest::RequestBuilder,
    headers: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON serializes")
}

/// A `POST /addresses` with an `Idempotency-Key` whose body stops half-way until
/// [`HeldCreate::finish`]. The server claims the key before it reads the body, so while the body
/// is held the request is in flight and the key taken.
pub struct HeldCreate {
    release: Option<oneshot::Sender<()>>,
    reply: JoinHandle<Reply>,
}

impl HeldCreate {
    /// Sends the create and returns once the server is known to hold `key` for it: a probe with
    /// the same key and an invalid body (`{}`) is answered 409.
    ///
    /// A probe that arrives before the held request claims the key itself, is refused with 400
    /// and releases the key again (as the contract promises for an invalid body); the held
    /// request may then have been answered 409 by the probe's claim, and is sent again.
    pub async fn claim(server: &TestServer, key: &str, body: &Value) -> HeldCreate {
        let deadline = Instant::now() + HOLD_TIMEOUT;
        let mut attempts = Vec::new();
        loop {
            let held = Self::start(server, key, body).await;
            loop {
                let probe = send(
                    server
                        .fresh_http()
                        .post(server.url("/addresses"))
                        .header(CONTENT_TYPE, "application/json")
                        .header(IDEMPOTENCY_KEY, key)
                        .body("{}"),
                )
                .await;
                match probe.status {
                    409 => return held,
                    400 => {}
                    _ => panic!(
                        "a probe for key {key:?} with an invalid body got neither 409 (key in \
                         flight) nor 400: {probe:?}"
                    ),
                }
                if held.reply.is_finished() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the server did not hold key {key:?} for a create whose body is incomplete \
                     within {HOLD_TIMEOUT:?}: probes with the key kept getting 400"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // The held request was answered without its whole body: it lost the key to a probe.
            let lost = held.reply.await.expect("the held request does not panic");
            assert_eq!(
                lost.status, 409,
                "a create whose body was incomplete was answered: {lost:?}"
            );
            attempts.push(lost);
            assert!(
                Instant::now() < deadline,
                "the held create kept losing key {key:?} to probes: {attempts:?}"
            );
        }
    }

    /// Sends the create with the second half of its body held back, once the first half has been
    /// handed to the connection (the request line and headers are on their way).
    pub async fn start(server: &TestServer, key: &str, body: &Value) -> HeldCreate {
        let bytes = json_bytes(body);
        let (first, rest) = bytes.split_at(bytes.len() / 2);
        let (first, rest) = (first.to_vec(), rest.to_vec());
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let chunks = futures::stream::once(async move {
            let _ = started_tx.send(());
            Ok::<_, std::io::Error>(first)
        })
        .chain(futures::stream::once(async move {
            // Dropped without a release (a failing test): send the rest anyway.
            let _ = release_rx.await;
            Ok(rest)
        }));
        // A client of its own: this connection is busy until the body is complete.
        let request = server
            .fresh_http()
            .post(server.url("/addresses"))
            .header(CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_KEY, key)
            .body(reqwest::Body::wrap_stream(chunks));
        let reply = tokio::spawn(send(request));
        tokio::time::timeout(HOLD_TIMEOUT, started_rx)
            .await
            .expect("the held request starts sending its body")
            .expect("the held request's body is polled");
        HeldCreate {
            release: Some(release_tx),
            reply,
        }
    }

    /// The answer the server gives without the rest of the body (a body deadline), waited for
    /// at most `within`.
    pub async fn answered_within(mut self, within: std::time::Duration) -> Reply {
        let reply = tokio::time::timeout(within, &mut self.reply)
            .await
            .unwrap_or_else(|_| panic!("the held create was not answered in {within:?}"))
            .expect("the held request does not panic");
        self.release.take();
        reply
    }

    /// Sends the rest of the body and returns the answer.
    pub async fn finish(mut self) -> Reply {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        tokio::time::timeout(HOLD_TIMEOUT, &mut self.reply)
            .await
            .unwrap_or_else(|_| panic!("the released create was not answered in {HOLD_TIMEOUT:?}"))
            .expect("the held request does not panic")
    }
}
