-- Entries, and the terms they are found by. Every listing order has a unique index ending in id,
-- so keyset pagination seeks straight to a page, whatever its number. Text keys use the "C"
-- collation (code point order) so that orders and prefix ranges are the same as on SQLite.
CREATE TABLE entries (
    id         uuid        NOT NULL PRIMARY KEY,
    version    bigint      NOT NULL,              -- 1 on create, +1 on every write: the ETag
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    full_name  text        NOT NULL,
    sort_name  text COLLATE "C" NOT NULL,         -- full_name folded to lower case: the name order
    content    jsonb       NOT NULL               -- the entry as JSON (EntryContent)
);

CREATE UNIQUE INDEX entries_by_created ON entries (created_at, id);
CREATE UNIQUE INDEX entries_by_updated ON entries (updated_at, id);
CREATE UNIQUE INDEX entries_by_name ON entries (sort_name, id);

-- One row per (kind, term) an entry is found by (see domain/search.rs). The primary key serves
-- prefix searches (term >= $q AND term < $q || U+10FFFF) and exact filters alike.
CREATE TABLE entry_terms (
    kind     text COLLATE "C" NOT NULL,   -- q, city or country
    term     text COLLATE "C" NOT NULL,
    entry_id uuid NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, term, entry_id)
);

CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id);
