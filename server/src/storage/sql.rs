//! SQL that the SQLite and PostgreSQL engines share: both accept the same text (`$n` placeholders,
//! row-value comparisons). Statements are assembled here from fixed fragments only; every value a
//! client sent travels as a bound [`Arg`], which each engine binds in its own representation.

use uuid::Uuid;

use crate::domain::{EntryContent, Filter, PageRequest, SortKey, SortValue, TermKind, Timestamp};

/// A value to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Time(Timestamp),
    Id(Uuid),
    Int(i64),
}

/// SQL text and the arguments for its placeholders, in order.
#[derive(Debug, Default)]
pub struct Statement {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Statement {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    /// Adds an argument and returns its placeholder.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }
}

/// The columns every entry query selects, in the order the engines' row types expect.
pub const ENTRY_COLUMNS: &str = "id, version, created_at, updated_at, content";

/// One page of a listing: the filters as semi-joins on the terms index, the order and the keyset
/// position on the matching `entries_by_*` index.
pub fn list(request: &PageRequest) -> Statement {
    let mut statement = Statement::new(&format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE TRUE"));
    let Filter {
        text,
        city,
        country,
    } = &request.filter;
    if let Some(text) = text {
        let kind = statement.arg(Arg::Text(TermKind::Text.as_str().to_owned()));
        let low = statement.arg(Arg::Text(text.clone()));
        let range = match Filter::prefix_upper_bound(text) {
            Some(bound) => format!(
                "term >= {low} AND term < {}",
                statement.arg(Arg::Text(bound))
            ),
            None => format!("term >= {low}"),
        };
        statement.sql += &format!(
            " AND id IN (SELECT entry_id FROM entry_terms WHERE kind = {kind} AND {range})"
        );
    }
    for (kind, value) in [(TermKind::City, city), (TermKind::Country, country)] {
        if let Some(value) = value {
            let kind = statement.arg(Arg::Text(kind.as_str().to_owned()));
            let value = statement.arg(Arg::Text(value.clone()));
            statement.sql += &format!(
                " AND id IN (SELECT entry_id FROM entry_terms WHERE kind = {kind} AND term = {value})"
            );
        }
    }
    let column = match request.sort.key {
        SortKey::FullName => "sort_name",
        SortKey::CreatedAt => "created_at",
        SortKey::UpdatedAt => "updated_at",
    };
    let (after, direction) = if request.sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(position) = &request.after {
        let value = statement.arg(match &position.value {
            SortValue::Text(text) => Arg::Text(text.clone()),
            SortValue::Time(time) => Arg::Time(*time),
        });
        let id = statement.arg(Arg::Id(position.id));
        statement.sql += &format!(" AND ({column}, id) {after} ({value}, {id})");
    }
    let limit = statement.arg(Arg::Int(i64::try_from(request.limit).unwrap_or(i64::MAX)));
    statement.sql += &format!(" ORDER BY {column} {direction}, id {direction} LIMIT {limit}");
    statement
}

/// Indexes the search terms of entry `id`.
pub fn insert_terms(id: Uuid, content: &EntryContent) -> Statement {
    let mut statement = Statement::new("INSERT INTO entry_terms (kind, term, entry_id) VALUES ");
    for (i, (kind, term)) in content.search_terms().into_iter().enumerate() {
        let kind = statement.arg(Arg::Text(kind.as_str().to_owned()));
        let term = statement.arg(Arg::Text(term));
        let entry = statement.arg(Arg::Id(id));
        if i > 0 {
            statement.sql.push_str(", ");
        }
        statement.sql += &format!("({kind}, {term}, {entry})");
    }
    statement
}

pub const DELETE_TERMS: &str = "DELETE FROM entry_terms WHERE entry_id = $1";

/// Claims a key unless another live claim holds it: a free key, an expired one, or one whose
/// request never completed and is older than the staleness bound. Returns the key when claimed.
pub const CLAIM_KEY: &str = "INSERT INTO idempotency_keys (key, claimed_at, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at, expires_at = excluded.expires_at, \
     entry_id = NULL, entry_created_at = NULL, content = NULL \
     WHERE idempotency_keys.expires_at <= excluded.claimed_at \
     OR (idempotency_keys.entry_id IS NULL AND idempotency_keys.claimed_at < $4) \
     RETURNING key";

pub const READ_KEY: &str =
    "SELECT entry_id, entry_created_at, content FROM idempotency_keys WHERE key = $1";

/// Completes the claim made at `$5`; a claim taken over since has another `claimed_at`.
pub const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET entry_id = $2, entry_created_at = $3, content = $4 \
     WHERE key = $1 AND entry_id IS NULL AND claimed_at = $5";

pub const RELEASE_KEY: &str =
    "DELETE FROM idempotency_keys WHERE key = $1 AND entry_id IS NULL AND claimed_at = $2";

pub const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE expires_at <= $1";

pub const INSERT_ENTRY: &str = "INSERT INTO entries (id, version, created_at, updated_at, full_name, sort_name, content) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub const GET_ENTRY: &str =
    "SELECT id, version, created_at, updated_at, content FROM entries WHERE id = $1";

pub const ENTRY_VERSION: &str = "SELECT version FROM entries WHERE id = $1";

pub const DELETE_ENTRY: &str = "DELETE FROM entries WHERE id = $1 AND ($2 IS NULL OR version = $2)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Position, Sort};

    #[test]
    fn a_search_page_binds_every_value_and_orders_by_its_index() {
        let request = PageRequest {
            limit: 20,
            filter: Filter::new(Some("Sher"), Some("London"), None),
            sort: Sort {
                key: SortKey::FullName,
                descending: true,
            },
            after: Some(Position {
                value: SortValue::Text("sherlock".into()),
                id: Uuid::nil(),
            }),
        };
        let statement = list(&request);
        assert!(
            statement.sql.contains("term >= $2 AND term < $3"),
            "{}",
            statement.sql
        );
        assert!(
            statement.sql.contains("(sort_name, id) < ($6, $7)"),
            "{}",
            statement.sql
        );
        assert!(
            statement
                .sql
                .ends_with("ORDER BY sort_name DESC, id DESC LIMIT $8"),
            "{}",
            statement.sql
        );
        assert_eq!(statement.args.len(), 8);
        assert!(!statement.sql.contains("Sher") && !statement.sql.contains("london"));
    }
}
