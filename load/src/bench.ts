// `npm run bench`: payments through the processor API at increasing arrival rates, end to end.
// Per step: payments/s reaching COMPLETED (from payments.status-changed), API latency and
// POST→COMPLETED latency (both from the intended send time: open model), consumer lag, and
// CPU-seconds per 1,000 payments per process: the ledger and the processor run as their own
// processes (services/<name>/src/main.ts; with BENCH_INSTANCES a supervisor and its instances,
// each read by pid), this process only generates the load and watches completions, so /proc
// tells each apart; over each step's load window, how many of each process's threads waited for
// a core and how late this process's own event loop ran (step-scheduling.ts), the share of every
// latency that is the machine's; PostgreSQL's WAL bytes and write transactions per payment, exact
// (postgres-work.ts). Then overload steps at multiples of the measured capacity (goodput,
// accepted/s, refused/s, latency of accepted and refused requests apart, no accepted payment
// lost). After the run: exactly-once verification, POST→COMPLETED by hop (saga-hops.ts, from
// the saga messages' CreateTimes), the raw PostgreSQL ceiling of the posting rows and the
// ratio, the CPU of a PostgreSQL round trip back to back and apart (round-trip-cost.ts, measured
// before the warm-up while the services idle), the cost model (cost-model.ts). Writes
// reports/bench.html, reports/bench.json and reports/bench-runs/<instances>.json (what a run
// with the other instance layout compares against).
//
//   BENCH_RATES      (default 250,500,1000,2000,3000,5000)  payments/s per step
//   BENCH_STEP_S     (default 20)    seconds per step
//   BENCH_WARMUP_S   (default 15)    unmeasured warm-up at the first rate (at most 500/s)
//   BENCH_INSTANCES  (default none: one process each)  e.g. processor:2,ledger:2
//   BENCH_OVERLOAD   (default 2,5)   overload steps as multiples of the best completed/s; 0: none
//   BENCH_ACCOUNTS   (default 1000)  pre-opened, funded customer accounts
//   BENCH_IN_FLIGHT_MAX (default 2000)  requests in flight at most
//   BENCH_DRAIN_S_MAX (default 120)  longest wait for a step's payments to complete
//   BENCH_RAW_STEPS  (default 100000) posting rows for the raw ceiling
//   BENCH_CPU_PROFILE (unset)        write a V8 .cpuprofile of the load steps here (of this
//                                    process: the load generator)
//   SERVICE_CPU_PROFILE_DIR (unset)  each service process writes V8 .cpuprofiles of its run
//                                    into <dir>/<service>-<n>/ when it stops
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Admin, Consumer } from 'kafkajs';
import { REPO_ROOT, intSetting } from '@ledgerline/platform/config';
import { admissionLimitsFromEnv } from '@ledgerline/platform/http/admission';
import {
  createTestApiKey,
  createTestEnvironment,
  deployTestDatabase,
  spawnService,
  type ServiceProcess,
} from '@ledgerline/testkit/testing';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka } from '@ledgerline/platform/kafka';
import {
  allTopics,
  ledgerCommandsConsumer,
  ledgerStepPostedConsumer,
  paymentsStatusChangedConsumer,
} from '@ledgerline/generated/topics';
import { verifyProjection } from '@ledgerline/ledger/store/verify';
import {
  createLoadState,
  observeResponse,
  planRequest,
  resolveScenario,
  type LoadState,
} from '../../k6/scenarios.js';
import { driveStream } from './generator.js';
import { LOOP_DELAY_RESOLUTION_MS, schedulingLine, stepScheduling } from './step-scheduling.js';
import { Samples, type TrendSummary } from './metrics.js';
import { judgeOverload, judgeTargets } from './bench-targets.js';
import { apiScopes } from '@ledgerline/generated/openapi/contracts';
import { ensureLocalStack } from './platform.js';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { processorDatabase } from '@ledgerline/processor/database';
import { paymentsInFlightMaxFromEnv, processorConsumerGroup } from '@ledgerline/processor/config';
import { startCpuProfile } from '@ledgerline/testkit/cpu-profile';
import { CpuSampler, childPids, findStackPids } from '@ledgerline/testkit/procstat';
import { isAlive } from '@ledgerline/stack/process';
import { rawPostingCeiling } from '@ledgerline/ledger/bench/raw-ceiling';
import { markPostgresWork, postgresWorkPer, type PostgresWorkMark } from './postgres-work.js';
import { measureRoundTripCostApart } from './round-trip-cost.js';
import {
  BENCH_SERVICES,
  cpuSecondsPer1000,
  instanceSettings,
  isSingleInstance,
  layoutKey,
  layoutLabel,
  parseInstances,
  serviceRoles,
  type BenchService,
} from './bench-instances.js';
import {
  GENERATOR_ROLE,
  benchReport,
  benchText,
  type BenchFigures,
  type StepFigures,
  type TimelineSecond,
  type Verification,
} from './bench-report.js';
import {
  compareScaling,
  costModel,
  type Pricing,
  type RunSummary,
  type ScalingComparison,
} from './cost-model.js';
import {
  overloadRates,
  overloadStep,
  parseOverloadMultipliers,
  type OverloadStep,
} from './overload.js';
import { REPORTS_DIR, formatNumber, writeReport } from './report.js';
import { sagaHops, type SagaMarks } from './saga-hops.js';
import { send, setupAccounts, urlOf } from './runner.js';
import { stopOnSignal, stoppingOnSignal } from '@ledgerline/testkit/stop-on-signal';

process.env['LOG_LEVEL'] ??= 'warn';
const env = process.env;

/** BENCH_RATES: payments/s per step, each a positive whole number (none left out silently). */
function parseRates(text: string): number[] {
  return text.split(',').map((part) => {
    const rate = Number(part.trim());
    if (!/^\s*\d+\s*$/.test(part) || !Number.isSafeInteger(rate) || rate < 1) {
      throw new Error(
        `BENCH_RATES: "${part.trim()}" is not a rate (payments/s, a whole number above 0)`,
      );
    }
    return rate;
  });
}
const rates = parseRates(env['BENCH_RATES'] ?? '250,500,1000,2000,3000,5000');
const stepS = intSetting(env, 'BENCH_STEP_S', 20, 1, 3_600);
const warmupS = intSetting(env, 'BENCH_WARMUP_S', 15, 1, 600);
/** A warm-up above what the platform sustains would leave the first step a backlog. */
const WARMUP_RATE_MAX = 500;
const instances = parseInstances(env['BENCH_INSTANCES']);
const overloadMultipliers = parseOverloadMultipliers(env['BENCH_OVERLOAD']);
const accountCount = intSetting(env, 'BENCH_ACCOUNTS', 1_000, 2, 1_000_000);
const inFlightMax = intSetting(env, 'BENCH_IN_FLIGHT_MAX', 2_000, 1, 100_000);
const drainSMax = intSetting(env, 'BENCH_DRAIN_S_MAX', 120, 1, 3_600);
const rawSteps = intSetting(env, 'BENCH_RAW_STEPS', 100_000, 1_000, 5_000_000);
// The services inherit this environment: HTTP_CONCURRENCY_MAX etc. set here are theirs too.
const admission = {
  ...admissionLimitsFromEnv(env),
  paymentsInFlightMax: paymentsInFlightMaxFromEnv(env),
};
/** Longest wait for every instance of a service to be forked and in its consumer group. */
const INSTANCES_START_MS_MAX = 120_000;
/** Saga states a payment ends in (COMPLETED unless refunded). */
const FINAL_STATES = new Set(['COMPLETED', 'REJECTED', 'COMPENSATED']);
const RUNS_DIR = path.join(REPORTS_DIR, 'bench-runs');
const here = path.dirname(fileURLToPath(import.meta.url));

interface Accepted {
  intendedAtMs: number;
  step: number;
}

interface Completion {
  atMs: number;
  count: number;
}

/** What the generator saw of one step's responses. */
interface StepResponses {
  /** Every answer's latency from the intended send time (the capacity steps' API figure). */
  apiMs: number[];
  acceptedApiMs: number[];
  refusedApiMs: number[];
  /** From the actual send to the 503. */
  refusedResponseMs: number[];
  refused: number;
  refusedWellFormed: number;
  failed: number;
  /** The failed answers by HTTP status; 0 = no answer (reset, refused connection, time-out). */
  failedByStatus: Record<string, number>;
}

const newResponses = (): StepResponses => ({
  apiMs: [],
  acceptedApiMs: [],
  refusedApiMs: [],
  refusedResponseMs: [],
  refused: 0,
  refusedWellFormed: 0,
  failed: 0,
  failedByStatus: {},
});

/** Completions seen on payments.status-changed, by payment id. */
class CompletionWatcher {
  readonly completions = new Map<string, Completion>();
  /** Payments in a final state (COMPLETED, REJECTED, COMPENSATED), by id. */
  readonly finals = new Map<string, string>();
  readonly perSecond = new Map<number, number>();
  private consumer: Consumer | null = null;

  constructor(private readonly originMs: number) {}

  async start(brokers: string[], registryUrl: string, topicPrefix: string): Promise<void> {
    const serde = new EventSerde({ registryUrl, autoRegister: false });
    const decoder = paymentsStatusChangedConsumer(serde, { topicPrefix });
    const groupId = `bench-${randomUUID()}`;
    this.consumer = createKafka(brokers, groupId).consumer({
      groupId,
      readUncommitted: false,
      maxWaitTimeInMs: 20,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: decoder.topic.name, fromBeginning: true });
    await this.consumer.run({
      // Nothing reads this group's offsets again. Committing them is a request per batch that
      // Kafka's group coordinator answers after its append linger (about 5 ms here), and the
      // next fetch waits for it: it added 8–19 ms to every POST→COMPLETED measured.
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const decoded = await decoder.decodeFetched(batch.partition, message);
          if (FINAL_STATES.has(decoded.value.to)) {
            this.finals.set(decoded.value.paymentId, decoded.value.to);
          }
          if (decoded.value.to !== 'COMPLETED') continue;
          const atMs = performance.now();
          const previous = this.completions.get(decoded.value.paymentId);
          this.completions.set(decoded.value.paymentId, {
            atMs: previous?.atMs ?? atMs,
            count: (previous?.count ?? 0) + 1,
          });
          const second = Math.floor((atMs - this.originMs) / 1000);
          this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** The marks a payment's saga messages carry: each one's CreateTime (epoch ms). */
type SentMarks = Omit<SagaMarks, 'postIntendedMs' | 'completedSeenMs'>;
/** Longest read of the saga's topics after the run (they hold every payment of the run). */
const SAGA_MARKS_READ_MS_MAX = 120_000;

/**
 * Reads the three topics the saga travels (commands, steps posted, status changes) from the
 * beginning up to their ends as of now, after the steps (not measured), and keeps by payment
 * when each saga message was sent: its CreateTime, set by the relay that published it.
 */
async function readSagaMarks(
  brokers: string[],
  registryUrl: string,
  topicPrefix: string,
  admin: Admin,
): Promise<Map<string, SentMarks>> {
  const serde = new EventSerde({ registryUrl, autoRegister: false });
  const commands = ledgerCommandsConsumer(serde, { topicPrefix });
  const posted = ledgerStepPostedConsumer(serde, { topicPrefix });
  const statuses = paymentsStatusChangedConsumer(serde, { topicPrefix });
  const marks = new Map<string, SentMarks>();
  const mark = (paymentId: string | null, key: keyof SentMarks, timestamp: string) => {
    if (paymentId === null) return;
    const m = marks.get(paymentId) ?? {};
    m[key] ??= Number(timestamp);
    marks.set(paymentId, m);
  };
  /** Offsets still to read, by topic:partition. */
  const remaining = new Map<string, number>();
  for (const decoder of [commands, posted, statuses]) {
    for (const o of await admin.fetchTopicOffsets(decoder.topic.name)) {
      if (Number(o.high) > 0) remaining.set(`${decoder.topic.name}:${o.partition}`, Number(o.high));
    }
  }
  const groupId = `bench-saga-marks-${randomUUID()}`;
  const consumer = createKafka(brokers, groupId).consumer({ groupId, maxWaitTimeInMs: 100 });
  try {
    await consumer.connect();
    for (const decoder of [commands, posted, statuses]) {
      await consumer.subscribe({ topic: decoder.topic.name, fromBeginning: true });
    }
    let done: () => void = () => undefined;
    const allRead = new Promise<void>((resolve) => (done = resolve));
    if (remaining.size === 0) done();
    await consumer.run({
      autoCommit: false, // a group of its own, read once: no offset to keep
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (batch.topic === commands.topic.name) {
            const { command } = (await commands.decodeFetched(batch.partition, message)).value;
            if ('ledgerline.payments.v1.PaymentRequested' in command) {
              const paymentId = command['ledgerline.payments.v1.PaymentRequested'].paymentId;
              mark(paymentId, 'debitRequestedMs', message.timestamp);
            } else if ('ledgerline.payments.v1.CreditStepRequested' in command) {
              const paymentId = command['ledgerline.payments.v1.CreditStepRequested'].paymentId;
              mark(paymentId, 'creditRequestedMs', message.timestamp);
            }
          } else if (batch.topic === posted.topic.name) {
            const { paymentId, step } = (await posted.decodeFetched(batch.partition, message))
              .value;
            if (step === 'DEBIT') mark(paymentId, 'debitPostedMs', message.timestamp);
            if (step === 'CREDIT') mark(paymentId, 'creditPostedMs', message.timestamp);
          } else {
            const { paymentId, to } = (await statuses.decodeFetched(batch.partition, message))
              .value;
            if (to === 'COMPLETED') mark(paymentId, 'completedMs', message.timestamp);
          }
        }
        const key = `${batch.topic}:${batch.partition}`;
        const end = remaining.get(key);
        if (end !== undefined && Number(batch.lastOffset()) + 1 >= end) remaining.delete(key);
        if (remaining.size === 0) done();
      },
    });
    const timedOut = await Promise.race([
      allRead.then(() => false),
      sleep(SAGA_MARKS_READ_MS_MAX).then(() => true),
    ]);
    if (timedOut) {
      process.stderr.write(
        `  saga marks: ${remaining.size} partitions not read to their end within ${SAGA_MARKS_READ_MS_MAX / 1000} s; the hops cover what was read\n`,
      );
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return marks;
}

/** Messages behind the high watermark for the ledger's and the processor's input topics. */
async function consumerLag(admin: Admin, owner: pg.Pool, prefix: string): Promise<number> {
  const topics = [
    `${prefix}ledger.commands`,
    `${prefix}ledger.step-posted`,
    `${prefix}ledger.posting-rejected`,
  ];
  let high = 0;
  for (const topic of topics) {
    for (const o of await admin.fetchTopicOffsets(topic)) high += Number(o.high);
  }
  const { rows } = await owner.query<{ n: string | null }>(
    `SELECT (SELECT coalesce(sum(next_offset), 0) FROM ledger.consumer_positions WHERE topic = $1)
          + (SELECT coalesce(sum(next_offset), 0) FROM processor.consumer_positions WHERE topic = ANY($2)) AS n`,
    [topics[0], topics.slice(1)],
  );
  return Math.max(0, high - Number(rows[0]?.n ?? 0));
}

function summarize(values: readonly number[]): TrendSummary {
  const samples = new Samples();
  for (const v of values) samples.add(v);
  return samples.summary();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where a service started by the bench writes its log. */
function serviceLogOf(name: string): string {
  return path.join(REPO_ROOT, 'reports', `bench-${name}.log`);
}

/** The consumer group each service's instances share (partition ownership is their coordination). */
function consumerGroupOf(service: BenchService, topicPrefix: string): string {
  return service === 'ledger' ? `${topicPrefix}ledger` : `${topicPrefix}${processorConsumerGroup}`;
}

/**
 * A supervisor answers on its port once its first instance listens: wait until all `count`
 * instances are forked and members of the service's consumer group, so that no instance's
 * start-up is measured as a step's CPU. Returns the instances' pids.
 */
async function waitForInstances(
  service: ServiceProcess,
  count: number,
  admin: Admin,
  groupId: string,
): Promise<number[]> {
  const deadline = performance.now() + INSTANCES_START_MS_MAX;
  for (;;) {
    const pids = childPids(service.pid, 'node');
    const group = (await admin.describeGroups([groupId])).groups[0];
    const members = group?.members.length ?? 0;
    if (pids.length >= count && members >= count && group?.state === 'Stable') return pids;
    if (!isAlive(service.pid)) {
      // A supervisor stops every instance and exits when one fails to start.
      throw new Error(
        `${service.name}: exited while its instances started; see ${serviceLogOf(service.name)}`,
      );
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${service.name}: ${pids.length} of ${count} instances forked, ${members} in consumer group ${groupId} (${group?.state ?? 'no group'}) after ${INSTANCES_START_MS_MAX / 1000} s`,
      );
    }
    await sleep(250);
  }
}

function currentCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    return null;
  }
}

/**
 * Keeps this run's figures for a run with the other instance layout and compares it with the
 * last such run under the same conditions (step length, admission limits).
 */
async function recordRun(run: RunSummary): Promise<ScalingComparison | null> {
  await mkdir(RUNS_DIR, { recursive: true });
  await writeFile(
    path.join(RUNS_DIR, `${layoutKey(run.layout)}.json`),
    `${JSON.stringify(run, null, 2)}\n`,
  );
  const runs: RunSummary[] = [];
  for (const file of await readdir(RUNS_DIR)) {
    if (!file.endsWith('.json')) continue;
    try {
      runs.push(JSON.parse(await readFile(path.join(RUNS_DIR, file), 'utf8')) as RunSummary);
    } catch {
      // A file from an older bench or cut short: not a run to compare against.
    }
  }
  const latest = (candidates: RunSummary[]) =>
    candidates
      .filter((r) => r.conditions === run.conditions)
      .sort((a, b) => b.at.localeCompare(a.at))[0];
  const single = isSingleInstance(run.layout)
    ? run
    : latest(runs.filter((r) => r.layout !== undefined && isSingleInstance(r.layout)));
  const multi = isSingleInstance(run.layout)
    ? latest(runs.filter((r) => r.layout !== undefined && !isSingleInstance(r.layout)))
    : run;
  return single === undefined || multi === undefined ? null : compareScaling(single, multi);
}

async function main(): Promise<void> {
  await ensureLocalStack();
  const pricing = JSON.parse(
    await readFile(path.join(here, '..', 'pricing.json'), 'utf8'),
  ) as Pricing;
  const testEnv = await createTestEnvironment('bench', allTopics);
  // The stack's own database, outside the run's: the round trip and the raw ceiling use it.
  const stackDatabaseUrl = testEnv.adminDatabaseUrl.replace(/\/[^/]*$/, '/ledgerline');
  // The deploy step first, as the admin; each service process gets only its roles' URLs.
  await deployTestDatabase(testEnv, [ledgerDatabase, processorDatabase]);
  process.stderr.write(`starting the ledger and the processor: ${layoutLabel(instances)} ...\n`);
  const kafkaAdmin = createKafka(testEnv.kafkaBrokers, 'bench-lag').admin();
  await kafkaAdmin.connect();
  const services: ServiceProcess[] = [];
  const stopServices = stopOnSignal('bench', async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await kafkaAdmin.disconnect().catch(() => undefined);
    await testEnv.cleanup().catch(() => undefined);
  });
  /** CPU roles of the services' processes (bench-instances.ts serviceRoles). */
  let serviceCpuRoles: Record<string, number> = {};
  try {
    const serviceSettings: Record<BenchService, Record<string, string>> = {
      ledger: {},
      processor: { PROCESSOR_DB_POOL_SIZE_MAX: '20' },
    };
    const databases = { ledger: ledgerDatabase, processor: processorDatabase };
    for (const name of BENCH_SERVICES) {
      services.push(
        await spawnService(databases[name], testEnv, serviceLogOf(name), {
          ...serviceSettings[name],
          ...instanceSettings(name, instances[name]),
        }),
      );
    }
    await Promise.all(services.map((s) => s.ready));
    for (const [i, name] of BENCH_SERVICES.entries()) {
      const service = services[i] as ServiceProcess;
      const count = instances[name];
      const pids =
        count > 1
          ? await waitForInstances(
              service,
              count,
              kafkaAdmin,
              consumerGroupOf(name, testEnv.topicPrefix),
            )
          : [];
      serviceCpuRoles = { ...serviceCpuRoles, ...serviceRoles(name, service.pid, pids) };
    }
  } catch (error) {
    await stopServices();
    throw error;
  }
  const urls = Object.fromEntries(services.map((s) => [s.name, s.url]));
  // The bench authenticates like any client: one key with every scope of the four APIs.
  const credential = await createTestApiKey(testEnv.adminDatabaseUrl, {
    name: 'bench',
    scopes: [...apiScopes],
  });
  const owner = new pg.Pool({ connectionString: testEnv.adminDatabaseUrl, max: 2 });
  const originMs = performance.now();
  const watcher = new CompletionWatcher(originMs);
  // Before the services and the database go: a pool whose connections the database's drop ends
  // would otherwise raise an error no one listens to.
  const endOwner = stopOnSignal('bench', async () => {
    await watcher.stop().catch(() => undefined);
    await owner.end();
  });
  try {
    process.stderr.write(`opening and funding ${accountCount} accounts ...\n`);
    const scenario = { ...resolveScenario('steady', false), accounts: accountCount };
    const accountIds = await setupAccounts(scenario, urls, credential);
    await watcher.start(testEnv.kafkaBrokers, testEnv.schemaRegistryUrl, testEnv.topicPrefix);
    const state: LoadState = createLoadState(accountIds);
    const accepted = new Map<string, Accepted>();
    /** By step index: the capacity steps first, then the overload steps. */
    const responses = new Map<number, StepResponses>();
    const timeline: Omit<TimelineSecond, 'completed'>[] = [];
    const second = (atMs: number): number => Math.floor((atMs - originMs) / 1000);
    const bucket = (tS: number) => {
      while (timeline.length <= tS) {
        timeline.push({
          tS: timeline.length,
          offered: 0,
          accepted: 0,
          refused: 0,
          apiMs: [],
          lag: null,
          cores: {},
        });
      }
      return timeline[tS] as (typeof timeline)[number];
    };

    const pay = async (step: number, intendedAtMs: number): Promise<void> => {
      const plan = planRequest('createPayment', {
        state,
        uuid: randomUUID,
        random: Math.random,
        startedAtMs: 0,
        nowMs: 0,
      });
      const sentAtMs = performance.now();
      const response = await send(urlOf(urls, 'processor'), plan, credential);
      const doneAtMs = performance.now();
      observeResponse(plan, response, state);
      const latencyMs = doneAtMs - intendedAtMs;
      const b = bucket(second(doneAtMs));
      b.apiMs.push(latencyMs);
      const seen = step >= 0 ? responses.get(step) : undefined;
      seen?.apiMs.push(latencyMs);
      const id = (response.json as { id?: string } | null)?.id;
      if (response.status === 202 && id !== undefined) {
        b.accepted += 1;
        seen?.acceptedApiMs.push(latencyMs);
        if (step >= 0) accepted.set(id, { intendedAtMs, step });
      } else if (response.status === 503) {
        b.refused += 1;
        if (seen !== undefined) {
          seen.refused += 1;
          seen.refusedApiMs.push(latencyMs);
          seen.refusedResponseMs.push(doneAtMs - sentAtMs);
          if (
            response.retryAfter !== null &&
            (response.contentType ?? '').startsWith('application/problem+json')
          ) {
            seen.refusedWellFormed += 1;
          }
        }
      } else if (seen !== undefined) {
        seen.failed += 1;
        // No answer is counted by why (a reset, a refused connection, the time-out).
        const status =
          response.status === 0 ? `0 ${response.noAnswer ?? 'unknown'}` : String(response.status);
        seen.failedByStatus[status] = (seen.failedByStatus[status] ?? 0) + 1;
      }
    };

    /** Offers `rate` payments/s for stepS seconds as step `index`; when the load ended. */
    const offer = async (index: number, rate: number, cpu: CpuSampler) => {
      responses.set(index, newResponses());
      const waitBefore = cpu.coreWaitTotals();
      const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
      loopDelay.enable();
      const startMs = performance.now();
      let offered = 0;
      const result = await driveStream({
        load: { timeUnitS: 1, startRate: rate, stages: [{ durationS: stepS, target: rate }] },
        inFlightMax,
        startAtMs: startMs,
        onOffered: (arrival) => {
          offered += 1;
          bucket(second(arrival.intendedAtMs)).offered += 1;
        },
        fire: (arrival) => pay(index, arrival.intendedAtMs),
      });
      const loadEndMs = performance.now();
      loopDelay.disable();
      const scheduling = stepScheduling(
        waitBefore,
        cpu.coreWaitTotals(),
        (loadEndMs - startMs) / 1000,
        loopDelay,
        GENERATOR_ROLE,
      );
      const ids = [...accepted].filter(([, a]) => a.step === index).map(([id]) => id);
      return { startMs, loadEndMs, offered, dropped: result.dropped, ids, scheduling };
    };
    /** Waits (bounded) until `done` holds for every id; when the last one was seen. */
    const drain = async (ids: readonly string[], done: (id: string) => boolean) => {
      const drainDeadline = performance.now() + drainSMax * 1000;
      while (ids.some((id) => !done(id)) && performance.now() < drainDeadline) await sleep(100);
      return performance.now();
    };
    const completedBetween = (fromMs: number, toMs: number): number => {
      let n = 0;
      for (const c of watcher.completions.values()) if (c.atMs >= fromMs && c.atMs < toMs) n += 1;
      return n;
    };

    // While the services are idle: what waking for a round trip costs on this machine.
    process.stderr.write('round-trip cost: PostgreSQL round trips back to back and apart ...\n');
    // A kernel without schedstat leaves the line out rather than the run.
    const roundTripCost = await measureRoundTripCostApart(stackDatabaseUrl).catch(
      (error: unknown) => {
        process.stderr.write(`round-trip cost not measured: ${String(error)}\n`);
        return [];
      },
    );

    // At the first step's rate: the broker's JIT (C2) compiles its hot paths in the first
    // minute, and a cold broker costs up to twice the CPU per request it does once warm.
    const warmupRate = Math.min(rates[0]!, WARMUP_RATE_MAX);
    process.stderr.write(`warm-up: ${warmupS} s at ${warmupRate} payments/s ...\n`);
    await driveStream({
      load: {
        timeUnitS: 1,
        startRate: warmupRate,
        stages: [{ durationS: warmupS, target: warmupRate }],
      },
      inFlightMax,
      fire: (arrival) => pay(-1, arrival.intendedAtMs),
    });

    // This process is the load generator; the services and the stack are measured apart.
    const { node: generator, ...stack } = findStackPids();
    const cpu = new CpuSampler({
      ...stack,
      ...serviceCpuRoles,
      ...(generator === undefined ? {} : { [GENERATOR_ROLE]: generator }),
    });
    const sampler = setInterval(() => {
      const tS = second(performance.now());
      const cores = cpu.sample();
      void consumerLag(kafkaAdmin, owner, testEnv.topicPrefix).then(
        (lag) => Object.assign(bucket(tS), { lag, cores }),
        () => Object.assign(bucket(tS), { cores }),
      );
    }, 1_000);

    const steps: StepFigures[] = [];
    const overload: OverloadStep[] = [];
    const stopProfile = await startCpuProfile(env['BENCH_CPU_PROFILE']);
    try {
      for (const [step, rate] of rates.entries()) {
        process.stderr.write(
          `step ${step + 1}/${rates.length}: ${rate} payments/s for ${stepS} s ... `,
        );
        const cpuBefore = cpu.totals();
        const postgresBefore = await markPostgresWorkOrNull(owner);
        const { startMs, loadEndMs, offered, dropped, ids, scheduling } = await offer(
          step,
          rate,
          cpu,
        );
        await drain(ids, (id) => watcher.completions.has(id));
        const cpuAfter = cpu.totals();
        const postgresAfter = await markPostgresWorkOrNull(owner);
        const completed = ids.filter((id) => watcher.completions.has(id));
        const lastCompletionMs = Math.max(
          loadEndMs,
          ...completed.map((id) => watcher.completions.get(id)?.atMs ?? 0),
        );
        const lags = timeline
          .slice(second(startMs), second(lastCompletionMs) + 1)
          .map((b) => b.lag)
          .filter((l): l is number => l !== null);
        const seen = responses.get(step) ?? newResponses();
        const figures: StepFigures = {
          step: step + 1,
          targetPerS: rate,
          offered,
          accepted: ids.length,
          refused: seen.refused,
          failed: seen.failed,
          failedByStatus: seen.failedByStatus,
          dropped,
          acceptedPerS: ids.length / ((loadEndMs - startMs) / 1000),
          completedInWindowPerS:
            completedBetween(startMs, loadEndMs) / ((loadEndMs - startMs) / 1000),
          sustainedCompletedPerS: completed.length / ((lastCompletionMs - startMs) / 1000),
          drainS: (lastCompletionMs - loadEndMs) / 1000,
          allCompleted: completed.length === ids.length,
          api: summarize(seen.apiMs),
          endToEnd: summarize(
            completed.map(
              (id) =>
                (watcher.completions.get(id)?.atMs ?? 0) - (accepted.get(id)?.intendedAtMs ?? 0),
            ),
          ),
          lagMax: lags.length > 0 ? Math.max(...lags) : null,
          cpuSecondsPer1000: cpuSecondsPer1000(cpuBefore, cpuAfter, ids.length, GENERATOR_ROLE),
          postgresWork:
            postgresBefore === null || postgresAfter === null
              ? null
              : postgresWorkPer(postgresBefore, postgresAfter, ids.length),
          scheduling,
        };
        steps.push(figures);
        process.stderr.write(
          `accepted ${formatNumber(figures.acceptedPerS)}/s, refused ${figures.refused}, completed ${formatNumber(figures.sustainedCompletedPerS)}/s, API p99 ${formatNumber(figures.api.p99)} ms, e2e p99 ${formatNumber(figures.endToEnd.p99)} ms; ${schedulingLine(scheduling, GENERATOR_ROLE)}\n`,
        );
        if (!figures.allCompleted) {
          process.stderr.write(
            `  not every payment of this step completed within ${drainSMax} s: stopping the ramp\n`,
          );
          break;
        }
      }

      // Past capacity: multiples of the best completed/s the capacity steps measured.
      const peak = bestStep(steps)?.sustainedCompletedPerS ?? null;
      for (const [i, { multiplier, targetPerS }] of overloadRates(
        peak,
        overloadMultipliers,
      ).entries()) {
        const index = rates.length + i;
        process.stderr.write(
          `overload ${multiplier}× capacity: ${targetPerS} payments/s for ${stepS} s ... `,
        );
        const { startMs, loadEndMs, offered, dropped, ids, scheduling } = await offer(
          index,
          targetPerS,
          cpu,
        );
        const lastFinalMs = await drain(ids, (id) => watcher.finals.has(id));
        const seen = responses.get(index) ?? newResponses();
        const figures: OverloadStep = {
          ...overloadStep(
            {
              multiplier,
              targetPerS,
              windowS: (loadEndMs - startMs) / 1000,
              offered,
              dropped,
              accepted: ids.length,
              refused: seen.refused,
              failed: seen.failed,
              failedByStatus: seen.failedByStatus,
              completedInWindow: completedBetween(startMs, loadEndMs),
              acceptedFinal: ids.filter((id) => watcher.finals.has(id)).length,
              acceptedApiMs: seen.acceptedApiMs,
              refusedApiMs: seen.refusedApiMs,
              refusedResponseMs: seen.refusedResponseMs,
              refusedWellFormed: seen.refusedWellFormed,
              drainS: (lastFinalMs - loadEndMs) / 1000,
            },
            peak,
          ),
          scheduling,
        };
        overload.push(figures);
        process.stderr.write(
          `goodput ${formatNumber(figures.goodputPerS)}/s, accepted ${formatNumber(figures.acceptedPerS)}/s, refused ${formatNumber(figures.refusedPerS)}/s, refusal p99 ${formatNumber(figures.refusedResponse.p99)} ms, accepted API p99 ${formatNumber(figures.acceptedApi.p99)} ms, not final ${figures.lost}; ${schedulingLine(scheduling, GENERATOR_ROLE)}\n`,
        );
      }
    } finally {
      clearInterval(sampler);
      await stopProfile();
    }

    // Verify once the platform has drained: a payment still in flight is not yet a failure.
    const finalDeadline = performance.now() + drainSMax * 3 * 1000;
    while (
      [...accepted.keys()].some((id) => !watcher.completions.has(id)) &&
      performance.now() < finalDeadline
    ) {
      await sleep(200);
    }
    process.stderr.write('verifying exactly-once ...\n');
    const verification = await verify(owner, urls, credential, accepted, watcher);
    process.stderr.write('reading the saga marks of every payment ...\n');
    const sent = await readSagaMarks(
      testEnv.kafkaBrokers,
      testEnv.schemaRegistryUrl,
      testEnv.topicPrefix,
      kafkaAdmin,
    );
    // The generator's clock is performance.now(); the marks are epoch milliseconds.
    const epochMs = (atMs: number) => performance.timeOrigin + atMs;
    for (const [index, figures] of steps.entries()) {
      const marks: SagaMarks[] = [];
      for (const [id, a] of accepted) {
        if (a.step !== index) continue;
        const seen = watcher.completions.get(id);
        marks.push({
          ...sent.get(id),
          postIntendedMs: epochMs(a.intendedAtMs),
          ...(seen !== undefined && { completedSeenMs: epochMs(seen.atMs) }),
        });
      }
      figures.sagaHops = sagaHops(marks);
    }
    process.stderr.write(`raw PostgreSQL ceiling: ${rawSteps} posting rows ...\n`);
    const raw = await rawPostingCeiling(stackDatabaseUrl, rawSteps, accountCount);

    const best = bestStep(steps);
    const at = new Date().toISOString();
    const commit = currentCommit();
    const scaling = await recordRun({
      at,
      commit,
      layout: instances,
      conditions: JSON.stringify({ stepS, admission }),
      steps: steps.map((s) => ({
        targetPerS: s.targetPerS,
        sustainedCompletedPerS: s.sustainedCompletedPerS,
        allCompleted: s.allCompleted,
        refused: s.refused,
        cpuMsPerPayment: s.cpuSecondsPer1000['total'] ?? 0,
      })),
    });
    const rawCeiling = {
      ...raw,
      // Each payment is two posting steps (DEBIT, CREDIT).
      bestCompletedPaymentsPerS: best?.sustainedCompletedPerS ?? null,
      ratio: best === null ? null : (best.sustainedCompletedPerS * 2) / raw.stepsPerSecond,
    };
    const figures: BenchFigures & Record<string, unknown> = {
      at,
      commit,
      machine: { cpus: cpus().length, node: process.version },
      settings: {
        rates,
        stepS,
        instances,
        overloadMultipliers,
        admission,
        accountCount,
        inFlightMax,
        drainSMax,
        rawSteps,
      },
      processes: serviceCpuRoles,
      instances,
      admission,
      steps,
      overload,
      verification,
      rawCeiling,
      roundTripCost,
      scaling,
      cost: costModel(
        pricing,
        best === null
          ? null
          : { targetPerS: best.targetPerS, cpuMsPerPayment: best.cpuSecondsPer1000['total'] ?? 0 },
        instances,
        scaling,
      ),
      targets: [...judgeTargets(steps), ...judgeOverload(overload)],
    };
    console.log(benchText(figures));
    const seconds: TimelineSecond[] = timeline.map((b) => ({
      ...b,
      completed: watcher.perSecond.get(b.tS) ?? 0,
    }));
    const report = await writeReport('bench', benchReport(figures, seconds), {
      ...figures,
      timeline: seconds.map(({ apiMs, ...b }) => ({
        ...b,
        apiP99Ms: summarize(apiMs).p99,
      })),
    });
    process.stderr.write(`report: ${report.html}\n`);
    if (!verification.ok || overload.some((s) => s.lost > 0)) process.exitCode = 1;
  } finally {
    await endOwner();
    await stopServices();
  }
}

/** The step goes on without the figure if PostgreSQL cannot say (the line names why). */
async function markPostgresWorkOrNull(db: pg.Pool): Promise<PostgresWorkMark | null> {
  try {
    return await markPostgresWork(db);
  } catch (error) {
    process.stderr.write(`PostgreSQL work not measured: ${String(error)}\n`);
    return null;
  }
}

/** The capacity step with the most payments completed per second, all of its own completed. */
function bestStep(steps: readonly StepFigures[]): StepFigures | null {
  return steps.reduce<StepFigures | null>(
    (b, s) =>
      s.allCompleted && (b === null || s.sustainedCompletedPerS > b.sustainedCompletedPerS) ? s : b,
    null,
  );
}

async function verify(
  owner: pg.Pool,
  urls: Record<string, string | undefined>,
  credential: string,
  accepted: Map<string, Accepted>,
  watcher: CompletionWatcher,
): Promise<Verification> {
  let completedOnce = 0;
  let duplicated = 0;
  let notCompleted = 0;
  for (const id of accepted.keys()) {
    const c = watcher.completions.get(id);
    if (c === undefined) notCompleted += 1;
    else if (c.count === 1) completedOnce += 1;
    else duplicated += 1;
  }
  const states = await owner.query<{ state: string; n: number }>(
    'SELECT state, count(*)::int AS n FROM processor.payments GROUP BY state',
  );
  const processorStates = Object.fromEntries(states.rows.map((r) => [r.state, r.n]));
  const steps = await owner.query<{ step: string; n: number; distinct_payments: number }>(
    `SELECT step, count(*)::int AS n, count(DISTINCT payment_id)::int AS distinct_payments
     FROM ledger.transactions WHERE step IN ('DEBIT', 'CREDIT') GROUP BY step`,
  );
  const byStep = Object.fromEntries(steps.rows.map((r) => [r.step, r]));
  const mismatches = await verifyProjection(owner);
  let clearingBalanceMinor: number | null = null;
  const system = await send(
    urls['ledger'] ?? '',
    {
      name: 'systemAccounts',
      service: 'ledger',
      method: 'GET',
      path: '/v1/system-accounts?currency=EUR',
      headers: {},
      expectedStatuses: [200],
    },
    credential,
  );
  const clearing = (
    system.json as { items?: { id: string; systemKind: string }[] } | null
  )?.items?.find((a) => a.systemKind === 'CLEARING');
  if (clearing !== undefined) {
    const balance = await send(
      urls['ledger'] ?? '',
      {
        name: 'balance',
        service: 'ledger',
        method: 'GET',
        path: `/v1/accounts/${clearing.id}/balance`,
        headers: {},
        expectedStatuses: [200],
      },
      credential,
    );
    clearingBalanceMinor = (balance.json as { balanceMinor?: number } | null)?.balanceMinor ?? null;
  }
  // Warm-up payments are in the database too: every payment there must be COMPLETED.
  const totalPayments = Object.values(processorStates).reduce((a, b) => a + b, 0);
  const debit = byStep['DEBIT'];
  const credit = byStep['CREDIT'];
  const ok =
    notCompleted === 0 &&
    duplicated === 0 &&
    processorStates['COMPLETED'] === totalPayments &&
    debit?.n === totalPayments &&
    debit.distinct_payments === totalPayments &&
    credit?.n === totalPayments &&
    credit.distinct_payments === totalPayments &&
    mismatches.length === 0 &&
    clearingBalanceMinor === 0;
  return {
    ok,
    accepted: accepted.size,
    completedOnce,
    completedEventsDuplicated: duplicated,
    notCompleted,
    processorStates,
    debitTransactions: debit?.n ?? 0,
    creditTransactions: credit?.n ?? 0,
    projectionMismatches: mismatches.length,
    clearingBalanceMinor,
  };
}

// Exits once the report is written, as `npm run load` does: a socket a service left open when it
// stopped (the generator's keep-alive agent) must not keep a finished run waiting.
main().then(
  () => process.exit(),
  (error: unknown) => {
    if (stoppingOnSignal()) return; // the signal's handler exits once the services are stopped
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  },
);
