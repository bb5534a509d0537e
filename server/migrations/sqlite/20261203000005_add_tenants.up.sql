-- Every entry, search term and idempotency key belongs to a tenant, which leads every key and
-- index: no query reaches past its tenant's rows, and each tenant's pages cost what they would if
-- it were alone. What was stored before tenants existed belongs to the tenant `default`.
-- SQLite cannot change a primary key in place: the tables are moved aside, made anew and filled.
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_before_tenants;
ALTER TABLE entry_terms RENAME TO entry_terms_before_tenants;
ALTER TABLE entries RENAME TO entries_before_tenants;
DROP INDEX entries_by_created;
DROP INDEX entries_by_updated;
DROP INDEX entries_by_name;
DROP INDEX entry_terms_by_entry;
DROP INDEX idempotency_keys_by_expiry;

CREATE TABLE entries (
    tenant     TEXT    NOT NULL,
    id         BLOB    NOT NULL,              -- UUID, 16 bytes
    version    INTEGER NOT NULL,              -- 1 on create, +1 on every write: the ETag
    created_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    updated_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    full_name  TEXT    NOT NULL,
    sort_name  TEXT    NOT NULL,              -- full_name folded to lower case: the name order
    content    TEXT    NOT NULL,              -- the entry as JSON (EntryContent)
    PRIMARY KEY (tenant, id)
) STRICT;
INSERT INTO entries
    SELECT 'default', id, version, created_at, updated_at, full_name, sort_name, content
    FROM entries_before_tenants;

CREATE TABLE entry_terms (
    tenant   TEXT NOT NULL,
    kind     TEXT NOT NULL,   -- q, city or country
    term     TEXT NOT NULL,
    entry_id BLOB NOT NULL,
    PRIMARY KEY (tenant, kind, term, entry_id),
    FOREIGN KEY (tenant, entry_id) REFERENCES entries (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO entry_terms SELECT 'default', kind, term, entry_id FROM entry_terms_before_tenants;

CREATE TABLE idempotency_keys (
    tenant           TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    claimed_at       INTEGER NOT NULL,   -- microseconds since the Unix epoch, UTC
    expires_at       INTEGER NOT NULL,
    entry_id         BLOB,               -- set once the request created its entry
    entry_created_at INTEGER,
    content          TEXT,               -- the entry as created (JSON), to compare repeats with
    PRIMARY KEY (tenant, key)
) STRICT;
INSERT INTO idempotency_keys
    SELECT 'default', key, claimed_at, expires_at, entry_id, entry_created_at, content
    FROM idempotency_keys_before_tenants;

DROP TABLE idempotency_keys_before_tenants;
DROP TABLE entry_terms_before_tenants;
DROP TABLE entries_before_tenants;

CREATE UNIQUE INDEX entries_by_created ON entries (tenant, created_at, id);
CREATE UNIQUE INDEX entries_by_updated ON entries (tenant, updated_at, id);
CREATE UNIQUE INDEX entries_by_name ON entries (tenant, sort_name, id);
CREATE INDEX entry_terms_by_entry ON entry_terms (tenant, entry_id, kind, term);
-- Expired keys are purged across tenants.
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
