-- Entries, and the terms they are found by. Every listing order has a unique index ending in id,
-- so keyset pagination seeks straight to a page, whatever its number.
CREATE TABLE entries (
    id         BLOB    NOT NULL PRIMARY KEY,  -- UUID, 16 bytes
    version    INTEGER NOT NULL,              -- 1 on create, +1 on every write: the ETag
    created_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    updated_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    full_name  TEXT    NOT NULL,
    sort_name  TEXT    NOT NULL,              -- full_name folded to lower case: the name order
    content    TEXT    NOT NULL               -- the entry as JSON (EntryContent)
) STRICT;

CREATE UNIQUE INDEX entries_by_created ON entries (created_at, id);
CREATE UNIQUE INDEX entries_by_updated ON entries (updated_at, id);
CREATE UNIQUE INDEX entries_by_name ON entries (sort_name, id);

-- One row per (kind, term) an entry is found by (see domain/search.rs). The primary key serves
-- prefix searches (term >= $q AND term < $q || U+10FFFF) and exact filters alike.
CREATE TABLE entry_terms (
    kind     TEXT NOT NULL,   -- q, city or country
    term     TEXT NOT NULL,
    entry_id BLOB NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, term, entry_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id);
