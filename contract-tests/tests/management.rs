//! The management subcommands (`migrate`, `seed`, `reset`), run as separate processes on a
//! test's store exactly as an operator would run them, and the one-line errors with which the
//! binary refuses a bad configuration.

use std::collections::BTreeMap;
use std::path::Path;

use contract_tests::binary::workspace_root;
use contract_tests::fixtures::{self, as_stored, content_of, typed};
use contract_tests::{Engine, Finished, Store};
use serde_json::{Value, json};

contract_tests::engines!(
    durable: migrations_go_up_down_and_up_again_as_status_reports,
    seeding_the_sample_directory_stores_every_file_as_written_once,
    seeding_an_invalid_file_fails_naming_every_bad_field,
    reset_refuses_without_yes_and_empties_the_book_with_it,
);

async fn migrations_go_up_down_and_up_again_as_status_reports(store: Store) {
    // Arrange: the migrations this engine has, oldest first.
    let known = known_migrations(store.engine());
    let newest = known.last().expect("at least one migration").0;
    let all = |state: &str| -> BTreeMap<i64, String> {
        known.iter().map(|(v, _)| (*v, state.to_owned())).collect()
    };

    // Act + Assert: a fresh store has every migration pending.
    let status = store.run_subcommand(&["migrate", "status"]).await;
    assert_eq!(migration_states(&status, &known), all("pending"));

    // `up` applies them all.
    let up = store.run_subcommand(&["migrate", "up"]).await;
    let versions: Vec<String> = known.iter().map(|(v, _)| v.to_string()).collect();
    let out = up.expect_success();
    assert!(
        out.contains(&format!("applied {} migration(s)", known.len())),
        "{up:?}"
    );
    assert!(versions.iter().all(|v| out.contains(v.as_str())), "{up:?}");
    let status = store.run_subcommand(&["migrate", "status"]).await;
    assert_eq!(migration_states(&status, &known), all("applied"));

    // `down` reverts the newest only.
    let down = store.run_subcommand(&["migrate", "down"]).await;
    let out = down.expect_success();
    assert!(out.contains("reverted 1 migration(s)"), "{down:?}");
    assert!(out.contains(&newest.to_string()), "{down:?}");
    let status = store.run_subcommand(&["migrate", "status"]).await;
    let mut expected = all("applied");
    expected.insert(newest, "pending".to_owned());
    assert_eq!(migration_states(&status, &known), expected);

    // `up` again applies it again, and a server that does not migrate by itself can use it.
    let up = store.run_subcommand(&["migrate", "up"]).await;
    let out = up.expect_success();
    assert!(out.contains("applied 1 migration(s)"), "{up:?}");
    let status = store.run_subcommand(&["migrate", "status"]).await;
    assert_eq!(migration_states(&status, &known), all("applied"));
    let server = store
        .server()
        .env("ADDRESSBOOK_STORAGE__MIGRATE_ON_START", "false")
        .start()
        .await;
    server
        .client()
        .create_address()
        .body(typed(&json!({"full_name": "Migrated By Hand"})))
        .send()
        .await
        .expect("a create on the migrated store");
}

async fn seeding_the_sample_directory_stores_every_file_as_written_once(store: Store) {
    // Arrange
    let samples = fixtures::sample_entries();
    let dir = workspace_root().join("data/addresses");

    // Act: seed twice.
    let seed = store.run_subcommand(&["seed", path(&dir)]).await;
    let again = store.run_subcommand(&["seed", path(&dir)]).await;

    // Assert: the report counts every file, the second run keeps what the first stored, and a
    // server on the store lists exactly the samples, once each.
    let out = seed.expect_success();
    assert!(
        out.contains(&format!(
            "loaded {}, kept 0 already there, rejected 0",
            samples.len()
        )),
        "{seed:?}"
    );
    let out = again.expect_success();
    assert!(
        out.contains(&format!(
            "loaded 0, kept {} already there, rejected 0",
            samples.len()
        )),
        "{again:?}"
    );
    let server = store.start().await;
    let listed = fixtures::list_all(&server.client()).await;
    let mut stored: Vec<Value> = listed.iter().map(content_of).collect();
    let mut expected: Vec<Value> = samples.iter().map(|(_, v)| as_stored(v)).collect();
    let by_name = |v: &Value| v["full_name"].as_str().unwrap_or_default().to_owned();
    stored.sort_by_key(by_name);
    expected.sort_by_key(by_name);
    let names = |values: &[Value]| values.iter().map(by_name).collect::<Vec<_>>();
    assert_eq!(names(&stored), names(&expected));
    assert_eq!(stored, expected);
}

async fn seeding_an_invalid_file_fails_naming_every_bad_field(store: Store) {
    // Arrange
    let dir = workspace_root().join("data/invalid");
    let invalid = fixtures::invalid_samples();
    assert_eq!(invalid.len(), 1, "data/invalid holds one file");
    let file = &invalid[0].0;

    // Act
    let seed = store.run_subcommand(&["seed", path(&dir)]).await;

    // Assert: a failure that names the file and each invalid field; nothing is stored.
    let err = seed.expect_failure();
    assert_eq!(seed.stderr_lines().len(), 1, "{seed:?}");
    assert!(err.contains("rejected"), "{seed:?}");
    let out = &seed.stdout;
    assert!(
        out.lines()
            .any(|line| line.starts_with("rejected") && line.contains(file.as_str())),
        "{seed:?}"
    );
    for pointer in ["/full_name", "/nickname", "/phone_numbers/0/local_number"] {
        assert!(
            out.lines()
                .any(|line| line.trim_start().starts_with(&format!("{pointer}:"))),
            "{seed:?}: {pointer} is not named"
        );
    }
    assert!(
        out.contains("loaded 0, kept 0 already there, rejected 1"),
        "{seed:?}"
    );
    let server = store.start().await;
    assert!(fixtures::list_all(&server.client()).await.is_empty());
}

async fn reset_refuses_without_yes_and_empties_the_book_with_it(store: Store) {
    // Arrange: a seeded book.
    let dir = workspace_root().join("data/addresses");
    store
        .run_subcommand(&["seed", path(&dir)])
        .await
        .expect_success();
    let seeded = count_entries(&store).await;
    assert_eq!(seeded, fixtures::sample_entries().len());

    // Act + Assert: without --yes, a refusal that says how to confirm, and nothing deleted.
    let refused = store.run_subcommand(&["reset"]).await;
    let err = refused.expect_failure();
    assert_eq!(refused.stderr_lines().len(), 1, "{refused:?}");
    assert!(err.contains("--yes"), "{refused:?}");
    assert_eq!(count_entries(&store).await, seeded);

    // With --yes, an empty book.
    let reset = store.run_subcommand(&["reset", "--yes"]).await;
    reset.expect_success();
    assert_eq!(count_entries(&store).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_the_memory_engine_fails_with_a_clear_message() {
    let store = Store::new(Engine::Memory).await.expect("a memory store");

    let status = store.run_subcommand(&["migrate", "status"]).await;

    let err = status.expect_failure();
    assert_eq!(status.stderr_lines().len(), 1, "{status:?}");
    assert!(err.contains("memory"), "{status:?}");
    assert!(
        err.contains("sqlite") && err.contains("postgres"),
        "{status:?}: the message names the engines to choose"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_value_stops_the_server_with_one_line_naming_the_key() {
    // Arrange: `server.port: lots`, in a file and in the environment. The value is read before
    // the harness's `--port 0` could override it.
    let store = Store::new(Engine::Memory).await.expect("a memory store");
    let file = store.dir().join("bad-port.yaml");
    std::fs::write(&file, "server:\n  port: lots\n").expect("the file is written");

    // Act
    let from_file = store.server().config(&file).run_to_exit().await;
    let from_env = store
        .server()
        .env("ADDRESSBOOK_SERVER__PORT", "lots")
        .run_to_exit()
        .await;

    // Assert: one line naming the key, and the file when it came from one.
    let err = from_file.expect_failure();
    assert_eq!(from_file.stderr_lines().len(), 1, "{from_file:?}");
    assert!(err.contains("server.port"), "{from_file:?}");
    assert!(err.contains("bad-port.yaml"), "{from_file:?}");
    let err = from_env.expect_failure();
    assert_eq!(from_env.stderr_lines().len(), 1, "{from_env:?}");
    assert!(
        err.contains("server.port") || err.contains("ADDRESSBOOK_SERVER__PORT"),
        "{from_env:?}: with ADDRESSBOOK_SERVER__PORT=lots, the message must name the key as the \
         configuration file (server.port) or the environment (ADDRESSBOOK_SERVER__PORT) spells it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_configuration_file_stops_the_server_naming_it() {
    let store = Store::new(Engine::Memory).await.expect("a memory store");

    let finished = store
        .server()
        .config(Path::new("/nonexistent.yaml"))
        .run_to_exit()
        .await;

    let err = finished.expect_failure();
    assert_eq!(finished.stderr_lines().len(), 1, "{finished:?}");
    assert!(err.contains("/nonexistent.yaml"), "{finished:?}");
}

/// The migrations of `engine` as `(version, description)`, oldest first, from the files the
/// binary embeds (`server/migrations/<engine>/<version>_<name>.up.sql`).
fn known_migrations(engine: Engine) -> Vec<(i64, String)> {
    let dir = workspace_root()
        .join("server/migrations")
        .join(engine.config_name());
    let mut known: Vec<(i64, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| {
            let name = name.to_str()?.strip_suffix(".up.sql")?.to_owned();
            let (version, description) = name.split_once('_')?;
            Some((version.parse().ok()?, description.replace('_', " ")))
        })
        .collect();
    known.sort();
    assert!(!known.is_empty(), "no migrations in {}", dir.display());
    known
}

/// The state (`applied`, `pending`) of each migration `migrate status` lists, by version;
/// asserts that it lists each known one, with its description, and no other.
fn migration_states(status: &Finished, known: &[(i64, String)]) -> BTreeMap<i64, String> {
    let out = status.expect_success();
    let mut states = BTreeMap::new();
    for line in out.lines() {
        // `sqlite: 20261121000001 applied  create entries`
        let Some((_, rest)) = line.split_once(": ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(version), Some(state)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(version) = version.parse::<i64>() else {
            continue;
        };
        let description = words.collect::<Vec<_>>().join(" ");
        let expected = known.iter().find(|(v, _)| *v == version);
        assert_eq!(
            expected.map(|(_, d)| d.as_str()),
            Some(description.as_str()),
            "{status:?}: migration {version} is not one of the binary's"
        );
        states.insert(version, state.to_owned());
    }
    assert_eq!(states.len(), known.len(), "{status:?}");
    states
}

/// The number of entries on `store`, through a server started for the purpose and stopped.
async fn count_entries(store: &Store) -> usize {
    let mut server = store.start().await;
    let count = fixtures::list_all(&server.client()).await.len();
    server.kill().await;
    count
}

fn path(dir: &Path) -> &str {
    dir.to_str().expect("the workspace path is UTF-8")
}
