// Reconciliation as a provider: its real run-event encoder (RunEventEncoder) turns a run and its
// discrepancies (records as its store holds them) into events; its fact consumer's real
// dead-letter encoder builds dead letters.
import type { Kafka } from 'kafkajs';
import type { DeadLetterEncoder, ExactlyOnceConsumerOptions } from '@ledgerline/platform/consumer';
import type { Pool } from '@ledgerline/platform/db';
import type { Logger } from '@ledgerline/platform/log';
import { RunEventEncoder } from '@ledgerline/reconciliation/events/run-events';
import { createFactConsumer } from '@ledgerline/reconciliation/events/fact-consumer';
import type { DiscrepancyRecord, RunRecord } from '@ledgerline/reconciliation/store/runs-store';
import { CapturingSerde } from '../capture.js';
import { reconciliationStates } from '../states.js';
import type { ProviderDefinition } from '../verify.js';
import { consoleStateHandlers } from './console-states.js';

export const reconciliationFixture = {
  runId: '7e7e7e7e-0000-4000-8000-000000000001',
  discrepancyId: '7e7e7e7e-0000-5000-8000-000000000002',
  paymentId: '0a6f4c8e-5b1d-4e2a-9c3f-7d8e9f0a1b2c',
  clearingAccountId: 'c1ea0000-0000-5000-8000-000000000003',
} as const;

const f = reconciliationFixture;

export const discrepancy: DiscrepancyRecord = {
  discrepancyId: f.discrepancyId,
  runId: f.runId,
  check: 'CLEARING_NETS_ZERO',
  kind: 'CLEARING_NOT_ZERO',
  paymentId: f.paymentId,
  transactionId: null,
  accountId: f.clearingAccountId,
  expectedMinor: 0,
  foundMinor: 2_500,
  currency: 'EUR',
  reference: null,
  detail: 'clearing holds 2500 EUR for a COMPLETED payment',
  detectedAt: new Date('2026-03-01T10:00:01.000Z'),
};

export const run: RunRecord = {
  runId: f.runId,
  kind: 'CONTINUOUS',
  status: 'DISCREPANCIES_FOUND',
  windowFrom: new Date('2026-03-01T09:00:00.000Z'),
  windowTo: new Date('2026-03-01T10:00:00.000Z'),
  checks: [{ check: 'CLEARING_NETS_ZERO', itemsChecked: 12, discrepancyCount: 1 }],
  discrepancyCount: 1,
  statementId: null,
  detail: null,
  startedAt: new Date('2026-03-01T10:00:00.000Z'),
  completedAt: new Date('2026-03-01T10:00:02.000Z'),
};

/**
 * The fact consumer's dead-letter encoder, private to createFactConsumer: built without
 * connecting and taken from the consumer's options. Refactor wanted: export it.
 */
function factConsumerDeadLetterEncoder(serde: CapturingSerde): DeadLetterEncoder {
  const consumer = createFactConsumer({
    kafka: {} as Kafka,
    pool: {} as Pool,
    serde: serde.asSerde(),
    log: {} as Logger,
    topicPrefix: '',
    batchSizeMax: 1,
  });
  return (consumer as unknown as { options: ExactlyOnceConsumerOptions }).options.encodeDeadLetter;
}

export const reconciliationProvider: ProviderDefinition = {
  name: 'reconciliation',
  http: { service: 'reconciliation', states: consoleStateHandlers },
  scenarios: {
    [reconciliationStates.discrepancyDetected]: async () => {
      const serde = new CapturingSerde();
      await new RunEventEncoder(serde.asSerde(), '').discrepancyDetected(discrepancy);
      return serde.only('reconciliation.discrepancy-detected');
    },
    [reconciliationStates.runCompleted]: async () => {
      const serde = new CapturingSerde();
      await new RunEventEncoder(serde.asSerde(), '').runCompleted(run);
      return serde.only('reconciliation.run-completed');
    },
    [reconciliationStates.deadLetter]: async () => {
      const serde = new CapturingSerde();
      await factConsumerDeadLetterEncoder(serde)(
        {
          message: {
            topic: 'payments.status-changed',
            partition: 1,
            offset: '77',
            key: null,
            value: Buffer.from([0, 0, 0, 0, 42]),
            timestamp: '1772357400000',
          },
          reason: 'payments.status-changed-value: Avro body does not decode: truncated buffer',
        },
        'reconciliation',
      );
      return serde.only('ledgerline.dead-letter');
    },
  },
};
