//! Several server processes on one PostgreSQL database, as behind a load balancer: what one
//! writes, the others see at once, concurrent writes to one entry through different servers
//! leave exactly one of them, never a mix, and a label renamed across the book while entries are
//! patched through another server loses neither change.

use std::collections::HashSet;

use contract_tests::fixtures::{self, as_stored, content_of, full_entry, to_json, typed};
use contract_tests::http::expect_typed_problem;
use contract_tests::{Reply, Store, TestServer, send};
use futures::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(
    postgres: a_write_through_one_server_is_seen_at_once_through_the_other,
    concurrent_replaces_and_deletes_through_two_servers_never_mix_versions,
    two_servers_starting_at_once_on_a_fresh_database_both_serve,
    a_label_rename_racing_patches_through_another_server_loses_neither,
);

/// Rounds of concurrent writes to one entry.
const ROUNDS: usize = 20;
/// Replaces of the entry per round through each server.
const REPLACES_PER_SERVER: usize = 4;

async fn a_write_through_one_server_is_seen_at_once_through_the_other(store: Store) {
    // Arrange
    let a = store.start().await;
    let b = store.start().await;
    let (client_a, client_b) = (a.client(), b.client());

    // Act + Assert: created through A, read through B.
    let created = client_a
        .create_address()
        .body(typed(&full_entry("Ada Lovelace")))
        .send()
        .await
        .expect("create through A")
        .into_inner();
    let read = client_b
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read through B")
        .into_inner();
    assert_eq!(to_json(&read), to_json(&created));

    // Replaced through B, read through A.
    let replacement =
        json!({"full_name": "Augusta Ada King", "emails": [{"email": "ada@example.org"}]});
    client_b
        .replace_address()
        .id(created.id)
        .body(typed(&replacement))
        .send()
        .await
        .expect("replace through B");
    let read = client_a
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read through A")
        .into_inner();
    assert_eq!(content_of(&read), as_stored(&replacement));
    assert_eq!(read.created_at, created.created_at);

    // Listed through B: everything created through A.
    let more = fixtures::create_many(&client_a, "Listed", 5, 5).await;
    let listed: HashSet<Uuid> = fixtures::list_all(&client_b)
        .await
        .into_iter()
        .map(|entry| entry.id)
        .collect();
    let expected: HashSet<Uuid> = more
        .iter()
        .map(|entry| entry.id)
        .chain([created.id])
        .collect();
    assert_eq!(listed, expected);

    // Deleted through A, gone through B.
    client_a
        .delete_address()
        .id(created.id)
        .send()
        .await
        .expect("delete through A");
    let path = format!("/addresses/{}", created.id);
    let problem = expect_typed_problem(
        client_b.get_address().id(created.id).send().await,
        404,
        "GET",
        &path,
    );
    assert_eq!(problem.type_, "/problems/not-found");
}

async fn concurrent_replaces_and_deletes_through_two_servers_never_mix_versions(store: Store) {
    let a = store.start().await;
    let b = store.start().await;
    let servers = [&a, &b];
    for round in 0..ROUNDS {
        // Arrange: a fresh entry; every other round also deletes it through both servers.
        let created = send(
            a.http()
                .post(a.url("/addresses"))
                .json(&version(round, usize::MAX)),
        )
        .await
        .expect_json(201);
        let id: Uuid = created["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("a created entry has an id");
        let deleting = round % 2 == 1;
        let mut writes = Vec::new();
        for n in 0..2 * REPLACES_PER_SERVER {
            let server = servers[n % 2];
            let content = version(round, n);
            writes.push(Write::Replace(server, content));
        }
        if deleting {
            writes.insert(REPLACES_PER_SERVER, Write::Delete(&a));
            writes.push(Write::Delete(&b));
        }

        // Act: all of them at once.
        let replies = join_all(writes.iter().map(|write| write.send(id))).await;

        // Assert: every answer is 204 or 404; the entry holds one version, the same through
        // both servers.
        let mut acked_contents = Vec::new();
        let mut deletes_done = 0;
        for (write, reply) in writes.iter().zip(&replies) {
            match reply.status {
                204 => match write {
                    Write::Replace(_, content) => acked_contents.push(as_stored(content)),
                    Write::Delete(_) => deletes_done += 1,
                },
                404 => {
                    let problem = reply.expect_problem(404);
                    assert_eq!(problem.problem_type(), "/problems/not-found", "{reply:?}");
                }
                _ => panic!("round {round}: {reply:?}"),
            }
        }
        let through_a = send(a.http().get(a.url(&format!("/addresses/{id}")))).await;
        let through_b = send(b.http().get(b.url(&format!("/addresses/{id}")))).await;
        if deleting {
            assert_eq!(deletes_done, 1, "round {round}: {replies:#?}");
            through_a.expect_problem(404);
            through_b.expect_problem(404);
        } else {
            assert_eq!(
                acked_contents.len(),
                2 * REPLACES_PER_SERVER,
                "round {round}: with no delete every replace succeeds: {replies:#?}"
            );
            let entry = through_a.expect_json(200);
            assert_eq!(
                through_b.expect_json(200),
                entry,
                "round {round}: A and B disagree"
            );
            let stored = fixtures::content_of_json(&entry);
            assert!(
                acked_contents.contains(&stored),
                "round {round}: the entry holds {stored:#}, which no acknowledged replace sent"
            );
        }
    }
}

async fn two_servers_starting_at_once_on_a_fresh_database_both_serve(store: Store) {
    // Act: both apply the migrations at start-up, at the same moment.
    let (a, b) = tokio::join!(store.server().try_start(), store.server().try_start());

    // Assert
    let a = a.unwrap_or_else(|err| panic!("server A: {err}"));
    let b = b.unwrap_or_else(|err| panic!("server B: {err}"));
    let created = a
        .client()
        .create_address()
        .body(typed(&json!({"full_name": "Grace Hopper"})))
        .send()
        .await
        .expect("create through A")
        .into_inner();
    let read = b
        .client()
        .get_address()
        .id(created.id)
        .send()
        .await
        .expect("read through B")
        .into_inner();
    assert_eq!(to_json(&read), to_json(&created));
}

/// One write of a round.
enum Write<'s> {
    Replace(&'s TestServer, Value),
    Delete(&'s TestServer),
}

impl Write<'_> {
    async fn send(&self, id: Uuid) -> Reply {
        let path = format!("/addresses/{id}");
        match self {
            Write::Replace(server, content) => {
                send(server.http().put(server.url(&path)).json(content)).await
            }
            Write::Delete(server) => send(server.http().delete(server.url(&path))).await,
        }
    }
}

/// Version `n` of the entry of round `round`: every field tagged alike, list lengths differing,
/// so a mix of two versions matches neither.
fn version(round: usize, n: usize) -> Value {
    let tag = format!("r{round}-v{n}");
    let items = 1 + n % 3;
    json!({
        "full_name": format!("Contended {tag}"),
        "addresses": (0..items).map(|i| json!({
            "street_name": format!("Street {tag} {i}"),
            "city": format!("City {tag}"),
            "pincode": format!("{i}"),
            "country": format!("Country {tag}")
        })).collect::<Vec<_>>(),
        "emails": (0..items).map(|i| json!({"email": format!("{tag}.{i}@example.org")})).collect::<Vec<_>>(),
    })
}

/// Entries a rename races against.
const RACED_ENTRIES: usize = 24;
/// Renames of their label, one after another, through one server.
const RENAMES: usize = 8;

async fn a_label_rename_racing_patches_through_another_server_loses_neither(store: Store) {
    // Arrange: entries with a label, created through A.
    let a = store.start().await;
    let b = store.start().await;
    let mut ids = Vec::new();
    for n in 0..RACED_ENTRIES {
        let reply = send(
            a.http()
                .post(a.url("/addresses"))
                .json(&json!({"full_name": format!("Raced {n}"), "labels": ["club 0"]})),
        )
        .await;
        ids.push(
            Uuid::parse_str(reply.expect_json(201)["id"].as_str().expect("an id")).expect("a UUID"),
        );
    }

    // Act: A renames the label again and again while B patches every entry's e-mails. A rename
    // rewrites each entry from the content it read; a patch committed in between must not be
    // overwritten, and the patch must land on the renamed entry, not on a stale copy.
    let renames = async {
        for n in 1..=RENAMES {
            let reply = send(
                a.http()
                    .post(a.url(&format!("/labels/club%20{}/rename", n - 1)))
                    .json(&json!({"to": format!("Club {n}")})),
            )
            .await;
            assert_eq!(
                reply.expect_json(200)["entries"],
                RACED_ENTRIES,
                "rename {n}"
            );
        }
    };
    let patches = join_all(ids.iter().enumerate().map(|(n, id)| {
        let b = &b;
        async move {
            // A patch that keeps losing its re-apply race is refused with 409 and writes
            // nothing; a client retries it.
            loop {
                let reply = send(
                    b.http()
                        .patch(b.url(&format!("/addresses/{id}")))
                        .header("content-type", "application/merge-patch+json")
                        .body(
                            json!({"emails": [{"email": format!("raced{n}@example.org")}]})
                                .to_string(),
                        ),
                )
                .await;
                match reply.status {
                    200 => break,
                    409 => continue,
                    _ => panic!("patch of {id}: {reply:?}"),
                }
            }
        }
    }));
    tokio::join!(renames, patches);

    // Assert: every entry has its patch and the last name of the label.
    for (n, id) in ids.iter().enumerate() {
        let reply = send(b.http().get(b.url(&format!("/addresses/{id}")))).await;
        let entry = reply.expect_json(200);
        assert_eq!(
            entry["emails"],
            json!([{"email": format!("raced{n}@example.org")}]),
            "a patch was lost: {entry}"
        );
        assert_eq!(
            entry["labels"],
            json!([format!("Club {RENAMES}")]),
            "a rename was lost: {entry}"
        );
    }
}
