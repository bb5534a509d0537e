//! The entry and its parts.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A point in time as the service stores it: UTC, truncated to whole microseconds so that every
/// storage engine (PostgreSQL keeps microseconds) returns exactly what it was given.
pub type Timestamp = DateTime<Utc>;

/// The current time, at the precision entries keep.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

/// A stored entry: its content plus what the service assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: Uuid,
    /// 1 when created, one more on every write: what the entry's ETag names.
    pub version: i64,
    pub content: EntryContent,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Entry {
    /// A new entry with a fresh id. Ids are UUIDv7: unique without coordination between server
    /// processes, and roughly time-ordered, which keeps index inserts cheap.
    pub fn create(content: EntryContent) -> Self {
        let at = now();
        Self {
            id: Uuid::now_v7(),
            version: 1,
            content,
            created_at: at,
            updated_at: at,
        }
    }
}

/// Everything a client writes about a person. What a client sends becomes one only through
/// [`EntryContent::from_json`] (or [`EntryContent::patched`] with a checked patch), which enforce
/// the entry's rules; storage engines read back what they stored from such values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryContent {
    pub full_name: String,
    pub addresses: Vec<PostalAddress>,
    pub phone_numbers: Vec<PhoneNumber>,
    pub fax_numbers: Vec<PhoneNumber>,
    pub emails: Vec<EmailAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AddressKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_number: Option<String>,
    pub street_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    pub pincode: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PhoneKind>,
    pub country_code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_code: Option<String>,
    pub local_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AddressKind>,
    pub email: String,
}

/// What a postal or e-mail address is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    Home,
    Work,
}

/// What a phone or fax number is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneKind {
    Home,
    Work,
    Mobile,
}

impl AddressKind {
    pub const ALL: [(&'static str, Self); 2] = [("home", Self::Home), ("work", Self::Work)];
}

impl PhoneKind {
    pub const ALL: [(&'static str, Self); 3] = [
        ("home", Self::Home),
        ("work", Self::Work),
        ("mobile", Self::Mobile),
    ];
}
