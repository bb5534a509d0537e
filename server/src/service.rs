//! The address book's operations, as the API offers them, in terms of domain types. Knows nothing
//! of HTTP: handlers translate requests into calls here and [`ServiceError`]s into responses.

use std::sync::Arc;

use uuid::Uuid;

use crate::domain::{Cursor, Entry, EntryContent, Page, PageRequest};
use crate::storage::{Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no entry has this id")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Clone)]
pub struct AddressBook {
    storage: Arc<dyn Storage>,
}

impl AddressBook {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn create(&self, content: EntryContent) -> Result<Entry, ServiceError> {
        let entry = Entry::create(content);
        self.storage.insert(&entry).await?;
        tracing::debug!(id = %entry.id, "entry created");
        Ok(entry)
    }

    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn get(&self, id: Uuid) -> Result<Entry, ServiceError> {
        self.storage.get(id).await?.ok_or(ServiceError::NotFound)
    }

    #[tracing::instrument(skip(self, content), err(level = "debug"))]
    pub async fn replace(&self, id: Uuid, content: EntryContent) -> Result<Entry, ServiceError> {
        let updated_at = crate::domain::now();
        self.storage
            .replace(id, &content, updated_at)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn delete(&self, id: Uuid) -> Result<(), ServiceError> {
        match self.storage.delete(id).await? {
            true => Ok(()),
            false => Err(ServiceError::NotFound),
        }
    }

    #[tracing::instrument(skip(self), err(level = "debug"))]
    pub async fn list(&self, request: PageRequest) -> Result<Page, ServiceError> {
        // One extra row tells whether another page follows without a second query.
        let mut items = self.storage.list(request.after, request.limit + 1).await?;
        let next = if items.len() > request.limit {
            items.truncate(request.limit);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    pub async fn check_ready(&self) -> Result<(), StorageError> {
        self.storage.ping().await
    }
}
