-- Entries. The listing order (created_at, id) has a unique index so keyset pagination seeks
-- straight to a page, whatever its number.
CREATE TABLE entries (
    id         uuid        NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    full_name  text        NOT NULL,  -- copied out of content for sorting and search
    content    jsonb       NOT NULL   -- the entry as JSON (EntryContent)
);

CREATE UNIQUE INDEX entries_listing ON entries (created_at, id);
