//! Times every storage call and counts its failures, by engine and operation, whatever the
//! engine, and gives each call a span of its own when spans are exported: a wrapper around the
//! [`Storage`] the service uses.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{Claim, ClaimRequest, Insert, KeyClaim, NewEntry, Storage, StorageError, Write};
use crate::domain::{
    ApiKey, Change, Entry, EntryContent, EntryDocument, FeedPosition, PageRequest, Tenant,
    Timestamp,
};
use crate::metrics::{Metrics, PoolState};

pub struct Measured {
    inner: Arc<dyn Storage>,
    metrics: Arc<Metrics>,
}

impl Measured {
    pub fn new(inner: Arc<dyn Storage>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let started = Instant::now();
        // A span per call only when spans are exported: logs do not need them, and creating
        // one costs the cheapest requests a measurable share.
        let span = if crate::telemetry::exporting() {
            tracing::info_span!(
                "storage",
                otel.name = operation,
                otel.kind = "client",
                db.system.name = self.inner.engine(),
                db.operation.name = operation,
            )
        } else {
            tracing::Span::none()
        };
        let result = call.instrument(span).await;
        let error = result.as_ref().err().map(|err| match err {
            StorageError::Unavailable(_) => "unavailable",
            StorageError::Full(_) => "full",
            StorageError::Internal(_) => "internal",
        });
        self.metrics
            .storage_call(self.inner.engine(), operation, started.elapsed(), error);
        result
    }
}

#[async_trait]
impl Storage for Measured {
    async fn insert(
        &self,
        tenant: &Tenant,
        entry: &Entry,
        claim: Option<&Claim>,
    ) -> Result<Insert, StorageError> {
        self.timed("insert", self.inner.insert(tenant, entry, claim))
            .await
    }

    async fn insert_many(
        &self,
        tenant: &Tenant,
        entries: &[NewEntry<'_>],
    ) -> Result<Vec<Insert>, StorageError> {
        self.timed("insert_many", self.inner.insert_many(tenant, entries))
            .await
    }

    async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<EntryDocument>, StorageError> {
        self.timed("get", self.inner.get(tenant, id)).await
    }

    async fn replace(
        &self,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Write<Entry>, StorageError> {
        self.timed(
            "replace",
            self.inner
                .replace(tenant, id, content, updated_at, expected),
        )
        .await
    }

    async fn relabel(
        &self,
        tenant: &Tenant,
        from: &str,
        to: Option<&str>,
        updated_at: Timestamp,
    ) -> Result<u64, StorageError> {
        self.timed("relabel", self.inner.relabel(tenant, from, to, updated_at))
            .await
    }

    async fn delete(
        &self,
        tenant: &Tenant,
        id: Uuid,
        expected: Option<i64>,
        at: Timestamp,
    ) -> Result<Write<()>, StorageError> {
        self.timed("delete", self.inner.delete(tenant, id, expected, at))
            .await
    }

    async fn list(
        &self,
        tenant: &Tenant,
        request: &PageRequest,
    ) -> Result<Vec<EntryDocument>, StorageError> {
        self.timed("list", self.inner.list(tenant, request)).await
    }

    async fn changes(
        &self,
        tenant: &Tenant,
        after: FeedPosition,
        limit: usize,
    ) -> Result<Vec<Change>, StorageError> {
        self.timed("changes", self.inner.changes(tenant, after, limit))
            .await
    }

    async fn feed_horizon(&self, tenant: &Tenant) -> Result<FeedPosition, StorageError> {
        self.timed("feed_horizon", self.inner.feed_horizon(tenant))
            .await
    }

    async fn purge_changes(&self, before: Timestamp) -> Result<u64, StorageError> {
        self.timed("purge_changes", self.inner.purge_changes(before))
            .await
    }

    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError> {
        self.timed("claim_key", self.inner.claim_key(claim)).await
    }

    async fn release_key(&self, claim: &Claim) -> Result<(), StorageError> {
        self.timed("release_key", self.inner.release_key(claim))
            .await
    }

    async fn purge_keys(&self, now: Timestamp) -> Result<u64, StorageError> {
        self.timed("purge_keys", self.inner.purge_keys(now)).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StorageError> {
        self.timed("find_api_key", self.inner.find_api_key(id))
            .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StorageError> {
        self.timed("create_api_key", self.inner.create_api_key(key))
            .await
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        self.timed("revoke_api_key", self.inner.revoke_api_key(id, at))
            .await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        self.timed("list_api_keys", self.inner.list_api_keys())
            .await
    }

    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn pool(&self) -> Option<PoolState> {
        self.inner.pool()
    }
}
