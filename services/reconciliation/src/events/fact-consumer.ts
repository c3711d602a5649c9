// The events the checks need, exactly once into the reconciliation schema: posting commands and
// payment requests (ledger.commands), ledger outcomes (ledger.step-posted, ledger.posting-rejected)
// and saga states (payments.status-changed). The account topics carry nothing a check uses yet.
import type { Kafka } from 'kafkajs';
import {
  ExactlyOnceConsumer,
  consumerGroupId,
  type BatchHandler,
} from '@ledgerline/platform/consumer';
import { deadLetterEncoder } from '@ledgerline/platform/dead-letter';
import type { Pool } from '@ledgerline/platform/db';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import type { Logger } from '@ledgerline/platform/log';
import type { MetricsRegistry } from '@ledgerline/platform/metrics';
import type {
  LedgerCommand,
  PaymentStatusChanged,
  PaymentStepPosted,
  PostingRejected,
} from '@ledgerline/generated/avro/types';
import {
  ledgerCommandsTopic,
  ledgerlineDeadLetterProducer,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import {
  commandFacts,
  postedFact,
  rejectedFact,
  statusFact,
  type LedgerOutcomeFact,
  type PaymentRequestFact,
  type PostingCommandFact,
} from '../domain/facts.js';
import { recordFacts, recordPaymentStatus } from '../app/facts.js';
import { RECONCILIATION_SCHEMA } from '../database.js';

export const RECONCILIATION_GROUP = 'reconciliation';

const CONSUMED_TOPICS: readonly AnyTopic[] = [
  ledgerCommandsTopic,
  ledgerStepPostedTopic,
  ledgerPostingRejectedTopic,
  paymentsStatusChangedTopic,
] as AnyTopic[];

export function consumedTopics(topicPrefix: string): AnyTopic[] {
  return CONSUMED_TOPICS.map((t) => prefixedTopic(t, topicPrefix));
}

export interface FactConsumerOptions {
  kafka: Kafka;
  /** reconciliation_app: writes its own schema only. */
  pool: Pool;
  serde: EventSerde;
  log: Logger;
  topicPrefix: string;
  batchSizeMax: number;
  onOutboxWritten?: () => void;
  /** Per-partition lag, position, progress and dead-letter series on the service's registry. */
  metrics?: MetricsRegistry;
}

export function createFactConsumer(options: FactConsumerOptions): ExactlyOnceConsumer {
  const { topicPrefix } = options;
  const handleBatch: BatchHandler = async (messages, context) => {
    const commands: PostingCommandFact[] = [];
    const requests: PaymentRequestFact[] = [];
    const outcomes: LedgerOutcomeFact[] = [];
    const base = context.topic.slice(topicPrefix.length);
    for (const m of messages) {
      // The log-append time of the record: when the platform saw the command.
      const seenAt = new Date(Number(m.timestamp));
      if (base === ledgerCommandsTopic.name) {
        const facts = commandFacts(m.value as LedgerCommand, seenAt);
        if (facts === null) continue;
        commands.push(facts.command);
        if (facts.request) requests.push(facts.request);
      } else if (base === ledgerStepPostedTopic.name) {
        const fact = postedFact(m.value as PaymentStepPosted);
        if (fact) outcomes.push(fact);
      } else if (base === ledgerPostingRejectedTopic.name) {
        const fact = rejectedFact(m.value as PostingRejected);
        if (fact) outcomes.push(fact);
      } else if (base === paymentsStatusChangedTopic.name) {
        await recordPaymentStatus(context.client, statusFact(m.value as PaymentStatusChanged));
      } else {
        throw new Error(`reconciliation does not consume ${context.topic}`);
      }
    }
    await recordFacts(context.client, { commands, requests, outcomes });
  };

  const deadLetters = ledgerlineDeadLetterProducer(options.serde, { topicPrefix });
  const encodeDeadLetter = deadLetterEncoder({
    serde: options.serde,
    sourceTopics: consumedTopics(topicPrefix),
    encode: (key, value) => deadLetters.encode(key, value),
  });

  return new ExactlyOnceConsumer({
    kafka: options.kafka,
    pool: options.pool,
    serde: options.serde,
    log: options.log,
    schema: RECONCILIATION_SCHEMA,
    // Prefixed like the topics, so parallel test runs never share a group.
    groupId: consumerGroupId(RECONCILIATION_GROUP, topicPrefix),
    topics: consumedTopics(topicPrefix),
    handleBatch,
    encodeDeadLetter,
    batchSizeMax: options.batchSizeMax,
    fromBeginning: true,
    ...(options.onOutboxWritten ? { onOutboxWritten: options.onOutboxWritten } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}
