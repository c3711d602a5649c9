// The reconciler on the real stack: ledger data seeded as the superuser, the events announcing it
// published to Kafka, runs over HTTP. Clean data passes; each kind of tampering is caught by the
// check that exists for it; statements are matched line by line; the role cannot write the ledger.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import type { Pool } from '@ledgerline/platform/db';
import {
  createTestApiKey,
  createTestEnvironment,
  type TestEnvironment,
  scrapeMetrics,
} from '@ledgerline/testkit/testing';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import { TopicConsumer } from '@ledgerline/platform/events/typed';
import { createKafka } from '@ledgerline/platform/kafka';
import { createLogger } from '@ledgerline/platform/log';
import {
  allTopics,
  reconciliationDiscrepancyDetectedTopic,
  reconciliationRunCompletedTopic,
} from '@ledgerline/generated/topics';
import type { components } from '@ledgerline/generated/openapi/reconciliation.types';
import { systemAccountId } from '../src/domain/ids.js';
import { Reconciler } from '../src/app/runs.js';
import { RunEventEncoder } from '../src/events/run-events.js';
import { startReconciliation, type ReconciliationService } from '../src/service.js';
import {
  asReconciliationApp,
  eventPublisher,
  eventually,
  LedgerSeed,
  deployLedgerAndReconciliation,
  ownerPool,
  testConfig,
  type SeedPayment,
} from './support.js';

type Run = components['schemas']['Run'];
type Discrepancy = components['schemas']['Discrepancy'];
type Report = components['schemas']['StatementMatchReport'];

const MINUTE_MS = 60_000;
let env: TestEnvironment;
let owner: Pool;
let service: ReconciliationService;
let operatorKey: string;
let scraperKey: string;
let publisher: Awaited<ReturnType<typeof eventPublisher>>;
const seed = new LedgerSeed('EUR');
const seededAt = new Date(Date.now() - 10 * MINUTE_MS);
let alice: string;
let bob: string;
let completed: SeedPayment;

async function api<T>(method: string, path: string, body?: unknown, contentType?: string) {
  // A reconciliation operator's key: runs, statements, reports and discrepancies.
  const authorization = `Bearer ${operatorKey}`;
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers:
      body === undefined
        ? { authorization }
        : { authorization, 'content-type': contentType ?? 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : null) as T,
  };
}

/** An on-demand run over the seeded period, awaited until it completes (within 10 s). */
async function runOnDemand(): Promise<Run> {
  const started = await api<Run>('POST', '/v1/runs', {
    from: new Date(seededAt.getTime() - 60 * MINUTE_MS).toISOString(),
    to: new Date().toISOString(),
  });
  expect(started.status).toBe(202);
  expect(started.headers.get('location')).toBe(`/v1/runs/${started.body.id}`);
  return eventually(
    async () => {
      const run = await api<Run>('GET', `/v1/runs/${started.body.id}`);
      return run.body.status === 'RUNNING' ? undefined : run.body;
    },
    'the run to complete',
    10_000,
  );
}

async function discrepanciesOf(runId: string, kind?: string): Promise<Discrepancy[]> {
  const query = new URLSearchParams({ runId, limit: '500', ...(kind ? { kind } : {}) });
  const page = await api<{ items: Discrepancy[] }>('GET', `/v1/discrepancies?${query}`);
  expect(page.status).toBe(200);
  return page.body.items;
}

/** Runs a statement against the superuser pool with triggers off (tampering, as an attacker would). */
async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query(sql, params);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

beforeAll(async () => {
  env = await createTestEnvironment('reconciliation', allTopics);
  owner = ownerPool(env);
  await deployLedgerAndReconciliation(env);
  service = await startReconciliation(testConfig(env));
  operatorKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'reconciliation-operator',
    scopes: ['reconciliation:read', 'reconciliation:run'],
  });
  scraperKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'reconciliation-scraper',
    scopes: ['metrics:read'],
  });
  publisher = await eventPublisher(env);

  alice = seed.customer();
  bob = seed.customer();
  const at = (minutes: number) => new Date(seededAt.getTime() + minutes * MINUTE_MS);
  seed.adjustment(alice, 'CREDIT', 100_000, 'WIRE-0001', at(0));
  seed.adjustment(bob, 'CREDIT', 25_000, 'WIRE-0002', at(0.1));
  completed = seed.payment(alice, bob, 12_500, at(1));
  const second = seed.payment(bob, alice, 3_000, at(2));
  await seed.write(owner);
  await publisher.transactions(seed.transactions, seed.payments);
  for (const p of [completed, second]) await publisher.status(p, 'COMPLETED', 3, at(3));
  // The consumer has seen everything once every event is in the reconciliation schema.
  await eventually(
    async () => {
      const { rows } = await owner.query<{ outcomes: number; statuses: number; commands: number }>(
        `SELECT (SELECT count(*)::int FROM reconciliation.ledger_outcomes) AS outcomes,
              (SELECT count(*)::int FROM reconciliation.payment_statuses) AS statuses,
              (SELECT count(*)::int FROM reconciliation.posting_commands) AS commands`,
      );
      const r = rows[0]!;
      return r.outcomes === 6 && r.statuses === 2 && r.commands === 6 ? true : undefined;
    },
    'the consumer to record the seeded events',
    30_000,
  );
  // Past the outcome timeout, so every command and payment is due.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
}, 120_000);

afterAll(async () => {
  await publisher?.producer.disconnect();
  await service?.stop();
  await owner?.end();
  await env?.cleanup();
});

describe('reconciliation on the real stack', () => {
  it('finds nothing wrong with clean, balanced, fully announced ledger data', async () => {
    const run = await runOnDemand();
    expect(run.status).toBe('PASSED');
    expect(run.discrepancyCount).toBe(0);
    expect(run.checks.map((c) => c.check)).toEqual([
      'TRANSACTION_BALANCED',
      'TRIAL_BALANCE',
      'PROJECTION_MATCHES_ENTRIES',
      'ONE_TERMINAL_OUTCOME',
      'LEDGER_ROWS_MATCH_EVENTS',
      'CLEARING_NETS_ZERO',
    ]);
    const items = Object.fromEntries(run.checks.map((c) => [c.check, c.itemsChecked]));
    expect(items).toEqual({
      TRANSACTION_BALANCED: 6,
      TRIAL_BALANCE: 1,
      PROJECTION_MATCHES_ENTRIES: 5,
      ONE_TERMINAL_OUTCOME: 8, // 4 payment steps + 2 payments + 2 adjustments
      LEDGER_ROWS_MATCH_EVENTS: 6,
      CLEARING_NETS_ZERO: 2,
    });
    expect(await discrepanciesOf(run.id)).toEqual([]);
  });

  it("the reconciliation role reads the ledger's read contract, never its tables, and never writes", async () => {
    const client: pg.Client = await asReconciliationApp(env);
    try {
      const { rows } = await client.query(
        'SELECT count(*)::int AS n FROM ledger_read.v1_transactions',
      );
      expect(rows[0]).toEqual({ n: 6 });
      await expect(client.query('SELECT count(*) FROM ledger.transactions')).rejects.toThrow(
        /permission denied for schema ledger/,
      );
      await expect(
        client.query(
          `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status, is_system,
             opened_at, status_changed_at)
           VALUES (gen_random_uuid(), 'x', 'LIABILITY', 'EUR', 'OPEN', false, now(), now())`,
        ),
      ).rejects.toThrow(/permission denied/);
      await expect(
        client.query('UPDATE ledger.balances SET balance_minor = balance_minor + 1'),
      ).rejects.toThrow(/permission denied/);
      await expect(client.query('DELETE FROM ledger.entries')).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  });

  it('refuses a window that ends in the future, is empty or longer than 31 days', async () => {
    const now = Date.now();
    const future = await api<{ type: string }>('POST', '/v1/runs', {
      from: new Date(now - MINUTE_MS).toISOString(),
      to: new Date(now + MINUTE_MS).toISOString(),
    });
    expect(future.status).toBe(422);
    expect(future.body.type).toBe('https://ledgerline.dev/problems/invalid-window');
    const empty = await api('POST', '/v1/runs', {
      from: new Date(now - MINUTE_MS).toISOString(),
      to: new Date(now - MINUTE_MS).toISOString(),
    });
    expect(empty.status).toBe(422);
    const long = await api('POST', '/v1/runs', {
      from: new Date(now - 40 * 86_400_000).toISOString(),
      to: new Date(now - MINUTE_MS).toISOString(),
    });
    expect(long.status).toBe(422);
    const unknown = await api('POST', '/v1/runs', { from: 'x', to: 'y', scope: 1 });
    expect(unknown.status).toBe(400);
  });

  it('catches an unbalanced transaction inserted behind the triggers', async () => {
    const txId = '00000000-0000-4000-8000-00000000a001';
    const debit = '00000000-0000-4000-8000-00000000e001';
    const credit = '00000000-0000-4000-8000-00000000e002';
    const postedAt = new Date(seededAt.getTime() + 5 * MINUTE_MS);
    await tamper(
      `INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id, direction,
         amount_minor, currency, posted_at)
       VALUES ($1, $3, 0, $4, 'DEBIT', 1000, 'EUR', $6), ($2, $3, 1, $5, 'CREDIT', 900, 'EUR', $6)`,
      [debit, credit, txId, alice, bob, postedAt],
    );
    await tamper(
      `INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
         step_key, command_id, correlation_id, account_id, account_balance_after_minor,
         command_fingerprint, posted_at)
       VALUES ($1, NULL, 'ADJUSTMENT', 0, 'EUR', 'adjustment:tampered', gen_random_uuid(),
         gen_random_uuid(), $2, 0, 'tampered', $3)`,
      [txId, alice, postedAt],
    );
    const run = await runOnDemand();
    expect(run.status).toBe('DISCREPANCIES_FOUND');
    const [unbalanced] = await discrepanciesOf(run.id, 'UNBALANCED_TRANSACTION');
    expect(unbalanced).toMatchObject({
      transactionId: txId,
      expectedMinor: 1000,
      foundMinor: 900,
      currency: 'EUR',
    });
    const [trial] = await discrepanciesOf(run.id, 'TRIAL_BALANCE_MISMATCH');
    expect(trial).toMatchObject({ expectedMinor: 0, foundMinor: 100, currency: 'EUR' });
    const withoutEvent = await discrepanciesOf(run.id, 'LEDGER_ROW_WITHOUT_EVENT');
    expect(withoutEvent.map((d) => d.transactionId)).toEqual([txId]);
  });

  it('catches a changed entry amount and a deleted entry', async () => {
    const changed = completed.transactions[0]!; // DEBIT alice -> clearing
    const deleted = seed.transactions[1]!; // funding of bob
    await tamper('UPDATE ledger.entries SET amount_minor = amount_minor + 1 WHERE entry_id = $1', [
      changed.entries[1]!.entryId,
    ]);
    await tamper('DELETE FROM ledger.entries WHERE entry_id = $1', [deleted.entries[0]!.entryId]);
    const run = await runOnDemand();
    const unbalanced = await discrepanciesOf(run.id, 'UNBALANCED_TRANSACTION');
    expect(unbalanced.find((d) => d.transactionId === changed.transactionId)).toMatchObject({
      expectedMinor: 12_500,
      foundMinor: 12_501,
    });
    const gone = unbalanced.find((d) => d.transactionId === deleted.transactionId);
    expect(gone?.detail).toMatch(/1 entries/);
    const mismatches = await discrepanciesOf(run.id, 'LEDGER_ROW_EVENT_MISMATCH');
    expect(mismatches.map((d) => d.transactionId).sort()).toEqual(
      expect.arrayContaining([changed.transactionId, deleted.transactionId].sort()),
    );
    const clearing = await discrepanciesOf(run.id, 'CLEARING_NOT_ZERO');
    expect(clearing).toEqual([
      expect.objectContaining({
        paymentId: completed.paymentId,
        accountId: seed.clearing,
        expectedMinor: 0,
        foundMinor: 1,
      }),
    ]);
  });

  it('catches balance projection drift', async () => {
    // The fees account has no entries and was not touched by the tampering above.
    const fees = systemAccountId('FEES', 'EUR');
    await owner.query(
      'UPDATE ledger.balances SET balance_minor = balance_minor + 7 WHERE account_id = $1',
      [fees],
    );
    const run = await runOnDemand();
    const drift = await discrepanciesOf(run.id, 'PROJECTION_MISMATCH');
    expect(drift.find((d) => d.accountId === fees)).toMatchObject({
      expectedMinor: 0,
      foundMinor: 7,
      currency: 'EUR',
    });
    // The earlier tampering left the projections of the touched accounts behind as well.
    expect(drift.map((d) => d.accountId)).toEqual(expect.arrayContaining([alice, bob]));
  });

  it('catches a compensated payment whose compensation is missing from the ledger', async () => {
    const before = seed.transactions.length;
    const p = seed.payment(alice, bob, 4_000, new Date(seededAt.getTime() + 6 * MINUTE_MS), [
      'DEBIT',
    ]);
    await seed.write(owner, before);
    await publisher.transactions(seed.transactions.slice(before), [p]);
    await publisher.status(p, 'COMPENSATED', 4, new Date(seededAt.getTime() + 7 * MINUTE_MS));
    await eventually(async () => {
      const { rowCount } = await owner.query(
        'SELECT 1 FROM reconciliation.payment_statuses WHERE payment_id = $1',
        [p.paymentId],
      );
      return rowCount ? true : undefined;
    }, 'the status event');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const run = await runOnDemand();
    const clearing = await discrepanciesOf(run.id, 'CLEARING_NOT_ZERO');
    expect(clearing.find((d) => d.paymentId === p.paymentId)).toMatchObject({
      expectedMinor: 0,
      foundMinor: 4_000,
    });
    const missing = await discrepanciesOf(run.id, 'MISSING_OUTCOME');
    expect(missing.find((d) => d.paymentId === p.paymentId)?.detail).toMatch(/COMPENSATION/);
  });

  it('reports a payment command in a currency that is no ISO 4217 code with its currency null, and the discrepancies still list', async () => {
    const paymentId = randomUUID();
    await publisher.command({
      commandId: randomUUID(),
      correlationId: paymentId,
      causationId: null,
      occurredAt: new Date(seededAt.getTime() + 8 * MINUTE_MS),
      accountId: alice,
      command: {
        'ledgerline.payments.v1.PaymentRequested': {
          paymentId,
          payerAccountId: alice,
          payeeAccountId: bob,
          amountMinor: 100,
          currency: 'eur',
        },
      },
    });
    await eventually(async () => {
      const { rowCount } = await owner.query(
        'SELECT 1 FROM reconciliation.payment_requests WHERE payment_id = $1',
        [paymentId],
      );
      return rowCount ? true : undefined;
    }, 'the command');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const run = await runOnDemand();
    const missing = await discrepanciesOf(run.id, 'MISSING_OUTCOME');
    // The payment has no status, and its command no outcome: both are reported.
    const ofPayment = missing.filter((d) => d.paymentId === paymentId);
    expect(ofPayment.length).toBeGreaterThan(0);
    for (const d of ofPayment) {
      expect(d).toMatchObject({
        currency: null,
        detail: expect.stringContaining('The currency reported, "eur", is no ISO 4217 code.'),
      });
    }
    const everything = await api<{ items: Discrepancy[] }>('GET', '/v1/discrepancies?limit=500');
    expect(everything.status).toBe(200);
  });

  it('matches a settlement statement: matched, missing, extra and differing lines', async () => {
    const before = seed.transactions.length;
    const day = new Date(Date.UTC(2026, 0, 15, 9));
    const carol = seed.customer();
    const exact = seed.adjustment(carol, 'CREDIT', 110_000, 'ST-WIRE-1', day);
    const differing = seed.adjustment(carol, 'CREDIT', 20_000, 'ST-WIRE-2', day);
    const missing = seed.adjustment(carol, 'CREDIT', 5_000, 'ST-WIRE-3', day);
    const byAmount = seed.adjustment(carol, 'DEBIT', 7_000, 'ST-PAYOUT-9', day);
    await seed.write(owner, before);
    const csv = [
      'reference,amount_minor,currency,value_date',
      'ST-WIRE-1,110000,EUR,2026-01-15',
      'ST-WIRE-2,25000,EUR,2026-01-15',
      'ST-EXTRA-7,-40000,EUR,2026-01-15',
      'BANK-REF-X,-7000,EUR,2026-01-15',
      '',
    ].join('\n');
    const imported = await api<Report>('POST', '/v1/statements', csv, 'text/csv');
    expect(imported.status).toBe(201);
    const report = imported.body;
    expect(imported.headers.get('location')).toBe(`/v1/statements/${report.statementId}`);
    expect(report.lineCount).toBe(4);
    expect(report.windowFrom).toBe('2026-01-15T00:00:00.000Z');
    expect(report.windowTo).toBe('2026-01-16T00:00:00.000Z');
    expect(report.matched.map((m) => [m.line, m.transactionId])).toEqual([
      [2, exact.transactionId],
      [5, byAmount.transactionId],
    ]);
    expect(report.amountDifferences).toEqual([
      {
        line: 3,
        reference: 'ST-WIRE-2',
        currency: 'EUR',
        statementAmountMinor: 25_000,
        ledgerAmountMinor: 20_000,
        transactionId: differing.transactionId,
      },
    ]);
    expect(report.unmatchedStatementLines.map((l) => l.reference)).toEqual(['ST-EXTRA-7']);
    expect(
      report.unmatchedLedgerEntries.map((e) => [e.transactionId, e.direction, e.amountMinor]),
    ).toEqual([[missing.transactionId, 'DEBIT', 5_000]]);
    const stored = await api<Report>('GET', `/v1/statements/${report.statementId}`);
    expect(stored.body).toEqual(report);
    const run = await api<Run>('GET', `/v1/runs/${report.runId}`);
    expect(run.body).toMatchObject({
      kind: 'STATEMENT',
      status: 'DISCREPANCIES_FOUND',
      statementId: report.statementId,
      discrepancyCount: 3,
    });
    const kinds = (await discrepanciesOf(report.runId)).map((d) => d.kind).sort();
    expect(kinds).toEqual([
      'LEDGER_ENTRY_UNMATCHED',
      'STATEMENT_AMOUNT_MISMATCH',
      'STATEMENT_LINE_UNMATCHED',
    ]);
  });

  it('refuses a malformed statement as a whole, naming the line, and records nothing', async () => {
    const count = async () =>
      (
        await owner.query<{ runs: number; statements: number }>(
          `SELECT (SELECT count(*)::int FROM reconciliation.runs) AS runs,
                  (SELECT count(*)::int FROM reconciliation.statements) AS statements`,
        )
      ).rows[0];
    const before = await count();
    const csv = [
      'reference,amount_minor,currency,value_date',
      'OK-1,100,EUR,2026-01-15',
      'BAD-2,250.00,EUR,2026-01-15',
    ].join('\n');
    const refused = await api<{
      type: string;
      detail: string;
      errors: { line: number; field: string; message: string }[];
    }>('POST', '/v1/statements', csv, 'text/csv');
    expect(refused.status).toBe(422);
    expect(refused.body.type).toBe('https://ledgerline.dev/problems/malformed-statement');
    expect(refused.body.detail).toBe('Line 3 is invalid; nothing was recorded.');
    expect(refused.body.errors).toEqual([
      {
        line: 3,
        field: 'amount_minor',
        message: '"250.00" is not an integer number of minor units',
      },
    ]);
    const header = await api<{ errors: { line: number }[] }>(
      'POST',
      '/v1/statements',
      'ref,amount,ccy,date\n',
      'text/csv',
    );
    expect(header.status).toBe(422);
    expect(header.body.errors[0]!.line).toBe(1);
    expect(await count()).toEqual(before);
  });

  it('counts discrepancies by kind in /metrics and pages through them', async () => {
    const metrics = await scrapeMetrics(service.url, scraperKey);
    const unbalanced =
      /ledgerline_discrepancies_total\{kind="UNBALANCED_TRANSACTION"[^}]*\} (\d+)/.exec(metrics);
    expect(Number(unbalanced?.[1])).toBeGreaterThanOrEqual(3);
    const first = await api<{ items: Discrepancy[]; nextCursor: string | null }>(
      'GET',
      '/v1/discrepancies?limit=2',
    );
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await api<{ items: Discrepancy[] }>(
      'GET',
      `/v1/discrepancies?limit=2&cursor=${first.body.nextCursor}`,
    );
    const ids = new Set([...first.body.items, ...second.body.items].map((d) => d.id));
    expect(ids.size).toBe(4);
    const runs = await api<{ items: Run[] }>('GET', '/v1/runs?kind=STATEMENT');
    expect(runs.body.items.every((r) => r.kind === 'STATEMENT')).toBe(true);
  });

  it('publishes every discrepancy and then the run summary through the outbox', async () => {
    const run = await runOnDemand();
    expect(run.discrepancyCount).toBeGreaterThan(0);
    const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: false });
    const discrepancyTopic = prefixedTopic(
      reconciliationDiscrepancyDetectedTopic as AnyTopic,
      env.topicPrefix,
    );
    const runTopic = prefixedTopic(reconciliationRunCompletedTopic as AnyTopic, env.topicPrefix);
    const decoders = new Map([
      [discrepancyTopic.name, new TopicConsumer(discrepancyTopic, serde)],
      [runTopic.name, new TopicConsumer(runTopic, serde)],
    ]);
    const seen: { topic: string; value: Record<string, unknown> }[] = [];
    const consumer = createKafka(env.kafkaBrokers, 'reconciliation-test-reader').consumer({
      groupId: `reconciliation-test-${randomUUID()}`,
    });
    await consumer.connect();
    try {
      for (const topic of decoders.keys()) await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const decoded = await decoders.get(topic)!.decode({ partition, ...message });
          seen.push({ topic, value: decoded.value as Record<string, unknown> });
        },
      });
      const completedEvent = await eventually(
        async () => seen.find((m) => m.topic === runTopic.name && m.value['runId'] === run.id),
        'the ReconciliationRunCompleted event',
        15_000,
      );
      expect(completedEvent.value).toMatchObject({
        kind: 'ON_DEMAND',
        status: 'DISCREPANCIES_FOUND',
        discrepancyCount: run.discrepancyCount,
      });
      const stored = await discrepanciesOf(run.id);
      // The summary and the discrepancies travel on different topics (and partitions): the
      // summary may be read first, so wait, bounded, for every discrepancy event.
      const published = await eventually(
        async () => {
          const events = seen.filter(
            (m) => m.topic === discrepancyTopic.name && m.value['runId'] === run.id,
          );
          return events.length >= stored.length ? events : undefined;
        },
        'every DiscrepancyDetected event of the run',
        15_000,
      );
      expect(published.map((m) => m.value['discrepancyId']).sort()).toEqual(
        stored.map((d) => d.id).sort(),
      );
    } finally {
      await consumer.disconnect();
    }
  });

  it('allows one on-demand run at a time', async () => {
    const blocking = randomUUID();
    await owner.query(
      `INSERT INTO reconciliation.runs (run_id, kind, status, window_from, window_to, started_at)
       VALUES ($1, 'ON_DEMAND', 'RUNNING', now() - interval '1 hour', now(), now())`,
      [blocking],
    );
    try {
      const refused = await api<{ type: string; detail: string }>('POST', '/v1/runs', {
        from: new Date(Date.now() - MINUTE_MS).toISOString(),
        to: new Date().toISOString(),
      });
      expect(refused.status).toBe(409);
      expect(refused.body.type).toBe('https://ledgerline.dev/problems/run-in-progress');
      expect(refused.body.detail).toContain(blocking);
    } finally {
      await owner.query(
        `UPDATE reconciliation.runs SET status = 'FAILED', detail = 'test', completed_at = now()
          WHERE run_id = $1`,
        [blocking],
      );
    }
  });

  it('a continuous run picks up what changed, by watermark, within 10 s', async () => {
    // The statement test rebuilt the projection; drift it again.
    const fees = systemAccountId('FEES', 'EUR');
    await owner.query('UPDATE ledger.balances SET balance_minor = 11 WHERE account_id = $1', [
      fees,
    ]);
    const continuous = await startReconciliation(
      testConfig(env, { intervalMs: 500, outcomeTimeoutMs: 0 }),
    );
    try {
      const run = await eventually(
        async () => {
          const page = await api<{ items: Run[] }>('GET', '/v1/runs?kind=CONTINUOUS&limit=1');
          const newest = page.body.items[0];
          return newest && newest.status !== 'RUNNING' ? newest : undefined;
        },
        'a continuous run',
        10_000,
      );
      expect(run.status).toBe('DISCREPANCIES_FOUND');
      expect(await discrepanciesOf(run.id, 'PROJECTION_MISMATCH')).toEqual([
        expect.objectContaining({ accountId: fees, expectedMinor: 0, foundMinor: 11 }),
      ]);
      const next = await eventually(
        async () => {
          const page = await api<{ items: Run[] }>('GET', '/v1/runs?kind=CONTINUOUS&limit=1');
          const newest = page.body.items[0];
          return newest && newest.id !== run.id && newest.status !== 'RUNNING' ? newest : undefined;
        },
        'the next continuous run',
        10_000,
      );
      // Incremental: the next window starts where the previous one ended.
      expect(next.windowFrom).toBe(run.windowTo);
    } finally {
      await continuous.stop();
    }
  });
});

describe('a ledger row whose event is still on its way', () => {
  it('is not a discrepancy while younger than the outcome timeout, and is one after it', async () => {
    const postedAt = new Date();
    const txId = randomUUID();
    await tamper(
      `WITH t AS (
         INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
           step_key, command_id, correlation_id, account_id, account_balance_after_minor,
           command_fingerprint, posted_at)
         VALUES ($1::uuid, NULL, 'ADJUSTMENT', 0, 'EUR', 'adjustment:in-flight:' || $1::text,
           gen_random_uuid(), gen_random_uuid(), $2, 0, 'in-flight', $4))
       INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id, direction,
         amount_minor, currency, posted_at)
       VALUES (gen_random_uuid(), $1, 0, $2, 'DEBIT', 500, 'EUR', $4),
              (gen_random_uuid(), $1, 1, $3, 'CREDIT', 500, 'EUR', $4)`,
      [txId, alice, bob, postedAt],
    );
    const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
    const reconcilerAt = (nowMs: number) =>
      new Reconciler({
        pool: owner,
        log: createLogger('reconciliation-test'),
        events: new RunEventEncoder(serde, env.topicPrefix),
        outcomeTimeoutMs: 60_000,
        dateWindowDays: 2,
        pageSize: 100,
        now: () => new Date(nowMs),
      });
    const window = {
      from: new Date(postedAt.getTime() - MINUTE_MS),
      to: new Date(postedAt.getTime() + 1),
    };
    const unannounced = async (nowMs: number) => {
      const run = await reconcilerAt(nowMs).runNow('ON_DEMAND', window, [
        'LEDGER_ROWS_MATCH_EVENTS',
      ]);
      return (await discrepanciesOf(run.runId, 'LEDGER_ROW_WITHOUT_EVENT')).filter(
        (d) => d.transactionId === txId,
      );
    };
    // Half a second after posting: the relay and Kafka may still be carrying its event.
    expect(await unannounced(postedAt.getTime() + 500)).toEqual([]);
    // A minute and a second later nothing can excuse the silence.
    expect(await unannounced(postedAt.getTime() + 61_000)).toHaveLength(1);
  });
});
