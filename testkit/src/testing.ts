// Test isolation on the real stack: every test file gets its own database and its own topic
// namespace (prefixed topics and subjects), so files run in parallel without seeing each
// other's events. Nothing here fakes Kafka, the registry or PostgreSQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { REPO_ROOT, platformEndpoints } from '@ledgerline/platform/config';
import { freeTestPort } from '@ledgerline/stack/test-ports';
import {
  databaseUrlVariable,
  deployDatabase,
  developmentPassword,
  loginRoles,
  passwordVariable,
  rolePasswordsFromEnv,
  type ServiceDatabase,
} from '@ledgerline/platform/deploy';
import { createPool, dropDatabase, ensureDatabase, type Pool } from '@ledgerline/platform/db';
import { createApiKey, migrateAuth, type ApiKeySpec } from '@ledgerline/platform/auth/api-keys';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import { createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import type { DecodedMessage, TopicConsumer } from '@ledgerline/platform/events/typed';
import {
  registryConnection,
  registryRequest,
  type RegistryMethod,
} from '@ledgerline/platform/transport-security';

export interface TestEnvironment {
  databaseUrl: string;
  /** Superuser URL of the same test database (for tampering and cleanup). */
  adminDatabaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  topicPrefix: string;
  /** Drops the database (topics stay: Kafka keeps them cheaply; the prefix is never reused). */
  cleanup(): Promise<void>;
}

export async function createTestEnvironment(
  name: string,
  topics: readonly AnyTopic[],
): Promise<TestEnvironment> {
  const endpoints = platformEndpoints();
  const suffix = randomBytes(4).toString('hex');
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 30);
  const database = `test_${slug.replace(/-/g, '_')}_${suffix}`;
  const topicPrefix = `t-${slug}-${suffix}.`;
  const databaseUrl = await ensureDatabase(endpoints.databaseUrl, database);
  const admin = createKafka(endpoints.kafkaBrokers, `test-${slug}`).admin();
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      topics.map((t) => prefixedTopic(t, topicPrefix)),
    );
  } finally {
    await admin.disconnect();
  }
  return {
    databaseUrl,
    adminDatabaseUrl: databaseUrl,
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix,
    cleanup: async () => {
      await dropDatabase(endpoints.databaseUrl, database);
      await deleteTestTopics(endpoints.kafkaBrokers, slug, topicPrefix);
    },
  };
}

/**
 * Deletes the test's topics (every topic under its prefix, also those its services created).
 * A long-lived development stack otherwise collects thousands of partitions, and a broker
 * with thousands of partitions takes minutes to start. Best effort: a test never fails here.
 */
async function deleteTestTopics(brokers: string[], slug: string, prefix: string): Promise<void> {
  const admin = createKafka(brokers, `test-${slug}-cleanup`).admin();
  try {
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
  } catch {
    // the broker is down or slow: the topics stay, which only costs disk
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The deploy step (the function `npm run migrate` runs) for a test database: the services' roles,
 * with the passwords the test setup gives them, and their migrations.
 */
export async function deployTestDatabase(
  env: TestEnvironment,
  services: readonly ServiceDatabase[],
): Promise<void> {
  await deployDatabase(env.adminDatabaseUrl, services, rolePasswordsFromEnv(process.env, services));
}

/** What a service under test connects with: its own role's URL into the test database. */
export function testRoleUrl(env: TestEnvironment, role: string): string {
  const url = new URL(env.adminDatabaseUrl);
  url.username = role;
  url.password = process.env[passwordVariable(role)] || developmentPassword(role);
  return url.toString();
}

/**
 * Creates an API key in a test database, the way an operator would (`npx ledgerline keys
 * create`), and answers its secret: tests call the APIs with credentials like any client.
 */
export async function createTestApiKey(
  databaseUrl: string,
  spec: Pick<ApiKeySpec, 'scopes'> & Partial<ApiKeySpec>,
): Promise<string> {
  const pool = createPool(databaseUrl, { max: 1, applicationName: 'test-api-key' });
  try {
    await migrateAuth(pool, []);
    const created = await createApiKey(pool, { name: `test-${randomUUID()}`, ...spec });
    return created.secret;
  } finally {
    await pool.end();
  }
}

/**
 * A service's /metrics text, read as a scraper reads it: with a credential that carries
 * metrics:read (every caller needs one, loopback included). Anything but 200 throws.
 */
export async function scrapeMetrics(serviceUrl: string, credential: string): Promise<string> {
  const answer = await fetch(`${serviceUrl}/metrics`, {
    headers: { authorization: `Bearer ${credential}` },
  });
  if (answer.status !== 200) {
    throw new Error(`${serviceUrl}/metrics answered ${answer.status}: ${await answer.text()}`);
  }
  return answer.text();
}

/**
 * Reads one topic from the beginning with a fresh consumer group (read_committed), decoding
 * every record with the generated consumer; notes when each record arrived, and keeps the
 * raw Kafka message beside it.
 */
export class TopicReader<T extends AnyTopic> {
  readonly records: DecodedMessage<T>[] = [];
  /** The undecoded Kafka messages, same index as `records`. */
  readonly raw: KafkaMessage[] = [];
  /** Date.now() when each record (same index as `records`) was decoded. */
  readonly arrivedAtMs: number[] = [];
  private readonly errors: unknown[] = [];
  private readonly consumer: Consumer;
  private listener: ((record: DecodedMessage<T>, arrivedAtMs: number) => void) | undefined;

  private constructor(
    brokers: readonly string[],
    private readonly decoder: TopicConsumer<T>,
  ) {
    this.consumer = createKafka([...brokers], `test-reader-${randomUUID()}`).consumer({
      groupId: `test-reader-${randomUUID()}`,
      readUncommitted: false,
      maxWaitTimeInMs: 20,
    });
  }

  static async start<T extends AnyTopic>(
    brokers: readonly string[],
    decoder: TopicConsumer<T>,
    onRecord?: (record: DecodedMessage<T>, arrivedAtMs: number) => void,
  ): Promise<TopicReader<T>> {
    const reader = new TopicReader(brokers, decoder);
    reader.listener = onRecord;
    await reader.consumer.connect();
    await reader.consumer.subscribe({ topic: decoder.topic.name, fromBeginning: true });
    await reader.consumer.run({
      // A group of its own that nothing resumes: committing offsets would only hold each fetch
      // back by the group coordinator's answer (5–10 ms), which the arrival times would include.
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const arrivedAtMs = Date.now();
        try {
          const record = await reader.decoder.decodeFetched(partition, message);
          reader.raw.push(message);
          reader.records.push(record);
          reader.arrivedAtMs.push(arrivedAtMs);
          reader.listener?.(record, arrivedAtMs);
        } catch (error) {
          reader.errors.push(error);
        }
      },
    });
    return reader;
  }

  /**
   * Waits until `done` holds for the records read so far. A decoding error fails it, unless
   * the topic holds undecodable messages on purpose (a test that put poison on it).
   */
  async waitFor(
    done: (records: readonly DecodedMessage<T>[]) => boolean,
    timeoutMs = 30_000,
    options: { readonly skipUndecodable?: boolean } = {},
  ): Promise<DecodedMessage<T>[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.records)) {
      if (this.errors.length > 0 && options.skipUndecodable !== true) throw this.errors[0];
      if (Date.now() > deadline) {
        throw new Error(`${this.decoder.topic.name}: condition not met after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return [...this.records];
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/**
 * One request to the registry's REST API, as the platform sends it (asked again when the
 * registry leaves it unanswered); the answer's body parsed as JSON when there is one.
 */
export async function askRegistry(
  registryUrl: string,
  method: RegistryMethod,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const answer = await registryRequest(registryConnection(registryUrl, process.env), method, path, {
    body,
    timeoutMs: 10_000,
  });
  return { status: answer.status, json: answer.text === '' ? undefined : JSON.parse(answer.text) };
}

/**
 * Runs a teardown step within `ms`: undefined once it has finished, otherwise why not (late, or
 * its error), so that one that hangs is named and the steps after it still run. Once the bound
 * expires the step gets a further quarter second: after the host stalls (a busy neighbour),
 * Node runs the expired timer before the I/O that finished the step.
 */
export async function boundedStep(
  what: string,
  ms: number,
  step: () => Promise<unknown> | undefined,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => {
      timer = setTimeout(() => resolve('late'), STALL_GRACE_MS);
    }, ms);
  });
  try {
    const outcome = await Promise.race([Promise.resolve(step()).then(() => 'done' as const), late]);
    return outcome === 'late' ? `${what} did not finish within ${ms} ms` : undefined;
  } catch (error) {
    return `${what} failed: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** How long an expired bound still waits for I/O that a stall held up. */
const STALL_GRACE_MS = 250;

/** Polls `check` until it returns a value; fails naming `what` after `timeoutMs` (bounded). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A loopback port nobody listens on right now, for a service a test or a bench spawns and which
 * binds it seconds later: below the ephemeral range, so no outgoing connection takes it meanwhile
 * (stack/src/test-ports.ts).
 */
export async function freePort(): Promise<number> {
  return freeTestPort(portsHandedOut);
}

/** Ports this process handed out: two services it spawns never get the same one. */
const portsHandedOut = new Set<number>();

// ---------------------------------------------------------------------------------------------
// Services as processes (benchmarks)

const READY_WAIT_MS_MAX = 60_000;
const STOP_WAIT_MS_MAX = 35_000;

export interface ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Resolves once /readyz answers; rejects (and stops the process) when it does not. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `${url}: the service exited (${child.exitCode}) during start-up; see ${logFile}`,
      );
    }
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} was not ready within ${READY_WAIT_MS_MAX / 1000} s; see ${logFile}`);
}

let profiledServices = 0;

/**
 * SERVICE_CPU_PROFILE_DIR=<dir>: each spawned service writes V8 .cpuprofiles of its whole life
 * into <dir>/<service>-<n>/ when it stops (node --cpu-prof; NODE_OPTIONS may not carry it).
 */
function cpuProfileArguments(name: string): string[] {
  const dir = process.env['SERVICE_CPU_PROFILE_DIR'];
  if (dir === undefined || dir === '') return [];
  profiledServices += 1;
  // One directory per service: node writes a profile per thread (tsx's loader has one).
  return ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, `${name}-${profiledServices}`)}`];
}

/**
 * What a service process is given to reach its database, as a deployment gives it: the URL of
 * each of its LOGIN roles (`<ROLE>_DATABASE_URL`) into the test database, and no admin
 * `DATABASE_URL` (removed from the inherited environment).
 */
export function serviceDatabaseEnvironment(
  database: ServiceDatabase,
  env: TestEnvironment,
  inherited: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const { DATABASE_URL: _admin, ...rest } = inherited;
  const roleUrls = loginRoles([database]).map((role) => [
    databaseUrlVariable(role),
    testRoleUrl(env, role),
  ]);
  return { ...rest, ...Object.fromEntries(roleUrls) };
}

/**
 * Starts `services/<service>/src/main.ts` as its own OS process (what a deployment runs, and
 * what lets /proc attribute CPU to it) on a free loopback port, with its roles' URLs into the
 * environment's database (deploy it first: deployTestDatabase), the brokers, registry and topic
 * prefix; resolves once it is spawned (await `ready` for /readyz). `settings` come last and win.
 * Logs at warn (per-payment info lines would be part of what a benchmark measures) go to
 * `logFile`.
 */
export async function spawnService(
  database: ServiceDatabase,
  env: TestEnvironment,
  logFile: string,
  settings: Record<string, string> = {},
): Promise<ServiceProcess> {
  const name = database.service;
  const port = await freePort();
  await mkdir(path.dirname(logFile), { recursive: true });
  const child = spawn(
    process.execPath,
    [
      '--max-semi-space-size=64',
      ...cpuProfileArguments(name),
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'services', name, 'src', 'main.ts'),
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...serviceDatabaseEnvironment(database, env),
        LEDGERLINE_ENV: 'development',
        LOG_LEVEL: 'warn',
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
        LEDGERLINE_TOPIC_PREFIX: env.topicPrefix,
        [`${name.toUpperCase()}_PORT`]: String(port),
        ...settings,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WAIT_MS_MAX);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const ready = waitReady(url, child, logFile).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  // Unobserved until a caller awaits it; the failure is never lost, only not yet reported.
  ready.catch(() => undefined);
  return { name, url, pid: child.pid ?? 0, ready, stop };
}

/**
 * A deployed per-test database (no topics) and one owner connection to it: for tests that change
 * the schema under a store, as a migration would, and then read through the store.
 */
export async function ownerDatabase(
  name: string,
  services: readonly ServiceDatabase[],
): Promise<{ env: TestEnvironment; owner: Pool; close(): Promise<void> }> {
  const env = await createTestEnvironment(name, []);
  await deployTestDatabase(env, services);
  const owner = createPool(env.adminDatabaseUrl, { max: 1 });
  return {
    env,
    owner,
    close: async () => {
      await owner.end();
      await env.cleanup();
    },
  };
}
