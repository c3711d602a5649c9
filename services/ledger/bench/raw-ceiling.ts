// The raw PostgreSQL ceiling of a payment step's rows: the same entries, transaction row and
// balance projection update the ledger writes, batch-inserted straight into the same schema
// (no Kafka, no decisions, no outbox). Used by `npm run bench:ledger` and `npm run bench`.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { dropDatabase, ensureDatabase } from '@ledgerline/platform/db';
import { stopOnSignal } from '@ledgerline/testkit/stop-on-signal';
import { entryIdFor, systemAccountId, transactionIdFor } from '../src/domain/ids.js';
import { parseCurrencyCode } from '../src/domain/currencies.js';
import { migrateLedger } from '../src/service.js';

const BATCH_SIZE = 2_000;

export async function rawPostingCeiling(
  adminDatabaseUrl: string,
  stepCount: number,
  accountCount: number,
): Promise<{ steps: number; seconds: number; stepsPerSecond: number }> {
  const database = `bench_raw_${randomUUID().slice(0, 8)}`;
  const url = await ensureDatabase(adminDatabaseUrl, database);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const end = stopOnSignal('raw ceiling', async () => {
    await pool.end();
    await dropDatabase(adminDatabaseUrl, database);
  });
  try {
    await migrateLedger(url, 'ledger_app_dev');
    const clearing = systemAccountId('CLEARING', parseCurrencyCode('EUR'));
    const accounts = Array.from({ length: accountCount }, () => randomUUID());
    await pool.query(
      `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status, balance_floor_minor,
         is_system, system_kind, opened_at, status_changed_at)
       SELECT a, 'bench', 'LIABILITY', 'EUR', 'OPEN', 0, false, NULL, now(), now() FROM unnest($1::uuid[]) a
       UNION ALL SELECT $2::uuid, 'system', 'LIABILITY', 'EUR', 'OPEN', NULL, true, 'CLEARING', now(), now()`,
      [accounts, clearing],
    );
    await pool.query(
      `INSERT INTO ledger.balances (account_id, balance_minor) SELECT a, 1000000000 FROM unnest($1::uuid[]) a
       UNION ALL SELECT $2::uuid, 0`,
      [accounts, clearing],
    );
    const started = performance.now();
    for (let done = 0; done < stepCount; done += BATCH_SIZE) {
      const n = Math.min(BATCH_SIZE, stepCount - done);
      const tx: string[] = [];
      const stepKeys: string[] = [];
      const customer: string[] = [];
      const amounts: number[] = [];
      for (let i = 0; i < n; i += 1) {
        const paymentId = randomUUID();
        tx.push(transactionIdFor(paymentId, 'DEBIT', 0));
        stepKeys.push(`${paymentId}:DEBIT:0`);
        customer.push(accounts[(done + i) % accounts.length] as string);
        amounts.push(100 + ((done + i) % 900));
      }
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `WITH transactions AS (
             INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
               command_id, command_fingerprint, posted_at, step_key, correlation_id, account_id,
               account_balance_after_minor)
             SELECT t.tx, t.tx, 'DEBIT', 0, 'EUR', t.tx, 'raw', now(), t.step_key, t.tx, t.account, 0
             FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS t(tx, step_key, account))
           INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id, direction, amount_minor, currency, posted_at)
           SELECT e.entry_id, e.tx, e.idx, e.account, e.direction, e.amount, 'EUR', now()
           FROM unnest($4::uuid[], $5::uuid[], $6::int[], $7::uuid[], $8::text[], $9::bigint[])
             AS e(entry_id, tx, idx, account, direction, amount)`,
          [
            tx,
            stepKeys,
            customer,
            tx.flatMap((t) => [entryIdFor(t, 0), entryIdFor(t, 1)]),
            tx.flatMap((t) => [t, t]),
            tx.flatMap(() => [0, 1]),
            customer.flatMap((c) => [c, clearing]),
            tx.flatMap(() => ['DEBIT', 'CREDIT']),
            amounts.flatMap((a) => [a, a]),
          ],
        );
        await client.query(
          `UPDATE ledger.balances b SET balance_minor = b.balance_minor + d.delta,
             debits_minor = b.debits_minor + d.debits, credits_minor = b.credits_minor + d.credits,
             entry_count = b.entry_count + d.entries
           FROM (SELECT account, sum(delta) AS delta, sum(debits) AS debits, sum(credits) AS credits,
                   count(*) AS entries
                 FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS x(account, delta, debits, credits)
                 GROUP BY account) d
           WHERE b.account_id = d.account`,
          [
            [...customer, ...customer.map(() => clearing)],
            [...amounts.map((a) => -a), ...amounts],
            [...amounts, ...amounts.map(() => 0)],
            [...amounts.map(() => 0), ...amounts],
          ],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return { steps: stepCount, seconds, stepsPerSecond: stepCount / seconds };
  } finally {
    await end();
  }
}
