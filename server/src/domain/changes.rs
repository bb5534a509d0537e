//! The change feed: every entry a client has not seen in its current state, and every deletion,
//! in the order of the writes that made them, so that another system can mirror the book by asking
//! only for what changed since last time.
//!
//! Storage keeps one change per entry: its last one. A client that syncs sees each entry once, as
//! it is now, however often it changed in between; a deletion is a tombstone with the id and
//! when, kept for the configured history. A position in the feed is handed to the client as a
//! signed token, like a cursor.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::caller::Tenant;
use super::entry::{EntryDocument, Timestamp};
use super::page::Cursors;

/// Where a change stands in the feed. Changes are ordered by the transaction that made them,
/// then by the order they were recorded in it (see each engine for what `txn` is); a later
/// change to an entry always stands after its earlier ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    pub txn: i64,
    pub seq: i64,
}

/// The last change to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub position: FeedPosition,
    pub id: Uuid,
    /// When the entry was written or deleted.
    pub at: Timestamp,
    /// The entry as it is now; `None` when it was deleted.
    pub entry: Option<EntryDocument>,
}

/// What a client asked for: at most `limit` changes after `after`, or from the beginning (a full
/// sync) without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRequest {
    pub after: Option<FeedPosition>,
    pub limit: usize,
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Where the next page starts: the last change of this one, or where this one started.
    pub next: FeedPosition,
    /// More changes follow at once; `false` means the client has caught up.
    pub more: bool,
}

/// A token string that this service did not issue for this tenant, or that was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidToken;

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("is not a sync token this service issued")
    }
}

impl std::error::Error for InvalidToken {}

/// Tokens are versioned apart from cursors, and signed with a label of their own: a cursor is
/// never taken for a token, nor a token for a cursor.
const TOKEN_VERSION: &str = "c1";
const TOKEN_DOMAIN: &[u8] = b"addressbook change feed\x1e";
const SEP: char = '.';
const SIGNATURE_BYTES: usize = 16;

impl Cursors {
    fn token_mac(&self, payload: &str, tenant: &Tenant) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.key()).expect("HMAC takes keys of any length");
        mac.update(TOKEN_DOMAIN);
        mac.update(payload.as_bytes());
        // A token belongs to its tenant: another's is refused, never a peek past the boundary.
        mac.update(&[0x1e]);
        mac.update(tenant.as_str().as_bytes());
        mac
    }

    /// The opaque sync token handed to clients of `tenant` for `position`.
    pub fn encode_token(&self, position: FeedPosition, tenant: &Tenant) -> String {
        let payload = format!("{TOKEN_VERSION}{SEP}{}{SEP}{}", position.txn, position.seq);
        let signature =
            &self.token_mac(&payload, tenant).finalize().into_bytes()[..SIGNATURE_BYTES];
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    pub fn decode_token(&self, token: &str, tenant: &Tenant) -> Result<FeedPosition, InvalidToken> {
        let (payload, signature) = token.split_once('.').ok_or(InvalidToken)?;
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidToken)?)
            .map_err(|_| InvalidToken)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| InvalidToken)?;
        if signature.len() != SIGNATURE_BYTES {
            return Err(InvalidToken);
        }
        // Compared in constant time.
        self.token_mac(&payload, tenant)
            .verify_truncated_left(&signature)
            .map_err(|_| InvalidToken)?;
        let mut fields = payload.split(SEP);
        let (Some(TOKEN_VERSION), Some(txn), Some(seq), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(InvalidToken);
        };
        Ok(FeedPosition {
            txn: txn.parse().map_err(|_| InvalidToken)?,
            seq: seq.parse().map_err(|_| InvalidToken)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Filter, Position, Sort, SortValue};

    fn tenant() -> Tenant {
        Tenant::default_tenant()
    }

    #[test]
    fn a_token_survives_its_round_trip() {
        let cursors = Cursors::new(b"test key");
        for position in [
            FeedPosition::default(),
            FeedPosition { txn: 0, seq: 42 },
            FeedPosition {
                txn: 9_000_000_001,
                seq: i64::MAX,
            },
        ] {
            let token = cursors.encode_token(position, &tenant());
            assert_eq!(cursors.decode_token(&token, &tenant()), Ok(position));
        }
    }

    #[test]
    fn a_token_is_refused_when_edited_for_another_tenant_or_key_or_when_it_is_a_cursor() {
        let cursors = Cursors::new(b"test key");
        let token = cursors.encode_token(FeedPosition { txn: 7, seq: 8 }, &tenant());
        let other = Tenant::parse("other").unwrap();
        assert_eq!(cursors.decode_token(&token, &other), Err(InvalidToken));
        assert_eq!(
            Cursors::new(b"other key").decode_token(&token, &tenant()),
            Err(InvalidToken)
        );
        let (_, signature) = token.split_once('.').unwrap();
        let edited = format!("{}.{signature}", URL_SAFE_NO_PAD.encode("c1.7.9"));
        assert_eq!(cursors.decode_token(&edited, &tenant()), Err(InvalidToken));
        for garbage in ["", ".", "x.y", &token[1..]] {
            assert_eq!(cursors.decode_token(garbage, &tenant()), Err(InvalidToken));
        }

        let cursor = cursors.encode(
            &Position {
                value: SortValue::Text("a".into()),
                id: Uuid::nil(),
            },
            &tenant(),
            &Filter::default(),
            Sort::default(),
        );
        assert_eq!(cursors.decode_token(&cursor, &tenant()), Err(InvalidToken));
    }
}
