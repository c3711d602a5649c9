-- The ledger: accounts, append-only transactions and entries, the balance projection and
-- remembered rejections. Runs as the schema owner, after the platform migration (the
-- ledger_app role, outbox, consumer positions).

-- Read-only access to the ledger for independent checkers (reconciliation).
-- Roles are cluster-wide: parallel migrations of two databases may race to create it.
DO $$
BEGIN
  CREATE ROLE ledger_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE TABLE ledger.accounts (
  account_id uuid PRIMARY KEY,
  owner_ref text NOT NULL CHECK (length(owner_ref) BETWEEN 1 AND 200),
  type text NOT NULL CHECK (type IN ('ASSET', 'LIABILITY', 'EQUITY', 'REVENUE', 'EXPENSE')),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status text NOT NULL CHECK (status IN ('OPEN', 'FROZEN', 'CLOSED')),
  -- NULL: no floor (system accounts). Otherwise the lowest balance a debit may leave.
  balance_floor_minor bigint,
  is_system boolean NOT NULL,
  system_kind text CHECK (system_kind IN ('CLEARING', 'FEES', 'SETTLEMENT')),
  opened_at timestamptz NOT NULL,
  status_changed_at timestamptz NOT NULL,
  UNIQUE (account_id, currency),
  CHECK ((is_system AND system_kind IS NOT NULL) OR (NOT is_system AND system_kind IS NULL))
);
CREATE UNIQUE INDEX accounts_one_system_account_per_kind ON ledger.accounts (system_kind, currency)
  WHERE is_system;

CREATE TABLE ledger.transactions (
  transaction_id uuid PRIMARY KEY,
  -- NULL for manual adjustments, which are keyed by their idempotency key instead.
  payment_id uuid,
  step text NOT NULL CHECK (step IN ('DEBIT', 'CREDIT', 'COMPENSATION', 'REFUND_DEBIT',
    'REFUND_CREDIT', 'REFUND_COMPENSATION', 'ADJUSTMENT')),
  sequence int NOT NULL CHECK (sequence >= 0),
  currency char(3) NOT NULL,
  -- Not a foreign key: CREDIT and REFUND_CREDIT reference a transaction of another partition,
  -- which replay may apply later; reconciliation verifies the references instead.
  references_transaction_id uuid,
  -- Idempotency key of the step (domain stepKeyOf): `<paymentId>:<step>:<sequence>` or
  -- `adjustment:<accountId>:<adjustmentId>`.
  step_key text NOT NULL UNIQUE,
  command_id uuid NOT NULL,
  correlation_id uuid NOT NULL,
  refund_id uuid,
  adjustment_id uuid,
  -- The customer account (the command's Kafka key) and its balance right after this posting:
  -- what PaymentStepPosted reports, kept so a redelivered command re-emits the identical event.
  account_id uuid NOT NULL,
  account_balance_after_minor bigint NOT NULL,
  -- Canonical content of the command: a re-sent step with other content is a conflict.
  command_fingerprint text NOT NULL,
  reference text,
  -- The instant the command was issued: derived from the event, so replay is byte-identical.
  posted_at timestamptz NOT NULL,
  UNIQUE (transaction_id, currency)
);
CREATE UNIQUE INDEX transactions_step_key ON ledger.transactions (payment_id, step, sequence)
  WHERE payment_id IS NOT NULL;
CREATE INDEX transactions_posted_at ON ledger.transactions (posted_at);

CREATE TABLE ledger.entries (
  entry_id uuid PRIMARY KEY,
  transaction_id uuid NOT NULL,
  entry_index smallint NOT NULL CHECK (entry_index >= 0),
  account_id uuid NOT NULL,
  direction text NOT NULL CHECK (direction IN ('DEBIT', 'CREDIT')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency char(3) NOT NULL,
  posted_at timestamptz NOT NULL,
  UNIQUE (transaction_id, entry_index),
  -- One currency per transaction, and it is the account's currency.
  FOREIGN KEY (transaction_id, currency) REFERENCES ledger.transactions (transaction_id, currency)
    DEFERRABLE INITIALLY DEFERRED,
  FOREIGN KEY (account_id, currency) REFERENCES ledger.accounts (account_id, currency)
);
CREATE INDEX entries_account_history ON ledger.entries (account_id, posted_at, entry_id);

-- Balance projection: fast reads and floor checks; rebuildable from entries, and
-- reconciliation proves it equals SUM(entries).
CREATE TABLE ledger.balances (
  account_id uuid PRIMARY KEY REFERENCES ledger.accounts (account_id),
  balance_minor bigint NOT NULL,
  debits_minor bigint NOT NULL DEFAULT 0 CHECK (debits_minor >= 0),
  credits_minor bigint NOT NULL DEFAULT 0 CHECK (credits_minor >= 0),
  entry_count bigint NOT NULL DEFAULT 0
);

-- Rejected steps are remembered by step key, so a re-delivered command gets the same answer.
-- payment_id is NULL for adjustments (and for malformed commands whose key is `malformed:...`).
CREATE TABLE ledger.rejections (
  step_key text PRIMARY KEY,
  payment_id uuid,
  step text NOT NULL,
  sequence int NOT NULL,
  reason text NOT NULL,
  detail text NOT NULL,
  account_id text NOT NULL,
  command_id uuid NOT NULL,
  correlation_id uuid NOT NULL,
  refund_id uuid,
  adjustment_id uuid,
  command_fingerprint text NOT NULL,
  rejected_at timestamptz NOT NULL
);

-- A step re-sent with different content: never applied, always reported.
CREATE TABLE ledger.command_conflicts (
  command_id uuid NOT NULL,
  step_key text NOT NULL,
  payment_id uuid,
  step text NOT NULL,
  sequence int NOT NULL,
  original_fingerprint text NOT NULL,
  conflicting_fingerprint text NOT NULL,
  source_topic text NOT NULL,
  source_partition int NOT NULL,
  source_offset bigint NOT NULL,
  PRIMARY KEY (source_topic, source_partition, source_offset)
);

-- What became of every account command and adjustment (GET /v1/commands/{id}). Written by the
-- consumer in the batch that decided it; first decision wins (a re-sent command id keeps it).
CREATE TABLE ledger.applied_commands (
  command_id uuid PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('OPEN_ACCOUNT', 'CHANGE_ACCOUNT_STATUS', 'ADJUSTMENT')),
  account_id text NOT NULL,
  -- APPLIED (including idempotent no-ops) or REJECTED.
  outcome text NOT NULL CHECK (outcome IN ('APPLIED', 'REJECTED')),
  rejection_reason text,
  detail text,
  adjustment_id uuid,
  transaction_id uuid,
  decided_at timestamptz NOT NULL
);

-- Writes accepted over HTTP, before the consumer decided them (acceptedAt, the request body of an
-- adjustment, the idempotency key that maps to it).
CREATE TABLE ledger.api_commands (
  command_id uuid PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('OPEN_ACCOUNT', 'CHANGE_ACCOUNT_STATUS', 'ADJUSTMENT')),
  account_id uuid NOT NULL,
  -- Adjustments: (account, Idempotency-Key) names one adjustment forever.
  idempotency_key text,
  request_fingerprint text,
  adjustment_id uuid UNIQUE,
  request jsonb NOT NULL,
  accepted_at timestamptz NOT NULL,
  UNIQUE (account_id, idempotency_key)
);

-- Append-only, enforced by PostgreSQL itself, for every role including the owner.
CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger.% is append-only: % refused (post a compensating transaction instead)',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON ledger.transactions
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON ledger.transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON ledger.entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER rejections_append_only BEFORE UPDATE OR DELETE ON ledger.rejections
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER rejections_no_truncate BEFORE TRUNCATE ON ledger.rejections
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- Every transaction balances. Entries are written first (their foreign key to the transaction
-- is deferred), then the transactions: each new transaction must find at least two entries,
-- one DEBIT and one CREDIT side summing equal, all in its currency. Entries can never be
-- added to a transaction that already exists. Statement-level, so a batch pays once.
CREATE FUNCTION ledger.assert_new_entries_open_transactions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  offending uuid;
BEGIN
  SELECT n.transaction_id INTO offending
  FROM new_entries n JOIN ledger.transactions t USING (transaction_id) LIMIT 1;
  IF offending IS NOT NULL THEN
    RAISE EXCEPTION 'entries added to existing transaction %', offending USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER entries_belong_to_new_transactions AFTER INSERT ON ledger.entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.assert_new_entries_open_transactions();

CREATE FUNCTION ledger.assert_transactions_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  offending record;
BEGIN
  SELECT t.transaction_id,
         count(e.entry_id) AS entry_count,
         coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'DEBIT'), 0) AS debits,
         coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'CREDIT'), 0) AS credits
    INTO offending
  FROM new_transactions t
  LEFT JOIN ledger.entries e ON e.transaction_id = t.transaction_id
  GROUP BY t.transaction_id
  HAVING count(e.entry_id) < 2
      OR coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'DEBIT'), 0)
         <> coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'CREDIT'), 0)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'transaction % does not balance: % entries, debits %, credits %',
      offending.transaction_id, offending.entry_count, offending.debits, offending.credits
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER transactions_balance AFTER INSERT ON ledger.transactions
  REFERENCING NEW TABLE AS new_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.assert_transactions_balanced();

-- Least privilege: the service may append to the books, never rewrite them.
GRANT USAGE ON SCHEMA ledger TO ledger_app, ledger_reader;
GRANT SELECT, INSERT ON ledger.transactions, ledger.entries, ledger.rejections,
  ledger.command_conflicts, ledger.applied_commands, ledger.api_commands TO ledger_app;
GRANT SELECT, INSERT, UPDATE ON ledger.accounts, ledger.balances TO ledger_app;
GRANT SELECT ON ALL TABLES IN SCHEMA ledger TO ledger_reader;
-- Tables of later migrations are readable by the independent checkers too.
ALTER DEFAULT PRIVILEGES IN SCHEMA ledger GRANT SELECT ON TABLES TO ledger_reader;
