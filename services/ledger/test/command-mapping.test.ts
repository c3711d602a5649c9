// Avro LedgerCommand -> domain command: the partition key, the envelope and the inner command must
// name the same account, or the message cannot be decided deterministically and is dead-lettered.
import { randomUUID } from 'node:crypto';
import type { LedgerCommand } from '@ledgerline/generated/avro/types';
import { mapLedgerCommand } from '../src/events/commands.js';

const TIMESTAMP = String(Date.UTC(2026, 0, 15, 13, 0, 0));

function envelope(accountId: string, command: LedgerCommand['command']): LedgerCommand {
  return {
    commandId: randomUUID(),
    correlationId: randomUUID(),
    causationId: null,
    occurredAt: new Date(),
    accountId,
    command,
  };
}

test('an account opened without a floor gets floor 0 (no overdraft), and posted_at is the message timestamp', () => {
  const accountId = randomUUID();
  const mapped = mapLedgerCommand(
    accountId,
    envelope(accountId, {
      'ledgerline.ledger.v1.OpenAccountRequested': {
        accountId,
        ownerRef: 'customer-1',
        type: 'LIABILITY',
        currency: 'EUR',
        balanceFloorMinor: null,
        systemKind: null,
      },
    }),
    TIMESTAMP,
  );
  expect(mapped).toMatchObject({
    ok: true,
    mapped: {
      command: { kind: 'OPEN_ACCOUNT', accountId, balanceFloorMinor: 0 },
      meta: { ownerRef: 'customer-1', postedAt: new Date(Number(TIMESTAMP)) },
    },
  });
});

test('an adjustment is keyed by its adjustmentId; a status change maps its target status to an action', () => {
  const accountId = randomUUID();
  const adjustmentId = randomUUID();
  const adjustment = mapLedgerCommand(
    accountId,
    envelope(accountId, {
      'ledgerline.ledger.v1.AdjustmentRequested': {
        adjustmentId,
        accountId,
        direction: 'CREDIT',
        amountMinor: 500,
        currency: 'EUR',
        reference: 'WIRE-1',
        reason: 'top-up',
      },
    }),
    TIMESTAMP,
  );
  expect(adjustment).toMatchObject({
    ok: true,
    mapped: { command: { kind: 'ADJUSTMENT', idempotencyKey: adjustmentId, reference: 'WIRE-1' } },
  });
  const close = mapLedgerCommand(
    accountId,
    envelope(accountId, {
      'ledgerline.ledger.v1.AccountStatusChangeRequested': {
        accountId,
        to: 'CLOSED',
        reason: null,
      },
    }),
    TIMESTAMP,
  );
  expect(close).toMatchObject({ ok: true, mapped: { command: { action: 'CLOSE' } } });
});

test('a refund step touches the payee for REFUND_DEBIT and the payer for REFUND_CREDIT', () => {
  const payer = randomUUID();
  const payee = randomUUID();
  const refund = (step: 'REFUND_DEBIT' | 'REFUND_CREDIT', key: string) =>
    mapLedgerCommand(
      key,
      envelope(key, {
        'ledgerline.payments.v1.RefundRequested': {
          paymentId: randomUUID(),
          refundId: randomUUID(),
          sequence: 1,
          step,
          payerAccountId: payer,
          payeeAccountId: payee,
          amountMinor: 100,
          currency: 'EUR',
          referencesTransactionId: randomUUID(),
        },
      }),
      TIMESTAMP,
    );
  expect(refund('REFUND_DEBIT', payee).ok).toBe(true);
  expect(refund('REFUND_CREDIT', payer).ok).toBe(true);
  expect(refund('REFUND_DEBIT', payer)).toMatchObject({ ok: false });
});

test('a key that differs from the envelope or from the account the command touches is refused with the reason', () => {
  const payer = randomUUID();
  const other = randomUUID();
  const debit: LedgerCommand['command'] = {
    'ledgerline.payments.v1.PaymentRequested': {
      paymentId: randomUUID(),
      payerAccountId: payer,
      payeeAccountId: other,
      amountMinor: 100,
      currency: 'EUR',
      description: null,
      metadata: {},
    },
  };
  expect(mapLedgerCommand(other, envelope(payer, debit), TIMESTAMP)).toEqual({
    ok: false,
    reason: `envelope accountId ${payer} differs from the Kafka key ${other}`,
  });
  expect(mapLedgerCommand(other, envelope(other, debit), TIMESTAMP)).toEqual({
    ok: false,
    reason: `DEBIT touches account ${payer} but was keyed by ${other}`,
  });
  expect(mapLedgerCommand(payer, envelope(payer, debit), 'not-a-time')).toMatchObject({
    ok: false,
  });
});

test('a payment or refund whose payer is its payee is refused with the reason, whichever step it is', () => {
  const account = randomUUID();
  const reason = `payer and payee are the same account ${account}: a payment or refund moves money between two accounts`;
  const debit = mapLedgerCommand(
    account,
    envelope(account, {
      'ledgerline.payments.v1.PaymentRequested': {
        paymentId: randomUUID(),
        payerAccountId: account,
        payeeAccountId: account,
        amountMinor: 100,
        currency: 'EUR',
        description: null,
        metadata: {},
      },
    }),
    TIMESTAMP,
  );
  expect(debit).toEqual({ ok: false, reason });
  for (const step of ['REFUND_DEBIT', 'REFUND_CREDIT', 'REFUND_COMPENSATION'] as const) {
    const refund = mapLedgerCommand(
      account,
      envelope(account, {
        'ledgerline.payments.v1.RefundRequested': {
          paymentId: randomUUID(),
          refundId: randomUUID(),
          sequence: 1,
          step,
          payerAccountId: account,
          payeeAccountId: account,
          amountMinor: 100,
          currency: 'EUR',
          referencesTransactionId: randomUUID(),
        },
      }),
      TIMESTAMP,
    );
    expect(refund).toEqual({ ok: false, reason });
  }
});
