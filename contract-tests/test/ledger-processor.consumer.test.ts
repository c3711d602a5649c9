// The ledger consumes the processor's payment-step commands on ledger.commands. What it relies
// on: the key equals the envelope's accountId and the account the step touches; commandId and
// correlationId (carried into outcomes); per step the payment, the account, the money, and the
// transaction a step follows (credit, compensation) or the refund it belongs to; for a payment or
// refund both parties, since one whose payer is its payee is refused.
import { afterAll, describe, expect, it } from '@jest/globals';
import { ledgerCommandsTopic } from '@ledgerline/generated/topics';
import { mapLedgerCommand } from '@ledgerline/ledger/events/commands';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { processorFixture as f } from '../src/providers/processor.js';
import { processorStates } from '../src/states.js';

const pact = new ConsumerMessagePact('ledger', 'processor');
afterAll(() => pact.publish());

/** Kafka LogAppendTime of the record: the ledger's posting time. */
const APPENDED_AT = '1772357460000';

const envelope = (accountId: string, command: Record<string, unknown>) => ({
  commandId: m.uuid('aa699ecc-091c-4c7f-8420-f462b951f616'),
  correlationId: m.uuid(f.paymentId),
  accountId: m.uuid(accountId),
  command,
});

const money = { amountMinor: m.integer(f.amountMinor), currency: m.currency('EUR') };

describe('ledger consumes payment-step commands from the processor', () => {
  it('a DEBIT step command maps to a DEBIT posting on the payer', async () => {
    const mapping = await pact.receive(
      {
        state: processorStates.debitRequested,
        description: 'a DEBIT step command (PaymentRequested)',
        topic: ledgerCommandsTopic,
        key: f.payerAccountId,
        content: envelope(f.payerAccountId, {
          'ledgerline.payments.v1.PaymentRequested': {
            paymentId: m.uuid(f.paymentId),
            payerAccountId: m.uuid(f.payerAccountId),
            // Read only to refuse a payment whose payer is its payee.
            payeeAccountId: m.uuid(f.payeeAccountId),
            ...money,
          },
        }),
      },
      ({ key, value }) => mapLedgerCommand(key, value, APPENDED_AT),
    );
    expect(mapping).toMatchObject({
      ok: true,
      mapped: {
        command: { kind: 'DEBIT', payerAccountId: f.payerAccountId, amountMinor: f.amountMinor },
        meta: { postedAt: new Date(Number(APPENDED_AT)) },
      },
    });
  });

  it('a CREDIT step command maps to a CREDIT posting on the payee, citing the DEBIT', async () => {
    const mapping = await pact.receive(
      {
        state: processorStates.creditRequested,
        description: 'a CREDIT step command (CreditStepRequested)',
        topic: ledgerCommandsTopic,
        key: f.payeeAccountId,
        content: envelope(f.payeeAccountId, {
          'ledgerline.payments.v1.CreditStepRequested': {
            paymentId: m.uuid(f.paymentId),
            payeeAccountId: m.uuid(f.payeeAccountId),
            ...money,
            debitTransactionId: m.uuid(f.debitTransactionId),
          },
        }),
      },
      ({ key, value }) => mapLedgerCommand(key, value, APPENDED_AT),
    );
    expect(mapping).toMatchObject({
      ok: true,
      mapped: { command: { kind: 'CREDIT', debitTransactionId: f.debitTransactionId } },
    });
  });

  it('a COMPENSATION command maps to a posting back to the payer', async () => {
    const mapping = await pact.receive(
      {
        state: processorStates.compensationRequested,
        description: 'a COMPENSATION step command (CompensationRequested)',
        topic: ledgerCommandsTopic,
        key: f.payerAccountId,
        content: envelope(f.payerAccountId, {
          'ledgerline.payments.v1.CompensationRequested': {
            paymentId: m.uuid(f.paymentId),
            payerAccountId: m.uuid(f.payerAccountId),
            ...money,
            debitTransactionId: m.uuid(f.debitTransactionId),
          },
        }),
      },
      ({ key, value }) => mapLedgerCommand(key, value, APPENDED_AT),
    );
    expect(mapping).toMatchObject({ ok: true, mapped: { command: { kind: 'COMPENSATION' } } });
  });

  it.each([
    {
      state: processorStates.refundDebitRequested,
      step: 'REFUND_DEBIT',
      accountId: f.payeeAccountId,
    },
    {
      state: processorStates.refundCreditRequested,
      step: 'REFUND_CREDIT',
      accountId: f.payerAccountId,
    },
  ])('a $step command maps to that refund step of refund 1', async (c) => {
    const mapping = await pact.receive(
      {
        state: c.state,
        description: `a ${c.step} step command (RefundRequested)`,
        topic: ledgerCommandsTopic,
        key: c.accountId,
        content: envelope(c.accountId, {
          'ledgerline.payments.v1.RefundRequested': {
            paymentId: m.uuid(f.paymentId),
            refundId: m.uuid(f.refundId),
            sequence: m.integer(1),
            step: m.oneOf(['REFUND_DEBIT', 'REFUND_CREDIT', 'REFUND_COMPENSATION'], c.step),
            // The side the step touches; both, to refuse a refund whose payer is its payee.
            payerAccountId: m.uuid(f.payerAccountId),
            payeeAccountId: m.uuid(f.payeeAccountId),
            amountMinor: m.integer(1_000),
            currency: m.currency('EUR'),
          },
        }),
      },
      ({ key, value }) => mapLedgerCommand(key, value, APPENDED_AT),
    );
    expect(mapping).toMatchObject({
      ok: true,
      mapped: { command: { kind: c.step, sequence: 1 }, meta: { refundId: f.refundId } },
    });
  });
});
