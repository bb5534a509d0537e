//! The embedded engine under storage faults, injected for real: a full disk, a file system that
//! turns read-only, the database file moved or deleted under the running server, a corrupt page
//! at start-up, and a lock held by another process. Under each, every write either commits and
//! is acknowledged or is refused with a declared problem (507, or 503 with `Retry-After`) and
//! leaves nothing behind; readiness says 503 while writes cannot succeed; and afterwards, on a
//! restarted server, every acknowledged write is there and no refused one is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use contract_tests::faults::{Ext4, Tmpfs};
use contract_tests::fixtures;
use contract_tests::{Reply, Store, TestServer, send};
use serde_json::{Value, json};
use sqlx::Connection as _;

/// What writers were told.
#[derive(Debug, Default)]
struct Outcomes {
    /// Full names of acknowledged creates.
    acknowledged: BTreeSet<String>,
    /// Full names of refused creates, with the status.
    refused: Vec<(String, u16)>,
}

impl Outcomes {
    fn refused_names(&self) -> BTreeSet<String> {
        self.refused.iter().map(|(name, _)| name.clone()).collect()
    }

    fn statuses(&self) -> BTreeSet<u16> {
        self.refused.iter().map(|(_, status)| *status).collect()
    }
}

fn entry(name: &str) -> Value {
    json!({
        "full_name": name,
        "addresses": [{"street_name": "Fault Lane", "city": "Faultville", "pincode": "F1 7LT",
                       "country": "Testland"}],
        "emails": [{"email": "fault@example.org"}]
    })
}

/// Creates `name` and records what the server said: 201, or a refusal that is a declared
/// storage problem. Anything else fails the test.
async fn create(server: &TestServer, name: &str, outcomes: &mut Outcomes) -> u16 {
    let reply = send(
        server
            .http()
            .post(server.url("/addresses"))
            .json(&entry(name)),
    )
    .await;
    match reply.status {
        201 => {
            outcomes.acknowledged.insert(name.to_owned());
        }
        507 => {
            let problem = reply.expect_problem(507);
            assert_eq!(
                problem.problem_type(),
                "/problems/insufficient-storage",
                "{reply:?}"
            );
            outcomes.refused.push((name.to_owned(), 507));
        }
        503 => {
            expect_unavailable(&reply);
            outcomes.refused.push((name.to_owned(), 503));
        }
        _ => panic!("a create under a storage fault got {reply:?}"),
    }
    reply.status
}

/// Creates every one of `names` in one batch and records what the server said of each: 201, or
/// a refusal with the declared storage problem. Returns the statuses, in order.
async fn create_batch(server: &TestServer, names: &[String], outcomes: &mut Outcomes) -> Vec<u16> {
    let operations: Vec<Value> = names
        .iter()
        .map(|name| json!({"op": "create", "entry": entry(name)}))
        .collect();
    let reply = send(
        server
            .http()
            .post(server.url("/addresses/batch"))
            .json(&json!({ "operations": operations })),
    )
    .await;
    let answer = reply.expect_json(200);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), names.len(), "{answer}");
    let mut statuses = Vec::new();
    for (name, result) in names.iter().zip(results) {
        let status = result["status"].as_u64().expect("a status") as u16;
        match status {
            201 => {
                outcomes.acknowledged.insert(name.clone());
            }
            507 | 503 => {
                let expected = if status == 507 {
                    "/problems/insufficient-storage"
                } else {
                    "/problems/service-unavailable"
                };
                assert_eq!(result["problem"]["type"], expected, "{result}");
                outcomes.refused.push((name.clone(), status));
            }
            _ => panic!("a batched create under a storage fault got {result}"),
        }
        statuses.push(status);
    }
    statuses
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix} {n}")).collect()
}

fn expect_unavailable(reply: &Reply) {
    let problem = reply.expect_problem(503);
    assert_eq!(
        problem.problem_type(),
        "/problems/service-unavailable",
        "{reply:?}"
    );
    assert!(
        reply.header("retry-after").is_some(),
        "a 503 says when to retry: {reply:?}"
    );
}

async fn readiness(server: &TestServer) -> u16 {
    send(server.http().get(server.url("/readiness")))
        .await
        .status
}

/// Waits until `/readiness` answers `status`; panics with the server's logs if it does not.
async fn until_ready_is(server: &TestServer, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while readiness(server).await != status {
        assert!(
            Instant::now() < deadline,
            "/readiness did not answer {status} within {within:?}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// On a server started afresh on the same file: every acknowledged create is there, exactly as
/// sent, and none of the refused ones.
async fn check_after_restart(store: &Store, database: &Path, outcomes: &Outcomes) {
    let server = on_file(store, database).start().await;
    let stored = fixtures::list_all(&server.client()).await;
    let names: BTreeSet<String> = stored
        .iter()
        .map(|entry| entry.full_name.as_str().to_owned())
        .collect();
    let lost: Vec<_> = outcomes.acknowledged.difference(&names).collect();
    assert!(lost.is_empty(), "acknowledged creates are gone: {lost:?}");
    let stored_anyway: Vec<_> = outcomes
        .refused_names()
        .intersection(&names)
        .cloned()
        .collect();
    assert!(
        stored_anyway.is_empty(),
        "refused creates were stored: {stored_anyway:?}"
    );
    for entry in &stored {
        let name = entry.full_name.as_str();
        assert_eq!(
            fixtures::content_of(entry),
            fixtures::as_stored(&self::entry(name)),
            "{name} was not stored as sent"
        );
    }

    // The change feed was written with each write, in its transaction: a full sync holds
    // exactly the stored entries, each once, and nothing of a refused write.
    let (changes, _) = contract_tests::feed::sync(&server.client(), None, 1000).await;
    let fed: Vec<Value> = changes
        .iter()
        .map(|change| fixtures::to_json(change.entry.as_ref().expect("nothing was deleted")))
        .collect();
    let listed: Vec<Value> = stored.iter().map(fixtures::to_json).collect();
    assert_eq!(
        fed.len(),
        listed.len(),
        "the feed and the book differ in size"
    );
    for entry in &listed {
        assert!(fed.contains(entry), "{entry} is not in the change feed");
    }
}

fn on_file(store: &Store, database: &Path) -> contract_tests::ServerOptions {
    store.server().env(
        "ADDRESSBOOK_STORAGE__SQLITE__PATH",
        database.to_str().expect("UTF-8"),
    )
}

async fn sqlite_store() -> Store {
    Store::new(contract_tests::Engine::Sqlite)
        .await
        .expect("SQLite needs no service")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_507_and_the_service_recovers_when_space_is_freed() {
    let Some(disk) = Tmpfs::mount("2m") else {
        return;
    };
    let store = sqlite_store().await;
    let database = disk.path().join("book.db");
    let server = on_file(&store, &database).start().await;
    let mut outcomes = Outcomes::default();
    for n in 0..10 {
        assert_eq!(
            create(&server, &format!("Before Full {n}"), &mut outcomes).await,
            201
        );
    }

    // Act: the disk fills up under four concurrent writers.
    disk.fill();
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let http = server.http();
            let url = server.url("/addresses");
            tokio::spawn(async move {
                let mut outcomes = Outcomes::default();
                let mut refusals = 0;
                for n in 0..2_000 {
                    let name = format!("While Full {writer}-{n}");
                    let reply = send(http.post(&url).json(&entry(&name))).await;
                    match reply.status {
                        201 => {
                            outcomes.acknowledged.insert(name);
                        }
                        507 | 503 => {
                            outcomes.refused.push((name, reply.status));
                            refusals += 1;
                            if refusals == 20 {
                                break;
                            }
                        }
                        _ => panic!("a create on a full disk got {reply:?}"),
                    }
                }
                outcomes
            })
        })
        .collect();
    for writer in writers {
        let written = writer.await.expect("a writer does not panic");
        outcomes.acknowledged.extend(written.acknowledged);
        outcomes.refused.extend(written.refused);
    }

    // Assert: the disk's being full is said as it is, and readiness knows.
    assert!(
        outcomes.statuses().contains(&507),
        "a full disk was never answered 507: {:?}\n{}",
        outcomes.statuses(),
        server.logs()
    );
    until_ready_is(&server, 503, Duration::from_secs(5)).await;
    let listed = fixtures::list_all(&server.client()).await;
    assert!(
        listed.len() >= outcomes.acknowledged.len(),
        "reads go on on a full disk"
    );
    // A batch of creates on the full disk: each is refused in words, and none is stored.
    let statuses = create_batch(&server, &names("Batched While Full", 50), &mut outcomes).await;
    assert!(
        statuses.iter().all(|status| *status == 507),
        "{statuses:?}\n{}",
        server.logs()
    );

    // Act: space is freed. Assert: ready again by itself, and writes succeed.
    disk.free();
    until_ready_is(&server, 200, Duration::from_secs(10)).await;
    assert_eq!(create(&server, "After Freeing", &mut outcomes).await, 201);
    let statuses = create_batch(&server, &names("Batched After Freeing", 50), &mut outcomes).await;
    assert_eq!(statuses, vec![201; 50]);
    drop(server);
    check_after_restart(&store, &database, &outcomes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_system_turning_read_only_refuses_writes_and_loses_none_acknowledged() {
    let Some(disk) = Ext4::mount(32) else {
        return;
    };
    let store = sqlite_store().await;
    let database = disk.path().join("book.db");
    let mut server = on_file(&store, &database).start().await;
    let mut outcomes = Outcomes::default();
    for n in 0..20 {
        assert_eq!(
            create(&server, &format!("Before Error {n}"), &mut outcomes).await,
            201
        );
    }

    // Act: the disk fails; ext4 turns the file system read-only.
    disk.fail();

    // Assert: every write is refused with 503, and readiness knows.
    for n in 0..10 {
        let status = create(&server, &format!("After Error {n}"), &mut outcomes).await;
        assert_eq!(status, 503, "{}", server.logs());
    }
    until_ready_is(&server, 503, Duration::from_secs(5)).await;

    // After a reboot (the file system mounted again), everything acknowledged is there.
    server.kill().await;
    disk.remount();
    check_after_restart(&store, &database, &outcomes).await;
}

/// Moves the database and its side files away (or back).
fn move_database(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", from.display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}{suffix}", to.display())).expect("a rename");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_file_moved_away_is_noticed_and_its_return_is_too() {
    let store = sqlite_store().await;
    let database = store.dir().join("book.db");
    let aside = store.dir().join("aside.db");
    let mut server = on_file(&store, &database).start().await;
    let mut outcomes = Outcomes::default();
    let reply = send(
        server
            .http()
            .post(server.url("/addresses"))
            .json(&entry("Kept")),
    )
    .await;
    let id = reply.expect_json(201)["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    outcomes.acknowledged.insert("Kept".to_owned());

    // Act: the file is moved away under the running server.
    move_database(&database, &aside);

    // Assert: writes and reads are refused (they would go to a file nobody will open again),
    // and readiness says so.
    for n in 0..5 {
        assert_eq!(
            create(&server, &format!("Moved Away {n}"), &mut outcomes).await,
            503
        );
    }
    until_ready_is(&server, 503, Duration::from_secs(5)).await;
    expect_unavailable(&send(server.http().get(server.url(&format!("/addresses/{id}")))).await);

    // Act: the file comes back. Assert: the server notices by itself.
    move_database(&aside, &database);
    until_ready_is(&server, 200, Duration::from_secs(5)).await;
    assert_eq!(create(&server, "Back Again", &mut outcomes).await, 201);
    server.terminate().await;
    check_after_restart(&store, &database, &outcomes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_file_is_noticed_and_nothing_is_written_to_it() {
    let store = sqlite_store().await;
    let database = store.dir().join("book.db");
    let server = on_file(&store, &database).start().await;
    let mut outcomes = Outcomes::default();
    assert_eq!(create(&server, "Before Deletion", &mut outcomes).await, 201);

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }

    for n in 0..5 {
        assert_eq!(
            create(&server, &format!("Deleted {n}"), &mut outcomes).await,
            503
        );
    }
    until_ready_is(&server, 503, Duration::from_secs(5)).await;
    // It stays not ready: a new empty book would silently stand in for the deleted one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(readiness(&server).await, 503);
    assert!(
        !database.exists(),
        "the server must not write a new file in the deleted one's place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_page_at_start_up_leaves_the_server_not_ready_naming_the_file() {
    // Arrange: a book of a few hundred entries, checkpointed into the main file, then garbage
    // written over a page in the middle of it.
    let store = sqlite_store().await;
    let database = store.dir().join("book.db");
    let mut server = on_file(&store, &database).start().await;
    let mut outcomes = Outcomes::default();
    for n in 0..300 {
        create(&server, &format!("Page Filler {n}"), &mut outcomes).await;
    }
    server.terminate().await;
    let url = format!("sqlite://{}", database.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("the book opens");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .expect("a checkpoint");
    conn.close().await.expect("closes");
    let mut bytes = std::fs::read(&database).expect("the file");
    let pages = bytes.len() / 4096;
    assert!(pages > 8, "the book has {pages} pages");
    let middle = pages / 2 * 4096;
    bytes[middle..middle + 4096].fill(0xff);
    std::fs::write(&database, bytes).expect("the garbage is written");

    // Act
    let started = on_file(&store, &database).start_listening().await;

    // Assert: the server refuses to start, or starts and stays not ready; either way it names
    // the file.
    let file = database.display().to_string();
    match started {
        Err(refused) => assert!(refused.output.contains(&file), "{refused}"),
        Ok(server) => {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                assert_eq!(readiness(&server).await, 503, "{}", server.logs());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                server.logs().contains(&file) && server.logs().contains("corrupt"),
                "the log names the corrupt file:\n{}",
                server.logs()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_by_another_process_gets_503s_until_it_is_released() {
    let store = sqlite_store().await;
    let database = store.dir().join("book.db");
    let server = on_file(&store, &database)
        .env("ADDRESSBOOK_STORAGE__SQLITE__BUSY_TIMEOUT_MS", "200")
        .start()
        .await;
    let mut outcomes = Outcomes::default();
    assert_eq!(create(&server, "Before The Lock", &mut outcomes).await, 201);

    // Act: another process (this test) takes the write lock and holds it.
    let url = format!("sqlite://{}", database.display());
    let mut other = sqlx::SqliteConnection::connect(&url).await.expect("opens");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("takes the write lock");

    // Assert: writes wait briefly, then are refused with 503; reads go on.
    for n in 0..3 {
        let started = Instant::now();
        assert_eq!(
            create(&server, &format!("Locked Out {n}"), &mut outcomes).await,
            503
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "a refusal waited too long"
        );
    }
    until_ready_is(&server, 503, Duration::from_secs(5)).await;
    let listed = fixtures::list_all(&server.client()).await;
    assert_eq!(listed.len(), 1);

    // Act: the lock is released. Assert: writes succeed again without a restart.
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("releases the lock");
    other.close().await.expect("closes");
    until_ready_is(&server, 200, Duration::from_secs(5)).await;
    assert_eq!(create(&server, "After The Lock", &mut outcomes).await, 201);
    drop(server);
    check_after_restart(&store, &database, &outcomes).await;
}
