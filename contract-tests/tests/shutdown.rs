//! Stopping the server: SIGTERM lets requests already in flight finish (and, on the durable
//! engines, every entry a client was told about is stored), refuses new connections, and ends
//! the process with status 0 within the configured shutdown timeout.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use contract_tests::fixtures::{self, minimal_entry, typed};
use contract_tests::{Store, TestServer};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

contract_tests::engines!(
    requests_in_flight_when_sigterm_arrives_complete_and_are_stored,
    an_idle_server_exits_promptly_on_sigterm,
    a_request_outlasting_the_shutdown_timeout_does_not_hold_the_process,
);

/// Extra time a server may take beyond its shutdown timeout: process exit, a loaded machine.
const SLACK: Duration = Duration::from_secs(5);

/// A create request whose body is sent in two halves: the first at once, the second only when
/// `release` turns true. Until then the request is in flight, its head read by the server.
struct HeldCreate {
    request: reqwest::RequestBuilder,
}

impl HeldCreate {
    fn new(
        server: &TestServer,
        n: usize,
        release: watch::Receiver<bool>,
        started: Arc<Started>,
    ) -> Self {
        let body = minimal_entry(&format!("In Flight {n}")).to_string();
        let (head, tail) = body.split_at(body.len() - 1);
        let (head, tail) = (head.as_bytes().to_vec(), tail.as_bytes().to_vec());
        let chunks = futures::stream::unfold(0_u8, move |step| {
            let mut release = release.clone();
            let (head, tail, started) = (head.clone(), tail.clone(), started.clone());
            async move {
                match step {
                    0 => Some((Ok::<_, std::io::Error>(head), 1)),
                    1 => {
                        // Asked for the second half: the first is on its way to the server.
                        started.one_more();
                        let _ = release.wait_for(|released| *released).await;
                        Some((Ok(tail), 2))
                    }
                    _ => None,
                }
            }
        });
        // Each request on a connection of its own, so that all of them are in flight at once.
        let request = reqwest::Client::new()
            .post(server.url("/addresses"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks));
        Self { request }
    }
}

/// Counts requests whose first half has been handed to the connection.
#[derive(Default)]
struct Started {
    count: AtomicUsize,
    changed: Notify,
}

impl Started {
    fn one_more(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    async fn wait_for(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} requests started",
                self.count.load(Ordering::SeqCst)
            );
            let _ = tokio::time::timeout(Duration::from_millis(20), self.changed.notified()).await;
        }
    }
}

async fn requests_in_flight_when_sigterm_arrives_complete_and_are_stored(store: Store) {
    // Arrange: 50 creates in flight, each with half its body sent.
    const IN_FLIGHT: usize = 50;
    let shutdown_timeout = Duration::from_secs(10);
    let mut server = store
        .start_with(&[("ADDRESSBOOK_SERVER__SHUTDOWN_TIMEOUT_SECS", "10")])
        .await;
    let (release, released) = watch::channel(false);
    let started = Arc::new(Started::default());
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|n| {
            let held = HeldCreate::new(&server, n, released.clone(), started.clone());
            tokio::spawn(async move {
                let response = held.request.send().await.map_err(|e| format!("{e:?}"))?;
                let status = response.status().as_u16();
                let body: serde_json::Value =
                    response.json().await.map_err(|e| format!("{e:?}"))?;
                Ok::<_, String>((status, body))
            })
        })
        .collect();
    started.wait_for(IN_FLIGHT, Duration::from_secs(10)).await;
    // The server accepts connections in the order they arrived: once a request on a connection
    // opened after all of them has been answered, all of them have been accepted. A little more
    // time lets it read every request head.
    let probe = server.fresh_http().get(server.url("/healthz")).send().await;
    assert!(
        probe.is_ok_and(|r| r.status().is_success()),
        "the server answers while requests are held"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act: SIGTERM, and only once the server has begun draining, the rest of each body.
    let signalled = Instant::now();
    server.send_sigterm().await;
    assert!(
        server.wait_for_log("SIGTERM", Duration::from_secs(5)).await,
        "the server did not log the SIGTERM:\n{}",
        server.logs()
    );
    let refused_new = connection_refused_within(&server, Duration::from_secs(2)).await;
    release.send_replace(true);
    let mut created = Vec::new();
    let mut failures = Vec::new();
    for request in requests {
        match request.await.expect("a request task does not panic") {
            Ok((201, body)) => created.push(body),
            other => failures.push(other),
        }
    }
    let status = server.wait_for_exit(shutdown_timeout + SLACK).await;

    // Assert
    assert!(
        failures.is_empty(),
        "every request in flight at SIGTERM must complete with 201; {} did not: {failures:?}\n{}",
        failures.len(),
        server.logs()
    );
    assert!(
        refused_new,
        "a new connection after SIGTERM was still served"
    );
    assert!(status.success(), "exit status {status}\n{}", server.logs());
    assert!(signalled.elapsed() < shutdown_timeout + SLACK);

    if store.engine().is_durable() {
        // Everything the clients were told was created is there after a restart.
        let restarted = store.start().await;
        let stored: HashSet<Uuid> = fixtures::list_all(&restarted.client())
            .await
            .into_iter()
            .map(|e| e.id)
            .collect();
        let told: HashSet<Uuid> = created
            .iter()
            .map(|body| body["id"].as_str().expect("an id").parse().expect("a UUID"))
            .collect();
        assert_eq!(told.len(), IN_FLIGHT);
        let lost: Vec<_> = told.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "created (201) but not stored after restart: {lost:?}"
        );
    }
}

/// Whether connecting anew fails within `within` (the server stopped listening).
async fn connection_refused_within(server: &TestServer, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let url = server.url("/healthz");
    while Instant::now() < deadline {
        // A fresh client: a pooled connection would not tell whether the listener is closed.
        if server.fresh_http().get(&url).send().await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn an_idle_server_exits_promptly_on_sigterm(store: Store) {
    let mut server = store.start().await;
    // A client that keeps its connection open after the request: idle keep-alive connections
    // must not hold the shutdown for the whole timeout.
    let client = server.client();
    client
        .create_address()
        .body(typed(&minimal_entry("Before Shutdown")))
        .send()
        .await
        .expect("create");

    let signalled = Instant::now();
    server.send_sigterm().await;
    let status = server.wait_for_exit(Duration::from_secs(5)).await;

    assert!(status.success(), "exit status {status}\n{}", server.logs());
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "took {:?} to stop with nothing in flight",
        signalled.elapsed()
    );
    drop(client);
}

async fn a_request_outlasting_the_shutdown_timeout_does_not_hold_the_process(store: Store) {
    let mut server = store
        .start_with(&[("ADDRESSBOOK_SERVER__SHUTDOWN_TIMEOUT_SECS", "1")])
        .await;
    // A request whose body never finishes.
    let (_never, released) = watch::channel(false);
    let started = Arc::new(Started::default());
    let held = HeldCreate::new(&server, 0, released, started.clone());
    let stuck = tokio::spawn(held.request.send());
    started.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    server.send_sigterm().await;
    let status = server.wait_for_exit(Duration::from_secs(1) + SLACK).await;

    assert!(
        signalled.elapsed() >= Duration::from_millis(900),
        "stopped after {:?}, before the shutdown timeout, with a request in flight",
        signalled.elapsed()
    );
    assert!(
        status.code().is_some(),
        "the process exited by itself: {status}"
    );
    let outcome = stuck.await.expect("the request task does not panic");
    assert!(
        outcome.is_err(),
        "a request cut off by the timeout gets no response: {outcome:?}"
    );
}
