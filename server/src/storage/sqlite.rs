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
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Storage, StorageError, migrations::Migrations};
use crate::config::SqliteSettings;
use crate::domain::{Cursor, Entry, EntryContent, Timestamp};

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
            .busy_timeout(Duration::from_millis(settings.busy_timeout_ms));
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
    created_at: i64,
    updated_at: i64,
    content: Json<EntryContent>,
}

impl TryFrom<Row> for Entry {
    type Error = StorageError;

    fn try_from(row: Row) -> Result<Self, StorageError> {
        let time = |micros| {
            DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                StorageError::Internal(format!("timestamp {micros} out of range").into())
            })
        };
        Ok(Entry {
            id: row.id,
            content: row.content.0,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
        })
    }
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

#[async_trait]
impl Storage for SqliteStorage {
    async fn insert(&self, entry: &Entry) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO entries (id, created_at, updated_at, full_name, content) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(entry.id)
        .bind(entry.created_at.timestamp_micros())
        .bind(entry.updated_at.timestamp_micros())
        .bind(&entry.content.full_name)
        .bind(Json(&entry.content))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Entry>, StorageError> {
        let row: Option<Row> =
            sqlx::query_as("SELECT id, created_at, updated_at, content FROM entries WHERE id = $1")
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
    ) -> Result<Option<Entry>, StorageError> {
        let row: Option<Row> = sqlx::query_as(
            "UPDATE entries SET content = $2, full_name = $3, updated_at = MAX(updated_at, $4) \
             WHERE id = $1 RETURNING id, created_at, updated_at, content",
        )
        .bind(id)
        .bind(Json(content))
        .bind(&content.full_name)
        .bind(updated_at.timestamp_micros())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.map(Entry::try_from).transpose()
    }

    async fn delete(&self, id: Uuid) -> Result<bool, StorageError> {
        let done = sqlx::query("DELETE FROM entries WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list(&self, after: Option<Cursor>, limit: usize) -> Result<Vec<Entry>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Two statements rather than `$1 IS NULL OR …`, which would keep SQLite from seeking
        // the listing index.
        let rows: Vec<Row> = match after {
            None => sqlx::query_as(
                "SELECT id, created_at, updated_at, content FROM entries ORDER BY created_at, id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&self.pool)
            .await,
            Some(after) => sqlx::query_as(
                "SELECT id, created_at, updated_at, content FROM entries \
                 WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3",
            )
            .bind(after.created_at.timestamp_micros())
            .bind(after.id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(classify)?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    async fn ping(&self) -> Result<(), StorageError> {
        // Reading the table, not just `SELECT 1`: a database without the schema is not usable.
        sqlx::query("SELECT 1 FROM entries LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
