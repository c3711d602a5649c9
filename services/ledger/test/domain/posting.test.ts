import { InvariantViolation } from '@ledgerline/platform/invariant';
import {
  systemAccountId,
  transactionIdFor,
  adjustmentTransactionId,
  entryIdFor,
} from '../../src/domain/ids.js';
import { handleCommand, verifyLedger, type LedgerState } from '../../src/domain/ledger-state.js';
import { decide, requirementsOf } from '../../src/domain/posting.js';
import type { PostingCommand } from '../../src/domain/commands.js';
import {
  adjustment,
  ALICE,
  aliceBobCarol,
  balanceOf,
  BOB,
  CAROL,
  changeStatus,
  compensation,
  creditStep,
  debitStep,
  expectPosted,
  expectRejected,
  fund,
  NOBODY,
  openAccount,
  PAYMENT,
  PAYMENT_2,
  refundCompensation,
  refundCredit,
  refundDebit,
  run,
  testId,
} from './fixtures.js';

const MAX = Number.MAX_SAFE_INTEGER;
const CLEARING_EUR = systemAccountId('CLEARING', 'EUR');
const SETTLEMENT_EUR = systemAccountId('SETTLEMENT', 'EUR');

/** Decides and applies one command; asserts a rejection changed nothing but its remembered key. */
function attempt(state: LedgerState, command: PostingCommand) {
  const result = handleCommand(state, command);
  if (result.decision.outcome === 'REJECTED') {
    expect(result.state.accounts).toEqual(state.accounts);
    expect(result.state.transactions).toEqual(state.transactions);
  }
  verifyLedger(result.state);
  return result;
}

/** Alice paid Bob `amountMinor` (DEBIT + CREDIT posted). */
function completedPayment(amountMinor = 2_500): LedgerState {
  return run(
    [debitStep(PAYMENT, ALICE, amountMinor), creditStep(PAYMENT, BOB, amountMinor)],
    aliceBobCarol(),
  ).state;
}

describe('DEBIT step (payer -> clearing)', () => {
  it('a debit moves the amount from the payer to clearing: one DEBIT payer and one CREDIT clearing entry', () => {
    const state = aliceBobCarol();
    const { state: after, decision } = attempt(state, debitStep(PAYMENT, ALICE, 2_500));
    const posted = expectPosted(decision);
    const transactionId = transactionIdFor(PAYMENT, 'DEBIT', 0);
    expect(posted.transaction).toEqual({
      transactionId,
      paymentId: PAYMENT,
      step: 'DEBIT',
      sequence: 0,
      currency: 'EUR',
      referencesTransactionId: null,
      reference: null,
      entries: [
        {
          entryId: entryIdFor(transactionId, 0),
          accountId: ALICE,
          direction: 'DEBIT',
          amountMinor: 2_500,
          currency: 'EUR',
        },
        {
          entryId: entryIdFor(transactionId, 1),
          accountId: CLEARING_EUR,
          direction: 'CREDIT',
          amountMinor: 2_500,
          currency: 'EUR',
        },
      ],
    });
    expect([...posted.balanceChanges]).toEqual([
      [ALICE, -2_500],
      [CLEARING_EUR, 2_500],
    ]);
    expect(posted.idempotency.stepKey).toBe(`${PAYMENT}:DEBIT:0`);
    expect(balanceOf(after, ALICE)).toBe(7_500);
    expect(balanceOf(after, CLEARING_EUR)).toBe(2_500);
  });

  it("a debit that would breach the payer's floor is rejected as INSUFFICIENT_FUNDS and writes nothing", () => {
    const state = aliceBobCarol(1_000);
    const { decision } = attempt(state, debitStep(PAYMENT, ALICE, 1_001));
    const rejected = expectRejected(decision);
    expect(rejected).toMatchObject({
      reason: 'INSUFFICIENT_FUNDS',
      accountId: ALICE,
      step: 'DEBIT',
      paymentId: PAYMENT,
      sequence: 0,
    });
    expect(rejected.detail).toContain('floor 0');
  });

  it('a debit may spend the whole balance and use the overdraft down to exactly the floor', () => {
    const state = run([
      openAccount(ALICE, { balanceFloorMinor: -500 }),
      openAccount(BOB),
      fund(ALICE, 1_000),
    ]).state;
    const { state: after, decision } = attempt(state, debitStep(PAYMENT, ALICE, 1_500));
    expectPosted(decision);
    expect(balanceOf(after, ALICE)).toBe(-500);
    const next = attempt(after, debitStep(PAYMENT_2, ALICE, 1));
    expect(expectRejected(next.decision).reason).toBe('INSUFFICIENT_FUNDS');
  });

  it('a debit from a frozen payer is rejected as ACCOUNT_FROZEN and writes nothing', () => {
    const state = run([changeStatus(ALICE, 'FREEZE')], aliceBobCarol()).state;
    const { decision } = attempt(state, debitStep(PAYMENT, ALICE, 100));
    expect(expectRejected(decision)).toMatchObject({ reason: 'ACCOUNT_FROZEN', accountId: ALICE });
  });

  it('a debit from a closed payer is rejected as ACCOUNT_CLOSED', () => {
    const state = run([changeStatus(CAROL, 'CLOSE')], aliceBobCarol()).state;
    const { decision } = attempt(state, debitStep(PAYMENT, CAROL, 100));
    expect(expectRejected(decision)).toMatchObject({ reason: 'ACCOUNT_CLOSED', accountId: CAROL });
  });

  it('a debit from an account that was never opened is rejected as ACCOUNT_UNKNOWN', () => {
    const { decision } = attempt(aliceBobCarol(), debitStep(PAYMENT, NOBODY, 100));
    expect(expectRejected(decision)).toMatchObject({
      reason: 'ACCOUNT_UNKNOWN',
      accountId: NOBODY,
    });
  });

  it("a debit in a currency other than the payer's is rejected as CURRENCY_MISMATCH", () => {
    const state = run([openAccount(testId('usd'), { currency: 'USD' })], aliceBobCarol()).state;
    const { decision } = attempt(state, debitStep(PAYMENT, ALICE, 100, 'USD'));
    const rejected = expectRejected(decision);
    expect(rejected.reason).toBe('CURRENCY_MISMATCH');
    expect(rejected.detail).toBe(`account ${ALICE} holds EUR, command is in USD`);
  });

  test.each(['eur', 'EURO', 'XAU', 'XXX', 'HRK', ''])(
    'a debit in %j, which is not an ISO 4217 currency with minor units, is rejected as CURRENCY_MISMATCH',
    (currency) => {
      const { decision } = attempt(aliceBobCarol(), debitStep(PAYMENT, ALICE, 100, currency));
      expect(expectRejected(decision).reason).toBe('CURRENCY_MISMATCH');
    },
  );

  test.each([0, -1, -100, 1.5, NaN, Infinity, MAX + 1, 2 ** 63])(
    'a debit of %p is rejected as AMOUNT_INVALID',
    (amountMinor) => {
      const { decision } = attempt(aliceBobCarol(), debitStep(PAYMENT, ALICE, amountMinor));
      expect(expectRejected(decision).reason).toBe('AMOUNT_INVALID');
    },
  );

  it('an invalid amount is reported before an unknown account (request validity first)', () => {
    const { decision } = attempt(aliceBobCarol(), debitStep(PAYMENT, NOBODY, 0));
    expect(expectRejected(decision).reason).toBe('AMOUNT_INVALID');
  });

  test.each([
    ['an uppercase payment id', PAYMENT.toUpperCase()],
    ['a payment id that is not a UUID', 'payment-1'],
  ])('a debit with %s is rejected as OTHER', (_what, paymentId) => {
    const { decision } = attempt(aliceBobCarol(), debitStep(paymentId, ALICE, 100));
    const rejected = expectRejected(decision);
    expect(rejected.reason).toBe('OTHER');
    expect(rejected.idempotency.stepKey).toMatch(/^malformed:/);
  });

  test.each([
    ['the clearing account', CLEARING_EUR],
    ['the settlement account', SETTLEMENT_EUR],
  ])('a payment step naming %s as a party is rejected as OTHER', (_what, accountId) => {
    const { decision } = attempt(aliceBobCarol(), debitStep(PAYMENT, accountId, 100));
    expect(expectRejected(decision).reason).toBe('OTHER');
  });

  it('a payment step to an account that is not a customer (LIABILITY) account is rejected as OTHER', () => {
    const expenses = testId('account:marketing-expenses');
    const state = run([openAccount(expenses, { type: 'EXPENSE' })], aliceBobCarol()).state;
    const { decision } = attempt(state, creditStep(PAYMENT, expenses, 100));
    expect(expectRejected(decision).detail).toBe(`account ${expenses} cannot be a payment party`);
  });

  it('clearing is never floor-checked: it is the hot row of every payment and may go negative', () => {
    // A credit without its debit cannot happen through the processor; the ledger does not
    // look across partitions to prevent it, and reconciliation would flag the payment.
    const { state, decision } = attempt(aliceBobCarol(), creditStep(PAYMENT, BOB, 700));
    expectPosted(decision);
    expect(balanceOf(state, CLEARING_EUR)).toBe(-700);
  });

  it('a debit whose clearing balance would overflow the safe integer range is rejected as LIMIT_EXCEEDED', () => {
    const sink = testId('account:sink');
    const state = run([
      openAccount(ALICE),
      openAccount(BOB),
      openAccount(sink, { balanceFloorMinor: -MAX }),
      adjustment(sink, 'DEBIT', MAX), // settlement -MAX, so funding MAX + 1 below fits
      fund(ALICE, MAX),
      fund(BOB, 1),
      debitStep(PAYMENT, ALICE, MAX),
    ]).state;
    expect(balanceOf(state, CLEARING_EUR)).toBe(MAX);
    const { decision } = attempt(state, debitStep(PAYMENT_2, BOB, 1));
    const rejected = expectRejected(decision);
    expect(rejected.reason).toBe('LIMIT_EXCEEDED');
    expect(rejected.detail).toContain(CLEARING_EUR);
  });
});

describe('CREDIT step (clearing -> payee)', () => {
  it('a credit moves the amount from clearing to the payee and references the debit', () => {
    const debited = run([debitStep(PAYMENT, ALICE, 2_500)], aliceBobCarol()).state;
    const { state, decision } = attempt(debited, creditStep(PAYMENT, BOB, 2_500));
    const posted = expectPosted(decision);
    expect(posted.transaction.referencesTransactionId).toBe(transactionIdFor(PAYMENT, 'DEBIT', 0));
    expect(posted.transaction.entries.map((e) => [e.direction, e.accountId])).toEqual([
      ['DEBIT', CLEARING_EUR],
      ['CREDIT', BOB],
    ]);
    expect(balanceOf(state, BOB)).toBe(2_500);
    expect(balanceOf(state, CLEARING_EUR)).toBe(0);
  });

  it('a credit to a frozen payee is rejected as ACCOUNT_FROZEN and the money stays in clearing', () => {
    const state = run(
      [debitStep(PAYMENT, ALICE, 2_500), changeStatus(BOB, 'FREEZE')],
      aliceBobCarol(),
    ).state;
    const { decision } = attempt(state, creditStep(PAYMENT, BOB, 2_500));
    expect(expectRejected(decision)).toMatchObject({
      reason: 'ACCOUNT_FROZEN',
      accountId: BOB,
      step: 'CREDIT',
    });
    expect(balanceOf(state, CLEARING_EUR)).toBe(2_500);
  });

  it('a credit to a closed payee is rejected as ACCOUNT_CLOSED', () => {
    const state = run(
      [debitStep(PAYMENT, ALICE, 2_500), changeStatus(BOB, 'CLOSE')],
      aliceBobCarol(),
    ).state;
    const { decision } = attempt(state, creditStep(PAYMENT, BOB, 2_500));
    expect(expectRejected(decision).reason).toBe('ACCOUNT_CLOSED');
  });

  it('a credit to an unknown payee is rejected as ACCOUNT_UNKNOWN', () => {
    const { decision } = attempt(aliceBobCarol(), creditStep(PAYMENT, NOBODY, 1));
    expect(expectRejected(decision).reason).toBe('ACCOUNT_UNKNOWN');
  });

  it("a credit whose debitTransactionId is not the payment's DEBIT is rejected as OTHER", () => {
    const wrong = {
      ...creditStep(PAYMENT, BOB, 100),
      debitTransactionId: transactionIdFor(PAYMENT_2, 'DEBIT', 0),
    };
    const { decision } = attempt(aliceBobCarol(), wrong);
    expect(expectRejected(decision).reason).toBe('OTHER');
  });

  it("a credit that would overflow the payee's balance is rejected as LIMIT_EXCEEDED", () => {
    const state = run([fund(BOB, MAX - 10)], aliceBobCarol(0 + 1)).state;
    const { decision } = attempt(state, creditStep(PAYMENT, BOB, 11));
    expect(expectRejected(decision)).toMatchObject({ reason: 'LIMIT_EXCEEDED', accountId: BOB });
  });
});

describe('COMPENSATION step (clearing -> payer)', () => {
  function creditRejected(): LedgerState {
    const { state, decisions } = run(
      [
        debitStep(PAYMENT, ALICE, 2_500),
        changeStatus(BOB, 'FREEZE'),
        creditStep(PAYMENT, BOB, 2_500),
      ],
      aliceBobCarol(),
    );
    expect(decisions[2]?.outcome).toBe('REJECTED');
    return state;
  }

  it('compensation returns the money from clearing to the payer and references the debit', () => {
    const { state, decision } = attempt(creditRejected(), compensation(PAYMENT, ALICE, 2_500));
    const posted = expectPosted(decision);
    expect(posted.transaction.step).toBe('COMPENSATION');
    expect(posted.transaction.referencesTransactionId).toBe(transactionIdFor(PAYMENT, 'DEBIT', 0));
    expect(
      posted.transaction.entries.map((e) => [e.direction, e.accountId, e.amountMinor]),
    ).toEqual([
      ['DEBIT', CLEARING_EUR, 2_500],
      ['CREDIT', ALICE, 2_500],
    ]);
    expect(balanceOf(state, ALICE)).toBe(10_000);
    expect(balanceOf(state, CLEARING_EUR)).toBe(0);
  });

  it('compensation to a frozen payer still posts: a freeze must not strand money in clearing', () => {
    const frozen = run([changeStatus(ALICE, 'FREEZE')], creditRejected()).state;
    const { state, decision } = attempt(frozen, compensation(PAYMENT, ALICE, 2_500));
    expectPosted(decision);
    expect(balanceOf(state, ALICE)).toBe(10_000);
    expect(state.accounts.get(ALICE)?.status).toBe('FROZEN');
  });

  it('compensation to a payer closed while the payment was in flight still posts, and the money is visible on the closed account', () => {
    // Alice spends everything, closes her (now empty) account, then the credit fails.
    const { state: closed, decisions } = run([
      openAccount(ALICE),
      openAccount(BOB),
      fund(ALICE, 2_500),
      debitStep(PAYMENT, ALICE, 2_500),
      changeStatus(ALICE, 'CLOSE'),
      changeStatus(BOB, 'CLOSE'),
      creditStep(PAYMENT, BOB, 2_500),
    ]);
    expect(decisions.map((d) => d.outcome)).toEqual([
      'ACCOUNT_OPENED',
      'ACCOUNT_OPENED',
      'POSTED',
      'POSTED',
      'ACCOUNT_STATUS_CHANGED',
      'ACCOUNT_STATUS_CHANGED',
      'REJECTED',
    ]);
    const { state, decision } = attempt(closed, compensation(PAYMENT, ALICE, 2_500));
    expectPosted(decision);
    expect(state.accounts.get(ALICE)).toMatchObject({ status: 'CLOSED', balanceMinor: 2_500 });
    expect(balanceOf(state, CLEARING_EUR)).toBe(0);
  });

  it('a compensation without a posted debit is rejected as OTHER and clearing is untouched', () => {
    const { decision } = attempt(aliceBobCarol(), compensation(PAYMENT, ALICE, 2_500));
    const rejected = expectRejected(decision);
    expect(rejected.reason).toBe('OTHER');
    expect(rejected.detail).toBe(`no posted DEBIT of payment ${PAYMENT} to follow`);
  });

  test.each([
    ['more than the debit', 2_501],
    ['less than the debit', 2_499],
  ])('a compensation for %s is rejected as OTHER', (_what, amountMinor) => {
    const { decision } = attempt(creditRejected(), compensation(PAYMENT, ALICE, amountMinor));
    expect(expectRejected(decision).detail).toContain('must return exactly 2500');
  });

  it('a compensation to an account other than the payer of the debit is rejected as OTHER', () => {
    const { decision } = attempt(creditRejected(), compensation(PAYMENT, CAROL, 2_500));
    expect(expectRejected(decision).detail).toContain(`was not posted against account ${CAROL}`);
  });

  it('a compensation to an unknown account is rejected as ACCOUNT_UNKNOWN', () => {
    const { decision } = attempt(creditRejected(), compensation(PAYMENT, NOBODY, 2_500));
    expect(expectRejected(decision).reason).toBe('ACCOUNT_UNKNOWN');
  });

  it('a compensation in another currency than the payer is rejected as CURRENCY_MISMATCH', () => {
    const { decision } = attempt(creditRejected(), compensation(PAYMENT, ALICE, 2_500, 'USD'));
    expect(expectRejected(decision).reason).toBe('CURRENCY_MISMATCH');
  });
});

describe('refunds', () => {
  it('a refund takes the money from the payee into clearing, then gives it to the payer, each leg referencing the one before', () => {
    const { state, decisions } = run(
      [refundDebit(PAYMENT, 1, BOB, 1_000), refundCredit(PAYMENT, 1, ALICE, 1_000)],
      completedPayment(),
    );
    const [debitLeg, creditLeg] = decisions.map(expectPosted);
    expect(debitLeg?.transaction).toMatchObject({
      step: 'REFUND_DEBIT',
      sequence: 1,
      transactionId: transactionIdFor(PAYMENT, 'REFUND_DEBIT', 1),
      referencesTransactionId: transactionIdFor(PAYMENT, 'CREDIT', 0),
    });
    expect(debitLeg?.transaction.entries.map((e) => e.accountId)).toEqual([BOB, CLEARING_EUR]);
    expect(creditLeg?.transaction).toMatchObject({
      step: 'REFUND_CREDIT',
      referencesTransactionId: transactionIdFor(PAYMENT, 'REFUND_DEBIT', 1),
    });
    expect(creditLeg?.transaction.entries.map((e) => e.accountId)).toEqual([CLEARING_EUR, ALICE]);
    expect(balanceOf(state, ALICE)).toBe(8_500);
    expect(balanceOf(state, BOB)).toBe(1_500);
    expect(balanceOf(state, CLEARING_EUR)).toBe(0);
    verifyLedger(state);
  });

  it('partial refunds are numbered and each number is its own step', () => {
    const { state, decisions } = run(
      [
        refundDebit(PAYMENT, 1, BOB, 1_000),
        refundCredit(PAYMENT, 1, ALICE, 1_000),
        refundDebit(PAYMENT, 2, BOB, 1_500),
        refundCredit(PAYMENT, 2, ALICE, 1_500),
      ],
      completedPayment(),
    );
    expect(decisions.every((d) => d.outcome === 'POSTED')).toBe(true);
    expect(balanceOf(state, ALICE)).toBe(10_000);
    expect(balanceOf(state, BOB)).toBe(0);
  });

  it('a refund cannot take back more than the payee was credited by the payment', () => {
    const state = run([fund(BOB, 5_000)], completedPayment()).state;
    const { decision } = attempt(state, refundDebit(PAYMENT, 1, BOB, 2_501));
    expect(expectRejected(decision).detail).toContain('exceeds the 2500 credited');
  });

  it('a refund of a payment whose credit never posted is rejected as OTHER', () => {
    const state = run([debitStep(PAYMENT, ALICE, 2_500), fund(BOB, 5_000)], aliceBobCarol()).state;
    const { decision } = attempt(state, refundDebit(PAYMENT, 1, BOB, 100));
    expect(expectRejected(decision).detail).toBe(
      `no posted CREDIT of payment ${PAYMENT} to follow`,
    );
  });

  it('a refund from a payee who has spent the money is rejected as INSUFFICIENT_FUNDS', () => {
    const state = run([debitStep(PAYMENT_2, BOB, 2_000)], completedPayment()).state;
    const { decision } = attempt(state, refundDebit(PAYMENT, 1, BOB, 1_000));
    expect(expectRejected(decision).reason).toBe('INSUFFICIENT_FUNDS');
  });

  it('a refund from a frozen payee is rejected as ACCOUNT_FROZEN', () => {
    const state = run([changeStatus(BOB, 'FREEZE')], completedPayment()).state;
    const { decision } = attempt(state, refundDebit(PAYMENT, 1, BOB, 1_000));
    expect(expectRejected(decision).reason).toBe('ACCOUNT_FROZEN');
  });

  it('a refund credit to a frozen payer is rejected, and the refund compensation returns the money to the payee', () => {
    const { state, decisions } = run(
      [
        refundDebit(PAYMENT, 1, BOB, 1_000),
        changeStatus(ALICE, 'FREEZE'),
        refundCredit(PAYMENT, 1, ALICE, 1_000),
        changeStatus(BOB, 'FREEZE'),
        refundCompensation(PAYMENT, 1, BOB, 1_000),
      ],
      completedPayment(),
    );
    expect(expectRejected(decisions[2] ?? fail()).reason).toBe('ACCOUNT_FROZEN');
    const compensated = expectPosted(decisions[4] ?? fail());
    expect(compensated.transaction.referencesTransactionId).toBe(
      transactionIdFor(PAYMENT, 'REFUND_DEBIT', 1),
    );
    expect(compensated.transaction.entries.map((e) => e.accountId)).toEqual([CLEARING_EUR, BOB]);
    expect(balanceOf(state, BOB)).toBe(2_500);
    expect(balanceOf(state, CLEARING_EUR)).toBe(0);
  });

  it('a refund compensation to a payee closed while the refund was in flight still posts', () => {
    const { state, decisions } = run(
      [
        refundDebit(PAYMENT, 1, BOB, 2_500), // Bob is now empty...
        changeStatus(BOB, 'CLOSE'), // ...and closes his account
        changeStatus(ALICE, 'FREEZE'),
        refundCredit(PAYMENT, 1, ALICE, 2_500),
        refundCompensation(PAYMENT, 1, BOB, 2_500),
      ],
      completedPayment(),
    );
    expect(decisions.map((d) => d.outcome)).toEqual([
      'POSTED',
      'ACCOUNT_STATUS_CHANGED',
      'ACCOUNT_STATUS_CHANGED',
      'REJECTED',
      'POSTED',
    ]);
    expect(state.accounts.get(BOB)).toMatchObject({ status: 'CLOSED', balanceMinor: 2_500 });
    expect(balanceOf(state, CLEARING_EUR)).toBe(0);
  });

  it('a refund compensation must mirror its refund debit exactly', () => {
    const state = run([refundDebit(PAYMENT, 1, BOB, 1_000)], completedPayment()).state;
    expect(
      expectRejected(attempt(state, refundCompensation(PAYMENT, 1, BOB, 999)).decision).reason,
    ).toBe('OTHER');
    expect(
      expectRejected(attempt(state, refundCompensation(PAYMENT, 2, BOB, 1_000)).decision).reason,
    ).toBe('OTHER');
    expectPosted(attempt(state, refundCompensation(PAYMENT, 1, BOB, 1_000)).decision);
  });

  test.each([0, -1, 1.5, 1001])('refund number %p is rejected as OTHER', (sequence) => {
    const { decision } = attempt(completedPayment(), refundDebit(PAYMENT, sequence, BOB, 100));
    expect(expectRejected(decision).reason).toBe('OTHER');
  });
});

describe('ADJUSTMENT (settlement <-> account)', () => {
  it('funding credits the customer and debits settlement, under an id scoped by account and key', () => {
    const state = run([openAccount(ALICE)]).state;
    const { state: after, decision } = attempt(state, fund(ALICE, 10_000, 'EUR', 'wire-42'));
    const posted = expectPosted(decision);
    expect(posted.transaction).toMatchObject({
      transactionId: adjustmentTransactionId(ALICE, 'wire-42'),
      paymentId: null,
      step: 'ADJUSTMENT',
      sequence: 0,
      reference: 'TICKET-1',
      referencesTransactionId: null,
    });
    expect(posted.transaction.entries.map((e) => [e.direction, e.accountId])).toEqual([
      ['DEBIT', SETTLEMENT_EUR],
      ['CREDIT', ALICE],
    ]);
    expect(posted.idempotency.stepKey).toBe(`adjustment:${ALICE}:wire-42`);
    expect(balanceOf(after, ALICE)).toBe(10_000);
    expect(balanceOf(after, SETTLEMENT_EUR)).toBe(10_000); // ASSET: debit-normal
  });

  it('a correction keeps the id of the transaction it corrects', () => {
    const corrected = transactionIdFor(PAYMENT, 'CREDIT', 0);
    const command = adjustment(BOB, 'DEBIT', 100, {
      referencesTransactionId: corrected,
      reference: 'INC-7',
    });
    const { decision } = attempt(completedPayment(), command);
    expect(expectPosted(decision).transaction).toMatchObject({
      referencesTransactionId: corrected,
      reference: 'INC-7',
    });
  });

  it('a payout adjustment below the floor is rejected as INSUFFICIENT_FUNDS', () => {
    const { decision } = attempt(aliceBobCarol(), adjustment(ALICE, 'DEBIT', 10_001));
    expect(expectRejected(decision).reason).toBe('INSUFFICIENT_FUNDS');
  });

  it('an adjustment to a frozen account posts: operators correct frozen accounts', () => {
    const state = run([changeStatus(ALICE, 'FREEZE')], aliceBobCarol()).state;
    expectPosted(attempt(state, adjustment(ALICE, 'DEBIT', 100)).decision);
  });

  it('a closed account accepts only adjustments that bring its balance toward zero', () => {
    const { state: closed } = run([
      openAccount(ALICE),
      openAccount(BOB),
      fund(ALICE, 2_500),
      debitStep(PAYMENT, ALICE, 2_500),
      changeStatus(ALICE, 'CLOSE'),
      changeStatus(BOB, 'FREEZE'),
      creditStep(PAYMENT, BOB, 2_500),
      compensation(PAYMENT, ALICE, 2_500),
    ]);
    expect(balanceOf(closed, ALICE)).toBe(2_500);
    const credit = attempt(closed, adjustment(ALICE, 'CREDIT', 1));
    expect(expectRejected(credit.decision).reason).toBe('ACCOUNT_CLOSED');
    const crossing = attempt(closed, adjustment(ALICE, 'DEBIT', 2_501));
    expect(expectRejected(crossing.decision).reason).toBe('ACCOUNT_CLOSED');
    const partial = attempt(
      closed,
      adjustment(ALICE, 'DEBIT', 1_000, { idempotencyKey: 'payout-1' }),
    );
    expectPosted(partial.decision);
    const rest = attempt(
      partial.state,
      adjustment(ALICE, 'DEBIT', 1_500, { idempotencyKey: 'payout-2' }),
    );
    expectPosted(rest.decision);
    expect(balanceOf(rest.state, ALICE)).toBe(0);
    const more = attempt(rest.state, adjustment(ALICE, 'DEBIT', 1, { idempotencyKey: 'payout-3' }));
    expect(expectRejected(more.decision).reason).toBe('ACCOUNT_CLOSED');
  });

  it('an adjustment against the settlement account itself is rejected as OTHER', () => {
    const { decision } = attempt(aliceBobCarol(), adjustment(SETTLEMENT_EUR, 'CREDIT', 100));
    expect(expectRejected(decision).reason).toBe('OTHER');
  });

  it('clearing can be corrected by an adjustment (stranded funds), without a floor', () => {
    const { state, decision } = attempt(aliceBobCarol(), adjustment(CLEARING_EUR, 'DEBIT', 100));
    expectPosted(decision);
    expect(balanceOf(state, CLEARING_EUR)).toBe(-100);
  });

  it("an adjustment that would overflow the account's balance is rejected as LIMIT_EXCEEDED", () => {
    const state = run([openAccount(ALICE), fund(ALICE, MAX)]).state;
    const { decision } = attempt(state, fund(ALICE, 1, 'EUR', 'one-more'));
    expect(expectRejected(decision).reason).toBe('LIMIT_EXCEEDED');
  });

  test.each([
    ['an empty idempotency key', { idempotencyKey: '' }],
    ['a non-ASCII idempotency key', { idempotencyKey: 'überweisung' }],
    ['a 256-character idempotency key', { idempotencyKey: 'k'.repeat(256) }],
    ['an empty reference', { reference: '' }],
    ['a 501-character reference', { reference: 'r'.repeat(501) }],
    ['a reference with a lone surrogate', { reference: 'note \ud800' }],
    ['a corrected transaction id that is not a UUID', { referencesTransactionId: 'TX-1' }],
  ])('an adjustment with %s is rejected as OTHER', (_what, options) => {
    const { decision } = attempt(aliceBobCarol(), adjustment(ALICE, 'CREDIT', 100, options));
    expect(expectRejected(decision).reason).toBe('OTHER');
  });

  it('an adjustment to a malformed account id is rejected as OTHER', () => {
    const { decision } = attempt(aliceBobCarol(), adjustment('alice', 'CREDIT', 100));
    expect(expectRejected(decision).reason).toBe('OTHER');
  });

  it('an adjustment in the wrong currency is rejected as CURRENCY_MISMATCH', () => {
    const { decision } = attempt(
      aliceBobCarol(),
      adjustment(ALICE, 'CREDIT', 100, { currency: 'JPY' }),
    );
    expect(expectRejected(decision).reason).toBe('CURRENCY_MISMATCH');
  });
});

describe('what the store loads before deciding', () => {
  it('names the customer account, the system counterparty and the transaction to mirror', () => {
    expect(requirementsOf(compensation(PAYMENT, ALICE, 1))).toEqual({
      accountIds: [ALICE, CLEARING_EUR],
      transactionIds: [transactionIdFor(PAYMENT, 'DEBIT', 0)],
    });
    expect(requirementsOf(refundDebit(PAYMENT, 2, BOB, 1)).transactionIds).toEqual([
      transactionIdFor(PAYMENT, 'CREDIT', 0),
    ]);
    expect(requirementsOf(refundCompensation(PAYMENT, 2, BOB, 1)).transactionIds).toEqual([
      transactionIdFor(PAYMENT, 'REFUND_DEBIT', 2),
    ]);
    expect(requirementsOf(creditStep(PAYMENT, BOB, 1)).transactionIds).toEqual([]);
    expect(requirementsOf(fund(ALICE, 1)).accountIds).toEqual([ALICE, SETTLEMENT_EUR]);
    expect(requirementsOf(debitStep(PAYMENT, ALICE, 1, 'nope')).accountIds).toEqual([ALICE]);
    expect(requirementsOf(changeStatus(ALICE, 'FREEZE'))).toEqual({
      accountIds: [ALICE],
      transactionIds: [],
    });
    expect(requirementsOf(openAccount(ALICE, { currency: 'JPY' })).accountIds).toEqual([
      ALICE,
      systemAccountId('CLEARING', 'JPY'),
      systemAccountId('FEES', 'JPY'),
      systemAccountId('SETTLEMENT', 'JPY'),
    ]);
    expect(requirementsOf(adjustment(SETTLEMENT_EUR, 'CREDIT', 1)).accountIds).toEqual([
      SETTLEMENT_EUR,
    ]);
  });
});

describe('decide refuses to work from a broken view of the ledger', () => {
  it('throws InvariantViolation when the clearing account was not loaded', () => {
    const state = aliceBobCarol();
    const accounts = new Map(state.accounts);
    accounts.delete(CLEARING_EUR);
    expect(() => decide(debitStep(PAYMENT, ALICE, 1), accounts, state.transactions)).toThrow(
      InvariantViolation,
    );
  });

  it('throws InvariantViolation when an account snapshot is corrupt', () => {
    const state = aliceBobCarol();
    const alice = state.accounts.get(ALICE);
    if (alice === undefined) throw new Error('setup');
    for (const corrupt of [
      { ...alice, balanceMinor: 0.5 },
      { ...alice, balanceFloorMinor: null },
      { ...alice, accountId: BOB },
      { ...alice, currency: 'EURO' as 'EUR' },
    ]) {
      const accounts = new Map(state.accounts).set(ALICE, corrupt);
      expect(() => decide(debitStep(PAYMENT, ALICE, 1), accounts, state.transactions)).toThrow(
        InvariantViolation,
      );
    }
  });

  it('throws InvariantViolation when a posting command comes without the transactions view', () => {
    const state = aliceBobCarol();
    const decideUntyped = decide as (...args: unknown[]) => unknown;
    expect(() => decideUntyped(debitStep(PAYMENT, ALICE, 1), state.accounts)).toThrow(
      InvariantViolation,
    );
  });

  it('decide is pure: it neither mutates its inputs nor depends on anything else', () => {
    const state = aliceBobCarol();
    const before = JSON.stringify([...state.accounts]);
    const first = decide(debitStep(PAYMENT, ALICE, 1), state.accounts, state.transactions);
    const second = decide(debitStep(PAYMENT, ALICE, 1), state.accounts, state.transactions);
    expect(second).toEqual(first);
    expect(JSON.stringify([...state.accounts])).toBe(before);
  });
});

function fail(): never {
  throw new Error('missing decision');
}
