//! SQLite (`storage.engine: sqlite`, the default): one file, no server to run.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a transaction is on disk before the
//! client hears 201/204; an acknowledged write survives `kill -9` and power loss alike. Every
//! write is one statement in its own transaction, and writers queue for the lock for up to
//! `busy_timeout_ms` before the request gets 503.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::DateTime;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Sqlite};
use uuid::Uuid;

use super::sql::{self, Arg};
use super::{
    Claim, ClaimRequest, Insert, KeyClaim, Storage, StorageError, Write, migrations::Migrations,
};
use crate::config::SqliteSettings;
use crate::domain::{Entry, EntryContent, PageRequest, Timestamp};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStorage {
    pool: SqlitePool,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file and its directory.
    pub async fn open(settings: &SqliteSettings) -> anyhow::Result<Self> {
        if let Some(dir) = settings
            .path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&settings.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_millis(settings.busy_timeout_ms))
            // SQLite gathers planner statistics only when asked; this asks as connections close.
            .optimize_on_close(true, None);
        let pool = SqlitePoolOptions::new()
            // WAL lets readers run beside the one writer; more connections than cores buys nothing.
            .max_connections(4)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open SQLite database {}", settings.path.display()))?;
        Ok(Self { pool })
    }

    pub fn migrations(&self) -> Migrations<sqlx::Sqlite> {
        Migrations::new(self.pool.clone(), &MIGRATOR)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    version: i64,
    created_at: i64,
    updated_at: i64,
    content: Json<EntryContent>,
}

fn time(micros: i64) -> Result<Timestamp, StorageError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StorageError::Internal(format!("timestamp {micros} out of range").into()))
}

impl TryFrom<Row> for Entry {
    type Error = StorageError;

    fn try_from(row: Row) -> Result<Self, StorageError> {
        Ok(Entry {
            id: row.id,
            version: row.version,
            content: row.content.0,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
        })
    }
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;
type QueryAs<'q, T> = sqlx::query::QueryAs<'q, Sqlite, T, SqliteArguments>;

/// SQLite keeps times as microseconds since the epoch (an INTEGER orders and indexes exactly).
fn value(arg: Arg) -> SqliteArgument {
    match arg {
        Arg::Text(text) => SqliteArgument::Text(text),
        Arg::Time(time) => SqliteArgument::Int(time.timestamp_micros()),
        Arg::Id(id) => SqliteArgument::Id(id),
        Arg::Int(int) => SqliteArgument::Int(int),
    }
}

enum SqliteArgument {
    Text(String),
    Int(i64),
    Id(Uuid),
}

fn bind(query: Query<'_>, statement_args: Vec<Arg>) -> Query<'_> {
    statement_args
        .into_iter()
        .map(value)
        .fold(query, |query, arg| match arg {
            SqliteArgument::Text(text) => query.bind(text),
            SqliteArgument::Int(int) => query.bind(int),
            SqliteArgument::Id(id) => query.bind(id),
        })
}

fn bind_as<T>(query: QueryAs<'_, T>, statement_args: Vec<Arg>) -> QueryAs<'_, T> {
    statement_args
        .into_iter()
        .map(value)
        .fold(query, |query, arg| match arg {
            SqliteArgument::Text(text) => query.bind(text),
            SqliteArgument::Int(int) => query.bind(int),
            SqliteArgument::Id(id) => query.bind(id),
        })
}

fn classify(err: sqlx::Error) -> StorageError {
    let transient = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLITE_BUSY, SQLITE_LOCKED (and their extended codes), SQLITE_READONLY, SQLITE_IOERR,
        // SQLITE_FULL, SQLITE_CANTOPEN: the database may work again later.
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14)),
        _ => false,
    };
    if transient {
        StorageError::Unavailable(err.into())
    } else {
        StorageError::Internal(err.into())
    }
}

impl SqliteStorage {
    /// Why a conditional write did not happen: the entry is gone, or has another version.
    async fn refusal<T>(
        &self,
        conn: &mut sqlx::SqliteConnection,
        id: Uuid,
    ) -> Result<Write<T>, StorageError> {
        let version: Option<i64> = sqlx::query_scalar(sql::ENTRY_VERSION)
            .bind(id)
            .fetch_optional(conn)
            .await
            .map_err(classify)?;
        Ok(if version.is_some() {
            Write::Conflict
        } else {
            Write::NotFound
        })
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn insert(&self, entry: &Entry, claim: Option<&Claim>) -> Result<Insert, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query(sql::INSERT_ENTRY)
            .bind(entry.id)
            .bind(entry.version)
            .bind(entry.created_at.timestamp_micros())
            .bind(entry.updated_at.timestamp_micros())
            .bind(&entry.content.full_name)
            .bind(entry.content.sort_name())
            .bind(Json(&entry.content))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let terms = sql::insert_terms(entry.id, &entry.content);
        bind(sqlx::query(AssertSqlSafe(terms.sql)), terms.args)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        if let Some(claim) = claim {
            let done = sqlx::query(sql::COMPLETE_KEY)
                .bind(&claim.key)
                .bind(entry.id)
                .bind(entry.created_at.timestamp_micros())
                .bind(Json(&entry.content))
                .bind(claim.claimed_at.timestamp_micros())
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            if done.rows_affected() == 0 {
                // Dropping the transaction rolls the insert back.
                return Ok(Insert::ClaimLost);
            }
        }
        tx.commit().await.map_err(classify)?;
        Ok(Insert::Stored)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Entry>, StorageError> {
        let row: Option<Row> = sqlx::query_as(sql::GET_ENTRY)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(Entry::try_from).transpose()
    }

    async fn replace(
        &self,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Write<Entry>, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let row: Option<Row> = sqlx::query_as(
            "UPDATE entries SET content = $2, full_name = $3, sort_name = $4, version = version + 1, \
             updated_at = MAX(updated_at, $5) WHERE id = $1 AND ($6 IS NULL OR version = $6) \
             RETURNING id, version, created_at, updated_at, content",
        )
        .bind(id)
        .bind(Json(content))
        .bind(&content.full_name)
        .bind(content.sort_name())
        .bind(updated_at.timestamp_micros())
        .bind(expected)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(row) = row else {
            return self.refusal(&mut tx, id).await;
        };
        sqlx::query(sql::DELETE_TERMS)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let terms = sql::insert_terms(id, content);
        bind(sqlx::query(AssertSqlSafe(terms.sql)), terms.args)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Write::Done(row.try_into()?))
    }

    async fn delete(&self, id: Uuid, expected: Option<i64>) -> Result<Write<()>, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // Terms go with their entry (ON DELETE CASCADE).
        let done = sqlx::query(sql::DELETE_ENTRY)
            .bind(id)
            .bind(expected)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        if done.rows_affected() == 0 {
            return self.refusal(&mut tx, id).await;
        }
        tx.commit().await.map_err(classify)?;
        Ok(Write::Done(()))
    }

    async fn list(&self, request: &PageRequest) -> Result<Vec<Entry>, StorageError> {
        let statement = sql::list(request);
        let rows: Vec<Row> = bind_as(sqlx::query_as(AssertSqlSafe(statement.sql)), statement.args)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError> {
        let claimed: Option<String> = sqlx::query_scalar(sql::CLAIM_KEY)
            .bind(claim.key)
            .bind(claim.now.timestamp_micros())
            .bind(claim.expires_at.timestamp_micros())
            .bind(claim.stale_before.timestamp_micros())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        if claimed.is_some() {
            return Ok(KeyClaim::Claimed(Claim {
                key: claim.key.to_owned(),
                claimed_at: claim.now,
            }));
        }
        let row: Option<(Option<Uuid>, Option<i64>, Option<Json<EntryContent>>)> =
            sqlx::query_as(sql::READ_KEY)
                .bind(claim.key)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        Ok(match row {
            Some((Some(id), Some(created_at), Some(content))) => {
                let created_at = time(created_at)?;
                KeyClaim::Completed(Entry {
                    id,
                    version: 1,
                    content: content.0,
                    created_at,
                    updated_at: created_at,
                })
            }
            // Held by a request still running (or released this instant: the client may retry).
            _ => KeyClaim::InFlight,
        })
    }

    async fn release_key(&self, claim: &Claim) -> Result<(), StorageError> {
        sqlx::query(sql::RELEASE_KEY)
            .bind(&claim.key)
            .bind(claim.claimed_at.timestamp_micros())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn purge_keys(&self, now: Timestamp) -> Result<u64, StorageError> {
        let done = sqlx::query(sql::PURGE_KEYS)
            .bind(now.timestamp_micros())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        // Reading the tables, not just `SELECT 1`: a database without the schema is not usable.
        sqlx::query("SELECT 1 FROM entries, idempotency_keys LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
