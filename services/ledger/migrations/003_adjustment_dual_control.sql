-- Dual control of manual adjustments (issue 14), the only way money enters or leaves the books.
-- Every adjustment request is recorded here first, with the credential that asked for it, so
-- that each key's daily cap is a sum over its own rows. A request above the approval threshold
-- stops here until a second operator decides it; only then does the API put its
-- AdjustmentRequested command on ledger.commands (api_commands + outbox, as before), in the
-- transaction that records the approval. The primary key of adjustment_decisions makes the
-- first decision the only one, so an adjustment is sent to the ledger at most once.

CREATE TABLE ledger.adjustment_requests (
  adjustment_id uuid PRIMARY KEY,
  account_id uuid NOT NULL,
  idempotency_key text NOT NULL,
  request_fingerprint text NOT NULL,
  direction text NOT NULL CHECK (direction IN ('DEBIT', 'CREDIT')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 128),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  -- The credential's subject (key name or token sub) and, for API keys, its id.
  requested_by text NOT NULL,
  requested_by_key_id text,
  -- Whose daily cap the request counts against: `key:<keyId>` or `subject:<sub>`.
  cap_holder text NOT NULL,
  approval_required boolean NOT NULL,
  requested_at timestamptz NOT NULL,
  UNIQUE (account_id, idempotency_key)
);

-- The cap check sums one holder's requests in one currency since 00:00 UTC.
CREATE INDEX adjustment_requests_cap ON ledger.adjustment_requests
  (cap_holder, currency, requested_at) INCLUDE (amount_minor);
-- Lists, newest first.
CREATE INDEX adjustment_requests_recent ON ledger.adjustment_requests
  (requested_at DESC, adjustment_id DESC);

CREATE TABLE ledger.adjustment_decisions (
  adjustment_id uuid PRIMARY KEY REFERENCES ledger.adjustment_requests,
  outcome text NOT NULL CHECK (outcome IN ('APPROVED', 'DECLINED')),
  decided_by text NOT NULL,
  decided_by_key_id text,
  note text CHECK (length(note) BETWEEN 1 AND 500),
  decided_at timestamptz NOT NULL
);

-- Adjustments made before this migration were made without credentials: they keep their place
-- (idempotency keys, the Adjustment view) and count against nobody's cap.
INSERT INTO ledger.adjustment_requests (adjustment_id, account_id, idempotency_key,
    request_fingerprint, direction, amount_minor, currency, reference, reason, requested_by,
    requested_by_key_id, cap_holder, approval_required, requested_at)
  SELECT c.adjustment_id, c.account_id, c.idempotency_key, c.request_fingerprint,
         c.request->>'direction', (c.request->>'amountMinor')::bigint, c.request->>'currency',
         c.request->>'reference', c.request->>'reason', 'unauthenticated', NULL,
         'unauthenticated', false, c.accepted_at
    FROM ledger.api_commands c
   WHERE c.type = 'ADJUSTMENT' AND c.adjustment_id IS NOT NULL;

-- Who asked and who approved is evidence: append-only for every role, like the books.
CREATE TRIGGER adjustment_requests_append_only BEFORE UPDATE OR DELETE ON ledger.adjustment_requests
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER adjustment_requests_no_truncate BEFORE TRUNCATE ON ledger.adjustment_requests
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER adjustment_decisions_append_only BEFORE UPDATE OR DELETE ON ledger.adjustment_decisions
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER adjustment_decisions_no_truncate BEFORE TRUNCATE ON ledger.adjustment_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

GRANT SELECT, INSERT ON ledger.adjustment_requests, ledger.adjustment_decisions TO ledger_app;
