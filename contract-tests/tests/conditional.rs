//! Conditional requests: every response carrying an entry has a strong `ETag` that changes on
//! every write; `If-None-Match` saves re-reading an unchanged entry; `If-Match` makes a write
//! happen only on the version the client read, so no update is lost between read and write; and
//! a server may require it (428).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use addressbook_client::is_not_modified;
use contract_tests::fixtures::{as_stored, content_of_json, full_entry, minimal_entry};
use contract_tests::writes::{self, IF_MATCH, IF_NONE_MATCH, current, entry_path, etag, weak};
use contract_tests::{Problem, Reply, Store, TestServer};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use uuid::Uuid;

contract_tests::engines!(
    every_response_with_an_entry_has_a_strong_etag_that_changes_on_every_write,
    if_none_match_with_the_current_tag_gets_304_without_a_body,
    a_write_with_a_stale_if_match_gets_412_and_changes_nothing,
    a_write_with_the_current_tag_or_a_star_in_if_match_succeeds,
    a_delete_with_a_stale_if_match_gets_412_and_the_entry_stays,
    a_server_requiring_if_match_refuses_writes_without_it_with_428,
    of_two_concurrent_writes_with_the_same_if_match_exactly_one_wins,
);

/// Several server processes share one store only on PostgreSQL.
mod shared_store {
    use super::*;

    contract_tests::engines!(
        postgres: of_two_writes_through_two_servers_with_the_same_if_match_exactly_one_wins
    );

    async fn of_two_writes_through_two_servers_with_the_same_if_match_exactly_one_wins(
        store: Store,
    ) {
        // Two processes sharing one database, as behind a load balancer.
        let first = store.start().await;
        let second = store.start().await;
        race_rounds(&first, &second).await;
    }
}

/// Rounds of the lost-update race.
const RACE_ROUNDS: usize = 20;
/// How long one request of the race may take.
const RACE_REQUEST_LIMIT: Duration = Duration::from_secs(15);

fn expect_precondition_failed(reply: &Reply) -> Problem {
    let problem = reply.expect_problem(412);
    assert_eq!(
        problem.problem_type(),
        "/problems/precondition-failed",
        "{reply:?}"
    );
    problem
}

fn expect_precondition_required(reply: &Reply) -> Problem {
    let problem = reply.expect_problem(428);
    assert_eq!(
        problem.problem_type(),
        "/problems/precondition-required",
        "{reply:?}"
    );
    problem
}

/// Creates `input` and returns its id and `ETag`.
async fn create(server: &TestServer, input: &Value) -> (Uuid, String) {
    let reply = writes::create(server, input, &[]).await;
    let entry = reply.expect_json(201);
    let id = entry["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a UUID");
    (id, etag(&reply.headers))
}

async fn every_response_with_an_entry_has_a_strong_etag_that_changes_on_every_write(store: Store) {
    // Arrange
    let server = store.start().await;
    let input = full_entry("Tagged Entry");

    // Act and assert: create, read, patch, replace, replace with the same content.
    let (id, created) = create(&server, &input).await;
    let (_, read) = current(&server, id).await;
    assert_eq!(read, created, "a read without a write keeps the tag");

    let patched_reply = writes::patch(&server, id, &json!({"full_name": "Retagged"}), &[]).await;
    patched_reply.expect_json(200);
    let patched = etag(&patched_reply.headers);

    let replacement = minimal_entry("Replaced");
    let replaced_reply = writes::put(&server, id, &replacement, &[]).await;
    assert_eq!(replaced_reply.status, 204, "{replaced_reply:?}");
    let replaced = etag(&replaced_reply.headers);

    let same_again_reply = writes::put(&server, id, &replacement, &[]).await;
    assert_eq!(same_again_reply.status, 204, "{same_again_reply:?}");
    let same_again = etag(&same_again_reply.headers);

    let tags = [&created, &patched, &replaced, &same_again];
    let distinct: HashSet<&&String> = tags.iter().collect();
    assert_eq!(
        distinct.len(),
        tags.len(),
        "every write gives a new tag, even one that stores the same content: {tags:?}"
    );
    let (entry, latest) = current(&server, id).await;
    assert_eq!(latest, same_again, "a read gets the tag of the last write");
    assert_eq!(content_of_json(&entry), as_stored(&replacement));

    // The typed client sees the same header.
    let typed = server
        .client()
        .get_address()
        .id(id)
        .send()
        .await
        .expect("read");
    assert_eq!(etag(typed.headers()), latest);
}

async fn if_none_match_with_the_current_tag_gets_304_without_a_body(store: Store) {
    // Arrange: an entry written once after its creation, so it has an old tag and a current one.
    let server = store.start().await;
    let (id, old) = create(&server, &full_entry("Cached Entry")).await;
    let reply = writes::patch(&server, id, &json!({"emails": null}), &[]).await;
    reply.expect_json(200);
    let (entry, tag) = current(&server, id).await;

    // Act and assert: the current tag (alone, in a list, or as `*`) → 304 with the tag.
    let another = format!("{old}, {tag}");
    for header in [tag.as_str(), another.as_str(), "*"] {
        let reply = writes::get(&server, id, &[(IF_NONE_MATCH, header)]).await;
        assert_eq!(reply.status, 304, "If-None-Match: {header}: {reply:?}");
        assert!(reply.body.is_empty(), "{reply:?}: a 304 has no body");
        assert_eq!(etag(&reply.headers), tag, "{reply:?}");
    }

    // An old tag, or one never issued → 200 with the entry.
    for header in [old.as_str(), "\"no-such-tag\""] {
        let reply = writes::get(&server, id, &[(IF_NONE_MATCH, header)]).await;
        assert_eq!(reply.expect_json(200), entry, "If-None-Match: {header}");
        assert_eq!(etag(&reply.headers), tag);
    }

    // A missing entry is still 404.
    let missing = Uuid::now_v7();
    writes::get(&server, missing, &[(IF_NONE_MATCH, "*")])
        .await
        .expect_problem(404);

    // Through the typed client: 304 is recognised, a changed entry is read.
    let client = server.client();
    let not_modified = client
        .get_address()
        .id(id)
        .if_none_match(tag.as_str())
        .send()
        .await
        .expect_err("a 304 is not a success body");
    assert!(is_not_modified(&not_modified), "{not_modified:?}");
    let changed = client
        .get_address()
        .id(id)
        .if_none_match(old.as_str())
        .send()
        .await
        .expect("an old tag gets the entry");
    assert_eq!(changed.id, id);
}

async fn a_write_with_a_stale_if_match_gets_412_and_changes_nothing(store: Store) {
    // Arrange: an entry written once since it was created, so its first tag is stale.
    let server = store.start().await;
    let (id, stale) = create(&server, &full_entry("Guarded Entry")).await;
    let reply = writes::put(&server, id, &full_entry("Guarded Entry, Changed"), &[]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let (before, tag) = current(&server, id).await;

    // Act and assert: a stale tag, a tag never issued, and the weak form of the current tag
    // (If-Match compares strongly) all fail for PUT and PATCH.
    let weak_current = weak(&tag);
    for header in [stale.as_str(), "\"no-such-tag\"", weak_current.as_str()] {
        let reply = writes::put(&server, id, &minimal_entry("Lost"), &[(IF_MATCH, header)]).await;
        expect_precondition_failed(&reply);
        let reply = writes::patch(
            &server,
            id,
            &json!({"full_name": "Lost"}),
            &[(IF_MATCH, header)],
        )
        .await;
        expect_precondition_failed(&reply);

        let (after, after_tag) = current(&server, id).await;
        assert_eq!(after, before, "If-Match: {header}: the entry changed");
        assert_eq!(after_tag, tag, "If-Match: {header}: the tag changed");
    }

    // The same through the typed client: a declared 412 problem.
    let path = entry_path(id);
    let problem = contract_tests::http::expect_typed_problem(
        server
            .client()
            .replace_address()
            .id(id)
            .if_match(stale.as_str())
            .body(contract_tests::fixtures::typed(&minimal_entry("Lost")))
            .send()
            .await,
        412,
        "PUT",
        &path,
    );
    assert_eq!(problem.type_, "/problems/precondition-failed");
    assert_eq!(current(&server, id).await.0, before);
}

async fn a_write_with_the_current_tag_or_a_star_in_if_match_succeeds(store: Store) {
    let server = store.start().await;
    let (id, tag) = create(&server, &full_entry("Matched Entry")).await;

    // PUT with the current tag.
    let replacement = minimal_entry("Matched Once");
    let reply = writes::put(&server, id, &replacement, &[(IF_MATCH, &tag)]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let tag = etag(&reply.headers);
    assert_eq!(
        content_of_json(&current(&server, id).await.0),
        as_stored(&replacement)
    );

    // PATCH with a list holding the current tag.
    let list = format!("\"no-such-tag\", {tag}");
    let reply = writes::patch(
        &server,
        id,
        &json!({"full_name": "Matched Twice"}),
        &[(IF_MATCH, &list)],
    )
    .await;
    let patched = reply.expect_json(200);
    assert_eq!(patched["full_name"], "Matched Twice");
    let tag = etag(&reply.headers);
    assert_eq!(current(&server, id).await.1, tag);

    // `*`: any version of an existing entry.
    let reply = writes::put(&server, id, &minimal_entry("Starred"), &[(IF_MATCH, "*")]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let reply = writes::patch(
        &server,
        id,
        &json!({"full_name": "Starred Again"}),
        &[(IF_MATCH, "*")],
    )
    .await;
    assert_eq!(reply.expect_json(200)["full_name"], "Starred Again");
    let reply = writes::delete(&server, id, &[(IF_MATCH, "*")]).await;
    assert_eq!(reply.status, 204, "{reply:?}");

    // `*` on an entry that does not exist: 404, and nothing is created.
    for id in [id, Uuid::now_v7()] {
        let reply = writes::put(&server, id, &minimal_entry("Nobody"), &[(IF_MATCH, "*")]).await;
        reply.expect_problem(404);
        let reply = writes::patch(
            &server,
            id,
            &json!({"full_name": "Nobody"}),
            &[(IF_MATCH, "*")],
        )
        .await;
        reply.expect_problem(404);
        let reply = writes::delete(&server, id, &[(IF_MATCH, "*")]).await;
        reply.expect_problem(404);
        writes::get(&server, id, &[]).await.expect_problem(404);
    }

    // Through the typed client, with the tag of its own read.
    let (id, _) = create(&server, &minimal_entry("Typed Match")).await;
    let client = server.client();
    let read = client.get_address().id(id).send().await.expect("read");
    let tag = etag(read.headers());
    let deleted = client
        .delete_address()
        .id(id)
        .if_match(tag.as_str())
        .send()
        .await
        .expect("delete with the current tag");
    assert_eq!(deleted.status().as_u16(), 204);
}

async fn a_delete_with_a_stale_if_match_gets_412_and_the_entry_stays(store: Store) {
    // Arrange
    let server = store.start().await;
    let (id, stale) = create(&server, &full_entry("Kept Entry")).await;
    let reply = writes::patch(&server, id, &json!({"fax_numbers": null}), &[]).await;
    reply.expect_json(200);
    let (before, tag) = current(&server, id).await;

    // Act
    let reply = writes::delete(&server, id, &[(IF_MATCH, &stale)]).await;

    // Assert
    expect_precondition_failed(&reply);
    assert_eq!(current(&server, id).await, (before, tag.clone()));
    let reply = writes::delete(&server, id, &[(IF_MATCH, &tag)]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    writes::get(&server, id, &[]).await.expect_problem(404);
}

async fn a_server_requiring_if_match_refuses_writes_without_it_with_428(store: Store) {
    // Arrange
    let server = store
        .start_with(&[("ADDRESSBOOK_API__REQUIRE_IF_MATCH", "true")])
        .await;

    // Reads and creates need no precondition.
    let (id, tag) = create(&server, &full_entry("Strict Entry")).await;
    let (before, read_tag) = current(&server, id).await;
    assert_eq!(read_tag, tag);
    let page = server.client().list_addresses().send().await.expect("list");
    assert_eq!(page.items.len(), 1);

    // Act and assert: writes without If-Match → 428, and nothing changes.
    let reply = writes::put(&server, id, &minimal_entry("Blind"), &[]).await;
    expect_precondition_required(&reply);
    let reply = writes::patch(&server, id, &json!({"full_name": "Blind"}), &[]).await;
    expect_precondition_required(&reply);
    let reply = writes::delete(&server, id, &[]).await;
    expect_precondition_required(&reply);
    assert_eq!(current(&server, id).await, (before, tag.clone()));

    // The typed client gets the declared problem too.
    let problem = contract_tests::http::expect_typed_problem(
        server.client().delete_address().id(id).send().await,
        428,
        "DELETE",
        &entry_path(id),
    );
    assert_eq!(problem.type_, "/problems/precondition-required");

    // With If-Match, writes go through; a stale one still gets 412.
    let reply = writes::put(&server, id, &minimal_entry("Careful"), &[(IF_MATCH, &tag)]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let tag_after_put = etag(&reply.headers);
    let reply = writes::patch(
        &server,
        id,
        &json!({"full_name": "Stale"}),
        &[(IF_MATCH, &tag)],
    )
    .await;
    expect_precondition_failed(&reply);
    let reply = writes::patch(
        &server,
        id,
        &json!({"full_name": "Careful Again"}),
        &[(IF_MATCH, &tag_after_put)],
    )
    .await;
    let patched = reply.expect_json(200);
    assert_eq!(patched["full_name"], "Careful Again");
    let reply = writes::delete(&server, id, &[(IF_MATCH, &etag(&reply.headers))]).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    writes::get(&server, id, &[]).await.expect_problem(404);
}

async fn of_two_concurrent_writes_with_the_same_if_match_exactly_one_wins(store: Store) {
    let server = store.start().await;
    race_rounds(&server, &server).await;
}

/// [`RACE_ROUNDS`] rounds: two clients read the same entry, then both write it with the tag they
/// read, one through each server, at the same moment. Even rounds replace, odd rounds patch.
async fn race_rounds(one: &TestServer, other: &TestServer) {
    let (id, _) = create(one, &full_entry("Contested Entry")).await;
    for round in 0..RACE_ROUNDS {
        // Arrange: both clients read the entry; they see the same tag.
        let (_, tag) = current(one, id).await;
        let (_, tag_seen_by_other) = current(other, id).await;
        assert_eq!(tag, tag_seen_by_other, "round {round}: two reads, two tags");
        let contents = [
            format!("Round {round} Writer A"),
            format!("Round {round} Writer B"),
        ];

        // Act: both write at once.
        let barrier = Arc::new(Barrier::new(2));
        let writers = [(one, &contents[0]), (other, &contents[1])].map(|(server, name)| {
            let barrier = barrier.clone();
            let tag = tag.clone();
            let name = name.clone();
            async move {
                barrier.wait().await;
                let write = async {
                    if round % 2 == 0 {
                        writes::put(server, id, &minimal_entry(&name), &[(IF_MATCH, &tag)]).await
                    } else {
                        writes::patch(server, id, &json!({"full_name": name}), &[(IF_MATCH, &tag)])
                            .await
                    }
                };
                tokio::time::timeout(RACE_REQUEST_LIMIT, write)
                    .await
                    .unwrap_or_else(|_| {
                        panic!("round {round}: a write took over {RACE_REQUEST_LIMIT:?}")
                    })
            }
        });
        let [a, b] = writers;
        let (a, b) = tokio::join!(a, b);

        // Assert: one success, one 412, and the winner's content is stored.
        let success = if round % 2 == 0 { 204 } else { 200 };
        let winner = match (a.status, b.status) {
            (s, 412) if s == success => 0,
            (412, s) if s == success => 1,
            _ => panic!(
                "round {round}: expected exactly one {success} and one 412, got\n{a:?}\n{b:?}"
            ),
        };
        let loser = if winner == 0 { &b } else { &a };
        expect_precondition_failed(loser);
        let (stored, stored_tag) = current(one, id).await;
        assert_eq!(
            stored["full_name"], contents[winner],
            "round {round}: the stored entry is not the winner's"
        );
        let winning_reply = if winner == 0 { &a } else { &b };
        assert_eq!(
            stored_tag,
            etag(&winning_reply.headers),
            "round {round}: the stored tag is not the one the winner got"
        );
        let (_, seen_by_other) = current(other, id).await;
        assert_eq!(
            seen_by_other, stored_tag,
            "round {round}: the servers disagree"
        );
    }
}
