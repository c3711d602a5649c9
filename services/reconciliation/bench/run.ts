// Time to reconcile N seeded ledger transactions (default 100000: N/2 completed payments of a
// DEBIT and a CREDIT step), every check except the statement match, on the real stack. The ledger
// rows are seeded with SQL as the superuser; the event facts are seeded as the consumer would
// have recorded them, so the run checks both sides and must find nothing.
//   cd /work/main && npx tsx services/reconciliation/bench/run.ts [transactions]
import { createPool } from '@ledgerline/platform/db';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createLogger } from '@ledgerline/platform/log';
import { createTestEnvironment } from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { DEFAULT_CHECKS } from '../src/domain/findings.js';
import { systemAccountId } from '../src/domain/ids.js';
import { RunEventEncoder } from '../src/events/run-events.js';
import { Reconciler } from '../src/app/runs.js';
import { deployLedgerAndReconciliation, ownerPool, testConfig } from '../test/support.js';

const TRANSACTIONS = Number(process.argv[2] ?? 100_000);
const CUSTOMERS = 1_000;

async function main(): Promise<void> {
  if (!Number.isSafeInteger(TRANSACTIONS) || TRANSACTIONS < 2 || TRANSACTIONS % 2 !== 0)
    throw new Error('transactions must be an even integer >= 2');
  const payments = TRANSACTIONS / 2;
  const env = await createTestEnvironment('reconciliation-bench', allTopics);
  const owner = ownerPool(env);
  const config = testConfig(env, { outcomeTimeoutMs: 60_000, pageSize: 5_000 });
  const pool = createPool(config.databaseUrl);
  try {
    await deployLedgerAndReconciliation(env);
    const seedStarted = Date.now();
    await seed(owner, payments);
    process.stdout.write(
      `seeded ${TRANSACTIONS} transactions (${payments} payments, ${2 * TRANSACTIONS} entries) in ${Date.now() - seedStarted} ms\n`,
    );
    const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
    const reconciler = new Reconciler({
      pool,
      log: createLogger('reconciliation-bench'),
      events: new RunEventEncoder(serde, env.topicPrefix),
      outcomeTimeoutMs: config.outcomeTimeoutMs,
      dateWindowDays: config.dateWindowDays,
      pageSize: config.pageSize,
    });
    const window = { from: new Date(Date.now() - 3 * 3_600_000), to: new Date() };
    const started = process.hrtime.bigint();
    const run = await reconciler.runNow('ON_DEMAND', window, DEFAULT_CHECKS);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    for (const c of run.checks) {
      process.stdout.write(
        `  ${c.check.padEnd(28)} items ${String(c.itemsChecked).padStart(7)}  discrepancies ${c.discrepancyCount}\n`,
      );
    }
    if (run.status !== 'PASSED')
      throw new Error(`expected a clean run, got ${run.status}: ${run.detail ?? ''}`);
    process.stdout.write(
      `reconciled ${TRANSACTIONS} transactions in ${ms.toFixed(0)} ms (${Math.round(TRANSACTIONS / (ms / 1000))} tx/s), status ${run.status}\n`,
    );
  } finally {
    await pool.end();
    await owner.end();
    // BENCH_KEEP_DATABASE=1 leaves the database for EXPLAIN ANALYZE.
    if (process.env['BENCH_KEEP_DATABASE'] === '1')
      process.stdout.write(`database kept: ${env.databaseUrl}\n`);
    else await env.cleanup();
  }
}

/** Balanced payments in the ledger, plus the facts their events would have left. */
async function seed(owner: ReturnType<typeof createPool>, payments: number): Promise<void> {
  const clearing = systemAccountId('CLEARING', 'EUR');
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status, balance_floor_minor,
         is_system, system_kind, opened_at, status_changed_at)
       VALUES ($1, 'system:CLEARING', 'LIABILITY', 'EUR', 'OPEN', NULL, true, 'CLEARING', now() - interval '1 day', now() - interval '1 day'),
              ($2, 'system:FEES', 'REVENUE', 'EUR', 'OPEN', NULL, true, 'FEES', now() - interval '1 day', now() - interval '1 day'),
              ($3, 'system:SETTLEMENT', 'ASSET', 'EUR', 'OPEN', NULL, true, 'SETTLEMENT', now() - interval '1 day', now() - interval '1 day')`,
      [clearing, systemAccountId('FEES', 'EUR'), systemAccountId('SETTLEMENT', 'EUR')],
    );
    await client.query(
      `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status, balance_floor_minor,
         is_system, system_kind, opened_at, status_changed_at)
       SELECT md5('customer:' || c)::uuid, 'customer', 'LIABILITY', 'EUR', 'OPEN', NULL, false, NULL,
              now() - interval '1 day', now() - interval '1 day'
         FROM generate_series(0, $1 - 1) c`,
      [CUSTOMERS],
    );
    // One row per payment with everything derived from its number.
    await client.query(
      `CREATE TEMP TABLE bench_payments ON COMMIT DROP AS
       SELECT md5('payment:' || i)::uuid AS payment_id,
              md5('customer:' || (i % $2))::uuid AS payer,
              md5('customer:' || ((i + 1) % $2))::uuid AS payee,
              1 + (i % 100000) AS amount,
              now() - interval '2 hours' + (i * interval '1 millisecond') AS at,
              md5('tx:' || i || ':DEBIT')::uuid AS debit_tx,
              md5('tx:' || i || ':CREDIT')::uuid AS credit_tx
         FROM generate_series(0, $1 - 1) i`,
      [payments, CUSTOMERS],
    );
    // Transactions and their entries in one statement, as the ledger's schema requires.
    await client.query(
      `WITH entries AS (
       INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id, direction, amount_minor, currency, posted_at)
       SELECT md5(debit_tx || ':0')::uuid, debit_tx, 0, payer, 'DEBIT', amount, 'EUR', at FROM bench_payments
       UNION ALL SELECT md5(debit_tx || ':1')::uuid, debit_tx, 1, $1::uuid, 'CREDIT', amount, 'EUR', at FROM bench_payments
       UNION ALL SELECT md5(credit_tx || ':0')::uuid, credit_tx, 0, $1::uuid, 'DEBIT', amount, 'EUR', at + interval '1 microsecond' FROM bench_payments
       UNION ALL SELECT md5(credit_tx || ':1')::uuid, credit_tx, 1, payee, 'CREDIT', amount, 'EUR', at + interval '1 microsecond' FROM bench_payments)
       INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
         references_transaction_id, step_key, command_id, correlation_id, account_id,
         account_balance_after_minor, command_fingerprint, posted_at)
       SELECT debit_tx, payment_id, 'DEBIT', 0, 'EUR', NULL, payment_id || ':DEBIT:0',
              md5('cmd:' || debit_tx)::uuid, payment_id, payer, 0, 'bench', at FROM bench_payments
       UNION ALL
       SELECT credit_tx, payment_id, 'CREDIT', 0, 'EUR', debit_tx, payment_id || ':CREDIT:0',
              md5('cmd:' || credit_tx)::uuid, payment_id, payee, 0, 'bench', at + interval '1 microsecond' FROM bench_payments`,
      [clearing],
    );
    await client.query(
      `INSERT INTO ledger.balances (account_id, balance_minor, debits_minor, credits_minor, entry_count)
       SELECT a.account_id, CASE WHEN a.type IN ('ASSET', 'EXPENSE') THEN s.d - s.c ELSE s.c - s.d END, s.d, s.c, s.n
         FROM ledger.accounts a
         CROSS JOIN LATERAL (
           SELECT coalesce(sum(amount_minor) FILTER (WHERE direction = 'DEBIT'), 0) AS d,
                  coalesce(sum(amount_minor) FILTER (WHERE direction = 'CREDIT'), 0) AS c, count(*) AS n
             FROM ledger.entries e WHERE e.account_id = a.account_id) s`,
    );
    // The event side, as the consumer records it.
    await client.query(
      `INSERT INTO reconciliation.payment_requests
       SELECT payment_id, payer, payee, amount, 'EUR', at FROM bench_payments`,
    );
    await client.query(
      `INSERT INTO reconciliation.payment_statuses
         (payment_id, version, status, amount_minor, currency, refunded_minor, terminal_statuses, changed_at)
       SELECT payment_id, 3, 'COMPLETED', amount, 'EUR', 0, '{COMPLETED}', at + interval '2 microseconds'
         FROM bench_payments`,
    );
    await client.query(
      `INSERT INTO reconciliation.posting_commands
         (command_id, step_key, payment_id, step, sequence, account_id, amount_minor, currency, seen_at)
       SELECT t.command_id, t.step_key, t.payment_id, t.step, 0, t.account_id, e.amount_minor, 'EUR', t.posted_at
         FROM ledger.transactions t JOIN ledger.entries e ON e.transaction_id = t.transaction_id AND e.entry_index = 0`,
    );
    await client.query(
      `INSERT INTO reconciliation.ledger_outcomes
         (event_id, outcome, step_key, causation_id, payment_id, step, sequence, transaction_id,
          account_id, amount_minor, currency, entries, reason, posted_at)
       SELECT md5('event:' || t.transaction_id)::uuid, 'POSTED', t.step_key, t.command_id, t.payment_id,
              t.step, 0, t.transaction_id, t.account_id::text, min(e.amount_minor), 'EUR',
              jsonb_agg(jsonb_build_object('entryId', e.entry_id, 'accountId', e.account_id,
                'direction', e.direction, 'amountMinor', e.amount_minor, 'currency', e.currency)
                ORDER BY e.entry_index),
              NULL, t.posted_at
         FROM ledger.transactions t JOIN ledger.entries e ON e.transaction_id = t.transaction_id
        GROUP BY t.transaction_id`,
    );
    await client.query('COMMIT');
    await owner.query('ANALYZE');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
