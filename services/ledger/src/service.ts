// Wires the ledger as ledger_app (the deploy step, npm run migrate, created its schema): the
// exactly-once consumer of ledger.commands, the outbox relay, and the HTTP API.
import type { Server } from 'node:http';
import { ExactlyOnceConsumer } from '@ledgerline/platform/consumer';
import { createPool } from '@ledgerline/platform/db';
import {
  assertServiceRole,
  deployDatabase,
  developmentPassword,
} from '@ledgerline/platform/deploy';
import { isDevelopment } from '@ledgerline/platform/config';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { authenticatorFromEnv } from '@ledgerline/platform/auth/authenticator';
import { createApiApp, listen } from '@ledgerline/platform/http/app';
import { consumerProbes, dependencyProbes } from '@ledgerline/platform/http/readiness';
import { createIdempotentProducer, createKafka } from '@ledgerline/platform/kafka';
import { createLogger, type Logger } from '@ledgerline/platform/log';
import { createMetricsRegistry, prometheus } from '@ledgerline/platform/metrics';
import { OutboxRelay } from '@ledgerline/platform/outbox';
import { ledgerCommandsConsumer } from '@ledgerline/generated/topics';
import {
  ledgerApiDocument,
  ledgerApiOperations,
} from '@ledgerline/generated/openapi/ledger.document';
import { createHandlers } from './api/handlers.js';
import { LEDGER_APP_ROLE, ledgerDatabase } from './database.js';
import {
  adjustmentControlFromEnv,
  type AdjustmentControlPolicy,
} from './domain/adjustment-control.js';
import {
  LEDGER_SCHEMA,
  createBatchHandler,
  createDeadLetterEncoder,
} from './events/command-consumer.js';

export { LEDGER_APP_ROLE };

export interface LedgerConfig {
  /** ledger_app's URL (LEDGER_APP_DATABASE_URL); a service never holds the admin's. */
  databaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  /** '' in production; a unique prefix per test run. */
  topicPrefix: string;
  /** 0 = any free port. */
  port: number;
  /** Interface to listen on; loopback unless told otherwise (containers: 0.0.0.0). */
  host?: string;
  /** Development only: register missing schemas on first use. */
  autoRegisterSchemas: boolean;
  /** Approval threshold and per-key daily caps of adjustments; from the environment if absent. */
  adjustmentControl?: AdjustmentControlPolicy;
  log?: Logger;
}

export interface RunningLedger {
  url: string;
  stop(): Promise<void>;
}

/**
 * The ledger's part of the deploy step, for tests, benches and replay (`npm run migrate` deploys
 * every service at once): its roles, its migrations, its schema handed to the owner role.
 */
export async function migrateLedger(
  adminUrl: string,
  appRolePassword: string = developmentPassword(LEDGER_APP_ROLE),
): Promise<void> {
  await deployDatabase(adminUrl, [ledgerDatabase], { [LEDGER_APP_ROLE]: appRolePassword });
}

export async function startLedger(config: LedgerConfig): Promise<RunningLedger> {
  const log = config.log ?? createLogger('ledger');
  const pool = createPool(config.databaseUrl, { max: 10, applicationName: 'ledger' });
  // First, before any connection to Kafka: the admin's URL or a role with more power is refused.
  await assertServiceRole(pool, 'ledger', LEDGER_APP_ROLE).catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
  const serde = new EventSerde({
    registryUrl: config.schemaRegistryUrl,
    autoRegister: config.autoRegisterSchemas,
  });
  const kafka = createKafka(config.kafkaBrokers, 'ledger');
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();

  const metrics = createMetricsRegistry('ledger');
  const postings = new prometheus.Counter({
    name: 'ledger_postings_total',
    help: 'Transactions posted',
    registers: [metrics],
  });
  const rejections = new prometheus.Counter({
    name: 'ledger_rejections_total',
    help: 'Commands rejected, by reason',
    labelNames: ['reason'],
    registers: [metrics],
  });
  const duplicates = new prometheus.Counter({
    name: 'ledger_duplicate_commands_total',
    help: 'Redelivered commands answered with their original outcome',
    registers: [metrics],
  });
  const batchSize = new prometheus.Histogram({
    name: 'ledger_batch_commands',
    help: 'Commands per consumed batch',
    buckets: [1, 10, 50, 100, 250, 500, 1_000, 2_000],
    registers: [metrics],
  });
  const batchSeconds = new prometheus.Histogram({
    name: 'ledger_batch_duration_seconds',
    help: 'Time to load, decide and persist one batch',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });
  const lag = new prometheus.Gauge({
    name: 'ledger_consumer_lag_messages',
    help: 'Messages behind the high watermark after the last committed batch',
    labelNames: ['partition'],
    registers: [metrics],
  });

  const relay = new OutboxRelay({ pool, schema: LEDGER_SCHEMA, producer, log, metrics });
  const commandsTopic = ledgerCommandsConsumer(serde, { topicPrefix: config.topicPrefix }).topic;
  const handleBatch = createBatchHandler({
    serde,
    topicPrefix: config.topicPrefix,
    log,
    onEffects: (effects, commands) => {
      postings.inc(effects.postings.length);
      duplicates.inc(effects.duplicates);
      for (const reason of effects.rejectionReasons) rejections.inc({ reason });
      batchSize.observe(commands);
    },
  });
  const consumer = new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: LEDGER_SCHEMA,
    // The prefix keeps parallel environments (tests) out of each other's consumer group.
    groupId: `${config.topicPrefix}ledger`,
    topics: [commandsTopic],
    handleBatch: async (messages, context) => {
      const stopTimer = batchSeconds.startTimer();
      try {
        await handleBatch(messages, context);
      } finally {
        stopTimer();
      }
    },
    encodeDeadLetter: createDeadLetterEncoder(serde, config.topicPrefix),
    batchSizeMax: 2_000,
    // Partitions hold disjoint customer accounts, so their batches run side by side; they
    // meet only on the system accounts' rows, which each batch moves last, just before commit.
    partitionsConsumedConcurrently: 3,
    fromBeginning: true,
    onBatchCommitted: (info) => lag.set({ partition: String(info.partition) }, info.lag),
    onOutboxWritten: () => relay.nudge(),
    metrics,
  });

  const app = createApiApp({
    service: 'ledger',
    document: ledgerApiDocument,
    operations: ledgerApiOperations,
    authenticator: authenticatorFromEnv(pool),
    // Their handlers limit a key bound to accounts to those accounts.
    accountBoundOperations: ['getAccount', 'getAccountBalance', 'listAccountEntries'],
    handlers: createHandlers({
      pool,
      serde,
      topicPrefix: config.topicPrefix,
      nudgeRelay: () => relay.nudge(),
      adjustmentControl:
        config.adjustmentControl ?? adjustmentControlFromEnv(process.env, isDevelopment()),
    }),
    log,
    metrics,
    readiness: {
      ...dependencyProbes({
        db: pool,
        kafkaAdmin: admin,
        registryUrl: config.schemaRegistryUrl,
      }),
      ...consumerProbes([consumer]),
    },
    bodyLimitBytes: 16 * 1024,
  });

  relay.start();
  await consumer.start();
  let server: Server;
  try {
    server = await listen(app, config.port, config.host ?? '127.0.0.1');
  } catch (error) {
    await consumer.stop();
    await relay.stop();
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  log.info({ port }, 'ledger started');

  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await consumer.stop();
      await relay.stop();
      await producer.disconnect();
      await admin.disconnect();
      await pool.end();
      log.info('ledger stopped');
    },
  };
}
