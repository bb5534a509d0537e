//! `/metrics`, scraped through the generated client after real requests: the names, units and
//! labels OpenTelemetry's conventions give them, route templates instead of paths (so that a
//! thousand ids add no series), the service's own counts, and where the metrics are served.

use std::collections::BTreeSet;

use contract_tests::fixtures::{minimal_entry, typed};
use contract_tests::{Engine, Store, TestServer, send};
use futures::TryStreamExt as _;
use uuid::Uuid;

contract_tests::engines!(
    requests_are_timed_by_method_route_template_and_status,
    storage_calls_and_connections_are_measured_by_engine,
    a_thousand_distinct_ids_and_queries_add_no_series,
    replays_and_refused_preconditions_are_counted,
    metrics_can_be_moved_to_a_port_of_their_own_or_turned_off,
);

/// The text of a scrape, through the generated client.
async fn scrape(server: &TestServer) -> String {
    let response = server
        .client()
        .get_metrics()
        .send()
        .await
        .expect("metrics are served");
    let media = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        media.starts_with("application/openmetrics-text"),
        "served as {media}"
    );
    let chunks: Vec<_> = response
        .into_inner()
        .into_inner()
        .try_collect()
        .await
        .expect("the body arrives");
    String::from_utf8(chunks.concat()).expect("metrics are text")
}

/// The value of the sample named `name` with exactly `labels` (in the order they are written).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.parse().expect("a number"))
}

/// Every series (name and labels) of the metric family `name`.
fn series(text: &str, name: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .map(|line| line.rsplit_once(' ').map_or(line, |(series, _)| series))
        .map(str::to_owned)
        .collect()
}

fn engine_label(store: &Store) -> &'static str {
    match store.engine() {
        Engine::Memory => "memory",
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgresql",
    }
}

async fn create(server: &TestServer, name: &str) -> Uuid {
    server
        .client()
        .create_address()
        .body(typed(&minimal_entry(name)))
        .send()
        .await
        .expect("created")
        .id
}

const DURATION: &str = "http_server_request_duration_seconds";

async fn requests_are_timed_by_method_route_template_and_status(store: Store) {
    // Arrange
    let server = store.start().await;
    let client = server.client();

    // Act: a create, two reads of it, a read of an id that does not exist, a page, a path that
    // names no route.
    let id = create(&server, "Metered Entry").await;
    for _ in 0..2 {
        client.get_address().id(id).send().await.expect("read");
    }
    client
        .get_address()
        .id(Uuid::now_v7())
        .send()
        .await
        .expect_err("not found");
    client.list_addresses().send().await.expect("a page");
    send(server.http().get(server.url("/no/such/endpoint"))).await;
    let text = scrape(&server).await;

    // Assert: one series per method, template and status, counted in seconds.
    let count = |method: &str, route: &str, status: u16| {
        sample(
            &text,
            &format!("{DURATION}_count"),
            &format!(
                "http_request_method=\"{method}\",http_route=\"{route}\",http_response_status_code=\"{status}\""
            ),
        )
    };
    assert_eq!(count("POST", "/addresses", 201), Some(1.0), "{text}");
    assert_eq!(count("GET", "/addresses/{id}", 200), Some(2.0), "{text}");
    assert_eq!(count("GET", "/addresses/{id}", 404), Some(1.0), "{text}");
    assert_eq!(count("GET", "/addresses", 200), Some(1.0), "{text}");
    // No route matched: the route is left empty, never the path.
    assert_eq!(count("GET", "", 404), Some(1.0), "{text}");
    assert!(
        !text.contains(&id.to_string()),
        "an id became a label: {text}"
    );
    assert!(!text.contains("/no/such"), "a path became a label: {text}");
    assert!(
        text.contains(&format!("# TYPE {DURATION} histogram")),
        "{text}"
    );
    assert!(text.contains("# UNIT http_server_request_duration_seconds seconds"));
    // Buckets in seconds: a request of a few milliseconds lands in le="0.005" or above.
    assert!(text.contains("le=\"0.005\""), "{text}");
    // This scrape is being processed while the text is written.
    assert_eq!(
        sample(
            &text,
            "http_server_active_requests",
            "http_request_method=\"GET\""
        ),
        Some(1.0),
        "{text}"
    );
}

async fn storage_calls_and_connections_are_measured_by_engine(store: Store) {
    // Arrange
    let server = store.start().await;
    let engine = engine_label(&store);

    // Act
    let id = create(&server, "Stored Entry").await;
    server
        .client()
        .get_address()
        .id(id)
        .send()
        .await
        .expect("read");
    let text = scrape(&server).await;

    // Assert
    for operation in ["insert", "get"] {
        let calls = sample(
            &text,
            "db_client_operation_duration_seconds_count",
            &format!("db_system_name=\"{engine}\",db_operation_name=\"{operation}\""),
        );
        assert!(calls.is_some_and(|n| n >= 1.0), "{operation}: {text}");
    }
    if store.engine() != Engine::Memory {
        let idle = sample(
            &text,
            "db_client_connection_count",
            &format!("db_system_name=\"{engine}\",state=\"idle\""),
        );
        assert!(idle.is_some(), "{text}");
    }
    if store.engine() == Engine::Postgres {
        let max = sample(
            &text,
            "db_client_connection_max",
            "db_system_name=\"postgresql\"",
        );
        assert!(max.is_some_and(|n| n >= 1.0), "{text}");
    }
}

async fn a_thousand_distinct_ids_and_queries_add_no_series(store: Store) {
    // Arrange: every series a read by id and a page can make, made once.
    let server = store.start().await;
    let http = server.http();
    let id = create(&server, "Only Entry").await;
    send(http.get(server.url(&format!("/addresses/{id}")))).await;
    send(http.get(server.url(&format!("/addresses/{}", Uuid::now_v7())))).await;
    send(http.get(server.url("/addresses?limit=1"))).await;
    // The first scrape is counted once it has been answered, so the second one shows it.
    scrape(&server).await;
    let before = series(&scrape(&server).await, DURATION);

    // Act: a thousand ids nobody has, and a thousand different query strings.
    for n in 0..1_000 {
        let missing = send(http.get(server.url(&format!("/addresses/{}", Uuid::now_v7())))).await;
        assert_eq!(missing.status, 404, "{missing:?}");
        let page = send(http.get(server.url(&format!("/addresses?limit={}", n % 100 + 1)))).await;
        assert_eq!(page.status, 200, "{page:?}");
    }
    let after = series(&scrape(&server).await, DURATION);

    // Assert
    assert_eq!(
        after,
        before,
        "new series: {:#?}",
        after.difference(&before).collect::<Vec<_>>()
    );
}

async fn replays_and_refused_preconditions_are_counted(store: Store) {
    // Arrange
    let server = store.start().await;
    let client = server.client();
    let key = format!("metrics-{}", Uuid::now_v7());
    let input = typed(&minimal_entry("Counted Entry"));

    // Act: a create, its replay, and a replace with a tag that is no longer current.
    let created = client
        .create_address()
        .idempotency_key(key.as_str())
        .body(input.clone())
        .send()
        .await
        .expect("created");
    client
        .create_address()
        .idempotency_key(key.as_str())
        .body(input.clone())
        .send()
        .await
        .expect("replayed");
    let refused = client
        .replace_address()
        .id(created.id)
        .if_match("\"7\"")
        .body(input)
        .send()
        .await
        .expect_err("stale");
    let text = scrape(&server).await;

    // Assert
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(412));
    assert!(
        text.lines()
            .any(|line| line == "addressbook_idempotent_replays_total 1"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "addressbook_precondition_failures_total",
            "operation=\"replaceAddress\""
        ),
        Some(1.0),
        "{text}"
    );
}

async fn metrics_can_be_moved_to_a_port_of_their_own_or_turned_off(store: Store) {
    // Arrange
    let moved = store
        .start_with(&[("ADDRESSBOOK_METRICS__PORT", "0")])
        .await;
    let off = store
        .start_with(&[("ADDRESSBOOK_METRICS__ENABLED", "false")])
        .await;

    // Act
    let on_api_port = send(moved.http().get(moved.url("/metrics"))).await;
    let own_port = moved.metrics_url().expect("the metrics port is logged");
    // Not the API: its port answers only this, without the API's request ids.
    let on_own_port = moved
        .http()
        .get(&own_port)
        .send()
        .await
        .expect("the metrics port answers");
    let own_port_status = on_own_port.status().as_u16();
    let own_port_text = on_own_port.text().await.expect("a body");
    let when_off = send(off.http().get(off.url("/metrics"))).await;

    // Assert
    let problem = on_api_port.expect_problem(404);
    assert_eq!(problem.problem_type(), "/problems/unknown-endpoint");
    assert_eq!(own_port_status, 200, "{own_port_text}");
    assert!(own_port_text.contains(DURATION), "{own_port_text}");
    when_off.expect_problem(404);
    assert!(off.metrics_url().is_none(), "{}", off.logs());
}
