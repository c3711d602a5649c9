// Wires the audit service (the deploy step, npm run migrate, created its schema): the trail
// consumer as audit_app (the only writer), the HTTP API as audit_reader (SELECT only), and the
// relay for the audit's own dead letters.
import type { Server } from 'node:http';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { assertServiceRole } from '@ledgerline/platform/deploy';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { authenticatorFromEnv } from '@ledgerline/platform/auth/authenticator';
import { createApiApp, listen } from '@ledgerline/platform/http/app';
import { consumerProbes, dependencyProbes } from '@ledgerline/platform/http/readiness';
import { createIdempotentProducer, createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import { createLogger } from '@ledgerline/platform/log';
import { createMetricsRegistry, prometheus } from '@ledgerline/platform/metrics';
import { OutboxRelay } from '@ledgerline/platform/outbox';
import { auditApiDocument, auditApiOperations } from '@ledgerline/generated/openapi/audit.document';
import { auditHandlers } from './api/handlers.js';
import type { AuditConfig } from './config.js';
import { AUDIT_APP_ROLE, AUDIT_READER_ROLE } from './database.js';
import { auditCheckpointsTopic } from '@ledgerline/generated/topics';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import { AnchorReader } from './events/anchor-reader.js';
import { AUDIT_SCHEMA, auditedTopics, createTrailConsumer } from './events/trail-consumer.js';

export type { AuditConfig } from './config.js';
export { auditConfigFromEnv } from './config.js';

export { AUDIT_APP_ROLE, AUDIT_READER_ROLE };

export interface AuditService {
  url: string;
  stop(): Promise<void>;
}

export async function startAudit(config: AuditConfig): Promise<AuditService> {
  const log = createLogger('audit');
  const metrics = createMetricsRegistry('audit');
  const recordsTotal = new prometheus.Counter({
    name: 'ledgerline_audit_records_total',
    help: 'Records appended to the trail.',
    registers: [metrics],
  });
  const chainHead = new prometheus.Gauge({
    name: 'ledgerline_audit_chain_head_sequence',
    help: 'Sequence of the newest record in the trail.',
    registers: [metrics],
  });

  const pools: Pool[] = [];
  const writerPool = createPool(config.databaseUrl, { max: 4, applicationName: 'audit-consumer' });
  pools.push(writerPool);
  const readerPool = createPool(config.readerDatabaseUrl, {
    max: 10,
    applicationName: 'audit-api',
  });
  pools.push(readerPool);
  // First, before any connection to Kafka: the admin's URL or a role with more power is refused,
  // and the API's connection must be the SELECT-only reader, not the writer.
  try {
    await assertServiceRole(writerPool, 'audit', AUDIT_APP_ROLE);
    await assertServiceRole(readerPool, 'audit', AUDIT_READER_ROLE);
  } catch (error) {
    await Promise.all(pools.map((p) => p.end()));
    throw error;
  }
  const kafka = createKafka(config.kafkaBrokers, 'audit');
  const topics = auditedTopics(config.topicPrefix);
  // One admin client for topic creation and the readiness probe.
  const admin = kafka.admin();
  await admin.connect();
  const anchorTopic = prefixedTopic(auditCheckpointsTopic as AnyTopic, config.topicPrefix);
  if (config.development) await ensureTopics(admin, [...topics, anchorTopic]);
  const serde = new EventSerde({
    registryUrl: config.schemaRegistryUrl,
    autoRegister: config.development,
  });

  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const relay = new OutboxRelay({
    pool: writerPool,
    schema: AUDIT_SCHEMA,
    producer,
    log,
    metrics,
  });
  relay.start();

  const consumer = createTrailConsumer({
    kafka,
    pool: writerPool,
    serde,
    log,
    topicPrefix: config.topicPrefix,
    checkpointEvery: config.checkpointEvery,
    batchSizeMax: config.batchSizeMax,
    signingKey: config.signingKey,
    onAppended: (records) => {
      const last = records[records.length - 1];
      if (!last) return;
      recordsTotal.inc(records.length);
      chainHead.set(last.sequence);
    },
    onOutboxWritten: () => relay.nudge(),
    metrics,
  });
  await consumer.start();

  const forgedTotal = new prometheus.Counter({
    name: 'ledgerline_audit_forged_checkpoints_total',
    help: 'Records on the anchor topic without a valid signature of the audit key.',
    registers: [metrics],
  });
  const anchors = new AnchorReader({
    kafka,
    admin,
    serde,
    log,
    topicPrefix: config.topicPrefix,
    verifyingKey: config.signingKey,
    onForged: () => forgedTotal.inc(),
  });
  await anchors.start();

  const app = createApiApp({
    service: 'audit',
    document: auditApiDocument,
    operations: auditApiOperations,
    // Keys are looked up as audit_app (it notes last_used_at), so that audit_reader, which the
    // API reads the trail with, stays SELECT-only.
    authenticator: authenticatorFromEnv(writerPool),
    handlers: auditHandlers(readerPool, anchors, config.signingKey),
    log,
    metrics,
    readiness: {
      ...dependencyProbes({
        db: readerPool,
        kafkaAdmin: admin,
        registryUrl: config.schemaRegistryUrl,
      }),
      ...consumerProbes([consumer]),
    },
  });
  const server: Server = await listen(app, config.port, config.host);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const url = `http://${config.host}:${address.port}`;
  log.info(
    { url, topicPrefix: config.topicPrefix, checkpointKeyId: config.signingKey.keyId },
    'audit service started',
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Stop taking requests and messages first, then flush dead letters, then close pools.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await consumer.stop();
      await anchors.stop();
      await relay.stop();
      await producer.disconnect();
      await admin.disconnect();
      await Promise.all(pools.map((p) => p.end()));
      log.info('audit service stopped');
    })();
    return stopping;
  };
  return { url, stop };
}
