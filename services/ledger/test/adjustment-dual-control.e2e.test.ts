// Dual control of adjustments on the real stack: operators authenticate with API keys, the
// ledger runs with a small approval threshold (1,000.00) and daily cap (20,000.00 per key), and
// every claim is checked on the books (transactions, balances) and on the audit events.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { prefixedTopic } from '@ledgerline/platform/events/topic';
import { TopicConsumer } from '@ledgerline/platform/events/typed';
import { EventSerde } from '@ledgerline/platform/events/serde';
import {
  createTestApiKey,
  createTestEnvironment,
  testRoleUrl,
  TopicReader,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { allTopics, ledgerAdjustmentRequestsTopic } from '@ledgerline/generated/topics';
import { LEDGER_APP_ROLE } from '../src/database.js';
import type { AdjustmentControlPolicy } from '../src/domain/adjustment-control.js';
import { migrateLedger, startLedger, type RunningLedger } from '../src/service.js';

const THRESHOLD_MINOR = 100_000;
const CAP_MINOR = 2_000_000;
const policy: AdjustmentControlPolicy = {
  approvalAboveMinor: { defaultMinor: THRESHOLD_MINOR, byCurrencyMinor: {} },
  dailyCapMinor: { defaultMinor: CAP_MINOR, byCurrencyMinor: {} },
};

let env: TestEnvironment;
let ledger: RunningLedger;
let owner: pg.Pool;
let events: TopicReader<typeof ledgerAdjustmentRequestsTopic>;
/** Requests adjustments, and holds ledger:approve too: four eyes is about people, not scopes. */
let alice: string;
/** A second key named like alice's: the same operator. */
let aliceSecondKey: string;
let bob: string;
let carol: string;
/** Requests adjustments only; the cap tests use it. */
let dave: string;

beforeAll(async () => {
  env = await createTestEnvironment('ledger-dual-control', allTopics);
  await migrateLedger(env.adminDatabaseUrl);
  ledger = await startLedger({
    databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    development: true,
    adjustmentControl: policy,
  });
  const key = (name: string, scopes: string[]) =>
    createTestApiKey(env.adminDatabaseUrl, { name, scopes });
  const operator = ['ledger:accounts', 'ledger:read', 'ledger:adjust'];
  alice = await key('ops-alice', [...operator, 'ledger:approve']);
  aliceSecondKey = await key('ops-alice', ['ledger:approve']);
  bob = await key('ops-bob', ['ledger:read', 'ledger:approve']);
  carol = await key('ops-carol', ['ledger:approve']);
  dave = await key('ops-dave', operator);
  owner = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  events = await TopicReader.start(
    env.kafkaBrokers,
    new TopicConsumer(prefixedTopic(ledgerAdjustmentRequestsTopic, env.topicPrefix), serde),
  );
}, 120_000);

afterAll(async () => {
  await events?.stop();
  await ledger?.stop();
  await owner?.end();
  await env?.cleanup();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(
  key: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${ledger.url}${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: response.headers,
  };
}

async function openAccount(): Promise<string> {
  const accountId = randomUUID();
  const opened = await call(alice, 'POST', '/v1/accounts', {
    accountId,
    ownerRef: `customer-${accountId.slice(0, 8)}`,
    type: 'LIABILITY',
    currency: 'EUR',
  });
  expect(opened.status).toBe(201);
  return accountId;
}

function adjust(
  key: string | null,
  accountId: string,
  amountMinor: number,
  idempotencyKey?: string,
) {
  return call(
    key,
    'POST',
    `/v1/accounts/${accountId}/adjustments`,
    {
      direction: 'CREDIT',
      amountMinor,
      currency: 'EUR',
      reference: `WIRE-${randomUUID().slice(0, 8)}`,
      reason: 'treasury funding',
    },
    { 'Idempotency-Key': idempotencyKey ?? randomUUID() },
  );
}

async function balanceMinor(accountId: string): Promise<number> {
  const answer = await call(alice, 'GET', `/v1/accounts/${accountId}/balance`);
  expect(answer.status).toBe(200);
  return answer.body['balanceMinor'] as number;
}

async function transactionsOf(adjustmentId: string): Promise<number> {
  const { rows } = await owner.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ledger.transactions WHERE adjustment_id = $1',
    [adjustmentId],
  );
  return rows[0]?.n ?? -1;
}

function stagesOf(adjustmentId: string): Promise<string[]> {
  return events
    .waitFor((records) => records.some((r) => r.value.adjustmentId === adjustmentId))
    .then((records) =>
      records.filter((r) => r.value.adjustmentId === adjustmentId).map((r) => r.value.stage),
    );
}

test('an adjustment at the threshold posts at once, and the audit trail says who asked', async () => {
  const accountId = await openAccount();
  const posted = await adjust(alice, accountId, THRESHOLD_MINOR);
  expect(posted.status).toBe(201);
  expect(posted.body).toMatchObject({
    status: 'POSTED',
    requestedBy: expect.stringMatching(/ops-alice$/),
    approval: null,
  });
  expect(await balanceMinor(accountId)).toBe(THRESHOLD_MINOR);
  const id = posted.body['id'] as string;
  expect(await stagesOf(id)).toEqual(['SUBMITTED']);
  const submitted = events.records.find((r) => r.value.adjustmentId === id)?.value;
  expect(submitted).toMatchObject({
    requestedBy: expect.stringMatching(/ops-alice$/),
    amountMinor: THRESHOLD_MINOR,
    decidedBy: null,
  });
});

test('above the threshold an adjustment is only requested: nothing posts, it waits in the queue', async () => {
  const accountId = await openAccount();
  const requested = await adjust(alice, accountId, THRESHOLD_MINOR + 1);
  expect(requested.status).toBe(202);
  expect(requested.body).toMatchObject({
    status: 'PENDING',
    transactionId: null,
    approval: { status: 'AWAITING_APPROVAL', decidedBy: null, decidedAt: null },
  });
  const id = requested.body['id'] as string;
  expect(requested.headers.get('location')).toBe(`/v1/adjustments/${id}`);

  const queue = await call(bob, 'GET', '/v1/adjustments?approval=AWAITING_APPROVAL&limit=500');
  expect(queue.status).toBe(200);
  expect((queue.body['items'] as { id: string }[]).map((a) => a.id)).toContain(id);
  expect(await stagesOf(id)).toEqual(['AWAITING_APPROVAL']);
  expect(await transactionsOf(id)).toBe(0);
  expect(await balanceMinor(accountId)).toBe(0);
});

test('the requesting key cannot approve its own adjustment, nor another key of the same operator', async () => {
  const accountId = await openAccount();
  const requested = await adjust(alice, accountId, 150_000);
  const id = requested.body['id'] as string;

  for (const key of [alice, aliceSecondKey]) {
    const refused = await call(key, 'POST', `/v1/adjustments/${id}/approve`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({
      type: 'https://ledgerline.dev/problems/self-approval',
      status: 403,
    });
    expect(refused.body['detail']).toMatch(/ops-alice/);
  }
  const after = await call(bob, 'GET', `/v1/adjustments/${id}`);
  expect(after.body).toMatchObject({
    status: 'PENDING',
    approval: { status: 'AWAITING_APPROVAL', decidedBy: null },
  });
  expect(await transactionsOf(id)).toBe(0);
  expect(await balanceMinor(accountId)).toBe(0);
});

test('approval by another operator posts the adjustment exactly once, however often it is approved', async () => {
  const accountId = await openAccount();
  const requested = await adjust(alice, accountId, 150_000);
  const id = requested.body['id'] as string;

  const approved = await call(bob, 'POST', `/v1/adjustments/${id}/approve`);
  expect(approved.status).toBe(200);
  expect(approved.body).toMatchObject({
    status: 'POSTED',
    requestedBy: expect.stringMatching(/ops-alice$/),
    approval: { status: 'APPROVED', decidedBy: expect.stringMatching(/ops-bob$/), note: null },
  });
  const transactionId = approved.body['transactionId'];
  expect(typeof transactionId).toBe('string');

  // Again, by the same and by a third operator, some of them at once: nothing more happens.
  const again = await Promise.all([
    call(bob, 'POST', `/v1/adjustments/${id}/approve`),
    call(carol, 'POST', `/v1/adjustments/${id}/approve`),
    call(carol, 'POST', `/v1/adjustments/${id}/approve`),
  ]);
  for (const answer of again) {
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'POSTED',
      transactionId,
      approval: { decidedBy: expect.stringMatching(/ops-bob$/) },
    });
  }
  expect(await transactionsOf(id)).toBe(1);
  expect(await balanceMinor(accountId)).toBe(150_000);
  await events.waitFor((records) =>
    records.some((r) => r.value.adjustmentId === id && r.value.stage === 'APPROVED'),
  );
  expect(await stagesOf(id)).toEqual(['AWAITING_APPROVAL', 'APPROVED']);
  const approval = events.records.find(
    (r) => r.value.adjustmentId === id && r.value.stage === 'APPROVED',
  )?.value;
  expect(approval).toMatchObject({
    requestedBy: expect.stringMatching(/ops-alice$/),
    decidedBy: expect.stringMatching(/ops-bob$/),
  });
});

test('two operators approving at the same instant post it once', async () => {
  const accountId = await openAccount();
  const id = (await adjust(alice, accountId, 120_000)).body['id'] as string;
  const answers = await Promise.all([
    call(bob, 'POST', `/v1/adjustments/${id}/approve`),
    call(carol, 'POST', `/v1/adjustments/${id}/approve`),
  ]);
  expect(answers.map((a) => a.status)).toEqual([200, 200]);
  const deciders = answers.map((a) => (a.body['approval'] as { decidedBy: string }).decidedBy);
  expect(new Set(deciders).size).toBe(1);
  expect(await transactionsOf(id)).toBe(1);
  expect(await balanceMinor(accountId)).toBe(120_000);
});

test('a declined adjustment never posts and cannot be approved afterwards', async () => {
  const accountId = await openAccount();
  const id = (await adjust(alice, accountId, 130_000)).body['id'] as string;
  const declined = await call(bob, 'POST', `/v1/adjustments/${id}/decline`, {
    note: 'no such wire on the statement',
  });
  expect(declined.status).toBe(200);
  expect(declined.body).toMatchObject({
    status: 'REJECTED',
    rejectionReason: 'OTHER',
    transactionId: null,
    approval: {
      status: 'DECLINED',
      decidedBy: expect.stringMatching(/ops-bob$/),
      note: 'no such wire on the statement',
    },
  });
  expect(declined.body['detail']).toMatch(/^declined by .*ops-bob: no such wire on the statement$/);
  const approved = await call(carol, 'POST', `/v1/adjustments/${id}/approve`);
  expect(approved.status).toBe(409);
  expect(approved.body['type']).toBe(
    'https://ledgerline.dev/problems/adjustment-decided-otherwise',
  );
  expect(await transactionsOf(id)).toBe(0);
  expect(await balanceMinor(accountId)).toBe(0);
  await events.waitFor((records) =>
    records.some((r) => r.value.adjustmentId === id && r.value.stage === 'DECLINED'),
  );
});

test('an adjustment that posted at once has nothing to approve, and an unknown one is 404', async () => {
  const accountId = await openAccount();
  const id = (await adjust(alice, accountId, 5_000)).body['id'] as string;
  const refused = await call(bob, 'POST', `/v1/adjustments/${id}/approve`);
  expect(refused.status).toBe(409);
  expect(refused.body['type']).toBe('https://ledgerline.dev/problems/approval-not-required');
  expect(await transactionsOf(id)).toBe(1);

  const unknown = await call(bob, 'POST', `/v1/adjustments/${randomUUID()}/approve`);
  expect(unknown.status).toBe(404);
});

test('approving needs ledger:approve and requesting needs ledger:adjust; refusals change nothing', async () => {
  const accountId = await openAccount();
  const id = (await adjust(alice, accountId, 140_000)).body['id'] as string;
  const noScope = await call(dave, 'POST', `/v1/adjustments/${id}/approve`);
  expect(noScope.status).toBe(403);
  const anonymous = await call(null, 'POST', `/v1/adjustments/${id}/approve`);
  expect(anonymous.status).toBe(401);
  const requestByApprover = await adjust(bob, accountId, 1_000);
  expect(requestByApprover.status).toBe(403);
  const after = await call(bob, 'GET', `/v1/adjustments/${id}`);
  expect(after.body).toMatchObject({
    status: 'PENDING',
    approval: { status: 'AWAITING_APPROVAL' },
  });
  expect(await balanceMinor(accountId)).toBe(0);
});

test('retrying a request with its Idempotency-Key answers the same request and counts once', async () => {
  const accountId = await openAccount();
  const key = `funding-${randomUUID()}`;
  const body = {
    direction: 'CREDIT',
    amountMinor: 110_000,
    currency: 'EUR',
    reference: 'WIRE-RETRY',
    reason: 'retry',
  };
  const first = await call(alice, 'POST', `/v1/accounts/${accountId}/adjustments`, body, {
    'Idempotency-Key': key,
  });
  const second = await call(alice, 'POST', `/v1/accounts/${accountId}/adjustments`, body, {
    'Idempotency-Key': key,
  });
  expect(first.status).toBe(202);
  expect(second.status).toBe(202);
  expect(second.body['id']).toBe(first.body['id']);
  expect(second.headers.get('idempotent-replayed')).toBe('true');
  const { rows } = await owner.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ledger.adjustment_requests WHERE account_id = $1',
    [accountId],
  );
  expect(rows[0]?.n).toBe(1);
});

test('a key past its daily cap is refused with 422 and nothing is stored or posted', async () => {
  const accountId = await openAccount();
  // 100,000 posts at once; 950,000 and 900,000 wait for approval: all count (1,950,000 of 2,000,000).
  expect((await adjust(dave, accountId, 100_000)).status).toBe(201);
  expect((await adjust(dave, accountId, 950_000)).status).toBe(202);
  expect((await adjust(dave, accountId, 900_000)).status).toBe(202);

  const refused = await adjust(dave, accountId, 60_000);
  expect(refused.status).toBe(422);
  expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(refused.body).toMatchObject({
    type: 'https://ledgerline.dev/problems/adjustment-cap-exceeded',
    capMinor: CAP_MINOR,
    requestedTodayMinor: 1_950_000,
    remainingMinor: 50_000,
  });
  expect(Date.parse(refused.body['resetsAt'] as string)).toBeGreaterThan(Date.now());

  const { rows } = await owner.query<{ n: number; total: string }>(
    `SELECT count(*)::int AS n, sum(amount_minor)::text AS total
       FROM ledger.adjustment_requests WHERE account_id = $1`,
    [accountId],
  );
  expect(rows[0]).toEqual({ n: 3, total: '1950000' });
  expect(await balanceMinor(accountId)).toBe(100_000);

  // Exactly up to the cap is still allowed; one minor unit more is not.
  expect((await adjust(dave, accountId, 50_000)).status).toBe(201);
  expect((await adjust(dave, accountId, 1)).status).toBe(422);
  expect(await balanceMinor(accountId)).toBe(150_000);
  // Another key's cap is its own.
  expect((await adjust(alice, accountId, 1_000)).status).toBe(201);
});

test('concurrent requests of one key cannot pass its cap together', async () => {
  const accountId = await openAccount();
  const erin = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'ops-erin',
    scopes: ['ledger:adjust'],
  });
  // Ten requests of 30,000 at once against a 2,000,000 cap already holding 1,950,000.
  await adjust(erin, accountId, 950_000);
  await adjust(erin, accountId, 1_000_000);
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => adjust(erin, accountId, 30_000)),
  );
  expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
  expect(answers.filter((a) => a.status === 422)).toHaveLength(9);
  expect(await balanceMinor(accountId)).toBe(30_000);
});
