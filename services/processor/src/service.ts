// Wires the processor as processor_app (the deploy step, npm run migrate, created its schema):
// the HTTP API, the outbox relay and the saga consumer.
import type { Server } from 'node:http';
import { createPool } from '@ledgerline/platform/db';
import { assertServiceRole } from '@ledgerline/platform/deploy';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { authenticatorFromEnv } from '@ledgerline/platform/auth/authenticator';
import { createApiApp, listen } from '@ledgerline/platform/http/app';
import { consumerProbes, dependencyProbes } from '@ledgerline/platform/http/readiness';
import { createIdempotentProducer, createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import { createLogger, type Logger } from '@ledgerline/platform/log';
import { createMetricsRegistry } from '@ledgerline/platform/metrics';
import { OutboxRelay } from '@ledgerline/platform/outbox';
import {
  processorApiDocument,
  processorApiOperations,
} from '@ledgerline/generated/openapi/processor.document';
import {
  ledgerCommandsProducer,
  ledgerlineDeadLetterProducer,
  paymentsStatusChangedProducer,
} from '@ledgerline/generated/topics';
import { isCurrencyCode } from '@ledgerline/platform/currencies';
import { PaymentIntakeQueue } from './api/payment-intake.js';
import { createHandlers } from './api/handlers.js';
import { processorAppRole, processorSchema, type ProcessorConfig } from './config.js';
import { ProcessorMessages } from './events/messages.js';
import { createSagaConsumer, sagaConsumerTopics } from './events/saga-consumer.js';
import { createProcessorMetrics } from './metrics.js';

export interface RunningProcessor {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startProcessor(
  config: ProcessorConfig,
  log: Logger = createLogger('processor'),
): Promise<RunningProcessor> {
  const pool = createPool(config.databaseUrl, {
    max: config.dbPoolSizeMax,
    applicationName: 'processor',
  });
  // First, before any connection to Kafka: the admin's URL or a role with more power is refused.
  await assertServiceRole(pool, 'processor', processorAppRole).catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
  // An idle connection that PostgreSQL terminates (restart, failover) is an 'error' event on the
  // pool; unhandled, it would crash the process. The next query simply reconnects.
  pool.on('error', (error) => log.warn({ err: error }, 'idle PostgreSQL connection lost'));
  const kafka = createKafka([...config.kafkaBrokers], 'processor');
  const admin = kafka.admin();
  const producer = createIdempotentProducer(kafka);
  const serde = new EventSerde({
    registryUrl: config.schemaRegistryUrl,
    autoRegister: config.development,
  });
  const messages = new ProcessorMessages(serde, config.topicPrefix);
  const inputTopics = sagaConsumerTopics(serde, config.topicPrefix);
  const outputTopics = [
    ledgerCommandsProducer(serde, { topicPrefix: config.topicPrefix }).topic,
    paymentsStatusChangedProducer(serde, { topicPrefix: config.topicPrefix }).topic,
    ledgerlineDeadLetterProducer(serde, { topicPrefix: config.topicPrefix }).topic,
  ];

  await admin.connect();
  if (config.development) {
    await ensureTopics(admin, [
      ...outputTopics,
      inputTopics.stepPosted,
      inputTopics.postingRejected,
    ]);
  }
  // Fail at start, not at the first payment, when a schema is not registered.
  await Promise.all(outputTopics.map((topic) => serde.prepare(topic)));
  await producer.connect();

  const registry = createMetricsRegistry('processor');
  const relay = new OutboxRelay({
    pool,
    schema: processorSchema,
    producer,
    log: log.child({ component: 'outbox-relay' }),
    batchSizeMax: config.relayBatchSizeMax,
    idlePollMs: config.relayIdlePollMs,
    metrics: registry,
  });
  const metrics = createProcessorMetrics(registry);
  const consumer = createSagaConsumer({
    kafka,
    pool,
    serde,
    log: log.child({ component: 'saga-consumer' }),
    topicPrefix: config.topicPrefix,
    messages,
    metrics,
    batchSizeMax: config.consumerBatchSizeMax,
    onOutboxWritten: () => relay.nudge(),
    metricsRegistry: registry,
  });

  const app = createApiApp({
    service: 'processor',
    document: processorApiDocument,
    operations: processorApiOperations,
    authenticator: authenticatorFromEnv(pool),
    // Their handlers limit a key bound to accounts to payments involving those accounts.
    accountBoundOperations: [
      'createPayment',
      'getPayment',
      'listPayments',
      'createRefund',
      'getRefund',
    ],
    handlers: createHandlers({
      pool,
      paymentIntake: new PaymentIntakeQueue({
        pool,
        lockTimeoutMs: config.idempotencyWaitMsMax,
        onBatch: (size) => metrics.intakeBatch(size),
      }),
      messages,
      metrics,
      rules: { amountMinorMax: config.amountMinorMax, isKnownCurrency: isCurrencyCode },
      idempotencyWaitMsMax: config.idempotencyWaitMsMax,
      onOutboxWritten: () => relay.nudge(),
    }),
    log,
    metrics: registry,
    bodyLimitBytes: config.bodyLimitBytes,
    readiness: {
      ...dependencyProbes({ db: pool, kafkaAdmin: admin, registryUrl: config.schemaRegistryUrl }),
      // A consumer that failed to start, crashed, or is stuck makes the processor not ready.
      ...(config.consumerEnabled ? consumerProbes([consumer]) : {}),
    },
  });

  if (config.relayEnabled) relay.start();
  let server: Server;
  try {
    server = await listen(app, config.port, config.host);
  } catch (error) {
    await relay.stop();
    await Promise.allSettled([producer.disconnect(), admin.disconnect(), pool.end()]);
    throw error;
  }
  // Joining the consumer group can take a session timeout after a crash (the dead member must
  // expire first); payments are accepted meanwhile, and the saga catches up from its stored
  // positions once the group is joined.
  let consumerJoined = false;
  if (config.consumerEnabled) {
    consumer.start().then(
      () => {
        consumerJoined = true;
      },
      (error: unknown) => {
        log.error({ err: error }, 'saga consumer failed to start');
      },
    );
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  log.info({ url, topicPrefix: config.topicPrefix }, 'processor started');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // New requests first, then inputs, then the relay drains what was committed.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      if (consumerJoined) {
        await consumer.stop();
      } else if (config.consumerEnabled) {
        // A join still waiting for the group (up to a session timeout after a crash) has applied
        // nothing; positions live in PostgreSQL, so leaving without waiting for it is safe.
        consumer.stop().catch((error: unknown) => log.warn({ err: error }, 'consumer stop'));
      }
      await relay.stop();
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      await pool.end();
      log.info('processor stopped');
    })();
    return stopping;
  };
  return { url, stop };
}
