// The ledger's HTTP API on the real stack: writes travel through the ledger's own outbox and
// ledger.commands, and the API answers once the consumer decided them.
import { randomUUID } from 'node:crypto';
import { systemAccountId } from '../src/domain/ids.js';
import { startHarness, type Harness } from './support/ledger-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('ledger-api');
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  // An operator's key unless the test presents its own credential.
  const authorised = { authorization: `Bearer ${h.operatorKey}`, ...headers };
  const response = await fetch(`${h.ledger.url}${path}`, {
    method,
    headers:
      body === undefined ? authorised : { 'content-type': 'application/json', ...authorised },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: response.headers,
  };
}

test('an account opened over HTTP is created by the consumer, and its system accounts with it', async () => {
  const accountId = randomUUID();
  const opened = await call('POST', '/v1/accounts', {
    accountId,
    ownerRef: 'customer-42',
    type: 'LIABILITY',
    currency: 'EUR',
    balanceFloorMinor: 0,
  });
  expect(opened.status).toBe(201);
  expect(opened.body).toMatchObject({ id: accountId, status: 'OPEN', isSystem: false });
  expect(opened.headers.get('location')).toBe(`/v1/accounts/${accountId}`);

  const system = await call('GET', '/v1/system-accounts?currency=EUR');
  expect(system.status).toBe(200);
  const ids = (system.body['items'] as { id: string }[]).map((a) => a.id);
  expect(ids).toContain(systemAccountId('CLEARING', 'EUR'));
  expect(ids).toContain(systemAccountId('SETTLEMENT', 'EUR'));
});

test('an adjustment funds the account once per Idempotency-Key, and the balance as of before it is 0', async () => {
  const accountId = randomUUID();
  expect(
    (
      await call('POST', '/v1/accounts', {
        accountId,
        ownerRef: 'customer-43',
        type: 'LIABILITY',
        currency: 'EUR',
        balanceFloorMinor: 0,
      })
    ).status,
  ).toBe(201);
  const beforeFunding = new Date().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const request = {
    direction: 'CREDIT',
    amountMinor: 110_000,
    currency: 'EUR',
    reference: 'WIRE-2026-0001',
    reason: 'top-up',
  };
  const first = await call('POST', `/v1/accounts/${accountId}/adjustments`, request, {
    'Idempotency-Key': 'funding-0001',
  });
  expect(first.status).toBe(201);
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(first.body).toMatchObject({ status: 'POSTED', amountMinor: 110_000 });
  const again = await call('POST', `/v1/accounts/${accountId}/adjustments`, request, {
    'Idempotency-Key': 'funding-0001',
  });
  expect(again.status).toBe(201);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(again.body['transactionId']).toBe(first.body['transactionId']);

  const balance = await call('GET', `/v1/accounts/${accountId}/balance`);
  expect(balance.body).toMatchObject({ balanceMinor: 110_000, currency: 'EUR' });
  const past = await call(
    'GET',
    `/v1/accounts/${accountId}/balance?asOf=${encodeURIComponent(beforeFunding)}`,
  );
  expect(past.body['balanceMinor']).toBe(0);

  const entries = await call('GET', `/v1/accounts/${accountId}/entries?limit=10`);
  expect(entries.body['items']).toHaveLength(1);
  expect(entries.body['nextCursor']).toBeNull();
  const transaction = await call('GET', `/v1/transactions/${String(first.body['transactionId'])}`);
  expect(transaction.status).toBe(200);
  expect(transaction.body['entries']).toHaveLength(2);

  const reused = await call(
    'POST',
    `/v1/accounts/${accountId}/adjustments`,
    { ...request, amountMinor: 1 },
    { 'Idempotency-Key': 'funding-0001' },
  );
  expect(reused.status).toBe(422);
});

test('a withdrawal beyond the floor is decided REJECTED with the reason, and nothing moves', async () => {
  const accountId = randomUUID();
  await call('POST', '/v1/accounts', {
    accountId,
    ownerRef: 'customer-44',
    type: 'LIABILITY',
    currency: 'EUR',
    balanceFloorMinor: 0,
  });
  const withdrawal = await call(
    'POST',
    `/v1/accounts/${accountId}/adjustments`,
    { direction: 'DEBIT', amountMinor: 5, currency: 'EUR', reference: 'PAYOUT-1', reason: 'x' },
    { 'Idempotency-Key': 'payout-1' },
  );
  expect(withdrawal.status).toBe(201);
  expect(withdrawal.body).toMatchObject({
    status: 'REJECTED',
    rejectionReason: 'INSUFFICIENT_FUNDS',
    transactionId: null,
  });
  const balance = await call('GET', `/v1/accounts/${accountId}/balance`);
  expect(balance.body['balanceMinor']).toBe(0);
});

test('freezing an account is applied through the command topic; unknown accounts are 404', async () => {
  const accountId = randomUUID();
  await call('POST', '/v1/accounts', {
    accountId,
    ownerRef: 'customer-45',
    type: 'LIABILITY',
    currency: 'EUR',
    balanceFloorMinor: 0,
  });
  const frozen = await call('POST', `/v1/accounts/${accountId}/status`, { action: 'FREEZE' });
  expect(frozen.status).toBe(200);
  expect(frozen.body['status']).toBe('FROZEN');
  expect((await call('GET', `/v1/accounts/${randomUUID()}`)).status).toBe(404);
  expect((await call('POST', '/v1/accounts', { ownerRef: 'x' })).status).toBe(400);
});

test('closing an account that holds money is refused as BALANCE_NOT_ZERO and the account stays open', async () => {
  const accountId = randomUUID();
  await call('POST', '/v1/accounts', {
    accountId,
    ownerRef: 'customer-47',
    type: 'LIABILITY',
    currency: 'EUR',
    balanceFloorMinor: 0,
  });
  const funding = await call(
    'POST',
    `/v1/accounts/${accountId}/adjustments`,
    {
      direction: 'CREDIT',
      amountMinor: 2_500,
      currency: 'EUR',
      reference: 'WIRE-2026-0047',
      reason: 'opening deposit',
    },
    { 'Idempotency-Key': 'funding-0047' },
  );
  expect(funding.body['status']).toBe('POSTED');

  const close = await call('POST', `/v1/accounts/${accountId}/status`, { action: 'CLOSE' });
  expect(close.status).toBe(409);
  expect(close.body).toMatchObject({
    type: 'https://ledgerline.dev/problems/invalid-status-transition',
    rejectionReason: 'BALANCE_NOT_ZERO',
  });
  const command = await call('GET', `/v1/commands/${String(close.body['commandId'])}`);
  expect(command.body).toMatchObject({ status: 'REJECTED', rejectionReason: 'BALANCE_NOT_ZERO' });
  expect((await call('GET', `/v1/accounts/${accountId}`)).body['status']).toBe('OPEN');
  expect((await call('GET', `/v1/accounts/${accountId}/balance`)).body['balanceMinor']).toBe(2_500);
});

test('a reason with U+0000 or an unpaired surrogate is refused with 400 naming it, and the account is unchanged', async () => {
  const accountId = randomUUID();
  const opened = await call('POST', '/v1/accounts', {
    accountId,
    ownerRef: 'customer-46',
    type: 'LIABILITY',
    currency: 'EUR',
    balanceFloorMinor: 0,
  });
  expect(opened.status).toBe(201);
  const pointers = (body: Record<string, unknown>) =>
    ((body['errors'] as { pointer?: string; message: string }[] | undefined) ?? []).map(
      (e) => `${e.pointer} ${e.message}`,
    );

  const freeze = await call('POST', `/v1/accounts/${accountId}/status`, {
    action: 'FREEZE',
    reason: 'fraud\u0000check',
  });
  expect(freeze.status).toBe(400);
  expect(pointers(freeze.body)).toEqual([expect.stringMatching(/^\/reason contains U\+0000/)]);

  const funding = await call(
    'POST',
    `/v1/accounts/${accountId}/adjustments`,
    {
      direction: 'CREDIT',
      amountMinor: 50_000,
      currency: 'EUR',
      reference: 'WIRE-2026-0046',
      reason: 'top-up \ud800',
    },
    { 'Idempotency-Key': 'funding-0046' },
  );
  expect(funding.status).toBe(400);
  expect(pointers(funding.body)).toEqual([
    expect.stringMatching(/^\/reason contains an unpaired UTF-16 surrogate/),
  ]);

  // Nothing was stored: no command beyond the opening, the account open, no money moved.
  const { rows } = await h.owner.query<{ type: string }>(
    'SELECT type FROM ledger.api_commands WHERE account_id = $1',
    [accountId],
  );
  expect(rows.map((r) => r.type)).toEqual(['OPEN_ACCOUNT']);
  expect((await call('GET', `/v1/accounts/${accountId}`)).body['status']).toBe('OPEN');
  expect((await call('GET', `/v1/accounts/${accountId}/balance`)).body['balanceMinor']).toBe(0);
});
