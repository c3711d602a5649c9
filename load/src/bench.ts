// `npm run bench`: payments through the processor API at increasing arrival rates, end to end.
// Per step: payments/s reaching COMPLETED (from payments.status-changed), API latency and
// POST→COMPLETED latency (both from the intended send time: open model), consumer lag, and
// CPU-seconds per 1,000 payments per process: the ledger and the processor run as their own
// processes (services/<name>/src/main.ts), this process only generates the load and watches
// completions, so /proc tells each apart. After the run: exactly-once verification, the
// raw PostgreSQL ceiling of the posting rows and the ratio, cost per payment/s from
// load/pricing.json. Writes reports/bench.html and reports/bench.json.
//
//   BENCH_RATES      (default 250,500,1000,2000,3000,5000)  payments/s per step
//   BENCH_STEP_S     (default 20)    seconds per step
//   BENCH_ACCOUNTS   (default 1000)  pre-opened, funded customer accounts
//   BENCH_IN_FLIGHT_MAX (default 2000)  requests in flight at most
//   BENCH_DRAIN_S_MAX (default 120)  longest wait for a step's payments to complete
//   BENCH_RAW_STEPS  (default 100000) posting rows for the raw ceiling
//   BENCH_CPU_PROFILE (unset)        write a V8 .cpuprofile of the load steps here (of this
//                                    process: the load generator)
//   SERVICE_CPU_PROFILE_DIR (unset)  each service process writes V8 .cpuprofiles of its run
//                                    into <dir>/<service>-<n>/ when it stops
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Consumer } from 'kafkajs';
import { REPO_ROOT, intSetting } from '@ledgerline/platform/config';
import {
  createTestApiKey,
  createTestEnvironment,
  deployTestDatabase,
  spawnService,
  type ServiceProcess,
} from '@ledgerline/testkit/testing';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka } from '@ledgerline/platform/kafka';
import { allTopics, paymentsStatusChangedConsumer } from '@ledgerline/generated/topics';
import { verifyProjection } from '@ledgerline/ledger/store/verify';
import {
  createLoadState,
  observeResponse,
  planRequest,
  resolveScenario,
  type LoadState,
} from '../../k6/scenarios.js';
import { driveStream } from './generator.js';
import { Samples, percentile, type TrendSummary } from './metrics.js';
import { judgeTargets, type TargetVerdict } from './bench-targets.js';
import { apiScopes } from '@ledgerline/generated/openapi/contracts';
import { ensureLocalStack } from './platform.js';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { processorDatabase } from '@ledgerline/processor/database';
import { startCpuProfile } from '@ledgerline/testkit/cpu-profile';
import { CpuSampler, findStackPids } from '@ledgerline/testkit/procstat';
import { rawPostingCeiling } from '@ledgerline/ledger/bench/raw-ceiling';
import { formatNumber, writeReport, type Chart } from './report.js';
import { send, setupAccounts, urlOf } from './runner.js';

process.env['LOG_LEVEL'] ??= 'warn';
const env = process.env;
const rates = (env['BENCH_RATES'] ?? '250,500,1000,2000,3000,5000')
  .split(',')
  .map((r) => Number(r.trim()))
  .filter((r) => Number.isFinite(r) && r > 0);
const stepS = intSetting(env, 'BENCH_STEP_S', 20, 1, 3_600);
const accountCount = intSetting(env, 'BENCH_ACCOUNTS', 1_000, 2, 1_000_000);
const inFlightMax = intSetting(env, 'BENCH_IN_FLIGHT_MAX', 2_000, 1, 100_000);
const drainSMax = intSetting(env, 'BENCH_DRAIN_S_MAX', 120, 1, 3_600);
const rawSteps = intSetting(env, 'BENCH_RAW_STEPS', 100_000, 1_000, 5_000_000);
const WARMUP_PAYMENTS = 500;
/** The CPU role of this process: it generates the load, it is not part of the platform. */
const GENERATOR_ROLE = 'generator';
/** CPU columns of the table and the report; `total` is the platform (all but the generator). */
const CPU_COLUMNS = [
  { role: 'processor', label: 'processor' },
  { role: 'ledger', label: 'ledger' },
  { role: 'postgres', label: 'pg' },
  { role: 'kafka', label: 'kafka' },
  { role: 'registry', label: 'registry' },
  { role: 'total', label: 'total' },
  { role: GENERATOR_ROLE, label: 'generator' },
] as const;
const here = path.dirname(fileURLToPath(import.meta.url));

interface Pricing {
  currency: string;
  hoursPerMonth: number;
  targetCpuUtilization: number;
  instances: { name: string; vcpu: number; pricePerHour: number }[];
}

interface Accepted {
  intendedAtMs: number;
  step: number;
}

interface Completion {
  atMs: number;
  count: number;
}

interface StepFigures {
  step: number;
  targetPerS: number;
  offered: number;
  accepted: number;
  failed: number;
  dropped: number;
  acceptedPerS: number;
  completedInWindowPerS: number;
  /** Accepted payments of the step / (time from step start until the last one completed). */
  sustainedCompletedPerS: number;
  drainS: number;
  allCompleted: boolean;
  api: TrendSummary;
  endToEnd: TrendSummary;
  lagMax: number | null;
  cpuSecondsPer1000: Record<string, number>;
}

/** Completions seen on payments.status-changed, by payment id. */
class CompletionWatcher {
  readonly completions = new Map<string, Completion>();
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
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const decoded = await decoder.decode({
            partition: batch.partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
            timestamp: message.timestamp,
          });
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

/** Messages behind the high watermark for the ledger's and the processor's input topics. */
async function consumerLag(
  admin: ReturnType<ReturnType<typeof createKafka>['admin']>,
  owner: pg.Pool,
  prefix: string,
): Promise<number> {
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

function summarize(values: number[]): TrendSummary {
  const samples = new Samples();
  for (const v of values) samples.add(v);
  return samples.summary();
}

async function main(): Promise<void> {
  if (rates.length === 0) throw new Error('BENCH_RATES has no rate');
  await ensureLocalStack();
  const pricing = JSON.parse(
    await readFile(path.join(here, '..', 'pricing.json'), 'utf8'),
  ) as Pricing;
  const testEnv = await createTestEnvironment('bench', allTopics);
  // The deploy step first, as the admin; each service process gets only its roles' URLs.
  await deployTestDatabase(testEnv, [ledgerDatabase, processorDatabase]);
  process.stderr.write(`starting the ledger and the processor, one process each ...\n`);
  const services: ServiceProcess[] = [];
  const stopServices = async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await testEnv.cleanup().catch(() => undefined);
  };
  try {
    const logOf = (name: string) => path.join(REPO_ROOT, 'reports', `bench-${name}.log`);
    services.push(await spawnService(ledgerDatabase, testEnv, logOf('ledger')));
    services.push(
      await spawnService(processorDatabase, testEnv, logOf('processor'), {
        PROCESSOR_DB_POOL_SIZE_MAX: '20',
        PROCESSOR_RELAY_IDLE_POLL_MS: '20',
      }),
    );
    await Promise.all(services.map((s) => s.ready));
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
  const kafkaAdmin = createKafka(testEnv.kafkaBrokers, 'bench-lag').admin();
  await kafkaAdmin.connect();
  const originMs = performance.now();
  const watcher = new CompletionWatcher(originMs);
  try {
    process.stderr.write(`opening and funding ${accountCount} accounts ...\n`);
    const scenario = { ...resolveScenario('steady', false), accounts: accountCount };
    const accountIds = await setupAccounts(scenario, urls, credential);
    await watcher.start(testEnv.kafkaBrokers, testEnv.schemaRegistryUrl, testEnv.topicPrefix);
    const state: LoadState = createLoadState(accountIds);
    const accepted = new Map<string, Accepted>();
    const apiLatencies: number[][] = rates.map(() => []);
    const timeline: {
      tS: number;
      offered: number;
      accepted: number;
      apiP50: number[];
      lag: number | null;
      cores: Record<string, number>;
    }[] = [];
    const second = (atMs: number): number => Math.floor((atMs - originMs) / 1000);
    const bucket = (tS: number) => {
      while (timeline.length <= tS) {
        timeline.push({
          tS: timeline.length,
          offered: 0,
          accepted: 0,
          apiP50: [],
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
      const response = await send(urlOf(urls, 'processor'), plan, credential);
      const doneAtMs = performance.now();
      observeResponse(plan, response, state);
      const b = bucket(second(doneAtMs));
      b.apiP50.push(doneAtMs - intendedAtMs);
      if (step >= 0) apiLatencies[step]?.push(doneAtMs - intendedAtMs);
      const id = (response.json as { id?: string } | null)?.id;
      if (response.status === 202 && id !== undefined) {
        b.accepted += 1;
        if (step >= 0) accepted.set(id, { intendedAtMs, step });
      } else if (step >= 0) {
        failedPerStep[step] = (failedPerStep[step] ?? 0) + 1;
      }
    };
    const failedPerStep: number[] = rates.map(() => 0);

    process.stderr.write(`warm-up: ${WARMUP_PAYMENTS} payments ...\n`);
    await driveStream({
      load: {
        timeUnitS: 1,
        startRate: 100,
        stages: [{ durationS: WARMUP_PAYMENTS / 100, target: 100 }],
      },
      inFlightMax,
      fire: (arrival) => pay(-1, arrival.intendedAtMs),
    });

    // This process is the load generator; the services and the stack are measured apart.
    const { node: generator, ...stack } = findStackPids();
    const cpu = new CpuSampler({
      ...stack,
      ...Object.fromEntries(services.map((s) => [s.name, s.pid])),
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
    const stopProfile = await startCpuProfile(env['BENCH_CPU_PROFILE']);
    try {
      for (const [step, rate] of rates.entries()) {
        process.stderr.write(
          `step ${step + 1}/${rates.length}: ${rate} payments/s for ${stepS} s ... `,
        );
        const cpuBefore = cpu.totals();
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
          fire: (arrival) => pay(step, arrival.intendedAtMs),
        });
        const loadEndMs = performance.now();
        const ids = [...accepted].filter(([, a]) => a.step === step).map(([id]) => id);
        const drainDeadline = performance.now() + drainSMax * 1000;
        while (
          ids.some((id) => !watcher.completions.has(id)) &&
          performance.now() < drainDeadline
        ) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const cpuAfter = cpu.totals();
        const completed = ids.filter((id) => watcher.completions.has(id));
        const lastCompletionMs = Math.max(
          loadEndMs,
          ...completed.map((id) => watcher.completions.get(id)?.atMs ?? 0),
        );
        let completedInWindow = 0;
        for (const c of watcher.completions.values()) {
          if (c.atMs >= startMs && c.atMs < loadEndMs) completedInWindow += 1;
        }
        const cpuSecondsPer1000: Record<string, number> = {};
        let total = 0;
        for (const [role, after] of Object.entries(cpuAfter)) {
          const used = after - (cpuBefore[role] ?? after);
          // The platform's cost: every process but the load generator.
          if (role !== GENERATOR_ROLE) total += used;
          cpuSecondsPer1000[role] = ids.length > 0 ? (used / ids.length) * 1000 : 0;
        }
        cpuSecondsPer1000['total'] = ids.length > 0 ? (total / ids.length) * 1000 : 0;
        const lags = timeline
          .slice(second(startMs), second(lastCompletionMs) + 1)
          .map((b) => b.lag)
          .filter((l): l is number => l !== null);
        const figures: StepFigures = {
          step: step + 1,
          targetPerS: rate,
          offered,
          accepted: ids.length,
          failed: failedPerStep[step] ?? 0,
          dropped: result.dropped,
          acceptedPerS: ids.length / ((loadEndMs - startMs) / 1000),
          completedInWindowPerS: completedInWindow / ((loadEndMs - startMs) / 1000),
          sustainedCompletedPerS: completed.length / ((lastCompletionMs - startMs) / 1000),
          drainS: (lastCompletionMs - loadEndMs) / 1000,
          allCompleted: completed.length === ids.length,
          api: summarize(apiLatencies[step] ?? []),
          endToEnd: summarize(
            completed.map(
              (id) =>
                (watcher.completions.get(id)?.atMs ?? 0) - (accepted.get(id)?.intendedAtMs ?? 0),
            ),
          ),
          lagMax: lags.length > 0 ? Math.max(...lags) : null,
          cpuSecondsPer1000,
        };
        steps.push(figures);
        process.stderr.write(
          `accepted ${formatNumber(figures.acceptedPerS)}/s, completed ${formatNumber(figures.sustainedCompletedPerS)}/s, API p99 ${formatNumber(figures.api.p99)} ms, e2e p99 ${formatNumber(figures.endToEnd.p99)} ms\n`,
        );
        if (!figures.allCompleted) {
          process.stderr.write(
            `  not every payment of this step completed within ${drainSMax} s: stopping the ramp\n`,
          );
          break;
        }
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
      await new Promise((r) => setTimeout(r, 200));
    }
    process.stderr.write('verifying exactly-once ...\n');
    const verification = await verify(owner, urls, credential, accepted, watcher);
    process.stderr.write(`raw PostgreSQL ceiling: ${rawSteps} posting rows ...\n`);
    const raw = await rawPostingCeiling(
      testEnv.adminDatabaseUrl.replace(/\/[^/]*$/, '/ledgerline'),
      rawSteps,
      accountCount,
    );

    const best = steps.reduce<StepFigures | null>(
      (b, s) =>
        s.allCompleted && (b === null || s.sustainedCompletedPerS > b.sustainedCompletedPerS)
          ? s
          : b,
      null,
    );
    const cost = costTable(pricing, best);
    const figures = {
      at: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      settings: { rates, stepS, accountCount, inFlightMax, drainSMax, rawSteps },
      steps,
      verification,
      rawCeiling: {
        ...raw,
        // Each payment is two posting steps (DEBIT, CREDIT).
        bestCompletedPaymentsPerS: best?.sustainedCompletedPerS ?? null,
        ratio: best === null ? null : (best.sustainedCompletedPerS * 2) / raw.stepsPerSecond,
      },
      cost,
      targets: judgeTargets(steps),
    };
    printTable(figures);
    const report = await writeReport('bench', benchReport(figures, timeline, watcher, originMs), {
      ...figures,
      timeline: timeline.map((b) => ({
        tS: b.tS,
        offered: b.offered,
        accepted: b.accepted,
        completed: watcher.perSecond.get(b.tS) ?? 0,
        apiP99Ms: percentile(Float64Array.from(b.apiP50).sort(), 99),
        lag: b.lag,
        cores: b.cores,
      })),
    });
    process.stderr.write(`report: ${report.html}\n`);
    if (!verification.ok) process.exitCode = 1;
  } finally {
    await watcher.stop().catch(() => undefined);
    await kafkaAdmin.disconnect().catch(() => undefined);
    await owner.end();
    await stopServices();
  }
}

async function verify(
  owner: pg.Pool,
  urls: Record<string, string | undefined>,
  credential: string,
  accepted: Map<string, Accepted>,
  watcher: CompletionWatcher,
): Promise<{
  ok: boolean;
  accepted: number;
  completedOnce: number;
  completedEventsDuplicated: number;
  notCompleted: number;
  processorStates: Record<string, number>;
  debitTransactions: number;
  creditTransactions: number;
  projectionMismatches: number;
  clearingBalanceMinor: number | null;
}> {
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

function costTable(pricing: Pricing, best: StepFigures | null) {
  if (best === null) return null;
  const cpuSecondsPerPayment = (best.cpuSecondsPer1000['total'] ?? 0) / 1000;
  // Cores busy per sustained payment/s = CPU-seconds per payment.
  const coresPerTps = cpuSecondsPerPayment / pricing.targetCpuUtilization;
  return {
    basis: `CPU-seconds per 1,000 payments at ${best.targetPerS}/s (the platform's processes, not the load generator): ${formatNumber(best.cpuSecondsPer1000['total'], 3)}; instances run at ${pricing.targetCpuUtilization * 100} % CPU; prices from load/pricing.json (configuration, not measured)`,
    currency: pricing.currency,
    rows: pricing.instances.map((i) => {
      const perTpsMonth = (coresPerTps / i.vcpu) * i.pricePerHour * pricing.hoursPerMonth;
      return {
        instance: i.name,
        vcpu: i.vcpu,
        pricePerHour: i.pricePerHour,
        paymentsPerSecondPerInstance: i.vcpu / coresPerTps,
        costPerTpsMonth: perTpsMonth,
        instancesFor5000Tps: Math.ceil((5_000 * coresPerTps) / i.vcpu),
      };
    }),
  };
}

type Figures = {
  steps: StepFigures[];
  verification: Awaited<ReturnType<typeof verify>>;
  rawCeiling: { stepsPerSecond: number; steps: number; seconds: number; ratio: number | null };
  cost: ReturnType<typeof costTable>;
  targets: TargetVerdict[];
};

function printTable(figures: Figures): void {
  const header = `target/s  accepted/s  completed/s  API p50/p95/p99 ms       e2e p50/p95/p99 ms        lag max  drain s  CPU-s/1000 (${CPU_COLUMNS.map((c) => c.label).join(' ')})`;
  console.log(`\n${header}`);
  for (const s of figures.steps) {
    const c = s.cpuSecondsPer1000;
    console.log(
      [
        String(s.targetPerS).padStart(8),
        formatNumber(s.acceptedPerS).padStart(11),
        formatNumber(s.sustainedCompletedPerS).padStart(12),
        `${formatNumber(s.api.med)}/${formatNumber(s.api.p95)}/${formatNumber(s.api.p99)}`.padStart(
          24,
        ),
        `${formatNumber(s.endToEnd.med)}/${formatNumber(s.endToEnd.p95)}/${formatNumber(s.endToEnd.p99)}`.padStart(
          25,
        ),
        formatNumber(s.lagMax, 0).padStart(8),
        formatNumber(s.drainS).padStart(8),
        `  ${CPU_COLUMNS.map((col) => formatNumber(c[col.role], 2)).join(' ')}`,
      ].join(' '),
    );
  }
  const v = figures.verification;
  console.log(
    `\nexactly-once: ${v.ok ? 'OK' : 'FAILED'} (${v.completedOnce}/${v.accepted} completed once, ${v.completedEventsDuplicated} duplicated, ${v.notCompleted} not completed; DEBIT ${v.debitTransactions}, CREDIT ${v.creditTransactions}; projection mismatches ${v.projectionMismatches}; clearing ${v.clearingBalanceMinor})`,
  );
  const r = figures.rawCeiling;
  console.log(
    `raw PostgreSQL ceiling: ${formatNumber(r.stepsPerSecond)} posting steps/s; best end to end ${formatNumber((r.ratio ?? 0) * r.stepsPerSecond)} steps/s (ratio ${formatNumber((r.ratio ?? 0) * 100)} %)`,
  );
  for (const t of figures.targets) {
    console.log(
      `target ${t.name} ${t.target} ${t.unit} at ${t.at}: ${t.measured === null ? 'not measured' : `${formatNumber(t.measured)} ${t.unit}`} — ${t.met ? 'met' : 'NOT met'}`,
    );
  }
  for (const row of figures.cost?.rows ?? []) {
    console.log(
      `cost: ${row.instance}: ${formatNumber(row.paymentsPerSecondPerInstance)} payments/s per instance, ${figures.cost?.currency} ${row.costPerTpsMonth.toFixed(2)} per payment/s per month`,
    );
  }
}

function benchReport(
  figures: Figures,
  timeline: {
    tS: number;
    offered: number;
    accepted: number;
    apiP50: number[];
    lag: number | null;
    cores: Record<string, number>;
  }[],
  watcher: CompletionWatcher,
  originMs: number,
): Parameters<typeof writeReport>[1] {
  void originMs;
  const roles = [...new Set(timeline.flatMap((b) => Object.keys(b.cores)))];
  const unmet = figures.targets.filter((t) => !t.met);
  const charts: Chart[] = [
    {
      title: 'Throughput',
      yUnit: 'payments/s',
      xLabel: 'seconds since start',
      series: [
        { name: 'offered', points: timeline.map((b) => [b.tS, b.offered]) },
        { name: 'accepted (202)', points: timeline.map((b) => [b.tS, b.accepted]) },
        {
          name: 'COMPLETED',
          points: timeline.map((b) => [b.tS, watcher.perSecond.get(b.tS) ?? 0]),
        },
      ],
      marker: { y: 1_500, label: 'target 1,500/s' },
    },
    {
      title: 'API latency (POST /v1/payments, from the intended send time)',
      yUnit: 'ms',
      xLabel: 'seconds since start',
      series: [50, 95, 99].map((p) => ({
        name: `p${p}`,
        points: timeline.map(
          (b) => [b.tS, percentile(Float64Array.from(b.apiP50).sort(), p)] as const,
        ),
      })),
      marker: { y: 50, label: 'p99 target 50 ms' },
    },
    {
      title: 'Consumer lag (ledger.commands + processor inputs)',
      yUnit: 'messages',
      xLabel: 'seconds since start',
      series: [{ name: 'lag', points: timeline.map((b) => [b.tS, b.lag]) }],
    },
    {
      title: 'CPU',
      yUnit: 'cores busy',
      xLabel: 'seconds since start',
      series: roles.map((role) => ({
        name: role === GENERATOR_ROLE ? 'generator (load, not the platform)' : role,
        points: timeline.map((b) => [b.tS, b.cores[role] ?? null] as const),
      })),
    },
  ];
  const v = figures.verification;
  return {
    title: 'Bench: payments end to end',
    subtitle:
      'Processor API → ledger.commands → ledger → ledger.step-posted → processor → payments.status-changed, on the local stack; the ledger and the processor each in a Node process of their own, the load generator in this one.',
    verdict: {
      ok: v.ok && unmet.length === 0,
      text: `exactly-once ${v.ok ? 'verified' : 'FAILED'}; targets met: ${figures.targets.length - unmet.length} of ${figures.targets.length}${unmet.length === 0 ? '' : ` (not met: ${unmet.map((t) => `${t.name} ${t.target} ${t.unit} at ${t.at}`).join('; ')})`}`,
    },
    facts: [
      [
        'raw PostgreSQL ceiling (same posting rows)',
        `${formatNumber(figures.rawCeiling.stepsPerSecond)} steps/s`,
      ],
      [
        'end to end / raw ceiling',
        `${formatNumber((figures.rawCeiling.ratio ?? 0) * 100)} % (2 steps per payment)`,
      ],
      [
        'exactly-once',
        `${v.completedOnce}/${v.accepted} COMPLETED once; DEBIT ${v.debitTransactions}, CREDIT ${v.creditTransactions}; projection mismatches ${v.projectionMismatches}; clearing balance ${v.clearingBalanceMinor}`,
      ],
      ['cost basis', figures.cost?.basis ?? '–'],
    ],
    thresholds: null,
    tables: [
      {
        title: 'Targets (issue 17)',
        columns: ['target', 'goal', 'measured', 'judged at', 'verdict'],
        rows: figures.targets.map((t) => [
          t.name,
          `${t.target} ${t.unit}`,
          t.measured === null ? 'not measured' : `${formatNumber(t.measured)} ${t.unit}`,
          t.at,
          t.met ? 'met' : 'NOT met',
        ]),
      },
      {
        title: 'Steps',
        columns: [
          'target/s',
          'accepted/s',
          'completed/s',
          'API ms p50 / p95 / p99',
          'POST→COMPLETED ms p50 / p95 / p99',
          'lag max',
          'drain s',
          ...CPU_COLUMNS.map((col, i) => (i === 0 ? `CPU-ms/payment ${col.label}` : col.label)),
        ],
        rows: figures.steps.map((s) => [
          String(s.targetPerS),
          s.acceptedPerS,
          s.sustainedCompletedPerS,
          `${formatNumber(s.api.med)} / ${formatNumber(s.api.p95)} / ${formatNumber(s.api.p99)}`,
          `${formatNumber(s.endToEnd.med)} / ${formatNumber(s.endToEnd.p95)} / ${formatNumber(s.endToEnd.p99)}`,
          s.lagMax,
          s.drainS,
          ...CPU_COLUMNS.map((col) => s.cpuSecondsPer1000[col.role] ?? null),
        ]),
      },
      {
        title: `Cost per sustained payment/s (prices: load/pricing.json, configuration — not measured)`,
        columns: [
          'instance',
          'vCPU',
          `price/h`,
          'payments/s per instance',
          'per payment/s per month',
          'instances for 5,000/s',
        ],
        rows: (figures.cost?.rows ?? []).map((r) => [
          r.instance,
          String(r.vcpu),
          r.pricePerHour.toFixed(4),
          r.paymentsPerSecondPerInstance,
          r.costPerTpsMonth.toFixed(2),
          String(r.instancesFor5000Tps),
        ]),
      },
    ],
    charts,
    notes: [
      'Latencies run from the intended send time of the open-model schedule (no coordinated omission); end to end = intended POST time → COMPLETED event consumed by the bench.',
      'CPU-seconds come from /proc/<pid>/stat per process: processor and ledger = their own Node processes, generator = this process (the load generator and the completion watcher, not the platform), postgres = postmaster and all backends; total = the platform (every process but the generator).',
      'Cost figures multiply measured CPU by configured prices; they are not measured costs.',
    ],
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
