//! SQLite (`storage.engine: sqlite`, the default): one file, no server to run.
//!
//! Reads run on the calling thread, on a connection of a small pool, with statements prepared
//! once per connection: no hand-off to another thread per query. WAL lets them run beside the
//! writer, each statement on the snapshot of the last commit.
//!
//! Writes go to one writer thread (`writer.rs`) that commits all the writes waiting at that
//! moment in one transaction, so concurrent writes share an fsync and never queue for SQLite's
//! write lock. With `synchronous = FULL` (the default) a commit is on disk before any write in it
//! is acknowledged; it survives `kill -9` and power loss alike.
//!
//! The file is watched (`file.rs`): a file removed or replaced under the server, a failed
//! integrity check at start-up, corruption met later, or writes failing make the storage not
//! ready; reads and writes of a file no longer at its path are refused.
//!
//! Migrations run through sqlx's SQLite driver (`migrations.rs`, shared with PostgreSQL), which
//! links the same SQLite library.

mod file;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::DateTime;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use self::file::Health;
use self::writer::Writer;
use super::sql::{self, ApiKeyRow, Arg, Dialect, DocumentRow, Strategy};
use super::{
    Claim, ClaimRequest, Insert, KeyClaim, NewEntry, Storage, StorageError, Write,
    migrations::Migrations,
};
use crate::config::{SqliteSettings, Synchronous};
use crate::domain::{
    ApiKey, Change, Entry, EntryContent, EntryDocument, FeedPosition, PageRequest, Tenant,
    Timestamp,
};
use crate::metrics::PoolState;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Idle read connections kept; more are opened when more threads read at once.
const IDLE_READERS: usize = 8;
/// Readers run on the server's own threads, so they wait for a lock only briefly (in WAL mode
/// they hardly ever meet one).
const READER_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

pub struct SqliteStorage {
    readers: Readers,
    writer: Writer,
    health: Arc<Health>,
    /// For migrations only.
    migration_pool: SqlitePool,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file and its directory, and starts its writer and
    /// its integrity check.
    pub async fn open(settings: &SqliteSettings) -> anyhow::Result<Self> {
        let path = &settings.path;
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let cannot_open = || format!("cannot open SQLite database {}", path.display());
        // Creates the file in WAL mode, and finds out at once whether it is a database at all.
        let first = open_connection(path, settings, Role::Writer).with_context(cannot_open)?;
        first
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .with_context(cannot_open)?;
        let health = Arc::new(Health::new(path));
        spawn_integrity_check(settings.clone(), health.clone());
        let writer = Writer::start(settings, health.clone()).with_context(cannot_open)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_millis(settings.busy_timeout_ms));
        let migration_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(1))
            .connect_lazy_with(options);
        Ok(Self {
            readers: Readers {
                settings: settings.clone(),
                idle: Mutex::new(vec![first]),
                used: AtomicU64::new(0),
            },
            writer,
            health,
            migration_pool,
        })
    }

    pub fn migrations(&self) -> Migrations<sqlx::Sqlite> {
        Migrations::new(self.migration_pool.clone(), &MIGRATOR)
    }

    /// Runs `read` on a read connection, on this thread.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        self.health.attached()?;
        self.readers.with(read).map_err(|err| self.failed(err))
    }

    fn failed(&self, err: rusqlite::Error) -> StorageError {
        if let Some(why) = corruption(&err) {
            self.health.corrupt(&why);
        }
        classify(err)
    }

    /// Runs `work` in the writer's next group commit.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let result = self.writer.write(work).await;
        if let Err(err) = &result
            && let Some(why) = storage_corruption(err)
        {
            self.health.corrupt(&why);
        }
        result
    }
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    Writer,
}

/// A connection with the settings every one of this engine's connections has.
fn open_connection(
    path: &Path,
    settings: &SqliteSettings,
    role: Role,
) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "foreign_keys", true)?;
    match role {
        Role::Writer => {
            conn.busy_timeout(Duration::from_millis(settings.busy_timeout_ms))?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!(
                        "the database stays in {mode} journal mode, not WAL"
                    )),
                ));
            }
            let synchronous = match settings.synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Off => "OFF",
            };
            conn.pragma_update(None, "synchronous", synchronous)?;
            // Every write runs in a savepoint of its own (see `writer.rs`), and every statement
            // in one of its own: SQLite copies each page they change to a journal kept for
            // undoing them, a temporary file by default. In memory, those copies cost a
            // memcpy instead of a write system call each (a third of a batch's time).
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            // Long-lived connections: gather planner statistics now and then (SQLite's advice).
            conn.execute_batch("PRAGMA optimize = 0x10002")?;
        }
        Role::Reader => {
            conn.busy_timeout(READER_BUSY_TIMEOUT)?;
            conn.pragma_update(None, "query_only", true)?;
        }
    }
    Ok(conn)
}

/// Read connections, each used by one thread at a time.
struct Readers {
    settings: SqliteSettings,
    idle: Mutex<Vec<Connection>>,
    /// Connections lent out now, for the metrics.
    used: AtomicU64,
}

impl Readers {
    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.settings.path, &self.settings, Role::Reader)?,
        };
        self.used.fetch_add(1, Ordering::Relaxed);
        let result = read(&conn);
        self.used.fetch_sub(1, Ordering::Relaxed);
        // Reads are single statements outside any transaction; a connection left inside one, or
        // one that met a fault of the storage, is not trusted again.
        let trusted =
            conn.is_autocommit() && result.as_ref().err().is_none_or(|err| !is_fault(err));
        if trusted {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }

    fn state(&self) -> PoolState {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        PoolState {
            idle: u64::try_from(idle).unwrap_or(u64::MAX),
            used: self.used.load(Ordering::Relaxed),
            max: None,
        }
    }
}

/// `PRAGMA quick_check` on a connection of its own: until it passes the storage is not ready,
/// and if it fails it stays not ready, with the file named in the log.
fn spawn_integrity_check(settings: SqliteSettings, health: Arc<Health>) {
    let check = move || -> rusqlite::Result<Vec<String>> {
        let conn = open_connection(&settings.path, &settings, Role::Reader)?;
        let mut statement = conn.prepare("PRAGMA quick_check(10)")?;
        let found = statement.query_map([], |row| row.get::<_, String>(0))?;
        found.collect()
    };
    let spawned = std::thread::Builder::new()
        .name("sqlite-check".to_owned())
        .spawn(move || match check() {
            Ok(found) if found == ["ok"] => health.checked(),
            Ok(found) => health.corrupt(&found.join("; ")),
            Err(err) => health.corrupt(&err.to_string()),
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the database integrity check");
    }
}

/// The statement text for SQLite: the shared statements number their parameters `$1`, which
/// SQLite reads as names; `?1` is SQLite's numbered parameter.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// SQLite keeps ids as 16-byte blobs and times as microseconds since the epoch (an INTEGER orders
/// and indexes exactly).
fn value(arg: &Arg) -> Value {
    match arg {
        Arg::Text(text) => Value::Text(text.clone()),
        Arg::Time(time) => Value::Integer(time.timestamp_micros()),
        Arg::Id(id) => Value::Blob(id.as_bytes().to_vec()),
        Arg::Int(int) => Value::Integer(*int),
    }
}

/// Stores a new entry, its terms and its first change.
fn insert_entry(conn: &Connection, tenant: &Tenant, entry: &Entry) -> rusqlite::Result<()> {
    conn.prepare_cached(&sqlite_sql(sql::INSERT_ENTRY))?
        .execute(rusqlite::params![
            tenant.as_str(),
            entry.id,
            entry.version,
            entry.created_at.timestamp_micros(),
            entry.updated_at.timestamp_micros(),
            entry.content.full_name,
            entry.content.sort_name(),
            entry.content.to_json(),
        ])?;
    index_terms(conn, tenant, entry.id, &entry.content)?;
    record_change(
        conn,
        tenant,
        entry.id,
        entry.updated_at.timestamp_micros(),
        false,
    )
}

/// Completes `claim` with `entry`: `false` when the claim is no longer this request's.
fn complete_claim(conn: &Connection, entry: &Entry, claim: &Claim) -> rusqlite::Result<bool> {
    let completed = conn
        .prepare_cached(&sqlite_sql(sql::COMPLETE_KEY))?
        .execute(rusqlite::params![
            claim.tenant.as_str(),
            claim.key,
            entry.id,
            entry.created_at.timestamp_micros(),
            entry.content.to_json(),
            claim.claimed_at.timestamp_micros(),
        ])?;
    Ok(completed > 0)
}

fn time(micros: i64) -> rusqlite::Result<Timestamp> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(0, micros))
}

fn document(row: &rusqlite::Row<'_>) -> rusqlite::Result<EntryDocument> {
    DocumentRow {
        id: row.get::<_, Uuid>(0)?,
        version: row.get(1)?,
        created_at: row.get::<_, i64>(2)?,
        updated_at: row.get::<_, i64>(3)?,
        sort_name: row.get(4)?,
        content: row.get(5)?,
    }
    .into_document(Ok, time)
}

fn api_key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRow<i64>> {
    Ok(ApiKeyRow {
        id: row.get(0)?,
        tenant: row.get(1)?,
        scopes: row.get(2)?,
        secret_sha256: row.get(3)?,
        name: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

fn api_key(row: ApiKeyRow<i64>) -> Result<ApiKey, StorageError> {
    row.into_key(|micros| DateTime::from_timestamp_micros(micros).unwrap_or_default())
        .map_err(|err| StorageError::Internal(err.into()))
}

fn content_of(json: &str) -> rusqlite::Result<EntryContent> {
    serde_json::from_str(json).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, err.into())
    })
}

/// Whether an error is a fault of the storage (the disk, the file, a lock, the library) rather
/// than of one statement's data: a fault ends the transaction and the connection.
fn is_fault(err: &rusqlite::Error) -> bool {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => !matches!(
            failure.code,
            ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch | ErrorCode::TooBig
        ),
        // Conversions of values read, and rows missing where one was expected: the statement
        // itself ran.
        _ => false,
    }
}

fn classify(err: rusqlite::Error) -> StorageError {
    let code = match &err {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DiskFull) => StorageError::Full(err.into()),
        // Another process holds a lock; the file is read-only or cannot be opened now; the disk
        // failed an I/O: retrying later may succeed.
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::OutOfMemory
            | ErrorCode::PermissionDenied
            | ErrorCode::OperationInterrupted,
        ) => StorageError::Unavailable(err.into()),
        _ => StorageError::Internal(err.into()),
    }
}

/// Why an error says the file is corrupt, if it does.
fn corruption(err: &rusqlite::Error) -> Option<String> {
    match err {
        rusqlite::Error::SqliteFailure(failure, message)
            if matches!(
                failure.code,
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase
            ) =>
        {
            Some(message.clone().unwrap_or_else(|| failure.to_string()))
        }
        _ => None,
    }
}

fn storage_corruption(err: &StorageError) -> Option<String> {
    let StorageError::Internal(source) = err else {
        return None;
    };
    source
        .downcast_ref::<rusqlite::Error>()
        .and_then(corruption)
}

/// Why a conditional write did not happen: the entry is gone, or has another version.
fn refusal<T>(conn: &Connection, tenant: &str, id: Uuid) -> rusqlite::Result<Write<T>> {
    let version: Option<i64> = conn
        .prepare_cached(&sqlite_sql(sql::ENTRY_VERSION))?
        .query_row(rusqlite::params![tenant, id], |row| row.get(0))
        .optional()?;
    Ok(if version.is_some() {
        Write::Conflict
    } else {
        Write::NotFound
    })
}

fn index_terms(
    conn: &Connection,
    tenant: &Tenant,
    id: Uuid,
    content: &EntryContent,
) -> rusqlite::Result<()> {
    // One row at a time through one prepared statement: no SQL to parse per entry.
    let mut insert = conn.prepare_cached(&sqlite_sql(sql::INSERT_TERM))?;
    for (kind, term) in content.search_terms() {
        insert.execute(rusqlite::params![tenant.as_str(), kind.as_str(), term, id])?;
    }
    Ok(())
}

/// Records the change of entry `id` made at `at` (micros) in the feed.
fn record_change(
    conn: &Connection,
    tenant: &Tenant,
    id: Uuid,
    at: i64,
    deleted: bool,
) -> rusqlite::Result<()> {
    conn.prepare_cached(&sqlite_sql(sql::record_change(Dialect::Sqlite)))?
        .execute(rusqlite::params![tenant.as_str(), id, at, deleted])
        .map(|_| ())
}

fn change(row: &rusqlite::Row<'_>) -> rusqlite::Result<sql::ChangeRow<Uuid, i64>> {
    Ok(sql::ChangeRow {
        txn: row.get(0)?,
        seq: row.get(1)?,
        id: row.get(2)?,
        changed_at: row.get(3)?,
        deleted: row.get(4)?,
        version: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        sort_name: row.get(8)?,
        content: row.get(9)?,
    })
}

/// Writes `content` over entry `id` if its version is `expected` (any version when `None`) and
/// indexes its terms again and records the change: the rewrite `replace` and `relabel` share.
/// The new version, creation and update times (microseconds), or `None` when no row was written.
fn rewrite(
    conn: &Connection,
    tenant: &Tenant,
    id: Uuid,
    content: &EntryContent,
    updated_at: Timestamp,
    expected: Option<i64>,
) -> rusqlite::Result<Option<(i64, i64, i64)>> {
    let row = conn
        .prepare_cached(&sqlite_sql(sql::REPLACE_ENTRY))?
        .query_row(
            rusqlite::params![
                tenant.as_str(),
                id,
                content.to_json(),
                content.full_name,
                content.sort_name(),
                updated_at.timestamp_micros(),
                expected,
            ],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    if let Some((_, _, updated_at)) = row {
        conn.prepare_cached(&sqlite_sql(sql::DELETE_TERMS))?
            .execute(rusqlite::params![tenant.as_str(), id])?;
        index_terms(conn, tenant, id, content)?;
        record_change(conn, tenant, id, updated_at, false)?;
    }
    Ok(row)
}

/// Chooses how to answer a search (see [`Strategy`]) from the counts of its matches.
fn plan(conn: &Connection, tenant: &Tenant, request: &PageRequest) -> rusqlite::Result<Strategy> {
    if request.filter.is_empty() {
        return Ok(Strategy::OrderFirst);
    }
    // The largest rowid: the number of entries, give or take deleted ones, in O(log n).
    let entries: i64 = conn
        .prepare_cached("SELECT coalesce(max(rowid), 0) FROM entries")?
        .query_row([], |row| row.get(0))?;
    let cap = sql::terms_first_below(request.limit, u64::try_from(entries).ok());
    let Some(count) = sql::count_matches(tenant, request, cap) else {
        return Ok(Strategy::OrderFirst);
    };
    let counts: Vec<i64> = conn.prepare_cached(&sqlite_sql(&count.sql))?.query_row(
        rusqlite::params_from_iter(count.args.iter().map(value)),
        |row| {
            (0..row.as_ref().column_count())
                .map(|i| row.get::<_, i64>(i))
                .collect()
        },
    )?;
    Ok(sql::strategy(request, &counts, cap))
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn insert_many(
        &self,
        tenant: &Tenant,
        entries: &[NewEntry<'_>],
    ) -> Result<Vec<Insert>, StorageError> {
        let tenant = tenant.clone();
        let entries: Vec<(Entry, Option<Claim>)> = entries
            .iter()
            .map(|new| (new.entry.clone(), new.claim.cloned()))
            .collect();
        // One write of the writer thread: one savepoint, in one group's transaction.
        self.write(move |conn| {
            // Claims first: an entry whose claim was lost is left out of the inserts.
            let mut done = Vec::with_capacity(entries.len());
            for (entry, claim) in &entries {
                let stored = match claim {
                    None => true,
                    Some(claim) => complete_claim(conn, entry, claim)?,
                };
                done.push(if stored {
                    Insert::Stored
                } else {
                    Insert::ClaimLost
                });
            }
            // Row by row, each statement prepared once per connection: SQLite parses a
            // multi-row VALUES list slower than it runs the same rows one at a time.
            for ((entry, _), insert) in entries.iter().zip(&done) {
                if *insert == Insert::Stored {
                    insert_entry(conn, &tenant, entry)?;
                }
            }
            Ok(done)
        })
        .await
    }

    async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<EntryDocument>, StorageError> {
        self.read(|conn| {
            conn.prepare_cached(&sqlite_sql(sql::GET_ENTRY))?
                .query_row(rusqlite::params![tenant.as_str(), id], document)
                .optional()
        })
    }

    async fn replace(
        &self,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Write<Entry>, StorageError> {
        let tenant = tenant.clone();
        let content = content.clone();
        self.write(move |conn| {
            let Some((version, created_at, updated_at)) =
                rewrite(conn, &tenant, id, &content, updated_at, expected)?
            else {
                return refusal(conn, tenant.as_str(), id);
            };
            Ok(Write::Done(Entry {
                id,
                version,
                content,
                created_at: time(created_at)?,
                updated_at: time(updated_at)?,
            }))
        })
        .await
    }

    async fn relabel(
        &self,
        tenant: &Tenant,
        from: &str,
        to: Option<&str>,
        updated_at: Timestamp,
    ) -> Result<u64, StorageError> {
        let tenant = tenant.clone();
        let from = from.to_owned();
        let to = to.map(str::to_owned);
        self.write(move |conn| {
            let labelled: Vec<(Uuid, String)> = conn
                .prepare_cached(&sqlite_sql(sql::LABELLED_ENTRIES))?
                .query_map(
                    rusqlite::params![
                        tenant.as_str(),
                        crate::domain::TermKind::Label.as_str(),
                        from
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut changed = 0;
            for (id, json) in labelled {
                let Some(content) = content_of(&json)?.relabeled(&from, to.as_deref()) else {
                    continue;
                };
                rewrite(conn, &tenant, id, &content, updated_at, None)?;
                changed += 1;
            }
            Ok(changed)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: &Tenant,
        id: Uuid,
        expected: Option<i64>,
        at: Timestamp,
    ) -> Result<Write<()>, StorageError> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached(&sqlite_sql(sql::DELETE_ENTRY))?
                .execute(rusqlite::params![tenant.as_str(), id, expected])?;
            if deleted == 0 {
                return refusal(conn, tenant.as_str(), id);
            }
            record_change(conn, &tenant, id, at.timestamp_micros(), true)?;
            Ok(Write::Done(()))
        })
        .await
    }

    async fn list(
        &self,
        tenant: &Tenant,
        request: &PageRequest,
    ) -> Result<Vec<EntryDocument>, StorageError> {
        self.read(|conn| {
            let strategy = plan(conn, tenant, request)?;
            let statement = sql::list(tenant, request, strategy, Dialect::Sqlite);
            let mut prepared = conn.prepare_cached(&sqlite_sql(&statement.sql))?;
            let rows = prepared.query_map(
                rusqlite::params_from_iter(statement.args.iter().map(value)),
                document,
            )?;
            rows.collect()
        })
    }

    async fn changes(
        &self,
        tenant: &Tenant,
        after: FeedPosition,
        limit: usize,
    ) -> Result<Vec<Change>, StorageError> {
        let rows = self.read(|conn| {
            conn.prepare_cached(&sqlite_sql(sql::changes_after(Dialect::Sqlite)))?
                .query_map(
                    rusqlite::params![
                        tenant.as_str(),
                        after.txn,
                        after.seq,
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    change,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|row| row.into_change(Ok, time))
            .collect::<rusqlite::Result<_>>()
            .map_err(classify)
    }

    async fn feed_horizon(&self, tenant: &Tenant) -> Result<FeedPosition, StorageError> {
        let horizon = self.read(|conn| {
            conn.prepare_cached(&sqlite_sql(sql::FEED_HORIZON))?
                .query_row([tenant.as_str()], |row| {
                    Ok(FeedPosition {
                        txn: row.get(0)?,
                        seq: row.get(1)?,
                    })
                })
                .optional()
        })?;
        Ok(horizon.unwrap_or_default())
    }

    async fn purge_changes(&self, before: Timestamp) -> Result<u64, StorageError> {
        self.write(move |conn| {
            let purged = conn
                .prepare_cached(&sqlite_sql(sql::purge_tombstones(Dialect::Sqlite)))?
                .query_map([before.timestamp_micros()], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        FeedPosition {
                            txn: row.get(1)?,
                            seq: row.get(2)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let count = purged.len() as u64;
            for (tenant, horizon) in sql::horizons(purged) {
                conn.prepare_cached(&sqlite_sql(sql::RAISE_HORIZON))?
                    .execute(rusqlite::params![tenant, horizon.txn, horizon.seq])?;
            }
            Ok(count)
        })
        .await
    }

    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError> {
        let tenant = claim.tenant.clone();
        let key = claim.key.to_owned();
        let (now, expires_at, stale_before) = (claim.now, claim.expires_at, claim.stale_before);
        self.write(move |conn| {
            let claimed = conn
                .prepare_cached(&sqlite_sql(sql::CLAIM_KEY))?
                .query_row(
                    rusqlite::params![
                        tenant.as_str(),
                        key,
                        now.timestamp_micros(),
                        expires_at.timestamp_micros(),
                        stale_before.timestamp_micros(),
                    ],
                    |_| Ok(()),
                )
                .optional()?;
            if claimed.is_some() {
                return Ok(KeyClaim::Claimed(Claim {
                    tenant,
                    key,
                    claimed_at: now,
                }));
            }
            let row = conn
                .prepare_cached(&sqlite_sql(sql::READ_KEY))?
                .query_row(rusqlite::params![tenant.as_str(), key], |row| {
                    Ok((
                        row.get::<_, Option<Uuid>>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()?;
            Ok(match row {
                Some((Some(id), Some(created_at), Some(content))) => {
                    let created_at = time(created_at)?;
                    KeyClaim::Completed(Entry {
                        id,
                        version: 1,
                        content: content_of(&content)?,
                        created_at,
                        updated_at: created_at,
                    })
                }
                // Held by a request still running (or released this instant: the client may
                // retry).
                _ => KeyClaim::InFlight,
            })
        })
        .await
    }

    async fn release_key(&self, claim: &Claim) -> Result<(), StorageError> {
        let claim = claim.clone();
        self.write(move |conn| {
            conn.prepare_cached(&sqlite_sql(sql::RELEASE_KEY))?
                .execute(rusqlite::params![
                    claim.tenant.as_str(),
                    claim.key,
                    claim.claimed_at.timestamp_micros()
                ])
                .map(|_| ())
        })
        .await
    }

    async fn purge_keys(&self, now: Timestamp) -> Result<u64, StorageError> {
        self.write(move |conn| {
            conn.prepare_cached(&sqlite_sql(sql::PURGE_KEYS))?
                .execute([now.timestamp_micros()])
                .map(|purged| purged as u64)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.health.status()?;
        self.read(|conn| {
            conn.prepare_cached(sql::PING)?
                .query_row([], |_| Ok(()))
                .optional()
                .map(|_| ())
        })
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StorageError> {
        let row = self.read(|conn| {
            conn.prepare_cached(&sqlite_sql(sql::FIND_API_KEY))?
                .query_row([id], api_key_row)
                .optional()
        })?;
        row.map(api_key).transpose()
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StorageError> {
        let key = key.clone();
        self.write(move |conn| {
            conn.prepare_cached(&sqlite_sql(sql::CREATE_API_KEY))?
                .execute(rusqlite::params![
                    key.id,
                    key.tenant.as_str(),
                    ApiKey::scope_names(&key.scopes),
                    key.secret_sha256,
                    key.name,
                    key.created_at.timestamp_micros(),
                ])
                .map(|_| ())
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.prepare_cached(&sqlite_sql(sql::REVOKE_API_KEY))?
                .execute(rusqlite::params![id, at.timestamp_micros()])
                .map(|revoked| revoked > 0)
        })
        .await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        let rows = self.read(|conn| {
            conn.prepare_cached(sql::LIST_API_KEYS)?
                .query_map([], api_key_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter().map(api_key).collect()
    }

    fn engine(&self) -> &'static str {
        "sqlite"
    }

    /// The read connections; the one writer is not counted. Readers are opened as needed, so
    /// there is no maximum.
    fn pool(&self) -> Option<PoolState> {
        Some(self.readers.state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Filter, Sort};
    use crate::storage::sql::Statement;

    /// An in-memory database with the schema the migrations make.
    fn schema() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for migration in [
            include_str!("../../../migrations/sqlite/20261121000001_create_entries.up.sql"),
            include_str!(
                "../../../migrations/sqlite/20261121000002_create_idempotency_keys.up.sql"
            ),
            include_str!("../../../migrations/sqlite/20261202000003_create_storage_probe.up.sql"),
            include_str!(
                "../../../migrations/sqlite/20261202000004_index_terms_by_entry_and_term.up.sql"
            ),
            include_str!("../../../migrations/sqlite/20261203000005_add_tenants.up.sql"),
            include_str!("../../../migrations/sqlite/20261205000008_record_changes.up.sql"),
        ] {
            conn.execute_batch(migration).unwrap();
        }
        conn
    }

    fn query_plan(conn: &Connection, statement: &Statement) -> String {
        let mut explain = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                sqlite_sql(&statement.sql)
            ))
            .unwrap();
        let rows = explain
            .query_map(
                rusqlite::params_from_iter(statement.args.iter().map(value)),
                |row| row.get::<_, String>(3),
            )
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    fn tenant() -> Tenant {
        Tenant::default_tenant()
    }

    fn search(q: &str) -> PageRequest {
        PageRequest {
            limit: 21,
            filter: Filter::new(Some(q), None, None),
            sort: Sort::default(),
            after: None,
        }
    }

    #[test]
    fn each_strategy_reaches_its_entries_through_the_index_it_is_for() {
        let conn = schema();
        let request = search("jane");

        let terms_first = query_plan(
            &conn,
            &sql::list(
                &tenant(),
                &request,
                Strategy::TermsFirst(crate::domain::TermKind::Text),
                Dialect::Sqlite,
            ),
        );
        assert!(
            terms_first.contains(
                "SEARCH entry_terms USING PRIMARY KEY (tenant=? AND kind=? AND term>? AND term<?)"
            ) && terms_first.contains("SCAN matched")
                && terms_first.contains(
                    "SEARCH entries USING INDEX sqlite_autoindex_entries_1 (tenant=? AND id=?)"
                ),
            "the matching terms drive the query, each entry found by its id:\n{terms_first}"
        );
        assert!(
            terms_first.contains("USE TEMP B-TREE FOR ORDER BY"),
            "{terms_first}"
        );

        let order_first = query_plan(
            &conn,
            &sql::list(&tenant(), &request, Strategy::OrderFirst, Dialect::Sqlite),
        );
        assert!(
            order_first.contains("SEARCH entries USING INDEX entries_by_created (tenant=?)"),
            "the order's index is walked:\n{order_first}"
        );
        assert!(
            order_first.contains("entry_terms_by_entry"),
            "each entry is probed by the (entry, kind, term) index:\n{order_first}"
        );
        assert!(
            !order_first.contains("TEMP B-TREE"),
            "nothing is sorted:\n{order_first}"
        );
    }

    #[test]
    fn a_selective_search_goes_terms_first_and_a_broad_one_order_first() {
        let conn = schema();
        let insert = |name: &str| {
            let entry = Entry::create(
                EntryContent::from_json(&serde_json::json!({"full_name": name})).unwrap(),
            );
            insert_entry(&conn, &tenant(), &entry).unwrap();
        };
        for n in 0..500 {
            insert(&format!("Jane Doe {n}"));
        }
        insert("Ada Lovelace");
        assert_eq!(
            plan(&conn, &tenant(), &search("ada")).unwrap(),
            Strategy::TermsFirst(crate::domain::TermKind::Text)
        );
        assert_eq!(
            plan(&conn, &tenant(), &search("jane")).unwrap(),
            Strategy::OrderFirst
        );
        let page = |q| {
            let request = search(q);
            let strategy = plan(&conn, &tenant(), &request).unwrap();
            let statement = sql::list(&tenant(), &request, strategy, Dialect::Sqlite);
            let mut prepared = conn.prepare(&sqlite_sql(&statement.sql)).unwrap();
            let rows = prepared
                .query_map(
                    rusqlite::params_from_iter(statement.args.iter().map(value)),
                    document,
                )
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>()
        };
        assert_eq!(page("ada").len(), 1);
        assert_eq!(page("jane").len(), 21);
    }
}
