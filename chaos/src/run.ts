// One chaos run: the suite's own stack, the deploy step, the four services as processes, a
// steady payment load, and for each scenario its faults at the seed's instants; after each
// scenario the platform is drained and every invariant is checked. The control flow lives here;
// what a fault does, what the load sends and what the checks prove live in their own modules.
import path from 'node:path';
import pg from 'pg';
import type { Kafka } from 'kafkajs';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { rolePasswordsFromEnv, deployDatabase } from '@ledgerline/platform/deploy';
import { createApiKey } from '@ledgerline/platform/auth/api-keys';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import {
  allTopics,
  ledgerCommandsTopic,
  ledgerStepPostedTopic,
} from '@ledgerline/generated/topics';
import { loadContracts } from '@ledgerline/codegen/generate';
import { registerContracts } from '@ledgerline/codegen/register';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import { SERVICE_DATABASES } from '../../scripts/databases.js';
import { apiScopes } from '@ledgerline/generated/openapi/contracts';
import { checkInvariants, type Verdict } from './checks.js';
import {
  consumedTopics,
  duplicateSlice,
  injectPoison,
  type DuplicatedSlice,
  type InjectedPoison,
} from './injections.js';
import { openAccounts, PaymentLoad, type LoadCounts } from './load.js';
import { createRandom } from './random.js';
import {
  planScenario,
  SERVICES,
  type FaultKind,
  type PlannedFault,
  type ScenarioName,
  type ServiceName,
} from './schedule.js';
import { ServiceSupervisor, type ServiceInstance } from './services.js';
import { ChaosStack } from './stack.js';

export interface ChaosOptions {
  readonly seed: number;
  readonly scenarios: readonly ScenarioName[];
  /** Load time of the whole run, shared equally by the scenarios. */
  readonly durationMs: number;
  readonly ratePerS: number;
  /** Short variant (npm test): one fault of each kind, short holds. */
  readonly short: boolean;
  readonly registryOutageMs: number;
  readonly log: (line: string) => void;
}

export interface FaultRecord {
  scenario: ScenarioName;
  kind: FaultKind;
  target: string | null;
  plannedAtMs: number;
  /** Since the start of the run's first load. */
  injectedAtS: number;
  healedAtS: number | null;
  /** Heal until every /readyz is 200 and the consumers caught up; null if that never came. */
  recoveryMs: number | null;
  detail: string;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  ok: boolean;
  faults: FaultRecord[];
  verdict: Verdict;
  load: LoadCounts & { completed: number };
  durationMs: number;
}

export interface ChaosResult {
  seed: number;
  ok: boolean;
  options: Omit<ChaosOptions, 'log'>;
  scenarios: ScenarioResult[];
  startedAt: string;
  finishedAt: string;
  acceptedPerSecond: number[];
}

/** A consumer session timeout (the platform's ExactlyOnceConsumer default). */
export const SESSION_TIMEOUT_MS = 10_000;
const RECOVERY_WAIT_MS_MAX = 240_000;
/** A scenario's load never runs longer than this, whatever the recoveries take. */
const LOAD_MS_MAX = 3_600_000;
/** Load after the last recovery, as a share of the planned load window. */
const QUIET_TAIL_FRACTION = 0.1;
const QUIESCE_WAIT_MS_MAX = 300_000;
const SAMPLE_MS = 250;
/** Messages one payment causes on the consumed topics, roughly: the lag of a second of load. */
const MESSAGES_PER_PAYMENT = 8;
const FUNDED_ACCOUNTS = 20;

const SCHEMA_OF: Record<ServiceName, string> = {
  ledger: 'ledger',
  processor: 'processor',
  reconciliation: 'reconciliation',
  audit: 'audit',
};

/** One consumer group's partition behind its high watermark. */
interface PartitionLag {
  service: ServiceName;
  partition: string;
  lag: number;
}

/** Every consumer group's partitions behind the high watermark; null while Kafka or PostgreSQL is down. */
async function lagging(kafka: Kafka, owner: pg.Pool): Promise<PartitionLag[] | null> {
  try {
    const admin = kafka.admin();
    await admin.connect();
    const highs = new Map<string, number>();
    try {
      for (const topic of consumedTopics()) {
        for (const o of await admin.fetchTopicOffsets(topic.name)) {
          highs.set(`${topic.name}:${o.partition}`, Number(o.high));
        }
      }
    } finally {
      await admin.disconnect();
    }
    const behind: PartitionLag[] = [];
    for (const service of SERVICES) {
      const { rows } = await owner.query<{ topic: string; partition: number; next_offset: string }>(
        `SELECT topic, partition, next_offset::text FROM ${SCHEMA_OF[service]}.consumer_positions WHERE group_id = $1`,
        [service],
      );
      const positions = new Map(
        rows.map((r) => [`${r.topic}:${r.partition}`, Number(r.next_offset)]),
      );
      for (const topic of consumedTopics()) {
        if (!topic.consumers.includes(service)) continue;
        for (const [key, high] of highs) {
          if (!key.startsWith(`${topic.name}:`)) continue;
          const lag = high - (positions.get(key) ?? 0);
          if (lag > 0) behind.push({ service, partition: key, lag });
        }
      }
    }
    return behind;
  } catch {
    return null;
  }
}

/** Messages behind the high watermark, summed over every consumer group and partition. */
async function platformLag(kafka: Kafka, owner: pg.Pool): Promise<number | null> {
  const behind = await lagging(kafka, owner);
  return behind === null ? null : behind.reduce((sum, b) => sum + b.lag, 0);
}

/** Rows waiting in each service's outbox; null while PostgreSQL is down. */
async function outboxRows(owner: pg.Pool): Promise<Map<ServiceName, number> | null> {
  try {
    const rows = new Map<ServiceName, number>();
    for (const service of SERVICES) {
      const result = await owner.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${SCHEMA_OF[service]}.outbox`,
      );
      rows.set(service, result.rows[0]?.n ?? 0);
    }
    return rows;
  } catch {
    return null;
  }
}

async function outboxBacklog(owner: pg.Pool): Promise<number | null> {
  const rows = await outboxRows(owner);
  return rows === null ? null : [...rows.values()].reduce((sum, n) => sum + n, 0);
}

/** What keeps the platform from draining, in words: for the log of a run that did not. */
async function drainBlockers(p: Platform): Promise<string> {
  const [notReady, behind, outboxes] = await Promise.all([
    p.supervisor.notReady(),
    lagging(p.kafka, p.owner),
    outboxRows(p.owner),
  ]);
  const lines = [
    ...notReady.map((n) => `not ready: ${n}`),
    ...(behind === null
      ? ['lag: Kafka or PostgreSQL does not answer']
      : [...behind]
          .sort((a, b) => b.lag - a.lag)
          .slice(0, 12)
          .map((b) => `lag: ${b.service} ${b.partition} ${b.lag} behind`)),
    ...(behind !== null && behind.length > 12
      ? [`(${behind.length - 12} more partitions lag)`]
      : []),
    ...(outboxes === null
      ? ['outboxes: PostgreSQL does not answer']
      : [...outboxes].filter(([, n]) => n > 0).map(([s, n]) => `outbox: ${s} holds ${n}`)),
  ];
  return lines.length === 0 ? 'nothing (it drained just now)' : lines.join('; ');
}

/** What stops the run in progress (services, then the suite's stack): for Ctrl-C. */
let stopActive: (() => Promise<void>) | null = null;

interface Platform {
  stack: ChaosStack;
  supervisor: ServiceSupervisor;
  owner: pg.Pool;
  kafka: Kafka;
  serde: EventSerde;
  credential: string;
  load: PaymentLoad;
}

async function startPlatform(options: ChaosOptions, logDir: string): Promise<Platform> {
  const { log } = options;
  log('starting the chaos stack (its own Kafka, registry and PostgreSQL) ...');
  const stack = await ChaosStack.start(log);
  let started: ServiceSupervisor | undefined;
  // Ctrl-C from here on stops what was started so far (services, then the stack).
  stopActive = async () => {
    await started?.stopAll();
    await stack.remove();
  };
  try {
    const { kafkaBrokers, schemaRegistryUrl, databaseUrl } = stack.endpoints;
    // The deploy steps, as for a release: schemas with their modes, topics, roles and schemas.
    await registerContracts(
      await loadContracts(path.join(REPO_ROOT, 'contracts')),
      schemaRegistryUrl,
    );
    const kafka = createKafka(kafkaBrokers, 'chaos-suite');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, allTopics);
    } finally {
      await admin.disconnect();
    }
    await deployDatabase(
      databaseUrl,
      SERVICE_DATABASES,
      rolePasswordsFromEnv({ LEDGERLINE_ENV: 'development' }, SERVICE_DATABASES),
    );
    const owner = new pg.Pool({
      connectionString: databaseUrl,
      max: 4,
      application_name: 'chaos-suite',
    });
    // An idle client whose server restarts (the PostgreSQL fault) emits 'error': expected here.
    owner.on('error', () => undefined);
    const key = await createApiKey(owner, {
      name: 'chaos suite',
      scopes: [...apiScopes],
      lifetimeDays: 1,
    });
    const databases = Object.fromEntries(SERVICE_DATABASES.map((d) => [d.service, d])) as Record<
      ServiceName,
      (typeof SERVICE_DATABASES)[number]
    >;
    const supervisor = new ServiceSupervisor(stack, databases, logDir);
    started = supervisor;
    log('starting ledger, processor, reconciliation and audit as processes ...');
    for (const service of SERVICES) await supervisor.start(service);
    const serde = new EventSerde({ registryUrl: schemaRegistryUrl, autoRegister: false });
    log(`opening and funding ${FUNDED_ACCOUNTS} accounts (plus an unfunded and a frozen one) ...`);
    const accounts = await openAccounts(supervisor.url('ledger'), key.secret, FUNDED_ACCOUNTS);
    const load = new PaymentLoad(
      { processor: () => supervisor.serving('processor') },
      key.secret,
      accounts,
      createRandom(options.seed).fork('load'),
    );
    return { stack, supervisor, owner, kafka, serde, credential: key.secret, load };
  } catch (error) {
    stopActive = null;
    await started?.stopAll();
    await stack.remove();
    throw error;
  }
}

export async function stopActiveRun(): Promise<void> {
  await ChaosStack.abortStarting();
  await stopActive?.();
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const startedAt = new Date().toISOString();
  const logDir = path.join(REPO_ROOT, 'reports', `chaos-logs-${options.seed}`);
  const platform = await startPlatform(options, logDir);
  const { supervisor, owner, kafka, stack, load, log } = { ...platform, log: options.log };
  const poison: InjectedPoison[] = [];
  const results: ScenarioResult[] = [];
  const suiteStartedAtMs = Date.now();
  const loadMs = Math.max(1_000, Math.round(options.durationMs / options.scenarios.length));
  const lagCaughtUpMax = Math.max(10, Math.ceil(options.ratePerS * MESSAGES_PER_PAYMENT));
  let replayCount = 0;
  const sinceStartS = (): number => Math.round((Date.now() - suiteStartedAtMs) / 100) / 10;

  const recovered = async (fromMs: number, lagMax: number): Promise<number | null> => {
    while (Date.now() - fromMs < RECOVERY_WAIT_MS_MAX) {
      const [ready, lag] = await Promise.all([supervisor.allReady(), platformLag(kafka, owner)]);
      if (ready && lag !== null && lag <= lagMax) return Date.now() - fromMs;
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    return null;
  };

  try {
    for (const scenario of options.scenarios) {
      const plan = planScenario(scenario, options.seed, {
        loadMs,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        registryOutageMs: options.registryOutageMs,
        short: options.short,
      });
      log(
        `scenario ${scenario}: ${plan.length} fault(s) over ${Math.round(loadMs / 1000)} s of load at ${options.ratePerS}/s (seed ${options.seed})`,
      );
      const before = { ...load.counts };
      const scenarioStartMs = Date.now();
      // The load runs at least loadMs and until the last fault has recovered, plus a quiet tail:
      // every fault meets the load, however slowly the platform recovers.
      const stopLoad = new AbortController();
      const loadRun = load.run(options.ratePerS, LOAD_MS_MAX, stopLoad.signal);
      const faults: FaultRecord[] = [];
      const recoveries: Promise<void>[] = [];
      const zombies: ServiceInstance[] = [];
      const random = createRandom(options.seed).fork(`${scenario}-injections`);
      for (const fault of plan) {
        // Full runs: one fault at a time, so each recovery time is that fault's alone (the
        // planned instant, or later when the previous fault took longer to recover). The short
        // variant keeps the planned instants: overlapping faults, seconds of load.
        if (!options.short) await Promise.all(recoveries);
        const waitMs = scenarioStartMs + fault.atMs - Date.now();
        if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
        const record: FaultRecord = {
          scenario,
          kind: fault.kind,
          target: fault.target,
          plannedAtMs: fault.atMs,
          injectedAtS: sinceStartS(),
          healedAtS: null,
          recoveryMs: null,
          detail: '',
        };
        faults.push(record);
        log(`  t+${record.injectedAtS}s ${fault.kind}${fault.target ? ` ${fault.target}` : ''}`);
        const healedAtMs = await inject(fault, record, platform, random, poison, zombies);
        record.healedAtS = sinceStartS();
        recoveries.push(
          recovered(healedAtMs, lagCaughtUpMax).then((ms) => {
            record.recoveryMs = ms;
            log(
              `  ${fault.kind}${fault.target ? ` ${fault.target}` : ''}: recovered ${ms === null ? 'NEVER' : `in ${(ms / 1000).toFixed(1)} s`}`,
            );
          }),
        );
      }
      await Promise.all(recoveries);
      const tailMs = Math.max(0, scenarioStartMs + loadMs - Date.now());
      await new Promise((r) => setTimeout(r, Math.max(tailMs, loadMs * QUIET_TAIL_FRACTION)));
      stopLoad.abort();
      await loadRun;
      // A woken zombie leaves as it would be retired: gracefully, its replacement stays.
      for (const zombie of zombies) await supervisor.stop(zombie);
      await load.resolveUnknown();
      log(`  load done; draining (lag 0, outboxes empty, every service ready) ...`);
      const drainedMs = await quiesce(platform);
      if (drainedMs === null) {
        log(`  the platform did not drain: ${await drainBlockers(platform)}; checking anyway`);
      }
      const verdict = await checkInvariants({
        owner,
        adminDatabaseUrl: stack.endpoints.databaseUrl,
        kafka,
        serde: platform.serde,
        registryUrl: stack.endpoints.schemaRegistryUrl,
        kafkaBrokers: stack.endpoints.kafkaBrokers,
        credential: platform.credential,
        load,
        poison,
        ledgerUrl: supervisor.url('ledger'),
        auditUrl: supervisor.url('audit'),
        reconciliationUrl: supervisor.url('reconciliation'),
        suiteStartedAtMs,
        replayCount: replayCount,
      });
      replayCount += 1;
      const unresolved = load.counts.unresolved;
      if (unresolved > 0) {
        verdict.checks.push({
          name: 'every write got a definite answer',
          ok: false,
          detail: `${unresolved} writes unanswered`,
        });
      }
      const never = faults.filter((f) => f.recoveryMs === null);
      if (never.length > 0) {
        verdict.checks.push({
          name: 'the platform recovered from every fault',
          ok: false,
          detail: never.map((f) => `${f.kind} ${f.target ?? ''} at t+${f.injectedAtS}s`).join(', '),
        });
      }
      const ok = verdict.checks.every((c) => c.ok);
      for (const c of verdict.checks) log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
      results.push({
        scenario,
        ok,
        faults,
        verdict,
        load: { ...delta(load.counts, before), completed: await completed(owner, load) },
        durationMs: Date.now() - scenarioStartMs,
      });
    }
  } finally {
    stopActive = null;
    await supervisor.stopAll();
    await owner.end().catch(() => undefined);
    await stack.remove();
  }
  return {
    seed: options.seed,
    ok: results.every((r) => r.ok),
    options: {
      seed: options.seed,
      scenarios: options.scenarios,
      durationMs: options.durationMs,
      ratePerS: options.ratePerS,
      short: options.short,
      registryOutageMs: options.registryOutageMs,
    },
    scenarios: results,
    startedAt,
    finishedAt: new Date().toISOString(),
    acceptedPerSecond: load.acceptedPerSecond,
  };

  async function quiesce(p: Platform): Promise<number | null> {
    const from = Date.now();
    let stableSince: number | null = null;
    while (Date.now() - from < QUIESCE_WAIT_MS_MAX) {
      const [ready, lag, backlog] = await Promise.all([
        p.supervisor.allReady(),
        platformLag(p.kafka, p.owner),
        outboxBacklog(p.owner),
      ]);
      const still = ready && lag === 0 && backlog === 0;
      if (still) {
        stableSince ??= Date.now();
        // Two seconds without a message in flight: nothing is on its way any more.
        if (Date.now() - stableSince >= 2_000) return Date.now() - from;
      } else {
        stableSince = null;
      }
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    return null;
  }
}

function delta(after: LoadCounts, before: LoadCounts): LoadCounts {
  return {
    offered: after.offered - before.offered,
    dropped: after.dropped - before.dropped,
    paymentsAccepted: after.paymentsAccepted - before.paymentsAccepted,
    refundsAccepted: after.refundsAccepted - before.refundsAccepted,
    refused: after.refused - before.refused,
    retried: after.retried - before.retried,
    unresolved: after.unresolved,
  };
}

async function completed(owner: pg.Pool, load: PaymentLoad): Promise<number> {
  const { rows } = await owner.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM processor.payments
      WHERE id = ANY($1::uuid[]) AND state IN ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')`,
    [[...load.accepted.keys()]],
  );
  return rows[0]?.n ?? 0;
}

/** Injects one fault, holds it, heals it; answers the instant it was healed (Date.now()). */
async function inject(
  fault: PlannedFault,
  record: FaultRecord,
  platform: Platform,
  random: ReturnType<typeof createRandom>,
  poison: InjectedPoison[],
  zombies: ServiceInstance[],
): Promise<number> {
  const { supervisor, stack } = platform;
  const hold = (): Promise<void> => new Promise((r) => setTimeout(r, fault.holdMs));
  switch (fault.kind) {
    case 'kill-service': {
      const target = fault.target as ServiceName;
      const victim = supervisor.live(target).at(-1);
      if (victim === undefined) throw new Error(`no live ${target} to kill`);
      await supervisor.kill(victim);
      record.detail = `SIGKILL ${victim.id} (pid ${victim.pid}), restarted after ${fault.holdMs} ms`;
      await hold();
      await supervisor.start(target, false);
      return Date.now();
    }
    case 'pause-consumer': {
      const target = fault.target as ServiceName;
      const victim = supervisor.live(target).at(-1);
      if (victim === undefined) throw new Error(`no live ${target} to pause`);
      supervisor.pause(victim);
      // The orchestrator's answer to a dead liveness probe: a replacement joins the group.
      const replacement = await supervisor.start(target, false);
      await hold();
      supervisor.resume(victim);
      zombies.push(victim);
      record.detail = `SIGSTOP ${victim.id} for ${fault.holdMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms), ${replacement.id} took over, then SIGCONT`;
      return Date.now();
    }
    case 'kill-kafka':
      await stack.killKafka();
      await hold();
      await stack.heal();
      record.detail = `broker SIGKILL, restarted after ${fault.holdMs} ms`;
      return Date.now();
    case 'restart-postgres':
      await stack.crashPostgres();
      await hold();
      await stack.heal();
      record.detail = `immediate shutdown, restarted after ${fault.holdMs} ms`;
      return Date.now();
    case 'stop-registry':
      await stack.stopRegistry();
      await hold();
      await stack.heal();
      record.detail = `registry down for ${fault.holdMs} ms`;
      return Date.now();
    case 'duplicate-delivery': {
      const producer = platform.kafka.producer({
        idempotent: false,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      try {
        const slices: DuplicatedSlice[] = [];
        for (const topic of [ledgerCommandsTopic, ledgerStepPostedTopic] as AnyTopic[]) {
          const slice = await duplicateSlice(platform.kafka, producer, topic, random);
          if (slice) slices.push(slice);
        }
        record.detail = slices
          .map((s) => `${s.count} of ${s.topic}[${s.partition}] from ${s.fromOffset}`)
          .join('; ');
      } finally {
        await producer.disconnect();
      }
      return Date.now();
    }
    case 'poison-messages': {
      const producer = platform.kafka.producer({
        idempotent: false,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      try {
        const injected = await injectPoison(
          producer,
          platform.serde,
          stack.endpoints.schemaRegistryUrl,
        );
        poison.push(...injected);
        record.detail = `${injected.length} poison messages (4 kinds x ${injected.length / 4} topics)`;
      } finally {
        await producer.disconnect();
      }
      return Date.now();
    }
  }
}
