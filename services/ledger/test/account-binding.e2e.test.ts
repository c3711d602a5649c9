// Account binding on the ledger's API: a key bound to payer A reads A's account and balance, and
// B's are 404 to it, as if they did not exist, on a real ledger.
import { randomUUID } from 'node:crypto';
import { createTestApiKey } from '@ledgerline/testkit/testing';
import { startHarness, type Harness } from './support/ledger-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('ledger-binding');
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

async function get(key: string, path: string): Promise<number> {
  const response = await fetch(`${h.ledger.url}${path}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  await response.text();
  return response.status;
}

async function open(accountId: string): Promise<void> {
  const response = await fetch(`${h.ledger.url}/v1/accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.operatorKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      accountId,
      ownerRef: `payer-${accountId}`,
      type: 'LIABILITY',
      currency: 'EUR',
      balanceFloorMinor: 0,
    }),
  });
  await response.text();
  expect(response.status).toBe(201);
}

test("a key bound to payer A reads A's account and balance; B's are 404 to it", async () => {
  const payerA = randomUUID();
  const payerB = randomUUID();
  await open(payerA);
  await open(payerB);
  const keyA = await createTestApiKey(h.env.adminDatabaseUrl, {
    scopes: ['ledger:read'],
    accountIds: [payerA],
  });
  expect(await get(keyA, `/v1/accounts/${payerA}`)).toBe(200);
  expect(await get(keyA, `/v1/accounts/${payerA}/balance`)).toBe(200);
  expect(await get(keyA, `/v1/accounts/${payerB}`)).toBe(404);
  expect(await get(keyA, `/v1/accounts/${payerB}/balance`)).toBe(404);
  expect(await get(keyA, `/v1/accounts/${payerB}/entries`)).toBe(404);
  // B's account exists: the operator's unbound key sees it.
  expect(await get(h.operatorKey, `/v1/accounts/${payerB}/balance`)).toBe(200);
});
