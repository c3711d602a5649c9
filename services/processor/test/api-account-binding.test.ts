// Account binding on the processor's API, with two keys bound to two payers on a real processor:
// a key bound to payer A pays from A but not from B (403, nothing stored), cannot see B's
// payments (404, as if they did not exist, nor in its listing), and reads every payment that
// involves A, as payer or as payee.
import { randomUUID } from 'node:crypto';
import { createTestApiKey } from '@ledgerline/testkit/testing';
import { startProcessor, type RunningProcessor } from '../src/service.js';
import { createTestBed, eventually, validPayment, type ProcessorTestBed } from './support.js';

describe('processor API: keys bound to a payer', () => {
  let bed: ProcessorTestBed;
  let processor: RunningProcessor;
  const payerA = randomUUID();
  const payerB = randomUUID();
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    bed = await createTestBed('processor-binding');
    processor = await startProcessor({ ...bed.config, consumerEnabled: false });
    const scopes = ['payments:read', 'payments:write', 'refunds:write'];
    keyA = await createTestApiKey(bed.env.adminDatabaseUrl, { scopes, accountIds: [payerA] });
    keyB = await createTestApiKey(bed.env.adminDatabaseUrl, { scopes, accountIds: [payerB] });
  });

  afterAll(async () => {
    await processor?.stop();
    await bed?.close();
  });

  async function send(
    key: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${processor.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined
          ? {}
          : { 'content-type': 'application/json', 'idempotency-key': randomUUID() }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  const pay = (key: string, payerAccountId: string, payeeAccountId = randomUUID()) =>
    send(key, 'POST', '/v1/payments', { ...validPayment(), payerAccountId, payeeAccountId });

  it('pays from its own payer and is refused 403 from another payer, storing nothing', async () => {
    expect((await pay(keyA, payerA)).status).toBe(202);
    // The relay publishes the accepted payment's outbox rows meanwhile: wait for it, so the
    // comparison below sees only what the refused request might have written.
    const before = await eventually(
      async () => {
        const counts = await bed.counts();
        return counts.outbox === 0 ? counts : undefined;
      },
      20_000,
      'the accepted payment published',
    );
    const refused = await pay(keyA, payerB);
    expect(refused.status).toBe(403);
    expect(String(refused.body['type'])).toMatch(/^https:\/\/ledgerline\.dev\/problems\//);
    expect(await bed.counts()).toEqual(before);
  });

  it("cannot read another payer's payment (404) but reads every payment involving its payer", async () => {
    const ofB = await pay(keyB, payerB);
    const toA = await pay(keyB, payerB, payerA);
    const fromA = await pay(keyA, payerA);
    expect([ofB.status, toA.status, fromA.status]).toEqual([202, 202, 202]);

    const hidden = await send(keyA, 'GET', `/v1/payments/${String(ofB.body['id'])}`);
    expect(hidden.status).toBe(404);
    expect((await send(keyB, 'GET', `/v1/payments/${String(ofB.body['id'])}`)).status).toBe(200);

    const asPayee = await send(keyA, 'GET', `/v1/payments/${String(toA.body['id'])}`);
    expect(asPayee.status).toBe(200);
    expect(asPayee.body['payeeAccountId']).toBe(payerA);
    expect((await send(keyA, 'GET', `/v1/payments/${String(fromA.body['id'])}`)).status).toBe(200);
    // Listing: key A's page holds the payments involving A and none of B's own.
    const listed = await send(keyA, 'GET', '/v1/payments?limit=100');
    expect(listed.status).toBe(200);
    const ids = (listed.body['items'] as { id: string }[]).map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining([toA.body['id'], fromA.body['id']]));
    expect(ids).not.toContain(ofB.body['id']);
    // Key B sees A's own payment only if it involves B: it does not.
    expect((await send(keyB, 'GET', `/v1/payments/${String(fromA.body['id'])}`)).status).toBe(404);
  });

  it('tells each caller who it is: scopes and bound accounts; no credential is 401', async () => {
    const bound = await send(keyA, 'GET', '/v1/caller');
    expect(bound.status).toBe(200);
    expect(bound.body).toMatchObject({
      kind: 'api-key',
      scopes: ['payments:read', 'payments:write', 'refunds:write'],
      accountIds: [payerA],
    });
    // A key with no processor scope may still ask: the console learns what to offer from it.
    const ledgerOnly = await createTestApiKey(bed.env.adminDatabaseUrl, {
      scopes: ['ledger:read'],
    });
    const unbound = await send(ledgerOnly, 'GET', '/v1/caller');
    expect(unbound.status).toBe(200);
    expect(unbound.body).toMatchObject({ scopes: ['ledger:read'], accountIds: null });
    expect(typeof unbound.body['keyId']).toBe('string');
    expect((await fetch(`${processor.url}/v1/caller`)).status).toBe(401);
  });
});
