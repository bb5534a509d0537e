//! An in-memory engine (`storage.engine: memory`): nothing survives a restart. Useful for demos
//! and as the reference the durable engines are compared with.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;
use uuid::Uuid;

use super::{Storage, StorageError};
use crate::domain::{Cursor, Entry, EntryContent, Timestamp};

#[derive(Default)]
pub struct MemoryStorage {
    state: RwLock<State>,
}

/// Entries in listing order, plus an index from id to listing key.
#[derive(Default)]
struct State {
    ordered: BTreeMap<Cursor, Entry>,
    keys: HashMap<Uuid, Cursor>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    // A poisoned lock means a thread panicked mid-update; every update here is a single map
    // operation, so the data is still consistent and serving on is safe.
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

#[async_trait]
impl Storage for MemoryStorage {
    async fn insert(&self, entry: &Entry) -> Result<(), StorageError> {
        let key = Cursor::after(entry);
        let mut state = self.write();
        state.keys.insert(entry.id, key);
        state.ordered.insert(key, entry.clone());
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Entry>, StorageError> {
        let state = self.read();
        Ok(state
            .keys
            .get(&id)
            .and_then(|key| state.ordered.get(key))
            .cloned())
    }

    async fn replace(
        &self,
        id: Uuid,
        content: &EntryContent,
        updated_at: Timestamp,
    ) -> Result<Option<Entry>, StorageError> {
        let mut state = self.write();
        let Some(key) = state.keys.get(&id).copied() else {
            return Ok(None);
        };
        let entry = state
            .ordered
            .get_mut(&key)
            .expect("index and entries agree");
        entry.content = content.clone();
        entry.updated_at = entry.updated_at.max(updated_at);
        Ok(Some(entry.clone()))
    }

    async fn delete(&self, id: Uuid) -> Result<bool, StorageError> {
        let mut state = self.write();
        let Some(key) = state.keys.remove(&id) else {
            return Ok(false);
        };
        state.ordered.remove(&key);
        Ok(true)
    }

    async fn list(&self, after: Option<Cursor>, limit: usize) -> Result<Vec<Entry>, StorageError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let state = self.read();
        let start = after.map_or(Unbounded, Excluded);
        Ok(state
            .ordered
            .range((start, Unbounded))
            .take(limit)
            .map(|(_, entry)| entry.clone())
            .collect())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
