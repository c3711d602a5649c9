-- API keys of machine clients. Only a SHA-256 of each key is stored: the secret is shown once
-- at creation and cannot be recovered from the database. A key is never deleted (revocation and
-- expiry are timestamps), so the audit trail can always name the key that made a request.
CREATE TABLE auth.api_keys (
  key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  key_sha256 bytea NOT NULL UNIQUE CHECK (length(key_sha256) = 32),
  scopes text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 50),
  -- NULL: the key is not bound; otherwise it only sees and moves money of these accounts.
  account_ids uuid[] CHECK (account_ids IS NULL OR cardinality(account_ids) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
  last_used_at timestamptz,
  revoked_at timestamptz,
  -- The key this one replaced (`keys rotate`).
  rotated_from text REFERENCES auth.api_keys (key_id)
);

-- What a service's HTTP edge needs and nothing more: read keys, and note when one was used.
-- Services join this group; creating, revoking and rotating keys is the owner's (the CLI's).
DO $$
BEGIN
  CREATE ROLE ledgerline_edge NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA auth TO ledgerline_edge;
GRANT SELECT ON auth.api_keys TO ledgerline_edge;
GRANT UPDATE (last_used_at) ON auth.api_keys TO ledgerline_edge;
