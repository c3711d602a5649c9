// The processor consumes the ledger's outcomes to drive payment sagas. What it relies on: which
// payment, which step (and sequence) the outcome answers, the posted transaction id and time,
// or the rejection reason and time; and eventId, which it cites as the cause of what it emits.
import { afterAll, describe, expect, it } from '@jest/globals';
import { ledgerPostingRejectedTopic, ledgerStepPostedTopic } from '@ledgerline/generated/topics';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { runSagaConsumer } from '../src/processor-saga.js';
import { outcomes, processorFixture as f, sagaAfter } from '../src/providers/processor.js';
import { ledgerStates } from '../src/states.js';

const PAYMENT_STEPS = [
  'DEBIT',
  'CREDIT',
  'COMPENSATION',
  'REFUND_DEBIT',
  'REFUND_CREDIT',
  'REFUND_COMPENSATION',
] as const;

const pact = new ConsumerMessagePact('processor', 'ledger');
afterAll(() => pact.publish());

describe('processor consumes ledger outcomes', () => {
  it('a posted DEBIT moves the payment to DEBITED and requests the CREDIT step', async () => {
    const run = await pact.receive(
      {
        state: ledgerStates.debitPosted,
        description: "a payment's DEBIT step posted",
        topic: ledgerStepPostedTopic,
        key: f.paymentId,
        content: {
          eventId: m.uuid('4f77b7e7-66cb-503b-9d8e-ab44d4a99c00'),
          paymentId: m.uuid(f.paymentId),
          step: m.oneOf(PAYMENT_STEPS, 'DEBIT'),
          sequence: m.integer(0),
          transactionId: m.uuid(f.debitTransactionId),
          postedAt: m.instant('2026-03-01T09:31:00.000Z'),
        },
      },
      ({ topic, key, value }) => runSagaConsumer(sagaAfter().saga, { topic, key, value }),
    );
    expect(run.ignored).toEqual([]);
    expect(run.stored?.state).toBe('DEBITED');
    expect(run.outbox.map((o) => o.topic.name)).toEqual([
      'ledger.commands',
      'payments.status-changed',
    ]);
    expect(run.outbox[0]!.value).toMatchObject({
      accountId: f.payeeAccountId,
      command: { 'ledgerline.payments.v1.CreditStepRequested': { amountMinor: f.amountMinor } },
    });
  });

  it('a rejected CREDIT step starts the compensation of the payer', async () => {
    const run = await pact.receive(
      {
        state: ledgerStates.creditRejected,
        description: "a payment's CREDIT step rejected",
        topic: ledgerPostingRejectedTopic,
        key: f.paymentId,
        content: {
          eventId: m.uuid('aee05ddc-cf21-5c59-85e3-acac78e3dfca'),
          paymentId: m.uuid(f.paymentId),
          step: m.oneOf(PAYMENT_STEPS, 'CREDIT'),
          sequence: m.integer(0),
          // An open enum for the processor: symbols it does not know count as OTHER.
          reason: m.string('ACCOUNT_FROZEN'),
          detail: m.string('account 66666666-7777-4888-9999-aaaaaaaaaaaa is FROZEN'),
          occurredAt: m.instant('2026-03-01T09:32:00.000Z'),
        },
      },
      ({ topic, key, value }) =>
        runSagaConsumer(sagaAfter(outcomes.debitPosted).saga, { topic, key, value }),
    );
    expect(run.ignored).toEqual([]);
    expect(run.stored?.state).toBe('COMPENSATING');
    expect(run.outbox[0]!.value).toMatchObject({
      accountId: f.payerAccountId,
      command: {
        'ledgerline.payments.v1.CompensationRequested': {
          amountMinor: f.amountMinor,
          debitTransactionId: f.debitTransactionId,
        },
      },
    });
  });
});
