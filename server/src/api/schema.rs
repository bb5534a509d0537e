//! The API's JSON shapes, declared for poem-openapi so that the document it generates can be
//! compared with `openapi/addressbook.yaml` (see `tests/openapi_drift.rs`). Their constraints
//! come from the types of `constrained.rs`; request bodies are checked by the domain's own
//! validation (see `body.rs`), so these types *describe* requests and *write* responses.

use poem_openapi::{Enum, Object};
use serde::Serialize;
use uuid::Uuid;

use super::constrained::{
    CountryCode, Digits, EmailText, EntityTagText, Items, KeyText, Operations, Text,
};
use crate::domain::limits::{chars, digits};
use crate::domain::{self, Timestamp};

/// An entry as a client writes it.
#[derive(Object)]
pub struct EntryInput {
    pub full_name: Text<{ chars::FULL_NAME }>,
    #[oai(default)]
    pub addresses: Items<PostalAddress>,
    #[oai(default)]
    pub phone_numbers: Items<PhoneNumber>,
    #[oai(default)]
    pub fax_numbers: Items<PhoneNumber>,
    #[oai(default)]
    pub emails: Items<EmailAddress>,
    #[oai(default)]
    pub labels: Items<Text<{ chars::LABEL }>>,
}

/// Changes to an entry, as a JSON merge patch (RFC 7396).
#[derive(Object)]
pub struct EntryPatch {
    pub full_name: Option<Text<{ chars::FULL_NAME }>>,
    #[oai(nullable)]
    pub addresses: Option<Items<PostalAddress>>,
    #[oai(nullable)]
    pub phone_numbers: Option<Items<PhoneNumber>>,
    #[oai(nullable)]
    pub fax_numbers: Option<Items<PhoneNumber>>,
    #[oai(nullable)]
    pub emails: Option<Items<EmailAddress>>,
    #[oai(nullable)]
    pub labels: Option<Items<Text<{ chars::LABEL }>>>,
}

/// A stored entry.
#[derive(Object)]
pub struct Entry {
    #[oai(read_only)]
    pub id: Uuid,
    pub full_name: Text<{ chars::FULL_NAME }>,
    pub addresses: Vec<PostalAddress>,
    pub phone_numbers: Vec<PhoneNumber>,
    pub fax_numbers: Vec<PhoneNumber>,
    pub emails: Vec<EmailAddress>,
    pub labels: Vec<Text<{ chars::LABEL }>>,
    #[oai(read_only)]
    pub created_at: Timestamp,
    #[oai(read_only)]
    pub updated_at: Timestamp,
}

/// What a label becomes in a rename.
#[derive(Object)]
pub struct LabelRename {
    pub to: Text<{ chars::LABEL }>,
}

/// What a change of a label across the book did.
#[derive(Object)]
pub struct LabelChange {
    /// The label as it is now (renamed) or was (removed).
    pub label: String,
    /// How many entries changed.
    pub entries: i64,
}

/// One page of a listing.
#[derive(Object)]
pub struct EntryPage {
    pub items: Vec<Entry>,
    /// `null` on the last page; written out so clients need not guess.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// What happened to an entry.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum ChangeKind {
    Changed,
    Deleted,
}

/// The last change to one entry.
#[derive(Object)]
pub struct Change {
    pub kind: ChangeKind,
    pub id: Uuid,
    /// When the entry was written or deleted.
    pub at: Timestamp,
    /// The entry's `ETag`, for conditional writes; only when `changed`.
    #[oai(skip_serializing_if_is_none)]
    pub etag: Option<String>,
    /// The entry as it is now; only when `changed`.
    #[oai(skip_serializing_if_is_none)]
    pub entry: Option<Entry>,
}

/// One page of the change feed.
#[derive(Object)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Pass as `sync_token` to get what follows.
    pub next_sync_token: String,
    /// More changes follow at once; `false`: caught up, ask again later.
    pub more: bool,
}

/// Writes to many entries in one request.
#[derive(Object)]
pub struct BatchRequest {
    pub operations: Operations<BatchOperation>,
}

/// Which write an operation of a batch is.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum BatchOp {
    Create,
    Replace,
    Patch,
    Delete,
}

/// One write of a batch, as its single-entry form would make it.
#[derive(Object)]
pub struct BatchOperation {
    pub op: BatchOp,
    /// The entry written: for `replace`, `patch` and `delete`.
    pub id: Option<Uuid>,
    /// What `If-Match` would say: for `replace`, `patch` and `delete`.
    pub if_match: Option<EntityTagText>,
    /// What `Idempotency-Key` would say: for `create`.
    pub idempotency_key: Option<KeyText>,
    /// The entry to store: for `create` and `replace`.
    pub entry: Option<EntryInput>,
    /// The merge patch to apply: for `patch`.
    pub patch: Option<EntryPatch>,
}

/// What each operation of a batch did, in the order they were sent.
#[derive(Object)]
pub struct BatchResults {
    pub results: Vec<BatchResult>,
}

/// What one operation of a batch did.
#[derive(Object)]
pub struct BatchResult {
    /// The status the operation would have had as a request of its own.
    pub status: i32,
    /// The entry's id: absent only for a create that failed.
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<Uuid>,
    /// The entry's new `ETag`, when it was written.
    #[oai(skip_serializing_if_is_none)]
    pub etag: Option<String>,
    /// The entry as stored, after a create or a patch.
    #[oai(skip_serializing_if_is_none)]
    pub entry: Option<Entry>,
    /// Why the operation failed, when it did.
    #[oai(skip_serializing_if_is_none)]
    pub problem: Option<Problem>,
}

/// A postal address.
#[derive(Object)]
pub struct PostalAddress {
    #[oai(skip_serializing_if_is_none)]
    pub kind: Option<AddressKind>,
    #[oai(skip_serializing_if_is_none)]
    pub building_name: Option<Text<{ chars::BUILDING_NAME }>>,
    #[oai(skip_serializing_if_is_none)]
    pub unit_number: Option<Text<{ chars::UNIT_NUMBER }>>,
    #[oai(skip_serializing_if_is_none)]
    pub street_number: Option<Text<{ chars::STREET_NUMBER }>>,
    pub street_name: Text<{ chars::STREET_NAME }>,
    #[oai(skip_serializing_if_is_none)]
    pub locality: Option<Text<{ chars::LOCALITY }>>,
    #[oai(skip_serializing_if_is_none)]
    pub city: Option<Text<{ chars::CITY }>>,
    #[oai(skip_serializing_if_is_none)]
    pub province: Option<Text<{ chars::PROVINCE }>>,
    pub pincode: Text<{ chars::PINCODE }>,
    pub country: Text<{ chars::COUNTRY }>,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum AddressKind {
    Home,
    Work,
}

/// A phone or fax number.
#[derive(Object)]
pub struct PhoneNumber {
    #[oai(skip_serializing_if_is_none)]
    pub kind: Option<PhoneKind>,
    pub country_code: CountryCode,
    #[oai(skip_serializing_if_is_none)]
    pub area_code: Option<Digits<{ digits::AREA_CODE }>>,
    pub local_number: Digits<{ digits::LOCAL_NUMBER }>,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum PhoneKind {
    Home,
    Work,
    Mobile,
}

/// An e-mail address.
#[derive(Object)]
pub struct EmailAddress {
    #[oai(skip_serializing_if_is_none)]
    pub kind: Option<AddressKind>,
    pub email: EmailText,
}

/// Liveness report.
#[derive(Object)]
pub struct Health {
    pub uptime: f64,
}

/// Readiness report.
#[derive(Object)]
pub struct Readiness {
    pub ready: bool,
    pub uptime: f64,
}

/// An RFC 9457 problem document. Serialized with serde as a response of its own (see
/// `problem.rs`), and by poem-openapi as the `problem` of a batch's result: absent members are
/// left out either way.
#[derive(Object, Serialize, Debug)]
pub struct Problem {
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: i32,
    pub detail: String,
    pub instance: String,
    pub method: String,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<InvalidField>>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_chain: Option<Vec<String>>,
}

/// One reason a request was refused.
#[derive(Object, Serialize, Debug)]
pub struct InvalidField {
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    pub reason: String,
}

/// The readiness probe's problem document: a [`Problem`] plus the readiness report.
#[derive(Object, Serialize, Debug)]
pub struct NotReady {
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: i32,
    pub detail: String,
    pub instance: String,
    pub method: String,
    pub ready: bool,
    pub uptime: f64,
}

impl From<&domain::Entry> for Entry {
    fn from(entry: &domain::Entry) -> Self {
        let content = &entry.content;
        Self {
            id: entry.id,
            full_name: Text(content.full_name.clone()),
            addresses: content.addresses.iter().map(Into::into).collect(),
            phone_numbers: content.phone_numbers.iter().map(Into::into).collect(),
            fax_numbers: content.fax_numbers.iter().map(Into::into).collect(),
            emails: content.emails.iter().map(Into::into).collect(),
            labels: content.labels.iter().cloned().map(Text).collect(),
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        }
    }
}

impl From<&domain::PostalAddress> for PostalAddress {
    fn from(a: &domain::PostalAddress) -> Self {
        Self {
            kind: a.kind.map(Into::into),
            building_name: a.building_name.clone().map(Text),
            unit_number: a.unit_number.clone().map(Text),
            street_number: a.street_number.clone().map(Text),
            street_name: Text(a.street_name.clone()),
            locality: a.locality.clone().map(Text),
            city: a.city.clone().map(Text),
            province: a.province.clone().map(Text),
            pincode: Text(a.pincode.clone()),
            country: Text(a.country.clone()),
        }
    }
}

impl From<&domain::PhoneNumber> for PhoneNumber {
    fn from(p: &domain::PhoneNumber) -> Self {
        Self {
            kind: p.kind.map(Into::into),
            country_code: CountryCode(i32::from(p.country_code)),
            area_code: p.area_code.clone().map(Digits),
            local_number: Digits(p.local_number.clone()),
        }
    }
}

impl From<&domain::EmailAddress> for EmailAddress {
    fn from(e: &domain::EmailAddress) -> Self {
        Self {
            kind: e.kind.map(Into::into),
            email: EmailText(e.email.clone()),
        }
    }
}

impl From<domain::AddressKind> for AddressKind {
    fn from(kind: domain::AddressKind) -> Self {
        match kind {
            domain::AddressKind::Home => Self::Home,
            domain::AddressKind::Work => Self::Work,
        }
    }
}

impl From<domain::PhoneKind> for PhoneKind {
    fn from(kind: domain::PhoneKind) -> Self {
        match kind {
            domain::PhoneKind::Home => Self::Home,
            domain::PhoneKind::Work => Self::Work,
            domain::PhoneKind::Mobile => Self::Mobile,
        }
    }
}
