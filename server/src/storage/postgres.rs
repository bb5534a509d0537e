//! PostgreSQL (`storage.engine: postgres`): for many stateless server processes sharing one
//! database. Every write is one transaction on one connection, so concurrent replaces and deletes
//! of one entry from several processes serialize on its row and never mix two versions; a commit
//! is durable before the client hears of it (`synchronous_commit` is on by default), and
//! PostgreSQL shares the WAL flush of commits that arrive together by itself.
//!
//! The statements and the row mapping are those of `sql.rs`, shared with SQLite; what is
//! PostgreSQL's own is the binding of values and the classification of its errors.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres};
use uuid::Uuid;

use super::sql::{self, ApiKeyRow, Arg, Dialect, DocumentRow, Strategy};
use super::{
    Claim, ClaimRequest, Insert, KeyClaim, NewEntry, Storage, StorageError, Write,
    migrations::Migrations,
};
use crate::config::PostgresSettings;
use crate::domain::{
    ApiKey, Change, Entry, EntryContent, EntryDocument, FeedPosition, PageRequest, Tenant,
    Timestamp,
};
use crate::metrics::PoolState;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresStorage {
    pool: PgPool,
    /// PostgreSQL's estimate of the number of entries, and when it was read.
    entries: std::sync::Mutex<Option<(u64, std::time::Instant)>>,
}

/// How long the estimate of the book's size is used before it is read again: it only has to be
/// right within a factor of a few.
const ESTIMATE_FOR: Duration = Duration::from_secs(30);

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
        Ok(Self {
            pool,
            entries: std::sync::Mutex::new(None),
        })
    }

    pub fn migrations(&self) -> Migrations<sqlx::Postgres> {
        Migrations::new(self.pool.clone(), &MIGRATOR)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
    sort_name: String,
    content: String,
}

impl From<Row> for EntryDocument {
    fn from(row: Row) -> Self {
        let row = DocumentRow {
            id: row.id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            sort_name: row.sort_name,
            content: row.content,
        };
        match row.into_document(Ok::<_, std::convert::Infallible>, Ok) {
            Ok(document) => document,
        }
    }
}

type QueryAs<'q, T> = sqlx::query::QueryAs<'q, Postgres, T, PgArguments>;
type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind(query: Query<'_>, args: Vec<Arg>) -> Query<'_> {
    args.into_iter().fold(query, |query, arg| match arg {
        Arg::Text(text) => query.bind(text),
        Arg::Time(time) => query.bind(time),
        Arg::Id(id) => query.bind(id),
        Arg::Int(int) => query.bind(int),
    })
}

fn bind_as<T>(query: QueryAs<'_, T>, args: Vec<Arg>) -> QueryAs<'_, T> {
    args.into_iter().fold(query, |query, arg| match arg {
        Arg::Text(text) => query.bind(text),
        Arg::Time(time) => query.bind(time),
        Arg::Id(id) => query.bind(id),
        Arg::Int(int) => query.bind(int),
    })
}

/// Connection trouble, overload, failover and lock contention may pass; a full disk needs space
/// freed; the rest are bugs.
fn classify(err: sqlx::Error) -> StorageError {
    let code = match &err {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    };
    let transient = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 53: insufficient resources; 57P: operator intervention
        // (shutdown, restart); 40001/40P01: serialization failure, deadlock; 55P03: lock not
        // available; 57014: statement timeout; 25006: read-only (a failover in progress).
        _ => code.as_deref().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || matches!(code, "40001" | "40P01" | "55P03" | "57014" | "25006")
        }),
    };
    match code.as_deref() {
        // disk_full
        Some("53100") => StorageError::Full(err.into()),
        _ if transient => StorageError::Unavailable(err.into()),
        _ => StorageError::Internal(err.into()),
    }
}

fn content_of(json: &str) -> Result<EntryContent, StorageError> {
    serde_json::from_str(json).map_err(|err| {
        StorageError::Internal(format!("stored content is not an entry: {err}").into())
    })
}

impl PostgresStorage {
    /// The number of entries as PostgreSQL's statistics estimate it (`None` before the table was
    /// first analyzed), read at most every [`ESTIMATE_FOR`].
    async fn estimated_entries(
        &self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<Option<u64>, StorageError> {
        let cached = *self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((entries, read)) = cached
            && read.elapsed() < ESTIMATE_FOR
        {
            return Ok(Some(entries));
        }
        let estimate: f32 =
            sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass")
                .fetch_one(conn)
                .await
                .map_err(classify)?;
        // -1: never analyzed.
        let entries = (estimate >= 0.0).then_some(estimate as u64);
        if let Some(entries) = entries {
            *self.entries.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((entries, std::time::Instant::now()));
        }
        Ok(entries)
    }

    /// Why a conditional write did not happen: the entry is gone, or has another version.
    async fn refusal<T>(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Write<T>, StorageError> {
        let version: Option<i64> = sqlx::query_scalar(sql::ENTRY_VERSION)
            .bind(tenant.as_str())
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

    /// Writes `content` over entry `id` if its version is `expected` (any version when `None`)
    /// and indexes its terms again: the rewrite `replace` and `relabel` share. One statement
    /// writes the row, so concurrent writers of the entry serialize on its row lock and a
    /// conditional write sees the version the previous writer committed. The new version,
    /// creation and update times, or `None` when no row was written.
    async fn rewrite(
        conn: &mut sqlx::PgConnection,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Option<(i64, Timestamp, Timestamp)>, StorageError> {
        let row: Option<(i64, Timestamp, Timestamp)> = sqlx::query_as(sql::REPLACE_ENTRY)
            .bind(tenant.as_str())
            .bind(id)
            .bind(content.to_json())
            .bind(&content.full_name)
            .bind(content.sort_name())
            .bind(updated_at)
            .bind(expected)
            .fetch_optional(&mut *conn)
            .await
            .map_err(classify)?;
        if let Some((_, _, updated_at)) = row {
            sqlx::query(sql::DELETE_TERMS)
                .bind(tenant.as_str())
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(classify)?;
            Self::index_terms(&mut *conn, tenant, id, content).await?;
            Self::record_change(conn, tenant, id, updated_at, false).await?;
        }
        Ok(row)
    }

    /// Records the change of entry `id` in the feed, in the write's transaction.
    async fn record_change(
        conn: &mut sqlx::PgConnection,
        tenant: &Tenant,
        id: Uuid,
        at: Timestamp,
        deleted: bool,
    ) -> Result<(), StorageError> {
        sqlx::query(sql::record_change(Dialect::Postgres))
            .bind(tenant.as_str())
            .bind(id)
            .bind(at)
            .bind(deleted)
            .execute(conn)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn index_terms(
        conn: &mut sqlx::PgConnection,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
    ) -> Result<(), StorageError> {
        Self::index_terms_of(conn, tenant, [(id, content)]).await
    }

    /// Indexes the terms of every one of `entries` in one statement, however many there are.
    async fn index_terms_of<'a>(
        conn: &mut sqlx::PgConnection,
        tenant: &Tenant,
        entries: impl IntoIterator<Item = (Uuid, &'a EntryContent)>,
    ) -> Result<(), StorageError> {
        let (mut kinds, mut terms, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for (id, content) in entries {
            for (kind, term) in content.search_terms() {
                kinds.push(kind.as_str());
                terms.push(term);
                ids.push(id);
            }
        }
        if terms.is_empty() {
            return Ok(());
        }
        sqlx::query(sql::PG_INSERT_TERMS)
            .bind(tenant.as_str())
            .bind(kinds)
            .bind(terms)
            .bind(ids)
            .execute(conn)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Stores new entries and their first changes in two statements, however many there are.
    async fn insert_entries(
        conn: &mut sqlx::PgConnection,
        tenant: &Tenant,
        entries: &[&Entry],
    ) -> Result<(), StorageError> {
        let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
        let updated: Vec<Timestamp> = entries.iter().map(|e| e.updated_at).collect();
        sqlx::query(sql::PG_INSERT_ENTRIES)
            .bind(tenant.as_str())
            .bind(&ids)
            .bind(entries.iter().map(|e| e.version).collect::<Vec<i64>>())
            .bind(
                entries
                    .iter()
                    .map(|e| e.created_at)
                    .collect::<Vec<Timestamp>>(),
            )
            .bind(&updated)
            .bind(
                entries
                    .iter()
                    .map(|e| e.content.full_name.clone())
                    .collect::<Vec<String>>(),
            )
            .bind(
                entries
                    .iter()
                    .map(|e| e.content.sort_name())
                    .collect::<Vec<String>>(),
            )
            .bind(
                entries
                    .iter()
                    .map(|e| e.content.to_json())
                    .collect::<Vec<String>>(),
            )
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        sqlx::query(sql::PG_RECORD_NEW_CHANGES)
            .bind(tenant.as_str())
            .bind(&ids)
            .bind(&updated)
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn insert_many(
        &self,
        tenant: &Tenant,
        entries: &[NewEntry<'_>],
    ) -> Result<Vec<Insert>, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // Claims first: an entry whose claim was lost is left out of the inserts.
        let mut done = Vec::with_capacity(entries.len());
        for &NewEntry { entry, claim } in entries {
            let stored = match claim {
                None => true,
                Some(claim) => {
                    sqlx::query(sql::COMPLETE_KEY)
                        .bind(claim.tenant.as_str())
                        .bind(&claim.key)
                        .bind(entry.id)
                        .bind(entry.created_at)
                        .bind(entry.content.to_json())
                        .bind(claim.claimed_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?
                        .rows_affected()
                        > 0
                }
            };
            done.push(if stored {
                Insert::Stored
            } else {
                Insert::ClaimLost
            });
        }
        let stored: Vec<&Entry> = entries
            .iter()
            .zip(&done)
            .filter(|(_, insert)| **insert == Insert::Stored)
            .map(|(new, _)| new.entry)
            .collect();
        if !stored.is_empty() {
            Self::insert_entries(&mut tx, tenant, &stored).await?;
            Self::index_terms_of(
                &mut tx,
                tenant,
                stored.iter().map(|entry| (entry.id, &entry.content)),
            )
            .await?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(done)
    }

    async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<EntryDocument>, StorageError> {
        let row: Option<Row> = sqlx::query_as(sql::GET_ENTRY)
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(row.map(EntryDocument::from))
    }

    async fn replace(
        &self,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Write<Entry>, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let row = Self::rewrite(&mut tx, tenant, id, content, updated_at, expected).await?;
        let Some((version, created_at, updated_at)) = row else {
            return self.refusal(&mut tx, tenant, id).await;
        };
        tx.commit().await.map_err(classify)?;
        Ok(Write::Done(Entry {
            id,
            version,
            content: content.clone(),
            created_at,
            updated_at,
        }))
    }

    async fn relabel(
        &self,
        tenant: &Tenant,
        from: &str,
        to: Option<&str>,
        updated_at: Timestamp,
    ) -> Result<u64, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let labelled: Vec<(Uuid, String)> = sqlx::query_as(sql::LABELLED_ENTRIES_FOR_UPDATE)
            .bind(tenant.as_str())
            .bind(crate::domain::TermKind::Label.as_str())
            .bind(from)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
        let mut changed = 0;
        for (id, json) in labelled {
            let stored: EntryContent =
                serde_json::from_str(&json).map_err(|err| StorageError::Internal(Box::new(err)))?;
            let Some(content) = stored.relabeled(from, to) else {
                continue;
            };
            Self::rewrite(&mut tx, tenant, id, &content, updated_at, None).await?;
            changed += 1;
        }
        tx.commit().await.map_err(classify)?;
        Ok(changed)
    }

    async fn delete(
        &self,
        tenant: &Tenant,
        id: Uuid,
        expected: Option<i64>,
        at: Timestamp,
    ) -> Result<Write<()>, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let done = sqlx::query(sql::DELETE_ENTRY)
            .bind(tenant.as_str())
            .bind(id)
            .bind(expected)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        if done.rows_affected() == 0 {
            return self.refusal(&mut tx, tenant, id).await;
        }
        Self::record_change(&mut tx, tenant, id, at, true).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Write::Done(()))
    }

    async fn list(
        &self,
        tenant: &Tenant,
        request: &PageRequest,
    ) -> Result<Vec<EntryDocument>, StorageError> {
        let mut conn = self.pool.acquire().await.map_err(classify)?;
        let cap = if request.filter.is_empty() {
            0
        } else {
            sql::terms_first_below(request.limit, self.estimated_entries(&mut conn).await?)
        };
        let strategy = match sql::count_matches(tenant, request, cap) {
            None => Strategy::OrderFirst,
            Some(count) => {
                let row: sqlx::postgres::PgRow =
                    bind(sqlx::query(AssertSqlSafe(count.sql)), count.args)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(classify)?;
                let counts = (0..sqlx::Row::len(&row))
                    .map(|i| sqlx::Row::try_get::<i64, _>(&row, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(classify)?;
                sql::strategy(request, &counts, cap)
            }
        };
        let statement = sql::list(tenant, request, strategy, Dialect::Postgres);
        let rows: Vec<Row> = bind_as(sqlx::query_as(AssertSqlSafe(statement.sql)), statement.args)
            .fetch_all(&mut *conn)
            .await
            .map_err(classify)?;
        Ok(rows.into_iter().map(EntryDocument::from).collect())
    }

    async fn changes(
        &self,
        tenant: &Tenant,
        after: FeedPosition,
        limit: usize,
    ) -> Result<Vec<Change>, StorageError> {
        let rows: Vec<ChangeRow> = sqlx::query_as(sql::changes_after(Dialect::Postgres))
            .bind(tenant.as_str())
            .bind(after.txn)
            .bind(after.seq)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        Ok(rows.into_iter().map(ChangeRow::into_change).collect())
    }

    async fn feed_horizon(&self, tenant: &Tenant) -> Result<FeedPosition, StorageError> {
        let horizon: Option<(i64, i64)> = sqlx::query_as(sql::FEED_HORIZON)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(
            horizon.map_or_else(FeedPosition::default, |(txn, seq)| FeedPosition {
                txn,
                seq,
            }),
        )
    }

    async fn purge_changes(&self, before: Timestamp) -> Result<u64, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let purged: Vec<(String, i64, i64)> =
            sqlx::query_as(sql::purge_tombstones(Dialect::Postgres))
                .bind(before)
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?;
        let count = purged.len() as u64;
        let purged = purged
            .into_iter()
            .map(|(tenant, txn, seq)| (tenant, FeedPosition { txn, seq }));
        for (tenant, horizon) in sql::horizons(purged) {
            sqlx::query(sql::RAISE_HORIZON)
                .bind(tenant)
                .bind(horizon.txn)
                .bind(horizon.seq)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(count)
    }

    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError> {
        let claimed: Option<String> = sqlx::query_scalar(sql::CLAIM_KEY)
            .bind(claim.tenant.as_str())
            .bind(claim.key)
            .bind(claim.now)
            .bind(claim.expires_at)
            .bind(claim.stale_before)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        if claimed.is_some() {
            return Ok(KeyClaim::Claimed(Claim {
                tenant: claim.tenant.clone(),
                key: claim.key.to_owned(),
                claimed_at: claim.now,
            }));
        }
        let row: Option<(Option<Uuid>, Option<Timestamp>, Option<String>)> =
            sqlx::query_as(sql::READ_KEY)
                .bind(claim.tenant.as_str())
                .bind(claim.key)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        Ok(match row {
            Some((Some(id), Some(created_at), Some(content))) => KeyClaim::Completed(Entry {
                id,
                version: 1,
                content: content_of(&content)?,
                created_at,
                updated_at: created_at,
            }),
            // Held by a request still running (or released this instant: the client may retry).
            _ => KeyClaim::InFlight,
        })
    }

    async fn release_key(&self, claim: &Claim) -> Result<(), StorageError> {
        sqlx::query(sql::RELEASE_KEY)
            .bind(claim.tenant.as_str())
            .bind(&claim.key)
            .bind(claim.claimed_at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn purge_keys(&self, now: Timestamp) -> Result<u64, StorageError> {
        let done = sqlx::query(sql::PURGE_KEYS)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        let mut conn = self.pool.acquire().await.map_err(classify)?;
        sqlx::query(sql::PING)
            .fetch_optional(&mut *conn)
            .await
            .map_err(classify)?;
        // A standby (or a primary demoted mid-failover) answers reads but refuses every write.
        let read_only: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut *conn)
            .await
            .map_err(classify)?;
        if read_only {
            return Err(StorageError::Unavailable(
                "the database is read-only (a standby, or a failover in progress)".into(),
            ));
        }
        Ok(())
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StorageError> {
        let row: Option<KeyRow> = sqlx::query_as(sql::FIND_API_KEY)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(KeyRow::into_key).transpose()
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StorageError> {
        sqlx::query(sql::CREATE_API_KEY)
            .bind(&key.id)
            .bind(key.tenant.as_str())
            .bind(ApiKey::scope_names(&key.scopes))
            .bind(&key.secret_sha256)
            .bind(&key.name)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        let done = sqlx::query(sql::REVOKE_API_KEY)
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        let rows: Vec<KeyRow> = sqlx::query_as(sql::LIST_API_KEYS)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    fn engine(&self) -> &'static str {
        "postgresql"
    }

    fn pool(&self) -> Option<PoolState> {
        let open = u64::from(self.pool.size());
        let idle = u64::try_from(self.pool.num_idle()).unwrap_or(u64::MAX);
        Some(PoolState {
            idle,
            used: open.saturating_sub(idle),
            max: Some(u64::from(self.pool.options().get_max_connections())),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    txn: i64,
    seq: i64,
    entry_id: Uuid,
    changed_at: Timestamp,
    deleted: bool,
    version: Option<i64>,
    created_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
    sort_name: Option<String>,
    content: Option<String>,
}

impl ChangeRow {
    fn into_change(self) -> Change {
        let row = sql::ChangeRow {
            txn: self.txn,
            seq: self.seq,
            id: self.entry_id,
            changed_at: self.changed_at,
            deleted: self.deleted,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            sort_name: self.sort_name,
            content: self.content,
        };
        match row.into_change(Ok::<_, std::convert::Infallible>, Ok) {
            Ok(change) => change,
        }
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    tenant: String,
    scopes: String,
    secret_sha256: String,
    name: String,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
}

impl KeyRow {
    fn into_key(self) -> Result<ApiKey, StorageError> {
        ApiKeyRow {
            id: self.id,
            tenant: self.tenant,
            scopes: self.scopes,
            secret_sha256: self.secret_sha256,
            name: self.name,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        }
        .into_key(|time| time)
        .map_err(|err| StorageError::Internal(err.into()))
    }
}
