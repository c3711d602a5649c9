-- Reconciliation: runs, what they found, imported statements, and the facts the checks need from
-- the events (commands, ledger outcomes, payment statuses). Runs as the schema owner, after the
-- platform migration (the reconciliation_app role, outbox, consumer positions).

-- Read-only access to the ledger: reconciliation_app only gets what ledger_reader has (SELECT on
-- the ledger schema). The ledger's migration creates the role too; whichever runs first wins.
DO $$
BEGIN
  CREATE ROLE ledger_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT ledger_reader TO reconciliation_app;

CREATE TABLE reconciliation.runs (
  run_id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('CONTINUOUS', 'ON_DEMAND', 'STATEMENT')),
  status text NOT NULL CHECK (status IN ('RUNNING', 'PASSED', 'DISCREPANCIES_FOUND', 'FAILED')),
  window_from timestamptz NOT NULL,
  window_to timestamptz NOT NULL CHECK (window_to > window_from),
  -- [{check, itemsChecked, discrepancyCount}] in the order performed.
  checks jsonb NOT NULL DEFAULT '[]',
  discrepancy_count int NOT NULL DEFAULT 0 CHECK (discrepancy_count >= 0),
  statement_id uuid,
  detail text,
  started_at timestamptz NOT NULL,
  completed_at timestamptz,
  CHECK ((status = 'RUNNING') = (completed_at IS NULL)),
  CHECK ((status = 'FAILED') = (detail IS NOT NULL))
);
CREATE INDEX runs_newest ON reconciliation.runs (started_at DESC, run_id DESC);
-- One on-demand run at a time, enforced by the database rather than by a process-local flag.
CREATE UNIQUE INDEX runs_one_on_demand_running ON reconciliation.runs (kind)
  WHERE kind = 'ON_DEMAND' AND status = 'RUNNING';

CREATE TABLE reconciliation.discrepancies (
  discrepancy_id uuid PRIMARY KEY,
  run_id uuid NOT NULL REFERENCES reconciliation.runs (run_id),
  check_name text NOT NULL,
  kind text NOT NULL,
  payment_id uuid,
  transaction_id uuid,
  account_id uuid,
  expected_minor bigint,
  found_minor bigint,
  currency char(3),
  reference text,
  detail text NOT NULL,
  detected_at timestamptz NOT NULL
);
CREATE INDEX discrepancies_newest ON reconciliation.discrepancies (detected_at DESC, discrepancy_id DESC);
CREATE INDEX discrepancies_run ON reconciliation.discrepancies (run_id);
CREATE INDEX discrepancies_payment ON reconciliation.discrepancies (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX discrepancies_account ON reconciliation.discrepancies (account_id) WHERE account_id IS NOT NULL;

-- Where the continuous run stopped: the next one starts there.
CREATE TABLE reconciliation.watermarks (
  name text PRIMARY KEY,
  position timestamptz NOT NULL
);

CREATE TABLE reconciliation.statements (
  statement_id uuid PRIMARY KEY,
  run_id uuid NOT NULL UNIQUE REFERENCES reconciliation.runs (run_id),
  received_at timestamptz NOT NULL,
  line_count int NOT NULL CHECK (line_count BETWEEN 0 AND 100000),
  window_from timestamptz NOT NULL,
  window_to timestamptz NOT NULL,
  sha256 char(64) NOT NULL,
  -- The StatementMatchReport as served by GET /v1/statements/{id}.
  report jsonb NOT NULL
);

CREATE TABLE reconciliation.statement_lines (
  statement_id uuid NOT NULL REFERENCES reconciliation.statements (statement_id),
  line int NOT NULL CHECK (line >= 2),
  reference text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
  currency char(3) NOT NULL,
  value_date date NOT NULL,
  -- MATCHED, AMOUNT_DIFFERENCE or UNMATCHED, and the entry when there is one.
  outcome text NOT NULL CHECK (outcome IN ('MATCHED', 'AMOUNT_DIFFERENCE', 'UNMATCHED')),
  entry_id uuid,
  PRIMARY KEY (statement_id, line),
  UNIQUE (statement_id, reference)
);

-- Facts from the events, fed exactly once by the consumer (group `reconciliation`).

-- Posting commands seen on ledger.commands. step_key: `<paymentId>:<step>:<sequence>` for payment
-- steps, `adjustment:<adjustmentId>` for adjustments; the outcome events carry the same key.
CREATE TABLE reconciliation.posting_commands (
  command_id uuid PRIMARY KEY,
  step_key text NOT NULL,
  payment_id uuid,
  step text NOT NULL,
  sequence int NOT NULL,
  account_id uuid NOT NULL,
  amount_minor bigint NOT NULL,
  currency char(3) NOT NULL,
  seen_at timestamptz NOT NULL
);
CREATE INDEX posting_commands_step_key ON reconciliation.posting_commands (step_key);
CREATE INDEX posting_commands_payment ON reconciliation.posting_commands (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX posting_commands_seen_at ON reconciliation.posting_commands (seen_at);

CREATE TABLE reconciliation.payment_requests (
  payment_id uuid PRIMARY KEY,
  payer_account_id uuid NOT NULL,
  payee_account_id uuid NOT NULL,
  amount_minor bigint NOT NULL,
  currency char(3) NOT NULL,
  requested_at timestamptz NOT NULL
);
CREATE INDEX payment_requests_requested_at ON reconciliation.payment_requests (requested_at);

-- Ledger outcome events (PaymentStepPosted, PostingRejected), deduplicated on eventId.
CREATE TABLE reconciliation.ledger_outcomes (
  event_id uuid PRIMARY KEY,
  outcome text NOT NULL CHECK (outcome IN ('POSTED', 'REJECTED')),
  step_key text NOT NULL,
  causation_id uuid,
  payment_id uuid,
  step text,
  sequence int NOT NULL,
  transaction_id uuid,
  account_id text NOT NULL,
  amount_minor bigint,
  currency char(3),
  -- POSTED: the entries as announced [{entryId, accountId, direction, amountMinor, currency}].
  entries jsonb,
  reason text,
  posted_at timestamptz NOT NULL
);
CREATE INDEX ledger_outcomes_step_key ON reconciliation.ledger_outcomes (step_key);
CREATE INDEX ledger_outcomes_transaction ON reconciliation.ledger_outcomes (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX ledger_outcomes_payment ON reconciliation.ledger_outcomes (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX ledger_outcomes_posted_at ON reconciliation.ledger_outcomes (posted_at) WHERE outcome = 'POSTED';

-- Latest saga state per payment (highest version wins) and every terminal state ever seen.
CREATE TABLE reconciliation.payment_statuses (
  payment_id uuid PRIMARY KEY,
  version int NOT NULL,
  status text NOT NULL,
  amount_minor bigint NOT NULL,
  currency char(3) NOT NULL,
  refunded_minor bigint NOT NULL,
  terminal_statuses text[] NOT NULL DEFAULT '{}',
  changed_at timestamptz NOT NULL
);
CREATE INDEX payment_statuses_changed_at ON reconciliation.payment_statuses (changed_at);

GRANT SELECT, INSERT, UPDATE ON reconciliation.runs, reconciliation.watermarks,
  reconciliation.payment_statuses TO reconciliation_app;
GRANT SELECT, INSERT ON reconciliation.discrepancies, reconciliation.statements,
  reconciliation.statement_lines, reconciliation.posting_commands, reconciliation.payment_requests,
  reconciliation.ledger_outcomes TO reconciliation_app;
