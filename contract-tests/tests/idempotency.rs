//! Safe retries of creates: a repeat with the same `Idempotency-Key` and the same body gets the
//! original 201 and creates nothing; another body gets 422; a repeat while the first is still in
//! flight gets 409. Keys are kept with the data: they hold across restarts and across servers
//! sharing a database.

use contract_tests::fixtures::{self, full_entry, minimal_entry, typed};
use contract_tests::writes::{self, HeldCreate, IDEMPOTENCY_KEY, etag};
use contract_tests::{Problem, Reply, Store, TestServer};
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(
    a_repeat_with_the_same_key_and_body_gets_the_original_201_and_creates_nothing,
    the_same_key_with_another_body_gets_422_and_creates_nothing,
    a_repeat_while_the_first_is_in_flight_gets_409_then_the_original_201,
    a_create_whose_key_was_taken_over_gets_409_and_creates_nothing,
    a_key_whose_request_was_refused_can_be_used_again,
    an_empty_or_overlong_key_is_refused,
    concurrent_creates_with_one_key_create_one_entry,
);

/// Only the engines that keep data across restarts keep keys across them.
mod durable_store {
    use super::*;

    contract_tests::engines!(durable: a_key_survives_a_restart_of_the_server);

    async fn a_key_survives_a_restart_of_the_server(store: Store) {
        // Arrange: a create with a key, then the server stops.
        let key = new_key();
        let input = full_entry("Restarted Entry");
        let mut server = store.start().await;
        let original = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        original.expect_json(201);
        server.terminate().await;

        // Act: the client retries against the restarted server.
        let restarted = store.start().await;
        let repeat = writes::create(&restarted, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        let reused = writes::create(
            &restarted,
            &minimal_entry("Other"),
            &[(IDEMPOTENCY_KEY, &key)],
        )
        .await;

        // Assert
        expect_replay(&repeat, &original);
        expect_key_reused(&reused);
        assert_eq!(fixtures::list_all(&restarted.client()).await.len(), 1);
    }
}

/// Several server processes share one store only on PostgreSQL.
mod shared_store {
    use super::*;

    contract_tests::engines!(postgres: servers_sharing_a_database_share_their_keys);

    async fn servers_sharing_a_database_share_their_keys(store: Store) {
        // Arrange: two servers on one database.
        let first = store.start().await;
        let second = store.start().await;
        let key = new_key();
        let input = full_entry("Shared Key");

        // Act: create through one, retry through the other.
        let original = writes::create(&first, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        original.expect_json(201);
        let repeat = writes::create(&second, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        let reused =
            writes::create(&second, &minimal_entry("Other"), &[(IDEMPOTENCY_KEY, &key)]).await;

        // Assert
        expect_replay(&repeat, &original);
        expect_key_reused(&reused);
        assert_eq!(fixtures::list_all(&first.client()).await.len(), 1);

        // A key held in flight on one server is in flight for the other too.
        let key = new_key();
        let held = HeldCreate::claim(&first, &key, &minimal_entry("Held On First")).await;
        let in_flight = send_fresh(&second, &minimal_entry("Held On First"), &key).await;
        expect_in_flight(&in_flight);
        let finished = held.finish().await;
        finished.expect_json(201);
        let repeat = writes::create(
            &second,
            &minimal_entry("Held On First"),
            &[(IDEMPOTENCY_KEY, &key)],
        )
        .await;
        expect_replay(&repeat, &finished);

        // Creates racing with one key through both servers make one entry.
        race_one_key(&[&first, &second]).await;
        assert_eq!(
            fixtures::list_all(&first.client()).await.len(),
            2 + RACE_ROUNDS
        );
    }
}

fn new_key() -> String {
    Uuid::new_v4().to_string()
}

/// Asserts `repeat` is the same 201 as `original`: same body, `Location` and `ETag`.
fn expect_replay(repeat: &Reply, original: &Reply) {
    let repeated = repeat.expect_json(201);
    assert_eq!(
        repeated,
        original.json(),
        "{repeat:?}: not the original entry"
    );
    assert_eq!(
        repeat.header("location"),
        original.header("location"),
        "{repeat:?}"
    );
    assert!(repeat.header("location").is_some(), "{repeat:?}");
    assert_eq!(etag(&repeat.headers), etag(&original.headers), "{repeat:?}");
}

fn expect_key_reused(reply: &Reply) -> Problem {
    let problem = reply.expect_problem(422);
    assert_eq!(
        problem.problem_type(),
        "/problems/idempotency-key-reused",
        "{reply:?}"
    );
    problem
}

fn expect_in_flight(reply: &Reply) -> Problem {
    let problem = reply.expect_problem(409);
    assert_eq!(
        problem.problem_type(),
        "/problems/idempotency-key-in-flight",
        "{reply:?}"
    );
    problem
}

/// A create with `key` on a connection of its own: the server may answer it without reading the
/// body, and close the connection.
async fn send_fresh(server: &TestServer, body: &Value, key: &str) -> Reply {
    contract_tests::send(
        server
            .fresh_http()
            .post(server.url("/addresses"))
            .header("content-type", "application/json")
            .header(IDEMPOTENCY_KEY, key)
            .body(body.to_string()),
    )
    .await
}

async fn a_repeat_with_the_same_key_and_body_gets_the_original_201_and_creates_nothing(
    store: Store,
) {
    // Arrange
    let server = store.start().await;
    let key = new_key();
    let compact =
        br#"{"full_name":"Irene Adler","emails":[{"kind":"home","email":"irene@example.org"}]}"#;
    // The same entry: members in another order, other white space.
    let reordered = b"{\n  \"emails\" : [ { \"email\" : \"irene@example.org\", \"kind\" : \"home\" } ],\n  \"full_name\" : \"Irene Adler\"\n}\n";

    // Act
    let original = writes::create_raw(&server, compact, &[(IDEMPOTENCY_KEY, &key)]).await;
    let repeat = writes::create_raw(&server, compact, &[(IDEMPOTENCY_KEY, &key)]).await;
    let reordered_repeat = writes::create_raw(&server, reordered, &[(IDEMPOTENCY_KEY, &key)]).await;
    let typed_repeat = server
        .client()
        .create_address()
        .idempotency_key(key.as_str())
        .body(typed(&serde_json::from_slice(compact).expect("JSON")))
        .send()
        .await
        .expect("a typed repeat");

    // Assert
    let created = original.expect_json(201);
    let location = original.header("location").expect("a 201 carries Location");
    assert_eq!(
        location,
        format!("/addresses/{}", created["id"].as_str().expect("an id"))
    );
    expect_replay(&repeat, &original);
    expect_replay(&reordered_repeat, &original);
    assert_eq!(typed_repeat.status().as_u16(), 201);
    let created_typed: addressbook_client::types::Entry =
        serde_json::from_value(created.clone()).expect("an entry");
    assert_eq!(
        fixtures::to_json(&typed_repeat),
        fixtures::to_json(&created_typed)
    );
    let all = fixtures::list_all(&server.client()).await;
    assert_eq!(all.len(), 1, "{all:?}");

    // Another key is another create.
    let other = writes::create_raw(&server, compact, &[(IDEMPOTENCY_KEY, &new_key())]).await;
    assert_ne!(other.expect_json(201)["id"], created["id"]);
    assert_eq!(fixtures::list_all(&server.client()).await.len(), 2);
}

async fn the_same_key_with_another_body_gets_422_and_creates_nothing(store: Store) {
    // Arrange
    let server = store.start().await;
    let key = new_key();
    let input = full_entry("Original Body");
    let original = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
    original.expect_json(201);

    // Act and assert: another name; the same entry without its e-mails; the same name with
    // other lists.
    let mut fewer_lists = input.clone();
    fewer_lists["emails"] = json!([]);
    let mut more_lists = minimal_entry("Original Body");
    more_lists["emails"] = json!([{"email": "other@example.org"}]);
    for other in [minimal_entry("Another Body"), fewer_lists, more_lists] {
        let reply = writes::create(&server, &other, &[(IDEMPOTENCY_KEY, &key)]).await;
        expect_key_reused(&reply);
    }
    let all = fixtures::list_all(&server.client()).await;
    assert_eq!(all.len(), 1, "{all:?}");

    // The original still replays.
    let repeat = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
    expect_replay(&repeat, &original);
}

async fn a_repeat_while_the_first_is_in_flight_gets_409_then_the_original_201(store: Store) {
    // Arrange: a create whose body is held half-way, its key claimed.
    let server = store.start().await;
    let key = new_key();
    let input = full_entry("Slow Sender");
    let held = HeldCreate::claim(&server, &key, &input).await;

    // Act: a repeat while the first is in flight; then the first completes; then the repeat again.
    let in_flight = send_fresh(&server, &input, &key).await;
    let first = held.finish().await;
    let repeat = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;

    // Assert
    expect_in_flight(&in_flight);
    let created = first.expect_json(201);
    assert_eq!(
        fixtures::content_of_json(&created),
        fixtures::as_stored(&input)
    );
    expect_replay(&repeat, &first);
    assert_eq!(fixtures::list_all(&server.client()).await.len(), 1);
}

async fn a_create_whose_key_was_taken_over_gets_409_and_creates_nothing(store: Store) {
    // Arrange: a server that takes a key over after a second, and a create holding its key with
    // its body half-sent for longer than that.
    let server = store
        .start_with(&[("ADDRESSBOOK_API__IDEMPOTENCY_TAKEOVER_SECS", "1")])
        .await;
    let key = new_key();
    let slow = full_entry("Slow Sender");
    let held = HeldCreate::claim(&server, &key, &slow).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    // Act: a repeat takes the abandoned-looking key over and creates its entry; then the slow
    // create finishes sending.
    let fast = minimal_entry("Fast Sender");
    let takeover = writes::create(&server, &fast, &[(IDEMPOTENCY_KEY, &key)]).await;
    let late = held.finish().await;

    // Assert: the late one is told what happened and created nothing; the key is the repeat's.
    let created = takeover.expect_json(201);
    let problem = late.expect_problem(409);
    assert_eq!(
        problem.problem_type(),
        "/problems/idempotency-claim-lost",
        "{late:?}"
    );
    let all = fixtures::list_all(&server.client()).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        all[0].id.to_string(),
        created["id"].as_str().expect("an id")
    );
    let repeat = writes::create(&server, &fast, &[(IDEMPOTENCY_KEY, &key)]).await;
    expect_replay(&repeat, &takeover);
    expect_key_reused(&writes::create(&server, &slow, &[(IDEMPOTENCY_KEY, &key)]).await);
}

async fn a_key_whose_request_was_refused_can_be_used_again(store: Store) {
    // Arrange
    let server = store.start().await;
    let key = new_key();

    // Act: invalid entries, then malformed JSON, all with the key; then a valid one.
    let invalid = writes::create(
        &server,
        &json!({"full_name": ""}),
        &[(IDEMPOTENCY_KEY, &key)],
    )
    .await;
    let malformed =
        writes::create_raw(&server, b"{\"full_name\": ", &[(IDEMPOTENCY_KEY, &key)]).await;
    let corrected = writes::create(
        &server,
        &minimal_entry("Corrected"),
        &[(IDEMPOTENCY_KEY, &key)],
    )
    .await;
    let repeat = writes::create(
        &server,
        &minimal_entry("Corrected"),
        &[(IDEMPOTENCY_KEY, &key)],
    )
    .await;

    // Assert
    invalid.expect_problem(400).expect_pointers(&["/full_name"]);
    malformed.expect_problem(400);
    let created = corrected.expect_json(201);
    assert_eq!(created["full_name"], "Corrected");
    expect_replay(&repeat, &corrected);
    assert_eq!(fixtures::list_all(&server.client()).await.len(), 1);
}

async fn an_empty_or_overlong_key_is_refused(store: Store) {
    let server = store.start().await;
    let input = minimal_entry("Keyed");

    for key in [String::new(), "k".repeat(256), "k".repeat(1_000)] {
        let reply = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        let problem = reply.expect_problem(400);
        assert_eq!(
            problem.errors()[0].parameter.as_deref(),
            Some("Idempotency-Key"),
            "a key of {} characters: {problem:?}",
            key.len()
        );
    }
    assert!(fixtures::list_all(&server.client()).await.is_empty());

    // 1 and 255 characters are fine.
    for key in ["k".to_owned(), "k".repeat(255)] {
        let original = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        original.expect_json(201);
        let repeat = writes::create(&server, &input, &[(IDEMPOTENCY_KEY, &key)]).await;
        expect_replay(&repeat, &original);
    }
    assert_eq!(fixtures::list_all(&server.client()).await.len(), 2);
}

/// Rounds of [`race_one_key`].
const RACE_ROUNDS: usize = 5;
/// Creates sent at once with one key in each round.
const RACERS: usize = 8;

async fn concurrent_creates_with_one_key_create_one_entry(store: Store) {
    let server = store.start().await;
    race_one_key(&[&server]).await;
    assert_eq!(
        fixtures::list_all(&server.client()).await.len(),
        RACE_ROUNDS
    );
}

/// [`RACE_ROUNDS`] times, [`RACERS`] identical creates with one key, spread over `servers`, all
/// at once: each gets the 201 of the one entry created, or 409 while that one is in flight.
async fn race_one_key(servers: &[&TestServer]) {
    for round in 0..RACE_ROUNDS {
        let key = new_key();
        let input = minimal_entry(&format!("Raced {round}"));
        let replies = futures::future::join_all(
            (0..RACERS).map(|n| send_fresh(servers[n % servers.len()], &input, &key)),
        )
        .await;
        let mut created = std::collections::BTreeSet::new();
        for reply in &replies {
            match reply.status {
                201 => {
                    created.insert(reply.json()["id"].to_string());
                }
                _ => {
                    expect_in_flight(reply);
                }
            }
        }
        assert_eq!(
            created.len(),
            1,
            "round {round}: {RACERS} creates with one key made {} entries: {replies:#?}",
            created.len()
        );
    }
}
