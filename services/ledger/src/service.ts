// The ledger, declared: ledger_app's exactly-once consumer of ledger.commands, its outbox and its
// HTTP API. The platform runner (platform/src/service/runner.ts) starts and stops it.
import { ExactlyOnceConsumer } from '@ledgerline/platform/consumer';
import { isDevelopment } from '@ledgerline/platform/config';
import { defineService } from '@ledgerline/platform/service/define-service';
import type { RunningService } from '@ledgerline/platform/service/runner';
import { topicsProducedBy } from '@ledgerline/platform/events/topic';
import { allTopics, ledgerCommandsConsumer } from '@ledgerline/generated/topics';
import {
  ledgerApiDocument,
  ledgerApiOperations,
} from '@ledgerline/generated/openapi/ledger.document';
import { createHandlers } from './api/handlers.js';
import type { LedgerConfig } from './config.js';
import { LEDGER_APP_ROLE, ledgerDatabase } from './database.js';
import { adjustmentControlFromEnv } from './domain/adjustment-control.js';
import { ledgerApiMessages } from './events/api-messages.js';
import { createBatchHandler, createDeadLetterEncoder } from './events/command-consumer.js';
import { ledgerMetrics } from './app/metrics.js';

export { LEDGER_APP_ROLE };
export type { LedgerConfig };
export type RunningLedger = RunningService;

export const ledger = defineService<LedgerConfig>({
  name: 'ledger',
  database: ledgerDatabase,
  topics: ({ topicPrefix }, serde) => [ledgerCommandsConsumer(serde, { topicPrefix }).topic],
  produces: ({ topicPrefix }) => topicsProducedBy('ledger', allTopics, topicPrefix),
  assemble({ config, log, metrics, pool, serde, relay, kafka }) {
    const counted = ledgerMetrics(metrics);
    const handleBatch = createBatchHandler({
      serde,
      topicPrefix: config.topicPrefix,
      log,
      onEffects: counted.onEffects,
    });
    const consumer = new ExactlyOnceConsumer({
      kafka,
      pool,
      serde,
      log,
      schema: ledgerDatabase.schema,
      // The prefix keeps parallel environments (tests) out of each other's consumer group.
      groupId: `${config.topicPrefix}ledger`,
      topics: [ledgerCommandsConsumer(serde, { topicPrefix: config.topicPrefix }).topic],
      handleBatch: counted.timed(handleBatch),
      encodeDeadLetter: createDeadLetterEncoder(serde, config.topicPrefix),
      // Absent (a config built in code): the consumer's own default, the same 2,000.
      ...(config.consumerBatchSizeMax !== undefined && {
        batchSizeMax: config.consumerBatchSizeMax,
      }),
      // The partitions of one fetch are applied in one transaction (coalescePartitions, on by
      // default): partitions hold disjoint customer accounts and meet only on the system
      // accounts' rows, which a batch moves last, so a coalesced batch decides exactly what the
      // partitions' own batches would have.
      fromBeginning: true,
      onBatchCommitted: counted.onBatchCommitted,
      onOutboxWritten: () => relay.nudge(),
      metrics,
    });
    const handlers = createHandlers({
      pool,
      messages: ledgerApiMessages(serde, config.topicPrefix),
      nudgeRelay: () => relay.nudge(),
      adjustmentControl:
        config.adjustmentControl ?? adjustmentControlFromEnv(process.env, isDevelopment()),
    });
    return {
      consumers: [consumer],
      http: {
        document: ledgerApiDocument,
        operations: ledgerApiOperations,
        // Their handlers limit a key bound to accounts to those accounts.
        accountBoundOperations: ['getAccount', 'getAccountBalance', 'listAccountEntries'],
        handlers,
        bodyLimitBytes: 16 * 1024,
      },
    };
  },
});

export const startLedger = (config: LedgerConfig): Promise<RunningLedger> =>
  ledger.start(config, config.log);
export const migrateLedger = ledger.migrate;
