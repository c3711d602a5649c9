// What the platform's consumer tests share: a payments.status-changed event to produce, and the
// dead-letter encoder an ExactlyOnceConsumer needs (the generated dead-letter producer behind
// the platform's deadLetterEncoder), as a service wires it.
import { randomUUID } from 'node:crypto';
import type { DeadLetterEncoder } from '../../src/consumer.js';
import { deadLetterEncoder } from '../../src/dead-letter.js';
import type { EventSerde } from '../../src/events/serde.js';
import type { AnyTopic } from '../../src/events/topic.js';
import { ledgerlineDeadLetterProducer } from '@ledgerline/generated/topics';
import type { PaymentStatusChangedInput } from '@ledgerline/generated/avro/types';

/** A PENDING → DEBITED status change of a new payment; `overrides` replace any field. */
export function paymentStatusChange(
  overrides: Partial<PaymentStatusChangedInput> = {},
): PaymentStatusChangedInput {
  const paymentId = overrides.paymentId ?? randomUUID();
  return {
    eventId: randomUUID(),
    correlationId: paymentId,
    occurredAt: new Date(),
    paymentId,
    version: 2,
    from: 'PENDING',
    to: 'DEBITED',
    reason: null,
    rejectionReason: null,
    payerAccountId: randomUUID(),
    payeeAccountId: randomUUID(),
    amountMinor: 1_000,
    currency: 'EUR',
    refundedMinor: 0,
    ...overrides,
  };
}

/** Dead letters of `sourceTopics` encoded for ledgerline.dead-letter under `topicPrefix`. */
export function testDeadLetterEncoder(
  serde: EventSerde,
  topicPrefix: string,
  sourceTopics: readonly AnyTopic[],
): DeadLetterEncoder {
  const deadLetters = ledgerlineDeadLetterProducer(serde, { topicPrefix });
  return deadLetterEncoder({
    serde,
    sourceTopics,
    encode: (key, value) => deadLetters.encode(key, value),
  });
}
