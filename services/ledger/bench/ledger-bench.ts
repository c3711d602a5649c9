// `npm run bench:ledger`: payment steps per second from Kafka to committed PostgreSQL rows,
// exactly-once, against the raw ceiling of the same rows batch-inserted straight into
// PostgreSQL with the same schema. Prints both and their ratio; writes reports/bench-ledger.json.
//
//   LEDGER_BENCH_COMMANDS (default 200000)  payment steps pre-loaded on ledger.commands
//   LEDGER_BENCH_ACCOUNTS (default 2000)    customer accounts they spread over
//   LEDGER_BENCH_INSTANCES (default 2)      ledger processes sharing the partitions (one per core
//                                           here); 1 runs the ledger inside this process
//   LEDGER_BENCH_CPU_PROFILE (unset)        write a V8 .cpuprofile of the measured phase here
//                                           (in-process ledger only)
//
// The rate is measured over the steady state: from the first committed batch of the backlog to
// the last, so start-up (migrations, connections, the consumer group join) is reported apart.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { REPO_ROOT, intSetting } from '@ledgerline/platform/config';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createLogger } from '@ledgerline/platform/log';
import { startCpuProfile } from '@ledgerline/testkit/cpu-profile';
import { stopOnSignal, stoppingOnSignal } from '@ledgerline/testkit/stop-on-signal';
import { CpuSampler, findStackPids } from '@ledgerline/testkit/procstat';
import {
  createTestEnvironment,
  spawnService,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { allTopics, ledgerCommandsProducer } from '@ledgerline/generated/topics';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import { transactionIdFor } from '../src/domain/ids.js';
import { ledgerDatabase } from '../src/database.js';
import { LEDGER_APP_ROLE, migrateLedger, startLedger } from '../src/service.js';
import { rawPostingCeiling } from './raw-ceiling.js';
import {
  creditCommand,
  debitCommand,
  fundCommand,
  openAccountCommand,
} from '../test/support/ledger-harness.js';

const env = process.env;
const commandCount = intSetting(env, 'LEDGER_BENCH_COMMANDS', 200_000, 1_000, 5_000_000);
const accountCount = intSetting(env, 'LEDGER_BENCH_ACCOUNTS', 2_000, 2, 1_000_000);
const instanceCount = intSetting(env, 'LEDGER_BENCH_INSTANCES', 2, 1, 12);
const SEND_BATCH = 5_000;
const WAIT_MAX_MS = 30 * 60_000;
const cpuProfilePath = env['LEDGER_BENCH_CPU_PROFILE'];
const log = createLogger('bench-ledger');

async function produce(
  kafka: Kafka,
  serde: EventSerde,
  topicPrefix: string,
  commands: LedgerCommandInput[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const typed = ledgerCommandsProducer(serde, { topicPrefix });
  for (let i = 0; i < commands.length; i += SEND_BATCH) {
    const encoded = await Promise.all(
      commands.slice(i, i + SEND_BATCH).map((c) => typed.encode(c.accountId, c)),
    );
    await producer.send({
      topic: typed.topic.name,
      acks: -1,
      messages: encoded.map((m) => ({ key: m.key, value: m.value })),
    });
  }
  await producer.disconnect();
}

async function endOffsets(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Messages of the topic the ledger has committed (its positions in PostgreSQL). */
async function appliedMessages(owner: pg.Pool, topic: string): Promise<number> {
  const { rows } = await owner.query<{ n: string | null }>(
    'SELECT sum(next_offset) AS n FROM ledger.consumer_positions WHERE topic = $1',
    [topic],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Polls the positions until `target`; returns when the first batch beyond `base` committed
 * (and how much it had applied then) and when the last did.
 */
async function waitUntilConsumed(
  owner: pg.Pool,
  topic: string,
  base: number,
  target: number,
  onFirstBatch: () => void = () => {},
): Promise<{ firstAt: number; firstApplied: number; lastAt: number }> {
  const deadline = Date.now() + WAIT_MAX_MS;
  let first: { at: number; applied: number } | undefined;
  while (Date.now() < deadline) {
    const applied = await appliedMessages(owner, topic);
    const at = performance.now();
    if (first === undefined && applied > base) {
      first = { at, applied };
      onFirstBatch();
    }
    if (applied >= target) {
      return { firstAt: first?.at ?? at, firstApplied: first?.applied ?? base, lastAt: at };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the ledger did not consume ${target} commands within ${WAIT_MAX_MS / 1000} s`);
}

interface RunningLedger {
  pids: Record<string, number>;
  /** Never settles while the ledgers start fine; rejects when one does not become ready. */
  failure: Promise<never>;
  stop(): Promise<void>;
}

/** The ledger in this process, or N ledger processes in one consumer group. */
async function startLedgers(testEnv: TestEnvironment, count: number): Promise<RunningLedger> {
  if (count === 1) {
    const ledger = await startLedgerFor(testEnv);
    return { pids: {}, failure: new Promise<never>(() => {}), stop: () => ledger.stop() };
  }
  const children = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      spawnService(
        ledgerDatabase,
        testEnv,
        path.join(REPO_ROOT, 'reports', `bench-ledger-${i + 1}.log`),
      ),
    ),
  );
  return {
    pids: Object.fromEntries(children.map((c, i) => [`ledger-${i + 1}`, c.pid])),
    // Not awaited: they post while they start, and the window opens at the first commit.
    failure: Promise.all(children.map((c) => c.ready)).then(() => new Promise<never>(() => {})),
    stop: stopOnSignal('ledger bench', async () => {
      await Promise.all(children.map((c) => c.stop()));
    }),
  };
}

/** A ledger in this process; a signal stops it before the test database goes. */
async function startLedgerFor(testEnv: TestEnvironment): Promise<{ stop(): Promise<void> }> {
  const ledger = await startLedger({
    databaseUrl: testRoleUrl(testEnv, LEDGER_APP_ROLE),
    kafkaBrokers: testEnv.kafkaBrokers,
    schemaRegistryUrl: testEnv.schemaRegistryUrl,
    topicPrefix: testEnv.topicPrefix,
    port: 0,
    development: true,
    log,
  });
  return { stop: stopOnSignal('ledger bench', () => ledger.stop()) };
}

/** Steps through the real service: Kafka → decide → PostgreSQL, exactly-once. */
async function throughTheLedger(): Promise<{
  steps: number;
  seconds: number;
  startupSeconds: number;
  cpuSeconds: Record<string, number>;
}> {
  const testEnv = await createTestEnvironment('bench-ledger', allTopics);
  await migrateLedger(testEnv.adminDatabaseUrl);
  const kafka = new Kafka({
    brokers: testEnv.kafkaBrokers,
    clientId: 'bench',
    logLevel: logLevel.NOTHING,
  });
  const serde = new EventSerde({ registryUrl: testEnv.schemaRegistryUrl, autoRegister: true });
  const owner = new pg.Pool({ connectionString: testEnv.databaseUrl, max: 2 });
  // Registered first, so it runs last: the ledgers stop, then the pool ends, then the database
  // and topics go (a pool whose connections the drop ends raises an error no one listens to).
  const endRun = stopOnSignal('ledger bench', async () => {
    await owner.end();
    await testEnv.cleanup();
  });
  const topic = `${testEnv.topicPrefix}ledger.commands`;
  try {
    const accounts = Array.from({ length: accountCount }, () => randomUUID());
    await produce(kafka, serde, testEnv.topicPrefix, [
      ...accounts.map((a) => openAccountCommand(a)),
      ...accounts.map((a) => fundCommand(a, 1_000_000_000)),
    ]);
    const opening = await startLedgerFor(testEnv);
    await waitUntilConsumed(owner, topic, 0, await endOffsets(kafka, topic));
    await opening.stop();

    // Pre-load: half debit steps, then the credit step of each of those payments.
    const payments = Array.from({ length: Math.floor(commandCount / 2) }, (_, i) => ({
      paymentId: randomUUID(),
      payer: accounts[i % accounts.length]!,
      payee: accounts[(i * 7 + 1) % accounts.length]!,
      amountMinor: 100 + (i % 900),
    }));
    const steps = [
      ...payments.map((p) => debitCommand(p.paymentId, p.payer, p.payee, p.amountMinor)),
      ...payments.map((p) =>
        creditCommand(
          p.paymentId,
          p.payee,
          p.amountMinor,
          transactionIdFor(p.paymentId, 'DEBIT', 0),
        ),
      ),
    ];
    process.stderr.write(`pre-loading ${steps.length} payment steps ...\n`);
    await produce(kafka, serde, testEnv.topicPrefix, steps);
    const target = await endOffsets(kafka, topic);

    const base = await appliedMessages(owner, topic);
    const stopProfile =
      instanceCount === 1 ? await startCpuProfile(cpuProfilePath) : async () => {};
    const started = performance.now();
    const ledgers = await startLedgers(testEnv, instanceCount);
    const cpu = new CpuSampler({ ...findStackPids(), ...ledgers.pids });
    // CPU over the same steady-state window as the rate (start-up compiles and connects).
    let cpuBefore = cpu.totals();
    const window = await Promise.race([
      waitUntilConsumed(owner, topic, base, target, () => {
        cpuBefore = cpu.totals();
      }),
      ledgers.failure,
    ]);
    const cpuAfter = cpu.totals();
    await stopProfile();
    await ledgers.stop();
    const seconds = (window.lastAt - window.firstAt) / 1000;
    const measuredSteps = target - window.firstApplied;
    const cpuSeconds = Object.fromEntries(
      Object.entries(cpuAfter).map(([role, total]) => [
        role,
        Number((total - (cpuBefore[role] ?? total)).toFixed(2)),
      ]),
    );
    const { rows } = await owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM ledger.transactions WHERE step IN ('DEBIT', 'CREDIT')",
    );
    if (rows[0]?.n !== steps.length) {
      throw new Error(
        `expected ${steps.length} posted steps, found ${rows[0]?.n}: not a clean run`,
      );
    }
    return {
      steps: measuredSteps,
      seconds,
      startupSeconds: (window.firstAt - started) / 1000,
      cpuSeconds,
    };
  } finally {
    await endRun();
  }
}

async function main(): Promise<void> {
  const { startStack } = await import('@ledgerline/stack');
  const stack = await startStack();
  process.env['KAFKA_BROKERS'] = stack.kafkaBrokers.join(',');
  process.env['SCHEMA_REGISTRY_URL'] = stack.schemaRegistryUrl;
  process.env['DATABASE_URL'] = stack.databaseUrl;

  const ledger = await throughTheLedger();
  const rawCpu = new CpuSampler(findStackPids());
  const rawCpuBefore = rawCpu.totals();
  const raw = await rawPostingCeiling(stack.databaseUrl, commandCount, accountCount);
  const rawCpuAfter = rawCpu.totals();
  const rawPostgresMicrosPerStep = Math.round(
    (((rawCpuAfter['postgres'] ?? 0) - (rawCpuBefore['postgres'] ?? 0)) * 1e6) / raw.steps,
  );
  const ledgerRate = ledger.steps / ledger.seconds;
  const rawRate = raw.steps / raw.seconds;
  const cpuMicrosPerStep = Object.fromEntries(
    Object.entries(ledger.cpuSeconds).map(([role, s]) => [
      role,
      Math.round((s * 1e6) / ledger.steps),
    ]),
  );
  const report = {
    at: new Date().toISOString(),
    commands: ledger.steps,
    accounts: accountCount,
    ledgerInstances: instanceCount,
    startupSeconds: Number(ledger.startupSeconds.toFixed(2)),
    ledgerStepsPerSecond: Math.round(ledgerRate),
    ledgerSeconds: Number(ledger.seconds.toFixed(2)),
    rawCeilingStepsPerSecond: Math.round(rawRate),
    rawSeconds: Number(raw.seconds.toFixed(2)),
    ratio: Number((ledgerRate / rawRate).toFixed(3)),
    // PostgreSQL CPU per step for the rows alone (includes creating the bench database).
    rawPostgresCpuMicrosecondsPerStep: rawPostgresMicrosPerStep,
    // CPU seconds each process spent during the measured window (node = this process, which
    // runs the ledger when there is one instance; ledger-N = the ledger processes otherwise).
    ledgerCpuSeconds: ledger.cpuSeconds,
    cpuMicrosecondsPerStep: cpuMicrosPerStep,
  };
  console.log(
    '\nledger bench (payment steps: one transaction, two entries, projection, outbox, position)',
  );
  const instances =
    instanceCount === 1 ? 'one ledger process' : `${instanceCount} ledger processes`;
  console.log(
    `  through Kafka → ledger → PostgreSQL  ${report.ledgerStepsPerSecond.toLocaleString()} steps/s  (${report.commands} in ${report.ledgerSeconds} s, ${instances}, steady state after ${report.startupSeconds} s of start-up)`,
  );
  console.log(
    `  raw PostgreSQL ceiling, same rows    ${report.rawCeilingStepsPerSecond.toLocaleString()} steps/s  (${raw.steps} in ${report.rawSeconds} s, PostgreSQL ${rawPostgresMicrosPerStep} CPU µs per step)`,
  );
  console.log(`  ratio                                ${(report.ratio * 100).toFixed(1)} %`);
  const cpu = Object.entries(report.ledgerCpuSeconds)
    .map(([role, s]) => `${role} ${s} s (${((s / ledger.seconds) * 100).toFixed(0)} % of a core)`)
    .join(', ');
  console.log(`  CPU while posting                    ${cpu}`);
  const perStep = Object.entries(cpuMicrosPerStep)
    .map(([role, us]) => `${role} ${us}`)
    .join(', ');
  console.log(`  CPU µs per step                      ${perStep}`);
  await mkdir(path.join(REPO_ROOT, 'reports'), { recursive: true });
  await writeFile(
    path.join(REPO_ROOT, 'reports', 'bench-ledger.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  if (stoppingOnSignal()) return; // the signal's handler exits once the ledgers are stopped
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
