//! Stairway test: every migration goes up, down and up again on both SQL engines, and down must
//! leave no trace (tables, columns, indexes, types, functions) of what up created.
//!
//! PostgreSQL runs against `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! in a database of its own that is dropped afterwards. Without a reachable server the
//! PostgreSQL half is skipped with a message, except in CI (`CI` set), where it must run.

use std::collections::BTreeSet;

use addressbook_server::config::{PostgresSettings, SqliteSettings};
use addressbook_server::domain::{FeedPosition, Tenant};
use addressbook_server::storage::{Migrations, PostgresStorage, SqliteStorage, Storage};
use sqlx::{Connection, Database, Executor, PgConnection, Pool};

type Snapshot = BTreeSet<String>;

/// Migrations that change stored data only, not the schema: the stairway does not expect a
/// snapshot of the schema to change for them. Each has a test of its own for what it does to
/// the data.
const DATA_ONLY: [i64; 1] = [LABELS];

/// Adds an empty `labels` list to every stored entry's content (and takes it out again).
const LABELS: i64 = 20261204000007;

/// Makes the change feed's tables and records every entry stored before it as a change.
const FEED: i64 = 20261205000008;

/// An entry's content as it was stored before labels existed.
const CONTENT_BEFORE_LABELS: &str =
    r#"{"full_name":"Irene Adler","addresses":[],"phone_numbers":[],"fax_numbers":[],"emails":[]}"#;

/// Walks the stairway: for each migration, up → down → up, comparing schema snapshots.
async fn walk_stairway<DB, F>(migrations: &Migrations<DB>, pool: &Pool<DB>, snapshot: F)
where
    DB: Database,
    DB::Connection: sqlx::migrate::Migrate,
    F: AsyncFn(&Pool<DB>) -> Snapshot,
{
    let versions: Vec<i64> = migrations
        .status()
        .await
        .expect("status")
        .iter()
        .map(|m| m.version)
        .collect();
    assert!(!versions.is_empty(), "no migrations found");
    let mut before = snapshot(pool).await;
    for version in versions {
        migrations
            .up_to(version)
            .await
            .unwrap_or_else(|e| panic!("up {version}: {e:#}"));
        let after_up = snapshot(pool).await;
        if !DATA_ONLY.contains(&version) {
            assert_ne!(after_up, before, "migration {version} changed nothing");
        }

        let reverted = migrations
            .down(1)
            .await
            .unwrap_or_else(|e| panic!("down {version}: {e:#}"));
        assert_eq!(reverted, [version]);
        let after_down = snapshot(pool).await;
        let left: Vec<_> = after_down.symmetric_difference(&before).collect();
        assert!(left.is_empty(), "down {version} left a trace: {left:?}");

        migrations
            .up_to(version)
            .await
            .unwrap_or_else(|e| panic!("up again {version}: {e:#}"));
        assert_eq!(
            snapshot(pool).await,
            after_up,
            "up {version} is not repeatable"
        );
        before = after_up;
    }
    let status = migrations.status().await.expect("status");
    assert!(status.iter().all(|m| m.applied), "{status:?}");
}

/// The rows of a one-column text query, as a set.
macro_rules! rows {
    ($pool:expr, $sql:expr $(,)?) => {
        sqlx::query_scalar::<_, String>($sql)
            .fetch_all($pool)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", $sql))
            .into_iter()
            .collect::<Snapshot>()
    };
}

#[tokio::test]
async fn sqlite_migrations_walk_the_stairway() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = SqliteSettings {
        path: dir.path().join("stairway.db"),
        ..SqliteSettings::default()
    };
    let storage = SqliteStorage::open(&settings).await.expect("opens");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", settings.path.display()))
        .await
        .expect("connects");
    walk_stairway(
        &storage.migrations(),
        &pool,
        async |pool: &Pool<sqlx::Sqlite>| {
            rows!(
                pool,
                "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )
        },
    )
    .await;
}

#[tokio::test]
async fn postgres_migrations_walk_the_stairway() {
    let Some((mut admin, name, url)) = scratch_database().await else {
        return;
    };
    let storage = PostgresStorage::open(&PostgresSettings {
        url: Some(url.clone()),
        ..PostgresSettings::default()
    })
    .expect("opens");
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    walk_stairway(&storage.migrations(), &pool, async |pool: &Pool<sqlx::Postgres>| {
        let mut all = rows!(
            pool,
            "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname NOT LIKE '\\_sqlx%'",
        );
        all.extend(
            rows!(
            pool,
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
            ),
        );
        all.extend(
            rows!(
            pool,
                "SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes \
                 WHERE schemaname = 'public' AND tablename NOT LIKE '\\_sqlx%'",
            ),
        );
        all.extend(
            rows!(
            pool,
                "SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE n.nspname = 'public' AND t.typname NOT LIKE '%\\_sqlx%'",
            ),
        );
        all.extend(
            rows!(
            pool,
                "SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'public'",
            ),
        );
        all
    })
    .await;

    pool.close().await;
    drop(storage);
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .expect("drop database");
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// What the labels migration must make of [`CONTENT_BEFORE_LABELS`], stored in an entry and in a
/// completed idempotency key: `"labels":[]` appended, the rest of the text untouched.
fn assert_backfilled(contents: Snapshot) {
    let before = CONTENT_BEFORE_LABELS.strip_suffix('}').expect("an object");
    assert_eq!(
        contents,
        Snapshot::from([format!("{before},\"labels\":[]}}")])
    );
}

/// What its down must leave: the content without `labels` (as JSON; PostgreSQL rewrites it).
fn assert_removed(contents: Snapshot) {
    let before: serde_json::Value = serde_json::from_str(CONTENT_BEFORE_LABELS).expect("JSON");
    assert!(!contents.is_empty());
    for content in contents {
        let value: serde_json::Value = serde_json::from_str(&content).expect("JSON");
        assert_eq!(value, before, "{content}");
    }
}

#[tokio::test]
async fn sqlite_entries_stored_before_labels_get_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = SqliteSettings {
        path: dir.path().join("labels.db"),
        ..SqliteSettings::default()
    };
    let storage = SqliteStorage::open(&settings).await.expect("opens");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", settings.path.display()))
        .await
        .expect("connects");
    let migrations = storage.migrations();
    migrations
        .up_to(LABELS - 1)
        .await
        .expect("up to the one before");
    for statement in [
        "INSERT INTO entries VALUES ('default', randomblob(16), 1, 0, 0, 'Irene Adler', \
         'irene adler', '{content}')",
        "INSERT INTO idempotency_keys VALUES ('default', 'k', 0, 0, randomblob(16), 0, \
         '{content}')",
    ] {
        pool.execute(sqlx::AssertSqlSafe(
            statement.replace("{content}", CONTENT_BEFORE_LABELS),
        ))
        .await
        .expect("inserted");
    }
    let contents = async || {
        let mut all = rows!(&pool, "SELECT content FROM entries");
        all.extend(rows!(&pool, "SELECT content FROM idempotency_keys"));
        all
    };
    migrations.up_to(LABELS).await.expect("up");
    assert_backfilled(contents().await);
    migrations.down(1).await.expect("down");
    assert_removed(contents().await);
}

#[tokio::test]
async fn postgres_entries_stored_before_labels_get_none() {
    let Some((mut admin, name, url)) = scratch_database().await else {
        return;
    };
    let storage = PostgresStorage::open(&PostgresSettings {
        url: Some(url.clone()),
        ..PostgresSettings::default()
    })
    .expect("opens");
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    let migrations = storage.migrations();
    migrations
        .up_to(LABELS - 1)
        .await
        .expect("up to the one before");
    for statement in [
        "INSERT INTO entries (tenant, id, version, created_at, updated_at, full_name, \
         sort_name, content) VALUES ('default', gen_random_uuid(), 1, now(), now(), \
         'Irene Adler', 'irene adler', '{content}')",
        "INSERT INTO idempotency_keys (tenant, key, claimed_at, expires_at, entry_id, \
         entry_created_at, content) VALUES ('default', 'k', now(), now(), \
         gen_random_uuid(), now(), '{content}')",
    ] {
        pool.execute(sqlx::AssertSqlSafe(
            statement.replace("{content}", CONTENT_BEFORE_LABELS),
        ))
        .await
        .expect("inserted");
    }
    let contents = async || {
        let mut all = rows!(&pool, "SELECT content FROM entries");
        all.extend(rows!(&pool, "SELECT content FROM idempotency_keys"));
        all
    };
    migrations.up_to(LABELS).await.expect("up");
    assert_backfilled(contents().await);
    migrations.down(1).await.expect("down");
    assert_removed(contents().await);
    pool.close().await;
    drop(storage);
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .expect("drop database");
}

/// Entries stored before the change feed existed: the later-written one second, though created
/// first.
const ENTRIES_BEFORE_THE_FEED: [(&str, &str, i64); 2] = [
    (
        "01a23b54-0000-7000-8000-000000000001",
        "Written Last",
        2_000_000,
    ),
    (
        "01a23b54-0000-7000-8000-000000000002",
        "Written First",
        1_000_000,
    ),
];

/// A full sync of a book migrated to the feed lists every entry stored before, oldest write
/// first, each as stored.
async fn assert_entries_before_the_feed_are_its_first_changes(storage: &dyn Storage) {
    let changes = storage
        .changes(&Tenant::default_tenant(), FeedPosition::default(), 10)
        .await
        .expect("the feed");
    let found: Vec<(String, String)> = changes
        .iter()
        .map(|change| {
            let entry = change.entry.as_ref().expect("an entry, not a deletion");
            (change.id.to_string(), entry.sort_name.clone())
        })
        .collect();
    let expected: Vec<(String, String)> = ENTRIES_BEFORE_THE_FEED
        .iter()
        .rev()
        .map(|(id, name, _)| ((*id).to_owned(), name.to_lowercase()))
        .collect();
    assert_eq!(found, expected);
    for (change, (_, _, micros)) in changes.iter().zip(ENTRIES_BEFORE_THE_FEED.iter().rev()) {
        assert_eq!(change.at.timestamp_micros(), *micros);
    }
}

#[tokio::test]
async fn sqlite_entries_stored_before_the_feed_are_its_first_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = SqliteSettings {
        path: dir.path().join("feed.db"),
        ..SqliteSettings::default()
    };
    let storage = SqliteStorage::open(&settings).await.expect("opens");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", settings.path.display()))
        .await
        .expect("connects");
    let migrations = storage.migrations();
    migrations
        .up_to(FEED - 1)
        .await
        .expect("up to the one before");
    for (id, name, micros) in ENTRIES_BEFORE_THE_FEED {
        sqlx::query(
            "INSERT INTO entries VALUES ('default', $1, 1, 0, $2, $3, lower($3),              '{\"full_name\":\"x\",\"labels\":[]}')",
        )
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .bind(micros)
        .bind(name)
        .execute(&pool)
        .await
        .expect("inserted");
    }
    migrations.up_to(FEED).await.expect("up");
    assert_entries_before_the_feed_are_its_first_changes(&storage).await;
}

#[tokio::test]
async fn postgres_entries_stored_before_the_feed_are_its_first_changes() {
    let Some((mut admin, name, url)) = scratch_database().await else {
        return;
    };
    let storage = PostgresStorage::open(&PostgresSettings {
        url: Some(url.clone()),
        ..PostgresSettings::default()
    })
    .expect("opens");
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    let migrations = storage.migrations();
    migrations
        .up_to(FEED - 1)
        .await
        .expect("up to the one before");
    for (id, entry_name, micros) in ENTRIES_BEFORE_THE_FEED {
        sqlx::query(
            "INSERT INTO entries (tenant, id, version, created_at, updated_at, full_name,              sort_name, content) VALUES ('default', $1, 1, to_timestamp(0),              to_timestamp($2 / 1e6), $3, lower($3), '{\"full_name\":\"x\",\"labels\":[]}')",
        )
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .bind(micros as f64)
        .bind(entry_name)
        .execute(&pool)
        .await
        .expect("inserted");
    }
    migrations.up_to(FEED).await.expect("up");
    assert_entries_before_the_feed_are_its_first_changes(&storage).await;
    pool.close().await;
    drop(storage);
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .expect("drop database");
}

/// A database of its own on the test PostgreSQL server: the admin connection, its name and URL.
/// `None` (after saying so) when no server is reachable outside CI.
async fn scratch_database() -> Option<(PgConnection, String, String)> {
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(err) if !in_ci() => {
            eprintln!("SKIPPED: no PostgreSQL at {admin_url} ({err})");
            return None;
        }
        Err(err) => {
            panic!("CI must run the PostgreSQL tests, but {admin_url} is unreachable: {err}")
        }
    };
    let name = format!("ab_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create database");
    let url = format!(
        "{}/{name}",
        admin_url.rsplit_once('/').expect("URL has a database").0
    );
    Some((admin, name, url))
}
