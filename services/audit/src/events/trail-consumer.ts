// Every topic into the trail, exactly once. The platform consumer gives us one partition's
// batch inside one PostgreSQL transaction that also stores the position; we turn each message
// into a record and append them to the chain in offset order.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import {
  ExactlyOnceConsumer,
  type BatchHandler,
  type OffsetGap,
} from '@ledgerline/platform/consumer';
import { deadLetterEncoder } from '@ledgerline/platform/dead-letter';
import type { Pool } from '@ledgerline/platform/db';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import type { Logger } from '@ledgerline/platform/log';
import type { MetricsRegistry } from '@ledgerline/platform/metrics';
import {
  allTopics,
  auditCheckpointsProducer,
  auditCheckpointsTopic,
  ledgerlineDeadLetterProducer,
} from '@ledgerline/generated/topics';
import { signCheckpoint, type SigningKey } from '../domain/anchor.js';
import { toJsonValue, type AuditRecordContent, type ChainedRecord } from '../domain/chain.js';
import { baseTopic, eventFacts, UnrecordableEventError } from '../domain/keys.js';
import { AUDIT_SCHEMA } from '../database.js';
import { appendRecords, recordSkippedOffsets } from '../store/trail-store.js';

export const AUDIT_GROUP = 'audit';

export interface TrailConsumerOptions {
  kafka: Kafka;
  /** audit_app: the only role that may append to the trail. */
  pool: Pool;
  serde: EventSerde;
  log: Logger;
  topicPrefix: string;
  checkpointEvery: number;
  batchSizeMax: number;
  /** Signs each checkpoint before it goes to the outbox, then to audit.checkpoints. */
  signingKey: SigningKey;
  onAppended?: (records: readonly ChainedRecord[]) => void;
  onOutboxWritten?: () => void;
  /** Offsets recorded as never seen (committed with the consumer's position). */
  onSkippedOffsets?: (gaps: readonly OffsetGap[]) => void;
  /** Per-partition lag, position, progress and dead-letter series on the service's registry. */
  metrics?: MetricsRegistry;
}

/**
 * Every topic of topics.yaml under the prefix but the audit's own anchor: the checkpoints
 * attest the trail, so recording them in it would only chase its own tail.
 */
export function auditedTopics(topicPrefix: string): AnyTopic[] {
  return allTopics
    .filter((t) => t.name !== auditCheckpointsTopic.name)
    .map((t) => prefixedTopic(t as AnyTopic, topicPrefix));
}

/** The consumer group: prefixed like the topics, so parallel test runs never share a group. */
export function auditGroupId(topicPrefix: string): string {
  return `${topicPrefix}${AUDIT_GROUP}`;
}

export function createTrailConsumer(options: TrailConsumerOptions): ExactlyOnceConsumer {
  const { topicPrefix, log } = options;
  const handleBatch: BatchHandler = async (messages, context) => {
    // One timestamp per batch: the batch is one transaction, so it is recorded at one instant.
    const recordedAt = new Date();
    const contents: AuditRecordContent[] = [];
    for (const m of messages) {
      const topic = baseTopic(m.topic, topicPrefix);
      if (topic === undefined) throw new Error(`${m.topic} is not an audited topic`);
      try {
        contents.push({
          recordId: randomUUID(),
          topic: m.topic,
          partition: m.partition,
          offset: m.offset,
          ...eventFacts(topic, m.value),
          payload: toJsonValue(m.value),
          recordedAt,
        });
      } catch (error) {
        if (!(error instanceof UnrecordableEventError)) throw error;
        context.deadLetter(m.raw, `audit: ${error.message}`);
      }
    }
    const { appended, duplicates, checkpoints } = await appendRecords(
      context.client,
      contents,
      options.checkpointEvery,
    );
    if (checkpoints.length > 0) {
      // Signed here and published through the outbox, in the transaction that wrote the
      // records: a checkpoint is published if and only if the records it attests are stored.
      const signedAt = new Date();
      const encoded = await Promise.all(
        checkpoints.map((c) => {
          const signed = signCheckpoint(options.signingKey, c.sequence, c.hash, signedAt);
          return anchors.encode(signed.eventId, { ...signed, correlationId: signed.eventId });
        }),
      );
      await appendToOutbox(context.client, AUDIT_SCHEMA, encoded);
    }
    if (duplicates > 0) {
      log.info(
        { topic: context.topic, partition: context.partition, duplicates },
        'records already in the trail were skipped',
      );
    }
    options.onAppended?.(appended);
  };

  const anchors = auditCheckpointsProducer(options.serde, { topicPrefix });
  const deadLetters = ledgerlineDeadLetterProducer(options.serde, { topicPrefix });
  const encodeDeadLetter = deadLetterEncoder({
    serde: options.serde,
    sourceTopics: auditedTopics(topicPrefix),
    encode: (key, value) => deadLetters.encode(key, value),
  });

  return new ExactlyOnceConsumer({
    kafka: options.kafka,
    pool: options.pool,
    serde: options.serde,
    log,
    schema: AUDIT_SCHEMA,
    groupId: auditGroupId(topicPrefix),
    topics: auditedTopics(topicPrefix),
    handleBatch,
    encodeDeadLetter,
    batchSizeMax: options.batchSizeMax,
    // One partition at a time: the chain has one writer, and batches never wait on its lock.
    partitionsConsumedConcurrently: 1,
    fromBeginning: true,
    // Every offset accounted for: a record deleted or expired before the audit read it is a
    // hole in the trail that the chain alone cannot show; it is recorded and /v1/verify says so.
    continuity: {
      recordGaps: (client, gaps) => recordSkippedOffsets(client, gaps),
      ...(options.onSkippedOffsets ? { onGapsRecorded: options.onSkippedOffsets } : {}),
    },
    ...(options.onOutboxWritten ? { onOutboxWritten: options.onOutboxWritten } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}
