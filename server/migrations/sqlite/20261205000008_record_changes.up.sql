-- The change feed (GET /changes): one row per entry that exists or was deleted, naming the last
-- change to it. A write replaces its entry's row (REPLACE INTO), which takes a new `seq` from
-- AUTOINCREMENT: never reused, even after the newest rows are purged, so a position handed out
-- in a token is never given to a later change. SQLite has one writer, so changes commit in `seq`
-- order and `txn` is always 0 here (PostgreSQL orders by transaction first; see its migration).
CREATE TABLE entry_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    txn        INTEGER NOT NULL DEFAULT 0,
    tenant     TEXT    NOT NULL,
    entry_id   BLOB    NOT NULL,              -- UUID, 16 bytes; no foreign key: deletions stay
    changed_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    deleted    INTEGER NOT NULL DEFAULT 0,    -- 1: a tombstone, kept for the feed's history
    UNIQUE (tenant, entry_id)
) STRICT;

CREATE INDEX entry_changes_in_order ON entry_changes (tenant, txn, seq);
CREATE INDEX entry_changes_tombstones ON entry_changes (changed_at) WHERE deleted;

-- Per tenant, the last position whose tombstone was dropped when the history was trimmed: a
-- token before it may have missed a deletion and is answered 410.
CREATE TABLE change_horizons (
    tenant TEXT    NOT NULL PRIMARY KEY,
    txn    INTEGER NOT NULL,
    seq    INTEGER NOT NULL
) STRICT;

-- Entries stored before the feed existed are its first changes, oldest write first.
INSERT INTO entry_changes (tenant, entry_id, changed_at)
    SELECT tenant, id, updated_at FROM entries ORDER BY updated_at, id;
