// Deterministic recovery on the real stack (DESIGN.md §4): a mixed workload of more than 10,000
// commands goes through the live ledger; replaying ledger.commands from offset 0 into an empty
// database rebuilds books with the same checksum, and a tampered balance breaks the equality.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { platformEndpoints } from '@ledgerline/platform/config';
import { dropDatabase, ensureDatabase } from '@ledgerline/platform/db';
import { readPositions } from '@ledgerline/platform/consumer';
import { booksChecksum, replayLedger, type BooksChecksum } from '../src/replay.js';
import { verifyProjection } from '../src/store/verify.js';
import { startHarness, type Harness } from './support/ledger-harness.js';
import { buildWorkload, type Workload } from './support/workload.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SEED = 4_242;

let h: Harness;
let workload: Workload;
const replayDatabases: string[] = [];

beforeAll(async () => {
  h = await startHarness('ledger-replay');
  workload = buildWorkload({ seed: SEED, accounts: 80, commandsMin: 10_000 });
}, 120_000);

afterAll(async () => {
  for (const name of replayDatabases) await dropDatabase(platformEndpoints().databaseUrl, name);
  await h?.stop();
});

function replayDatabaseName(label: string): string {
  const name = `${h.env.topicPrefix.replace(/[^a-z0-9]+/g, '_')}${label}`;
  replayDatabases.push(name);
  return name;
}

async function waitUntilApplied(): Promise<number> {
  const topic = h.topicName({ name: 'ledger.commands' } as never);
  const admin = h.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const deadline = Date.now() + 120_000;
  for (;;) {
    const positions = await readPositions(h.owner, 'ledger', `${h.env.topicPrefix}ledger`);
    const behind = ends.filter(
      (o) => (positions.get(`${topic}:${o.partition}`) ?? 0) < Number(o.high),
    );
    if (behind.length === 0) return ends.reduce((sum, o) => sum + Number(o.high), 0);
    if (Date.now() > deadline) throw new Error('timed out waiting for the live ledger');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `npm run replay` as an operator runs it: a child process printing the checksum. */
async function replayWithCli(database: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'services/ledger/src/cli.ts', 'replay', database],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DATABASE_URL: platformEndpoints().databaseUrl,
        KAFKA_BROKERS: h.env.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: h.env.schemaRegistryUrl,
        LEDGERLINE_TOPIC_PREFIX: h.env.topicPrefix,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`replay exited with ${code}: ${stderr}`);
  return stdout;
}

let live: BooksChecksum;
let replayed: BooksChecksum;

test('a mixed workload of more than 10,000 commands goes through the live ledger, with every kind of step and rejection', async () => {
  for (let start = 0; start < workload.commands.length; start += 500) {
    await h.send(workload.commands.slice(start, start + 500));
  }
  // A poison message among them: dead-lettered live, and again (into the outbox only) on replay.
  await h.producer.send({
    topic: h.topicName({ name: 'ledger.commands' } as never),
    acks: -1,
    messages: [{ key: Buffer.from('poison'), value: Buffer.from('not the wire format') }],
  });
  const messages = await waitUntilApplied();
  expect(messages).toBe(workload.commands.length + 1);
  expect(messages).toBeGreaterThan(10_000);

  const steps = await h.owner.query<{ step: string }>(
    'SELECT DISTINCT step FROM ledger.transactions ORDER BY step',
  );
  expect(steps.rows.map((r) => r.step)).toEqual([
    'ADJUSTMENT',
    'COMPENSATION',
    'CREDIT',
    'DEBIT',
    'REFUND_COMPENSATION',
    'REFUND_CREDIT',
    'REFUND_DEBIT',
  ]);
  const reasons = await h.owner.query<{ reason: string }>(
    'SELECT DISTINCT reason FROM ledger.rejections ORDER BY reason',
  );
  expect(reasons.rows.map((r) => r.reason)).toEqual(
    expect.arrayContaining([
      'ACCOUNT_FROZEN',
      'ACCOUNT_UNKNOWN',
      'AMOUNT_INVALID',
      'CURRENCY_MISMATCH',
      'INSUFFICIENT_FUNDS',
    ]),
  );
  const conflicts = await h.owner.query('SELECT 1 FROM ledger.command_conflicts');
  expect(conflicts.rowCount).toBe(workload.conflicts);
  expect(workload.redeliveries).toBeGreaterThan(0);
  expect(await verifyProjection(h.owner)).toEqual([]);
  live = await booksChecksum(h.owner);
}, 300_000);

test('replaying ledger.commands from offset 0 into an empty database rebuilds books with the same checksum', async () => {
  const databaseUrl = await ensureDatabase(
    platformEndpoints().databaseUrl,
    replayDatabaseName('replay'),
  );
  const result = await replayLedger({
    databaseUrl,
    kafkaBrokers: h.env.kafkaBrokers,
    schemaRegistryUrl: h.env.schemaRegistryUrl,
    topicPrefix: h.env.topicPrefix,
    appRolePassword: 'ledger_app_dev',
    autoRegisterSchemas: true,
  });
  replayed = result.checksum;
  expect(result.messages).toBe(workload.commands.length + 1);
  expect(replayed).toEqual(live);
  expect(replayed.ledger.transactions).toBeGreaterThan(5_000);

  const replayDb = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    expect(await verifyProjection(replayDb)).toEqual([]);
    // The poison message was dead-lettered again, into the replay's outbox: nothing published.
    const outbox = await replayDb.query<{ topic: string }>(
      `SELECT topic FROM ledger.outbox WHERE topic LIKE '%ledgerline.dead-letter'`,
    );
    expect(outbox.rowCount).toBe(1);
    // A replay never runs over an existing ledger.
    await expect(
      replayLedger({
        databaseUrl,
        kafkaBrokers: h.env.kafkaBrokers,
        schemaRegistryUrl: h.env.schemaRegistryUrl,
        topicPrefix: h.env.topicPrefix,
        appRolePassword: 'ledger_app_dev',
        autoRegisterSchemas: true,
      }),
    ).rejects.toThrow(/already holds a ledger/);
  } finally {
    await replayDb.end();
  }
}, 300_000);

test('npm run replay (cli.ts replay) prints the checksum the live ledger has', async () => {
  const printed = await replayWithCli(replayDatabaseName('cli'));
  expect(printed).toContain(
    `${live.ledger.sha256}  transactions=${live.ledger.transactions} entries=${live.ledger.entries} balances=${live.ledger.balances}`,
  );
  expect(printed).toContain(`${live.rejectionsSha256}  rejections=${live.rejections}`);
}, 300_000);

test('after one live balance is tampered with, the checksums differ', async () => {
  const { rows } = await h.owner.query<{ account_id: string }>(
    `SELECT account_id::text FROM ledger.balances WHERE entry_count > 0 ORDER BY account_id LIMIT 1`,
  );
  const accountId = rows[0]?.account_id;
  expect(accountId).toBeDefined();
  await h.owner.query(
    'UPDATE ledger.balances SET balance_minor = balance_minor + 1 WHERE account_id = $1',
    [accountId],
  );
  try {
    const tampered = await booksChecksum(h.owner);
    expect(tampered.ledger.sha256).not.toBe(replayed.ledger.sha256);
    expect(tampered.ledger.transactions).toBe(replayed.ledger.transactions);
    expect(await verifyProjection(h.owner)).toHaveLength(1);
  } finally {
    await h.owner.query(
      'UPDATE ledger.balances SET balance_minor = balance_minor - 1 WHERE account_id = $1',
      [accountId],
    );
  }
  expect((await booksChecksum(h.owner)).ledger.sha256).toBe(replayed.ledger.sha256);
});
