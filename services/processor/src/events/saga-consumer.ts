// Drives payment sagas from the ledger's outcome events. Every batch of a partition is one
// PostgreSQL transaction (ExactlyOnceConsumer): the saga rows, the next commands, the
// status-changed events and the consumer position commit together, so a crash replays the
// batch from the stored position and nothing is applied twice. Outcomes are keyed by payment
// id, so one payment's outcomes arrive in order on one partition.
import type { Kafka } from 'kafkajs';
import { deadLetterEncoder } from '@ledgerline/platform/dead-letter';
import { ExactlyOnceConsumer } from '@ledgerline/platform/consumer';
import type { Pool, Queryable } from '@ledgerline/platform/db';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import type { DecodedMessage, EncodedMessage, RawMessage } from '@ledgerline/platform/events/typed';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { Logger } from '@ledgerline/platform/log';
import type { MetricsRegistry } from '@ledgerline/platform/metrics';
import {
  ledgerlineDeadLetterProducer,
  ledgerPostingRejectedConsumer,
  ledgerStepPostedConsumer,
} from '@ledgerline/generated/topics';
import type { PaymentStepPosted, PostingRejected } from '@ledgerline/generated/avro/types';
import {
  isPaymentStep,
  rejectionReasons,
  transition,
  type RejectionReason,
  type StepOutcome,
} from '../domain/index.js';
import { processorConsumerGroup } from '../config.js';
import { PROCESSOR_SCHEMA } from '../database.js';
import type { ProcessorMetrics } from '../metrics.js';
import { findPayments, updateSagas, type SagaUpdate } from '../store/payments.js';
import type { ProcessorMessages } from './messages.js';
import { prepareTransition } from '../app/saga-transitions.js';

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

/** A ledger outcome as the saga reads it, with what the outputs need to cite it. */
interface LedgerOutcome {
  readonly input: StepOutcome;
  readonly eventId: string;
  readonly detail: string | null;
  /** The original bytes: an outcome that breaks a saga invariant is dead-lettered with them. */
  readonly raw: RawMessage;
}

/** Dead-letters one outcome in the batch's transaction (the consumer context's deadLetter). */
type DeadLetterOutcome = (message: RawMessage, reason: string) => void;

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

/**
 * Applies a batch of outcomes in offset order. One locked read of every payment concerned, the
 * transitions in memory (a payment that appears twice sees its first outcome applied), then
 * one statement for the sagas and one for their outputs: a handful of statements per batch,
 * not three per outcome.
 */
async function applyOutcomes(
  options: SagaConsumerOptions,
  client: Queryable,
  outcomes: readonly LedgerOutcome[],
  deadLetter: DeadLetterOutcome,
): Promise<void> {
  if (outcomes.length === 0) return;
  const paymentIds = [...new Set(outcomes.map((o) => o.input.paymentId))].sort();
  const current = await findPayments(client, paymentIds, { forUpdate: true });
  const readVersion = new Map([...current].map(([id, record]) => [id, record.saga.version]));
  const outputs: EncodedMessage[] = [];
  const now = new Date();
  for (const outcome of outcomes) {
    const { input } = outcome;
    const log = options.log.child({ paymentId: input.paymentId, eventId: outcome.eventId });
    const record = current.get(input.paymentId);
    if (record === undefined) {
      options.metrics.anomaly('PAYMENT_UNKNOWN', 'WARNING');
      log.warn({ step: input.step, sequence: input.sequence }, 'outcome for an unknown payment');
      continue;
    }
    const result = transition(record.saga, input);
    if (result.anomaly !== null) {
      options.metrics.anomaly(result.anomaly.kind, result.anomaly.severity);
      const fields = { anomaly: result.anomaly, state: record.saga.state };
      if (result.anomaly.severity === 'CRITICAL') log.error(fields, result.anomaly.message);
      else log.warn(fields, result.anomaly.message);
      // An outcome refused with a CRITICAL anomaly contradicts what the saga already decided
      // (the ledger said two different things about one step): skipping it silently would
      // leave no trace an operator can replay, so it goes to the dead letter with the reason,
      // in this batch's transaction. COMPENSATION_REJECTED is APPLIED (recorded), not here.
      if (result.disposition === 'IGNORED' && result.anomaly.severity === 'CRITICAL') {
        deadLetter(outcome.raw, sagaInvariantReason(result.anomaly.kind, result.anomaly.message));
      }
    }
    if (result.disposition !== 'APPLIED') {
      log.debug({ disposition: result.disposition }, 'outcome changes nothing');
      continue;
    }
    const prepared = await prepareTransition(
      options.messages,
      record,
      result,
      { causationId: outcome.eventId, correlationId: record.correlationId, occurredAt: now },
      outcome.detail,
    );
    outputs.push(...prepared.messages);
    current.set(input.paymentId, {
      ...record,
      saga: result.saga,
      statusVersion: prepared.statusVersion,
      updatedAt: now,
    });
    for (const change of result.statusChanges) options.metrics.sagaTransition(change.to);
    log.info(
      {
        step: input.step,
        sequence: input.sequence,
        outcome: input.kind,
        from: record.saga.state,
        to: result.saga.state,
        commandIds: prepared.commandIds,
      },
      'saga advanced',
    );
  }
  const updates: SagaUpdate[] = [];
  for (const [paymentId, record] of current) {
    const previousVersion = readVersion.get(paymentId);
    if (previousVersion === undefined || record.saga.version === previousVersion) continue;
    updates.push({
      saga: record.saga,
      previousVersion,
      statusVersion: record.statusVersion,
      updatedAt: record.updatedAt,
    });
  }
  await updateSagas(client, updates);
  await appendToOutbox(client, PROCESSOR_SCHEMA, outputs);
}

/** The dead letter's reason for an outcome that breaks a saga invariant. */
export function sagaInvariantReason(kind: string, message: string): string {
  return `saga invariant broken (${kind}): ${message}`;
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
