// The reconciliation service, declared: reconciliation_app writes only its own schema and reads
// the ledger through ledger_reader (the read contract's views). The fact consumer feeds the event
// side, the reconciler runs the checks (continuously and on demand), the outbox relay publishes
// what the runs found. The platform runner starts and stops it.
import { topicsProducedBy } from '@ledgerline/platform/events/topic';
import { defineService } from '@ledgerline/platform/service/define-service';
import { announceInstance, electedWorker } from '@ledgerline/platform/service/election';
import { periodicWorker } from '@ledgerline/platform/service/periodic';
import type { RunningService } from '@ledgerline/platform/service/runner';
import { allTopics } from '@ledgerline/generated/topics';
import {
  reconciliationApiDocument,
  reconciliationApiOperations,
} from '@ledgerline/generated/openapi/reconciliation.document';
import { reconciliationHandlers, STATEMENT_BYTES_MAX } from './api/handlers.js';
import type { ReconciliationConfig } from './config.js';
import { RECONCILIATION_APP_ROLE, reconciliationDatabase } from './database.js';
import { consumedTopics, createFactConsumer } from './events/fact-consumer.js';
import { RunEventEncoder } from './events/run-events.js';
import { reconciliationMetrics } from './app/metrics.js';
import { Reconciler } from './app/runs.js';

export { reconciliationConfigFromEnv, type ReconciliationConfig } from './config.js';
export { RECONCILIATION_APP_ROLE };
export type ReconciliationService = RunningService<{ reconciler: Reconciler }>;

export const reconciliation = defineService<ReconciliationConfig, { reconciler: Reconciler }>({
  name: 'reconciliation',
  database: reconciliationDatabase,
  topics: ({ topicPrefix }) => consumedTopics(topicPrefix),
  produces: ({ topicPrefix }) => topicsProducedBy('reconciliation', allTopics, topicPrefix),
  async assemble({ config, log, metrics, pool, kafka, serde, relay }) {
    const counted = reconciliationMetrics(metrics);
    const reconciler = new Reconciler({
      pool,
      log,
      events: new RunEventEncoder(serde, config.topicPrefix),
      outcomeTimeoutMs: config.outcomeTimeoutMs,
      dateWindowDays: config.dateWindowDays,
      pageSize: config.pageSize,
      onCompleted: (run, discrepancies) => {
        counted.runCompleted(run, discrepancies);
        relay.nudge();
      },
    });
    // Runs left RUNNING belong to a stopped instance only when no other instance is alive.
    const presence = await announceInstance(pool, 'reconciliation.instances');
    const interrupted = presence.alone ? await reconciler.failInterruptedRuns() : 0;
    if (interrupted > 0)
      log.warn({ interrupted }, 'runs interrupted by a previous stop marked FAILED');
    // One instance runs the continuous checks; the others stand by and take over if it dies.
    // An instance without continuous runs (intervalMs 0) does not stand for election.
    const continuous = electedWorker({
      name: 'reconciliation.continuous',
      pool,
      log,
      worker: periodicWorker({
        name: 'continuous reconciliation',
        intervalMs: config.intervalMs,
        run: () => reconciler.runContinuous(),
        log,
      }),
    });
    const drain = { name: 'reconciler', stop: () => reconciler.drain() };
    return {
      consumers: [
        createFactConsumer({
          kafka,
          pool,
          serde,
          log,
          topicPrefix: config.topicPrefix,
          batchSizeMax: config.batchSizeMax,
          onOutboxWritten: () => relay.nudge(),
          metrics,
        }),
      ],
      // Stopped in reverse: no new continuous run, then running runs commit before the relay flushes.
      workers: [presence.worker, drain, ...(config.intervalMs > 0 ? [continuous] : [])],
      http: {
        document: reconciliationApiDocument,
        operations: reconciliationApiOperations,
        handlers: reconciliationHandlers({ pool, reconciler }),
        // Room for the CSV body plus a little slack; the handler enforces the contract's limit.
        bodyLimitBytes: STATEMENT_BYTES_MAX + 64 * 1024,
      },
      exposed: { reconciler },
    };
  },
});

export const startReconciliation = (config: ReconciliationConfig): Promise<ReconciliationService> =>
  reconciliation.start(config);
export const migrateReconciliation = reconciliation.migrate;
