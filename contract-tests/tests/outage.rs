//! A database outage under a running server: the server stays alive, says it is not ready,
//! answers requests with 503 problems that give nothing of its internals away (unless in debug
//! mode), and serves again by itself once the database is back.
//!
//! The server reaches PostgreSQL through a [`Proxy`] that the test cuts and restores, so the
//! database itself (shared with every other test) is never touched.

use std::time::{Duration, Instant};

use contract_tests::fixtures::{as_stored, content_of_json, minimal_entry};
use contract_tests::proxy::Proxy;
use contract_tests::{Reply, Store, TestServer, send};
use serde_json::Value;

contract_tests::engines!(
    postgres: a_database_outage_gets_503s_and_the_server_recovers_by_itself,
    in_debug_mode_an_outage_503_carries_the_error_chain,
    a_database_restart_mid_stream_loses_no_acknowledged_write,
);

/// How long a request waits for a database connection; the default is 3 s.
const ACQUIRE_TIMEOUT_MS: &str = "500";
/// How long the server may take to notice the outage, and to recover from it.
const NOTICE_WITHIN: Duration = Duration::from_secs(10);
const RECOVER_WITHIN: Duration = Duration::from_secs(15);

async fn a_database_outage_gets_503s_and_the_server_recovers_by_itself(store: Store) {
    // Arrange: a server whose database connections all pass through the proxy, and an entry.
    let proxy = proxy_to(&store).await;
    let server = start_through(&store, &proxy, &[]).await;
    let before = minimal_entry("Before The Outage");
    let created = send(server.http().post(server.url("/addresses")).json(&before))
        .await
        .expect_json(201);
    let entry_path = format!("/addresses/{}", created["id"].as_str().expect("an id"));

    // Act: the database goes away.
    proxy.cut();

    // Assert: not ready, soon; alive all along.
    let readiness = poll_readiness(&server, 503, NOTICE_WITHIN).await;
    let not_ready = readiness.expect_problem(503);
    assert_eq!(not_ready.problem_type(), "/problems/not-ready");
    assert_eq!(not_ready.0["ready"], Value::Bool(false), "{readiness:?}");
    assert!(not_ready.0["uptime"].is_number(), "{readiness:?}");
    assert!(not_ready.0.get("error_chain").is_none(), "{readiness:?}");
    let health = send(server.http().get(server.url("/healthz"))).await;
    health.expect_json(200);

    // Reads, writes and lists get 503 problems that reveal nothing internal.
    let http = server.http();
    for request in [
        http.get(server.url(&entry_path)),
        http.post(server.url("/addresses"))
            .json(&minimal_entry("During The Outage")),
        http.get(server.url("/addresses")),
    ] {
        let reply = send(request).await;
        let problem = reply.expect_problem(503);
        assert_eq!(
            problem.problem_type(),
            "/problems/service-unavailable",
            "{reply:?}"
        );
        assert!(
            problem.0.get("error_chain").is_none(),
            "{reply:?}: the error chain is for debug mode only"
        );
        assert_reveals_nothing(&reply, &store, &proxy);
    }
    assert_reveals_nothing(&readiness, &store, &proxy);

    // Act: the database comes back.
    proxy.restore();

    // Assert: ready again without a restart; the earlier entry is there, writes work.
    poll_readiness(&server, 200, RECOVER_WITHIN)
        .await
        .expect_json(200);
    let read = send(server.http().get(server.url(&entry_path)))
        .await
        .expect_json(200);
    assert_eq!(content_of_json(&read), as_stored(&before));
    let after = minimal_entry("After The Outage");
    let created = send(server.http().post(server.url("/addresses")).json(&after))
        .await
        .expect_json(201);
    assert_eq!(content_of_json(&created), as_stored(&after));
}

async fn in_debug_mode_an_outage_503_carries_the_error_chain(store: Store) {
    // Arrange
    let proxy = proxy_to(&store).await;
    let server = start_through(&store, &proxy, &["--debug"]).await;

    // Act
    proxy.cut();
    poll_readiness(&server, 503, NOTICE_WITHIN).await;
    let reply = send(server.http().get(server.url("/addresses"))).await;

    // Assert
    let problem = reply.expect_problem(503);
    assert_eq!(problem.problem_type(), "/problems/service-unavailable");
    let chain = problem.0["error_chain"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply:?}: debug mode adds error_chain to a 503"));
    assert!(!chain.is_empty(), "{reply:?}");
    assert!(
        chain
            .iter()
            .all(|link| link.as_str().is_some_and(|s| !s.is_empty())),
        "{reply:?}: error_chain holds non-empty strings"
    );
}

/// Writers creating entries while every connection the server has to the database is
/// terminated, as a restart of PostgreSQL does (twice): each create gets 201 or a 503 problem,
/// every 201 is stored afterwards, and the server serves again by itself.
///
/// A refused create may still have been stored when its connection died after the database
/// committed and before the answer arrived: no server can know that outcome (an idempotency key
/// makes the retry safe). So a refused create found stored is allowed only for a write that was
/// in flight at a termination, at most one per writer per termination.
async fn a_database_restart_mid_stream_loses_no_acknowledged_write(store: Store) {
    const WRITERS: usize = 4;
    const TERMINATIONS: usize = 2;
    let server = store.start().await;
    let admin = store.database_url().expect("a postgres store").to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let http = server.http();
            let url = server.url("/addresses");
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let name = format!("Restart {writer}-{n}");
                    n += 1;
                    let reply = send(http.post(&url).json(&minimal_entry(&name))).await;
                    match reply.status {
                        201 => acknowledged.push(name),
                        503 => {
                            assert_eq!(
                                reply.expect_problem(503).problem_type(),
                                "/problems/service-unavailable"
                            );
                            refused.push(name);
                        }
                        _ => panic!("a create during a database restart got {reply:?}"),
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();

    // Act: the database drops every connection of the server, twice, while writes go on.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("the test connects");
    for _ in 0..TERMINATIONS {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut conn)
        .await
        .expect("backends terminate");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
    for writer in writers {
        let (a, r) = writer.await.expect("a writer does not panic");
        acknowledged.extend(a);
        refused.extend(r);
    }

    // Assert
    poll_readiness(&server, 200, RECOVER_WITHIN).await;
    let stored: std::collections::BTreeSet<String> =
        contract_tests::fixtures::list_all(&server.client())
            .await
            .iter()
            .map(|entry| entry.full_name.as_str().to_owned())
            .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|n| !stored.contains(*n))
        .collect();
    assert!(lost.is_empty(), "acknowledged creates are gone: {lost:?}");
    let ambiguous = refused.iter().filter(|n| stored.contains(*n)).count();
    assert!(
        ambiguous <= WRITERS * TERMINATIONS,
        "{ambiguous} refused creates were stored; at most {} were in flight at a termination",
        WRITERS * TERMINATIONS
    );
    assert!(!acknowledged.is_empty(), "no create succeeded at all");
    // The change feed was written in each write's transaction: a full sync holds exactly the
    // stored entries, each once.
    let (changes, _) =
        contract_tests::feed::sync_expecting(&server.client(), None, 1000, stored.len()).await;
    let fed: Vec<String> = changes
        .iter()
        .map(|change| change.entry.as_ref().expect("nothing was deleted"))
        .map(|entry| entry.full_name.as_str().to_owned())
        .collect();
    assert_eq!(fed.len(), stored.len(), "the feed and the book differ");
    assert_eq!(
        fed.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        stored
    );
    contract_tests::notice(&format!(
        "database restart: {} acknowledged, {} refused, {ambiguous} refused but committed",
        acknowledged.len(),
        refused.len()
    ));
}

/// A proxy to the PostgreSQL server of `store`.
async fn proxy_to(store: &Store) -> Proxy {
    let upstream = store
        .database_address()
        .await
        .expect("a postgres store has a database");
    Proxy::start(upstream).await
}

/// A server on `store` that reaches its database only through `proxy`.
async fn start_through(store: &Store, proxy: &Proxy, args: &[&str]) -> TestServer {
    let url = store
        .database_url_via(proxy.address())
        .expect("a postgres store has a database");
    let mut options = store.server().env("DATABASE_URL", &url).env(
        "ADDRESSBOOK_STORAGE__POSTGRES__ACQUIRE_TIMEOUT_MS",
        ACQUIRE_TIMEOUT_MS,
    );
    for arg in args {
        options = options.arg(arg);
    }
    options.start().await
}

/// Asks `/readiness` until it answers `status`; panics with the last answer after `within`.
async fn poll_readiness(server: &TestServer, status: u16, within: Duration) -> Reply {
    let deadline = Instant::now() + within;
    loop {
        let reply = send(server.http().get(server.url("/readiness"))).await;
        if reply.status == status {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "/readiness did not answer {status} within {within:?}; last: {reply:?}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that a problem document names no SQL, driver, URL, database or address.
fn assert_reveals_nothing(reply: &Reply, store: &Store, proxy: &Proxy) {
    let body = reply.text();
    let lower = body.to_lowercase();
    let database = store
        .database_url()
        .and_then(|url| url.rsplit('/').next())
        .expect("a postgres store has a database");
    let port = format!(":{}", proxy.address().port());
    for secret in [
        "postgres://",
        "postgresql",
        "sqlx",
        "select ",
        "insert ",
        "update ",
        "from entries",
        "pool timed out",
        "connection refused",
        "os error",
        database,
        &proxy.address().to_string(),
        &port,
        ":5432",
    ] {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{reply:?}: the body reveals {secret:?}"
        );
    }
}
