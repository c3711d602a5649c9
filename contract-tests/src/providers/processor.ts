// The processor as a provider: its real saga (startSaga/transition), its real message builders
// (ProcessorMessages, the outputs of storeTransition) and its real dead-letter encoder build
// every message its consumers' pacts name.
import type { DeadLetterEncoder, ExactlyOnceConsumerOptions } from '@ledgerline/platform/consumer';
import type { Kafka } from 'kafkajs';
import type { Pool } from '@ledgerline/platform/db';
import type { Logger } from '@ledgerline/platform/log';
import {
  startSaga,
  transition,
  type PaymentIntent,
  type Saga,
  type SagaInput,
  type TransitionResult,
  type Cause,
} from '@ledgerline/processor/domain/index';
import { ProcessorMessages } from '@ledgerline/processor/events/messages';
import { storeTransition } from '@ledgerline/processor/app/saga-transitions';
import { createSagaConsumer } from '@ledgerline/processor/events/saga-consumer';
import type { ProcessorMetrics } from '@ledgerline/processor/app/metrics';
import type { PaymentRecord } from '@ledgerline/processor/store/payments';
import { CapturingSerde, RecordingDb, type ProducedMessage } from '../capture.js';
import { processorStates } from '../states.js';
import { consoleStateHandlers } from './console-states.js';
import type { ProviderDefinition } from '../verify.js';

/** One payment the scenarios walk through; ids are fixed so messages are reproducible. */
export const processorFixture = {
  paymentId: '0a6f4c8e-5b1d-4e2a-9c3f-7d8e9f0a1b2c',
  payerAccountId: '11111111-2222-4333-8444-555555555555',
  payeeAccountId: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  refundId: 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e',
  debitTransactionId: 'd0d0d0d0-1111-5222-8333-444444444444',
  creditTransactionId: 'c0c0c0c0-1111-5222-8333-444444444444',
  refundDebitTransactionId: 'e0e0e0e0-1111-5222-8333-444444444444',
  amountMinor: 2_500,
  currency: 'EUR',
  acceptedAt: '2026-03-01T09:30:00.000Z',
} as const;

const f = processorFixture;

export const intent: PaymentIntent = {
  paymentId: f.paymentId,
  payerAccountId: f.payerAccountId,
  payeeAccountId: f.payeeAccountId,
  amountMinor: f.amountMinor,
  currency: f.currency,
  acceptedAt: f.acceptedAt,
};

const at = (minute: number) => `2026-03-01T09:${String(30 + minute).padStart(2, '0')}:00.000Z`;

export const outcomes = {
  debitPosted: {
    kind: 'StepPosted',
    paymentId: f.paymentId,
    step: 'DEBIT',
    sequence: 0,
    transactionId: f.debitTransactionId,
    postedAt: at(1),
  },
  creditPosted: {
    kind: 'StepPosted',
    paymentId: f.paymentId,
    step: 'CREDIT',
    sequence: 0,
    transactionId: f.creditTransactionId,
    postedAt: at(2),
  },
  creditRejected: {
    kind: 'StepRejected',
    paymentId: f.paymentId,
    step: 'CREDIT',
    sequence: 0,
    reason: 'ACCOUNT_FROZEN',
    rejectedAt: at(2),
  },
  refundRequested: {
    kind: 'RefundRequested',
    paymentId: f.paymentId,
    refundId: f.refundId,
    sequence: 1,
    amountMinor: 1_000,
    requestedAt: at(3),
  },
  refundDebitPosted: {
    kind: 'StepPosted',
    paymentId: f.paymentId,
    step: 'REFUND_DEBIT',
    sequence: 1,
    transactionId: f.refundDebitTransactionId,
    postedAt: at(4),
  },
} as const satisfies Record<string, SagaInput>;

/** The saga after the inputs, each through the real transition function. */
export function sagaAfter(...inputs: SagaInput[]): { saga: Saga; last: TransitionResult } {
  let last = startSaga(intent);
  for (const input of inputs) {
    last = transition(last.saga, input);
    if (last.disposition !== 'APPLIED') throw new Error(`${input.kind} was ${last.disposition}`);
  }
  return { saga: last.saga, last };
}

export function paymentRecord(saga: Saga, statusVersion: number): PaymentRecord {
  return {
    saga,
    description: 'Invoice 2026-0042',
    metadata: { invoice: '2026-0042' },
    statusVersion,
    correlationId: f.paymentId,
    createdAt: new Date(f.acceptedAt),
    updatedAt: new Date(f.acceptedAt),
  };
}

const cause = (causationId: string | null): Cause => ({
  causationId,
  correlationId: f.paymentId,
  occurredAt: new Date(at(5)),
});

/** The outputs of one applied input, exactly as the saga consumer stores them in its outbox. */
async function afterInput(previous: SagaInput[], input: SagaInput): Promise<CapturingSerde> {
  const before = sagaAfter(...previous).saga;
  const result = transition(before, input);
  const serde = new CapturingSerde();
  await storeTransition(
    new RecordingDb().asQueryable(),
    new ProcessorMessages(serde.asSerde(), ''),
    paymentRecord(before, 1 + previous.length),
    result,
    cause('5e5e5e5e-0000-4000-8000-000000000001'),
    input.kind === 'StepRejected' ? `account ${f.payeeAccountId} is frozen` : null,
  );
  return serde;
}

/**
 * The saga consumer's dead-letter encoder. It is private to createSagaConsumer, so we build
 * the consumer (nothing connects until start()) and take the encoder from its options.
 * Refactor wanted: export it from saga-consumer.ts (see the report).
 */
export function processorDeadLetterEncoder(serde: CapturingSerde): DeadLetterEncoder {
  const consumer = createSagaConsumer({
    kafka: {} as Kafka,
    pool: {} as Pool,
    serde: serde.asSerde(),
    log: {} as Logger,
    topicPrefix: '',
    messages: new ProcessorMessages(serde.asSerde(), ''),
    metrics: {} as ProcessorMetrics,
    batchSizeMax: 1,
    onOutboxWritten: () => undefined,
  });
  return (consumer as unknown as { options: ExactlyOnceConsumerOptions }).options.encodeDeadLetter;
}

const only = (serde: CapturingSerde, topic: string): ProducedMessage => serde.only(topic);

export const processorProvider: ProviderDefinition = {
  name: 'processor',
  http: { service: 'processor', states: consoleStateHandlers },
  scenarios: {
    [processorStates.debitRequested]: async () => {
      // As createPayment does: the DEBIT command of a new saga, encoded by ProcessorMessages.
      const started = startSaga(intent);
      const serde = new CapturingSerde();
      const record = paymentRecord(started.saga, 1);
      await new ProcessorMessages(serde.asSerde(), '').encodeCommand(
        started.saga,
        started.commands[0]!,
        cause(null),
        record,
      );
      return only(serde, 'ledger.commands');
    },
    [processorStates.creditRequested]: async () =>
      only(await afterInput([], outcomes.debitPosted), 'ledger.commands'),
    [processorStates.compensationRequested]: async () =>
      only(await afterInput([outcomes.debitPosted], outcomes.creditRejected), 'ledger.commands'),
    [processorStates.refundDebitRequested]: async () =>
      only(
        await afterInput([outcomes.debitPosted, outcomes.creditPosted], outcomes.refundRequested),
        'ledger.commands',
      ),
    [processorStates.refundCreditRequested]: async () =>
      only(
        await afterInput(
          [outcomes.debitPosted, outcomes.creditPosted, outcomes.refundRequested],
          outcomes.refundDebitPosted,
        ),
        'ledger.commands',
      ),
    [processorStates.paymentDebited]: async () =>
      only(await afterInput([], outcomes.debitPosted), 'payments.status-changed'),
    [processorStates.deadLetter]: async () => {
      const serde = new CapturingSerde();
      await processorDeadLetterEncoder(serde)(
        {
          message: {
            topic: 'ledger.step-posted',
            partition: 2,
            offset: '42',
            key: Buffer.from('not avro'),
            value: Buffer.from([0, 0, 0, 0, 99, 1, 2]),
            timestamp: '1772357400000',
          },
          reason: 'ledger.step-posted-value: unknown writer schema id 99',
        },
        'processor',
      );
      return only(serde, 'ledgerline.dead-letter');
    },
  },
};
