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

/// An entry as storage keeps it: what the service assigned, and the content as the JSON object it
/// was stored as. Reads serve it as it is: [`EntryDocument::to_json`] writes the entry as clients
/// see it around that text, without parsing it and writing it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDocument {
    pub id: Uuid,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The key the name orders sort by ([`EntryContent::sort_name`]).
    pub sort_name: String,
    /// An [`EntryContent`] as a JSON object.
    pub content: String,
}

impl EntryDocument {
    pub fn of(entry: &Entry) -> Self {
        Self {
            id: entry.id,
            version: entry.version,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
            sort_name: entry.content.sort_name(),
            content: entry.content.to_json(),
        }
    }

    /// The entry, its content parsed.
    pub fn entry(&self) -> Result<Entry, serde_json::Error> {
        Ok(Entry {
            id: self.id,
            version: self.version,
            content: serde_json::from_str(&self.content)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The entry as one JSON object: `id`, the members of the content, `created_at` and
    /// `updated_at`.
    pub fn to_json(&self) -> String {
        let members = self
            .content
            .trim()
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .map(str::trim)
            .unwrap_or_default();
        let mut json = String::with_capacity(self.content.len() + 128);
        json.push_str("{\"id\":\"");
        json.push_str(
            self.id
                .as_hyphenated()
                .encode_lower(&mut Uuid::encode_buffer()),
        );
        json.push_str("\",");
        if !members.is_empty() {
            json.push_str(members);
            json.push(',');
        }
        for (name, time) in [
            ("created_at", self.created_at),
            ("updated_at", self.updated_at),
        ] {
            json.push('"');
            json.push_str(name);
            json.push_str("\":\"");
            json.push_str(&time.to_rfc3339());
            json.push_str("\",");
        }
        json.pop();
        json.push('}');
        json
    }
}

impl EntryContent {
    /// The content as the JSON object it is stored as.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an entry's content always serializes")
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
