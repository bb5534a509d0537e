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
        let mut json = String::with_capacity(self.content.len() + 128);
        self.write_json(&mut json);
        json
    }

    /// Appends [`EntryDocument::to_json`] to `out`, which a page of entries is written into.
    pub fn write_json(&self, out: &mut String) {
        let members = self
            .content
            .trim()
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .map(str::trim)
            .unwrap_or_default();
        out.push_str("{\"id\":\"");
        out.push_str(
            self.id
                .as_hyphenated()
                .encode_lower(&mut Uuid::encode_buffer()),
        );
        out.push_str("\",");
        if !members.is_empty() {
            out.push_str(members);
            out.push(',');
        }
        out.push_str("\"created_at\":\"");
        write_rfc3339(out, self.created_at);
        out.push_str("\",\"updated_at\":\"");
        write_rfc3339(out, self.updated_at);
        out.push_str("\"}");
    }
}

/// `time` as chrono's `to_rfc3339` writes it (`2026-12-02T01:57:39.123456+00:00`, the fraction
/// in as few of 0, 3, 6 or 9 digits as hold it), appended to `out` rather than allocated: a page
/// writes a hundred of them.
pub fn write_rfc3339(out: &mut String, time: Timestamp) {
    use chrono::{Datelike as _, Timelike as _};
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    let nanos = time.nanosecond() % 1_000_000_000;
    let _ = match nanos {
        0 => Ok(()),
        n if n % 1_000_000 == 0 => write!(out, ".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => write!(out, ".{:06}", n / 1_000),
        n => write!(out, ".{n:09}"),
    };
    out.push_str("+00:00");
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
    /// Labels that group entries (`family`, `suppliers`), no two equal once folded
    /// ([`super::search::fold`]). Entries stored before labels existed have none.
    #[serde(default)]
    pub labels: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_the_entry_as_one_json_object() {
        let entry = Entry::create(EntryContent {
            full_name: "Ada \"Countess\" Lovelace".into(),
            addresses: Vec::new(),
            phone_numbers: Vec::new(),
            fax_numbers: Vec::new(),
            emails: vec![EmailAddress {
                kind: None,
                email: "ada@example.org".into(),
            }],
            labels: vec!["Analysts".into()],
        });
        let json: serde_json::Value =
            serde_json::from_str(&EntryDocument::of(&entry).to_json()).expect("valid JSON");
        assert_eq!(json["id"], entry.id.to_string());
        assert_eq!(json["full_name"], entry.content.full_name);
        assert_eq!(json["emails"][0]["email"], "ada@example.org");
        assert_eq!(json["labels"], serde_json::json!(["Analysts"]));
        for (name, time) in [
            ("created_at", entry.created_at),
            ("updated_at", entry.updated_at),
        ] {
            assert_eq!(json[name], time.to_rfc3339(), "{name}");
        }
        assert_eq!(EntryDocument::of(&entry).entry().unwrap(), entry);

        // Whole seconds, milliseconds and microseconds are written as chrono writes them.
        for micros in [
            1_764_633_600_000_000,
            1_764_633_600_123_000,
            1_764_633_600_123_456,
        ] {
            let time = DateTime::from_timestamp_micros(micros).unwrap();
            let document = EntryDocument {
                created_at: time,
                updated_at: time,
                ..EntryDocument::of(&entry)
            };
            let json: serde_json::Value = serde_json::from_str(&document.to_json()).unwrap();
            assert_eq!(json["created_at"], time.to_rfc3339());
        }
    }
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
