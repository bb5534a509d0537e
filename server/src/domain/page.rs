//! Keyset pagination: a listing is ordered by a sort key and then by id, and a cursor is the
//! position (key value and id) of the last entry a page returned. Unlike an offset, a position
//! stays meaningful while other clients add and delete entries, so a walk over all pages sees
//! every entry exactly once, and page N costs the same as page 1 when storage has an index on the
//! order.
//!
//! Cursors are signed together with the search and sort they were issued for: one that was edited,
//! or reused with other parameters, is refused rather than silently showing the wrong entries.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::DateTime;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::caller::Tenant;
use super::entry::{EntryDocument, Timestamp};
use super::search::{Filter, Sort, SortKey};

/// The value of an entry's sort key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortValue {
    Text(String),
    Time(Timestamp),
}

/// Where a page starts: after the entry with this sort value and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub value: SortValue,
    pub id: Uuid,
}

impl Position {
    pub fn of(entry: &EntryDocument, key: SortKey) -> Self {
        let value = match key {
            SortKey::FullName => SortValue::Text(entry.sort_name.clone()),
            SortKey::CreatedAt => SortValue::Time(entry.created_at),
            SortKey::UpdatedAt => SortValue::Time(entry.updated_at),
        };
        Self {
            value,
            id: entry.id,
        }
    }
}

/// What a client asked for: at most `limit` entries matching `filter`, in `sort` order, after
/// `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub filter: Filter,
    pub sort: Sort,
    pub after: Option<Position>,
}

/// One page of a listing and the position of the next one, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<EntryDocument>,
    pub next: Option<Position>,
}

/// A cursor string that this service did not issue for this search and order, or that was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

impl fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("is not a cursor this service issued for this search and sort order")
    }
}

impl std::error::Error for InvalidCursor {}

/// Issues and checks cursors with a key shared by every server process.
#[derive(Clone)]
pub struct Cursors {
    key: Vec<u8>,
}

/// A versioned prefix, so the format can change without misreading cursors already handed out.
const VERSION: &str = "v2";
/// Separates the fields of a cursor. Text fields cannot contain it: every text an entry holds is
/// free of control characters.
const SEP: char = '\u{1f}';
/// A 128-bit truncated HMAC-SHA-256: plenty against forgery, and keeps cursors short.
const SIGNATURE_BYTES: usize = 16;

impl Cursors {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// The signing key, for the sync tokens of the change feed.
    pub(super) fn key(&self) -> &[u8] {
        &self.key
    }

    fn mac(&self, payload: &str, tenant: &Tenant, filter: &Filter, sort: Sort) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(payload.as_bytes());
        // A cursor belongs to its tenant: another's is refused, never a peek past the boundary.
        mac.update(&[0x1e]);
        mac.update(tenant.as_str().as_bytes());
        // The search and order are signed, not stored: a cursor is only valid with them.
        let Filter {
            text,
            city,
            country,
            label,
        } = filter;
        for part in [text, city, country] {
            mac.update(&[0x1e]);
            mac.update(part.as_deref().unwrap_or("\u{0}").as_bytes());
        }
        // Signed only when present, so that cursors handed out before labels existed still
        // verify (a label is never empty, so the two forms cannot collide).
        if let Some(label) = label {
            mac.update(&[0x1e]);
            mac.update(label.as_bytes());
        }
        mac.update(&[0x1e, sort_code(sort)]);
        mac
    }

    /// The opaque cursor handed to clients of `tenant` for `position` in the listing `filter`
    /// and `sort`.
    pub fn encode(
        &self,
        position: &Position,
        tenant: &Tenant,
        filter: &Filter,
        sort: Sort,
    ) -> String {
        let value = match &position.value {
            SortValue::Text(text) => format!("t{text}"),
            SortValue::Time(time) => format!("m{}", time.timestamp_micros()),
        };
        let payload = format!("{VERSION}{SEP}{value}{SEP}{}", position.id.simple());
        let signature = &self
            .mac(&payload, tenant, filter, sort)
            .finalize()
            .into_bytes()[..SIGNATURE_BYTES];
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    pub fn decode(
        &self,
        cursor: &str,
        tenant: &Tenant,
        filter: &Filter,
        sort: Sort,
    ) -> Result<Position, InvalidCursor> {
        let (payload, signature) = cursor.split_once('.').ok_or(InvalidCursor)?;
        let payload =
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidCursor)?)
                .map_err(|_| InvalidCursor)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| InvalidCursor)?;
        if signature.len() != SIGNATURE_BYTES {
            return Err(InvalidCursor);
        }
        // Compared in constant time.
        self.mac(&payload, tenant, filter, sort)
            .verify_truncated_left(&signature)
            .map_err(|_| InvalidCursor)?;
        let mut fields = payload.split(SEP);
        let (Some(VERSION), Some(value), Some(id), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(InvalidCursor);
        };
        let value = match (sort.key, value.split_at_checked(1)) {
            (SortKey::FullName, Some(("t", text))) => SortValue::Text(text.to_owned()),
            (SortKey::CreatedAt | SortKey::UpdatedAt, Some(("m", micros))) => {
                let micros = micros.parse().map_err(|_| InvalidCursor)?;
                SortValue::Time(DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?)
            }
            _ => return Err(InvalidCursor),
        };
        Ok(Position {
            value,
            id: Uuid::try_parse(id).map_err(|_| InvalidCursor)?,
        })
    }
}

fn sort_code(sort: Sort) -> u8 {
    let key = match sort.key {
        SortKey::FullName => b'n',
        SortKey::CreatedAt => b'c',
        SortKey::UpdatedAt => b'u',
    };
    if sort.descending {
        key.to_ascii_uppercase()
    } else {
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entry::now;

    fn cursors() -> Cursors {
        Cursors::new(b"test key")
    }

    fn tenant() -> Tenant {
        Tenant::default_tenant()
    }

    fn by_name() -> Sort {
        Sort {
            key: SortKey::FullName,
            descending: true,
        }
    }

    #[test]
    fn a_cursor_survives_its_round_trip() {
        let filter = Filter::new(Some("sher"), Some("London"), None);
        let position = Position {
            value: SortValue::Text("sherlock holmes".into()),
            id: Uuid::now_v7(),
        };
        let cursor = cursors().encode(&position, &tenant(), &filter, by_name());
        assert_eq!(
            cursors().decode(&cursor, &tenant(), &filter, by_name()),
            Ok(position)
        );

        let position = Position {
            value: SortValue::Time(now()),
            id: Uuid::now_v7(),
        };
        let cursor = cursors().encode(&position, &tenant(), &Filter::default(), Sort::default());
        assert_eq!(
            cursors().decode(&cursor, &tenant(), &Filter::default(), Sort::default()),
            Ok(position)
        );
    }

    #[test]
    fn a_cursor_is_refused_with_other_parameters_or_another_key() {
        let position = Position {
            value: SortValue::Text("a".into()),
            id: Uuid::now_v7(),
        };
        let filter = Filter::new(Some("a"), None, None);
        let cursor = cursors().encode(&position, &tenant(), &filter, by_name());
        assert_eq!(
            cursors().decode(
                &cursor,
                &tenant(),
                &Filter::new(Some("b"), None, None),
                by_name()
            ),
            Err(InvalidCursor)
        );
        let ascending = Sort {
            descending: false,
            ..by_name()
        };
        assert_eq!(
            cursors().decode(&cursor, &tenant(), &filter, ascending),
            Err(InvalidCursor)
        );
        assert_eq!(
            Cursors::new(b"other").decode(&cursor, &tenant(), &filter, by_name()),
            Err(InvalidCursor)
        );
        let other = Tenant::parse("other").unwrap();
        assert_eq!(
            cursors().decode(&cursor, &other, &filter, by_name()),
            Err(InvalidCursor),
            "another tenant's cursor"
        );
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let position = Position {
            value: SortValue::Time(now()),
            id: Uuid::now_v7(),
        };
        let cursor = cursors().encode(&position, &tenant(), &Filter::default(), Sort::default());
        let (payload, signature) = cursor.split_once('.').unwrap();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(format!("v2{SEP}m0{SEP}{}", Uuid::nil().simple()));
        for junk in [
            String::new(),
            "abc".into(),
            payload.to_owned(),
            format!("{forged_payload}.{signature}"),
            format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 16])),
        ] {
            assert_eq!(
                cursors().decode(&junk, &tenant(), &Filter::default(), Sort::default()),
                Err(InvalidCursor),
                "{junk:?}"
            );
        }
    }
}
