//! Batches: many writes in one request. Each operation is one of the single-entry writes, with
//! the same rules, and succeeds or fails on its own.

use uuid::Uuid;

use super::{EntryContent, EntryPatch, Precondition};

/// The most operations one batch may carry.
pub const MAX_OPERATIONS: usize = 200;

/// One write of a batch.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Creates an entry; with `key`, at most once per idempotency key, as a single create.
    Create {
        content: EntryContent,
        key: Option<String>,
    },
    /// Changes entry `id`, if its version satisfies `precondition`.
    Edit {
        id: Uuid,
        precondition: Option<Precondition>,
        edit: Edit,
    },
}

/// What an [`Operation::Edit`] does to its entry.
#[derive(Debug, Clone)]
pub enum Edit {
    Replace(EntryContent),
    Patch(EntryPatch),
    Delete,
}
