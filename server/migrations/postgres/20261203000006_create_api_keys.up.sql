-- API keys made with `addressbook-server keys create`, for service-to-service callers. Only the
-- SHA-256 of a key's secret is kept; the secret itself is shown once, when the key is made. Keys
-- are looked up by id across tenants (a reference table, were the schema distributed).
CREATE TABLE api_keys (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,  -- the part of the key before its secret
    tenant        text COLLATE "C" NOT NULL,
    scopes        text        NOT NULL,                   -- space-separated: read, write, admin
    secret_sha256 text        NOT NULL,                   -- hex
    name          text        NOT NULL,                   -- what it is for, for people
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz                             -- set when revoked; the key then fails
);
