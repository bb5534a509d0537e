//! The address book's operations, as the API offers them, in terms of domain types. Knows nothing
//! of HTTP: handlers translate requests into calls here and [`ServiceError`]s into responses.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::domain::{
    self, Entry, EntryContent, Page, PageRequest, Position, ValidationErrors, etag,
};
use crate::storage::{ClaimRequest, KeyClaim, Storage, StorageError, Write};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no entry has this id")]
    NotFound,
    #[error("the entry does not match If-Match")]
    PreconditionFailed,
    #[error("writes must carry If-Match")]
    PreconditionRequired,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How the service behaves, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Refuse writes without `If-Match` (so no client can overwrite blindly).
    pub require_if_match: bool,
    /// How long an idempotency key is remembered.
    pub idempotency_window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require_if_match: false,
            idempotency_window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// A claim on an idempotency key that did not complete within this long was abandoned (its
/// server died mid-request) and may be taken over. Far longer than any request may take.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// How often a patch without `If-Match` is re-applied when other writers keep getting in first.
const PATCH_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct AddressBook {
    storage: Arc<dyn Storage>,
    policy: Policy,
}

impl AddressBook {
    pub fn new(storage: Arc<dyn Storage>, policy: Policy) -> Self {
        Self { storage, policy }
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn create(&self, content: EntryContent) -> Result<Entry, ServiceError> {
        let entry = Entry::create(content);
        self.storage.insert(&entry, None).await?;
        tracing::debug!(id = %entry.id, "entry created");
        Ok(entry)
    }

    /// Claims `key` for a create request; see [`KeyClaim`].
    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn claim_key(&self, key: &str) -> Result<KeyClaim, ServiceError> {
        let now = domain::now();
        let window = chrono::Duration::from_std(self.policy.idempotency_window)
            .unwrap_or(chrono::Duration::MAX);
        let claim = ClaimRequest {
            key,
            now,
            expires_at: now
                .checked_add_signed(window)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            stale_before: now - ABANDONED_AFTER,
        };
        Ok(self.storage.claim_key(&claim).await?)
    }

    /// Creates the entry of a request that claimed `key`, completing the key in the same step.
    #[tracing::instrument(skip(self, content), err(level = "debug"))]
    pub async fn create_with_key(
        &self,
        content: EntryContent,
        key: &str,
    ) -> Result<Entry, ServiceError> {
        let entry = Entry::create(content);
        self.storage.insert(&entry, Some(key)).await?;
        Ok(entry)
    }

    /// Gives up a claimed key after its request failed, so that a retry can claim it.
    pub async fn release_key(&self, key: &str) {
        if let Err(err) = self.storage.release_key(key).await {
            // Harmless: the claim goes stale and is taken over after a minute.
            tracing::warn!(error = %crate::telemetry::chain(&err), "could not release an idempotency key");
        }
    }

    /// Forgets expired idempotency keys.
    pub async fn purge_keys(&self) -> Result<u64, ServiceError> {
        Ok(self.storage.purge_keys(domain::now()).await?)
    }

    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn get(&self, id: Uuid) -> Result<Entry, ServiceError> {
        self.storage.get(id).await?.ok_or(ServiceError::NotFound)
    }

    /// The version a write must find, from its `If-Match` header: `None` writes whatever is there.
    async fn expected_version(
        &self,
        id: Uuid,
        if_match: Option<&str>,
    ) -> Result<Option<i64>, ServiceError> {
        match if_match {
            None if self.policy.require_if_match => Err(ServiceError::PreconditionRequired),
            None => Ok(None),
            Some(header) => {
                let current = self.get(id).await?;
                if etag::matches(header, current.version, false) {
                    Ok(Some(current.version))
                } else {
                    Err(ServiceError::PreconditionFailed)
                }
            }
        }
    }

    fn written<T>(outcome: Write<T>) -> Result<T, ServiceError> {
        match outcome {
            Write::Done(value) => Ok(value),
            Write::NotFound => Err(ServiceError::NotFound),
            // The entry changed between the precondition check and the write.
            Write::Conflict => Err(ServiceError::PreconditionFailed),
        }
    }

    #[tracing::instrument(skip(self, content), err(level = "debug"))]
    pub async fn replace(
        &self,
        id: Uuid,
        content: EntryContent,
        if_match: Option<&str>,
    ) -> Result<Entry, ServiceError> {
        let expected = self.expected_version(id, if_match).await?;
        Self::written(
            self.storage
                .replace(id, &content, domain::now(), expected)
                .await?,
        )
    }

    /// Applies a JSON merge patch. Without `If-Match` the patch applies to whatever version is
    /// current when it is written: a concurrent write is never overwritten with a stale copy,
    /// the patch is applied again on top of it.
    #[tracing::instrument(skip(self, patch), err(level = "debug"))]
    pub async fn patch(
        &self,
        id: Uuid,
        patch: &serde_json::Value,
        if_match: Option<&str>,
    ) -> Result<Entry, ServiceError> {
        if if_match.is_none() && self.policy.require_if_match {
            return Err(ServiceError::PreconditionRequired);
        }
        for _ in 0..PATCH_ATTEMPTS {
            let current = self.get(id).await?;
            if if_match.is_some_and(|header| !etag::matches(header, current.version, false)) {
                return Err(ServiceError::PreconditionFailed);
            }
            let content = current.content.patched(patch)?;
            match self
                .storage
                .replace(id, &content, domain::now(), Some(current.version))
                .await?
            {
                Write::Conflict if if_match.is_none() => continue,
                outcome => return Self::written(outcome),
            }
        }
        Err(
            StorageError::Unavailable("the entry kept changing while the patch was applied".into())
                .into(),
        )
    }

    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn delete(&self, id: Uuid, if_match: Option<&str>) -> Result<(), ServiceError> {
        let expected = self.expected_version(id, if_match).await?;
        Self::written(self.storage.delete(id, expected).await?)
    }

    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn list(&self, request: PageRequest) -> Result<Page, ServiceError> {
        // One extra row tells whether another page follows without a second query.
        let limit = request.limit;
        let mut items = self
            .storage
            .list(&PageRequest {
                limit: limit + 1,
                ..request.clone()
            })
            .await?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|last| Position::of(last, request.sort.key))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    pub async fn check_ready(&self) -> Result<(), StorageError> {
        self.storage.ping().await
    }
}
