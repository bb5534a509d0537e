//! PostgreSQL (`storage.engine: postgres`): for many stateless server processes sharing one
//! database. Every write is one statement, so concurrent replaces and deletes of one entry from
//! several processes serialize on its row and never mix two versions.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Storage, StorageError, migrations::Migrations};
use crate::config::PostgresSettings;
use crate::domain::{Cursor, Entry, EntryContent, Timestamp};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// Prepares the pool without connecting: the server starts (and reports not ready) while the
    /// database is down, and connects as soon as it is back.
    pub fn open(settings: &PostgresSettings) -> anyhow::Result<Self> {
        let url = settings.url.as_deref().context(
            "storage.postgres.url (or DATABASE_URL) is required for the postgres engine",
        )?;
        let options: PgConnectOptions = url
            .parse()
            // The URL may hold a password: name the setting, not its value.
            .map_err(|_| anyhow::anyhow!("storage.postgres.url is not a valid PostgreSQL URL"))?;
        let options = options.application_name("addressbook-server").options([(
            "statement_timeout",
            settings.statement_timeout_ms.to_string(),
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    pub fn migrations(&self) -> Migrations<sqlx::Postgres> {
        Migrations::new(self.pool.clone(), &MIGRATOR)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    created_at: Timestamp,
    updated_at: Timestamp,
    content: Json<EntryContent>,
}

impl From<Row> for Entry {
    fn from(row: Row) -> Self {
        Entry {
            id: row.id,
            content: row.content.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Connection trouble, overload, failover and lock contention may pass; the rest are bugs.
fn classify(err: sqlx::Error) -> StorageError {
    let transient = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources; 57P: operator intervention
            // (shutdown, restart); 40001/40P01: serialization failure, deadlock; 55P03: lock not
            // available; 57014: statement timeout; 25006: read-only (a failover in progress).
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || matches!(
                    code.as_ref(),
                    "40001" | "40P01" | "55P03" | "57014" | "25006"
                )
        }),
        _ => false,
    };
    if transient {
        StorageError::Unavailable(err.into())
    } else {
        StorageError::Internal(err.into())
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn insert(&self, entry: &Entry) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO entries (id, created_at, updated_at, full_name, content) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(entry.id)
        .bind(entry.created_at)
        .bind(entry.updated_at)
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
        Ok(row.map(Entry::from))
    }

    async fn replace(
        &self,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
    ) -> Result<Option<Entry>, StorageError> {
        let row: Option<Row> = sqlx::query_as(
            "UPDATE entries SET content = $2, full_name = $3, updated_at = GREATEST(updated_at, $4) \
             WHERE id = $1 RETURNING id, created_at, updated_at, content",
        )
        .bind(id)
        .bind(Json(content))
        .bind(&content.full_name)
        .bind(updated_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(row.map(Entry::from))
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
            .bind(after.created_at)
            .bind(after.id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(classify)?;
        Ok(rows.into_iter().map(Entry::from).collect())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1 FROM entries LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
