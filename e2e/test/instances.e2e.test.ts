// Every service as two instances (<NAME>_INSTANCES=2: a supervisor forks them, they share the
// HTTP port and the consumer group). Payments flow while one ledger instance and one processor
// instance are SIGKILLed; the supervisors replace them, and every payment completes, each moving
// its money exactly once.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { auditDatabase } from '@ledgerline/audit/database';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { processorDatabase } from '@ledgerline/processor/database';
import { reconciliationDatabase } from '@ledgerline/reconciliation/database';
import { allTopics } from '@ledgerline/generated/topics';
import { apiScopes } from '@ledgerline/generated/openapi/contracts';
import { createLedgerClient } from '@ledgerline/generated/openapi/ledger.client';
import { createProcessorClient } from '@ledgerline/generated/openapi/processor.client';
import {
  balanceMinor,
  createPayment,
  hasStatus,
  waitForPayment,
  openPayerAndPayee,
} from '@ledgerline/testkit/platform';
import {
  createTestApiKey,
  createTestEnvironment,
  deployTestDatabase,
  spawnService,
  type ServiceProcess,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';

const PAYMENTS = 60;
const AMOUNT_MINOR = 125;
const FUNDED_MINOR = 1_000_000;

let env: TestEnvironment;
const services: ServiceProcess[] = [];
const logs = new Map<string, string>();

function instancePids(supervisor: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(supervisor)], {
      encoding: 'utf8',
    })
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, command]) => command === 'node')
      .map(([pid]) => Number(pid));
  } catch {
    return []; // ps exits 1 when there is no such child
  }
}

async function startedInstances(name: string): Promise<number> {
  const text = await readFile(logs.get(name)!, 'utf8').catch(() => '');
  return (text.match(/"instance started"/g) ?? []).length;
}

async function waitUntil(predicate: () => Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  env = await createTestEnvironment('instances', allTopics);
  const databases = [ledgerDatabase, processorDatabase, reconciliationDatabase, auditDatabase];
  await deployTestDatabase(env, databases);
  for (const database of databases) {
    const name = database.service;
    const logFile = path.join(tmpdir(), `${env.topicPrefix}${name}-instances.log`);
    logs.set(name, logFile);
    services.push(
      await spawnService(database, env, logFile, {
        [`${name.toUpperCase()}_INSTANCES`]: '2',
        LOG_LEVEL: 'info',
      }),
    );
  }
  await Promise.all(services.map((s) => s.ready));
  for (const name of logs.keys()) {
    await waitUntil(async () => (await startedInstances(name)) >= 2, `${name} x2`, 90_000);
  }
}, 240_000);

afterAll(async () => {
  for (const service of services.reverse()) await service.stop();
  await env?.cleanup();
});

test('two instances of every service, one ledger and one processor instance SIGKILLed mid-run: every payment completes exactly once', async () => {
  const ledgerService = services.find((s) => s.name === 'ledger')!;
  const processorService = services.find((s) => s.name === 'processor')!;
  for (const service of services) expect(instancePids(service.pid)).toHaveLength(2);
  const credential = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'instances',
    scopes: [...apiScopes],
  });
  const ledger = createLedgerClient(ledgerService.url, { credential });
  const processor = createProcessorClient(processorService.url, { credential });
  const { payer, payee } = await openPayerAndPayee(ledger, FUNDED_MINOR, 'instances');

  const accepted: string[] = [];
  const victims = [ledgerService, processorService].map((s) => instancePids(s.pid)[0]!);
  for (let i = 0; i < PAYMENTS; i += 1) {
    // The HTTP port is shared: a request may land on either instance, and on a dying one it
    // fails before acceptance; the client retries it with the same Idempotency-Key.
    const key = randomUUID();
    const request = {
      payerAccountId: payer,
      payeeAccountId: payee,
      amountMinor: AMOUNT_MINOR,
      currency: 'EUR',
    };
    let payment: { id: string } | undefined;
    for (let attempt = 0; payment === undefined; attempt += 1) {
      try {
        payment = await createPayment(processor, request, key);
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    accepted.push(payment.id);
    if (i === PAYMENTS / 3) for (const pid of victims) process.kill(pid, 'SIGKILL');
  }
  // Both supervisors replaced their dead instance.
  for (const [service, victim] of [
    [ledgerService, victims[0]!],
    [processorService, victims[1]!],
  ] as const) {
    await waitUntil(
      async () => {
        const now = instancePids(service.pid);
        return now.length === 2 && !now.includes(victim);
      },
      `${service.name} replaced its killed instance`,
      30_000,
    );
  }

  // A dead member's partitions wait for its session to expire before the group moves them.
  for (const paymentId of accepted) {
    const done = await waitForPayment(processor, paymentId, hasStatus('COMPLETED'), 120_000);
    expect(done.status).toBe('COMPLETED');
  }
  expect(new Set(accepted).size).toBe(PAYMENTS);
  const moved = PAYMENTS * AMOUNT_MINOR;
  expect(await balanceMinor(ledger, payer)).toBe(FUNDED_MINOR - moved);
  expect(await balanceMinor(ledger, payee)).toBe(moved);
  const owner = new pg.Client({ connectionString: env.adminDatabaseUrl });
  await owner.connect();
  try {
    // Each payment's steps posted once: no transaction twice, entries balance per transaction.
    const unbalanced = await owner.query(
      `SELECT transaction_id FROM ledger.entries GROUP BY transaction_id
        HAVING sum(amount_minor) FILTER (WHERE direction = 'DEBIT')
               IS DISTINCT FROM sum(amount_minor) FILTER (WHERE direction = 'CREDIT')`,
    );
    expect(unbalanced.rowCount).toBe(0);
    const payments = await owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM processor.payments WHERE state = 'COMPLETED'`,
    );
    expect(payments.rows[0]?.n).toBe(PAYMENTS);
  } finally {
    await owner.end();
  }
}, 400_000);
