//! What an address-book entry is and the rules it obeys. Nothing here knows about HTTP or SQL:
//! the API layer turns requests into these types and storage engines persist them.

mod batch;
mod caller;
mod changes;
mod entry;
mod labels;
pub mod limits;
mod page;
mod patch;
mod precondition;
mod search;
mod validation;

pub use batch::{Edit, MAX_OPERATIONS, Operation};
pub use caller::{ApiKey, Caller, InvalidTenant, Scope, TENANT_CHARS, Tenant};
pub use changes::{Change, ChangePage, ChangeRequest, FeedPosition, InvalidToken};
pub use entry::{
    AddressKind, EmailAddress, Entry, EntryContent, EntryDocument, PhoneKind, PhoneNumber,
    PostalAddress, Timestamp, now, write_rfc3339,
};
pub use page::{Cursors, InvalidCursor, Page, PageRequest, Position, SortValue};
pub use patch::EntryPatch;
pub use precondition::{Comparison, Precondition, Tag};
pub use search::{Filter, Sort, SortKey, TermKind, fold};
pub use validation::{FieldError, ValidationErrors, child as child_pointer, rename_target};
