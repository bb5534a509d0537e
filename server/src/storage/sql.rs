//! SQL that the SQLite and PostgreSQL engines share: both accept the same text (`$n` placeholders,
//! row-value comparisons). Statements are assembled here from fixed fragments only; every value a
//! client sent travels as a bound [`Arg`], which each engine binds in its own representation.

use uuid::Uuid;

use crate::domain::{
    ApiKey, Change, EntryDocument, FeedPosition, Filter, PageRequest, SortKey, SortValue, Tenant,
    TermKind, Timestamp,
};

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
    /// A statement whose first argument, `$1`, is the tenant.
    fn for_tenant(tenant: &Tenant) -> Self {
        Self {
            sql: String::new(),
            args: vec![Arg::Text(tenant.as_str().to_owned())],
        }
    }

    /// Adds an argument and returns its placeholder.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }
}

/// The columns every entry query selects, in the order [`DocumentRow`] names them.
macro_rules! document_columns {
    () => {
        "id, version, created_at, updated_at, sort_name, content"
    };
}

/// The values of one row of [`document_columns!`], in each engine's own types for the id and the
/// times; every engine turns them into an [`EntryDocument`] here.
pub struct DocumentRow<Id, Time> {
    pub id: Id,
    pub version: i64,
    pub created_at: Time,
    pub updated_at: Time,
    pub sort_name: String,
    pub content: String,
}

impl<Id, Time> DocumentRow<Id, Time> {
    pub fn into_document<E>(
        self,
        id: impl FnOnce(Id) -> Result<Uuid, E>,
        time: impl Fn(Time) -> Result<Timestamp, E>,
    ) -> Result<EntryDocument, E> {
        Ok(EntryDocument {
            id: id(self.id)?,
            version: self.version,
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
            sort_name: self.sort_name,
            content: self.content,
        })
    }
}

/// How a search reaches its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Collect the few entries the terms index names for the filter of this kind, then sort
    /// them: for selective searches.
    TermsFirst(TermKind),
    /// Walk the listing order's index and keep each entry that has a matching term, until the
    /// page is full: for searches that match much of the book (and for listings without a
    /// search).
    OrderFirst,
}

/// The SQL the engines do not share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A search's filters with fewer matching terms than this, for a page of `limit` in a book of
/// about `entries`, are answered terms first: collecting them and sorting costs at most this many
/// rows. Above it the listing order is walked, which costs about `limit × entries / matches`
/// probes. The two cost the same at `sqrt(limit × entries)` matches, kept between one and twenty
/// pages (twenty when the size of the book is not known). Neither engine keeps statistics of
/// term ranges that could tell the two apart better.
pub fn terms_first_below(limit: usize, entries: Option<u64>) -> usize {
    let limit = limit.max(1);
    match entries {
        Some(entries) => {
            ((entries.max(1) as f64 * limit as f64).sqrt().ceil() as usize).clamp(limit, 20 * limit)
        }
        None => 20 * limit,
    }
}

/// The condition that a term of the tenant `$1` is of `kind` and in the range a filter asks for.
fn term_condition(statement: &mut Statement, kind: TermKind, value: &str, prefix: bool) -> String {
    let kind = statement.arg(Arg::Text(kind.as_str().to_owned()));
    let low = statement.arg(Arg::Text(value.to_owned()));
    let range = match (prefix, Filter::prefix_upper_bound(value)) {
        (false, _) => format!("term = {low}"),
        (true, Some(bound)) => format!(
            "term >= {low} AND term < {}",
            statement.arg(Arg::Text(bound))
        ),
        (true, None) => format!("term >= {low}"),
    };
    format!("tenant = $1 AND kind = {kind} AND {range}")
}

/// The filters of `filter`, as (kind, value, whether a prefix matches).
fn filter_terms(filter: &Filter) -> Vec<(TermKind, &str, bool)> {
    let Filter {
        text,
        city,
        country,
        label,
    } = filter;
    [
        (TermKind::Text, text, true),
        (TermKind::City, city, false),
        (TermKind::Country, country, false),
        (TermKind::Label, label, false),
    ]
    .into_iter()
    .filter_map(|(kind, value, prefix)| value.as_deref().map(|value| (kind, value, prefix)))
    .collect()
}

/// One row with a column per filter of `request`: its matching terms, counted up to `cap`
/// ([`terms_first_below`]). `None` without filters.
pub fn count_matches(tenant: &Tenant, request: &PageRequest, cap: usize) -> Option<Statement> {
    let filters = filter_terms(&request.filter);
    if filters.is_empty() {
        return None;
    }
    let mut statement = Statement::for_tenant(tenant);
    let cap = statement.arg(Arg::Int(i64::try_from(cap).unwrap_or(i64::MAX)));
    let counts: Vec<String> = filters
        .into_iter()
        .map(|(kind, value, prefix)| {
            let condition = term_condition(&mut statement, kind, value, prefix);
            format!(
                "(SELECT count(*) FROM (SELECT 1 FROM entry_terms WHERE {condition} LIMIT {cap}) AS found)"
            )
        })
        .collect();
    statement.sql = format!("SELECT {}", counts.join(", "));
    Some(statement)
}

/// The strategy for `request`, given what [`count_matches`] counted up to `cap`.
pub fn strategy(request: &PageRequest, counts: &[i64], cap: usize) -> Strategy {
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    filter_terms(&request.filter)
        .into_iter()
        .zip(counts)
        .filter(|(_, count)| **count < cap)
        .min_by_key(|(_, count)| **count)
        .map_or(Strategy::OrderFirst, |((kind, _, _), _)| {
            Strategy::TermsFirst(kind)
        })
}

/// One page of a listing: the filters as conditions on the terms index, the order and the keyset
/// position on the matching `entries_by_*` index.
pub fn list(
    tenant: &Tenant,
    request: &PageRequest,
    strategy: Strategy,
    dialect: Dialect,
) -> Statement {
    let mut statement = Statement::for_tenant(tenant);
    let mut conditions = vec!["entries.tenant = $1".to_owned()];
    let mut from = "entries".to_owned();
    for (kind, value, prefix) in filter_terms(&request.filter) {
        let condition = term_condition(&mut statement, kind, value, prefix);
        match strategy {
            Strategy::TermsFirst(driver) if driver == kind => {
                // SQLite keeps the left side of a CROSS JOIN as the outer loop; PostgreSQL puts
                // the smaller side there by itself.
                let join = match dialect {
                    Dialect::Sqlite => "CROSS JOIN",
                    Dialect::Postgres => "JOIN",
                };
                from = format!(
                    "(SELECT DISTINCT entry_id FROM entry_terms WHERE {condition}) AS matched \
                     {join} entries ON entries.tenant = $1 AND entries.id = matched.entry_id"
                );
            }
            // A scalar subquery, not EXISTS: PostgreSQL would turn EXISTS into a join it may
            // answer by hashing every match; a subquery stays a probe per entry walked.
            _ => conditions.push(format!(
                "(SELECT TRUE FROM entry_terms WHERE entry_id = entries.id AND {condition} LIMIT 1)"
            )),
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
        conditions.push(format!(
            "(entries.{column}, entries.id) {after} ({value}, {id})"
        ));
    }
    let limit = statement.arg(Arg::Int(i64::try_from(request.limit).unwrap_or(i64::MAX)));
    let columns = document_columns!()
        .split(", ")
        .map(|column| format!("entries.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let conditions = conditions.join(" AND ");
    statement.sql = format!(
        "SELECT {columns} FROM {from} WHERE {conditions} \
         ORDER BY entries.{column} {direction}, entries.id {direction} LIMIT {limit}"
    );
    statement
}

// Every statement below names the tenant first ($1): it leads every key and index.

/// One entry, one row: what SQLite runs, prepared once, for each new entry.
pub const INSERT_ENTRY: &str = "INSERT INTO entries \
     (tenant, id, version, created_at, updated_at, full_name, sort_name, content) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// One term, one row: what SQLite runs, prepared once, for each term.
pub const INSERT_TERM: &str =
    "INSERT INTO entry_terms (tenant, kind, term, entry_id) VALUES ($1, $2, $3, $4)";

/// PostgreSQL: any number of new entries in one statement, one array per column ($2 to $8, in
/// the order of the columns), whose text never changes, so it is prepared once per connection.
pub const PG_INSERT_ENTRIES: &str = "INSERT INTO entries \
     (tenant, id, version, created_at, updated_at, full_name, sort_name, content) \
     SELECT $1, u.* FROM UNNEST($2::uuid[], $3::bigint[], $4::timestamptz[], \
     $5::timestamptz[], $6::text[], $7::text[], $8::text[]) AS u";

/// PostgreSQL: the first change of each new entry ($2 ids, $3 times), in this transaction and
/// in the order given.
pub const PG_RECORD_NEW_CHANGES: &str = "INSERT INTO entry_changes \
     (tenant, entry_id, changed_at, deleted) \
     SELECT $1, u.id, u.at, FALSE FROM UNNEST($2::uuid[], $3::timestamptz[]) AS u(id, at)";

/// PostgreSQL: any number of terms ($2 kinds, $3 terms, $4 entry ids) in one statement.
pub const PG_INSERT_TERMS: &str = "INSERT INTO entry_terms (tenant, kind, term, entry_id) \
     SELECT $1, u.kind, u.term, u.entry_id \
     FROM UNNEST($2::text[], $3::text[], $4::uuid[]) AS u(kind, term, entry_id)";

pub const DELETE_TERMS: &str = "DELETE FROM entry_terms WHERE tenant = $1 AND entry_id = $2";

/// Claims a key unless another live claim holds it: a free key, an expired one, or one whose
/// request never completed and is older than the staleness bound. Returns the key when claimed.
pub const CLAIM_KEY: &str = "INSERT INTO idempotency_keys (tenant, key, claimed_at, expires_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant, key) DO UPDATE SET claimed_at = excluded.claimed_at, \
     expires_at = excluded.expires_at, entry_id = NULL, entry_created_at = NULL, content = NULL \
     WHERE idempotency_keys.expires_at <= excluded.claimed_at \
     OR (idempotency_keys.entry_id IS NULL AND idempotency_keys.claimed_at < $5) \
     RETURNING key";

pub const READ_KEY: &str = "SELECT entry_id, entry_created_at, content FROM idempotency_keys \
     WHERE tenant = $1 AND key = $2";

/// Completes the claim made at `$6`; a claim taken over since has another `claimed_at`.
pub const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET entry_id = $3, entry_created_at = $4, content = $5 \
     WHERE tenant = $1 AND key = $2 AND entry_id IS NULL AND claimed_at = $6";

pub const RELEASE_KEY: &str = "DELETE FROM idempotency_keys \
     WHERE tenant = $1 AND key = $2 AND entry_id IS NULL AND claimed_at = $3";

pub const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE expires_at <= $1";

pub const GET_ENTRY: &str = concat!(
    "SELECT ",
    document_columns!(),
    " FROM entries WHERE tenant = $1 AND id = $2"
);

/// Replaces the content if the version is `$7` (any when NULL), bumping the version; `updated_at`
/// never goes backwards (the clocks of several server processes are not in step).
pub const REPLACE_ENTRY: &str = "UPDATE entries SET content = $3, full_name = $4, sort_name = $5, \
     version = version + 1, updated_at = CASE WHEN updated_at > $6 THEN updated_at ELSE $6 END \
     WHERE tenant = $1 AND id = $2 AND (CAST($7 AS BIGINT) IS NULL OR version = $7) \
     RETURNING version, created_at, updated_at";

/// The id and content of every entry of tenant `$1` with a term of kind `$2` equal to `$3`: the
/// entries a relabel changes.
macro_rules! labelled_entries {
    () => {
        "SELECT e.id, e.content FROM entries e \
         JOIN entry_terms t ON t.tenant = e.tenant AND t.entry_id = e.id \
         WHERE t.tenant = $1 AND t.kind = $2 AND t.term = $3"
    };
}
pub const LABELLED_ENTRIES: &str = labelled_entries!();

/// [`LABELLED_ENTRIES`], locking the rows it reads until the transaction ends (PostgreSQL): a
/// concurrent write of one of them waits, rather than being overwritten with the content read
/// here. SQLite needs no lock: its one writer runs the relabel alone.
pub const LABELLED_ENTRIES_FOR_UPDATE: &str = concat!(labelled_entries!(), " FOR UPDATE OF e");

pub const ENTRY_VERSION: &str = "SELECT version FROM entries WHERE tenant = $1 AND id = $2";

/// Deletes the entry if its version is `$3` (any when NULL); its terms go with it (ON DELETE
/// CASCADE).
pub const DELETE_ENTRY: &str = "DELETE FROM entries \
     WHERE tenant = $1 AND id = $2 AND (CAST($3 AS BIGINT) IS NULL OR version = $3)";

/// Records that entry `$2` of tenant `$1` changed at `$3` (was deleted when `$4`), replacing
/// the entry's earlier change: the row moves to a new position at the end of the feed. Each
/// engine assigns the position its own way (see the migrations that make `entry_changes`).
pub fn record_change(dialect: Dialect) -> &'static str {
    match dialect {
        // REPLACE deletes the entry's row and inserts a new one, with the next AUTOINCREMENT seq.
        Dialect::Sqlite => {
            "REPLACE INTO entry_changes (tenant, entry_id, changed_at, deleted) \
             VALUES ($1, $2, $3, $4)"
        }
        // DEFAULT: this transaction's id and the next sequence number.
        Dialect::Postgres => {
            "INSERT INTO entry_changes (tenant, entry_id, changed_at, deleted) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, entry_id) DO UPDATE \
             SET txn = DEFAULT, seq = DEFAULT, changed_at = excluded.changed_at, \
             deleted = excluded.deleted"
        }
    }
}

/// The columns of a change and its entry (NULL when deleted), as [`ChangeRow`] names them.
macro_rules! changes_after {
    ($settled:literal) => {
        concat!(
            "SELECT c.txn, c.seq, c.entry_id, c.changed_at, c.deleted, ",
            "e.version, e.created_at, e.updated_at, e.sort_name, e.content ",
            "FROM entry_changes c LEFT JOIN entries e ON e.tenant = c.tenant AND e.id = c.entry_id ",
            "WHERE c.tenant = $1 AND (c.txn, c.seq) > ($2, $3)",
            $settled,
            " ORDER BY c.txn, c.seq LIMIT $4"
        )
    };
}

/// Up to `$4` changes of tenant `$1` after position (`$2`, `$3`), in feed order, with each entry
/// as it is now: only changes that no other can come before any more.
pub fn changes_after(dialect: Dialect) -> &'static str {
    match dialect {
        // One writer: every committed change follows every earlier one.
        Dialect::Sqlite => changes_after!(""),
        // Every transaction whose id is below the snapshot's xmin has ended: no change of one of
        // them can still appear. A change of a later transaction waits, even committed, until
        // every transaction older than it has ended, so the feed never hands out a position
        // that an older transaction's commit would then come before.
        Dialect::Postgres => {
            changes_after!(" AND c.txn < pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        }
    }
}

pub const FEED_HORIZON: &str = "SELECT txn, seq FROM change_horizons WHERE tenant = $1";

/// Drops the tombstones of deletions before `$1`, answering their positions. On PostgreSQL only
/// those of transactions below the snapshot's xmin, which the feed shows already: every change
/// before the horizon they raise is then visible, so a caught-up sync may move its token up to
/// the horizon without passing a change still to come (see `AddressBook::changes`).
pub fn purge_tombstones(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "DELETE FROM entry_changes WHERE deleted AND changed_at < $1 \
             RETURNING tenant, txn, seq"
        }
        Dialect::Postgres => {
            "DELETE FROM entry_changes WHERE deleted AND changed_at < $1 \
             AND txn < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
             RETURNING tenant, txn, seq"
        }
    }
}

/// Moves tenant `$1`'s horizon to (`$2`, `$3`) unless it is past that already.
pub const RAISE_HORIZON: &str = "INSERT INTO change_horizons (tenant, txn, seq) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant) DO UPDATE SET txn = excluded.txn, seq = excluded.seq \
     WHERE (change_horizons.txn, change_horizons.seq) < (excluded.txn, excluded.seq)";

/// The values of one row of [`changes_after`], in each engine's own types for the id and times.
pub struct ChangeRow<Id, Time> {
    pub txn: i64,
    pub seq: i64,
    pub id: Id,
    pub changed_at: Time,
    pub deleted: bool,
    pub version: Option<i64>,
    pub created_at: Option<Time>,
    pub updated_at: Option<Time>,
    pub sort_name: Option<String>,
    pub content: Option<String>,
}

impl<Id, Time> ChangeRow<Id, Time> {
    pub fn into_change<E>(
        self,
        id: impl Fn(Id) -> Result<Uuid, E>,
        time: impl Fn(Time) -> Result<Timestamp, E>,
    ) -> Result<Change, E> {
        let id = id(self.id)?;
        let entry = match (
            self.deleted,
            self.version,
            self.created_at,
            self.updated_at,
            self.sort_name,
            self.content,
        ) {
            (
                false,
                Some(version),
                Some(created_at),
                Some(updated_at),
                Some(sort_name),
                Some(content),
            ) => Some(EntryDocument {
                id,
                version,
                created_at: time(created_at)?,
                updated_at: time(updated_at)?,
                sort_name,
                content,
            }),
            // A tombstone (an entry's row and its change go in one transaction, so a change
            // without its entry is a deletion too).
            _ => None,
        };
        Ok(Change {
            position: FeedPosition {
                txn: self.txn,
                seq: self.seq,
            },
            id,
            at: time(self.changed_at)?,
            entry,
        })
    }
}

/// The tenant and position of each tombstone [`purge_tombstones`] dropped: the last position
/// of each tenant, to raise its horizon to.
pub fn horizons(
    purged: impl IntoIterator<Item = (String, FeedPosition)>,
) -> Vec<(String, FeedPosition)> {
    let mut last = std::collections::BTreeMap::<String, FeedPosition>::new();
    for (tenant, position) in purged {
        let horizon = last.entry(tenant).or_default();
        *horizon = (*horizon).max(position);
    }
    last.into_iter().collect()
}

pub const FIND_API_KEY: &str = "SELECT id, tenant, scopes, secret_sha256, name, created_at, revoked_at \
     FROM api_keys WHERE id = $1";

pub const CREATE_API_KEY: &str = "INSERT INTO api_keys \
     (id, tenant, scopes, secret_sha256, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

pub const REVOKE_API_KEY: &str =
    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

pub const LIST_API_KEYS: &str = "SELECT id, tenant, scopes, secret_sha256, name, created_at, revoked_at \
     FROM api_keys ORDER BY created_at, id";

/// The values of one row of the API key queries, in each engine's own type for times.
pub struct ApiKeyRow<Time> {
    pub id: String,
    pub tenant: String,
    pub scopes: String,
    pub secret_sha256: String,
    pub name: String,
    pub created_at: Time,
    pub revoked_at: Option<Time>,
}

impl<Time> ApiKeyRow<Time> {
    pub fn into_key(self, time: impl Fn(Time) -> Timestamp) -> Result<ApiKey, String> {
        Ok(ApiKey {
            tenant: Tenant::parse(&self.tenant)
                .map_err(|err| format!("API key {}: {err}", self.id))?,
            id: self.id,
            scopes: ApiKey::scopes_named(&self.scopes),
            secret_sha256: self.secret_sha256,
            name: self.name,
            created_at: time(self.created_at),
            revoked_at: self.revoked_at.map(time),
        })
    }
}

/// What readiness reads: a database without the schema cannot serve.
pub const PING: &str = "SELECT 1 FROM entries, idempotency_keys LIMIT 1";

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
        let statement = list(
            &Tenant::default_tenant(),
            &request,
            Strategy::TermsFirst(TermKind::Text),
            Dialect::Postgres,
        );
        assert!(
            statement.sql.contains("term >= $3 AND term < $4"),
            "{}",
            statement.sql
        );
        assert!(
            statement
                .sql
                .contains("(entries.sort_name, entries.id) < ($7, $8)"),
            "{}",
            statement.sql
        );
        assert!(
            statement
                .sql
                .ends_with("ORDER BY entries.sort_name DESC, entries.id DESC LIMIT $9"),
            "{}",
            statement.sql
        );
        assert_eq!(statement.args.len(), 9);
        assert!(!statement.sql.contains("Sher") && !statement.sql.contains("london"));
    }
}
