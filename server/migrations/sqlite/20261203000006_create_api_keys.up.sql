-- API keys made with `addressbook-server keys create`, for service-to-service callers. Only the
-- SHA-256 of a key's secret is kept; the secret itself is shown once, when the key is made.
CREATE TABLE api_keys (
    id            TEXT    NOT NULL PRIMARY KEY,  -- the part of the key before its secret
    tenant        TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,              -- space-separated: read, write, admin
    secret_sha256 TEXT    NOT NULL,              -- hex
    name          TEXT    NOT NULL,              -- what it is for, for people
    created_at    INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC
    revoked_at    INTEGER                        -- set when revoked; the key then fails
) STRICT;
