// Every topic into the trail, exactly once. The platform consumer gives us one partition's
// batch inside one PostgreSQL transaction that also stores the position; app/record-events.ts
// turns the messages into records appended to the chain in offset order.
import type { Kafka } from 'kafkajs';
import {
  ExactlyOnceConsumer,
  type BatchHandler,
  type OffsetGap,
} from '@ledgerline/platform/consumer';
import { deadLetterEncoder } from '@ledgerline/platform/dead-letter';
import type { Pool } from '@ledgerline/platform/db';
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
import type { SigningKey } from '../domain/anchor.js';
import type { ChainedRecord } from '../domain/chain.js';
import { AUDIT_SCHEMA } from '../database.js';
import { recordEvents, recordSkippedOffsets } from '../app/record-events.js';

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
    await recordEvents(context.client, messages, {
      topicPrefix,
      checkpointEvery: options.checkpointEvery,
      signingKey: options.signingKey,
      encodeCheckpoint: (signed) =>
        anchors.encode(signed.eventId, { ...signed, correlationId: signed.eventId }),
      deadLetter: (message, reason) => context.deadLetter(message, reason),
      log,
      ...(options.onAppended ? { onAppended: options.onAppended } : {}),
    });
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
