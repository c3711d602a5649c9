-- Whether a key may still act: not expired, and not revoked (a rotation's grace can set the
-- revocation in the future). The edge's lookup asks it, and so does a write that took its caller
-- from the edge's recent lookups, in its own statement: a key revoked before that statement runs
-- moves no money, whatever the edge remembered (platform/src/auth/authenticator.ts).
CREATE FUNCTION auth.key_is_live(key_id text) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$
    SELECT EXISTS (
      SELECT 1 FROM auth.api_keys k
       WHERE k.key_id = $1 AND k.expires_at > now()
         AND (k.revoked_at IS NULL OR k.revoked_at > now()))
  $$;
REVOKE EXECUTE ON FUNCTION auth.key_is_live(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.key_is_live(text) TO ledgerline_edge;
