// The audit trail on the real stack: Kafka, the schema registry and PostgreSQL.
import { randomUUID } from 'node:crypto';
import { createPool, urlForRole, type Pool } from '@ledgerline/platform/db';
import {
  createTestApiKey,
  createTestEnvironment,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { createAuditClient, type AuditClient } from '@ledgerline/generated/openapi/audit.client';
import { startAudit, type AuditService } from '../src/service.js';
import {
  eventProducers,
  eventually,
  ledgerCommand,
  newPayment,
  statusChanged,
  stepPosted,
  testConfig,
  deployAuditDatabase,
} from './support.js';

const SETUP_MS = 120_000;

let env: TestEnvironment;
let service: AuditService;
let client: AuditClient;
/** An auditor's key: reads and verifies the trail, nothing else. */
let auditorKey: string;
let admin: Pool;
let producers: Awaited<ReturnType<typeof eventProducers>>;
const payment = newPayment(12_500);

async function trailCount(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM audit.trail');
  return rows[0]?.n ?? 0;
}

/** Sends one event and waits until the trail holds it, as the saga would: step by step. */
async function sendAndAwait(send: () => Promise<void>): Promise<void> {
  const before = await trailCount();
  await send();
  await eventually(async () => ((await trailCount()) > before ? true : undefined), 'the record');
}

beforeAll(async () => {
  env = await createTestEnvironment('audit-trail', allTopics);
  await deployAuditDatabase(env);
  admin = createPool(env.adminDatabaseUrl, { max: 2 });
  service = await startAudit(testConfig(env));
  auditorKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'auditor',
    scopes: ['audit:read', 'audit:verify'],
  });
  client = createAuditClient(service.url, { credential: auditorKey });
  producers = await eventProducers(env);
  const p = payment;
  const debitTx = randomUUID();

  // Another payment's noise first, and an account opening: the trail of our payment ignores them.
  const other = newPayment(777);
  await producers.statusChanged.send([
    { key: other.paymentId, value: statusChanged(other, 1, null, 'PENDING') },
  ]);
  await producers.accountOpened.send([
    {
      key: p.payer,
      value: {
        eventId: randomUUID(),
        correlationId: randomUUID(),
        occurredAt: new Date(),
        accountId: p.payer,
        ownerRef: 'customer-1',
        type: 'LIABILITY',
        currency: 'EUR',
        status: 'OPEN',
        balanceFloorMinor: 0,
        isSystem: false,
      },
    },
  ]);
  await eventually(async () => ((await trailCount()) >= 2 ? true : undefined), 'the noise');

  // A payment whose credit step is rejected and which is compensated.
  await sendAndAwait(() =>
    producers.statusChanged.send([
      { key: p.paymentId, value: statusChanged(p, 1, null, 'PENDING') },
    ]),
  );
  const requested = ledgerCommand(p, p.payer, {
    'ledgerline.payments.v1.PaymentRequested': {
      paymentId: p.paymentId,
      payerAccountId: p.payer,
      payeeAccountId: p.payee,
      amountMinor: p.amountMinor,
      currency: p.currency,
      description: 'Invoice 2026-0042',
      metadata: { invoice: '2026-0042' },
    },
  });
  await sendAndAwait(() => producers.commands.send([{ key: p.payer, value: requested }]));
  const debited = stepPosted(p, 'DEBIT', p.payer, debitTx, requested.commandId);
  await sendAndAwait(() => producers.stepPosted.send([{ key: p.paymentId, value: debited }]));
  await sendAndAwait(() =>
    producers.statusChanged.send([
      { key: p.paymentId, value: statusChanged(p, 2, 'PENDING', 'DEBITED') },
    ]),
  );
  const credit = ledgerCommand(
    p,
    p.payee,
    {
      'ledgerline.payments.v1.CreditStepRequested': {
        paymentId: p.paymentId,
        payeeAccountId: p.payee,
        amountMinor: p.amountMinor,
        currency: p.currency,
        debitTransactionId: debitTx,
      },
    },
    debited.eventId,
  );
  await sendAndAwait(() => producers.commands.send([{ key: p.payee, value: credit }]));
  await sendAndAwait(() =>
    producers.postingRejected.send([
      {
        key: p.paymentId,
        value: {
          eventId: randomUUID(),
          correlationId: p.paymentId,
          causationId: credit.commandId,
          occurredAt: new Date(),
          paymentId: p.paymentId,
          step: 'CREDIT',
          sequence: 0,
          transactionId: randomUUID(),
          accountId: p.payee,
          reason: 'ACCOUNT_FROZEN',
          detail: 'payee account is frozen',
        },
      },
    ]),
  );
  await sendAndAwait(() =>
    producers.statusChanged.send([
      { key: p.paymentId, value: statusChanged(p, 3, 'DEBITED', 'COMPENSATING') },
    ]),
  );
  const compensation = ledgerCommand(p, p.payer, {
    'ledgerline.payments.v1.CompensationRequested': {
      paymentId: p.paymentId,
      payerAccountId: p.payer,
      amountMinor: p.amountMinor,
      currency: p.currency,
      debitTransactionId: debitTx,
    },
  });
  await sendAndAwait(() => producers.commands.send([{ key: p.payer, value: compensation }]));
  await sendAndAwait(() =>
    producers.stepPosted.send([
      {
        key: p.paymentId,
        value: stepPosted(
          p,
          'COMPENSATION',
          p.payer,
          randomUUID(),
          compensation.commandId,
          debitTx,
        ),
      },
    ]),
  );
  await sendAndAwait(() =>
    producers.statusChanged.send([
      { key: p.paymentId, value: statusChanged(p, 4, 'COMPENSATING', 'COMPENSATED') },
    ]),
  );
}, SETUP_MS);

afterAll(async () => {
  await producers?.producer.disconnect();
  await service?.stop();
  await admin?.end();
  await env?.cleanup();
}, SETUP_MS);

const PAYMENT_STEPS = [
  ['payments.status-changed', 'ledgerline.payments.v1.PaymentStatusChanged', 'processor'],
  ['ledger.commands', 'ledgerline.payments.v1.PaymentRequested', 'processor'],
  ['ledger.step-posted', 'ledgerline.ledger.v1.PaymentStepPosted', 'ledger'],
  ['payments.status-changed', 'ledgerline.payments.v1.PaymentStatusChanged', 'processor'],
  ['ledger.commands', 'ledgerline.payments.v1.CreditStepRequested', 'processor'],
  ['ledger.posting-rejected', 'ledgerline.ledger.v1.PostingRejected', 'ledger'],
  ['payments.status-changed', 'ledgerline.payments.v1.PaymentStatusChanged', 'processor'],
  ['ledger.commands', 'ledgerline.payments.v1.CompensationRequested', 'processor'],
  ['ledger.step-posted', 'ledgerline.ledger.v1.PaymentStepPosted', 'ledger'],
  ['payments.status-changed', 'ledgerline.payments.v1.PaymentStatusChanged', 'processor'],
];

describe('audit trail', () => {
  it('shows every step of a compensated payment, across services, in order', async () => {
    const { data, response } = await client.GET('/v1/trail/payments/{paymentId}', {
      params: { path: { paymentId: payment.paymentId } },
    });
    expect(response.status).toBe(200);
    const items = data!.items;
    expect(
      items.map((r) => [r.topic.slice(env.topicPrefix.length), r.eventType, r.producer]),
    ).toEqual(PAYMENT_STEPS);
    expect(data!.nextCursor).toBeNull();
    for (let i = 1; i < items.length; i++) {
      expect(items[i]!.sequence).toBeGreaterThan(items[i - 1]!.sequence);
    }
    expect(items.every((r) => r.paymentId === payment.paymentId)).toBe(true);
    const statuses = items
      .filter((r) => r.eventType.endsWith('PaymentStatusChanged'))
      .map((r) => (r.payload as unknown as { to: string }).to);
    expect(statuses).toEqual(['PENDING', 'DEBITED', 'COMPENSATING', 'COMPENSATED']);
    // The decoded payload as JSON: wrapped union, timestamps as ISO strings, money as integers.
    const requested = items[1]!.payload as unknown as {
      occurredAt: string;
      command: Record<string, { amountMinor: number; metadata: Record<string, string> }>;
    };
    expect(requested.occurredAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(requested.command['ledgerline.payments.v1.PaymentRequested']).toMatchObject({
      amountMinor: 12_500,
      metadata: { invoice: '2026-0042' },
    });
    const steps = items.filter((r) => r.eventType.endsWith('PaymentStepPosted'));
    expect(steps.every((r) => r.transactionId !== null && r.accountId === payment.payer)).toBe(
      true,
    );
  });

  it('pages a trail with cursors without losing or repeating a record', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let pageNo = 0; pageNo < 10; pageNo++) {
      const { data } = await client.GET('/v1/trail/payments/{paymentId}', {
        params: {
          path: { paymentId: payment.paymentId },
          query: { limit: 3, ...(cursor ? { cursor } : {}) },
        },
      });
      seen.push(...data!.items.map((r) => r.sequence));
      if (data!.nextCursor === null) break;
      cursor = data!.nextCursor;
    }
    expect(seen).toHaveLength(PAYMENT_STEPS.length);
    expect(new Set(seen).size).toBe(PAYMENT_STEPS.length);
  });

  it('sends an undecodable record to the dead-letter topic and records the dead letter', async () => {
    const before = await trailCount();
    await producers.producer.send({
      topic: `${env.topicPrefix}ledger.commands`,
      acks: -1,
      messages: [{ key: 'not-avro', value: Buffer.from('not in the wire format') }],
    });
    const { rows } = await eventually(async () => {
      const result = await admin.query<{
        producer: string;
        payload: { sourceTopic: string; reason: string };
      }>(
        `SELECT producer, payload FROM audit.trail
         WHERE event_type = 'ledgerline.platform.v1.DeadLetter' AND sequence > $1`,
        [before],
      );
      return result.rows.length > 0 ? result : undefined;
    }, 'the dead letter in the trail');
    expect(rows[0]!.producer).toBe(`${env.topicPrefix}audit`);
    expect(rows[0]!.payload.sourceTopic).toBe(`${env.topicPrefix}ledger.commands`);
    expect(rows[0]!.payload.reason).toMatch(/wire format/);
  });

  it('shows the trail of an account, optionally within a time window', async () => {
    const { data } = await client.GET('/v1/trail/accounts/{accountId}', {
      params: { path: { accountId: payment.payer } },
    });
    const types = data!.items.map((r) => r.eventType);
    expect(types[0]).toBe('ledgerline.ledger.v1.AccountOpened');
    expect(types).toContain('ledgerline.payments.v1.PaymentRequested');
    expect(types).toContain('ledgerline.payments.v1.CompensationRequested');
    expect(types).not.toContain('ledgerline.payments.v1.CreditStepRequested'); // the payee's
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const empty = await client.GET('/v1/trail/accounts/{accountId}', {
      params: { path: { accountId: payment.payer }, query: { from: future } },
    });
    expect(empty.data!.items).toEqual([]);
  });

  it('lists the trail of a time window by topic, and refuses an empty window', async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const { data } = await client.GET('/v1/trail', {
      params: { query: { from, to, topic: `${env.topicPrefix}ledger.step-posted`, limit: 500 } },
    });
    expect(data!.items).toHaveLength(2);
    const bad = await client.GET('/v1/trail', { params: { query: { from: to, to: from } } });
    expect(bad.response.status).toBe(422);
    expect(bad.error).toMatchObject({ type: 'https://ledgerline.dev/problems/invalid-window' });
    const badCursor = await client.GET('/v1/trail', {
      params: { query: { from, to, cursor: 'not-a-cursor' } },
    });
    expect(badCursor.response.status).toBe(400);
  });

  it('verifies the whole chain and writes checkpoints of its head', async () => {
    const total = await trailCount();
    const { data } = await client.GET('/v1/verify');
    expect(data).toMatchObject({
      valid: true,
      recordsChecked: total,
      fromSequence: 1,
      toSequence: total,
      firstBrokenRecord: null,
    });
    const { rows } = await admin.query<{ sequence: number; ok: boolean }>(
      `SELECT c.sequence, c.hash = t.hash AS ok FROM audit.chain_checkpoints c
       JOIN audit.trail t USING (sequence) ORDER BY c.sequence`,
    );
    expect(rows.map((r) => r.sequence)).toEqual(
      Array.from({ length: Math.floor(total / 5) }, (_, i) => (i + 1) * 5),
    );
    expect(rows.every((r) => r.ok)).toBe(true);
  });

  it(
    'records nothing twice when the same offsets are delivered again',
    async () => {
      const readPositions = async () =>
        new Map(
          (
            await admin.query<{ topic: string; partition: number; next_offset: number }>(
              'SELECT topic, partition, next_offset FROM audit.consumer_positions',
            )
          ).rows.map((r) => [`${r.topic}:${r.partition}`, r.next_offset]),
        );
      const countByKind = async () => {
        const { rows } = await admin.query<{ dead: boolean; n: number }>(
          `SELECT event_type = 'ledgerline.platform.v1.DeadLetter' AS dead, count(*)::int AS n
           FROM audit.trail GROUP BY 1`,
        );
        return {
          events: rows.find((r) => !r.dead)?.n ?? 0,
          deadLetters: rows.find((r) => r.dead)?.n ?? 0,
        };
      };
      const deadLetterTopic = `${env.topicPrefix}ledgerline.dead-letter`;
      const deadLettersRead = (p: Map<string, number>) =>
        [...p]
          .filter(([k]) => k.startsWith(`${deadLetterTopic}:`))
          .reduce((n, [, next]) => n + next, 0);
      const before = await countByKind();
      const positions = await readPositions();
      expect(deadLettersRead(positions)).toBeGreaterThan(0);
      expect(positions.size).toBeGreaterThan(0);
      await service.stop();
      // Forget every position: the consumer seeks back to offset 0 and re-reads everything.
      await admin.query('UPDATE audit.consumer_positions SET next_offset = 0');
      service = await startAudit(testConfig(env));
      client = createAuditClient(service.url, { credential: auditorKey });
      await eventually(
        async () => {
          const now = await readPositions();
          const caughtUp = [...positions].every(([k, next]) => (now.get(k) ?? 0) >= next);
          // The poison record is dead-lettered again on re-read: a new Kafka record, with the
          // same eventId (derived from the poison record's coordinates), consumed too.
          return caughtUp && deadLettersRead(now) >= 2 * deadLettersRead(positions)
            ? true
            : undefined;
        },
        'the re-delivery to be consumed',
        60_000,
      );
      const after = await countByKind();
      expect(after.events).toBe(before.events);
      // Same eventId, new coordinates: one event, recorded once.
      expect(after.deadLetters).toBe(before.deadLetters);
      const { rows: duplicated } = await admin.query(
        `SELECT topic, partition, "offset" FROM audit.trail
         GROUP BY 1, 2, 3 HAVING count(*) > 1`,
      );
      expect(duplicated).toEqual([]);
      const { data } = await client.GET('/v1/verify');
      expect(data).toMatchObject({
        valid: true,
        recordsChecked: after.events + after.deadLetters,
      });
    },
    SETUP_MS,
  );

  it(
    'keeps one unbroken chain when two instances share the partitions',
    async () => {
      const second = await startAudit(testConfig(env));
      try {
        const before = await trailCount();
        const burst = Array.from({ length: 100 }, () => newPayment(1_000));
        await producers.statusChanged.send(
          burst.map((p) => ({ key: p.paymentId, value: statusChanged(p, 1, null, 'PENDING') })),
        );
        await producers.commands.send(
          burst.map((p) => ({
            key: p.payer,
            value: ledgerCommand(p, p.payer, {
              'ledgerline.payments.v1.PaymentRequested': {
                paymentId: p.paymentId,
                payerAccountId: p.payer,
                payeeAccountId: p.payee,
                amountMinor: p.amountMinor,
                currency: p.currency,
              },
            }),
          })),
        );
        await eventually(
          async () => ((await trailCount()) >= before + 200 ? true : undefined),
          'both instances to record the burst',
          60_000,
        );
        expect(await trailCount()).toBe(before + 200);
        const { data } = await client.GET('/v1/verify');
        expect(data).toMatchObject({ valid: true, recordsChecked: before + 200 });
      } finally {
        await second.stop();
      }
    },
    SETUP_MS,
  );

  it('lets the API role read but never write, and the writer never rewrite', async () => {
    const reader = createPool(
      urlForRole(env.adminDatabaseUrl, 'audit_reader', 'audit_reader_dev'),
      { max: 1 },
    );
    const writer = createPool(urlForRole(env.adminDatabaseUrl, 'audit_app', 'audit_app_dev'), {
      max: 1,
    });
    try {
      await expect(reader.query('SELECT count(*) FROM audit.trail')).resolves.toBeDefined();
      await expect(
        reader.query(`INSERT INTO audit.trail SELECT * FROM audit.trail WHERE sequence = 1`),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(reader.query(`UPDATE audit.trail SET producer = 'x'`)).rejects.toMatchObject({
        code: '42501',
      });
      await expect(reader.query('SELECT * FROM audit.consumer_positions')).rejects.toMatchObject({
        code: '42501',
      });
      await expect(writer.query(`UPDATE audit.trail SET producer = 'x'`)).rejects.toMatchObject({
        code: '42501',
      });
      await expect(writer.query('DELETE FROM audit.trail')).rejects.toMatchObject({
        code: '42501',
      });
    } finally {
      await reader.end();
      await writer.end();
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE even to the owner', async () => {
    await expect(
      admin.query(`UPDATE audit.trail SET producer = 'x' WHERE sequence = 1`),
    ).rejects.toThrow(/append-only/);
    await expect(admin.query('DELETE FROM audit.trail WHERE sequence = 1')).rejects.toThrow(
      /append-only/,
    );
    await expect(admin.query('TRUNCATE audit.trail CASCADE')).rejects.toThrow(/append-only/);
    await expect(admin.query('DELETE FROM audit.chain_checkpoints')).rejects.toThrow(/append-only/);
  });

  it('refuses a record that does not link to the chain', async () => {
    await expect(
      admin.query(
        `INSERT INTO audit.trail (sequence, record_id, topic, partition, "offset", event_type,
           event_id, correlation_id, producer, payload, recorded_at, previous_hash, hash)
         VALUES (1000000, gen_random_uuid(), 'x.y', 0, 999999, 't', gen_random_uuid(),
           gen_random_uuid(), 'p', '{}', now(), repeat('a', 64), repeat('b', 64))`,
      ),
    ).rejects.toThrow(/does not link/);
  });

  // Last: it breaks the chain on purpose.
  it('names exactly the record a superuser altered behind the triggers', async () => {
    const { rows } = await admin.query<{ sequence: number; record_id: string; hash: string }>(
      `SELECT sequence, record_id, hash FROM audit.trail
       WHERE payment_id = $1 AND event_type = 'ledgerline.ledger.v1.PaymentStepPosted'
       ORDER BY sequence LIMIT 1`,
      [payment.paymentId],
    );
    const target = rows[0]!;
    const db = await admin.connect();
    try {
      await db.query('BEGIN');
      await db.query('SET LOCAL session_replication_role = replica');
      await db.query(
        `UPDATE audit.trail SET payload = jsonb_set(payload, '{amountMinor}', '1') WHERE sequence = $1`,
        [target.sequence],
      );
      await db.query('COMMIT');
    } finally {
      db.release();
    }
    const { data } = await client.GET('/v1/verify');
    expect(data).toMatchObject({
      valid: false,
      recordsChecked: target.sequence,
      headHash: null,
      firstBrokenRecord: {
        sequence: target.sequence,
        id: target.record_id,
        kind: 'HASH_MISMATCH',
        foundHash: target.hash,
      },
    });
    // A range that starts after the altered record trusts its start and holds.
    const after = await client.GET('/v1/verify', {
      params: { query: { fromSequence: target.sequence + 1 } },
    });
    expect(after.data).toMatchObject({ valid: true, firstBrokenRecord: null });
  });
});
