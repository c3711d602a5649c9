// The local stack: PostgreSQL, Kafka (KRaft) and Apicurio Registry (Confluent API), started as
// detached processes under one home directory, or replaced one by one by the endpoints in
// DATABASE_URL, KAFKA_BROKERS and SCHEMA_REGISTRY_URL.
import { mkdir, writeFile } from 'node:fs/promises';
import { StackError } from './errors.js';
import {
  kafkaAnswers,
  kafkaPid,
  localKafkaBrokers,
  planKafka,
  prepareKafka,
  startKafka,
  stopKafka,
} from './kafka.js';
import {
  LOOPBACK_HOST,
  POSTGRES_PASSWORD,
  POSTGRES_USER,
  REGISTRY_DATABASE,
  homeMarker,
  resolveStackConfig,
  type ComponentName,
  type StackConfig,
} from './paths.js';
import {
  ensureDatabasesAt,
  localDatabaseUrl,
  planPostgres,
  postgresPid,
  postgresPlacement,
  startPostgres,
  stopPostgres,
  type ServerLogin,
} from './postgres.js';
import {
  isPortOpen,
  removeFile,
  stackProcesses,
  stopProcessTree,
  withFileLock,
} from './process.js';
import {
  localRegistryUrl,
  planRegistry,
  prepareRegistry,
  registryAnswers,
  registryPid,
  startRegistry,
  stopRegistry,
} from './registry.js';

export { StackError } from './errors.js';
export { resolveStackConfig, type ComponentName, type StackConfig } from './paths.js';

export interface StackEndpoints {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  databaseUrl: string;
}

export interface StackOptions {
  /** Environment to read LEDGERLINE_* and endpoint overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines ("kafka: started pid 123"); silent by default. */
  log?: (message: string) => void;
}

export interface StartedStack extends StackEndpoints {
  home: string;
  /** Components this call launched; empty when the stack was already up (idempotent start). */
  startedComponents: ComponentName[];
}

export type ComponentState = 'running' | 'unhealthy' | 'stopped' | 'external';

export interface ComponentStatus {
  name: ComponentName;
  state: ComponentState;
  endpoint: string;
  pid?: number;
  logFile?: string;
}

export interface StackStatus {
  home: string;
  /** Every component either runs locally and answers, or is external. */
  up: boolean;
  components: ComponentStatus[];
  endpoints: StackEndpoints;
}

// A cold start downloads jars (minutes); a waiting launcher must outlast it.
const LOCK_WAIT_MS = 15 * 60_000;

/** Where clients connect: the override from the environment, else the local component. */
export function stackEndpoints(env: NodeJS.ProcessEnv = process.env): StackEndpoints {
  return endpointsOf(resolveStackConfig(env));
}

function endpointsOf(config: StackConfig): StackEndpoints {
  return {
    kafkaBrokers: config.external.kafkaBrokers ?? localKafkaBrokers(config),
    schemaRegistryUrl: config.external.schemaRegistryUrl ?? localRegistryUrl(config),
    databaseUrl: config.external.databaseUrl ?? localDatabaseUrl(config),
  };
}

function localComponents(config: StackConfig): Record<ComponentName, boolean> {
  return {
    postgres: config.external.databaseUrl === undefined,
    kafka: config.external.kafkaBrokers === undefined,
    registry: config.external.schemaRegistryUrl === undefined,
  };
}

// Calls within one process queue here; across processes the lock file serialises them.
let queue: Promise<unknown> = Promise.resolve();

function serialised<T>(config: StackConfig, fn: () => Promise<T>): Promise<T> {
  const run = queue.then(() => withFileLock(config.lockFile, LOCK_WAIT_MS, fn));
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Starts whatever local component is not running yet and returns once all answer. Safe to
 * call again: a running stack is left as it is and its endpoints are returned.
 */
export async function startStack(options: StackOptions = {}): Promise<StartedStack> {
  const config = resolveStackConfig(options.env ?? process.env);
  const log = options.log ?? (() => undefined);
  return serialised(config, async () => {
    const local = localComponents(config);
    // Every prerequisite is checked before anything starts, so a missing one changes nothing.
    const [postgresPlan, kafkaPlan, registryPlan] = await Promise.all([
      local.postgres ? planPostgres(config) : undefined,
      local.kafka ? planKafka(config) : undefined,
      local.registry ? planRegistry(config) : undefined,
    ]);
    for (const dir of Object.values(config.dirs)) await mkdir(dir, { recursive: true });

    const started: ComponentName[] = [];
    const t0Ms = Date.now();
    const note = (name: ComponentName, result: { started: boolean }): void => {
      if (result.started) started.push(name);
      log(`${name}: ready at +${((Date.now() - t0Ms) / 1000).toFixed(1)} s`);
    };
    // Postgres first (the registry stores its schemas there); downloads and the Kafka format
    // run meanwhile. Then Kafka and the registry in parallel.
    await settleAll([
      postgresPlan
        ? startPostgres(config, postgresPlan, log).then((result) => note('postgres', result))
        : undefined,
      kafkaPlan ? prepareKafka(config, kafkaPlan, log) : undefined,
      registryPlan ? prepareRegistry(config, registryPlan, log) : undefined,
    ]);
    await settleAll([
      kafkaPlan
        ? startKafka(config, kafkaPlan, log).then((result) => note('kafka', result))
        : undefined,
      registryPlan
        ? registryStorage(config).then((storage) =>
            startRegistry(config, registryPlan, storage, log).then((result) =>
              note('registry', result),
            ),
          )
        : undefined,
    ]);

    const endpoints = endpointsOf(config);
    await writeFile(config.endpointsFile, `${JSON.stringify(endpoints, null, 2)}\n`);
    const startOrder: ComponentName[] = ['postgres', 'kafka', 'registry'];
    return {
      ...endpoints,
      home: config.home,
      startedComponents: startOrder.filter((name) => started.includes(name)),
    };
  });
}

/** Awaits every step (none is abandoned half-way), then fails with the first failure. */
async function settleAll(steps: (Promise<unknown> | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
}

/** The registry's database: on the local server, or next to the external DATABASE_URL. */
async function registryStorage(config: StackConfig): Promise<ServerLogin & { database: string }> {
  if (config.external.databaseUrl === undefined) {
    return {
      host: LOOPBACK_HOST,
      port: config.ports.postgres,
      user: POSTGRES_USER,
      password: POSTGRES_PASSWORD,
      database: REGISTRY_DATABASE,
    };
  }
  const url = new URL(config.external.databaseUrl);
  const login: ServerLogin = {
    host: url.hostname,
    port: url.port === '' ? 5432 : Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
  try {
    await ensureDatabasesAt(login, [REGISTRY_DATABASE]);
  } catch (error) {
    throw new StackError(
      `the local registry stores its schemas in database "${REGISTRY_DATABASE}" on the ` +
        `DATABASE_URL server, which could not be prepared: ${(error as Error).message}`,
    );
  }
  return { ...login, database: REGISTRY_DATABASE };
}

export interface StoppedStack {
  home: string;
  stoppedComponents: ComponentName[];
  /** Processes of this home found without a pid file and stopped as well. */
  strayPids: number[];
}

/** Strings that the command line of every process of this home's stack contains. */
export function stackProcessMarkers(env: NodeJS.ProcessEnv = process.env): string[] {
  const config = resolveStackConfig(env);
  return [homeMarker(config), `${postgresPlacement(config).dir}/`];
}

/** Stops the local components (registry and Kafka, then Postgres); leaves no process behind. */
export async function stopStack(options: StackOptions = {}): Promise<StoppedStack> {
  const config = resolveStackConfig(options.env ?? process.env);
  const log = options.log ?? (() => undefined);
  return serialised(config, async () => {
    const stopped: ComponentName[] = [];
    const note =
      (name: ComponentName) =>
      (wasRunning: boolean): void => {
        if (!wasRunning) return;
        stopped.push(name);
        log(`${name}: stopped`);
      };
    await settleAll([
      stopRegistry(config).then(note('registry')),
      stopKafka(config).then(note('kafka')),
    ]);
    await stopPostgres(config).then(note('postgres'));

    // Anything still pointing into this home (a lost pid file, a launcher killed mid-start).
    const strays = stackProcesses(...stackProcessMarkers(config.env));
    await settleAll(
      strays.map((stray) =>
        stopProcessTree({
          pid: stray.pid,
          description: `stray ${stray.comm}`,
          signal: stray.comm === 'postgres' ? 'SIGINT' : 'SIGTERM',
          graceMs: 15_000,
        }),
      ),
    );
    if (strays.length > 0) log(`stopped stray processes ${strays.map((s) => s.pid).join(', ')}`);
    await removeFile(config.endpointsFile);
    // Registry and Kafka stop in parallel: report in the fixed stop order.
    const stopOrder: ComponentName[] = ['registry', 'kafka', 'postgres'];
    return {
      home: config.home,
      stoppedComponents: stopOrder.filter((name) => stopped.includes(name)),
      strayPids: strays.map((s) => s.pid),
    };
  });
}

/** What runs, where it listens, and whether it answers. */
export async function stackStatus(options: StackOptions = {}): Promise<StackStatus> {
  const config = resolveStackConfig(options.env ?? process.env);
  const local = localComponents(config);
  const endpoints = endpointsOf(config);
  const probe = async (
    name: ComponentName,
    endpoint: string,
    pidOf: () => Promise<number | undefined>,
    answers: () => Promise<boolean>,
  ): Promise<ComponentStatus> => {
    if (!local[name]) return { name, state: 'external', endpoint };
    const pid = await pidOf();
    const logFile = config.logFiles[name];
    if (pid === undefined) return { name, state: 'stopped', endpoint, logFile };
    return { name, state: (await answers()) ? 'running' : 'unhealthy', endpoint, pid, logFile };
  };
  const components = await Promise.all([
    probe(
      'postgres',
      endpoints.databaseUrl,
      () => postgresPid(config),
      () => isPortOpen(LOOPBACK_HOST, config.ports.postgres),
    ),
    probe(
      'kafka',
      endpoints.kafkaBrokers.join(','),
      () => kafkaPid(config),
      () => kafkaAnswers(config),
    ),
    probe(
      'registry',
      endpoints.schemaRegistryUrl,
      () => registryPid(config),
      () => registryAnswers(config),
    ),
  ]);
  const up = components.every((c) => c.state === 'running' || c.state === 'external');
  return { home: config.home, up, components, endpoints };
}
