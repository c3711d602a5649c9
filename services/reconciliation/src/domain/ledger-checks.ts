// Checks over ledger rows as plain values: per-transaction symmetry, the trial balance per
// currency, the balance projection against SUM(entries), and ledger rows against the ledger's
// outcome events. No I/O: the store reads the rows, these functions judge them.
import { AccountTypeSymbols } from '@ledgerline/generated/avro/types';
import { finding, type Finding } from './findings.js';
import { addMinor, assertMinor } from './minor-units.js';

export const ACCOUNT_TYPES = AccountTypeSymbols;
export type AccountType = (typeof ACCOUNT_TYPES)[number];
export type Direction = 'DEBIT' | 'CREDIT';

/** The side that increases the balance: DEBIT for ASSET/EXPENSE, CREDIT for the rest. */
export function normalSide(type: AccountType): Direction {
  return type === 'ASSET' || type === 'EXPENSE' ? 'DEBIT' : 'CREDIT';
}

/** Balance on the account's normal side: debits - credits or credits - debits. */
export function normalBalance(
  type: AccountType,
  debitsMinor: number,
  creditsMinor: number,
): number {
  const balance =
    normalSide(type) === 'DEBIT' ? debitsMinor - creditsMinor : creditsMinor - debitsMinor;
  assertMinor(balance, 'balance');
  return balance;
}

export interface EntryRow {
  readonly entryId: string;
  readonly accountId: string;
  readonly direction: Direction;
  readonly amountMinor: number;
  readonly currency: string;
}

export interface TransactionRow {
  readonly transactionId: string;
  readonly paymentId: string | null;
  readonly step: string;
  readonly currency: string;
  readonly entries: readonly EntryRow[];
}

export interface TransactionTotals {
  readonly debitsMinor: number;
  readonly creditsMinor: number;
  readonly debitCount: number;
  readonly creditCount: number;
}

export function totalsOf(entries: readonly EntryRow[]): TransactionTotals {
  let debitsMinor = 0;
  let creditsMinor = 0;
  let debitCount = 0;
  let creditCount = 0;
  for (const e of entries) {
    assertMinor(e.amountMinor, `entry ${e.entryId} amount`);
    if (e.direction === 'DEBIT') {
      debitsMinor = addMinor(debitsMinor, e.amountMinor);
      debitCount += 1;
    } else {
      creditsMinor = addMinor(creditsMinor, e.amountMinor);
      creditCount += 1;
    }
  }
  return { debitsMinor, creditsMinor, debitCount, creditCount };
}

/**
 * Debits = credits, at least two entries, every entry in the transaction's currency, amounts > 0,
 * and (every step is one) exactly one DEBIT and one CREDIT entry. One finding per transaction,
 * naming every problem: expected = debits, found = credits.
 */
export function checkTransactionBalanced(tx: TransactionRow): Finding[] {
  const totals = totalsOf(tx.entries);
  const problems: string[] = [];
  if (tx.entries.length < 2) problems.push(`${tx.entries.length} entries (at least 2 required)`);
  if (totals.debitsMinor !== totals.creditsMinor)
    problems.push(`debits ${totals.debitsMinor} != credits ${totals.creditsMinor}`);
  const currencies = [...new Set(tx.entries.map((e) => e.currency))].sort();
  if (currencies.some((c) => c !== tx.currency))
    problems.push(`entries in ${currencies.join(', ')} for a ${tx.currency} transaction`);
  if (tx.entries.some((e) => e.amountMinor <= 0)) problems.push('an entry amount is not > 0');
  if (tx.entries.length >= 2 && (totals.debitCount !== 1 || totals.creditCount !== 1))
    problems.push(
      `${tx.step} step has ${totals.debitCount} DEBIT and ${totals.creditCount} CREDIT entries (1 and 1 required)`,
    );
  if (problems.length === 0) return [];
  return [
    finding(
      'TRANSACTION_BALANCED',
      'UNBALANCED_TRANSACTION',
      tx.transactionId,
      `Transaction ${tx.transactionId} (${tx.step}) does not balance: ${problems.join('; ')}.`,
      {
        transactionId: tx.transactionId,
        paymentId: tx.paymentId,
        expectedMinor: totals.debitsMinor,
        foundMinor: totals.creditsMinor,
        currency: tx.currency,
      },
    ),
  ];
}

export interface TrialBalanceRow {
  readonly currency: string;
  readonly accountType: AccountType;
  readonly debitsMinor: number;
  readonly creditsMinor: number;
}

/**
 * Per currency, the normal-side balances of debit-normal accounts equal those of credit-normal
 * accounts (assets + expenses = liabilities + equity + revenue). Expected 0, found the difference.
 */
export function checkTrialBalance(rows: readonly TrialBalanceRow[]): {
  findings: Finding[];
  itemsChecked: number;
} {
  const netByCurrency = new Map<string, number>();
  for (const row of rows) {
    const balance = normalBalance(row.accountType, row.debitsMinor, row.creditsMinor);
    const signed = normalSide(row.accountType) === 'DEBIT' ? balance : -balance;
    netByCurrency.set(row.currency, addMinor(netByCurrency.get(row.currency) ?? 0, signed));
  }
  const findings: Finding[] = [];
  for (const [currency, net] of [...netByCurrency.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (net === 0) continue;
    findings.push(
      finding(
        'TRIAL_BALANCE',
        'TRIAL_BALANCE_MISMATCH',
        currency,
        `Trial balance in ${currency} is off by ${net}: debit-normal balances minus credit-normal balances should be 0.`,
        { expectedMinor: 0, foundMinor: net, currency },
      ),
    );
  }
  return { findings, itemsChecked: netByCurrency.size };
}

export interface ProjectionRow {
  readonly accountId: string;
  readonly accountType: AccountType;
  readonly currency: string;
  /** The projection row; null when the account has none. */
  readonly projection: {
    readonly balanceMinor: number;
    readonly debitsMinor: number;
    readonly creditsMinor: number;
    readonly entryCount: number;
  } | null;
  readonly entryDebitsMinor: number;
  readonly entryCreditsMinor: number;
  readonly entryCount: number;
}

/** The projection equals SUM(entries): expected = from entries, found = the projection. */
export function checkProjection(row: ProjectionRow): Finding[] {
  const expected = normalBalance(row.accountType, row.entryDebitsMinor, row.entryCreditsMinor);
  const p = row.projection;
  if (p === null) {
    if (row.entryCount === 0) return [];
    return [
      finding(
        'PROJECTION_MATCHES_ENTRIES',
        'PROJECTION_MISMATCH',
        row.accountId,
        `Account ${row.accountId} has ${row.entryCount} entries (balance ${expected}) but no balance projection.`,
        { accountId: row.accountId, expectedMinor: expected, currency: row.currency },
      ),
    ];
  }
  const problems: string[] = [];
  if (p.balanceMinor !== expected)
    problems.push(`balance ${p.balanceMinor}, entries say ${expected}`);
  if (p.debitsMinor !== row.entryDebitsMinor)
    problems.push(`debits ${p.debitsMinor}, entries say ${row.entryDebitsMinor}`);
  if (p.creditsMinor !== row.entryCreditsMinor)
    problems.push(`credits ${p.creditsMinor}, entries say ${row.entryCreditsMinor}`);
  if (p.entryCount !== row.entryCount)
    problems.push(`entry count ${p.entryCount}, entries say ${row.entryCount}`);
  if (problems.length === 0) return [];
  return [
    finding(
      'PROJECTION_MATCHES_ENTRIES',
      'PROJECTION_MISMATCH',
      row.accountId,
      `Balance projection of account ${row.accountId} differs from SUM(entries): ${problems.join('; ')}.`,
      {
        accountId: row.accountId,
        expectedMinor: expected,
        foundMinor: p.balanceMinor,
        currency: row.currency,
      },
    ),
  ];
}

/** A PaymentStepPosted as recorded by the consumer. */
export interface PostedEvent {
  readonly eventId: string;
  readonly transactionId: string;
  readonly paymentId: string | null;
  readonly step: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly entries: readonly EntryRow[];
}

function entrySignature(e: EntryRow): string {
  return `${e.entryId}|${e.accountId}|${e.direction}|${e.amountMinor}|${e.currency}`;
}

/** A PaymentStepPosted event announcing a transaction the ledger does not hold. */
function eventWithoutLedgerRow(event: PostedEvent): Finding {
  return finding(
    'LEDGER_ROWS_MATCH_EVENTS',
    'EVENT_WITHOUT_LEDGER_ROW',
    event.transactionId,
    `PaymentStepPosted ${event.eventId} announces ${event.step} transaction ${event.transactionId} of ${event.amountMinor} ${event.currency}, which the ledger does not hold.`,
    {
      transactionId: event.transactionId,
      paymentId: event.paymentId,
      expectedMinor: event.amountMinor,
      currency: event.currency,
    },
  );
}

/** Where an event and the ledger row it announces disagree (event vs ledger). */
function disagreements(
  row: TransactionRow,
  ledgerAmount: number,
  rowEntries: string,
  event: PostedEvent,
): string[] {
  const problems: string[] = [];
  if (event.step !== row.step) problems.push(`step ${event.step} vs ${row.step}`);
  if (event.paymentId !== row.paymentId)
    problems.push(`payment ${String(event.paymentId)} vs ${String(row.paymentId)}`);
  if (event.currency !== row.currency)
    problems.push(`currency ${event.currency} vs ${row.currency}`);
  if (event.amountMinor !== ledgerAmount)
    problems.push(`amount ${event.amountMinor} vs ${ledgerAmount}`);
  if (event.entries.map(entrySignature).sort().join(';') !== rowEntries)
    problems.push('entries differ');
  return problems;
}

/**
 * One ledger transaction against the PaymentStepPosted events announcing it: exactly one event,
 * with the same step, payment, currency, amount and entries. Either side may be missing.
 */
export function checkRowAgainstEvents(
  row: TransactionRow | null,
  events: readonly PostedEvent[],
): Finding[] {
  const check = 'LEDGER_ROWS_MATCH_EVENTS';
  if (row === null) {
    const first = events[0];
    return first === undefined ? [] : [eventWithoutLedgerRow(first)];
  }
  const ledgerAmount = totalsOf(row.entries).debitsMinor;
  const facts = {
    transactionId: row.transactionId,
    paymentId: row.paymentId,
    foundMinor: ledgerAmount,
    currency: row.currency,
  };
  if (events.length === 0) {
    return [
      finding(
        check,
        'LEDGER_ROW_WITHOUT_EVENT',
        row.transactionId,
        `Ledger transaction ${row.transactionId} (${row.step}, ${ledgerAmount} ${row.currency}) was never announced by a PaymentStepPosted event.`,
        facts,
      ),
    ];
  }
  const findings: Finding[] = [];
  if (events.length > 1) {
    findings.push(
      finding(
        check,
        'DUPLICATE_OUTCOME',
        row.transactionId,
        `Ledger transaction ${row.transactionId} was announced by ${events.length} different events (${events.map((e) => e.eventId).join(', ')}).`,
        facts,
      ),
    );
  }
  const rowEntries = row.entries.map(entrySignature).sort().join(';');
  for (const event of events) {
    const problems = disagreements(row, ledgerAmount, rowEntries, event);
    if (problems.length === 0) continue;
    findings.push(
      finding(
        check,
        'LEDGER_ROW_EVENT_MISMATCH',
        `${row.transactionId}:${event.eventId}`,
        `Ledger transaction ${row.transactionId} and its event ${event.eventId} disagree (event vs ledger): ${problems.join('; ')}.`,
        { ...facts, expectedMinor: event.amountMinor },
      ),
    );
  }
  return findings;
}
