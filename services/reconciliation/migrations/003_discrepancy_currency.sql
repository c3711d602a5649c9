-- A discrepancy's currency is an ISO 4217 code or null, as the API's contract says. Facts come
-- from messages, and before this a payment command in a currency such as 'eur' (which the ledger
-- rejects) was reported with it, and every list of discrepancies that held one answered 500.
-- Rows written so far are mended the way new ones are written (src/domain/findings.ts): the
-- currency becomes null and the detail keeps what was reported. The check keeps it so.
UPDATE reconciliation.discrepancies
SET detail = detail || ' The currency reported, "' || currency || '", is no ISO 4217 code.',
    currency = NULL
WHERE currency !~ '^[A-Z]{3}$';

ALTER TABLE reconciliation.discrepancies
  ADD CONSTRAINT discrepancies_currency_iso_4217 CHECK (currency ~ '^[A-Z]{3}$');
