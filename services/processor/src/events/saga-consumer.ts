// Drives payment sagas from the ledger's outcome events. Every batch of a partition is one
// PostgreSQL transaction (ExactlyOnceConsumer): the saga rows, the next commands, the
// status-changed events and the consumer position commit together, so a crash replays the
// batch from the stored position and nothing is applied twice. Outcomes are keyed by payment
// id, so one payment's outcomes arrive in order on one partition.
import type { Kafka } from 'kafkajs';
import { deadLetterEncoder } from '@ledgerline/platform/dead-letter';
import { ExactlyOnceConsumer } from '@ledgerline/platform/consumer';
import type { Pool } from '@ledgerline/platform/db';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import type { DecodedMessage, RawMessage } from '@ledgerline/platform/events/typed';
import type { Logger } from '@ledgerline/platform/log';
import type { MetricsRegistry } from '@ledgerline/platform/metrics';
import {
  ledgerlineDeadLetterProducer,
  ledgerPostingRejectedConsumer,
  ledgerStepPostedConsumer,
} from '@ledgerline/generated/topics';
import type { PaymentStepPosted, PostingRejected } from '@ledgerline/generated/avro/types';
import { isPaymentStep, rejectionReasons, type RejectionReason } from '../domain/index.js';
import { processorConsumerGroup } from '../config.js';
import { PROCESSOR_SCHEMA } from '../database.js';
import type { ProcessorMetrics } from '../app/metrics.js';
import type { ProcessorMessages } from './messages.js';
import { applyOutcomes, type LedgerOutcome } from '../app/saga-outcomes.js';

export interface SagaConsumerOptions {
  readonly kafka: Kafka;
  readonly pool: Pool;
  readonly serde: EventSerde;
  readonly log: Logger;
  readonly topicPrefix: string;
  readonly messages: ProcessorMessages;
  readonly metrics: ProcessorMetrics;
  readonly batchSizeMax: number;
  readonly onOutboxWritten: () => void;
  /** Per-partition lag, position, progress and dead-letter series on the service's registry. */
  readonly metricsRegistry?: MetricsRegistry;
}

type Classified = { readonly outcome: LedgerOutcome } | { readonly ignored: string };

export function sagaConsumerTopics(serde: EventSerde, topicPrefix: string) {
  return {
    stepPosted: ledgerStepPostedConsumer(serde, { topicPrefix }).topic,
    postingRejected: ledgerPostingRejectedConsumer(serde, { topicPrefix }).topic,
  };
}

export function createSagaConsumer(options: SagaConsumerOptions): ExactlyOnceConsumer {
  const { serde, topicPrefix, log } = options;
  const topics = sagaConsumerTopics(serde, topicPrefix);
  const inputTopics: AnyTopic[] = [topics.stepPosted, topics.postingRejected];
  const classify = (message: DecodedMessage<AnyTopic>): Classified => {
    if (message.topic === topics.stepPosted.name) {
      return classifyPosted(message.value as PaymentStepPosted, message.raw);
    }
    if (message.topic === topics.postingRejected.name) {
      return classifyRejected(message.value as PostingRejected, message.raw);
    }
    throw new Error(`the saga consumer does not read ${message.topic}`);
  };
  return new ExactlyOnceConsumer({
    kafka: options.kafka,
    pool: options.pool,
    serde,
    log,
    schema: PROCESSOR_SCHEMA,
    // Environments sharing a cluster (parallel test files) must not share a group: a member of
    // one would rebalance, or after a crash stall, the others.
    groupId: `${topicPrefix}${processorConsumerGroup}`,
    topics: inputTopics,
    batchSizeMax: options.batchSizeMax,
    encodeDeadLetter: deadLetterEncoder({
      serde,
      sourceTopics: inputTopics,
      encode: (key, value) =>
        ledgerlineDeadLetterProducer(serde, { topicPrefix }).encode(key, value),
    }),
    onOutboxWritten: options.onOutboxWritten,
    ...(options.metricsRegistry ? { metrics: options.metricsRegistry } : {}),
    handleBatch: async (messages, context) => {
      const outcomes: LedgerOutcome[] = [];
      for (const message of messages) {
        const classified = classify(message);
        if ('ignored' in classified) options.metrics.outcomeIgnored(classified.ignored);
        else outcomes.push(classified.outcome);
      }
      await applyOutcomes(options, context.client, outcomes, (raw, reason) =>
        context.deadLetter(raw, reason),
      );
    },
  });
}

function classifyPosted(event: PaymentStepPosted, raw: RawMessage): Classified {
  if (event.paymentId === null) return { ignored: 'no-payment' };
  if (!isPaymentStep(event.step)) return { ignored: 'not-a-payment-step' };
  return {
    outcome: {
      eventId: event.eventId,
      detail: null,
      raw,
      input: {
        kind: 'StepPosted',
        paymentId: event.paymentId,
        step: event.step,
        sequence: event.sequence,
        transactionId: event.transactionId,
        postedAt: event.postedAt.toISOString(),
      },
    },
  };
}

function classifyRejected(event: PostingRejected, raw: RawMessage): Classified {
  if (event.paymentId === null) return { ignored: 'no-payment' };
  if (event.step === null || !isPaymentStep(event.step)) return { ignored: 'not-a-payment-step' };
  return {
    outcome: {
      eventId: event.eventId,
      detail: event.detail,
      raw,
      input: {
        kind: 'StepRejected',
        paymentId: event.paymentId,
        step: event.step,
        sequence: event.sequence,
        reason: sagaRejectionReason(event.reason),
        // The rejection carries no posting time: the ledger's decision time stands in for it.
        rejectedAt: event.occurredAt.toISOString(),
      },
    },
  };
}

// The Avro enum is open (it may grow); the saga knows a closed list, OTHER for the rest.
function sagaRejectionReason(reason: string): RejectionReason {
  return (rejectionReasons as readonly string[]).includes(reason)
    ? (reason as RejectionReason)
    : 'OTHER';
}
