-- Entries. The listing order (created_at, id) has a unique index so keyset pagination seeks
-- straight to a page, whatever its number.
CREATE TABLE entries (
    id         BLOB    NOT NULL PRIMARY KEY,  -- UUID, 16 bytes
    created_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    updated_at INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    full_name  TEXT    NOT NULL,              -- copied out of content for sorting and search
    content    TEXT    NOT NULL               -- the entry as JSON (EntryContent)
) STRICT;

CREATE UNIQUE INDEX entries_listing ON entries (created_at, id);
