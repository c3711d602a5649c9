// Rate limits at the HTTP edge, on a real ledger configured the way an operator would
// (LEDGERLINE_RATE_LIMITS): a token bucket per key and scope, 429 problem+json with Retry-After,
// nothing done for a refused request, and every refusal counted in /metrics.
import { randomUUID } from 'node:crypto';
import {
  createTestApiKey,
  createTestEnvironment,
  testRoleUrl,
  type TestEnvironment,
  scrapeMetrics,
} from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { LEDGER_APP_ROLE } from '../src/database.js';
import { migrateLedger, startLedger, type RunningLedger } from '../src/service.js';

let env: TestEnvironment;
let ledger: RunningLedger;
let operatorA: string;
let operatorB: string;
let scraper: string;
const previous = process.env['LEDGERLINE_RATE_LIMITS'];

beforeAll(async () => {
  // Three adjustments at once, then one every two seconds; reads are not limited.
  process.env['LEDGERLINE_RATE_LIMITS'] = JSON.stringify({
    'ledger:adjust': { burst: 3, perSecond: 0.5 },
  });
  env = await createTestEnvironment('ledger-rate-limit', allTopics);
  await migrateLedger(env.adminDatabaseUrl);
  ledger = await startLedger({
    databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    development: true,
  });
  const scopes = ['ledger:accounts', 'ledger:read', 'ledger:adjust'];
  operatorA = await createTestApiKey(env.adminDatabaseUrl, { name: 'ops-a', scopes });
  operatorB = await createTestApiKey(env.adminDatabaseUrl, { name: 'ops-b', scopes });
  scraper = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'scraper',
    scopes: ['metrics:read'],
  });
}, 120_000);

afterAll(async () => {
  if (previous === undefined) delete process.env['LEDGERLINE_RATE_LIMITS'];
  else process.env['LEDGERLINE_RATE_LIMITS'] = previous;
  await ledger?.stop();
  await env?.cleanup();
});

async function call(key: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${ledger.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      'idempotency-key': randomUUID(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
  };
}

const funding = (amountMinor: number) => ({
  direction: 'CREDIT',
  amountMinor,
  currency: 'EUR',
  reference: 'WIRE-RATE',
  reason: 'top-up',
});

async function balanceMinor(accountId: string): Promise<number> {
  const answer = await call(operatorA, 'GET', `/v1/accounts/${accountId}/balance`);
  expect(answer.status).toBe(200);
  return answer.body['balanceMinor'] as number;
}

async function limitedCount(): Promise<number> {
  const text = await scrapeMetrics(ledger.url, scraper);
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('http_rate_limited_total{') &&
        l.includes('operation="createAdjustment"') &&
        l.includes('scope="ledger:adjust"'),
    );
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('a key past its adjustment budget gets 429 with Retry-After, and the refused adjustment posts nothing', async () => {
  const accountId = randomUUID();
  const opened = await call(operatorA, 'POST', '/v1/accounts', {
    accountId,
    ownerRef: 'customer-rate',
    type: 'LIABILITY',
    currency: 'EUR',
  });
  expect(opened.status).toBe(201);
  const countedBefore = await limitedCount();

  for (let i = 0; i < 3; i += 1) {
    expect(
      (await call(operatorA, 'POST', `/v1/accounts/${accountId}/adjustments`, funding(100))).status,
    ).toBe(201);
  }
  const refused = await call(
    operatorA,
    'POST',
    `/v1/accounts/${accountId}/adjustments`,
    funding(100),
  );
  expect(refused.status).toBe(429);
  expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
  // At most 2 s (one token at 0.5/s); less when the three adjustments took a while.
  const retryAfterSeconds = Number(refused.headers.get('retry-after'));
  expect([1, 2]).toContain(retryAfterSeconds);
  expect(refused.body).toMatchObject({
    type: 'https://ledgerline.dev/problems/rate-limited',
    status: 429,
    scope: 'ledger:adjust',
    retryAfterSeconds,
  });
  expect(await balanceMinor(accountId)).toBe(300);
  expect(await limitedCount()).toBe(countedBefore + 1);

  // Reads draw on no adjustment budget, and another key has its own.
  expect((await call(operatorA, 'GET', `/v1/accounts/${accountId}`)).status).toBe(200);
  expect(
    (await call(operatorB, 'POST', `/v1/accounts/${accountId}/adjustments`, funding(100))).status,
  ).toBe(201);

  // After Retry-After, the key may adjust again.
  await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1_000));
  expect(
    (await call(operatorA, 'POST', `/v1/accounts/${accountId}/adjustments`, funding(100))).status,
  ).toBe(201);
  expect(await balanceMinor(accountId)).toBe(500);
});
