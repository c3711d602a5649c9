-- The ledger's read contract for other services (contracts/sql/ledger_read.yaml): versioned
-- views in their own schema, the only part of the ledger an independent checker may read.
-- The ledger's tables stay free to change; a migration that would change or drop a column a
-- view shows fails here (PostgreSQL refuses it while the view depends on the column), and one
-- that replaces a view with other columns fails test/ledger-read-contract.test.ts.
--
-- Plain projections, no functions, no security_barrier: the planner inlines them, so a query on
-- ledger_read.v1_entries uses the indexes of ledger.entries exactly as a query on the table does.
-- Views run with their owner's rights, so ledger_reader needs nothing on the ledger schema.
-- A breaking change is a new version (v2_*) next to the old one, until every reader has moved.
CREATE SCHEMA ledger_read;

CREATE VIEW ledger_read.v1_accounts AS
SELECT account_id, type, currency, status, is_system, system_kind, opened_at
  FROM ledger.accounts;

CREATE VIEW ledger_read.v1_transactions AS
SELECT transaction_id, payment_id, step, sequence, currency, references_transaction_id,
       reference, posted_at
  FROM ledger.transactions;

CREATE VIEW ledger_read.v1_entries AS
SELECT entry_id, transaction_id, entry_index, account_id, direction, amount_minor, currency,
       posted_at
  FROM ledger.entries;

CREATE VIEW ledger_read.v1_balances AS
SELECT account_id, balance_minor, debits_minor, credits_minor, entry_count
  FROM ledger.balances;

GRANT USAGE ON SCHEMA ledger_read TO ledger_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA ledger_read TO ledger_reader;

-- Until now ledger_reader read every ledger table (001_ledger.sql): that access ends here, so a
-- reader can depend on nothing but the contract.
ALTER DEFAULT PRIVILEGES IN SCHEMA ledger REVOKE SELECT ON TABLES FROM ledger_reader;
REVOKE SELECT ON ALL TABLES IN SCHEMA ledger FROM ledger_reader;
REVOKE USAGE ON SCHEMA ledger FROM ledger_reader;
