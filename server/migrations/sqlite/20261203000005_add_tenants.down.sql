-- Back to one book without tenants, each table as its first migration made it. Entries keep
-- their ids (unique across tenants); of keys that several tenants used, the default tenant's stays.
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_with_tenants;
ALTER TABLE entry_terms RENAME TO entry_terms_with_tenants;
ALTER TABLE entries RENAME TO entries_with_tenants;
DROP INDEX entries_by_created;
DROP INDEX entries_by_updated;
DROP INDEX entries_by_name;
DROP INDEX entry_terms_by_entry;
DROP INDEX idempotency_keys_by_expiry;

CREATE TABLE entries (
    id         BLOB    NOT NULL PRIMARY KEY,  -- UUID, 16 bytes
    version    INTEGER NOT NULL,              -- 1 on create, +1 on every write: the ETag
    created_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    updated_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    full_name  TEXT    NOT NULL,
    sort_name  TEXT    NOT NULL,              -- full_name folded to lower case: the name order
    content    TEXT    NOT NULL               -- the entry as JSON (EntryContent)
) STRICT;
INSERT INTO entries
    SELECT id, version, created_at, updated_at, full_name, sort_name, content
    FROM entries_with_tenants;

CREATE TABLE entry_terms (
    kind     TEXT NOT NULL,   -- q, city or country
    term     TEXT NOT NULL,
    entry_id BLOB NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, term, entry_id)
) STRICT, WITHOUT ROWID;
INSERT INTO entry_terms SELECT kind, term, entry_id FROM entry_terms_with_tenants;

CREATE TABLE idempotency_keys (
    key              TEXT    NOT NULL PRIMARY KEY,
    claimed_at       INTEGER NOT NULL,   -- microseconds since the Unix epoch, UTC
    expires_at       INTEGER NOT NULL,
    entry_id         BLOB,               -- set once the request created its entry
    entry_created_at INTEGER,
    content          TEXT                -- the entry as created (JSON), to compare repeats with
) STRICT;
INSERT OR IGNORE INTO idempotency_keys
    SELECT key, claimed_at, expires_at, entry_id, entry_created_at, content
    FROM idempotency_keys_with_tenants ORDER BY tenant <> 'default';

DROP TABLE idempotency_keys_with_tenants;
DROP TABLE entry_terms_with_tenants;
DROP TABLE entries_with_tenants;

CREATE UNIQUE INDEX entries_by_created ON entries (created_at, id);
CREATE UNIQUE INDEX entries_by_updated ON entries (updated_at, id);
CREATE UNIQUE INDEX entries_by_name ON entries (sort_name, id);
CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id, kind, term);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
