//! Keyset pagination: a listing is ordered by `(created_at, id)` and a cursor is the key of the
//! last entry a page returned. Unlike an offset, a key stays meaningful while other clients add
//! and delete entries, so a walk over all pages sees every entry exactly once, and fetching page N
//! costs the same as fetching page 1 when storage has an index on the key.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::DateTime;
use uuid::Uuid;

use super::entry::{Entry, Timestamp};

/// The position after which a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub id: Uuid,
}

/// A cursor string that this service did not issue, or that was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

impl fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("is not a cursor this service issued")
    }
}

impl std::error::Error for InvalidCursor {}

/// A versioned prefix, so the format can change without misreading cursors already handed out.
const CURSOR_VERSION: &str = "v1";

impl Cursor {
    pub fn after(entry: &Entry) -> Self {
        Self {
            created_at: entry.created_at,
            id: entry.id,
        }
    }

    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        let micros = self.created_at.timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}.{micros}.{}", self.id.simple()))
    }

    pub fn decode(text: &str) -> Result<Self, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| InvalidCursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| InvalidCursor)?;
        let mut parts = text.split('.');
        let (Some(CURSOR_VERSION), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidCursor);
        };
        let micros: i64 = micros.parse().map_err(|_| InvalidCursor)?;
        Ok(Self {
            created_at: DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?,
            id: Uuid::try_parse(id).map_err(|_| InvalidCursor)?,
        })
    }
}

/// What a client asked for: at most `limit` entries after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<Cursor>,
}

/// One page of a listing and the cursor of the next one, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Entry>,
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entry::now;

    #[test]
    fn a_cursor_survives_its_round_trip() {
        let cursor = Cursor {
            created_at: now(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn junk_is_not_a_cursor() {
        for junk in [
            "",
            "abc",
            "!!!!",
            "djEuMTIzLm5vdC1hLXV1aWQ",
            &URL_SAFE_NO_PAD.encode("v2.1.x"),
        ] {
            assert_eq!(Cursor::decode(junk), Err(InvalidCursor), "{junk:?}");
        }
    }
}
