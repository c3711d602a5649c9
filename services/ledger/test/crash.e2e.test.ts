// Crash safety on the real stack: the ledger runs as a child process and is SIGKILLed at random
// instants while it consumes a backlog of LedgerCommands, then restarted. However the kills fall
// (mid-batch, between the PostgreSQL commit and the Kafka offset commit, during a relay send),
// every command has exactly one outcome and the books equal the reference fold.
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import {
  allTopics,
  ledgerCommandsProducer,
  ledgerStepPostedConsumer,
} from '@ledgerline/generated/topics';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import { replayCommands, type LedgerState } from '../src/domain/ledger-state.js';
import { transactionIdFor } from '../src/domain/ids.js';
import { verifyProjection } from '../src/store/verify.js';
import { migrateLedger } from '../src/service.js';
import { spawnLedger, type ChildLedger } from './support/child-ledger.js';
import { buildWorkload, type Workload } from './support/workload.js';

const SEED = 20_261_126;
const KILLS = 3;
/** Random delay after a kill mark is passed, so kills fall at any instant of a batch. */
const KILL_JITTER_MS = 40;
/**
 * Small transactions (25 records of each of the 12 partitions at most), so that the backlog takes
 * many commits and a kill mark is never overtaken by one that applies the rest of it. With the
 * default (2,000) one coalesced commit applied the whole remaining backlog on a fresh clone.
 */
const LEDGER_SETTINGS = { LEDGER_CONSUMER_BATCH_SIZE_MAX: '25' };

let env: TestEnvironment;
let owner: pg.Pool;
let kafka: Kafka;
let producer: Producer;
let serde: EventSerde;
let workload: Workload;
let reference: LedgerState;
let child: ChildLedger | undefined;
let logFile: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(commands: readonly LedgerCommandInput[]): Promise<void> {
  const typed = ledgerCommandsProducer(serde, { producer, topicPrefix: env.topicPrefix });
  // Sequential chunks: per partition, offset order is the workload's order.
  for (let start = 0; start < commands.length; start += 500) {
    const chunk = commands.slice(start, start + 500);
    await typed.send(chunk.map((value) => ({ key: value.accountId, value })));
  }
}

function commandsTopic(): string {
  return `${env.topicPrefix}ledger.commands`;
}

async function endOffsets(topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Commands applied so far (sum of the consumer positions the ledger stored in PostgreSQL). */
async function appliedMessages(): Promise<number> {
  const { rows } = await owner.query<{ ready: boolean }>(
    `SELECT to_regclass('ledger.consumer_positions') IS NOT NULL AS ready`,
  );
  if (rows[0]?.ready !== true) return 0;
  const positions = await owner.query<{ n: number | null }>(
    `SELECT sum(next_offset)::bigint AS n FROM ledger.consumer_positions
      WHERE group_id = $1 AND topic = $2`,
    [`${env.topicPrefix}ledger`, commandsTopic()],
  );
  return positions.rows[0]?.n ?? 0;
}

async function waitUntil(
  predicate: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function waitUntilApplied(): Promise<void> {
  const ends = await endOffsets(commandsTopic());
  const total = [...ends.values()].reduce((sum, n) => sum + n, 0);
  // A restart after SIGKILL waits for the dead member's session (30 s) before it is assigned.
  await waitUntil(async () => (await appliedMessages()) >= total, 'the backlog applied', 120_000);
}

beforeAll(async () => {
  env = await createTestEnvironment('ledger-crash', allTopics);
  await migrateLedger(env.adminDatabaseUrl);
  owner = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
  kafka = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: 'ledger-crash',
    logLevel: logLevel.NOTHING,
  });
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  workload = buildWorkload({ seed: SEED, accounts: 40, commandsMin: 6_000 });
  reference = replayCommands(workload.domain);
  logFile = path.join(tmpdir(), `${env.topicPrefix}ledger.log`);
}, 120_000);

afterAll(async () => {
  await child?.stop();
  await producer?.disconnect();
  await owner?.end();
  await env?.cleanup();
});

test(`SIGKILLed ${KILLS} times while consuming, the ledger still gives every command exactly one outcome and books exactly what the reference fold books`, async () => {
  await send(workload.commands);
  const total = workload.commands.length;
  const appliedAtKill: number[] = [];
  for (let kill = 0; kill < KILLS; kill += 1) {
    const before = await appliedMessages();
    child = await spawnLedger(env, logFile, LEDGER_SETTINGS);
    // Marks spread over the backlog (1/4, 2/4, 3/4): each kill falls while work remains. Should a
    // run still apply the rest before its kill lands, the next mark is the total (never past it,
    // which no run could reach), and that kill falls at start-up (the check below wants two of
    // the three kills inside the backlog).
    const mark = Math.min(
      total,
      Math.max(before + 1, Math.floor((total * (kill + 1)) / (KILLS + 1))),
    );
    await waitUntil(
      async () => (await appliedMessages()) >= mark,
      `${mark} commands applied (run ${kill + 1}, log ${logFile})`,
      90_000,
    );
    await sleep(Math.random() * KILL_JITTER_MS);
    await child.kill();
    child = undefined;
    appliedAtKill.push(await appliedMessages());
  }
  child = await spawnLedger(env, logFile);
  await waitUntilApplied();

  // The kills really fell while the backlog was being applied.
  expect({
    appliedAtKill,
    insideTheBacklog: appliedAtKill.filter((n) => n > 0 && n < total).length >= 2,
  }).toEqual({ appliedAtKill, insideTheBacklog: true });

  // Exactly one outcome per step key, and the outcome the reference fold decided.
  const posted = await owner.query<{ step_key: string; transaction_id: string }>(
    'SELECT step_key, transaction_id::text FROM ledger.transactions',
  );
  const rejected = await owner.query<{ step_key: string; reason: string }>(
    'SELECT step_key, reason FROM ledger.rejections',
  );
  const outcomes = new Map<string, string[]>();
  for (const row of posted.rows) {
    outcomes.set(row.step_key, [
      ...(outcomes.get(row.step_key) ?? []),
      `POSTED ${row.transaction_id}`,
    ]);
  }
  for (const row of rejected.rows) {
    outcomes.set(row.step_key, [...(outcomes.get(row.step_key) ?? []), `REJECTED ${row.reason}`]);
  }
  const expected = new Map<string, string[]>();
  for (const [stepKey, record] of reference.postings) {
    const { decision } = record;
    expected.set(stepKey, [
      decision.outcome === 'POSTED'
        ? `POSTED ${decision.transaction.transactionId}`
        : `REJECTED ${decision.reason}`,
    ]);
  }
  expect(outcomes.size).toBe(expected.size);
  expect(outcomes).toEqual(expected);
  const conflicts = await owner.query('SELECT 1 FROM ledger.command_conflicts');
  expect(conflicts.rowCount).toBe(workload.conflicts);

  // Entries: none missing, none doubled, every amount and side as the fold says.
  const entries = await owner.query<{ line: string }>(
    `SELECT concat_ws(' ', entry_id, transaction_id, account_id, direction, amount_minor) AS line
       FROM ledger.entries ORDER BY 1`,
  );
  const expectedEntries = [...reference.transactions.values()]
    .flatMap((t) =>
      t.entries.map(
        (e) => `${e.entryId} ${t.transactionId} ${e.accountId} ${e.direction} ${e.amountMinor}`,
      ),
    )
    .sort();
  expect(entries.rows.map((r) => r.line).sort()).toEqual(expectedEntries);
  const sums = await owner.query<{ debits: string; credits: string }>(
    `SELECT coalesce(sum(amount_minor) FILTER (WHERE direction = 'DEBIT'), 0)::text AS debits,
            coalesce(sum(amount_minor) FILTER (WHERE direction = 'CREDIT'), 0)::text AS credits
       FROM ledger.entries`,
  );
  const movedMinor = [...reference.transactions.values()].reduce(
    (sum, t) => sum + (t.entries[0]?.amountMinor ?? 0),
    0,
  );
  expect(sums.rows[0]).toEqual({ debits: String(movedMinor), credits: String(movedMinor) });

  // Balances equal the fold's, the projection equals SUM(entries), every transaction balances.
  const balances = await owner.query<{ account_id: string; balance_minor: number }>(
    'SELECT account_id::text, balance_minor FROM ledger.balances',
  );
  expect(new Map(balances.rows.map((r) => [r.account_id, r.balance_minor]))).toEqual(
    new Map([...reference.accounts.values()].map((a) => [a.accountId, a.balanceMinor])),
  );
  expect(await verifyProjection(owner)).toEqual([]);
  const unbalanced = await owner.query(
    `SELECT transaction_id FROM ledger.entries GROUP BY transaction_id
      HAVING count(*) <> 2
          OR sum(amount_minor) FILTER (WHERE direction = 'DEBIT')
             IS DISTINCT FROM sum(amount_minor) FILTER (WHERE direction = 'CREDIT')`,
  );
  expect(unbalanced.rowCount).toBe(0);
}, 400_000);

test('a command delivered again gets no second outcome, and its original outcome event is published again, identical', async () => {
  let debit: LedgerCommandInput | undefined;
  let transactionId = '';
  for (const command of workload.commands) {
    if (!('ledgerline.payments.v1.PaymentRequested' in command.command)) continue;
    const { paymentId } = command.command['ledgerline.payments.v1.PaymentRequested'];
    transactionId = transactionIdFor(paymentId, 'DEBIT', 0);
    if (!reference.transactions.has(transactionId)) continue;
    debit = command;
    break;
  }
  if (debit === undefined) throw new Error('the workload has a posted debit');
  // Everything before is published (the outbox is drained) and read back.
  await waitUntil(
    async () => (await owner.query('SELECT 1 FROM ledger.outbox LIMIT 1')).rowCount === 0,
    'the outbox drained',
    60_000,
  );
  const stepPosted = ledgerStepPostedConsumer(serde, { topicPrefix: env.topicPrefix });
  const seen: Record<string, unknown>[] = [];
  const consumed = new Map<number, number>();
  const consumer = kafka.consumer({ groupId: `${env.topicPrefix}crash-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: stepPosted.topic.name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      consumed.set(partition, Number(message.offset) + 1);
      const event = await stepPosted.decode({ ...message, partition });
      if (event.value.transactionId === transactionId) {
        seen.push(event.value as unknown as Record<string, unknown>);
      }
    },
  });
  try {
    const ends = await endOffsets(stepPosted.topic.name);
    await waitUntil(
      async () => [...ends].every(([p, high]) => (consumed.get(p) ?? 0) >= high),
      'the step-posted topic read to its end',
      60_000,
    );
    // The relay is at least once: a kill between its send and its delete may have sent twice.
    const before = seen.length;
    expect(before).toBeGreaterThanOrEqual(1);
    const rows = async () =>
      (
        await owner.query<{ n: string }>(
          `SELECT ((SELECT count(*) FROM ledger.transactions) + (SELECT count(*) FROM ledger.entries)
                  + (SELECT count(*) FROM ledger.rejections))::text AS n`,
        )
      ).rows[0]?.n;
    const rowsBefore = await rows();
    const appliedBefore = await appliedMessages();

    await send([debit]);
    await waitUntil(async () => seen.length > before, 'the outcome published again', 60_000);
    expect(await appliedMessages()).toBe(appliedBefore + 1);
    expect(await rows()).toBe(rowsBefore);
    for (const again of seen) expect(again).toEqual(seen[0]);
  } finally {
    await consumer.disconnect();
  }
}, 120_000);
