// Statement files: the documented CSV format, refused as a whole with every bad line named; and
// matching, where every line and every settlement entry lands in exactly one bucket.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  matchStatement,
  parseStatement,
  signedLedgerAmount,
  splitCsvRecord,
  statementFindings,
  statementWindow,
  STATEMENT_HEADER,
  type SettlementEntry,
  type StatementLine,
} from '../../src/domain/statement.js';

const file = (...lines: string[]) => [STATEMENT_HEADER, ...lines].join('\n');

describe('parsing a statement', () => {
  it('reads lines with signed amounts, CRLF or LF, a BOM and quoted fields', () => {
    const text = `\uFEFF${STATEMENT_HEADER}\r\nWIRE-1,110000,EUR,2026-01-15\r\n"PAY,OUT ""7""",-40000,EUR,2026-01-16\r\n`;
    expect(parseStatement(text)).toEqual({
      ok: true,
      lines: [
        {
          line: 2,
          reference: 'WIRE-1',
          amountMinor: 110_000,
          currency: 'EUR',
          valueDate: '2026-01-15',
        },
        {
          line: 3,
          reference: 'PAY,OUT "7"',
          amountMinor: -40_000,
          currency: 'EUR',
          valueDate: '2026-01-16',
        },
      ],
    });
    expect(parseStatement(STATEMENT_HEADER)).toEqual({ ok: true, lines: [] });
  });

  it('refuses a wrong header on line 1', () => {
    expect(parseStatement('ref,amount,ccy,date\nX,1,EUR,2026-01-15')).toEqual({
      ok: false,
      tooLarge: false,
      errors: [{ line: 1, message: 'unexpected header "ref,amount,ccy,date"' }],
    });
  });

  it('names every bad line and field', () => {
    const result = parseStatement(
      file(
        'OK,100,EUR,2026-01-15',
        'A,250.00,EUR,2026-01-15',
        'B,0,EUR,2026-01-15',
        'C,100,eur,2026-01-15',
        'D,100,EUR,2026-02-30',
        'OK,5,EUR,2026-01-15',
        'E,007,EUR,2026-01-15',
        'F,1,EUR',
        ',1,EUR,2026-01-15',
        'G,"1,EUR,2026-01-15',
        'H,99999999999999999,EUR,2026-01-15',
      ),
    );
    expect(result.ok).toBe(false);
    if (result.ok || result.tooLarge) return;
    expect(result.errors.map((e) => [e.line, e.field ?? null])).toEqual([
      [3, 'amount_minor'],
      [4, 'amount_minor'],
      [5, 'currency'],
      [6, 'value_date'],
      [7, 'reference'],
      [8, 'amount_minor'],
      [9, null],
      [10, 'reference'],
      [11, null],
      [12, 'amount_minor'],
    ]);
    expect(result.errors[4]!.message).toBe('"OK" already appears on line 2');
  });

  it('reports a file with more than 100000 lines as too large', () => {
    const lines = Array.from({ length: 100_001 }, (_, i) => `R${i},1,EUR,2026-01-15`);
    expect(parseStatement(file(...lines))).toEqual({
      ok: false,
      tooLarge: true,
      lineCount: 100_001,
    });
  });

  it('any well-formed line survives a round trip through the CSV', () => {
    const lineArb = fc.record({
      reference: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\r\n]/.test(s)),
      amountMinor: fc.integer({ min: -1e12, max: 1e12 }).filter((n) => n !== 0),
      currency: fc.constantFrom('EUR', 'USD', 'JPY'),
      day: fc.integer({ min: 1, max: 28 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(lineArb, { selector: (l) => l.reference, maxLength: 20 }),
        (lines) => {
          const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
          const text = file(
            ...lines.map(
              (l) =>
                `${quote(l.reference)},${l.amountMinor},${l.currency},2026-03-${String(l.day).padStart(2, '0')}`,
            ),
          );
          const parsed = parseStatement(text);
          expect(parsed.ok && parsed.lines.map((l) => [l.reference, l.amountMinor])).toEqual(
            lines.map((l) => [l.reference, l.amountMinor]),
          );
        },
      ),
    );
  });

  it('splits records the RFC 4180 way', () => {
    expect(splitCsvRecord('a,"b,c",""')).toEqual(['a', 'b,c', '']);
    expect(splitCsvRecord('a"b,c')).toBeNull();
    expect(splitCsvRecord('"a"b,c')).toBeNull();
  });
});

const SETTLEMENT = '5e7f9a1b-3c5d-5e7f-9a1b-3c5d7e9f1a2b';
function entry(
  i: number,
  amountMinor: number,
  reference: string | null,
  day = '2026-01-15',
): SettlementEntry {
  return {
    entryId: `entry-${i}`,
    transactionId: `tx-${i}`,
    accountId: SETTLEMENT,
    direction: amountMinor > 0 ? 'DEBIT' : 'CREDIT',
    amountMinor: Math.abs(amountMinor),
    currency: 'EUR',
    reference,
    postedAt: new Date(`${day}T12:00:00.000Z`),
  };
}
function line(
  n: number,
  reference: string,
  amountMinor: number,
  valueDate = '2026-01-15',
): StatementLine {
  return { line: n, reference, amountMinor, currency: 'EUR', valueDate };
}

describe('matching a statement against settlement entries', () => {
  it('matches by reference, then by amount and date; reports the rest on each side', () => {
    const entries = [
      entry(1, 110_000, 'WIRE-1'),
      entry(2, 20_000, 'WIRE-2'),
      entry(3, 5_000, 'WIRE-3'),
      entry(4, -7_000, 'INTERNAL-9', '2026-01-16'),
    ];
    const lines = [
      line(2, 'WIRE-1', 110_000),
      line(3, 'WIRE-2', 25_000),
      line(4, 'EXTRA', -40_000),
      line(5, 'BANK-X', -7_000),
    ];
    const match = matchStatement(lines, entries, { dateWindowDays: 2 });
    expect(match.matched.map((m) => [m.line, m.entryId, m.by])).toEqual([
      [2, 'entry-1', 'REFERENCE'],
      [5, 'entry-4', 'AMOUNT_AND_DATE'],
    ]);
    expect(match.amountDifferences).toEqual([
      {
        line: 3,
        reference: 'WIRE-2',
        currency: 'EUR',
        statementAmountMinor: 25_000,
        ledgerAmountMinor: 20_000,
        transactionId: 'tx-2',
        entryId: 'entry-2',
      },
    ]);
    expect(match.unmatchedStatementLines.map((l) => l.line)).toEqual([4]);
    expect(match.unmatchedLedgerEntries.map((e) => e.entryId)).toEqual(['entry-3']);
    expect(statementFindings(match).map((f) => [f.kind, f.expectedMinor, f.foundMinor])).toEqual([
      ['STATEMENT_LINE_UNMATCHED', -40_000, null],
      ['LEDGER_ENTRY_UNMATCHED', null, 5_000],
      ['STATEMENT_AMOUNT_MISMATCH', 25_000, 20_000],
    ]);
  });

  it('the amount pass respects the date window', () => {
    const entries = [entry(1, 900, null, '2026-01-20')];
    expect(matchStatement([line(2, 'X', 900)], entries, { dateWindowDays: 2 }).matched).toEqual([]);
    expect(
      matchStatement([line(2, 'X', 900)], entries, { dateWindowDays: 5 }).matched,
    ).toHaveLength(1);
  });

  it('a statement written from the ledger matches it completely; every item lands in one bucket', () => {
    const amountArb = fc.integer({ min: -1e9, max: 1e9 }).filter((n) => n !== 0);
    fc.assert(
      fc.property(
        fc.array(amountArb, { maxLength: 30 }),
        fc.array(amountArb, { maxLength: 10 }),
        (amounts, noise) => {
          const entries = amounts.map((a, i) => entry(i, a, `REF-${i}`));
          const lines = entries.map((e, i) => line(i + 2, `REF-${i}`, signedLedgerAmount(e)));
          const full = matchStatement(lines, entries, { dateWindowDays: 0 });
          expect(full.matched).toHaveLength(entries.length);
          // Extra lines and dropped lines: the invariants inside matchStatement hold either way.
          const partial = matchStatement(
            [
              ...lines.filter((_, i) => i % 3 !== 0),
              ...noise.map((a, i) => line(1_000 + i, `NOISE-${i}`, a)),
            ],
            entries,
            { dateWindowDays: 1 },
          );
          expect(
            partial.matched.length +
              partial.unmatchedLedgerEntries.length +
              partial.amountDifferences.length,
          ).toBe(entries.length);
        },
      ),
    );
  });

  it('the examined window runs from the first value date to the day after the last', () => {
    expect(statementWindow([line(2, 'a', 1, '2026-01-16'), line(3, 'b', 1, '2026-01-14')])).toEqual(
      {
        from: new Date('2026-01-14T00:00:00.000Z'),
        to: new Date('2026-01-17T00:00:00.000Z'),
      },
    );
    expect(statementWindow([])).toBeNull();
  });
});
