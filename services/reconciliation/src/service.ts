// Wires the reconciliation service as reconciliation_app (the deploy step, npm run migrate,
// created its schema), which writes only its own schema and reads the ledger through
// ledger_reader (SELECT only). The fact consumer feeds the event side, the reconciler runs the
// checks (continuously and on demand), the outbox relay publishes what the runs found.
import type { Server } from 'node:http';
import { createPool } from '@ledgerline/platform/db';
import { assertServiceRole } from '@ledgerline/platform/deploy';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { authenticatorFromEnv } from '@ledgerline/platform/auth/authenticator';
import { createApiApp, listen } from '@ledgerline/platform/http/app';
import { consumerProbes, dependencyProbes } from '@ledgerline/platform/http/readiness';
import { createIdempotentProducer, createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import { createLogger } from '@ledgerline/platform/log';
import { createMetricsRegistry, prometheus } from '@ledgerline/platform/metrics';
import { OutboxRelay } from '@ledgerline/platform/outbox';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import {
  ledgerlineDeadLetterTopic,
  reconciliationDiscrepancyDetectedTopic,
  reconciliationRunCompletedTopic,
} from '@ledgerline/generated/topics';
import {
  reconciliationApiDocument,
  reconciliationApiOperations,
} from '@ledgerline/generated/openapi/reconciliation.document';
import { reconciliationHandlers, STATEMENT_BYTES_MAX } from './api/handlers.js';
import type { ReconciliationConfig } from './config.js';
import { RECONCILIATION_APP_ROLE } from './database.js';
import { DISCREPANCY_KINDS } from './domain/findings.js';
import { consumedTopics, createFactConsumer } from './events/fact-consumer.js';
import { RunEventEncoder } from './events/run-events.js';
import { Reconciler, RECONCILIATION_SCHEMA } from './reconciler.js';

export type { ReconciliationConfig } from './config.js';
export { reconciliationConfigFromEnv } from './config.js';

export { RECONCILIATION_APP_ROLE };

/** Room for the multipart-free CSV body plus a little slack; the handler enforces the contract's limit. */
const BODY_LIMIT_BYTES = STATEMENT_BYTES_MAX + 64 * 1024;

export interface ReconciliationService {
  url: string;
  reconciler: Reconciler;
  stop(): Promise<void>;
}

export async function startReconciliation(
  config: ReconciliationConfig,
): Promise<ReconciliationService> {
  const log = createLogger('reconciliation');
  const metrics = createMetricsRegistry('reconciliation');
  const discrepanciesTotal = new prometheus.Counter({
    name: 'ledgerline_discrepancies_total',
    help: 'Discrepancies recorded.',
    labelNames: ['kind'],
    registers: [metrics],
  });
  for (const kind of DISCREPANCY_KINDS) discrepanciesTotal.inc({ kind }, 0);
  const runsTotal = new prometheus.Counter({
    name: 'ledgerline_reconciliation_runs_total',
    help: 'Reconciliation runs completed, by kind and status.',
    labelNames: ['kind', 'status'],
    registers: [metrics],
  });
  const lastRunSeconds = new prometheus.Gauge({
    name: 'ledgerline_reconciliation_last_run_completed_seconds',
    help: 'When the last run completed (unix seconds), by kind.',
    labelNames: ['kind'],
    registers: [metrics],
  });

  const pool = createPool(config.databaseUrl, {
    max: 10,
    applicationName: 'reconciliation',
    onIdleError: (error) => log.warn({ err: error }, 'idle database connection dropped'),
  });
  // First, before any connection to Kafka: the admin's URL or a role with more power is refused.
  await assertServiceRole(pool, 'reconciliation', RECONCILIATION_APP_ROLE).catch(
    async (error: unknown) => {
      await pool.end();
      throw error;
    },
  );
  const kafka = createKafka(config.kafkaBrokers, 'reconciliation');
  if (config.development) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const produced = [
        reconciliationRunCompletedTopic,
        reconciliationDiscrepancyDetectedTopic,
        ledgerlineDeadLetterTopic,
      ].map((t) => prefixedTopic(t as AnyTopic, config.topicPrefix));
      await ensureTopics(admin, [...consumedTopics(config.topicPrefix), ...produced]);
    } finally {
      await admin.disconnect();
    }
  }
  const serde = new EventSerde({
    registryUrl: config.schemaRegistryUrl,
    autoRegister: config.development,
  });

  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const relay = new OutboxRelay({
    pool,
    schema: RECONCILIATION_SCHEMA,
    producer,
    log,
    metrics,
  });
  relay.start();

  const reconciler = new Reconciler({
    pool,
    log,
    events: new RunEventEncoder(serde, config.topicPrefix),
    outcomeTimeoutMs: config.outcomeTimeoutMs,
    dateWindowDays: config.dateWindowDays,
    pageSize: config.pageSize,
    onCompleted: (run, discrepancies) => {
      for (const d of discrepancies) discrepanciesTotal.inc({ kind: d.kind });
      runsTotal.inc({ kind: run.kind, status: run.status });
      lastRunSeconds.set({ kind: run.kind }, (run.completedAt?.getTime() ?? Date.now()) / 1000);
      relay.nudge();
    },
  });

  const interrupted = await reconciler.failInterruptedRuns();
  if (interrupted > 0)
    log.warn({ interrupted }, 'runs interrupted by a previous stop marked FAILED');

  const consumer = createFactConsumer({
    kafka,
    pool,
    serde,
    log,
    topicPrefix: config.topicPrefix,
    batchSizeMax: config.batchSizeMax,
    onOutboxWritten: () => relay.nudge(),
    metrics,
  });
  await consumer.start();

  // Continuous runs: one at a time, each waiting intervalMs after the previous one ended.
  let running = true;
  let wake: (() => void) | undefined;
  const continuous = (async () => {
    if (config.intervalMs === 0) return;
    while (running) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, config.intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      if (!running) break;
      try {
        await reconciler.runContinuous();
      } catch (error) {
        log.error({ err: error }, 'continuous reconciliation run failed; retrying next interval');
      }
    }
  })();

  // One long-lived admin client for /readyz: connecting per probe would make readiness slow.
  const readinessAdmin = kafka.admin();
  await readinessAdmin.connect();
  const app = createApiApp({
    service: 'reconciliation',
    document: reconciliationApiDocument,
    operations: reconciliationApiOperations,
    authenticator: authenticatorFromEnv(pool),
    handlers: reconciliationHandlers({ pool, reconciler }),
    log,
    metrics,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    readiness: {
      ...dependencyProbes({
        db: pool,
        kafkaAdmin: readinessAdmin,
        registryUrl: config.schemaRegistryUrl,
      }),
      ...consumerProbes([consumer]),
    },
  });
  const server: Server = await listen(app, config.port, config.host);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const url = `http://${config.host}:${address.port}`;
  log.info({ url, topicPrefix: config.topicPrefix }, 'reconciliation service started');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Stop taking requests, messages and new runs; let running runs commit; flush the outbox.
      running = false;
      wake?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await continuous;
      await consumer.stop();
      await reconciler.drain();
      await relay.stop();
      await producer.disconnect();
      await readinessAdmin.disconnect();
      await pool.end();
      log.info('reconciliation service stopped');
    })();
    return stopping;
  };
  return { url, reconciler, stop };
}
