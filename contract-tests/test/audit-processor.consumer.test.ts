// Audit consumes everything the processor publishes into its hash-chained trail. What it relies
// on (eventFacts): the event or command id, the correlation id, and the payment, account and
// transaction ids it indexes by; the union branch names the event type and its producer.
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  ledgerCommandsTopic,
  ledgerlineDeadLetterTopic,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import { eventFacts } from '@ledgerline/audit/domain/keys';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { processorFixture as f } from '../src/providers/processor.js';
import { processorStates } from '../src/states.js';

const pact = new ConsumerMessagePact('audit', 'processor');
afterAll(() => pact.publish());

const envelope = (accountId: string, command: Record<string, unknown>) => ({
  commandId: m.uuid('aa699ecc-091c-4c7f-8420-f462b951f616'),
  correlationId: m.uuid(f.paymentId),
  accountId: m.uuid(accountId),
  command,
});

describe('audit records what the processor publishes', () => {
  it.each([
    {
      state: processorStates.debitRequested,
      branch: 'PaymentRequested',
      accountId: f.payerAccountId,
      linked: {},
      transactionId: null,
    },
    {
      state: processorStates.creditRequested,
      branch: 'CreditStepRequested',
      accountId: f.payeeAccountId,
      linked: { debitTransactionId: m.uuid(f.debitTransactionId) },
      transactionId: f.debitTransactionId,
    },
    {
      state: processorStates.compensationRequested,
      branch: 'CompensationRequested',
      accountId: f.payerAccountId,
      linked: { debitTransactionId: m.uuid(f.debitTransactionId) },
      transactionId: f.debitTransactionId,
    },
    {
      state: processorStates.refundDebitRequested,
      branch: 'RefundRequested',
      accountId: f.payeeAccountId,
      linked: { referencesTransactionId: m.uuid(f.creditTransactionId) },
      transactionId: f.creditTransactionId,
    },
  ])('a $branch command is recorded under its payment and account', async (c) => {
    const facts = await pact.receive(
      {
        state: c.state,
        description: `a payment-step command (${c.branch})`,
        topic: ledgerCommandsTopic,
        key: c.accountId,
        content: envelope(c.accountId, {
          [`ledgerline.payments.v1.${c.branch}`]: { paymentId: m.uuid(f.paymentId), ...c.linked },
        }),
      },
      ({ value }) => eventFacts('ledger.commands', value),
    );
    expect(facts).toMatchObject({
      eventType: `ledgerline.payments.v1.${c.branch}`,
      producer: 'processor',
      paymentId: f.paymentId,
      accountId: c.accountId,
      transactionId: c.transactionId,
    });
  });

  it('a status change is recorded under its payment and the payer', async () => {
    const facts = await pact.receive(
      {
        state: processorStates.paymentDebited,
        description: 'a payment status change',
        topic: paymentsStatusChangedTopic,
        key: f.paymentId,
        content: {
          eventId: m.uuid('1951b66e-0c22-4047-bac8-9c84655f20a6'),
          correlationId: m.uuid(f.paymentId),
          paymentId: m.uuid(f.paymentId),
          payerAccountId: m.uuid(f.payerAccountId),
        },
      },
      ({ value }) => eventFacts('payments.status-changed', value),
    );
    expect(facts).toMatchObject({ paymentId: f.paymentId, accountId: f.payerAccountId });
  });

  it('a processor dead letter is recorded under the consumer that gave up', async () => {
    const facts = await pact.receive(
      {
        state: processorStates.deadLetter,
        description: 'a dead letter from the saga consumer',
        topic: ledgerlineDeadLetterTopic,
        key: 'f67670c5-8c21-49ee-b627-cf0c23eee0de',
        content: {
          eventId: m.uuid('f67670c5-8c21-49ee-b627-cf0c23eee0de'),
          correlationId: m.uuid('f67670c5-8c21-49ee-b627-cf0c23eee0de'),
          consumer: m.string('processor'),
        },
      },
      ({ value }) => eventFacts('ledgerline.dead-letter', value),
    );
    expect(facts).toMatchObject({ eventType: 'ledgerline.platform.v1.DeadLetter' });
  });
});
