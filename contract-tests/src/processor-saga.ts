// The processor's saga consumer, run for real on one decoded ledger outcome: its batch handler
// (classify -> load the payment -> transition -> store the saga and its outputs) with a recording
// database instead of PostgreSQL. The outcome mapping (classifyPosted/classifyRejected) is
// private to saga-consumer.ts, so we reach it through the handler the consumer is built with.
import type { Kafka } from 'kafkajs';
import type { ExactlyOnceConsumerOptions } from '@ledgerline/platform/consumer';
import type { Pool } from '@ledgerline/platform/db';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import type { DecodedMessage } from '@ledgerline/platform/events/typed';
import type { Logger } from '@ledgerline/platform/log';
import type { Saga } from '@ledgerline/processor/domain/index';
import { ProcessorMessages } from '@ledgerline/processor/events/messages';
import { createSagaConsumer } from '@ledgerline/processor/events/saga-consumer';
import type { ProcessorMetrics } from '@ledgerline/processor/app/metrics';
import { arrayElements, CapturingSerde, RecordingDb, type ProducedMessage } from './capture.js';
import { paymentRecord } from './providers/processor.js';

export interface SagaRun {
  /** The saga the processor stored, or null when it changed nothing. */
  readonly stored: Saga | null;
  /** What it wrote to its outbox (next ledger commands, status changes). */
  readonly outbox: ProducedMessage[];
  readonly ignored: string[];
}

const silent: Logger = new Proxy({} as Logger, {
  get: (_target, prop) => (prop === 'child' ? () => silent : () => undefined),
});

export async function runSagaConsumer(
  saga: Saga,
  message: { topic: string; key: string; value: unknown },
): Promise<SagaRun> {
  const serde = new CapturingSerde();
  const ignored: string[] = [];
  const metrics = {
    outcomeIgnored: (reason: string) => ignored.push(reason),
    sagaTransition: () => undefined,
    anomaly: (kind: string) => ignored.push(kind),
  } as unknown as ProcessorMetrics;
  const consumer = createSagaConsumer({
    kafka: {} as Kafka,
    pool: {} as Pool,
    serde: serde.asSerde(),
    log: silent,
    topicPrefix: '',
    messages: new ProcessorMessages(serde.asSerde(), ''),
    metrics,
    batchSizeMax: 1,
    onOutboxWritten: () => undefined,
  });
  const { handleBatch } = (consumer as unknown as { options: ExactlyOnceConsumerOptions }).options;
  const record = paymentRecord(saga, 1);
  const db = new RecordingDb((sql) =>
    /FROM processor\.payments/.test(sql)
      ? [
          {
            saga: JSON.parse(JSON.stringify(record.saga)) as unknown,
            description: record.description,
            metadata: record.metadata,
            status_version: record.statusVersion,
            correlation_id: record.correlationId,
            created_at: record.createdAt,
            updated_at: record.updatedAt,
          },
        ]
      : [],
  );
  const decoded = {
    topic: message.topic,
    partition: 0,
    offset: '0',
    key: message.key,
    value: message.value,
    headers: {},
    timestamp: '1772357460000',
    raw: { topic: message.topic, partition: 0, offset: '0', key: null, value: null },
  } as DecodedMessage<AnyTopic>;
  await handleBatch([decoded], {
    client: db.asQueryable(),
    topic: message.topic,
    partitions: [0],
    deadLetter: (_raw, reason) => ignored.push(`dead-letter: ${reason}`),
  });
  const update = db.statements.find((s) => /UPDATE processor\.payments/.test(s.text));
  // The sagas travel as one jsonb[] parameter (one element: the batch holds one outcome).
  const sagas = update === undefined ? [] : arrayElements(String(update.values[3]));
  return {
    stored: sagas[0] === undefined || sagas[0] === null ? null : (JSON.parse(sagas[0]) as Saga),
    outbox: serde.produced,
    ignored,
  };
}
