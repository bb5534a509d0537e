//! Several server processes on one PostgreSQL database, as behind a load balancer: what one
//! writes, the others see at once, concurrent writes to one entry through different servers
//! leave exactly one of them, never a mix, and a label renamed across the book while entries are
//! patched through another server loses neither change, and a client following the change feed
//! while both servers write misses no change and sees none twice.

use std::collections::HashSet;

use addressbook_client::types;
use contract_tests::feed;
use contract_tests::fixtures::{self, as_stored, content_of, full_entry, to_json, typed};
use contract_tests::http::expect_typed_problem;
use contract_tests::{Reply, Store, TestServer, send};
use futures::future::join_all;
use serde_json::{Value, json};
use sqlx::Connection as _;
use uuid::Uuid;

contract_tests::engines!(
    postgres: a_write_through_one_server_is_seen_at_once_through_the_other,
    concurrent_replaces_and_deletes_through_two_servers_never_mix_versions,
    two_servers_starting_at_once_on_a_fresh_database_both_serve,
    a_label_rename_racing_patches_through_another_server_loses_neither,
    the_feed_never_skips_a_write_that_commits_after_a_later_one,
    a_client_following_the_feed_while_two_servers_write_misses_nothing_and_sees_nothing_twice,
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

/// A write whose transaction took its place in the feed first but commits last: the write of
/// "Slow Commit" sleeps at COMMIT (a deferred trigger, after every statement of the write ran),
/// while a write through the other server commits at once. A feed that handed out a token past
/// the fast write would never show the slow one.
async fn the_feed_never_skips_a_write_that_commits_after_a_later_one(store: Store) {
    // Arrange: both servers, a synced client, and a database that makes one write slow to commit.
    let a = store.start().await;
    let b = store.start().await;
    let (_, token) = feed::sync(&a.client(), None, 10).await;
    let url = store.database_url().expect("a PostgreSQL store");
    let mut db = sqlx::PgConnection::connect(url).await.expect("connects");
    sqlx::raw_sql(
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON entries \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW \
         WHEN (NEW.full_name = 'Slow Commit') EXECUTE FUNCTION slow_commit();",
    )
    .execute(&mut db)
    .await
    .expect("the trigger is made");

    // Act: the slow write through A; once it sleeps in its COMMIT, a fast one through B.
    let slow_client = a.client();
    let slow = tokio::spawn(async move {
        slow_client
            .create_address()
            .body(typed(&json!({"full_name": "Slow Commit"})))
            .send()
            .await
            .expect("the slow write")
            .into_inner()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let sleeping: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event = 'PgSleep'",
        )
        .fetch_one(&mut db)
        .await
        .expect("reads the activity");
        if sleeping == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slow write never reached its commit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let fast = b
        .client()
        .create_address()
        .body(typed(&json!({"full_name": "Fast Commit"})))
        .send()
        .await
        .expect("the fast write")
        .into_inner();
    // A client polls while the slow write is still committing.
    let (meanwhile, token) = feed::sync(&a.client(), Some(&token), 10).await;
    let slow = slow.await.expect("the slow write ended");
    let (after, _) = feed::sync_expecting(&b.client(), Some(&token), 10, 2 - meanwhile.len()).await;

    // Assert: the fast write waited for the slow one; the client saw both, once each.
    assert!(
        meanwhile.is_empty(),
        "a write showed in the feed before an older one had committed: {meanwhile:?}"
    );
    let seen: Vec<Uuid> = meanwhile.iter().chain(&after).map(|c| c.id).collect();
    assert_eq!(seen, [slow.id, fast.id], "{meanwhile:?} then {after:?}");
}

/// Writes through each server while a client follows the feed through both; at the end the
/// client's copy is the book, and no change reached it twice.
async fn a_client_following_the_feed_while_two_servers_write_misses_nothing_and_sees_nothing_twice(
    store: Store,
) {
    // Arrange
    let a = store.start().await;
    let b = store.start().await;
    let writing = std::sync::atomic::AtomicBool::new(true);

    // Act: eight writers (four per server) create, patch and delete; meanwhile the client
    // polls, alternating between the servers, in small pages.
    let writers = join_all((0..8).map(|w| {
        let client = if w % 2 == 0 { a.client() } else { b.client() };
        async move {
            for n in 0..FEED_ENTRIES_PER_WRITER {
                let created = client
                    .create_address()
                    .body(typed(
                        &json!({"full_name": format!("Writer {w} entry {n}")}),
                    ))
                    .send()
                    .await
                    .expect("created")
                    .into_inner();
                for edit in 0..2 {
                    client
                        .patch_address()
                        .id(created.id)
                        .body(addressbook_client::EntryPatch::new().full_name(
                            format!("Writer {w} entry {n} edit {edit}").parse().unwrap(),
                        ))
                        .send()
                        .await
                        .expect("patched");
                }
                if n % 3 == 0 {
                    client
                        .delete_address()
                        .id(created.id)
                        .send()
                        .await
                        .expect("deleted");
                }
            }
        }
    }));
    let follower = async {
        let clients = [a.client(), b.client()];
        let mut log = Vec::new();
        let mut token = None;
        let mut polls = 0;
        while writing.load(std::sync::atomic::Ordering::SeqCst) {
            let (changes, next) = feed::sync(&clients[polls % 2], token.as_deref(), 7).await;
            log.extend(changes);
            token = Some(next);
            polls += 1;
        }
        (log, token, polls)
    };
    let (_, (mut log, token, polls)) = tokio::join!(
        async {
            writers.await;
            writing.store(false, std::sync::atomic::Ordering::SeqCst);
        },
        follower
    );
    let book: Vec<types::Entry> = fixtures::list_all(&b.client()).await;
    let live = book.len();
    let expected: std::collections::HashMap<Uuid, Value> = book
        .iter()
        .map(|entry| (entry.id, to_json(entry)))
        .collect();
    // The last changes show once every older write transaction on the database server has
    // ended (other tests share it): ask until the copy is the book, or ten seconds passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut token = token;
    loop {
        let (changes, next) = feed::sync(&a.client(), token.as_deref(), 50).await;
        log.extend(changes);
        token = Some(next);
        if mirror(&log) == expected || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Assert: the copy is the book, entry for entry; each entry's changes came in the order of
    // its versions, none twice, none after its deletion.
    assert!(polls > 1, "the client polled while the servers wrote");
    let copy = mirror(&log);
    assert_eq!(
        copy.len(),
        expected.len(),
        "the copy and the book differ in size"
    );
    for (id, entry) in &expected {
        assert_eq!(copy.get(id), Some(entry), "entry {id}");
    }
    let mut last_version = std::collections::HashMap::<Uuid, Option<u64>>::new();
    for change in &log {
        let previous = last_version.get(&change.id).copied();
        let version = change.etag.as_deref().map(|etag| {
            etag.trim_matches('"')
                .parse::<u64>()
                .expect("an ETag is a version")
        });
        match (previous, version) {
            (Some(None), _) => panic!("a change to {} after its deletion: {change:?}", change.id),
            (Some(Some(before)), Some(now)) => assert!(
                now > before,
                "{}: version {now} after {before}, the same change twice or out of order",
                change.id
            ),
            _ => {}
        }
        last_version.insert(change.id, version);
    }
    let deleted = FEED_ENTRIES_PER_WRITER.div_ceil(3) * 8;
    assert_eq!(live, FEED_ENTRIES_PER_WRITER * 8 - deleted);
}

/// Entries each feed writer creates.
const FEED_ENTRIES_PER_WRITER: usize = 12;

/// What a client that applied `log` in order holds: each entry not deleted, as last received.
fn mirror(log: &[types::Change]) -> std::collections::HashMap<Uuid, Value> {
    let mut copy = std::collections::HashMap::new();
    for change in log {
        match &change.entry {
            Some(entry) => copy.insert(change.id, to_json(entry)),
            None => copy.remove(&change.id),
        };
    }
    copy
}
