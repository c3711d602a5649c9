// The ledger's consumer of ledger.commands: decodes a partition batch into domain commands
// (dead-lettering what is not a command the ledger can answer) and applies it with
// app/apply-batch.ts in the consumer's PostgreSQL transaction.
import type { BatchContext, DeadLetterEncoder } from '@ledgerline/platform/consumer';
import { deadLetterEncoder } from '@ledgerline/platform/dead-letter';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { DecodedMessage, EncodedMessage } from '@ledgerline/platform/events/typed';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import type { Logger } from '@ledgerline/platform/log';
import {
  ledgerAccountOpenedProducer,
  ledgerAccountStatusChangedProducer,
  ledgerCommandsProducer,
  ledgerPostingRejectedProducer,
  ledgerStepPostedProducer,
  ledgerlineDeadLetterProducer,
  type LedgerCommandsTopic,
} from '@ledgerline/generated/topics';
import { applyCommandBatch } from '../app/apply-batch.js';
import type { BatchCommand, BatchEffects } from '../domain/batch-effects.js';
import { mapLedgerCommand } from './commands.js';
import type { OutcomeEvent } from '../domain/outcome-events.js';

export interface CommandConsumerOptions {
  serde: EventSerde;
  topicPrefix: string;
  log: Logger;
  onEffects?: (effects: BatchEffects, commands: number) => void;
}

export function createOutcomeEncoder(serde: EventSerde, topicPrefix: string) {
  const options = { topicPrefix };
  const stepPosted = ledgerStepPostedProducer(serde, options);
  const postingRejected = ledgerPostingRejectedProducer(serde, options);
  const accountOpened = ledgerAccountOpenedProducer(serde, options);
  const statusChanged = ledgerAccountStatusChangedProducer(serde, options);
  return (event: OutcomeEvent): Promise<EncodedMessage> => {
    switch (event.topic) {
      case 'step-posted':
        return stepPosted.encode(event.key, event.value);
      case 'posting-rejected':
        return postingRejected.encode(event.key, event.value);
      case 'account-opened':
        return accountOpened.encode(event.key, event.value);
      case 'account-status-changed':
        return statusChanged.encode(event.key, event.value);
    }
  };
}

export function createBatchHandler(options: CommandConsumerOptions) {
  const { serde, topicPrefix, log } = options;
  const encodeOutcome = createOutcomeEncoder(serde, topicPrefix);

  return async (messages: DecodedMessage<AnyTopic>[], context: BatchContext): Promise<void> => {
    const batch: BatchCommand[] = [];
    for (const message of messages as unknown as DecodedMessage<LedgerCommandsTopic>[]) {
      const mapping = mapLedgerCommand(message.key, message.value, message.timestamp);
      if (mapping.ok) {
        batch.push({
          ...mapping.mapped,
          source: { topic: message.topic, partition: message.partition, offset: message.offset },
        });
        continue;
      }
      context.deadLetter(message.raw, mapping.reason);
    }
    if (batch.length === 0) return;
    const effects = await applyCommandBatch(context.client, batch, encodeOutcome);
    log.debug(
      { partitions: context.partitions, commands: batch.length, postings: effects.postings.length },
      'batch applied',
    );
    options.onEffects?.(effects, batch.length);
  };
}

export function createDeadLetterEncoder(serde: EventSerde, topicPrefix: string): DeadLetterEncoder {
  const deadLetters = ledgerlineDeadLetterProducer(serde, { topicPrefix });
  return deadLetterEncoder({
    serde,
    sourceTopics: [ledgerCommandsProducer(serde, { topicPrefix }).topic],
    encode: (key, value) => deadLetters.encode(key, value),
  });
}
