//! Operations of a batch (`Client::batch_addresses`) made in one call each, rather than through
//! the generated builder whose members only some operations take.

use crate::EntryPatch;
use crate::types::error::ConversionError;
use crate::types::{BatchOp, BatchOperation, BatchResult, EntryInput};

/// ```no_run
/// # async fn demo(client: addressbook_client::Client, id: uuid::Uuid)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use addressbook_client::types::{BatchOperation, BatchRequest, EntryInput};
/// let operations = vec![
///     BatchOperation::create(EntryInput::builder().full_name("Ada Lovelace").try_into()?)
///         .with_idempotency_key("import-2026-12-03-ada")?,
///     BatchOperation::delete(id).with_if_match("\"3\"")?,
/// ];
/// let done = client
///     .batch_addresses()
///     .body(BatchRequest::builder().operations(operations))
///     .send()
///     .await?;
/// for (i, result) in done.results.iter().enumerate() {
///     match &result.problem {
///         None => println!("{i}: {} {:?}", result.status, result.id),
///         Some(problem) => println!("{i}: {problem}"),
///     }
/// }
/// # Ok(())
/// # }
/// ```
impl BatchOperation {
    fn new(op: BatchOp) -> Self {
        Self {
            op,
            id: None,
            if_match: None,
            idempotency_key: None,
            entry: None,
            patch: None,
        }
    }

    /// Creates an entry, as `create_address` does.
    pub fn create(entry: EntryInput) -> Self {
        Self {
            entry: Some(entry),
            ..Self::new(BatchOp::Create)
        }
    }

    /// Replaces entry `id`, as `replace_address` does.
    pub fn replace(id: uuid::Uuid, entry: EntryInput) -> Self {
        Self {
            id: Some(id),
            entry: Some(entry),
            ..Self::new(BatchOp::Replace)
        }
    }

    /// Applies a merge patch to entry `id`, as `patch_address` does.
    pub fn patch(id: uuid::Uuid, patch: EntryPatch) -> Self {
        Self {
            id: Some(id),
            patch: Some(patch),
            ..Self::new(BatchOp::Patch)
        }
    }

    /// Deletes entry `id`, as `delete_address` does.
    pub fn delete(id: uuid::Uuid) -> Self {
        Self {
            id: Some(id),
            ..Self::new(BatchOp::Delete)
        }
    }

    /// Makes a replace, patch or delete only if the entry's `ETag` is one of `etags`, as
    /// `If-Match` does (the server refuses it on a create).
    pub fn with_if_match(self, etags: &str) -> Result<Self, ConversionError> {
        Ok(Self {
            if_match: Some(etags.try_into()?),
            ..self
        })
    }

    /// Makes a create at most once per `key`, as `Idempotency-Key` does (the server refuses it
    /// on other operations).
    pub fn with_idempotency_key(self, key: &str) -> Result<Self, ConversionError> {
        Ok(Self {
            idempotency_key: Some(key.try_into()?),
            ..self
        })
    }
}

impl BatchResult {
    /// Whether the operation was made (its `status` is a 2xx).
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
