//! Where entries are kept. The service talks to one [`Storage`]; each engine lives in its own
//! file and must behave identically, which the contract tests check by running the whole suite
//! against every engine.

mod measured;
mod memory;
mod migrations;
mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::config::{Engine, StorageSettings};
use crate::domain::{
    ApiKey, Change, Entry, EntryContent, EntryDocument, FeedPosition, PageRequest, Tenant,
    Timestamp,
};
use crate::metrics::PoolState;

pub use measured::Measured;
pub use memory::MemoryStorage;
pub use migrations::{MigrationStatus, Migrations};
pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why storage could not do what was asked. The message is safe to log; it is never sent to
/// clients (connection strings and SQL stay on the server).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage could not be reached, is overloaded, or cannot write just now; retrying later
    /// may succeed. Nothing was written.
    #[error("storage is unavailable")]
    Unavailable(#[source] BoxError),
    /// The disk is full; nothing was written, and writes will fail until space is freed.
    #[error("storage is full")]
    Full(#[source] BoxError),
    /// Anything else: a bug, corrupt data, a broken invariant.
    #[error("storage failed")]
    Internal(#[source] BoxError),
}

impl StorageError {
    /// The same error again, for another request that shared its cause (the writes of one
    /// failed group commit): its causes as text.
    pub fn duplicate(&self) -> Self {
        let causes = crate::telemetry::causes(self);
        let cause: BoxError = causes[1..].join(": ").into();
        match self {
            Self::Unavailable(_) => Self::Unavailable(cause),
            Self::Full(_) => Self::Full(cause),
            Self::Internal(_) => Self::Internal(cause),
        }
    }
}

/// What a write did. Writes may be conditional on the entry's version (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write<T> {
    Done(T),
    /// No entry has this id.
    NotFound,
    /// The entry exists but its version is not the expected one: someone else wrote first.
    Conflict,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is now this request's: go ahead, then complete it with the insert.
    Claimed(Claim),
    /// Another request holds the key and has not finished.
    InFlight,
    /// A request with this key created this entry (as it was when created).
    Completed(Entry),
}

/// One request's claim on an idempotency key: the key and when it was claimed, which tells this
/// claim from a later one that took the key over after this one went stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub tenant: Tenant,
    pub key: String,
    pub claimed_at: Timestamp,
}

/// What storing a new entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    Stored,
    /// The claim the insert was to complete is no longer this request's (another request took
    /// the key over after it went stale): nothing was stored.
    ClaimLost,
}

/// One entry to store by [`Storage::insert_many`]: with `claim`, the idempotency claim its
/// insert completes.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry<'a> {
    pub entry: &'a Entry,
    pub claim: Option<&'a Claim>,
}

/// A request to claim `key`, made at `now`.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub tenant: &'a Tenant,
    pub key: &'a str,
    pub now: Timestamp,
    /// When the key is forgotten and may be used again.
    pub expires_at: Timestamp,
    /// A claim older than this that never completed was abandoned (its server died): take it over.
    pub stale_before: Timestamp,
}

/// Every entry and idempotency key belongs to a tenant; no method reaches past the one it is
/// given.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Stores a new entry (at version 1) and indexes its search terms. With `claim`, also completes
    /// that idempotency claim, in the same transaction: either both happen or neither.
    async fn insert(
        &self,
        tenant: &Tenant,
        entry: &Entry,
        claim: Option<&Claim>,
    ) -> Result<Insert, StorageError> {
        let mut done = self
            .insert_many(tenant, &[NewEntry { entry, claim }])
            .await?;
        done.pop()
            .ok_or_else(|| StorageError::Internal("an insert was not answered".into()))
    }

    /// Stores new entries as [`Storage::insert`] does each, all in one transaction: the entries
    /// without a claim in a fixed number of statements however many there are (a batch of
    /// creates costs one round trip, not one per entry), plus one statement per claim to
    /// complete. Answers each in order: an entry whose claim was lost is not stored, and the
    /// others are. A storage failure stores none of them.
    async fn insert_many(
        &self,
        tenant: &Tenant,
        entries: &[NewEntry<'_>],
    ) -> Result<Vec<Insert>, StorageError>;

    async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<EntryDocument>, StorageError>;

    /// Replaces the content of entry `id` in one atomic step, if its version is `expected` (any
    /// version when `None`), bumps the version and sets `updated_at` (keeping the stored one if it
    /// is later: clocks of several server processes are not in step, and `updated_at` must never
    /// go backwards).
    async fn replace(
        &self,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Write<Entry>, StorageError>;

    /// Renames the label that folds to `from` (already folded) to `to`, or removes it when `to`
    /// is `None`, in every entry of the tenant that has it ([`EntryContent::relabeled`]), in one
    /// transaction: either every such entry changes or none does. Each changed entry gets a new
    /// version and `updated_at` (as [`Storage::replace`] sets it) and its terms indexed again.
    /// Returns how many entries changed.
    async fn relabel(
        &self,
        tenant: &Tenant,
        from: &str,
        to: Option<&str>,
        updated_at: Timestamp,
    ) -> Result<u64, StorageError>;

    /// Deletes entry `id`, if its version is `expected` (any version when `None`), leaving a
    /// tombstone dated `at` in the change feed.
    async fn delete(
        &self,
        tenant: &Tenant,
        id: Uuid,
        expected: Option<i64>,
        at: Timestamp,
    ) -> Result<Write<()>, StorageError>;

    /// Up to `request.limit` entries matching `request.filter`, in `request.sort` order, after
    /// `request.after`.
    async fn list(
        &self,
        tenant: &Tenant,
        request: &PageRequest,
    ) -> Result<Vec<EntryDocument>, StorageError>;

    /// Up to `limit` of the tenant's changes after `after`, in feed order: the last change of
    /// each entry written or deleted since, with the entry as it is now. Every write records its
    /// change in its own transaction. A change is returned only once no other change can commit
    /// before it: a client that asks again after the last position it got never misses one.
    async fn changes(
        &self,
        tenant: &Tenant,
        after: FeedPosition,
        limit: usize,
    ) -> Result<Vec<Change>, StorageError>;

    /// The position of the last tombstone [`Storage::purge_changes`] dropped from the tenant's
    /// history (the start of the feed when none was): a client that has not read past it may
    /// have missed a deletion.
    async fn feed_horizon(&self, tenant: &Tenant) -> Result<FeedPosition, StorageError>;

    /// Drops the tombstones of deletions before `before`, for every tenant, moving each
    /// tenant's horizon past them in the same transaction; returns how many.
    async fn purge_changes(&self, before: Timestamp) -> Result<u64, StorageError>;

    /// Claims an idempotency key for one create request.
    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError>;

    /// Gives up a claim whose request failed, so a retry can claim the key; a claim that was
    /// completed, or taken over since, stays.
    async fn release_key(&self, claim: &Claim) -> Result<(), StorageError>;

    /// Forgets keys of every tenant that expired before `now`; returns how many.
    async fn purge_keys(&self, now: Timestamp) -> Result<u64, StorageError>;

    /// Succeeds when the storage can serve requests, writes included, now (used by
    /// `/readiness`).
    async fn ping(&self) -> Result<(), StorageError>;

    /// The API key with this id, revoked or not.
    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StorageError>;

    /// Keeps a new API key.
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StorageError>;

    /// Marks the key revoked at `at`; `false` when no key that is not revoked has this id.
    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StorageError>;

    /// Every API key, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError>;

    /// The engine's name as metrics label it (OpenTelemetry's `db.system.name`).
    fn engine(&self) -> &'static str;

    /// The engine's connections now, if it keeps a pool of them.
    fn pool(&self) -> Option<PoolState> {
        None
    }
}

/// Schema management for an engine that has a schema: what `migrate`, `reset` and start-up use.
#[async_trait]
pub trait Schema: Send + Sync {
    async fn status(&self) -> anyhow::Result<Vec<MigrationStatus>>;
    async fn up(&self) -> anyhow::Result<Vec<i64>>;
    async fn down(&self, steps: usize) -> anyhow::Result<Vec<i64>>;
    async fn reset(&self) -> anyhow::Result<()>;
}

#[async_trait]
impl<DB> Schema for Migrations<DB>
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
{
    async fn status(&self) -> anyhow::Result<Vec<MigrationStatus>> {
        Migrations::status(self).await
    }

    async fn up(&self) -> anyhow::Result<Vec<i64>> {
        Migrations::up(self).await
    }

    async fn down(&self, steps: usize) -> anyhow::Result<Vec<i64>> {
        Migrations::down(self, steps).await
    }

    async fn reset(&self) -> anyhow::Result<()> {
        Migrations::reset(self).await
    }
}

/// An opened engine: the storage, and its schema when it has one (the memory engine has none).
pub struct Opened {
    pub storage: Arc<dyn Storage>,
    pub schema: Option<Box<dyn Schema>>,
}

/// Opens the configured engine. Applies no migrations: the caller decides.
pub async fn open(settings: &StorageSettings) -> anyhow::Result<Opened> {
    Ok(match settings.engine {
        Engine::Memory => Opened {
            storage: Arc::new(MemoryStorage::new()),
            schema: None,
        },
        Engine::Sqlite => {
            let sqlite = SqliteStorage::open(&settings.sqlite).await?;
            Opened {
                schema: Some(Box::new(sqlite.migrations())),
                storage: Arc::new(sqlite),
            }
        }
        Engine::Postgres => {
            let postgres = PostgresStorage::open(&settings.postgres)?;
            Opened {
                schema: Some(Box::new(postgres.migrations())),
                storage: Arc::new(postgres),
            }
        }
    })
}
