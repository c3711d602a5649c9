// The ledger-side checks as pure functions: what a correct ledger looks like passes, and every
// way of breaking it is reported with the ids and amounts involved.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  ACCOUNT_TYPES,
  checkProjection,
  checkRowAgainstEvents,
  checkTransactionBalanced,
  checkTrialBalance,
  normalBalance,
  normalSide,
  type AccountType,
  type EntryRow,
  type PostedEvent,
  type TransactionRow,
  type TrialBalanceRow,
} from '../../src/domain/ledger-checks.js';

const TX = '6798bc41-bd69-5d40-b12e-8fb37f8a01bd';
const PAYER = '0b3f8d6e-2f44-4c55-9a1b-1f0c2e3d4a5b';
const CLEARING = '5e7f9a1b-3c5d-5e7f-9a1b-3c5d7e9f1a2b';
const amountArb = fc.integer({ min: 1, max: 1_000_000_000 });

function step(amountMinor: number, currency = 'EUR'): TransactionRow {
  return {
    transactionId: TX,
    paymentId: null,
    step: 'DEBIT',
    currency,
    entries: [
      { entryId: 'e0', accountId: PAYER, direction: 'DEBIT', amountMinor, currency },
      { entryId: 'e1', accountId: CLEARING, direction: 'CREDIT', amountMinor, currency },
    ],
  };
}

describe('per-transaction symmetry', () => {
  it('a step of one DEBIT and one CREDIT of the same amount and currency balances', () => {
    fc.assert(
      fc.property(amountArb, (amount) => checkTransactionBalanced(step(amount)).length === 0),
    );
  });

  it('any change of one side reports the transaction with debits as expected and credits as found', () => {
    fc.assert(
      fc.property(amountArb, fc.integer({ min: -1_000, max: 1_000 }), (amount, delta) => {
        fc.pre(delta !== 0 && amount + delta > 0);
        const tx = step(amount);
        const tampered = {
          ...tx,
          entries: [tx.entries[0]!, { ...tx.entries[1]!, amountMinor: amount + delta }],
        };
        const [found, ...rest] = checkTransactionBalanced(tampered);
        expect(rest).toEqual([]);
        expect(found).toMatchObject({
          kind: 'UNBALANCED_TRANSACTION',
          transactionId: TX,
          expectedMinor: amount,
          foundMinor: amount + delta,
          currency: 'EUR',
        });
      }),
    );
  });

  it('a transaction with one entry left does not balance', () => {
    const tx = step(500);
    const [found] = checkTransactionBalanced({ ...tx, entries: [tx.entries[0]!] });
    expect(found?.detail).toMatch(/1 entries \(at least 2 required\)/);
  });

  it('entries in another currency than the transaction are reported', () => {
    const tx = step(500);
    const mixed = { ...tx, entries: [tx.entries[0]!, { ...tx.entries[1]!, currency: 'USD' }] };
    expect(checkTransactionBalanced(mixed)[0]?.detail).toMatch(/entries in EUR, USD/);
  });

  it('a balanced step with three entries still breaks the one DEBIT, one CREDIT rule', () => {
    const tx = step(500);
    const split = {
      ...tx,
      entries: [
        { ...tx.entries[0]!, amountMinor: 200 },
        { ...tx.entries[0]!, entryId: 'e2', amountMinor: 300 },
        tx.entries[1]!,
      ],
    };
    expect(checkTransactionBalanced(split)[0]?.detail).toMatch(/2 DEBIT and 1 CREDIT/);
  });
});

describe('balance sign convention', () => {
  it('debit-normal for ASSET and EXPENSE, credit-normal for the rest', () => {
    expect(ACCOUNT_TYPES.map((t) => [t, normalSide(t)])).toEqual([
      ['ASSET', 'DEBIT'],
      ['LIABILITY', 'CREDIT'],
      ['EQUITY', 'CREDIT'],
      ['REVENUE', 'CREDIT'],
      ['EXPENSE', 'DEBIT'],
    ]);
    expect(normalBalance('LIABILITY', 100, 250)).toBe(150);
    expect(normalBalance('ASSET', 100, 250)).toBe(-150);
  });
});

const typeArb = fc.constantFrom<AccountType>(...ACCOUNT_TYPES);
const postingArb = fc.record({
  debitType: typeArb,
  creditType: typeArb,
  currency: fc.constantFrom('EUR', 'USD', 'JPY'),
  amount: amountArb,
});

/** Per (currency, type) debits and credits of a list of balanced postings. */
function trialRows(
  postings: readonly {
    debitType: AccountType;
    creditType: AccountType;
    currency: string;
    amount: number;
  }[],
): TrialBalanceRow[] {
  const rows = new Map<string, TrialBalanceRow>();
  const add = (currency: string, accountType: AccountType, debit: number, credit: number) => {
    const key = `${currency}:${accountType}`;
    const row = rows.get(key) ?? { currency, accountType, debitsMinor: 0, creditsMinor: 0 };
    rows.set(key, {
      ...row,
      debitsMinor: row.debitsMinor + debit,
      creditsMinor: row.creditsMinor + credit,
    });
  };
  for (const p of postings) {
    add(p.currency, p.debitType, p.amount, 0);
    add(p.currency, p.creditType, 0, p.amount);
  }
  return [...rows.values()];
}

describe('trial balance per currency', () => {
  it('any set of balanced postings, whatever the account types, sums to zero per currency', () => {
    fc.assert(
      fc.property(fc.array(postingArb, { maxLength: 50 }), (postings) => {
        const { findings, itemsChecked } = checkTrialBalance(trialRows(postings));
        expect(findings).toEqual([]);
        expect(itemsChecked).toBe(new Set(postings.map((p) => p.currency)).size);
      }),
    );
  });

  it('one unmatched debit shows up as exactly its amount in its currency only', () => {
    fc.assert(
      fc.property(
        fc.array(postingArb, { maxLength: 30 }),
        typeArb,
        amountArb,
        (postings, type, extra) => {
          const rows = [
            ...trialRows(postings),
            { currency: 'GBP', accountType: type, debitsMinor: extra, creditsMinor: 0 },
          ];
          const { findings } = checkTrialBalance(rows);
          expect(findings).toEqual([
            expect.objectContaining({
              kind: 'TRIAL_BALANCE_MISMATCH',
              currency: 'GBP',
              expectedMinor: 0,
              foundMinor: extra,
            }),
          ]);
        },
      ),
    );
  });
});

describe('projection equals SUM(entries)', () => {
  const rowArb = fc.record({
    type: typeArb,
    debits: fc.integer({ min: 0, max: 1e12 }),
    credits: fc.integer({ min: 0, max: 1e12 }),
    count: fc.integer({ min: 1, max: 10_000 }),
  });

  it('a projection rebuilt from the entries matches', () => {
    fc.assert(
      fc.property(rowArb, ({ type, debits, credits, count }) => {
        const balance = normalBalance(type, debits, credits);
        return (
          checkProjection({
            accountId: PAYER,
            accountType: type,
            currency: 'EUR',
            projection: {
              balanceMinor: balance,
              debitsMinor: debits,
              creditsMinor: credits,
              entryCount: count,
            },
            entryDebitsMinor: debits,
            entryCreditsMinor: credits,
            entryCount: count,
          }).length === 0
        );
      }),
    );
  });

  it('any drift of the balance is reported as found - expected = drift', () => {
    fc.assert(
      fc.property(
        rowArb,
        fc.integer({ min: -1e6, max: 1e6 }),
        ({ type, debits, credits, count }, drift) => {
          fc.pre(drift !== 0);
          const balance = normalBalance(type, debits, credits);
          const [found] = checkProjection({
            accountId: PAYER,
            accountType: type,
            currency: 'EUR',
            projection: {
              balanceMinor: balance + drift,
              debitsMinor: debits,
              creditsMinor: credits,
              entryCount: count,
            },
            entryDebitsMinor: debits,
            entryCreditsMinor: credits,
            entryCount: count,
          });
          expect(found).toMatchObject({
            kind: 'PROJECTION_MISMATCH',
            accountId: PAYER,
            expectedMinor: balance,
            foundMinor: balance + drift,
          });
        },
      ),
    );
  });

  it('an account with entries but no projection row is a mismatch; without entries it is fine', () => {
    const base = {
      accountId: PAYER,
      accountType: 'LIABILITY' as const,
      currency: 'EUR',
      projection: null,
    };
    expect(
      checkProjection({ ...base, entryDebitsMinor: 0, entryCreditsMinor: 0, entryCount: 0 }),
    ).toEqual([]);
    expect(
      checkProjection({ ...base, entryDebitsMinor: 0, entryCreditsMinor: 40, entryCount: 1 })[0],
    ).toMatchObject({
      expectedMinor: 40,
      foundMinor: null,
    });
  });
});

describe('ledger rows against PaymentStepPosted events', () => {
  function eventOf(tx: TransactionRow, eventId = 'ev-1'): PostedEvent {
    return {
      eventId,
      transactionId: tx.transactionId,
      paymentId: tx.paymentId,
      step: tx.step,
      amountMinor: tx.entries[0]!.amountMinor,
      currency: tx.currency,
      entries: tx.entries.map((e: EntryRow) => ({ ...e })),
    };
  }

  it('a row and the event built from it match, whatever the amount', () => {
    fc.assert(
      fc.property(
        amountArb,
        (amount) => checkRowAgainstEvents(step(amount), [eventOf(step(amount))]).length === 0,
      ),
    );
  });

  it('reports a row without event, an event without row, two events, and a different amount', () => {
    const tx = step(1_000);
    expect(checkRowAgainstEvents(tx, [])[0]).toMatchObject({
      kind: 'LEDGER_ROW_WITHOUT_EVENT',
      transactionId: TX,
      foundMinor: 1_000,
    });
    expect(checkRowAgainstEvents(null, [eventOf(tx)])[0]).toMatchObject({
      kind: 'EVENT_WITHOUT_LEDGER_ROW',
      transactionId: TX,
      expectedMinor: 1_000,
    });
    expect(
      checkRowAgainstEvents(tx, [eventOf(tx), eventOf(tx, 'ev-2')]).map((f) => f.kind),
    ).toEqual(['DUPLICATE_OUTCOME']);
    const changed = { ...tx, entries: tx.entries.map((e) => ({ ...e, amountMinor: 1_001 })) };
    expect(checkRowAgainstEvents(changed, [eventOf(tx)])[0]).toMatchObject({
      kind: 'LEDGER_ROW_EVENT_MISMATCH',
      expectedMinor: 1_000,
      foundMinor: 1_001,
    });
    expect(checkRowAgainstEvents(null, [])).toEqual([]);
  });
});
