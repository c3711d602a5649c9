// Statements as a use case's pieces: the contract's match report of an imported statement, and
// the outcome of each of its lines as stored beside it.
import type { components } from '@ledgerline/generated/openapi/reconciliation.types';
import type { StatementLine, StatementMatch } from '../domain/statement.js';
import type { Window } from '../store/ledger-reader.js';
import type { RunRecord, StatementLineRecord } from '../store/runs-store.js';

type StatementMatchReport = components['schemas']['StatementMatchReport'];

export interface StatementImport {
  readonly statementId: string;
  readonly run: RunRecord;
  readonly receivedAt: Date;
  readonly lineCount: number;
  readonly window: Window;
  readonly match: StatementMatch;
}

/** The StatementMatchReport of the contract. */
export function statementReport(s: StatementImport): StatementMatchReport {
  const { match } = s;
  return {
    statementId: s.statementId,
    runId: s.run.runId,
    receivedAt: s.receivedAt.toISOString(),
    lineCount: s.lineCount,
    windowFrom: s.window.from.toISOString(),
    windowTo: s.window.to.toISOString(),
    matched: match.matched.map((m) => ({
      line: m.line,
      reference: m.reference,
      amountMinor: m.amountMinor,
      currency: m.currency,
      valueDate: m.valueDate,
      transactionId: m.transactionId,
      entryId: m.entryId,
    })),
    unmatchedStatementLines: match.unmatchedStatementLines.map((l) => ({
      line: l.line,
      reference: l.reference,
      amountMinor: l.amountMinor,
      currency: l.currency,
      valueDate: l.valueDate,
    })),
    unmatchedLedgerEntries: match.unmatchedLedgerEntries.map((e) => ({
      entryId: e.entryId,
      transactionId: e.transactionId,
      accountId: e.accountId,
      direction: e.direction,
      amountMinor: e.amountMinor,
      currency: e.currency,
      reference: e.reference ?? '',
      postedAt: e.postedAt.toISOString(),
    })),
    amountDifferences: match.amountDifferences.map((d) => ({
      line: d.line,
      reference: d.reference,
      currency: d.currency,
      statementAmountMinor: d.statementAmountMinor,
      ledgerAmountMinor: d.ledgerAmountMinor,
      transactionId: d.transactionId,
    })),
  };
}

export function statementLineRecords(
  lines: readonly StatementLine[],
  match: StatementMatch,
): StatementLineRecord[] {
  const matched = new Map(match.matched.map((m) => [m.line, m.entryId]));
  const differing = new Map(match.amountDifferences.map((d) => [d.line, d.entryId]));
  return lines.map((l) => {
    const entryId = matched.get(l.line) ?? differing.get(l.line) ?? null;
    return {
      ...l,
      outcome: matched.has(l.line)
        ? 'MATCHED'
        : differing.has(l.line)
          ? 'AMOUNT_DIFFERENCE'
          : 'UNMATCHED',
      entryId,
    };
  });
}
