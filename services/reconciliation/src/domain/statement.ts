// Settlement-account statements: parsing the CSV (documented in the OpenAPI contract) and
// matching its lines against the ledger's SETTLEMENT entries. No I/O.
//
// Format: RFC 4180, UTF-8, first line exactly `reference,amount_minor,currency,value_date`; then
// one line per statement line: reference (1..128 characters, unique in the file), non-zero signed
// integer amount in minor units (positive = received at the bank), ISO 4217 code, value date
// YYYY-MM-DD (UTC). A malformed file is refused as a whole, naming every bad line (at most 100).
import { invariant } from '@ledgerline/platform/invariant';
import { finding, type Finding } from './findings.js';

export const STATEMENT_HEADER = 'reference,amount_minor,currency,value_date';
export const STATEMENT_LINES_MAX = 100_000;
export const STATEMENT_ERRORS_MAX = 100;
const REFERENCE_LENGTH_MAX = 128;
const AMOUNT_ABS_MAX = 9_007_199_254_740_990;
const DAY_MS = 86_400_000;

export interface StatementLine {
  /** 1-based line in the file (the header is line 1). */
  readonly line: number;
  readonly reference: string;
  /** Signed: positive = money received at the bank, negative = paid out. */
  readonly amountMinor: number;
  readonly currency: string;
  /** YYYY-MM-DD, UTC. */
  readonly valueDate: string;
}

export interface LineError {
  readonly line: number;
  readonly field?: string;
  readonly message: string;
}

export type ParsedStatement =
  | { readonly ok: true; readonly lines: StatementLine[] }
  | { readonly ok: false; readonly tooLarge: false; readonly errors: LineError[] }
  | { readonly ok: false; readonly tooLarge: true; readonly lineCount: number };

/** Splits one CSV record (RFC 4180 quoting); null when a quote is unbalanced. */
export function splitCsvRecord(text: string): string[] | null {
  const fields: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let atFieldStart = true;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i += 1;
        // After a closing quote only a separator or the end may follow.
        if (i < text.length && text[i] !== ',') return null;
        continue;
      }
      field += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      i += 1;
      continue;
    }
    if (ch === '"') return null;
    if (ch === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      i += 1;
      continue;
    }
    field += ch;
    atFieldStart = false;
    i += 1;
  }
  if (quoted) return null;
  fields.push(field);
  return fields;
}

export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

function parseAmount(raw: string): number | string {
  if (!/^-?\d+$/.test(raw)) return `"${raw}" is not an integer number of minor units`;
  if (/^-?0\d/.test(raw)) return `"${raw}" has leading zeros`;
  const value = Number(raw);
  if (value === 0) return 'must not be zero';
  if (!Number.isSafeInteger(value) || Math.abs(value) > AMOUNT_ABS_MAX)
    return `"${raw}" is outside ±${AMOUNT_ABS_MAX}`;
  return value;
}

/** Parses and validates a statement file; every problem names its line. */
export function parseStatement(text: string): ParsedStatement {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const rawLines = body.split(/\r?\n/);
  // One final line break is allowed (and usual); nothing after it.
  if (rawLines.length > 1 && rawLines[rawLines.length - 1] === '') rawLines.pop();
  if (rawLines.length - 1 > STATEMENT_LINES_MAX) {
    return { ok: false, tooLarge: true, lineCount: rawLines.length - 1 };
  }
  const errors: LineError[] = [];
  const header = rawLines[0] ?? '';
  if (header !== STATEMENT_HEADER) {
    errors.push({ line: 1, message: `unexpected header "${header.slice(0, 200)}"` });
    return { ok: false, tooLarge: false, errors };
  }
  const lines: StatementLine[] = [];
  const firstLineOfReference = new Map<string, number>();
  for (let index = 1; index < rawLines.length && errors.length < STATEMENT_ERRORS_MAX; index++) {
    const line = index + 1;
    const fields = splitCsvRecord(rawLines[index]!);
    if (fields === null) {
      errors.push({ line, message: 'unbalanced or misplaced double quote' });
      continue;
    }
    if (fields.length !== 4) {
      errors.push({ line, message: `expected 4 fields, found ${fields.length}` });
      continue;
    }
    const [reference, amountRaw, currency, valueDate] = fields as [string, string, string, string];
    const before = errors.length;
    if (reference.length < 1 || reference.length > REFERENCE_LENGTH_MAX) {
      errors.push({
        line,
        field: 'reference',
        message: `must be 1..${REFERENCE_LENGTH_MAX} characters`,
      });
    } else if (firstLineOfReference.has(reference)) {
      errors.push({
        line,
        field: 'reference',
        message: `"${reference}" already appears on line ${firstLineOfReference.get(reference)}`,
      });
    }
    const amount = parseAmount(amountRaw);
    if (typeof amount === 'string') errors.push({ line, field: 'amount_minor', message: amount });
    if (!/^[A-Z]{3}$/.test(currency))
      errors.push({ line, field: 'currency', message: `"${currency}" is not an ISO 4217 code` });
    if (!isCalendarDate(valueDate))
      errors.push({
        line,
        field: 'value_date',
        message: `"${valueDate}" is not a date YYYY-MM-DD`,
      });
    if (errors.length > before || typeof amount === 'string') continue;
    firstLineOfReference.set(reference, line);
    lines.push({ line, reference, amountMinor: amount, currency, valueDate });
  }
  if (errors.length > 0)
    return { ok: false, tooLarge: false, errors: errors.slice(0, STATEMENT_ERRORS_MAX) };
  return { ok: true, lines };
}

/** [first value date, day after the last value date), UTC; null for an empty statement. */
export function statementWindow(lines: readonly StatementLine[]): { from: Date; to: Date } | null {
  if (lines.length === 0) return null;
  const dates = lines.map((l) => l.valueDate).sort();
  const from = new Date(`${dates[0]!}T00:00:00.000Z`);
  const to = new Date(new Date(`${dates[dates.length - 1]!}T00:00:00.000Z`).getTime() + DAY_MS);
  return { from, to };
}

export interface SettlementEntry {
  readonly entryId: string;
  readonly transactionId: string;
  readonly accountId: string;
  /** On the settlement account (ASSET): DEBIT = received at the bank, CREDIT = paid out. */
  readonly direction: 'DEBIT' | 'CREDIT';
  readonly amountMinor: number;
  readonly currency: string;
  readonly reference: string | null;
  readonly postedAt: Date;
}

export function signedLedgerAmount(entry: SettlementEntry): number {
  return entry.direction === 'DEBIT' ? entry.amountMinor : -entry.amountMinor;
}

export interface MatchedLine extends StatementLine {
  readonly transactionId: string;
  readonly entryId: string;
  /** How the line was matched. */
  readonly by: 'REFERENCE' | 'AMOUNT_AND_DATE';
}

export interface AmountDifference {
  readonly line: number;
  readonly reference: string;
  readonly currency: string;
  readonly statementAmountMinor: number;
  readonly ledgerAmountMinor: number;
  readonly transactionId: string;
  readonly entryId: string;
}

export interface StatementMatch {
  readonly matched: MatchedLine[];
  readonly unmatchedStatementLines: StatementLine[];
  readonly unmatchedLedgerEntries: SettlementEntry[];
  readonly amountDifferences: AmountDifference[];
}

function dayOf(date: Date): number {
  return Math.floor(date.getTime() / DAY_MS);
}

/**
 * Exact reference first (same reference, currency and signed amount = matched; same reference
 * otherwise = amount difference); then, among what is left, same currency and signed amount with
 * the value date within `dateWindowDays` of the posting day (closest day first). Every line and
 * every entry ends up in exactly one bucket.
 */
export function matchStatement(
  lines: readonly StatementLine[],
  entries: readonly SettlementEntry[],
  options: { dateWindowDays: number },
): StatementMatch {
  invariant(
    Number.isSafeInteger(options.dateWindowDays) && options.dateWindowDays >= 0,
    () => `dateWindowDays ${options.dateWindowDays} must be an integer >= 0`,
  );
  const ordered = [...entries].sort(
    (a, b) => a.postedAt.getTime() - b.postedAt.getTime() || (a.entryId < b.entryId ? -1 : 1),
  );
  const used = new Set<string>();
  const { matched, amountDifferences, leftover } = matchByReference(lines, ordered, used);
  const unmatchedStatementLines: StatementLine[] = [];
  for (const line of leftover) {
    const best = closestByAmountAndDate(line, ordered, used, options.dateWindowDays);
    if (best === undefined) {
      unmatchedStatementLines.push(line);
      continue;
    }
    used.add(best.entryId);
    matched.push({
      ...line,
      transactionId: best.transactionId,
      entryId: best.entryId,
      by: 'AMOUNT_AND_DATE',
    });
  }
  const unmatchedLedgerEntries = ordered.filter((e) => !used.has(e.entryId));
  invariant(
    matched.length + amountDifferences.length + unmatchedStatementLines.length === lines.length,
    () => 'every statement line lands in exactly one bucket',
  );
  invariant(
    matched.length + amountDifferences.length + unmatchedLedgerEntries.length === entries.length,
    () => 'every settlement entry lands in exactly one bucket',
  );
  matched.sort((a, b) => a.line - b.line);
  return { matched, unmatchedStatementLines, unmatchedLedgerEntries, amountDifferences };
}

/**
 * The first pass: a line whose reference an unused entry carries is matched (same currency and
 * signed amount) or an amount difference; lines without such an entry are left over.
 */
function matchByReference(
  lines: readonly StatementLine[],
  ordered: readonly SettlementEntry[],
  used: Set<string>,
): { matched: MatchedLine[]; amountDifferences: AmountDifference[]; leftover: StatementLine[] } {
  const byReference = new Map<string, SettlementEntry[]>();
  for (const e of ordered) {
    if (e.reference === null) continue;
    const list = byReference.get(e.reference) ?? [];
    list.push(e);
    byReference.set(e.reference, list);
  }
  const matched: MatchedLine[] = [];
  const amountDifferences: AmountDifference[] = [];
  const leftover: StatementLine[] = [];
  for (const line of lines) {
    const candidates = (byReference.get(line.reference) ?? []).filter((e) => !used.has(e.entryId));
    const exact = candidates.find(
      (e) => e.currency === line.currency && signedLedgerAmount(e) === line.amountMinor,
    );
    const chosen = exact ?? candidates[0];
    if (chosen === undefined) {
      leftover.push(line);
      continue;
    }
    used.add(chosen.entryId);
    if (exact !== undefined) {
      matched.push({
        ...line,
        transactionId: chosen.transactionId,
        entryId: chosen.entryId,
        by: 'REFERENCE',
      });
    } else {
      amountDifferences.push({
        line: line.line,
        reference: line.reference,
        currency: line.currency,
        statementAmountMinor: line.amountMinor,
        ledgerAmountMinor: signedLedgerAmount(chosen),
        transactionId: chosen.transactionId,
        entryId: chosen.entryId,
      });
    }
  }
  return { matched, amountDifferences, leftover };
}

/** The unused entry of the line's currency and signed amount posted closest to its value date. */
function closestByAmountAndDate(
  line: StatementLine,
  ordered: readonly SettlementEntry[],
  used: ReadonlySet<string>,
  dateWindowDays: number,
): SettlementEntry | undefined {
  const valueDay = dayOf(new Date(`${line.valueDate}T00:00:00.000Z`));
  let best: SettlementEntry | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const e of ordered) {
    if (used.has(e.entryId) || e.currency !== line.currency) continue;
    if (signedLedgerAmount(e) !== line.amountMinor) continue;
    const distance = Math.abs(dayOf(e.postedAt) - valueDay);
    if (distance <= dateWindowDays && distance < bestDistance) {
      best = e;
      bestDistance = distance;
    }
  }
  return best;
}

/** The discrepancies a statement match records. */
export function statementFindings(match: StatementMatch): Finding[] {
  const check = 'STATEMENT_MATCH';
  const findings: Finding[] = [];
  for (const line of match.unmatchedStatementLines) {
    findings.push(
      finding(
        check,
        'STATEMENT_LINE_UNMATCHED',
        `line:${line.line}`,
        `Statement line ${line.line} (${line.reference}, ${line.amountMinor} ${line.currency}, ${line.valueDate}) has no settlement entry in the ledger.`,
        {
          reference: line.reference,
          expectedMinor: line.amountMinor,
          currency: line.currency,
        },
      ),
    );
  }
  for (const e of match.unmatchedLedgerEntries) {
    findings.push(
      finding(
        check,
        'LEDGER_ENTRY_UNMATCHED',
        `entry:${e.entryId}`,
        `Settlement entry ${e.entryId} (${e.direction} ${e.amountMinor} ${e.currency}, reference ${e.reference ?? 'none'}, posted ${e.postedAt.toISOString()}) is not on the statement.`,
        {
          transactionId: e.transactionId,
          accountId: e.accountId,
          foundMinor: signedLedgerAmount(e),
          currency: e.currency,
          reference: e.reference,
        },
      ),
    );
  }
  for (const d of match.amountDifferences) {
    findings.push(
      finding(
        check,
        'STATEMENT_AMOUNT_MISMATCH',
        `line:${d.line}`,
        `Statement line ${d.line} (${d.reference}) says ${d.statementAmountMinor} ${d.currency}; the ledger's settlement entry says ${d.ledgerAmountMinor}.`,
        {
          transactionId: d.transactionId,
          reference: d.reference,
          expectedMinor: d.statementAmountMinor,
          foundMinor: d.ledgerAmountMinor,
          currency: d.currency,
        },
      ),
    );
  }
  return findings;
}
