//! The address book's operations, as the API offers them, in terms of domain types. Knows nothing
//! of HTTP: handlers translate requests into calls here and [`ServiceError`]s into responses.
//! Knows storage only through its trait, whose errors it puts into its own words.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use futures::StreamExt as _;

use crate::domain::{
    self, ApiKey, Caller, ChangePage, ChangeRequest, Comparison, Edit, Entry, EntryContent,
    EntryDocument, EntryPatch, Operation, Page, PageRequest, Position, Precondition, Scope, Tenant,
    ValidationErrors,
};
use crate::metrics::PoolState;
use crate::storage::{
    BoxError, Claim, ClaimRequest, Insert, KeyClaim, MemoryStorage, NewEntry, Storage,
    StorageError, Write,
};

/// Why an operation did not happen. Each says what happened, so the API can answer precisely.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller was not granted the scope the operation needs.
    #[error("the caller lacks the {} scope", .0.name())]
    Forbidden(Scope),
    #[error("no entry has this id")]
    NotFound,
    #[error("the entry does not satisfy the precondition")]
    PreconditionFailed,
    #[error("writes must carry a precondition")]
    PreconditionRequired,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("the entry kept changing while the patch was applied")]
    EditConflict,
    #[error("another request with this idempotency key is in progress")]
    KeyInFlight,
    #[error("the idempotency key was used for other content")]
    KeyReused,
    #[error("another request took the idempotency key over")]
    KeyTakenOver,
    /// The sync token is from before history that was dropped since: the client may have missed
    /// a deletion and must sync again from the start.
    #[error("the sync token is older than the kept history")]
    HistoryGone,
    /// Storage cannot do it now; the same request may succeed later.
    #[error("storage is unavailable")]
    Unavailable(#[source] BoxError),
    /// The disk is full: no write succeeds until space is freed.
    #[error("storage is full")]
    StorageFull(#[source] BoxError),
    /// A bug, corrupt data, a broken invariant.
    #[error("storage failed")]
    Internal(#[source] BoxError),
}

impl From<StorageError> for ServiceError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(cause) => Self::Unavailable(cause),
            StorageError::Full(cause) => Self::StorageFull(cause),
            StorageError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl ServiceError {
    /// A read that storage could not do for want of space (a sort spilling to a full disk) is
    /// refused like any other passing trouble: "the disk is full" is an answer about writes.
    fn of_read(err: StorageError) -> Self {
        match err {
            StorageError::Full(cause) => Self::Unavailable(cause),
            err => err.into(),
        }
    }
}

/// Why an idempotent create did not happen: the service refused it, or its content could not be
/// had (the caller's own error, passed through).
#[derive(Debug)]
pub enum CreateFailure<E> {
    Refused(ServiceError),
    Content(E),
}

impl<E> From<ServiceError> for CreateFailure<E> {
    fn from(err: ServiceError) -> Self {
        Self::Refused(err)
    }
}

impl<E> From<StorageError> for CreateFailure<E> {
    fn from(err: StorageError) -> Self {
        Self::Refused(err.into())
    }
}

/// What an idempotent create answers with: the entry, and whether an earlier request with the
/// same key created it (the answer is then a replay of that request's).
#[derive(Debug)]
pub struct Created {
    pub entry: Entry,
    pub replayed: bool,
}

/// How the service behaves, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Refuse writes without a precondition (so no client can overwrite blindly).
    pub require_if_match: bool,
    /// How long an idempotency key is remembered.
    pub idempotency_window: Duration,
    /// How long a claim on an idempotency key may stay unfinished before another request may
    /// take it over: its server is then taken to have died mid-request.
    pub idempotency_takeover: Duration,
    /// How long the change feed keeps deletions: a sync token stays good at least this long.
    pub change_history: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require_if_match: false,
            idempotency_window: Duration::from_secs(24 * 60 * 60),
            idempotency_takeover: Duration::from_secs(60),
            change_history: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// What one operation of a batch did.
#[derive(Debug)]
pub enum Done {
    Created(Created),
    Replaced(Entry),
    Patched(Entry),
    Deleted(Uuid),
}

/// How many edits of one batch run at once, and how many of its idempotency keys are claimed at
/// once (beside the edits): enough to share the storage's group commits, few enough that one
/// batch does not take every connection.
const BATCH_CONCURRENCY: usize = 8;

/// What claiming a batched create's idempotency key found.
enum Claimed {
    /// The create has no key.
    Free,
    Held(HeldClaim),
    /// The key settles the create without storing anything: a replay, or a refusal.
    Answered(Result<Done, ServiceError>),
}

/// How often a patch is re-applied when other writers keep getting in first.
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

    /// The storage engine's name, as metrics label it.
    pub fn engine(&self) -> &'static str {
        self.storage.engine()
    }

    /// The storage's connections now, for metrics.
    pub fn pool(&self) -> Option<PoolState> {
        self.storage.pool()
    }

    /// A book that keeps nothing: for documents and tests that need a book but no data.
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryStorage::new()), Policy::default())
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn create(
        &self,
        caller: &Caller,
        content: EntryContent,
    ) -> Result<Entry, ServiceError> {
        require(caller, Scope::Write)?;
        let entry = Entry::create(content);
        self.storage.insert(&caller.tenant, &entry, None).await?;
        tracing::debug!(id = %entry.id, "entry created");
        Ok(entry)
    }

    /// Creates the entry whose content `content` yields, at most once per `key` within the
    /// idempotency window: a repeat with the same content gets the entry the first request
    /// created, one with other content [`ServiceError::KeyReused`], one while the first is still
    /// running [`ServiceError::KeyInFlight`].
    ///
    /// The key is claimed before `content` is awaited, so that a repeat sent while the first
    /// request's body is still arriving is told it is in flight rather than racing it. On every
    /// path that does not create the entry the claim is released, so a retry can claim it at once.
    #[tracing::instrument(skip_all, err(level = "debug", Debug))]
    pub async fn create_idempotent<E: std::fmt::Debug>(
        &self,
        caller: &Caller,
        key: &str,
        content: impl Future<Output = Result<EntryContent, E>>,
    ) -> Result<Created, CreateFailure<E>> {
        require(caller, Scope::Write)?;
        let claim_request = self.claim_request(&caller.tenant, key);
        let claim = match self.storage.claim_key(&claim_request).await? {
            KeyClaim::Claimed(claim) => claim,
            KeyClaim::InFlight => return Err(ServiceError::KeyInFlight.into()),
            KeyClaim::Completed(original) => {
                let content = content.await.map_err(CreateFailure::Content)?;
                return Ok(replay(original, &content)?);
            }
        };
        let held = HeldClaim::new(self.storage.clone(), claim);
        let outcome = async {
            let entry = Entry::create(content.await.map_err(CreateFailure::Content)?);
            match self
                .storage
                .insert(&caller.tenant, &entry, Some(held.claim()))
                .await?
            {
                Insert::Stored => Ok(entry),
                Insert::ClaimLost => Err(ServiceError::KeyTakenOver.into()),
            }
        }
        .await;
        match outcome {
            Ok(entry) => {
                held.completed();
                Ok(Created {
                    entry,
                    replayed: false,
                })
            }
            Err(err) => {
                held.release().await;
                Err(err)
            }
        }
    }

    fn claim_request<'k>(&self, tenant: &'k Tenant, key: &'k str) -> ClaimRequest<'k> {
        let now = domain::now();
        let duration = |d| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let window = duration(self.policy.idempotency_window);
        ClaimRequest {
            tenant,
            key,
            now,
            expires_at: now
                .checked_add_signed(window)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            stale_before: now
                .checked_sub_signed(duration(self.policy.idempotency_takeover))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
        }
    }

    /// Forgets expired idempotency keys.
    pub async fn purge_keys(&self) -> Result<u64, ServiceError> {
        Ok(self.storage.purge_keys(domain::now()).await?)
    }

    /// The entry as stored, ready to be sent.
    #[tracing::instrument(skip(self, caller), err(level = "debug"))]
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<EntryDocument, ServiceError> {
        require(caller, Scope::Read)?;
        self.document(&caller.tenant, id).await
    }

    async fn document(&self, tenant: &Tenant, id: Uuid) -> Result<EntryDocument, ServiceError> {
        self.storage
            .get(tenant, id)
            .await
            .map_err(ServiceError::of_read)?
            .ok_or(ServiceError::NotFound)
    }

    /// The entry with its content parsed, to change it.
    async fn current(&self, tenant: &Tenant, id: Uuid) -> Result<Entry, ServiceError> {
        self.document(tenant, id).await?.entry().map_err(|err| {
            ServiceError::Internal(format!("entry {id} holds bad JSON: {err}").into())
        })
    }

    /// The version a write must find to satisfy `precondition`: `None` writes whatever is there.
    async fn expected_version(
        &self,
        tenant: &Tenant,
        id: Uuid,
        precondition: Option<&Precondition>,
    ) -> Result<Option<i64>, ServiceError> {
        match precondition {
            None if self.policy.require_if_match => Err(ServiceError::PreconditionRequired),
            None | Some(Precondition::Any) => Ok(None),
            Some(precondition) => match precondition.only_version() {
                // The write itself checks the version: no read needed.
                Some(version) => Ok(Some(version)),
                None => {
                    let current = self.document(tenant, id).await?;
                    if precondition.matches(current.version, Comparison::Strong) {
                        Ok(Some(current.version))
                    } else {
                        Err(ServiceError::PreconditionFailed)
                    }
                }
            },
        }
    }

    fn written<T>(outcome: Write<T>) -> Result<T, ServiceError> {
        match outcome {
            Write::Done(value) => Ok(value),
            Write::NotFound => Err(ServiceError::NotFound),
            // The entry has another version than the precondition allows.
            Write::Conflict => Err(ServiceError::PreconditionFailed),
        }
    }

    #[tracing::instrument(skip(self, caller, content), err(level = "debug"))]
    pub async fn replace(
        &self,
        caller: &Caller,
        id: Uuid,
        content: EntryContent,
        precondition: Option<&Precondition>,
    ) -> Result<Entry, ServiceError> {
        require(caller, Scope::Write)?;
        let tenant = &caller.tenant;
        let expected = self.expected_version(tenant, id, precondition).await?;
        Self::written(
            self.storage
                .replace(tenant, id, &content, domain::now(), expected)
                .await?,
        )
    }

    /// Renames the label `from` (compared case-insensitively) to `to` on every entry of the
    /// caller's book that has it, or removes it when `to` is `None`, in one transaction. Returns
    /// how many entries changed: none when no entry has it, so a repeat is harmless.
    #[tracing::instrument(skip(self, caller), err(level = "debug"))]
    pub async fn relabel(
        &self,
        caller: &Caller,
        from: &str,
        to: Option<&str>,
    ) -> Result<u64, ServiceError> {
        require(caller, Scope::Write)?;
        Ok(self
            .storage
            .relabel(&caller.tenant, &domain::fold(from), to, domain::now())
            .await?)
    }

    /// Applies a checked merge patch to whatever version is current when it is written, if that
    /// version satisfies `precondition`: a concurrent write is never overwritten with a stale
    /// copy, the patch is applied again on top of it.
    #[tracing::instrument(skip(self, caller, patch), err(level = "debug"))]
    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: &EntryPatch,
        precondition: Option<&Precondition>,
    ) -> Result<Entry, ServiceError> {
        require(caller, Scope::Write)?;
        let tenant = &caller.tenant;
        if precondition.is_none() && self.policy.require_if_match {
            return Err(ServiceError::PreconditionRequired);
        }
        for _ in 0..PATCH_ATTEMPTS {
            let current = self.current(tenant, id).await?;
            if precondition.is_some_and(|p| !p.matches(current.version, Comparison::Strong)) {
                return Err(ServiceError::PreconditionFailed);
            }
            let content = current.content.patched(patch);
            match self
                .storage
                .replace(tenant, id, &content, domain::now(), Some(current.version))
                .await?
            {
                // Someone wrote in between: read again, and check the precondition again.
                Write::Conflict => continue,
                outcome => return Self::written(outcome),
            }
        }
        Err(ServiceError::EditConflict)
    }

    #[tracing::instrument(skip(self, caller), err(level = "debug"))]
    pub async fn delete(
        &self,
        caller: &Caller,
        id: Uuid,
        precondition: Option<&Precondition>,
    ) -> Result<(), ServiceError> {
        require(caller, Scope::Write)?;
        let expected = self
            .expected_version(&caller.tenant, id, precondition)
            .await?;
        Self::written(
            self.storage
                .delete(&caller.tenant, id, expected, domain::now())
                .await?,
        )
    }

    /// Makes each of `operations` as its single-entry form would, and answers each in order.
    /// The operations are independent: each succeeds or fails on its own, and none sees
    /// another's effect (the caller names each entry at most once). The creates are stored in
    /// one storage call; the edits run a few at a time.
    #[tracing::instrument(skip_all, fields(operations = operations.len()))]
    pub async fn batch(
        &self,
        caller: &Caller,
        operations: Vec<Operation>,
    ) -> Result<Vec<Result<Done, ServiceError>>, ServiceError> {
        require(caller, Scope::Write)?;
        let count = operations.len();
        let mut creates = Vec::new();
        let mut edits = Vec::new();
        for (index, operation) in operations.into_iter().enumerate() {
            match operation {
                Operation::Create { content, key } => creates.push((index, content, key)),
                Operation::Edit {
                    id,
                    precondition,
                    edit,
                } => edits.push((index, id, precondition, edit)),
            }
        }
        let edited = futures::stream::iter(edits)
            .map(|(index, id, precondition, edit)| async move {
                let done = self.edit(caller, id, precondition.as_ref(), edit).await;
                (index, done)
            })
            .buffered(BATCH_CONCURRENCY)
            .collect::<Vec<_>>();
        let (created, edited) = futures::join!(self.create_all(caller, creates), edited);
        let mut results: Vec<Option<Result<Done, ServiceError>>> =
            std::iter::repeat_with(|| None).take(count).collect();
        for (index, result) in created.into_iter().chain(edited) {
            results[index] = Some(result);
        }
        Ok(results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(ServiceError::Internal(
                        "a batch operation was not answered".into(),
                    ))
                })
            })
            .collect())
    }

    async fn edit(
        &self,
        caller: &Caller,
        id: Uuid,
        precondition: Option<&Precondition>,
        edit: Edit,
    ) -> Result<Done, ServiceError> {
        match edit {
            Edit::Replace(content) => self
                .replace(caller, id, content, precondition)
                .await
                .map(Done::Replaced),
            Edit::Patch(patch) => self
                .patch(caller, id, &patch, precondition)
                .await
                .map(Done::Patched),
            Edit::Delete => self
                .delete(caller, id, precondition)
                .await
                .map(|()| Done::Deleted(id)),
        }
    }

    /// The creates of a batch: keys claimed as a single create claims its key, then every entry
    /// to store in one [`Storage::insert_many`].
    async fn create_all(
        &self,
        caller: &Caller,
        creates: Vec<(usize, EntryContent, Option<String>)>,
    ) -> Vec<(usize, Result<Done, ServiceError>)> {
        let tenant = &caller.tenant;
        // Each claim is held the moment it is made: a batch cancelled midway (its client gone,
        // its deadline past) releases every claim it made, as a single create does.
        let claims = futures::stream::iter(creates)
            .map(|(index, content, key)| async move {
                let claimed = match key {
                    None => Claimed::Free,
                    Some(key) => match self
                        .storage
                        .claim_key(&self.claim_request(tenant, &key))
                        .await
                    {
                        Ok(KeyClaim::Claimed(claim)) => {
                            Claimed::Held(HeldClaim::new(self.storage.clone(), claim))
                        }
                        Ok(KeyClaim::InFlight) => Claimed::Answered(Err(ServiceError::KeyInFlight)),
                        Ok(KeyClaim::Completed(original)) => {
                            Claimed::Answered(replay(original, &content).map(Done::Created))
                        }
                        Err(err) => Claimed::Answered(Err(err.into())),
                    },
                };
                (index, content, claimed)
            })
            .buffered(BATCH_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut answered = Vec::new();
        let mut pending = Vec::new();
        for (index, content, claimed) in claims {
            let held = match claimed {
                Claimed::Free => None,
                Claimed::Held(held) => Some(held),
                Claimed::Answered(result) => {
                    answered.push((index, result));
                    continue;
                }
            };
            pending.push((index, Entry::create(content), held));
        }
        if pending.is_empty() {
            return answered;
        }
        let new: Vec<NewEntry<'_>> = pending
            .iter()
            .map(|(_, entry, held)| NewEntry {
                entry,
                claim: held.as_ref().map(HeldClaim::claim),
            })
            .collect();
        let outcome = match self.storage.insert_many(tenant, &new).await {
            Ok(inserts) if inserts.len() == new.len() => Ok(inserts),
            Ok(_) => Err(StorageError::Internal(
                "storage answered another number of inserts than it was given".into(),
            )),
            Err(err) => Err(err),
        };
        drop(new);
        let mut unused = Vec::new();
        for (i, (index, entry, held)) in pending.into_iter().enumerate() {
            let result = match &outcome {
                Ok(inserts) if inserts[i] == Insert::Stored => {
                    if let Some(held) = held {
                        held.completed();
                    }
                    tracing::debug!(id = %entry.id, "entry created");
                    Ok(Done::Created(Created {
                        entry,
                        replayed: false,
                    }))
                }
                failed => {
                    unused.extend(held);
                    Err(match failed {
                        Ok(_) => ServiceError::KeyTakenOver,
                        Err(err) => err.duplicate().into(),
                    })
                }
            };
            answered.push((index, result));
        }
        // Released together: one after another, 200 of them on a failing disk could outlast
        // the request's deadline.
        futures::future::join_all(unused.into_iter().map(HeldClaim::release)).await;
        answered
    }

    /// A page of the caller's entries. What was searched for stays out of the span: search
    /// texts are personal data.
    #[tracing::instrument(
        skip_all,
        fields(limit = request.limit, sort = request.sort.name()),
        err(level = "debug")
    )]
    pub async fn list(&self, caller: &Caller, request: PageRequest) -> Result<Page, ServiceError> {
        require(caller, Scope::Read)?;
        // One extra row tells whether another page follows without a second query.
        let limit = request.limit;
        let mut items = self
            .storage
            .list(
                &caller.tenant,
                &PageRequest {
                    limit: limit + 1,
                    ..request.clone()
                },
            )
            .await
            .map_err(ServiceError::of_read)?;
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

    /// A page of the caller's change feed: what changed after `request.after`, or everything
    /// from the start without it. A position before history dropped since is refused: the
    /// client may have missed a deletion.
    #[tracing::instrument(skip_all, fields(limit = request.limit), err(level = "debug"))]
    pub async fn changes(
        &self,
        caller: &Caller,
        request: ChangeRequest,
    ) -> Result<ChangePage, ServiceError> {
        require(caller, Scope::Read)?;
        let after = request.after.unwrap_or_default();
        let mut changes = self
            .storage
            .changes(&caller.tenant, after, request.limit + 1)
            .await
            .map_err(ServiceError::of_read)?;
        // Read after the changes: a purge that dropped a tombstone past `after` before they were
        // read has moved the horizon past `after` by now (it does both in one transaction).
        let horizon = self
            .storage
            .feed_horizon(&caller.tenant)
            .await
            .map_err(ServiceError::of_read)?;
        if request.after.is_some() && after < horizon {
            return Err(ServiceError::HistoryGone);
        }
        let more = changes.len() > request.limit;
        changes.truncate(request.limit);
        let mut next = changes.last().map_or(after, |last| last.position);
        // Caught up: every change before the horizon is visible (storage drops only those) and
        // was on this page or an earlier one, so the token moves up to the horizon. Otherwise a
        // book whose newest changes were dropped deletions would hand out, at the end of every
        // full sync, a token from before its horizon: refused the next time, forever.
        if !more {
            next = next.max(horizon);
        }
        Ok(ChangePage {
            changes,
            next,
            more,
        })
    }

    /// Drops deletions older than the kept history from the change feed; returns how many.
    pub async fn purge_changes(&self) -> Result<u64, ServiceError> {
        let history =
            chrono::Duration::from_std(self.policy.change_history).unwrap_or(chrono::Duration::MAX);
        let before = domain::now()
            .checked_sub_signed(history)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        Ok(self.storage.purge_changes(before).await?)
    }

    /// The API key with this id, for authentication.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, ServiceError> {
        self.storage
            .find_api_key(id)
            .await
            .map_err(ServiceError::of_read)
    }

    /// Keeps a new API key (made by [`crate::auth::new_api_key`]).
    pub async fn add_api_key(&self, key: &ApiKey) -> Result<(), ServiceError> {
        Ok(self.storage.create_api_key(key).await?)
    }

    /// Revokes the key; `false` when no key that is not revoked has this id.
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool, ServiceError> {
        Ok(self.storage.revoke_api_key(id, domain::now()).await?)
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, ServiceError> {
        self.storage
            .list_api_keys()
            .await
            .map_err(ServiceError::of_read)
    }

    /// Succeeds when the book can serve requests now.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        self.storage.ping().await.map_err(ServiceError::of_read)
    }
}

/// The answer to a create whose idempotency key an earlier create completed: the same key with
/// the same entry is the retry of a request that succeeded, and gets its answer.
fn replay(original: Entry, content: &EntryContent) -> Result<Created, ServiceError> {
    if *content == original.content {
        Ok(Created {
            entry: original,
            replayed: true,
        })
    } else {
        Err(ServiceError::KeyReused)
    }
}

fn require(caller: &Caller, scope: Scope) -> Result<(), ServiceError> {
    if caller.may(scope) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(scope))
    }
}

/// A claimed idempotency key whose create has not completed. Whatever way a create ends without
/// completing it releases the claim: explicitly ([`HeldClaim::release`]) where the failure is
/// known, and on drop when the request is cancelled midway (its client went away while sending
/// the body), so that no path leaves a key stuck until the claim goes stale.
struct HeldClaim {
    storage: Arc<dyn Storage>,
    claim: Option<Claim>,
}

impl HeldClaim {
    fn new(storage: Arc<dyn Storage>, claim: Claim) -> Self {
        Self {
            storage,
            claim: Some(claim),
        }
    }

    fn claim(&self) -> &Claim {
        self.claim
            .as_ref()
            .expect("held until completed or released")
    }

    /// The create completed the claim in storage: nothing to release.
    fn completed(mut self) {
        self.claim = None;
    }

    async fn release(mut self) {
        if let Some(claim) = self.claim.take() {
            release(self.storage.as_ref(), &claim).await;
        }
    }
}

impl Drop for HeldClaim {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        // Without a runtime (the process is stopping) the claim goes stale and is taken over.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let storage = self.storage.clone();
            runtime.spawn(async move { release(storage.as_ref(), &claim).await });
        }
    }
}

async fn release(storage: &dyn Storage, claim: &Claim) {
    if let Err(err) = storage.release_key(claim).await {
        // Harmless: the claim goes stale and is taken over after a minute.
        tracing::warn!(error = %crate::telemetry::chain(&err), "could not release an idempotency key");
    }
}
