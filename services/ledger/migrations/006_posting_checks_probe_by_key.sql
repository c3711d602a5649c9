-- The posting checks of migration 002 meant to probe ledger.transactions and ledger.accounts by
-- key, once per new entry. But PostgreSQL pulls a simple LATERAL subquery up into a plain join,
-- and then the planner may pick a hash join that reads the whole table, for every posting: with
-- a batch's estimate (the transition table's size when the plan was made) or once the plan is
-- cached. A bench run at 250 payments/s caught it: the entries check took 5.4 ms per posting
-- statement (never under 1.4 ms, and growing with the books) where the probes take 0.1 ms.
--
-- OFFSET 0 keeps each subquery a subquery (it cannot be pulled up), so it runs per outer row
-- with the row's key: an index probe, whatever the planner estimates. Same rules, same errors.
-- (The balance check of migration 002 aggregates in its LATERAL subquery, which is never pulled
-- up: it already probes entries by transaction.)
CREATE OR REPLACE FUNCTION ledger.assert_entries_belong() RETURNS trigger LANGUAGE plpgsql AS $$
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
    OFFSET 0
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
    OFFSET 0
  ) a ON true
  WHERE a.currency IS DISTINCT FROM n.currency
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entry on account % in %: no such account in that currency',
      offending.account_id, offending.currency USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
