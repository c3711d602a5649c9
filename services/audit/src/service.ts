// The audit service, declared: the trail consumer as audit_app (the trail's only writer), the
// HTTP API reading as audit_reader (SELECT only), the anchor reader that verifies published
// checkpoints, and the relay of the audit's own outbox. The platform runner starts and stops it.
import { prometheus } from '@ledgerline/platform/metrics';
import { topicsProducedBy } from '@ledgerline/platform/events/topic';
import { defineService } from '@ledgerline/platform/service/define-service';
import type { RunningService } from '@ledgerline/platform/service/runner';
import { auditApiDocument, auditApiOperations } from '@ledgerline/generated/openapi/audit.document';
import { allTopics } from '@ledgerline/generated/topics';
import { auditHandlers } from './api/handlers.js';
import type { AuditConfig } from './config.js';
import { AUDIT_APP_ROLE, AUDIT_READER_ROLE, auditDatabase } from './database.js';
import { AnchorReader } from './events/anchor-reader.js';
import { auditedTopics, createTrailConsumer } from './events/trail-consumer.js';

export { auditConfigFromEnv, type AuditConfig } from './config.js';
export { AUDIT_APP_ROLE, AUDIT_READER_ROLE };
export type AuditService = RunningService;

export const audit = defineService<AuditConfig>({
  name: 'audit',
  database: auditDatabase,
  pool: { max: 4, applicationName: 'audit-consumer' },
  readerPool: {
    role: AUDIT_READER_ROLE,
    url: (config) => config.readerDatabaseUrl,
    max: 10,
    applicationName: 'audit-api',
  },
  topics: (config) => auditedTopics(config.topicPrefix),
  produces: ({ topicPrefix }) => topicsProducedBy('audit', allTopics, topicPrefix),
  assemble({ config, log, metrics, pool, readerPool, kafka, admin, serde, relay }) {
    const registers = [metrics];
    const recordsTotal = new prometheus.Counter({
      name: 'ledgerline_audit_records_total',
      help: 'Records appended to the trail.',
      registers,
    });
    const chainHead = new prometheus.Gauge({
      name: 'ledgerline_audit_chain_head_sequence',
      help: 'Sequence of the newest record in the trail.',
      registers,
    });
    const forgedTotal = new prometheus.Counter({
      name: 'ledgerline_audit_forged_checkpoints_total',
      help: 'Records on the anchor topic without a valid signature of the audit key.',
      registers,
    });
    const skippedOffsetsTotal = new prometheus.Counter({
      name: 'ledgerline_audit_skipped_offsets_total',
      help: 'Offsets of audited partitions the trail never saw and Kafka no longer held (see /v1/verify).',
      labelNames: ['topic', 'partition'],
      registers,
    });
    const { topicPrefix, signingKey } = config;
    const consumer = createTrailConsumer({
      kafka,
      pool,
      serde,
      log,
      metrics,
      topicPrefix,
      signingKey,
      checkpointEvery: config.checkpointEvery,
      batchSizeMax: config.batchSizeMax,
      onAppended: (records) => {
        const last = records[records.length - 1];
        if (!last) return;
        recordsTotal.inc(records.length);
        chainHead.set(last.sequence);
      },
      onOutboxWritten: () => relay.nudge(),
      onSkippedOffsets: (gaps) => {
        for (const g of gaps) {
          skippedOffsetsTotal.inc(
            { topic: g.topic, partition: String(g.partition) },
            g.toOffset - g.fromOffset + 1,
          );
        }
      },
    });
    const anchors = new AnchorReader({
      kafka,
      admin,
      serde,
      log,
      topicPrefix,
      verifyingKey: signingKey,
      onForged: () => forgedTotal.inc(),
    });
    return {
      consumers: [consumer],
      workers: [
        { name: 'anchor reader', start: () => anchors.start(), stop: () => anchors.stop() },
      ],
      http: {
        document: auditApiDocument,
        operations: auditApiOperations,
        handlers: auditHandlers(readerPool, anchors, signingKey),
      },
    };
  },
});

export const startAudit = (config: AuditConfig): Promise<AuditService> => audit.start(config);
export const migrateAudit = audit.migrate;
