// Reads for the checks: the ledger's read contract (the ledger_read.v1_* views documented in
// contracts/sql/ledger_read.yaml; reconciliation_app may SELECT those through ledger_reader and
// nothing of the ledger's tables), joined with the event facts in the reconciliation schema.
// Every read is bounded (keyset pages or a LIMIT); the checks themselves are pure functions.
// Statements are slonik tokens through queryIn, every row checked by its zod schema, so a view
// of the read contract that changes shape fails here, not in a check reading undefined.
import { z } from 'zod';
import { invariant } from '@ledgerline/platform/invariant';
import { queryIn, sql, textSymbol, type PgQueryable } from '@ledgerline/platform/database/slonik';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
import type {
  AccountType,
  EntryRow,
  PostedEvent,
  ProjectionRow,
  TransactionRow,
  TrialBalanceRow,
} from '../domain/ledger-checks.js';
import type {
  LedgerTransactionFact,
  OutcomeFact,
  PaymentFacts,
  StepCommandFact,
} from '../domain/saga-checks.js';
import type { SettlementEntry } from '../domain/statement.js';
import { systemAccountId } from '../domain/ids.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export interface Window {
  readonly from: Date;
  readonly to: Date;
}

export interface KeysetPosition {
  /** The instant as PostgreSQL prints it: microseconds survive, which a JS Date would drop. */
  readonly postedAt: string;
  readonly id: string;
}

export interface TransactionWithEvents {
  readonly row: TransactionRow;
  readonly postedAt: string;
  readonly events: PostedEvent[];
}

const direction = textSymbol<'DEBIT' | 'CREDIT'>();

/** A PaymentStepPosted fact as reconciliation.ledger_outcomes stores it. */
const postedEventRow = z.object({
  event_id: z.string(),
  transaction_id: z.string(),
  payment_id: z.string().nullable(),
  step: z.string(),
  amount_minor: z.number().int(),
  currency: z.string(),
  entries: z.array(
    z.object({
      entryId: z.string(),
      accountId: z.string(),
      direction,
      amountMinor: z.number().int(),
      currency: z.string(),
    }),
  ),
});
type PostedEventRow = z.infer<typeof postedEventRow>;

function postedEventOf(row: PostedEventRow): PostedEvent {
  return {
    eventId: row.event_id,
    transactionId: row.transaction_id,
    paymentId: row.payment_id,
    step: row.step,
    amountMinor: row.amount_minor,
    currency: row.currency,
    entries: row.entries,
  };
}

/**
 * Ledger transactions posted in the window with their entries and the events announcing them.
 * Three index-driven queries per page (transactions by posted_at range, then entries and events
 * by transaction id) and assembly here: linear in the window, whatever the size of the ledger.
 */
export async function readTransactionsPage(
  db: PgQueryable,
  window: Window,
  after: KeysetPosition | null,
  limit: number,
): Promise<TransactionWithEvents[]> {
  const rows = await windowTransactions(db, window, after, limit);
  if (rows.length === 0) return [];
  const ids = arrayLiteral(rows.map((r) => r.transaction_id));
  const [entriesById, eventsById] = await Promise.all([
    entriesOf(db, ids),
    postedEventsOf(db, ids),
  ]);
  return rows.map((r) => ({
    row: {
      transactionId: r.transaction_id,
      paymentId: r.payment_id,
      step: r.step,
      currency: r.currency,
      entries: entriesById.get(r.transaction_id) ?? [],
    },
    postedAt: r.posted_at,
    events: eventsById.get(r.transaction_id) ?? [],
  }));
}

/** One keyset page of the ledger transactions posted in the window. */
async function windowTransactions(
  db: PgQueryable,
  window: Window,
  after: KeysetPosition | null,
  limit: number,
) {
  // The first page starts at (from, nil uuid): ledger ids are UUIDv5, never nil. Without an OR
  // the planner starts each page's index range where the previous page ended.
  const from = after?.postedAt ?? window.from.toISOString();
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        transaction_id: z.string(),
        payment_id: z.string().nullable(),
        step: z.string(),
        currency: z.string(),
        posted_at: z.string(),
      }),
    )`SELECT t.transaction_id, t.payment_id, t.step, t.currency, t.posted_at::text AS posted_at
       FROM ledger_read.v1_transactions t
      WHERE t.posted_at >= ${from}::timestamptz AND t.posted_at < ${sql.timestamp(window.to)}
        AND (t.posted_at, t.transaction_id) > (${from}::timestamptz, ${after?.id ?? NIL_UUID}::uuid)
      ORDER BY t.posted_at, t.transaction_id
      LIMIT ${limit}`,
  );
  return rows;
}

/** The entries of the given transactions (an array literal of ids), by transaction. */
async function entriesOf(db: PgQueryable, ids: string): Promise<Map<string, EntryRow[]>> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        transaction_id: z.string(),
        entry_id: z.string(),
        account_id: z.string(),
        direction,
        amount_minor: z.number().int(),
        currency: z.string(),
      }),
    )`SELECT transaction_id, entry_id, account_id, direction, amount_minor, currency
       FROM ledger_read.v1_entries WHERE transaction_id = ANY(${ids}::uuid[])
      ORDER BY transaction_id, entry_index`,
  );
  const entriesById = new Map<string, EntryRow[]>();
  for (const e of rows) {
    const list = entriesById.get(e.transaction_id) ?? [];
    list.push({
      entryId: e.entry_id,
      accountId: e.account_id,
      direction: e.direction,
      amountMinor: e.amount_minor,
      currency: e.currency,
    });
    entriesById.set(e.transaction_id, list);
  }
  return entriesById;
}

/** The PaymentStepPosted events recorded for the given transactions, by transaction. */
async function postedEventsOf(db: PgQueryable, ids: string): Promise<Map<string, PostedEvent[]>> {
  const { rows } = await queryIn(
    db,
    sql.type(postedEventRow)`SELECT event_id, transaction_id, payment_id, step, amount_minor,
            currency, entries
       FROM reconciliation.ledger_outcomes
      WHERE transaction_id = ANY(${ids}::uuid[]) AND outcome = 'POSTED'
      ORDER BY transaction_id, event_id`,
  );
  const eventsById = new Map<string, PostedEvent[]>();
  for (const o of rows) {
    const list = eventsById.get(o.transaction_id) ?? [];
    list.push(postedEventOf(o));
    eventsById.set(o.transaction_id, list);
  }
  return eventsById;
}

/** PaymentStepPosted events in the window whose transaction the ledger does not hold. */
export async function readEventsWithoutRows(
  db: PgQueryable,
  window: Window,
  limit: number,
): Promise<PostedEvent[]> {
  const { rows } = await queryIn(
    db,
    sql.type(postedEventRow)`SELECT o.event_id, o.transaction_id, o.payment_id, o.step,
            o.amount_minor, o.currency, o.entries
       FROM reconciliation.ledger_outcomes o
      WHERE o.outcome = 'POSTED' AND o.posted_at >= ${sql.timestamp(window.from)}
        AND o.posted_at < ${sql.timestamp(window.to)}
        AND NOT EXISTS (SELECT 1 FROM ledger_read.v1_transactions t WHERE t.transaction_id = o.transaction_id)
      ORDER BY o.posted_at, o.event_id
      LIMIT ${limit}`,
  );
  return rows.map(postedEventOf);
}

/** Debits and credits per currency and account type, over every entry posted before `asOf`. */
export async function readTrialBalance(db: PgQueryable, asOf: Date): Promise<TrialBalanceRow[]> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        currency: z.string(),
        type: textSymbol<AccountType>(),
        debits_minor: z.number().int(),
        credits_minor: z.number().int(),
      }),
    )`SELECT e.currency, a.type,
            coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'DEBIT'), 0)::bigint AS debits_minor,
            coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'CREDIT'), 0)::bigint AS credits_minor
       FROM ledger_read.v1_entries e JOIN ledger_read.v1_accounts a ON a.account_id = e.account_id
      WHERE e.posted_at < ${sql.timestamp(asOf)}
      GROUP BY e.currency, a.type
      ORDER BY e.currency, a.type`,
  );
  return rows.map((r) => ({
    currency: r.currency,
    accountType: r.type,
    debitsMinor: r.debits_minor,
    creditsMinor: r.credits_minor,
  }));
}

/** One page of accounts (by id) with their projection row and the SUM of their entries. */
export async function readProjectionPage(
  db: PgQueryable,
  afterAccountId: string | null,
  limit: number,
): Promise<ProjectionRow[]> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        account_id: z.string(),
        type: textSymbol<AccountType>(),
        currency: z.string(),
        balance_minor: z.number().int().nullable(),
        debits_minor: z.number().int().nullable(),
        credits_minor: z.number().int().nullable(),
        entry_count: z.number().int().nullable(),
        entry_debits_minor: z.number().int(),
        entry_credits_minor: z.number().int(),
        entries_n: z.number().int(),
      }),
    )`SELECT a.account_id, a.type, a.currency,
            b.balance_minor, b.debits_minor, b.credits_minor, b.entry_count,
            s.entry_debits_minor, s.entry_credits_minor, s.entries_n
       FROM ledger_read.v1_accounts a
       LEFT JOIN ledger_read.v1_balances b ON b.account_id = a.account_id
       CROSS JOIN LATERAL (
         SELECT coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'DEBIT'), 0)::bigint AS entry_debits_minor,
                coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'CREDIT'), 0)::bigint AS entry_credits_minor,
                count(*)::bigint AS entries_n
           FROM ledger_read.v1_entries e WHERE e.account_id = a.account_id) s
      WHERE (${afterAccountId}::uuid IS NULL OR a.account_id > ${afterAccountId}::uuid)
      ORDER BY a.account_id
      LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    accountId: r.account_id,
    accountType: r.type,
    currency: r.currency,
    projection:
      r.balance_minor === null
        ? null
        : {
            balanceMinor: r.balance_minor,
            debitsMinor: r.debits_minor ?? 0,
            creditsMinor: r.credits_minor ?? 0,
            entryCount: r.entry_count ?? 0,
          },
    entryDebitsMinor: r.entry_debits_minor,
    entryCreditsMinor: r.entry_credits_minor,
    entryCount: r.entries_n,
  }));
}

/** Payments with anything in the window (ledger transaction, request, status change), by id. */
export async function readPaymentIdsPage(
  db: PgQueryable,
  window: Window,
  afterPaymentId: string | null,
  limit: number,
): Promise<string[]> {
  const from = sql.timestamp(window.from);
  const to = sql.timestamp(window.to);
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ payment_id: z.string() }))`SELECT payment_id FROM (
       SELECT payment_id FROM ledger_read.v1_transactions
        WHERE payment_id IS NOT NULL AND posted_at >= ${from} AND posted_at < ${to}
       UNION
       SELECT payment_id FROM reconciliation.payment_requests
        WHERE requested_at >= ${from} AND requested_at < ${to}
       UNION
       SELECT payment_id FROM reconciliation.payment_statuses
        WHERE changed_at >= ${from} AND changed_at < ${to}) p
      WHERE (${afterPaymentId}::uuid IS NULL OR payment_id > ${afterPaymentId}::uuid)
      ORDER BY payment_id
      LIMIT ${limit}`,
  );
  return rows.map((r) => r.payment_id);
}

/** The payment requests the processor announced. */
function paymentRequests(db: PgQueryable, idList: string) {
  return queryIn(
    db,
    sql.type(
      z.object({
        payment_id: z.string(),
        amount_minor: z.number().int(),
        currency: z.string(),
        requested_at: z.date(),
      }),
    )`SELECT payment_id, amount_minor, currency, requested_at
       FROM reconciliation.payment_requests WHERE payment_id = ANY(${idList}::uuid[])`,
  );
}

/** The latest status of each payment, and every terminal status it ever reported. */
function paymentStatuses(db: PgQueryable, idList: string) {
  return queryIn(
    db,
    sql.type(
      z.object({
        payment_id: z.string(),
        status: z.string(),
        amount_minor: z.number().int(),
        currency: z.string(),
        refunded_minor: z.number().int(),
        terminal_statuses: z.array(z.string()),
        changed_at: z.date(),
      }),
    )`SELECT payment_id, status, amount_minor, currency, refunded_minor, terminal_statuses,
            changed_at
       FROM reconciliation.payment_statuses WHERE payment_id = ANY(${idList}::uuid[])`,
  );
}

/** The step commands sent to the ledger, each at its first sighting. */
function stepCommands(db: PgQueryable, idList: string) {
  return queryIn(
    db,
    sql.type(
      z.object({
        payment_id: z.string(),
        step_key: z.string(),
        step: z.string(),
        sequence: z.number().int(),
        seen_at: z.date(),
      }),
    )`SELECT payment_id, step_key, step, sequence, min(seen_at) AS seen_at
       FROM reconciliation.posting_commands WHERE payment_id = ANY(${idList}::uuid[])
      GROUP BY payment_id, step_key, step, sequence`,
  );
}

/** The ledger's outcome events for those payments' steps. */
function stepOutcomes(db: PgQueryable, idList: string) {
  return queryIn(
    db,
    sql.type(
      z.object({
        payment_id: z.string(),
        event_id: z.string(),
        step_key: z.string(),
        outcome: textSymbol<'POSTED' | 'REJECTED'>(),
        reason: z.string().nullable(),
      }),
    )`SELECT payment_id, event_id, step_key, outcome, reason
       FROM reconciliation.ledger_outcomes WHERE payment_id = ANY(${idList}::uuid[])`,
  );
}

/** The ledger's transactions of those payments, with their amount and clearing net. */
function paymentTransactions(db: PgQueryable, idList: string) {
  return queryIn(
    db,
    sql.type(
      z.object({
        payment_id: z.string(),
        transaction_id: z.string(),
        step: z.string(),
        sequence: z.number().int(),
        currency: z.string(),
        posted_at: z.date(),
        amount_minor: z.number().int(),
        clearing_net_minor: z.number().int(),
      }),
    )`SELECT t.payment_id, t.transaction_id, t.step, t.sequence, t.currency, t.posted_at,
            coalesce(sum(e.amount_minor) FILTER (WHERE e.direction = 'DEBIT'), 0)::bigint AS amount_minor,
            coalesce(sum(CASE WHEN e.direction = 'CREDIT' THEN e.amount_minor ELSE -e.amount_minor END)
                     FILTER (WHERE a.system_kind = 'CLEARING'), 0)::bigint AS clearing_net_minor
       FROM ledger_read.v1_transactions t
       LEFT JOIN ledger_read.v1_entries e ON e.transaction_id = t.transaction_id
       LEFT JOIN ledger_read.v1_accounts a ON a.account_id = e.account_id
      WHERE t.payment_id = ANY(${idList}::uuid[])
      -- Every column: PostgreSQL infers no functional dependency on a view's key.
      GROUP BY t.transaction_id, t.payment_id, t.step, t.sequence, t.currency, t.posted_at`,
  );
}

/** Everything both sides know about these payments. */
export async function readPaymentFacts(
  db: PgQueryable,
  paymentIds: readonly string[],
): Promise<PaymentFacts[]> {
  if (paymentIds.length === 0) return [];
  const ids = [...paymentIds];
  const idList = arrayLiteral(ids);
  const [requests, statuses, commands, outcomes, transactions] = await Promise.all([
    paymentRequests(db, idList),
    paymentStatuses(db, idList),
    stepCommands(db, idList),
    stepOutcomes(db, idList),
    paymentTransactions(db, idList),
  ]);
  const requestsById = new Map(requests.rows.map((r) => [r.payment_id, r]));
  const statusesById = new Map(statuses.rows.map((r) => [r.payment_id, r]));
  const commandsById = byPayment(commands.rows);
  const outcomesById = byPayment(outcomes.rows);
  const transactionsById = byPayment(transactions.rows);
  return ids.map((paymentId): PaymentFacts => {
    const request = requestsById.get(paymentId);
    const status = statusesById.get(paymentId);
    const txs = (transactionsById.get(paymentId) ?? []).map(transactionFact);
    const currency = request?.currency ?? status?.currency ?? txs[0]?.currency ?? null;
    const stepCommands: StepCommandFact[] = (commandsById.get(paymentId) ?? []).map((c) => ({
      stepKey: c.step_key,
      step: c.step,
      sequence: c.sequence,
      seenAt: c.seen_at,
    }));
    const outcomeFacts: OutcomeFact[] = (outcomesById.get(paymentId) ?? []).map((o) => ({
      eventId: o.event_id,
      stepKey: o.step_key,
      outcome: o.outcome,
      reason: o.reason,
    }));
    return {
      paymentId,
      amountMinor: request?.amount_minor ?? status?.amount_minor ?? null,
      currency,
      requestedAt: request?.requested_at ?? null,
      status: status
        ? {
            status: status.status,
            refundedMinor: status.refunded_minor,
            changedAt: status.changed_at,
            terminalStatuses: status.terminal_statuses,
          }
        : null,
      commands: stepCommands,
      outcomes: outcomeFacts,
      transactions: txs,
      clearingAccountId: currency === null ? null : systemAccountId('CLEARING', currency),
    };
  });
}

/** Rows grouped by the payment they belong to. */
function byPayment<T extends { payment_id: string }>(rows: readonly T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const r of rows) {
    const list = map.get(r.payment_id) ?? [];
    list.push(r);
    map.set(r.payment_id, list);
  }
  return map;
}

type PaymentTransactionRow = Awaited<ReturnType<typeof paymentTransactions>>['rows'][number];

function transactionFact(t: PaymentTransactionRow): LedgerTransactionFact {
  return {
    transactionId: t.transaction_id,
    step: t.step,
    sequence: t.sequence,
    amountMinor: t.amount_minor,
    currency: t.currency,
    clearingNetMinor: t.clearing_net_minor,
    postedAt: t.posted_at,
  };
}

/** Adjustment commands seen in the window, each with the distinct outcome events of its key. */
export async function readAdjustmentCommands(
  db: PgQueryable,
  window: Window,
  limit: number,
): Promise<{ stepKey: string; seenAt: Date; accountId: string; eventIds: string[] }[]> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        step_key: z.string(),
        seen_at: z.date(),
        account_id: z.string(),
        event_ids: z.array(z.string()),
      }),
    )`SELECT c.step_key, min(c.seen_at) AS seen_at, min(c.account_id::text) AS account_id,
            coalesce(array_agg(DISTINCT o.event_id::text) FILTER (
              WHERE o.event_id IS NOT NULL AND o.reason IS DISTINCT FROM 'DUPLICATE_CONFLICT'), '{}') AS event_ids
       FROM reconciliation.posting_commands c
       LEFT JOIN reconciliation.ledger_outcomes o ON o.step_key = c.step_key
      WHERE c.payment_id IS NULL AND c.seen_at >= ${sql.timestamp(window.from)}
        AND c.seen_at < ${sql.timestamp(window.to)}
      GROUP BY c.step_key
      ORDER BY c.step_key
      LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    stepKey: r.step_key,
    seenAt: r.seen_at,
    accountId: r.account_id,
    eventIds: r.event_ids,
  }));
}

/** SETTLEMENT entries posted in the window in these currencies, with their transaction's reference. */
export async function readSettlementEntries(
  db: PgQueryable,
  window: Window,
  currencies: readonly string[],
  limit: number,
): Promise<SettlementEntry[]> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        entry_id: z.string(),
        transaction_id: z.string(),
        account_id: z.string(),
        direction,
        amount_minor: z.number().int(),
        currency: z.string(),
        reference: z.string().nullable(),
        posted_at: z.date(),
      }),
    )`SELECT e.entry_id, e.transaction_id, e.account_id, e.direction, e.amount_minor, e.currency,
            t.reference, e.posted_at
       FROM ledger_read.v1_entries e
       JOIN ledger_read.v1_accounts a ON a.account_id = e.account_id
       JOIN ledger_read.v1_transactions t ON t.transaction_id = e.transaction_id
      WHERE a.system_kind = 'SETTLEMENT' AND e.posted_at >= ${sql.timestamp(window.from)}
        AND e.posted_at < ${sql.timestamp(window.to)}
        AND e.currency = ANY(${sql.array([...currencies], 'text')})
      ORDER BY e.posted_at, e.entry_id
      LIMIT ${limit + 1}`,
  );
  // Matching against a truncated list would report entries as missing that are not: refuse.
  invariant(rows.length <= limit, () => `more than ${limit} settlement entries in the window`);
  return rows.map((r) => ({
    entryId: r.entry_id,
    transactionId: r.transaction_id,
    accountId: r.account_id,
    direction: r.direction,
    amountMinor: r.amount_minor,
    currency: r.currency,
    reference: r.reference,
    postedAt: r.posted_at,
  }));
}

/** The earliest instant anything was recorded on either side: where continuous runs begin. */
export async function readEarliestActivity(db: PgQueryable): Promise<Date | null> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({ earliest: z.date().nullable() }),
    )`SELECT least((SELECT min(posted_at) FROM ledger_read.v1_transactions),
                  (SELECT min(seen_at) FROM reconciliation.posting_commands),
                  (SELECT min(changed_at) FROM reconciliation.payment_statuses)) AS earliest`,
  );
  return rows[0]?.earliest ?? null;
}
