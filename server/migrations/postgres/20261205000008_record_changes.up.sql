-- The change feed (GET /changes): one row per entry that exists or was deleted, naming the last
-- change to it; a write updates its entry's row, giving it a new position.
--
-- A position is (txn, seq): the id of the transaction that wrote the row, then a sequence number.
-- Sequence numbers are taken before commit, so with several writers they commit out of order: a
-- reader that handed out a token at seq 11 while seq 10 was still in flight would never see 10.
-- Transaction ids have the same problem, but PostgreSQL says which of them can still commit: every
-- transaction older than the snapshot's xmin has ended. The feed orders by (txn, seq) and returns
-- only rows with txn below xmin, so no row can later appear before a position already returned.
-- txn is pg_current_xact_id() as bigint (64 bits, never wraps).
CREATE TABLE entry_changes (
    tenant     text COLLATE "C" NOT NULL,
    entry_id   uuid        NOT NULL,          -- no foreign key: deletions stay as tombstones
    txn        bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    seq        bigserial   NOT NULL,
    changed_at timestamptz NOT NULL,
    deleted    boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, entry_id)
);

CREATE INDEX entry_changes_in_order ON entry_changes (tenant, txn, seq);
CREATE INDEX entry_changes_tombstones ON entry_changes (changed_at) WHERE deleted;

-- Per tenant, the last position whose tombstone was dropped when the history was trimmed: a
-- token before it may have missed a deletion and is answered 410.
CREATE TABLE change_horizons (
    tenant text COLLATE "C" NOT NULL PRIMARY KEY,
    txn    bigint NOT NULL,
    seq    bigint NOT NULL
);

-- Entries stored before the feed existed are its first changes, oldest write first, at txn 0:
-- before every transaction.
INSERT INTO entry_changes (tenant, entry_id, txn, changed_at)
    SELECT tenant, id, 0, updated_at FROM entries ORDER BY updated_at, id;
