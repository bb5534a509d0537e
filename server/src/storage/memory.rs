//! An in-memory engine (`storage.engine: memory`): nothing survives a restart. Useful for demos
//! and as the reference the durable engines are compared with: it answers searches by scanning,
//! with the same terms and ordering rules the durable engines index.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;
use uuid::Uuid;

use super::{Claim, ClaimRequest, Insert, KeyClaim, NewEntry, Storage, StorageError, Write};
use crate::domain::{
    ApiKey, Change, Entry, EntryContent, EntryDocument, FeedPosition, PageRequest, Position,
    Tenant, TermKind, Timestamp,
};

#[derive(Default)]
pub struct MemoryStorage {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<(Tenant, Uuid), Stored>,
    keys: HashMap<(Tenant, String), KeyRecord>,
    api_keys: Vec<ApiKey>,
    /// The last change of each entry, by position in the feed.
    changes: HashMap<(Tenant, Uuid), Recorded>,
    /// The last position given out: one writer at a time (the lock), so positions are taken
    /// in the order changes become visible.
    last_seq: i64,
    horizons: HashMap<Tenant, FeedPosition>,
}

struct Recorded {
    seq: i64,
    at: Timestamp,
    deleted: bool,
}

impl State {
    fn record(&mut self, tenant: &Tenant, id: Uuid, at: Timestamp, deleted: bool) {
        self.last_seq += 1;
        let recorded = Recorded {
            seq: self.last_seq,
            at,
            deleted,
        };
        self.changes.insert((tenant.clone(), id), recorded);
    }
}

struct Stored {
    entry: Entry,
    document: EntryDocument,
    terms: BTreeSet<(TermKind, String)>,
}

impl Stored {
    fn new(entry: Entry) -> Self {
        let terms = entry.content.search_terms();
        let document = EntryDocument::of(&entry);
        Self {
            entry,
            document,
            terms,
        }
    }
}

struct KeyRecord {
    claimed_at: Timestamp,
    expires_at: Timestamp,
    created: Option<Entry>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    // A poisoned lock means a thread panicked mid-update; every update here completes its map
    // operations before anything can panic, so the data is still consistent and serving on is safe.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Checks the entry's version against `expected` before a write.
fn precondition(state: &State, key: &(Tenant, Uuid), expected: Option<i64>) -> Option<Write<()>> {
    match state.entries.get(key) {
        None => Some(Write::NotFound),
        Some(stored) if expected.is_some_and(|v| v != stored.entry.version) => {
            Some(Write::Conflict)
        }
        Some(_) => None,
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn insert_many(
        &self,
        tenant: &Tenant,
        entries: &[NewEntry<'_>],
    ) -> Result<Vec<Insert>, StorageError> {
        let mut state = self.write();
        let mut done = Vec::with_capacity(entries.len());
        for &NewEntry { entry, claim } in entries {
            if let Some(claim) = claim {
                match state
                    .keys
                    .get_mut(&(claim.tenant.clone(), claim.key.clone()))
                {
                    Some(record)
                        if record.created.is_none() && record.claimed_at == claim.claimed_at =>
                    {
                        record.created = Some(entry.clone());
                    }
                    _ => {
                        done.push(Insert::ClaimLost);
                        continue;
                    }
                }
            }
            state
                .entries
                .insert((tenant.clone(), entry.id), Stored::new(entry.clone()));
            state.record(tenant, entry.id, entry.updated_at, false);
            done.push(Insert::Stored);
        }
        Ok(done)
    }

    async fn get(&self, tenant: &Tenant, id: Uuid) -> Result<Option<EntryDocument>, StorageError> {
        Ok(self
            .read()
            .entries
            .get(&(tenant.clone(), id))
            .map(|stored| stored.document.clone()))
    }

    async fn replace(
        &self,
        tenant: &Tenant,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
        expected: Option<i64>,
    ) -> Result<Write<Entry>, StorageError> {
        let mut state = self.write();
        let key = (tenant.clone(), id);
        match precondition(&state, &key, expected) {
            Some(Write::NotFound) => return Ok(Write::NotFound),
            Some(_) => return Ok(Write::Conflict),
            None => {}
        }
        let stored = state.entries.get_mut(&key).expect("checked above");
        let mut entry = stored.entry.clone();
        entry.content = content.clone();
        entry.version += 1;
        entry.updated_at = entry.updated_at.max(updated_at);
        *stored = Stored::new(entry.clone());
        state.record(tenant, id, entry.updated_at, false);
        Ok(Write::Done(entry))
    }

    async fn relabel(
        &self,
        tenant: &Tenant,
        from: &str,
        to: Option<&str>,
        updated_at: Timestamp,
    ) -> Result<u64, StorageError> {
        let mut state = self.write();
        let mut changed = Vec::new();
        for ((owner, id), stored) in state.entries.iter_mut() {
            if owner != tenant {
                continue;
            }
            let Some(content) = stored.entry.content.relabeled(from, to) else {
                continue;
            };
            let mut entry = stored.entry.clone();
            entry.content = content;
            entry.version += 1;
            entry.updated_at = entry.updated_at.max(updated_at);
            changed.push((*id, entry.updated_at));
            *stored = Stored::new(entry);
        }
        for (id, at) in &changed {
            state.record(tenant, *id, *at, false);
        }
        Ok(changed.len() as u64)
    }

    async fn delete(
        &self,
        tenant: &Tenant,
        id: Uuid,
        expected: Option<i64>,
        at: Timestamp,
    ) -> Result<Write<()>, StorageError> {
        let mut state = self.write();
        let key = (tenant.clone(), id);
        if let Some(refused) = precondition(&state, &key, expected) {
            return Ok(refused);
        }
        state.entries.remove(&key);
        state.record(tenant, id, at, true);
        Ok(Write::Done(()))
    }

    async fn list(
        &self,
        tenant: &Tenant,
        request: &PageRequest,
    ) -> Result<Vec<EntryDocument>, StorageError> {
        let state = self.read();
        let key = request.sort.key;
        let mut found: Vec<(Position, &EntryDocument)> = state
            .entries
            .iter()
            .filter(|((owner, _), _)| owner == tenant)
            .map(|(_, stored)| stored)
            .filter(|stored| request.filter.matches(&stored.terms))
            .map(|stored| (Position::of(&stored.document, key), &stored.document))
            .filter(|(position, _)| match &request.after {
                None => true,
                Some(after) if request.sort.descending => position < after,
                Some(after) => position > after,
            })
            .collect();
        found.sort_by(|a, b| {
            if request.sort.descending {
                b.0.cmp(&a.0)
            } else {
                a.0.cmp(&b.0)
            }
        });
        Ok(found
            .into_iter()
            .take(request.limit)
            .map(|(_, entry)| entry.clone())
            .collect())
    }

    async fn changes(
        &self,
        tenant: &Tenant,
        after: FeedPosition,
        limit: usize,
    ) -> Result<Vec<Change>, StorageError> {
        let state = self.read();
        let mut found: Vec<Change> = state
            .changes
            .iter()
            .filter(|((owner, _), recorded)| {
                owner == tenant
                    && FeedPosition {
                        txn: 0,
                        seq: recorded.seq,
                    } > after
            })
            .map(|((_, id), recorded)| Change {
                position: FeedPosition {
                    txn: 0,
                    seq: recorded.seq,
                },
                id: *id,
                at: recorded.at,
                entry: (!recorded.deleted)
                    .then(|| state.entries.get(&(tenant.clone(), *id)))
                    .flatten()
                    .map(|stored| stored.document.clone()),
            })
            .collect();
        found.sort_by_key(|change| change.position);
        found.truncate(limit);
        Ok(found)
    }

    async fn feed_horizon(&self, tenant: &Tenant) -> Result<FeedPosition, StorageError> {
        Ok(self
            .read()
            .horizons
            .get(tenant)
            .copied()
            .unwrap_or_default())
    }

    async fn purge_changes(&self, before: Timestamp) -> Result<u64, StorageError> {
        let mut state = self.write();
        let mut purged = Vec::new();
        state.changes.retain(|(tenant, _), recorded| {
            let drop = recorded.deleted && recorded.at < before;
            if drop {
                purged.push((tenant.clone(), recorded.seq));
            }
            !drop
        });
        for (tenant, seq) in &purged {
            let horizon = state.horizons.entry(tenant.clone()).or_default();
            *horizon = (*horizon).max(FeedPosition { txn: 0, seq: *seq });
        }
        Ok(purged.len() as u64)
    }

    async fn claim_key(&self, claim: &ClaimRequest<'_>) -> Result<KeyClaim, StorageError> {
        let mut state = self.write();
        let key = (claim.tenant.clone(), claim.key.to_owned());
        if let Some(record) = state.keys.get(&key) {
            let expired = record.expires_at <= claim.now;
            let abandoned = record.created.is_none() && record.claimed_at < claim.stale_before;
            if !expired && !abandoned {
                return Ok(match &record.created {
                    Some(entry) => KeyClaim::Completed(entry.clone()),
                    None => KeyClaim::InFlight,
                });
            }
        }
        let record = KeyRecord {
            claimed_at: claim.now,
            expires_at: claim.expires_at,
            created: None,
        };
        state.keys.insert(key, record);
        Ok(KeyClaim::Claimed(Claim {
            tenant: claim.tenant.clone(),
            key: claim.key.to_owned(),
            claimed_at: claim.now,
        }))
    }

    async fn release_key(&self, claim: &Claim) -> Result<(), StorageError> {
        let mut state = self.write();
        let key = (claim.tenant.clone(), claim.key.clone());
        if state
            .keys
            .get(&key)
            .is_some_and(|record| record.created.is_none() && record.claimed_at == claim.claimed_at)
        {
            state.keys.remove(&key);
        }
        Ok(())
    }

    async fn purge_keys(&self, now: Timestamp) -> Result<u64, StorageError> {
        let mut state = self.write();
        let before = state.keys.len();
        state.keys.retain(|_, record| record.expires_at > now);
        Ok((before - state.keys.len()) as u64)
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StorageError> {
        Ok(self
            .read()
            .api_keys
            .iter()
            .find(|key| key.id == id)
            .cloned())
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StorageError> {
        self.write().api_keys.push(key.clone());
        Ok(())
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        let mut state = self.write();
        let key = state
            .api_keys
            .iter_mut()
            .find(|key| key.id == id && key.revoked_at.is_none());
        Ok(key.map(|key| key.revoked_at = Some(at)).is_some())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        Ok(self.read().api_keys.clone())
    }

    fn engine(&self) -> &'static str {
        "memory"
    }
}
