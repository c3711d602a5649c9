import { InvariantViolation } from '@ledgerline/platform/invariant';
import type { AccountSnapshot } from '../../src/domain/accounts.js';
import { entryIdFor, systemAccountId, transactionIdFor } from '../../src/domain/ids.js';
import {
  assertBalanced,
  assertProjectionMoves,
  assertTransactionWellFormed,
  type LedgerEntry,
  type LedgerTransaction,
} from '../../src/domain/posting.js';
import { ALICE, aliceBobCarol, BOB, debitStep, expectPosted, PAYMENT, run } from './fixtures.js';

const CLEARING_EUR = systemAccountId('CLEARING', 'EUR');

function entry(
  index: number,
  direction: 'DEBIT' | 'CREDIT',
  amountMinor: number,
  accountId = ALICE,
): LedgerEntry {
  return { entryId: `entry-${index}`, accountId, direction, amountMinor, currency: 'EUR' };
}

describe('assertBalanced', () => {
  it('accepts one DEBIT and one CREDIT of the same amount', () => {
    expect(() =>
      assertBalanced([entry(0, 'DEBIT', 100), entry(1, 'CREDIT', 100, BOB)]),
    ).not.toThrow();
  });

  it('accepts a multi-leg transaction whose debits and credits sum equal', () => {
    expect(() =>
      assertBalanced([
        entry(0, 'DEBIT', 100),
        entry(1, 'CREDIT', 60, BOB),
        entry(2, 'CREDIT', 40, BOB),
      ]),
    ).not.toThrow();
  });

  test.each<[string, LedgerEntry[]]>([
    ['no entries', []],
    ['a single entry', [entry(0, 'DEBIT', 100)]],
    ['debits greater than credits', [entry(0, 'DEBIT', 101), entry(1, 'CREDIT', 100)]],
    ['only debits', [entry(0, 'DEBIT', 100), entry(1, 'DEBIT', 100)]],
    ['a zero amount', [entry(0, 'DEBIT', 0), entry(1, 'CREDIT', 0)]],
    ['a negative amount', [entry(0, 'DEBIT', -5), entry(1, 'CREDIT', -5)]],
    ['a fractional amount', [entry(0, 'DEBIT', 0.5), entry(1, 'CREDIT', 0.5)]],
    [
      'an amount beyond MAX_SAFE_INTEGER',
      [entry(0, 'DEBIT', 2 ** 53), entry(1, 'CREDIT', 2 ** 53)],
    ],
    ['two currencies', [entry(0, 'DEBIT', 100), { ...entry(1, 'CREDIT', 100), currency: 'USD' }]],
    [
      'an invalid currency',
      [{ ...entry(0, 'DEBIT', 100), currency: 'EURO' as 'EUR' }, entry(1, 'CREDIT', 100)],
    ],
    [
      'a repeated entry id',
      [entry(0, 'DEBIT', 100), { ...entry(1, 'CREDIT', 100), entryId: 'entry-0' }],
    ],
    [
      'a missing direction',
      [entry(0, 'DEBIT', 100), { ...entry(1, 'CREDIT', 100), direction: 'SIDEWAYS' as 'DEBIT' }],
    ],
  ])('throws InvariantViolation for %s', (_what, entries) => {
    expect(() => assertBalanced(entries)).toThrow(InvariantViolation);
  });

  it('throws rather than overflow when summing huge legs', () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(() =>
      assertBalanced([entry(0, 'DEBIT', max), entry(1, 'DEBIT', max), entry(2, 'CREDIT', max)]),
    ).toThrow();
  });
});

describe('assertTransactionWellFormed', () => {
  const posted = expectPosted(
    run([debitStep(PAYMENT, ALICE, 100)], aliceBobCarol()).decisions[0] ?? fail(),
  );
  const transaction = posted.transaction;

  it('accepts what decide produced', () => {
    expect(() => assertTransactionWellFormed(transaction)).not.toThrow();
  });

  test.each<[string, LedgerTransaction]>([
    [
      'a transaction id not derived from its step key',
      { ...transaction, transactionId: transactionIdFor(PAYMENT, 'CREDIT', 0) },
    ],
    ['a different step than its id says', { ...transaction, step: 'CREDIT' }],
    ['entries in reverse order', { ...transaction, entries: [...transaction.entries].reverse() }],
    [
      'an entry id not derived from its position',
      {
        ...transaction,
        entries: transaction.entries.map((e, i) => ({
          ...e,
          entryId: entryIdFor(transaction.transactionId, i + 1),
        })),
      },
    ],
    [
      'both entries on one account',
      { ...transaction, entries: transaction.entries.map((e) => ({ ...e, accountId: ALICE })) },
    ],
    ['a currency different from its entries', { ...transaction, currency: 'USD' }],
    ['adjustment fields on a payment step', { ...transaction, step: 'ADJUSTMENT' }],
  ])('throws InvariantViolation for %s', (_what, tampered) => {
    expect(() => assertTransactionWellFormed(tampered)).toThrow(InvariantViolation);
  });
});

describe('assertProjectionMoves', () => {
  const state = aliceBobCarol();
  const posted = expectPosted(run([debitStep(PAYMENT, ALICE, 100)], state).decisions[0] ?? fail());
  const account = (id: string): AccountSnapshot => state.accounts.get(id) ?? fail();
  const before = new Map([
    [ALICE, account(ALICE)],
    [CLEARING_EUR, account(CLEARING_EUR)],
  ]);
  const moved = (aliceMinor: number, clearingMinor: number) =>
    new Map([
      [ALICE, { ...account(ALICE), balanceMinor: account(ALICE).balanceMinor + aliceMinor }],
      [
        CLEARING_EUR,
        {
          ...account(CLEARING_EUR),
          balanceMinor: account(CLEARING_EUR).balanceMinor + clearingMinor,
        },
      ],
    ]);

  it('accepts balances that moved by exactly the posted amounts', () => {
    expect(() => assertProjectionMoves(before, moved(-100, 100), posted.transaction)).not.toThrow();
  });

  it('throws when a balance moved by a different amount', () => {
    expect(() => assertProjectionMoves(before, moved(-100, 99), posted.transaction)).toThrow(
      InvariantViolation,
    );
  });

  it('throws when a balance moved the wrong way', () => {
    expect(() => assertProjectionMoves(before, moved(100, -100), posted.transaction)).toThrow(
      InvariantViolation,
    );
  });

  it('throws when an account the entries do not touch moved', () => {
    const withBob = new Map(before).set(BOB, account(BOB));
    const bobMoved = new Map(moved(-100, 100)).set(BOB, { ...account(BOB), balanceMinor: 1 });
    expect(() => assertProjectionMoves(withBob, bobMoved, posted.transaction)).toThrow(
      InvariantViolation,
    );
  });

  it('throws when a posting changed more than a balance', () => {
    const frozen = moved(-100, 100).set(ALICE, {
      ...account(ALICE),
      balanceMinor: 9_900,
      status: 'FROZEN',
    });
    expect(() => assertProjectionMoves(before, frozen, posted.transaction)).toThrow(
      InvariantViolation,
    );
  });

  it('throws when a touched account is missing', () => {
    const partial = new Map([[ALICE, account(ALICE)]]);
    expect(() => assertProjectionMoves(partial, partial, posted.transaction)).toThrow(
      InvariantViolation,
    );
  });
});

function fail(): never {
  throw new Error('setup failed');
}
