// The payment intake on the real database: concurrent POSTs are written together, each key is
// claimed once, a key stored before is answered from its record with nothing written, the
// outbox keeps each payment's messages in order, one request whose key another request holds
// does not fail the rest of its batch, and nothing is written for a caller whose API key is no
// longer live when the statement runs.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createApiKey, revokeApiKey } from '@ledgerline/platform/auth/api-keys';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { requestHash, startSaga } from '../src/domain/index.js';
import {
  PaymentIntakeQueue,
  type IntakeOutcome,
  type PaymentIntakeOptions,
} from '../src/app/payment-intake.js';
import { acceptPayments, type PaymentIntake } from '../src/store/intake.js';
import type { PaymentRecord } from '../src/store/payments.js';
import { createTestBed, type ProcessorTestBed } from './support.js';

let bed: ProcessorTestBed;
let pool: Pool;
const queues: PaymentIntakeQueue[] = [];

/** A queue on the app role's URL, with sessions of its own; stopped after each test. */
function intakeQueue(options: Omit<PaymentIntakeOptions, 'databaseUrl'>): PaymentIntakeQueue {
  const queue = new PaymentIntakeQueue({ databaseUrl: bed.env.databaseUrl, ...options });
  queues.push(queue);
  return queue;
}

beforeAll(async () => {
  // The test bed deploys the schema (npm run migrate's function); the intake is driven directly.
  bed = await createTestBed('processor-intake');
  pool = createPool(bed.env.databaseUrl, { max: 6, applicationName: 'intake-test' });
});

afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.stop()));
});

afterAll(async () => {
  await pool.end();
  await bed.close();
});

beforeEach(async () => {
  await bed.admin.query(
    'TRUNCATE processor.outbox, processor.payments, processor.idempotency_keys CASCADE',
  );
});

function intake(
  key: string,
  amountMinor = 1_000,
  callerKeyId: string | null = null,
): PaymentIntake {
  const paymentId = randomUUID();
  const now = new Date();
  const body = {
    payerAccountId: randomUUID(),
    payeeAccountId: randomUUID(),
    amountMinor,
    currency: 'EUR',
  };
  const { saga } = startSaga({ paymentId, ...body, acceptedAt: now.toISOString() });
  const record: PaymentRecord = {
    saga,
    description: `payment for ${key}`,
    metadata: { key },
    statusVersion: 1,
    correlationId: paymentId,
    createdAt: now,
    updatedAt: now,
  };
  return {
    key,
    callerKeyId,
    idempotency: {
      requestHash: requestHash(body),
      response: {
        status: 202,
        body: { id: paymentId, key },
        location: `/v1/payments/${paymentId}`,
      },
    },
    record,
    // Two messages a payment, in the order they must be published.
    outbox: ['command', 'status'].map((kind) => ({
      topic: `intake-test.${kind}`,
      key: Buffer.from(paymentId),
      value: Buffer.from(`${kind}:${key}`),
    })),
  };
}

async function stored(): Promise<{
  payments: Map<string, string>;
  outbox: { topic: string; value: string }[];
  keys: Map<string, unknown>;
}> {
  const payments = await bed.admin.query<{ id: string; key: string }>(
    `SELECT id::text, metadata ->> 'key' AS key FROM processor.payments`,
  );
  const outbox = await bed.admin.query<{ topic: string; value: Buffer }>(
    'SELECT topic, value FROM processor.outbox ORDER BY id',
  );
  const keys = await bed.admin.query<{ key: string; response_body: unknown }>(
    `SELECT key, response_body FROM processor.idempotency_keys WHERE scope = 'createPayment'`,
  );
  return {
    payments: new Map(payments.rows.map((r) => [r.key, r.id])),
    outbox: outbox.rows.map((r) => ({ topic: r.topic, value: r.value.toString('utf8') })),
    keys: new Map(keys.rows.map((r) => [r.key, r.response_body])),
  };
}

test('one statement writes the new keys of a batch and nothing of a key stored before', async () => {
  const before = intake('key-stored-before');
  await acceptPayments(pool, [before]);
  const fresh = ['key-fresh-c', 'key-fresh-a', 'key-fresh-b'].map((key) => intake(key));
  const again = intake('key-stored-before', 2_000);

  const { claimed, keyNotLive } = await acceptPayments(pool, [
    fresh[0]!,
    again,
    fresh[1]!,
    fresh[2]!,
  ]);

  expect(keyNotLive.size).toBe(0);
  expect([...claimed].sort()).toEqual(['key-fresh-a', 'key-fresh-b', 'key-fresh-c']);
  const rows = await stored();
  expect(rows.payments.size).toBe(4);
  expect(rows.payments.get('key-stored-before')).toBe(before.record.saga.paymentId);
  for (const i of fresh) expect(rows.payments.get(i.key)).toBe(i.record.saga.paymentId);
  // The stored key keeps its first response; the second request wrote nothing.
  expect(rows.keys.get('key-stored-before')).toEqual(before.idempotency.response.body);
  // Outbox rows in the order the batch gave them, two per accepted payment.
  expect(rows.outbox.map((o) => o.value)).toEqual([
    'command:key-stored-before',
    'status:key-stored-before',
    'command:key-fresh-c',
    'status:key-fresh-c',
    'command:key-fresh-a',
    'status:key-fresh-a',
    'command:key-fresh-b',
    'status:key-fresh-b',
  ]);
});

test('a batch must not carry one key twice', async () => {
  await expect(acceptPayments(pool, [intake('key-twice'), intake('key-twice')])).rejects.toThrow(
    'one intake per key in a batch',
  );
  expect((await stored()).payments.size).toBe(0);
});

test('concurrent requests are grouped, and each key is accepted exactly once', async () => {
  const batches: number[] = [];
  const queue = intakeQueue({
    lockTimeoutMs: 5_000,
    batchesInFlightMax: 2,
    onBatch: (size) => batches.push(size),
  });
  // 60 keys, each sent by 4 requests at once (a retrying client), 240 requests.
  const keys = Array.from({ length: 60 }, (_, i) => `key-concurrent-${i}`);
  const requests = keys.flatMap((key) => [0, 1, 2, 3].map(() => intake(key)));

  const outcomes = await Promise.all(requests.map((r) => queue.submit(r)));

  const accepted = requests.filter((_, i) => outcomes[i]!.accepted);
  expect(accepted.map((r) => r.key).sort()).toEqual([...keys].sort());
  const rows = await stored();
  expect(rows.payments.size).toBe(60);
  expect(rows.outbox).toHaveLength(120);
  for (const r of accepted) expect(rows.payments.get(r.key)).toBe(r.record.saga.paymentId);
  // Every other request is answered from the record of the one accepted for its key.
  outcomes.forEach((outcome: IntakeOutcome, i) => {
    if (outcome.accepted) return;
    if (!('existing' in outcome)) throw new Error(`request ${i}: the caller's key was refused`);
    const first = accepted.find((r) => r.key === requests[i]!.key)!;
    expect(outcome.existing.response.body).toEqual(first.idempotency.response.body);
  });
  // Written together: far fewer statements than requests, and never two in flight beyond
  // the bound (each batch is one statement).
  expect(batches.reduce((a, b) => a + b, 0)).toBe(240);
  expect(batches.length).toBeLessThan(240 / 4);
  expect(Math.max(...batches)).toBeGreaterThan(1);
});

test('a key held by an unfinished request fails only that request, after the wait', async () => {
  const holder = new pg.Client({ connectionString: bed.env.adminDatabaseUrl });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await acceptPayments(holder, [intake('key-held')]);
    const batches: number[] = [];
    const queue = intakeQueue({
      lockTimeoutMs: 300,
      batchesInFlightMax: 1,
      onBatch: (size) => batches.push(size),
    });
    // The first request goes alone; the three behind it share the next batch, which the held
    // key fails after the wait: the two others are then written on their own.
    const requests = ['key-free-1', 'key-held', 'key-free-2', 'key-free-3'].map((key) =>
      intake(key),
    );

    const results = await Promise.allSettled(requests.map((r) => queue.submit(r)));

    expect(batches).toEqual([1, 3]);
    const [free1, held, ...rest] = results;
    expect(held!.status).toBe('rejected');
    expect((held as PromiseRejectedResult).reason).toMatchObject({ code: '55P03' });
    for (const r of [free1, ...rest]) {
      expect(r).toEqual({ status: 'fulfilled', value: { accepted: true } });
    }
    const rows = await stored();
    expect([...rows.payments.keys()].sort()).toEqual(['key-free-1', 'key-free-2', 'key-free-3']);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  // Once the holder gave up the key, it can be accepted.
  const queue = intakeQueue({ lockTimeoutMs: 300 });
  await expect(queue.submit(intake('key-held'))).resolves.toEqual({ accepted: true });
});

test('nothing is written for a caller whose API key is revoked, expired or unknown', async () => {
  const spec = { name: 'intake caller', scopes: ['payments:write'] };
  const [live, revoked, expired, rotating] = await Promise.all(
    [1, 2, 3, 4].map(async () => (await createApiKey(bed.admin, spec)).record.keyId),
  );
  await revokeApiKey(bed.admin, revoked!);
  await bed.admin.query(
    `UPDATE auth.api_keys SET created_at = now() - interval '2 days',
            expires_at = now() - interval '1 day' WHERE key_id = $1`,
    [expired],
  );
  // A rotation's grace: revoked an hour from now, so still live.
  await bed.admin.query(
    `UPDATE auth.api_keys SET revoked_at = now() + interval '1 hour' WHERE key_id = $1`,
    [rotating],
  );
  const callers: Record<string, string | null> = {
    'key-by-live': live!,
    'key-by-revoked': revoked!,
    'key-by-expired': expired!,
    'key-by-rotating': rotating!,
    'key-by-unknown': '0123456789abcdef',
    'key-by-token': null,
  };
  const intakes = Object.entries(callers).map(([key, caller]) => intake(key, 1_000, caller));

  const { claimed, keyNotLive } = await acceptPayments(pool, intakes);

  expect([...claimed].sort()).toEqual(['key-by-live', 'key-by-rotating', 'key-by-token']);
  expect([...keyNotLive].sort()).toEqual(['key-by-expired', 'key-by-revoked', 'key-by-unknown']);
  const rows = await stored();
  expect([...rows.payments.keys()].sort()).toEqual([...claimed].sort());
  expect([...rows.keys.keys()].sort()).toEqual([...claimed].sort());
  expect(rows.outbox.map((o) => o.value.split(':')[1]).sort()).toEqual(
    [...claimed, ...claimed].sort(),
  );

  // Through the queue: the refused caller's request is answered as such, its key left free.
  const queue = intakeQueue({ lockTimeoutMs: 1_000 });
  await expect(queue.submit(intake('key-by-revoked', 1_000, revoked!))).resolves.toEqual({
    accepted: false,
    keyNotLive: true,
  });
  await expect(queue.submit(intake('key-by-revoked', 1_000, live!))).resolves.toEqual({
    accepted: true,
  });
});
