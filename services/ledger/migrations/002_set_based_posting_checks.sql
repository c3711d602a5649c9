-- Set-based integrity checks for postings. Migration 001 enforced the books with per-row
-- foreign keys (two checks per entry, one of them deferred to COMMIT) and a balance trigger
-- whose plan hashed the whole entries table for every batch: the ledger's hottest path paid
-- per row and grew with the size of the books (profiled in `npm run bench:ledger`).
--
-- The same rules, now checked once per statement with index probes:
--   * a transaction and its entries are inserted by ONE statement (a data-modifying CTE), and
--     at its end every new transaction has >= 2 entries, a DEBIT side equal to its CREDIT
--     side, all in the transaction's currency;
--   * every new entry belongs to a transaction created by the current database transaction
--     (entries can never be added to a committed transaction), and its account exists in the
--     entry's currency;
--   * accounts are never deleted (entries point at them; closing is a status).
-- And one index fewer: a transaction's id is UUIDv5 of its step key, so the primary key already
-- makes step keys unique; (payment_id, step, sequence) stays unique by its own index.

ALTER TABLE ledger.entries DROP CONSTRAINT entries_transaction_id_currency_fkey;
ALTER TABLE ledger.entries DROP CONSTRAINT entries_account_id_currency_fkey;
ALTER TABLE ledger.transactions DROP CONSTRAINT transactions_transaction_id_currency_key;
ALTER TABLE ledger.transactions DROP CONSTRAINT transactions_step_key_key;

DROP TRIGGER entries_belong_to_new_transactions ON ledger.entries;
DROP FUNCTION ledger.assert_new_entries_open_transactions();
DROP TRIGGER transactions_balance ON ledger.transactions;
DROP FUNCTION ledger.assert_transactions_balanced();

-- LATERAL probes keep the plans on the primary-key and (transaction_id, entry_index) indexes:
-- the transition tables carry no statistics, and a hash join would read the whole table.
CREATE FUNCTION ledger.assert_transactions_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  offending record;
BEGIN
  SELECT t.transaction_id, t.currency, s.entry_count, s.debits, s.credits, s.other_currency
    INTO offending
  FROM new_transactions t
  CROSS JOIN LATERAL (
    SELECT count(*) AS entry_count,
           coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'DEBIT'), 0) AS debits,
           coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'CREDIT'), 0) AS credits,
           count(*) FILTER (WHERE e.currency <> t.currency) AS other_currency
      FROM ledger.entries e WHERE e.transaction_id = t.transaction_id
  ) s
  WHERE s.entry_count < 2 OR s.debits <> s.credits OR s.other_currency > 0
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'transaction % does not balance in %: % entries, debits %, credits %, % in another currency',
      offending.transaction_id, offending.currency, offending.entry_count, offending.debits,
      offending.credits, offending.other_currency
      USING ERRCODE = 'check_violation',
            HINT = 'insert a transaction and its entries in one statement';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER transactions_balance AFTER INSERT ON ledger.transactions
  REFERENCING NEW TABLE AS new_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.assert_transactions_balanced();

CREATE FUNCTION ledger.assert_entries_belong() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  offending record;
  current_xid xid := pg_current_xact_id()::xid;
BEGIN
  -- The transaction exists, in the entry's currency, and was created by this database
  -- transaction: a committed transaction can never gain entries. (xmin is the top-level xid
  -- because the ledger never writes inside a savepoint.)
  SELECT n.transaction_id, n.currency INTO offending
  FROM new_entries n
  LEFT JOIN LATERAL (
    SELECT t.currency, t.xmin FROM ledger.transactions t WHERE t.transaction_id = n.transaction_id
  ) t ON true
  WHERE t.currency IS DISTINCT FROM n.currency OR t.xmin <> current_xid
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entries of transaction % (%) need a transaction in that currency inserted by the same statement',
      offending.transaction_id, offending.currency USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- The account exists and holds the entry's currency.
  SELECT n.account_id, n.currency INTO offending
  FROM (SELECT DISTINCT account_id, currency FROM new_entries) n
  LEFT JOIN LATERAL (
    SELECT a.currency FROM ledger.accounts a WHERE a.account_id = n.account_id
  ) a ON true
  WHERE a.currency IS DISTINCT FROM n.currency
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entry on account % in %: no such account in that currency',
      offending.account_id, offending.currency USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER entries_belong AFTER INSERT ON ledger.entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.assert_entries_belong();

-- Entries refer to accounts without a foreign key now; accounts are closed, never deleted.
CREATE FUNCTION ledger.refuse_account_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger.accounts: % refused (accounts are closed, never removed)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER accounts_never_deleted BEFORE DELETE ON ledger.accounts
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_account_removal();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON ledger.accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_account_removal();
