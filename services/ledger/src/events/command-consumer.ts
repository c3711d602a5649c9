// The ledger's consumer of ledger.commands: per partition batch, in the consumer's PostgreSQL
// transaction, load -> fold (decideInBatch) -> persist -> outcome events into the outbox.
import type { BatchContext, DeadLetterEncoder } from '@ledgerline/platform/consumer';
import { appendToOutbox } from '@ledgerline/platform/outbox';
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
import { LEDGER_SCHEMA } from '../database.js';
import { loadBatch, persistBatch, persistSystemBalanceMoves } from '../store/batch-store.js';
import { applyCommands, type BatchCommand, type BatchEffects } from './apply-commands.js';
import { mapLedgerCommand } from './commands.js';
import type { OutcomeEvent } from './outcomes.js';

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
    const { view, stored } = await loadBatch(
      context.client,
      batch.map((c) => c.command),
    );
    const effects = applyCommands(view, stored, batch);
    await persistBatch(context.client, effects, view);
    const encoded = await Promise.all(effects.events.map(encodeOutcome));
    await appendToOutbox(context.client, LEDGER_SCHEMA, encoded);
    await persistSystemBalanceMoves(context.client, effects, view);
    log.debug(
      { partition: context.partition, commands: batch.length, postings: effects.postings.length },
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
