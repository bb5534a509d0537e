-- One row the server rewrites to find out whether the database takes writes again after a
-- write failed (a full disk, a read-only file system, a lock held elsewhere): readiness stays
-- 503 until such a write commits.
CREATE TABLE storage_probe (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    written_at INTEGER NOT NULL   -- microseconds since the Unix epoch, UTC
) STRICT;

INSERT INTO storage_probe (id, written_at) VALUES (1, 0);
