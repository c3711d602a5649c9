// PostgreSQL goes away under a running ledger, processor, reconciliation and audit, and comes back. An isolated
// PostgreSQL (its own LEDGERLINE_HOME and port; Kafka and the registry are the shared ones) is
// stopped and started by this test alone. While it is down, writes answer 503 problem+json
// with Retry-After within the pool's connection bound (no hang) and /readyz says not_ready
// naming postgres; once it is back, every service is ready again without a restart, the
// payment that was in flight completes, the retried request is accepted, and no money is lost;
// reconciliation's facts and the audit trail hold every payment's events, each once.
import { randomUUID } from 'node:crypto';
import { startStack, stopStack } from '@ledgerline/stack';
import { isolatedStack, type IsolatedStack } from '../../stack/test/support.js';
import { platformEndpoints } from '@ledgerline/platform/config';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { createTestApiKey, eventually } from '@ledgerline/testkit/testing';
import { developmentSigningKey } from '@ledgerline/audit/domain/anchor';
import type { AuditService } from '@ledgerline/audit/service';
import type { ReconciliationService } from '@ledgerline/reconciliation/service';
import {
  balanceMinor,
  createPayment,
  hasStatus,
  startPlatform,
  waitForPayment,
  type InProcessPlatform,
  openPayerAndPayee,
} from '@ledgerline/testkit/platform';

/** Connection wait bound for this test's pools (DATABASE_CONNECT_TIMEOUT_MS), and the answer bound. */
const CONNECT_TIMEOUT_MS = 2_000;
const ANSWER_MS_MAX = CONNECT_TIMEOUT_MS + 3_000;

let stack: IsolatedStack;
let p: InProcessPlatform;
let reconciliation: ReconciliationService;
let audit: AuditService;
/** An auditor's key: verifies the trail. */
let auditorKey: string;
const saved = {
  DATABASE_URL: process.env['DATABASE_URL'],
  DATABASE_CONNECT_TIMEOUT_MS: process.env['DATABASE_CONNECT_TIMEOUT_MS'],
};

beforeAll(async () => {
  const shared = platformEndpoints();
  stack = await isolatedStack({
    KAFKA_BROKERS: shared.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: shared.schemaRegistryUrl,
  });
  const started = await startStack({ env: stack.env });
  // The platform's test environment and pools read these: the services use the isolated server.
  process.env['DATABASE_URL'] = started.databaseUrl;
  process.env['DATABASE_CONNECT_TIMEOUT_MS'] = String(CONNECT_TIMEOUT_MS);
  const common = { host: '127.0.0.1', batchSizeMax: 2_000 };
  p = await startPlatform('e2e-postgres-outage', {
    reconciliation: { ...common, outcomeTimeoutMs: 1_000, dateWindowDays: 2, pageSize: 500 },
    audit: { ...common, checkpointEvery: 5, signingKey: developmentSigningKey() },
  });
  const { env } = p;
  reconciliation = p.reconciliation!;
  audit = p.audit!;
  auditorKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'outage-auditor',
    scopes: ['audit:read', 'audit:verify'],
  });
}, 300_000);

afterAll(async () => {
  // PostgreSQL must be up for the services to stop cleanly and the database to be dropped.
  if (stack) await startStack({ env: stack.env }).catch(() => undefined);
  await p?.stop().catch(() => undefined);
  if (stack) {
    await stopStack({ env: stack.env });
    await stack.remove();
  }
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}, 180_000);

async function readiness(url: string): Promise<{ httpStatus: number; body: unknown }> {
  const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { httpStatus: response.status, body: await response.json() };
}

/** POST with the operator's credential; answers status, headers and body, and how long it took. */
async function post(url: string, body: unknown, idempotencyKey: string) {
  const started = Date.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${p.operatorKey}`,
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
    elapsedMs: Date.now() - started,
  };
}

test('with PostgreSQL down writes get a fast 503 and readiness is false; when it returns every service recovers by itself and nothing is lost', async () => {
  const { payer, payee } = await openPayerAndPayee(p.ledgerApi, 10_000, 'outage');
  const before = await createPayment(p.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 1_000,
    currency: 'EUR',
  });
  await waitForPayment(p.processorApi, before.id, hasStatus('COMPLETED'));
  // Accepted, and PostgreSQL stops before (or while) its saga runs.
  const inFlight = await createPayment(p.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 2_000,
    currency: 'EUR',
  });

  await stopStack({ env: stack.env });

  const retriedKey = randomUUID();
  const payment = {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 3_000,
    currency: 'EUR',
  };
  const refused = await post(`${p.processor.url}/v1/payments`, payment, retriedKey);
  expect(refused).toMatchObject({
    status: 503,
    contentType: expect.stringContaining('application/problem+json'),
    retryAfter: expect.stringMatching(/^\d+$/),
    body: { status: 503 },
  });
  expect(refused.elapsedMs).toBeLessThan(ANSWER_MS_MAX);
  const ledgerRefused = await post(
    `${p.ledger.url}/v1/accounts`,
    { accountId: randomUUID(), type: 'LIABILITY', currency: 'EUR', ownerRef: 'outage' },
    randomUUID(),
  );
  expect(ledgerRefused).toMatchObject({ status: 503, body: { status: 503 } });
  expect(ledgerRefused.elapsedMs).toBeLessThan(ANSWER_MS_MAX);

  for (const service of [p.processor, p.ledger, reconciliation, audit]) {
    const down = await readiness(service.url);
    expect(down).toMatchObject({
      httpStatus: 503,
      body: { status: 'not_ready', checks: { postgres: { status: 'down' } } },
    });
  }

  await startStack({ env: stack.env });

  // No restart: the same processes answer ready once their pools reconnect.
  for (const service of [p.processor, p.ledger, reconciliation, audit]) {
    await eventually(
      async () => ((await readiness(service.url)).httpStatus === 200 ? true : undefined),
      `${service.url} ready again`,
      60_000,
      250,
    );
  }
  // The client retries with the same Idempotency-Key, as the 503 told it to.
  const accepted = await eventually(
    async () => {
      const answer = await post(`${p.processor.url}/v1/payments`, payment, retriedKey);
      return answer.status === 202 ? answer : undefined;
    },
    'the retried payment accepted',
    30_000,
    500,
  );
  const retried = String(accepted.body['id']);
  await waitForPayment(p.processorApi, inFlight.id, hasStatus('COMPLETED'), 60_000);
  await waitForPayment(p.processorApi, retried, hasStatus('COMPLETED'), 60_000);
  // Every accepted payment moved its money exactly once.
  expect(await balanceMinor(p.ledgerApi, payer)).toBe(10_000 - 1_000 - 2_000 - 3_000);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(1_000 + 2_000 + 3_000);

  // Reconciliation and audit consumed through the outage by themselves: every payment's final
  // status is in reconciliation's facts, and the trail holds each payment's events once.
  const paymentIds = [before.id, inFlight.id, retried];
  const admin: Pool = createPool(p.env.adminDatabaseUrl, { max: 1 });
  try {
    await eventually(
      async () => {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM reconciliation.payment_statuses
            WHERE payment_id = ANY($1::uuid[]) AND status = 'COMPLETED'`,
          [paymentIds],
        );
        return rows[0]!.n === paymentIds.length ? true : undefined;
      },
      'every payment COMPLETED in reconciliation facts',
      60_000,
      250,
    );
    const trail = await eventually(
      async () => {
        const { rows } = await admin.query<{ total: number; distinct: number; completed: number }>(
          `SELECT count(*)::int AS total, count(DISTINCT (topic, partition, "offset"))::int AS distinct,
                  count(*) FILTER (WHERE payload->>'to' = 'COMPLETED')::int AS completed
             FROM audit.trail WHERE payment_id = ANY($1::uuid[])`,
          [paymentIds],
        );
        return rows[0]!.completed === paymentIds.length ? rows[0]! : undefined;
      },
      'every payment COMPLETED in the audit trail',
      60_000,
      250,
    );
    expect(trail.total).toBe(trail.distinct);
    const verified = await fetch(`${audit.url}/v1/verify`, {
      headers: { authorization: `Bearer ${auditorKey}` },
      signal: AbortSignal.timeout(30_000),
    });
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ valid: true });
  } finally {
    await admin.end();
  }
}, 300_000);
