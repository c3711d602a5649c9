-- Payment intents with their saga, refunds, and the idempotency records of the HTTP API.
-- The saga itself is the pure domain's value (jsonb); the columns beside it exist for the
-- list filters and for the invariants the database can check on its own.

CREATE TABLE processor.payments (
  id uuid PRIMARY KEY,
  payer_account_id uuid NOT NULL,
  payee_account_id uuid NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0 AND amount_minor <= 9007199254740990),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  description text CHECK (char_length(description) <= 500),
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
  state text NOT NULL CHECK (state IN ('PENDING', 'DEBITED', 'COMPLETED', 'REJECTED',
    'COMPENSATING', 'COMPENSATED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
  -- The domain Saga (services/processor/src/domain/saga.ts); state and version mirror it.
  saga jsonb NOT NULL,
  -- Optimistic concurrency: every applied transition bumps it by one.
  version int NOT NULL CHECK (version >= 0),
  -- Number of payments.status-changed events published so far (1 = accepted).
  status_version int NOT NULL CHECK (status_version >= 1),
  correlation_id uuid NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK (payer_account_id <> payee_account_id),
  CHECK ((saga ->> 'state') = state AND (saga ->> 'version')::int = version)
);

-- Newest first, then id: the list order and its cursor.
CREATE INDEX payments_created_idx ON processor.payments (created_at DESC, id DESC);
CREATE INDEX payments_payer_idx ON processor.payments (payer_account_id, created_at DESC, id DESC);
CREATE INDEX payments_payee_idx ON processor.payments (payee_account_id, created_at DESC, id DESC);
CREATE INDEX payments_state_idx ON processor.payments (state, created_at DESC, id DESC);

-- What the saga does not keep about a refund: why it was asked for and when.
CREATE TABLE processor.refunds (
  id uuid PRIMARY KEY,
  payment_id uuid NOT NULL REFERENCES processor.payments (id),
  sequence int NOT NULL CHECK (sequence BETWEEN 1 AND 100),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0 AND amount_minor <= 9007199254740990),
  reason text CHECK (char_length(reason) <= 500),
  created_at timestamptz NOT NULL,
  UNIQUE (payment_id, sequence)
);

-- One row per Idempotency-Key and scope (the operation, and for refunds the payment). The row
-- is inserted in the same transaction as the effect it guards, so a key exists exactly when
-- its effect does; a concurrent request with the same key waits on the row's insert.
CREATE TABLE processor.idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL CHECK (char_length(key) BETWEEN 8 AND 128),
  -- sha256 of the canonical JSON of the request body (domain/request-hash.ts).
  request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  response_status int NOT NULL CHECK (response_status BETWEEN 200 AND 299),
  -- json, not jsonb: a replay answers the stored body as it was, member order included.
  response_body json NOT NULL,
  response_location text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);

GRANT SELECT, INSERT, UPDATE ON processor.payments TO processor_app;
GRANT SELECT, INSERT ON processor.refunds TO processor_app;
GRANT SELECT, INSERT ON processor.idempotency_keys TO processor_app;

