// Payment outcomes and clearing as pure functions over both sides' facts: a saga that ended one
// way with the ledger holding what that ending implies passes; anything else is named.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  checkClearingNetsZero,
  checkCommandOutcome,
  checkPaymentOutcome,
  type LedgerTransactionFact,
  type PaymentFacts,
} from '../../src/domain/saga-checks.js';

const PAYMENT = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const T0 = new Date('2026-01-15T10:00:00.000Z');
const POLICY = { now: new Date(T0.getTime() + 600_000), outcomeTimeoutMs: 60_000 };

/** Clearing is a LIABILITY: DEBIT and REFUND_DEBIT credit it, the others debit it. */
const CLEARING_SIGN: Record<string, 1 | -1> = {
  DEBIT: 1,
  CREDIT: -1,
  COMPENSATION: -1,
  REFUND_DEBIT: 1,
  REFUND_CREDIT: -1,
  REFUND_COMPENSATION: -1,
};

function tx(step: string, amountMinor: number, sequence = 0): LedgerTransactionFact {
  return {
    transactionId: `${step}-${sequence}`,
    step,
    sequence,
    amountMinor,
    currency: 'EUR',
    clearingNetMinor: CLEARING_SIGN[step]! * amountMinor,
    postedAt: T0,
  };
}

function payment(
  status: string,
  steps: readonly LedgerTransactionFact[],
  overrides: Partial<PaymentFacts> = {},
): PaymentFacts {
  const commands = steps.map((t) => ({
    stepKey: `${PAYMENT}:${t.step}:${t.sequence}`,
    step: t.step,
    sequence: t.sequence,
    seenAt: T0,
  }));
  return {
    paymentId: PAYMENT,
    amountMinor: 12_500,
    currency: 'EUR',
    requestedAt: T0,
    status: {
      status,
      refundedMinor: 0,
      changedAt: T0,
      terminalStatuses: ['COMPLETED', 'REJECTED', 'COMPENSATED', 'REFUNDED'].includes(status)
        ? [status]
        : [],
    },
    commands,
    outcomes: commands.map((c, i) => ({
      eventId: `ev-${i}`,
      stepKey: c.stepKey,
      outcome: 'POSTED' as const,
      reason: null,
    })),
    transactions: steps,
    clearingAccountId: 'clearing',
    ...overrides,
  };
}

const kinds = (p: PaymentFacts) => checkPaymentOutcome(p, POLICY).findings.map((f) => f.kind);

describe('every payment ends exactly once and the ledger holds what that implies', () => {
  it('completed, compensated and rejected payments with their implied transactions pass', () => {
    expect(kinds(payment('COMPLETED', [tx('DEBIT', 12_500), tx('CREDIT', 12_500)]))).toEqual([]);
    expect(
      kinds(payment('COMPENSATED', [tx('DEBIT', 12_500), tx('COMPENSATION', 12_500)])),
    ).toEqual([]);
    const rejected = payment('REJECTED', [], {
      commands: [{ stepKey: `${PAYMENT}:DEBIT:0`, step: 'DEBIT', sequence: 0, seenAt: T0 }],
      outcomes: [
        {
          eventId: 'rej',
          stepKey: `${PAYMENT}:DEBIT:0`,
          outcome: 'REJECTED',
          reason: 'INSUFFICIENT_FUNDS',
        },
      ],
    });
    expect(kinds(rejected)).toEqual([]);
  });

  it('a payment still pending after the timeout has no terminal outcome', () => {
    const stuck = payment('DEBITED', [tx('DEBIT', 12_500)]);
    expect(checkPaymentOutcome(stuck, POLICY).findings[0]).toMatchObject({
      kind: 'MISSING_OUTCOME',
      paymentId: PAYMENT,
      expectedMinor: 12_500,
    });
  });

  it('nothing is judged before the timeout has passed', () => {
    const young = { now: new Date(T0.getTime() + 1_000), outcomeTimeoutMs: 60_000 };
    expect(checkPaymentOutcome(payment('PENDING', []), young)).toEqual({
      findings: [],
      itemsChecked: 0,
    });
    expect(checkClearingNetsZero(payment('COMPLETED', [tx('DEBIT', 5)]), young).itemsChecked).toBe(
      0,
    );
  });

  it('a command without outcome, and one with two outcomes, are reported by step key', () => {
    const base = payment('COMPLETED', [tx('DEBIT', 12_500), tx('CREDIT', 12_500)]);
    const noOutcome = { ...base, outcomes: base.outcomes.slice(0, 1) };
    expect(checkPaymentOutcome(noOutcome, POLICY).findings).toEqual([
      expect.objectContaining({ kind: 'MISSING_OUTCOME', subject: `command:${PAYMENT}:CREDIT:0` }),
    ]);
    const twice = {
      ...base,
      outcomes: [
        ...base.outcomes,
        {
          eventId: 'late-reject',
          stepKey: `${PAYMENT}:CREDIT:0`,
          outcome: 'REJECTED' as const,
          reason: 'ACCOUNT_FROZEN',
        },
      ],
    };
    expect(kinds(twice)).toEqual(['DUPLICATE_OUTCOME']);
    // A conflicting re-send is answered DUPLICATE_CONFLICT; the step's own outcome stands.
    const conflict = {
      ...base,
      outcomes: [
        ...base.outcomes,
        {
          eventId: 'conflict',
          stepKey: `${PAYMENT}:CREDIT:0`,
          outcome: 'REJECTED' as const,
          reason: 'DUPLICATE_CONFLICT',
        },
      ],
    };
    expect(kinds(conflict)).toEqual([]);
  });

  it('a payment reported both REJECTED and COMPLETED ended twice', () => {
    const p = payment('COMPLETED', [tx('DEBIT', 12_500), tx('CREDIT', 12_500)]);
    const twice = { ...p, status: { ...p.status!, terminalStatuses: ['COMPLETED', 'REJECTED'] } };
    expect(kinds(twice)).toEqual(['DUPLICATE_OUTCOME']);
  });

  it('missing, unexpected and wrong-amount ledger transactions are named by step', () => {
    expect(kinds(payment('COMPENSATED', [tx('DEBIT', 12_500)]))).toContain('MISSING_OUTCOME');
    const extra = checkPaymentOutcome(payment('REJECTED', [tx('DEBIT', 12_500)]), POLICY).findings;
    expect(extra.find((f) => f.subject === `ledger:${PAYMENT}:DEBIT`)).toMatchObject({
      kind: 'DUPLICATE_OUTCOME',
      foundMinor: 12_500,
    });
    const wrong = checkPaymentOutcome(
      payment('COMPLETED', [tx('DEBIT', 12_500), tx('CREDIT', 12_000)]),
      POLICY,
    );
    expect(wrong.findings).toEqual([
      expect.objectContaining({
        kind: 'LEDGER_ROW_EVENT_MISMATCH',
        expectedMinor: 12_500,
        foundMinor: 12_000,
      }),
    ]);
  });

  it('refunds: the REFUND_CREDITs total what the processor says was refunded', () => {
    const steps = [
      tx('DEBIT', 12_500),
      tx('CREDIT', 12_500),
      tx('REFUND_DEBIT', 5_000, 1),
      tx('REFUND_CREDIT', 5_000, 1),
    ];
    const refunded = payment('PARTIALLY_REFUNDED', steps);
    const ok = { ...refunded, status: { ...refunded.status!, refundedMinor: 5_000 } };
    expect(kinds(ok)).toEqual([]);
    const short = { ...refunded, status: { ...refunded.status!, refundedMinor: 7_000 } };
    expect(checkPaymentOutcome(short, POLICY).findings).toEqual([
      expect.objectContaining({ kind: 'MISSING_OUTCOME', expectedMinor: 7_000, foundMinor: 5_000 }),
    ]);
    const halfDone = payment('PARTIALLY_REFUNDED', steps.slice(0, 3));
    expect(kinds(halfDone)).toContain('MISSING_OUTCOME');
  });

  it('a command outside any payment (an adjustment) needs exactly one outcome', () => {
    const command = { stepKey: 'adjustment:a', seenAt: T0, accountId: 'acc' };
    expect(checkCommandOutcome({ ...command, eventIds: ['e'] }, POLICY).findings).toEqual([]);
    expect(checkCommandOutcome({ ...command, eventIds: [] }, POLICY).findings[0]?.kind).toBe(
      'MISSING_OUTCOME',
    );
    expect(
      checkCommandOutcome({ ...command, eventIds: ['e', 'f'] }, POLICY).findings[0]?.kind,
    ).toBe('DUPLICATE_OUTCOME');
  });
});

describe('clearing nets to zero for every terminal payment', () => {
  const endingArb = fc.constantFrom(
    { status: 'COMPLETED', steps: ['DEBIT', 'CREDIT'] },
    { status: 'COMPENSATED', steps: ['DEBIT', 'COMPENSATION'] },
    { status: 'REJECTED', steps: [] as string[] },
  );
  const refundArb = fc.array(
    fc.record({ amount: fc.integer({ min: 1, max: 1e9 }), returned: fc.boolean() }),
    { maxLength: 5 },
  );

  it('whatever way a saga ended and however many refunds ran, clearing holds nothing for it', () => {
    fc.assert(
      fc.property(
        endingArb,
        fc.integer({ min: 1, max: 1e9 }),
        refundArb,
        (ending, amount, refunds) => {
          const steps = ending.steps.map((s) => tx(s, amount));
          if (ending.status === 'COMPLETED') {
            refunds.forEach((r, i) => {
              steps.push(tx('REFUND_DEBIT', r.amount, i + 1));
              steps.push(tx(r.returned ? 'REFUND_COMPENSATION' : 'REFUND_CREDIT', r.amount, i + 1));
            });
          }
          const result = checkClearingNetsZero(payment(ending.status, steps), POLICY);
          expect(result).toEqual({ findings: [], itemsChecked: 1 });
        },
      ),
    );
  });

  it('a step missing from a terminal payment leaves exactly its amount in clearing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), (amount) => {
        const [found] = checkClearingNetsZero(
          payment('COMPENSATED', [tx('DEBIT', amount)]),
          POLICY,
        ).findings;
        expect(found).toMatchObject({
          kind: 'CLEARING_NOT_ZERO',
          paymentId: PAYMENT,
          accountId: 'clearing',
          expectedMinor: 0,
          foundMinor: amount,
        });
      }),
    );
  });

  it('payments still in flight are not judged', () => {
    expect(checkClearingNetsZero(payment('DEBITED', [tx('DEBIT', 100)]), POLICY).itemsChecked).toBe(
      0,
    );
  });
});
