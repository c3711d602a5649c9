// How every service starts and stops, in one order. Start: pools (each refuses a role with more
// power than its own, before anything else connects), Kafka admin, topics (development), serde,
// outbox relay (with its own producer), the service's parts, consumers, workers, HTTP last. Stop is the
// reverse: HTTP stops accepting, workers end, consumers drain, the relay flushes what was
// committed, Kafka clients disconnect, pools close. Readiness is assembled here for every
// service: postgres, kafka, registry and one check per consumer.
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { authenticatorFromEnv } from '../auth/authenticator.js';
import { httpServerLimits, intSetting } from '../config.js';
import { createPool, logIdleConnectionLoss, type Pool } from '../db.js';
import { assertServiceRole } from '../deploy.js';
import { EventSerde } from '../events/serde.js';
import { SHARED_SOCKET_ENV } from '../http/accept-handles.js';
import { acceptHandlesOf, closeServer, createApiApp, listen } from '../http/app.js';
import { consumerProbes, dependencyProbes } from '../http/readiness.js';
import { createIdempotentProducer, createKafka, ensureTopics } from '../kafka.js';
import { createLogger, type Logger } from '../log.js';
import { createMetricsRegistry } from '../metrics.js';
import { OutboxRelay } from '../outbox.js';
import type {
  DefinedService,
  PoolSpec,
  ServiceConfig,
  ServiceConsumer,
  ServiceDefinition,
} from './define-service.js';

export const SHUTDOWN_MS_MAX = 25_000;

export type RunningService<E extends object = object> = E & {
  readonly url: string;
  stop(): Promise<void>;
};

function openPool<C>(
  url: string,
  spec: PoolSpec<C> | undefined,
  config: C,
  name: string,
  log: Logger,
): Pool {
  const max = typeof spec?.max === 'function' ? spec.max(config) : spec?.max;
  return createPool(url, {
    max: max ?? 10,
    applicationName: spec?.applicationName ?? name,
    onIdleError: logIdleConnectionLoss(log),
  });
}

export async function startService<C extends ServiceConfig, E extends object>(
  definition: ServiceDefinition<C, E>,
  config: C,
  log: Logger = createLogger(definition.name),
): Promise<RunningService<E>> {
  const { name, database } = definition;
  // Everything opened so far, closed in reverse if a later step fails.
  const opened: { what: string; close: () => Promise<unknown> }[] = [];
  const closeOpened = async (): Promise<void> => {
    for (const { what, close } of opened.reverse()) {
      await close().catch((error: unknown) => log.warn({ err: error, what }, 'close failed'));
    }
    opened.length = 0;
  };
  try {
    const pool = openPool(config.databaseUrl, definition.pool, config, name, log);
    opened.push({ what: 'pool', close: () => pool.end() });
    const readerSpec = definition.readerPool;
    const readerPool = readerSpec
      ? openPool(readerSpec.url(config), readerSpec, config, name, log)
      : pool;
    if (readerPool !== pool) opened.push({ what: 'reader pool', close: () => readerPool.end() });
    // First, before any connection to Kafka: the admin's URL or a role with more power is refused.
    await assertServiceRole(pool, name, database.appRole);
    if (readerSpec) await assertServiceRole(readerPool, name, readerSpec.role);

    const kafka = createKafka([...config.kafkaBrokers], name);
    const admin = kafka.admin();
    await admin.connect();
    opened.push({ what: 'kafka admin', close: () => admin.disconnect() });
    const serde = new EventSerde({
      registryUrl: config.schemaRegistryUrl,
      autoRegister: config.development,
    });
    const produced = definition.produces?.(config) ?? [];
    const topics = [...(definition.topics?.(config, serde) ?? []), ...produced];
    if (config.development && topics.length > 0) await ensureTopics(admin, topics);
    await Promise.all(produced.map((topic) => serde.prepare(topic)));

    const metrics = createMetricsRegistry(name);
    const relaySettings = definition.relay?.(config) ?? {};
    const relay = new OutboxRelay({
      pool,
      schema: database.schema,
      createProducer: () => createIdempotentProducer(kafka),
      log: log.child({ component: 'outbox-relay' }),
      metrics,
      ...(relaySettings.batchSizeMax !== undefined && { batchSizeMax: relaySettings.batchSizeMax }),
      ...(relaySettings.idlePollMs !== undefined && { idlePollMs: relaySettings.idlePollMs }),
    });
    const context = {
      config,
      log,
      metrics,
      pool,
      readerPool,
      kafka,
      admin,
      serde,
      relay,
    };
    const parts = await definition.assemble(context);
    const consumers = parts.consumers ?? [];
    const workers = parts.workers ?? [];
    // Workers may hold resources from assembly on (a session lock's connection): all are stopped
    // if the start fails anywhere after this point, started or not.
    opened.push({
      what: 'workers',
      close: async () => {
        for (const worker of [...workers].reverse()) await worker.stop();
      },
    });

    if (relaySettings.enabled !== false) {
      relay.start();
      opened.push({ what: 'relay', close: () => relay.stop() });
    }
    const joined = new Set<ServiceConsumer>();
    if (!parts.joinInBackground) {
      for (const consumer of consumers) {
        opened.push({ what: 'consumer', close: () => consumer.stop() });
        await consumer.start();
        joined.add(consumer);
      }
    }
    for (const worker of workers) await worker.start?.();

    const app = createApiApp({
      service: name,
      ...parts.http,
      // API keys are looked up as the app role (it notes last_used_at).
      authenticator: authenticatorFromEnv(pool),
      log,
      metrics,
      readiness: {
        ...dependencyProbes({
          db: readerPool,
          kafkaAdmin: admin,
          registryUrl: config.schemaRegistryUrl,
        }),
        // A consumer that failed to start, crashed, or is stuck makes the service not ready.
        ...consumerProbes(consumers),
      },
    });
    const host = config.host ?? '127.0.0.1';
    const server: Server = await listen(app, config.port, host);
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new Error('server has no TCP address');
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const url = `http://${urlHost}:${address.port}`;

    if (parts.joinInBackground) {
      for (const consumer of consumers) {
        consumer.start().then(
          () => joined.add(consumer),
          (error: unknown) =>
            log.error({ err: error, consumer: consumer.health.name }, 'consumer failed to start'),
        );
      }
    }
    log.info(
      { url, topicPrefix: config.topicPrefix, acceptHandles: acceptHandlesOf(server) },
      `${name} started`,
    );

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        await closeServer(server);
        for (const worker of [...workers].reverse()) await worker.stop();
        for (const consumer of consumers) {
          if (joined.has(consumer)) {
            await consumer.stop();
          } else {
            // A join still waiting for the group has applied nothing; positions live in
            // PostgreSQL, so leaving without waiting for it is safe.
            consumer.stop().catch((error: unknown) => log.warn({ err: error }, 'consumer stop'));
          }
        }
        if (relaySettings.enabled !== false) await relay.stop();
        await admin.disconnect().catch(() => undefined);
        await Promise.all([...new Set([pool, readerPool])].map((p) => p.end()));
        log.info(`${name} stopped`);
      })();
      return stopping;
    };
    return { ...(parts.exposed as E), url, stop };
  } catch (error) {
    await closeOpened();
    throw error;
  }
}

/** Processes per service: <NAME>_INSTANCES, else LEDGERLINE_INSTANCES, else one. */
export function instanceCount(name: string, env: NodeJS.ProcessEnv = process.env): number {
  const all = intSetting(env, 'LEDGERLINE_INSTANCES', 1, 1, 64);
  return intSetting(env, `${name.toUpperCase()}_INSTANCES`, all, 1, 64);
}

/** A replaced instance waits this long, so a crash loop cannot spin the CPU. */
const RESPAWN_DELAY_MS = 1_000;

/**
 * Several instances of one service on this host: Node's cluster forks them and shares the HTTP
 * port among them (Node 20 has no reusePort). Nothing else is coordinated here: consumers share
 * their group, the outbox relay publishes under an advisory lock. An instance that dies is
 * replaced; one that exits by itself before it started stops them all (a refused configuration).
 *
 * With several accept handles (HTTP_ACCEPT_HANDLES) the supervisor shares the listening socket
 * itself, and every instance accepts from it through its own handles. In Node's round robin the
 * supervisor accepted every connection and handed it over, one per turn of its loop: a burst of
 * new connections waited seconds in the accept queue (README "What we tried").
 */
async function superviseInstances(
  name: string,
  instances: number,
  shutdownMsMax: number,
  log: Logger,
): Promise<void> {
  let stopping = false;
  const started = new WeakSet<Worker>();
  let sharedSocket: boolean;
  try {
    sharedSocket = httpServerLimits().acceptHandles > 1;
  } catch (error) {
    // A refused HTTP setting, said as an instance would say it, before any is forked.
    log.fatal({ err: error }, 'failed to start');
    process.exit(1);
  }
  // Read when the first instance is forked; the instances learn it from their environment.
  if (sharedSocket) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const fork = (): void => {
    const worker = cluster.fork(sharedSocket ? SHARED_SOCKET_ENV : {});
    worker.on('message', (message: unknown) => {
      if (message !== 'started') return;
      started.add(worker);
      log.info({ pid: worker.process.pid }, 'instance started');
    });
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      // Exiting by itself before it started is a refused configuration; a kill is a death.
      if (!started.has(worker) && signal === null) {
        log.fatal({ pid: worker.process.pid, code }, 'an instance failed to start; stopping all');
        stopAll(1);
        return;
      }
      log.error({ pid: worker.process.pid, code, signal }, 'an instance died; replacing it');
      setTimeout(() => {
        if (!stopping) fork();
      }, RESPAWN_DELAY_MS).unref();
    });
  };
  const stopAll = (exitCode: number): void => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    const timer = setTimeout(() => {
      log.error({ shutdownMsMax }, 'instances took too long to stop; killing them');
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, shutdownMsMax + 1_000);
    timer.unref();
    void Promise.all(
      workers.map(
        (w) =>
          new Promise<number>((resolve) => {
            if (w.isDead()) return resolve(w.process.exitCode ?? 1);
            // An instance still starting has no handler yet and ends on the signal itself: it
            // was asked to stop and it stopped (what it had begun is in no committed transaction).
            w.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGTERM' ? 0 : 1)));
            w.process.kill('SIGTERM');
          }),
      ),
    ).then((codes) => process.exit(codes.every((c) => c === 0) ? exitCode : 1));
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal, instances }, 'shutting down every instance');
      stopAll(0);
    });
  }
  log.info({ instances }, `${name}: starting instances`);
  for (let i = 0; i < instances; i += 1) fork();
}

/**
 * A service as a process: settings from the environment, started, stopped gracefully on
 * SIGTERM/SIGINT within a bound (a stop that hangs on a broker gone away cannot keep the process
 * alive), and a fatal error logged before the process exits; crash safety never depends on a
 * graceful stop, everything committed is in PostgreSQL.
 */
export async function runServiceProcess<C extends ServiceConfig, E extends object>(
  service: DefinedService<C, E>,
  configFromEnv: () => C,
): Promise<void> {
  const { name, shutdownMsMax = SHUTDOWN_MS_MAX } = service.definition;
  const log = createLogger(name);
  const instances = instanceCount(name);
  if (instances > 1 && cluster.isPrimary) {
    await superviseInstances(name, instances, shutdownMsMax, log);
    return;
  }
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.once(event, (error: unknown) => {
      log.fatal({ err: error, event }, 'fatal error; exiting');
      process.exit(1);
    });
  }
  let running: RunningService<E>;
  try {
    running = await service.start(configFromEnv(), log);
  } catch (error) {
    log.fatal({ err: error }, 'failed to start');
    process.exit(1);
  }
  // Tells the supervisor of several instances that this one is up (see superviseInstances).
  if (cluster.isWorker) process.send?.('started');
  let stopping = false;
  const shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ shutdownMsMax }, 'shutdown took too long; exiting');
      process.exit(1);
    }, shutdownMsMax);
    timer.unref();
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => shutdown(signal));
  // An instance whose supervisor died (its channel closed) stops too, never left orphaned.
  if (cluster.isWorker) process.once('disconnect', () => shutdown('supervisor gone'));
}
