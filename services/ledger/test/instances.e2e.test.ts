// Two ledger instances under one supervisor (LEDGER_INSTANCES=2, Node cluster): they share the
// HTTP port and the consumer group. One instance is SIGKILLed while the backlog is applied; the
// supervisor replaces it, the survivors take its partitions over, and every command still has
// exactly one outcome, the one the reference fold decides.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import { allTopics, ledgerCommandsProducer } from '@ledgerline/generated/topics';
import { replayCommands, type LedgerState } from '../src/domain/ledger-state.js';
import { verifyProjection } from '../src/store/verify.js';
import { migrateLedger } from '../src/service.js';
import { spawnLedger, type ChildLedger } from './support/child-ledger.js';
import { buildWorkload, type Workload } from './support/workload.js';

let env: TestEnvironment;
let owner: pg.Pool;
let producer: Producer;
let serde: EventSerde;
let workload: Workload;
let reference: LedgerState;
let ledger: ChildLedger | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The supervisor's node children: the instances (tsx's esbuild service is a child too). */
function instancePids(supervisor: number): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(supervisor)], {
      encoding: 'utf8',
    });
  } catch {
    return []; // ps exits 1 when there is no such child
  }
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, command]) => command === 'node')
    .map(([pid]) => Number(pid));
}

async function appliedMessages(): Promise<number> {
  const { rows } = await owner.query<{ n: number | null }>(
    `SELECT sum(next_offset)::bigint AS n FROM ledger.consumer_positions
      WHERE group_id = $1 AND topic = $2`,
    [`${env.topicPrefix}ledger`, `${env.topicPrefix}ledger.commands`],
  );
  return rows[0]?.n ?? 0;
}

/** How many handles each instance that started accepts through, from their start-up logs. */
async function acceptHandlesLogged(logFile: string): Promise<number[]> {
  return (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.includes('"ledger started"'))
    .map((line) => (JSON.parse(line) as { acceptHandles: { count: number } }).acceptHandles.count);
}

async function waitUntil(predicate: () => Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

beforeAll(async () => {
  env = await createTestEnvironment('ledger-instances', allTopics);
  await migrateLedger(env.adminDatabaseUrl);
  owner = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
  const kafka = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: 'instances',
    logLevel: logLevel.NOTHING,
  });
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  workload = buildWorkload({ seed: 20_261_205, accounts: 40, commandsMin: 6_000 });
  reference = replayCommands(workload.domain);
}, 120_000);

afterAll(async () => {
  await ledger?.stop();
  await producer?.disconnect();
  await owner?.end();
  await env?.cleanup();
});

test('two instances, one SIGKILLed mid-backlog: replaced, and every command has exactly one outcome', async () => {
  const logFile = path.join(tmpdir(), `${env.topicPrefix}ledger-instances.log`);
  ledger = await spawnLedger(env, logFile, { LEDGER_INSTANCES: '2' });
  const supervisor = ledger.process.pid ?? 0;
  // Both instances serve the one port.
  await waitUntil(
    async () => (await fetch(`${ledger!.url}/readyz`).catch(() => undefined))?.status === 200,
    `ledger ready (log ${logFile})`,
    90_000,
  );
  // Both instances have started (each joined the group before listening).
  await waitUntil(
    async () => ((await readFile(logFile, 'utf8')).match(/"instance started"/g) ?? []).length >= 2,
    'two instances started',
    90_000,
  );
  const first = instancePids(supervisor);
  expect(first).toHaveLength(2);
  // Each accepts from the shared socket through its own handles (HTTP_ACCEPT_HANDLES, 32 by
  // default), not through the supervisor's hand-over; a burst of 200 requests at once, on as
  // many new connections, is answered.
  expect(await acceptHandlesLogged(logFile)).toEqual([32, 32]);
  const burst = await Promise.all(
    Array.from({ length: 200 }, () => fetch(`${ledger!.url}/healthz`).then((r) => r.status)),
  );
  expect(burst.every((status) => status === 200)).toBe(true);

  const typed = ledgerCommandsProducer(serde, { producer, topicPrefix: env.topicPrefix });
  for (let start = 0; start < workload.commands.length; start += 500) {
    const chunk = workload.commands.slice(start, start + 500);
    await typed.send(chunk.map((value) => ({ key: value.accountId, value })));
  }
  const total = workload.commands.length;
  await waitUntil(async () => (await appliedMessages()) >= total / 4, 'a quarter applied', 90_000);
  process.kill(first[0]!, 'SIGKILL');
  const appliedAtKill = await appliedMessages();
  expect(appliedAtKill).toBeLessThan(total);

  // The supervisor forks a replacement; the survivors finish the backlog.
  await waitUntil(
    async () => {
      const now = instancePids(supervisor);
      return now.length === 2 && !now.includes(first[0]!);
    },
    'a replacement instance',
    30_000,
  );
  await waitUntil(async () => (await appliedMessages()) >= total, 'the backlog applied', 150_000);
  await waitUntil(
    async () => (await acceptHandlesLogged(logFile)).length === 3,
    'the replacement listening',
    30_000,
  );
  expect(await acceptHandlesLogged(logFile)).toEqual([32, 32, 32]);

  const posted = await owner.query<{ step_key: string; transaction_id: string }>(
    'SELECT step_key, transaction_id::text FROM ledger.transactions',
  );
  const rejected = await owner.query<{ step_key: string; reason: string }>(
    'SELECT step_key, reason FROM ledger.rejections',
  );
  const outcomes = new Map<string, string[]>();
  const add = (key: string, outcome: string) =>
    outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
  for (const row of posted.rows) add(row.step_key, `POSTED ${row.transaction_id}`);
  for (const row of rejected.rows) add(row.step_key, `REJECTED ${row.reason}`);
  const expected = new Map<string, string[]>();
  for (const [stepKey, { decision }] of reference.postings) {
    expected.set(stepKey, [
      decision.outcome === 'POSTED'
        ? `POSTED ${decision.transaction.transactionId}`
        : `REJECTED ${decision.reason}`,
    ]);
  }
  expect(outcomes).toEqual(expected);
  const balances = await owner.query<{ account_id: string; balance_minor: number }>(
    'SELECT account_id::text, balance_minor FROM ledger.balances',
  );
  expect(new Map(balances.rows.map((r) => [r.account_id, r.balance_minor]))).toEqual(
    new Map([...reference.accounts.values()].map((a) => [a.accountId, a.balanceMinor])),
  );
  expect(await verifyProjection(owner)).toEqual([]);

  // A graceful stop of the supervisor stops every instance and exits 0.
  await ledger.stop();
  expect(await ledger.exited).toBe(0);
  ledger = undefined;
}, 400_000);

test('a stop while a replacement instance is still starting ends cleanly', async () => {
  const logFile = path.join(tmpdir(), `${env.topicPrefix}ledger-restarting.log`);
  ledger = await spawnLedger(env, logFile, { LEDGER_INSTANCES: '2' });
  const supervisor = ledger.process.pid ?? 0;
  const started = async (): Promise<number> =>
    ((await readFile(logFile, 'utf8').catch(() => '')).match(/"instance started"/g) ?? []).length;
  await waitUntil(
    async () => (await started()) >= 2,
    `two instances started (log ${logFile})`,
    90_000,
  );
  const [victim] = instancePids(supervisor);
  process.kill(victim!, 'SIGKILL');
  // The supervisor forks the replacement a second later; it takes longer than that to start.
  await waitUntil(
    async () => instancePids(supervisor).filter((pid) => pid !== victim).length === 2,
    'the replacement forked',
    30_000,
  );
  expect(await started()).toBe(2);
  await ledger.stop();
  expect(await ledger.exited).toBe(0);
  ledger = undefined;
}, 120_000);

test('instances whose supervisor is SIGKILLed stop too, never left orphaned', async () => {
  const logFile = path.join(tmpdir(), `${env.topicPrefix}ledger-orphans.log`);
  ledger = await spawnLedger(env, logFile, { LEDGER_INSTANCES: '2' });
  const supervisor = ledger.process.pid ?? 0;
  await waitUntil(
    async () => (await fetch(`${ledger!.url}/readyz`).catch(() => undefined))?.status === 200,
    `ledger ready (log ${logFile})`,
    90_000,
  );
  await waitUntil(
    async () => ((await readFile(logFile, 'utf8')).match(/"instance started"/g) ?? []).length >= 2,
    'two instances started',
    90_000,
  );
  const instances = instancePids(supervisor);
  expect(instances).toHaveLength(2);
  await ledger.kill();
  ledger = undefined;
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitUntil(
    async () => instances.every((pid) => !alive(pid)),
    'both instances exited',
    30_000,
  );
}, 120_000);

test('a refused HTTP setting stops the supervisor before it forks any instance, and says which', async () => {
  const logFile = path.join(tmpdir(), `${env.topicPrefix}ledger-refused.log`);
  const refused = await spawnLedger(env, logFile, {
    LEDGER_INSTANCES: '2',
    HTTP_ACCEPT_HANDLES: '0',
  });
  expect(await refused.exited).toBe(1);
  const log = await readFile(logFile, 'utf8');
  expect(log).toContain('HTTP_ACCEPT_HANDLES=0 is not an integer in 1..64');
  expect(log).not.toContain('starting instances');
}, 60_000);
