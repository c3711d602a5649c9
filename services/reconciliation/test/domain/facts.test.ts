// How events become the facts the checks use: commands and outcomes meet on the same step key.
import { describe, expect, it } from '@jest/globals';
import type { LedgerCommand, PostingRejected } from '@ledgerline/generated/avro/types';
import { commandFacts, postedFact, rejectedFact, stepKeyOf } from '../../src/domain/facts.js';

const PAYMENT = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const PAYER = '0b3f8d6e-2f44-4c55-9a1b-1f0c2e3d4a5b';
const PAYEE = '2c4e6f8a-0b2c-4d6e-8f0a-2b4c6d8e0f2a';
const AT = new Date('2026-01-15T10:00:00.000Z');

function envelope(command: LedgerCommand['command'], accountId = PAYER): LedgerCommand {
  return {
    commandId: '9c1e3f5a-7b9d-4e1f-8a3b-5c7d9e1f3a5b',
    correlationId: PAYMENT,
    causationId: null,
    occurredAt: AT,
    accountId,
    command,
  };
}

describe('facts from events', () => {
  it('a PaymentRequested is the DEBIT step and the payment request', () => {
    const facts = commandFacts(
      envelope({
        'ledgerline.payments.v1.PaymentRequested': {
          paymentId: PAYMENT,
          payerAccountId: PAYER,
          payeeAccountId: PAYEE,
          amountMinor: 12_500,
          currency: 'EUR',
          description: null,
          metadata: {},
        },
      }),
      AT,
    );
    expect(facts?.command).toMatchObject({
      stepKey: `${PAYMENT}:DEBIT:0`,
      step: 'DEBIT',
      amountMinor: 12_500,
    });
    expect(facts?.request).toMatchObject({
      paymentId: PAYMENT,
      payerAccountId: PAYER,
      requestedAt: AT,
    });
  });

  it('refund steps keep their sequence; adjustments are keyed by adjustment id', () => {
    const refund = commandFacts(
      envelope({
        'ledgerline.payments.v1.RefundRequested': {
          paymentId: PAYMENT,
          refundId: PAYEE,
          sequence: 2,
          step: 'REFUND_CREDIT',
          payerAccountId: PAYER,
          payeeAccountId: PAYEE,
          amountMinor: 100,
          currency: 'EUR',
          referencesTransactionId: PAYEE,
        },
      }),
      AT,
    );
    expect(refund?.command.stepKey).toBe(`${PAYMENT}:REFUND_CREDIT:2`);
    expect(stepKeyOf(null, 'ADJUSTMENT', 0, PAYEE)).toBe(`adjustment:${PAYEE}`);
    expect(stepKeyOf(null, 'ADJUSTMENT', 0, null)).toBeNull();
  });

  it('account commands are not postings', () => {
    expect(
      commandFacts(
        envelope({
          'ledgerline.ledger.v1.AccountStatusChangeRequested': {
            accountId: PAYER,
            to: 'FROZEN',
            reason: 'test',
          },
        }),
        AT,
      ),
    ).toBeNull();
  });

  it('posted and rejected outcomes carry the same step key as the command', () => {
    const posted = postedFact({
      eventId: PAYEE,
      correlationId: PAYMENT,
      causationId: null,
      occurredAt: AT,
      paymentId: PAYMENT,
      refundId: null,
      adjustmentId: null,
      step: 'CREDIT',
      sequence: 0,
      transactionId: PAYEE,
      accountId: PAYEE,
      amountMinor: 5,
      currency: 'EUR',
      entries: [],
      referencesTransactionId: null,
      balances: [],
      postedAt: AT,
    });
    expect(posted?.stepKey).toBe(`${PAYMENT}:CREDIT:0`);
    const rejected: PostingRejected = {
      eventId: PAYER,
      correlationId: PAYMENT,
      causationId: null,
      occurredAt: AT,
      paymentId: PAYMENT,
      refundId: null,
      adjustmentId: null,
      step: 'DEBIT',
      sequence: 0,
      transactionId: null,
      accountId: PAYER,
      reason: 'INSUFFICIENT_FUNDS',
      detail: 'no money',
    };
    expect(rejectedFact(rejected)).toMatchObject({
      stepKey: `${PAYMENT}:DEBIT:0`,
      outcome: 'REJECTED',
      reason: 'INSUFFICIENT_FUNDS',
    });
    expect(rejectedFact({ ...rejected, step: null })).toBeNull();
  });
});
