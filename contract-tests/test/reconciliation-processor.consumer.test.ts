// Reconciliation consumes the processor's payment-step commands (every request must get exactly
// one terminal outcome) and its saga states (clearing must net to zero for terminal payments).
import { afterAll, describe, expect, it } from '@jest/globals';
import { ledgerCommandsTopic, paymentsStatusChangedTopic } from '@ledgerline/generated/topics';
import { commandFacts, statusFact } from '@ledgerline/reconciliation/domain/facts';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { processorFixture as f } from '../src/providers/processor.js';
import { processorStates } from '../src/states.js';

const pact = new ConsumerMessagePact('reconciliation', 'processor');
afterAll(() => pact.publish());

const SEEN_AT = new Date('2026-03-01T09:31:00.000Z');
const envelope = (accountId: string, command: Record<string, unknown>) => ({
  commandId: m.uuid('aa699ecc-091c-4c7f-8420-f462b951f616'),
  accountId: m.uuid(accountId),
  command,
});
const money = (amountMinor: number) => ({
  amountMinor: m.integer(amountMinor),
  currency: m.currency('EUR'),
});

describe('reconciliation consumes what the processor publishes', () => {
  it('a DEBIT command records the payment request and its DEBIT step key', async () => {
    const facts = await pact.receive(
      {
        state: processorStates.debitRequested,
        description: 'a DEBIT step command (PaymentRequested)',
        topic: ledgerCommandsTopic,
        key: f.payerAccountId,
        content: envelope(f.payerAccountId, {
          'ledgerline.payments.v1.PaymentRequested': {
            paymentId: m.uuid(f.paymentId),
            payerAccountId: m.uuid(f.payerAccountId),
            payeeAccountId: m.uuid(f.payeeAccountId),
            ...money(f.amountMinor),
          },
        }),
      },
      ({ value }) => commandFacts(value, SEEN_AT),
    );
    expect(facts?.command.stepKey).toBe(`${f.paymentId}:DEBIT:0`);
    expect(facts?.request).toMatchObject({ payeeAccountId: f.payeeAccountId, amountMinor: 2_500 });
  });

  it.each([
    {
      state: processorStates.creditRequested,
      branch: 'CreditStepRequested',
      step: 'CREDIT',
      accountId: f.payeeAccountId,
    },
    {
      state: processorStates.compensationRequested,
      branch: 'CompensationRequested',
      step: 'COMPENSATION',
      accountId: f.payerAccountId,
    },
  ])('a $step command records its step key', async (c) => {
    const facts = await pact.receive(
      {
        state: c.state,
        description: `a ${c.step} step command (${c.branch})`,
        topic: ledgerCommandsTopic,
        key: c.accountId,
        content: envelope(c.accountId, {
          [`ledgerline.payments.v1.${c.branch}`]: {
            paymentId: m.uuid(f.paymentId),
            ...money(f.amountMinor),
          },
        }),
      },
      ({ value }) => commandFacts(value, SEEN_AT),
    );
    expect(facts?.command).toMatchObject({ stepKey: `${f.paymentId}:${c.step}:0`, step: c.step });
  });

  it('a refund step command records the refund step key with its sequence', async () => {
    const facts = await pact.receive(
      {
        state: processorStates.refundDebitRequested,
        description: 'a REFUND_DEBIT step command (RefundRequested)',
        topic: ledgerCommandsTopic,
        key: f.payeeAccountId,
        content: envelope(f.payeeAccountId, {
          'ledgerline.payments.v1.RefundRequested': {
            paymentId: m.uuid(f.paymentId),
            step: m.oneOf(['REFUND_DEBIT', 'REFUND_CREDIT', 'REFUND_COMPENSATION'], 'REFUND_DEBIT'),
            sequence: m.integer(1),
            ...money(1_000),
          },
        }),
      },
      ({ value }) => commandFacts(value, SEEN_AT),
    );
    expect(facts?.command.stepKey).toBe(`${f.paymentId}:REFUND_DEBIT:1`);
  });

  it('a status change records the payment state, version and refunded amount', async () => {
    const fact = await pact.receive(
      {
        state: processorStates.paymentDebited,
        description: 'a payment status change',
        topic: paymentsStatusChangedTopic,
        key: f.paymentId,
        content: {
          paymentId: m.uuid(f.paymentId),
          version: m.integer(2),
          to: m.string('DEBITED'),
          ...money(f.amountMinor),
          refundedMinor: m.integer(0),
          occurredAt: m.instant('2026-03-01T09:35:00.000Z'),
        },
      },
      ({ value }) => statusFact(value),
    );
    expect(fact).toMatchObject({ status: 'DEBITED', version: 2, refundedMinor: 0 });
  });
});
