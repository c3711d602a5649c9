// The processor, declared: processor_app's HTTP API (payments, refunds), its outbox and the saga
// consumer. The platform runner (platform/src/service/runner.ts) starts and stops it.
import { logIdleConnectionLoss } from '@ledgerline/platform/db';
import { isCurrencyCode } from '@ledgerline/platform/currencies';
import { topicsProducedBy } from '@ledgerline/platform/events/topic';
import type { Logger } from '@ledgerline/platform/log';
import { defineService } from '@ledgerline/platform/service/define-service';
import type { RunningService } from '@ledgerline/platform/service/runner';
import {
  processorApiDocument,
  processorApiOperations,
} from '@ledgerline/generated/openapi/processor.document';
import { allTopics } from '@ledgerline/generated/topics';
import { createHandlers } from './api/handlers.js';
import { PaymentIntakeQueue } from './app/payment-intake.js';
import type { ProcessorConfig } from './config.js';
import { PROCESSOR_APP_ROLE, processorDatabase } from './database.js';
import { ProcessorMessages } from './events/messages.js';
import { createSagaConsumer, sagaConsumerTopics } from './events/saga-consumer.js';
import { createProcessorMetrics } from './app/metrics.js';
import { PaymentsInFlight } from './app/payments-in-flight.js';
import { countPaymentsInFlight } from './store/payments.js';

export { PROCESSOR_APP_ROLE };
export type { ProcessorConfig };
export type RunningProcessor = RunningService;

export const processor = defineService<ProcessorConfig>({
  name: 'processor',
  database: processorDatabase,
  pool: { max: (config) => config.dbPoolSizeMax },
  topics: (config, serde) => {
    const input = sagaConsumerTopics(serde, config.topicPrefix);
    return [input.stepPosted, input.postingRejected];
  },
  produces: ({ topicPrefix }) => topicsProducedBy('processor', allTopics, topicPrefix),
  relay: (config) => ({
    // Off only in tests that play a crash between commit and publish.
    enabled: config.relayEnabled,
    batchSizeMax: config.relayBatchSizeMax,
    idlePollMs: config.relayIdlePollMs,
  }),
  shutdownMsMax: 30_000,
  assemble({ config, log, metrics: registry, pool, kafka, serde, relay }) {
    const messages = new ProcessorMessages(serde, config.topicPrefix);
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
    const paymentIntake = new PaymentIntakeQueue({
      databaseUrl: config.databaseUrl,
      lockTimeoutMs: config.idempotencyWaitMsMax,
      onBatch: (size) => metrics.intakeBatch(size),
      onIdleError: logIdleConnectionLoss(log),
    });
    const inFlight = new PaymentsInFlight({
      count: (cap, withinMs) => countPaymentsInFlight(pool, cap, withinMs),
      max: config.paymentsInFlightMax,
      sampleMs: config.inFlightSampleMs,
      log: log.child({ component: 'payments-in-flight' }),
    });
    metrics.observeInFlight(() => inFlight.count);
    return {
      consumers: config.consumerEnabled ? [consumer] : [],
      // Stopped in reverse, after the API: the intake's sessions close once no request needs them.
      workers: [inFlight, paymentIntake],
      // Joining the group can take a session timeout after a crash (the dead member must expire
      // first); payments are accepted meanwhile and the saga catches up from its positions.
      joinInBackground: true,
      http: {
        document: processorApiDocument,
        operations: processorApiOperations,
        // Their handlers limit a key bound to accounts to payments involving those accounts.
        accountBoundOperations: [
          'createPayment',
          'getPayment',
          'listPayments',
          'createRefund',
          'getRefund',
          // A bound key may learn which accounts it is bound to.
          'getCaller',
        ],
        // Its intake statement confirms the caller's key (auth.key_is_live): the edge may take
        // the caller from a lookup of the last minute, one round trip fewer per payment.
        keyConfirmingOperations: ['createPayment'],
        handlers: createHandlers({
          pool,
          paymentIntake,
          messages,
          metrics,
          rules: { amountMinorMax: config.amountMinorMax, isKnownCurrency: isCurrencyCode },
          idempotencyWaitMsMax: config.idempotencyWaitMsMax,
          onOutboxWritten: () => relay.nudge(),
        }),
        bodyLimitBytes: config.bodyLimitBytes,
        backpressure: inFlight,
      },
    };
  },
});

export const startProcessor = (config: ProcessorConfig, log?: Logger): Promise<RunningProcessor> =>
  processor.start(config, log);
export const migrateProcessor = processor.migrate;
