// Loads what one batch of commands needs and persists what it decided: a handful of statements
// per batch, never one round trip per command. Every statement is a slonik `sql` token run with
// queryIn in the consumer's transaction, rows checked by zod schemas; batch columns are bound as
// the platform's array literals (README "Database access (slonik)").
import { z } from 'zod';
import { invariant } from '@ledgerline/platform/invariant';
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
import type { AccountSnapshot, AccountStatus, AccountType, Direction } from '../domain/accounts.js';
import { assertAccountSnapshot, balanceDelta, systemKindOf } from '../domain/accounts.js';
import { emptyBatchView, type BatchView } from '../domain/batch.js';
import { isPostingCommand, stepKeyOf, type LedgerCommand } from '../domain/commands.js';
import type { CurrencyCode } from '../domain/currencies.js';
import { isUuid, transactionIdOfStepKey } from '../domain/ids.js';
import {
  assertTransactionWellFormed,
  requirementsOf,
  type LedgerEntry,
  type LedgerTransaction,
  type RejectionReason,
} from '../domain/posting.js';
import type { PostingStep } from '../domain/steps.js';
import {
  extraAccountIdsOf,
  type BalanceMove,
  type BatchEffects,
  type StoredOrigin,
} from '../domain/batch-effects.js';

export interface LoadedBatch {
  readonly view: BatchView;
  readonly stored: Map<string, StoredOrigin>;
}

// Enumerated columns are checked by the database (CHECK constraints); the schema holds their
// shape, the domain's assertions their meaning.
const accountRow = z.object({
  account_id: z.string(),
  type: z.custom<AccountType>((v) => typeof v === 'string'),
  currency: z.custom<CurrencyCode>((v) => typeof v === 'string'),
  status: z.custom<AccountStatus>((v) => typeof v === 'string'),
  balance_floor_minor: z.number().int().nullable(),
  is_system: z.boolean(),
  balance_minor: z.number().int(),
});
type AccountRow = z.infer<typeof accountRow>;

const transactionRow = z.object({
  transaction_id: z.string(),
  payment_id: z.string().nullable(),
  step: z.custom<PostingStep>((v) => typeof v === 'string'),
  sequence: z.number().int(),
  currency: z.custom<CurrencyCode>((v) => typeof v === 'string'),
  references_transaction_id: z.string().nullable(),
  reference: z.string().nullable(),
  step_key: z.string(),
  command_id: z.string(),
  correlation_id: z.string(),
  refund_id: z.string().nullable(),
  adjustment_id: z.string().nullable(),
  account_id: z.string(),
  account_balance_after_minor: z.number().int(),
  command_fingerprint: z.string(),
  posted_at: z.date(),
});
type TransactionRow = z.infer<typeof transactionRow>;

const entryRow = z.object({
  entry_id: z.string(),
  transaction_id: z.string(),
  account_id: z.string(),
  direction: z.custom<Direction>((v) => v === 'DEBIT' || v === 'CREDIT'),
  amount_minor: z.number().int(),
  currency: z.custom<CurrencyCode>((v) => typeof v === 'string'),
  account_type: z.custom<AccountType>((v) => typeof v === 'string'),
});
type EntryRow = z.infer<typeof entryRow>;

const rejectionRow = z.object({
  step_key: z.string(),
  payment_id: z.string().nullable(),
  step: z.custom<PostingStep>((v) => typeof v === 'string'),
  sequence: z.number().int(),
  reason: z.custom<RejectionReason>((v) => typeof v === 'string'),
  detail: z.string(),
  account_id: z.string(),
  command_id: z.string(),
  correlation_id: z.string(),
  refund_id: z.string().nullable(),
  adjustment_id: z.string().nullable(),
  command_fingerprint: z.string(),
  rejected_at: z.date(),
});

const balanceRow = z.object({ account_id: z.string(), balance_minor: z.number().int() });

export function accountFromRow(row: AccountRow): AccountSnapshot {
  const account: AccountSnapshot = {
    accountId: row.account_id,
    type: row.type,
    currency: row.currency,
    status: row.status,
    balanceFloorMinor: row.balance_floor_minor,
    balanceMinor: row.balance_minor,
    isSystem: row.is_system,
  };
  assertAccountSnapshot(account);
  return account;
}

/**
 * Reads the accounts the batch touches (locked, in id order so that two batches never deadlock),
 * the earlier transactions decide() compares against, and the outcomes already recorded for the
 * batch's step keys.
 */
export async function loadBatch(
  client: PgQueryable,
  commands: readonly LedgerCommand[],
): Promise<LoadedBatch> {
  const accountIds = new Set<string>();
  const transactionIds = new Set<string>();
  const stepKeys = new Set<string>();
  for (const command of commands) {
    const requirements = requirementsOf(command);
    for (const id of [...requirements.accountIds, ...extraAccountIdsOf(command)]) {
      if (isUuid(id)) accountIds.add(id);
    }
    for (const id of requirements.transactionIds) transactionIds.add(id);
    if (isPostingCommand(command)) stepKeys.add(stepKeyOf(command));
  }
  const view = emptyBatchView();
  const stored = new Map<string, StoredOrigin>();
  for (const account of await loadAccounts(client, [...accountIds])) {
    view.accounts.set(account.accountId, account);
  }
  if (transactionIds.size === 0 && stepKeys.size === 0) return { view, stored };
  await loadTransactions(client, transactionIds, stepKeys, view, stored);
  if (stepKeys.size > 0) await loadRejections(client, stepKeys, view, stored);
  return { view, stored };
}

/**
 * Customer accounts are locked (their floors decide postings). System accounts (clearing,
 * settlement, fees) are shared by every partition and have no floor: they are read without a
 * lock and moved by increments at the very end of the batch, so that batches of different
 * partitions only queue on them for the commit, not for the whole batch.
 */
async function loadAccounts(
  client: PgQueryable,
  accountIds: readonly string[],
): Promise<AccountSnapshot[]> {
  const ids = arrayLiteral(accountIds);
  const select = sql.fragment`SELECT a.account_id::text, a.type, a.currency, a.status,
         a.balance_floor_minor, a.is_system, b.balance_minor
       FROM ledger.accounts a JOIN ledger.balances b USING (account_id)
      WHERE a.account_id = ANY(${ids}::uuid[])`;
  // One round trip: the customers' rows locked in id order (the lock is taken above the CTE's
  // sort, and UNION ALL reads the customers before the systems), the system rows not.
  const accounts = await queryIn(
    client,
    sql.type(accountRow)`WITH customers AS (
         ${select} AND NOT a.is_system ORDER BY a.account_id FOR UPDATE OF b),
       systems AS (${select} AND a.is_system)
     SELECT * FROM customers UNION ALL SELECT * FROM systems`,
  );
  return accounts.rows.map(accountFromRow);
}

/**
 * A step key names its transaction (UUIDv5), so one primary-key probe finds both the
 * transactions the commands reference and the earlier postings of their own steps.
 */
async function loadTransactions(
  client: PgQueryable,
  transactionIds: ReadonlySet<string>,
  stepKeys: ReadonlySet<string>,
  view: BatchView,
  stored: Map<string, StoredOrigin>,
): Promise<void> {
  const lookedUp = new Set(transactionIds);
  for (const stepKey of stepKeys) lookedUp.add(transactionIdOfStepKey(stepKey));
  const transactions = await queryIn(
    client,
    sql.type(transactionRow)`SELECT transaction_id::text, payment_id::text, step, sequence,
            currency, references_transaction_id::text, reference, step_key, command_id::text,
            correlation_id::text, refund_id::text, adjustment_id::text, account_id::text,
            account_balance_after_minor, command_fingerprint, posted_at
       FROM ledger.transactions
      WHERE transaction_id = ANY(${arrayLiteral([...lookedUp])}::uuid[])`,
  );
  const entriesOf = await loadEntries(
    client,
    transactions.rows.map((t) => t.transaction_id),
  );
  for (const row of transactions.rows) {
    const entryRows = entriesOf.get(row.transaction_id) ?? [];
    const transaction = transactionFromRows(row, entryRows);
    if (transactionIds.has(row.transaction_id)) {
      view.transactions.set(row.transaction_id, transaction);
    }
    if (!stepKeys.has(row.step_key)) continue;
    const balanceChanges = new Map<string, number>();
    for (const entry of entryRows) {
      balanceChanges.set(
        entry.account_id,
        balanceDelta({ type: entry.account_type }, entry.direction, entry.amount_minor),
      );
    }
    view.postings.set(row.step_key, {
      fingerprint: row.command_fingerprint,
      transactionId: row.transaction_id,
      decision: {
        outcome: 'POSTED',
        idempotency: { stepKey: row.step_key, fingerprint: row.command_fingerprint },
        transaction,
        balanceChanges,
      },
    });
    stored.set(row.step_key, {
      origin: {
        commandId: row.command_id,
        correlationId: row.correlation_id,
        postedAt: row.posted_at,
        refundId: row.refund_id,
        adjustmentId: row.adjustment_id,
      },
      balanceAfter: { accountId: row.account_id, balanceMinor: row.account_balance_after_minor },
    });
  }
}

/** The entries of `transactionIds`, by transaction, in entry order. */
async function loadEntries(
  client: PgQueryable,
  transactionIds: readonly string[],
): Promise<Map<string, EntryRow[]>> {
  const entriesOf = new Map<string, EntryRow[]>();
  if (transactionIds.length === 0) return entriesOf;
  const entries = await queryIn(
    client,
    sql.type(entryRow)`SELECT e.entry_id::text, e.transaction_id::text, e.account_id::text,
            e.direction, e.amount_minor, e.currency, a.type AS account_type
       FROM ledger.entries e JOIN ledger.accounts a USING (account_id)
      WHERE e.transaction_id = ANY(${arrayLiteral(transactionIds)}::uuid[])
      ORDER BY e.transaction_id, e.entry_index`,
  );
  for (const row of entries.rows) {
    const list = entriesOf.get(row.transaction_id) ?? [];
    list.push(row);
    entriesOf.set(row.transaction_id, list);
  }
  return entriesOf;
}

/** The rejections already recorded for the batch's step keys, as decisions to re-emit. */
async function loadRejections(
  client: PgQueryable,
  stepKeys: ReadonlySet<string>,
  view: BatchView,
  stored: Map<string, StoredOrigin>,
): Promise<void> {
  const rejections = await queryIn(
    client,
    sql.type(rejectionRow)`SELECT step_key, payment_id::text, step, sequence, reason, detail,
            account_id, command_id::text, correlation_id::text, refund_id::text,
            adjustment_id::text, command_fingerprint, rejected_at
       FROM ledger.rejections WHERE step_key = ANY(${arrayLiteral([...stepKeys])}::text[])`,
  );
  for (const row of rejections.rows) {
    invariant(!view.postings.has(row.step_key), () => `step ${row.step_key} posted and rejected`);
    view.postings.set(row.step_key, {
      fingerprint: row.command_fingerprint,
      transactionId: null,
      decision: {
        outcome: 'REJECTED',
        idempotency: { stepKey: row.step_key, fingerprint: row.command_fingerprint },
        step: row.step,
        paymentId: row.payment_id,
        sequence: row.sequence,
        reason: row.reason,
        detail: row.detail,
        accountId: row.account_id,
      },
    });
    stored.set(row.step_key, {
      origin: {
        commandId: row.command_id,
        correlationId: row.correlation_id,
        postedAt: row.rejected_at,
        refundId: row.refund_id,
        adjustmentId: row.adjustment_id,
      },
      balanceAfter: null,
    });
  }
}

function transactionFromRows(
  row: TransactionRow,
  entryRows: readonly EntryRow[],
): LedgerTransaction {
  const entries: LedgerEntry[] = entryRows.map((e) => ({
    entryId: e.entry_id,
    accountId: e.account_id,
    direction: e.direction,
    amountMinor: e.amount_minor,
    currency: e.currency,
  }));
  const transaction: LedgerTransaction = {
    transactionId: row.transaction_id,
    paymentId: row.payment_id,
    step: row.step,
    sequence: row.sequence,
    currency: row.currency,
    referencesTransactionId: row.references_transaction_id,
    reference: row.reference,
    entries,
  };
  // Paired with the check before the INSERT: what was written is still a balanced step.
  assertTransactionWellFormed(transaction);
  return transaction;
}

/** Writes a batch's effects in the caller's transaction. Entries go in before transactions. */
export async function persistBatch(
  client: PgQueryable,
  effects: BatchEffects,
  view: BatchView,
): Promise<void> {
  await insertNewAccounts(client, effects.newAccounts);
  await changeStatuses(client, effects.statusChanges);
  await insertPostings(client, effects.postings);
  await moveCustomerBalances(client, effects, view);
  await insertRejections(client, effects.rejections);
  await insertConflicts(client, effects.conflicts);
  await insertApplied(client, effects.applied);
}

/** System accounts of a currency may already exist (created by another partition): kept. */
async function insertNewAccounts(
  client: PgQueryable,
  accounts: BatchEffects['newAccounts'],
): Promise<void> {
  if (accounts.length === 0) return;
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status,
         balance_floor_minor, is_system, system_kind, opened_at, status_changed_at)
       SELECT a.id, a.owner_ref, a.type, a.currency, a.status, a.floor, a.is_system, a.kind,
              a.opened_at, a.opened_at
         FROM unnest(${arrayLiteral(accounts.map((a) => a.account.accountId))}::uuid[],
                     ${arrayLiteral(accounts.map((a) => a.ownerRef))}::text[],
                     ${arrayLiteral(accounts.map((a) => a.account.type))}::text[],
                     ${arrayLiteral(accounts.map((a) => a.account.currency))}::text[],
                     ${arrayLiteral(accounts.map((a) => a.account.status))}::text[],
                     ${arrayLiteral(accounts.map((a) => a.account.balanceFloorMinor))}::bigint[],
                     ${arrayLiteral(accounts.map((a) => a.account.isSystem))}::boolean[],
                     ${arrayLiteral(accounts.map((a) => systemKindOf(a.account)))}::text[],
                     ${arrayLiteral(accounts.map((a) => a.openedAt))}::timestamptz[])
           AS a(id, owner_ref, type, currency, status, floor, is_system, kind, opened_at)
       ON CONFLICT (account_id) DO NOTHING`,
  );
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.balances (account_id, balance_minor)
       SELECT id, 0 FROM unnest(${arrayLiteral(accounts.map((a) => a.account.accountId))}::uuid[]) AS id
       ON CONFLICT (account_id) DO NOTHING`,
  );
}

async function changeStatuses(
  client: PgQueryable,
  statusChanges: BatchEffects['statusChanges'],
): Promise<void> {
  if (statusChanges.size === 0) return;
  const changes = [...statusChanges];
  const updated = await queryIn(
    client,
    sql.unsafe`UPDATE ledger.accounts a SET status = u.status, status_changed_at = u.at
         FROM unnest(${arrayLiteral(changes.map(([id]) => id))}::uuid[],
                     ${arrayLiteral(changes.map(([, c]) => c.status))}::text[],
                     ${arrayLiteral(changes.map(([, c]) => c.at))}::timestamptz[])
           AS u(id, status, at)
        WHERE a.account_id = u.id`,
  );
  invariant(updated.rowCount === changes.length, 'every status change found its account');
}

/**
 * One statement: the database checks at its end that every new transaction balances and that
 * every new entry belongs to a transaction of this statement (migration 002).
 */
async function insertPostings(
  client: PgQueryable,
  postings: BatchEffects['postings'],
): Promise<void> {
  if (postings.length === 0) return;
  const entries = postings.flatMap((p) =>
    p.transaction.entries.map((entry, index) => ({ entry, index, posting: p })),
  );
  for (const posting of postings) assertTransactionWellFormed(posting.transaction);
  await queryIn(
    client,
    sql.unsafe`WITH transactions AS (
         INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
           references_transaction_id, step_key, command_id, correlation_id, refund_id,
           adjustment_id, account_id, account_balance_after_minor, command_fingerprint, reference,
           posted_at)
         SELECT * FROM unnest(
           ${arrayLiteral(postings.map((p) => p.transaction.transactionId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.transaction.paymentId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.transaction.step))}::text[],
           ${arrayLiteral(postings.map((p) => p.transaction.sequence))}::int[],
           ${arrayLiteral(postings.map((p) => p.transaction.currency))}::text[],
           ${arrayLiteral(postings.map((p) => p.transaction.referencesTransactionId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.stepKey))}::text[],
           ${arrayLiteral(postings.map((p) => p.origin.commandId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.origin.correlationId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.origin.refundId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.origin.adjustmentId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.customerAccountId))}::uuid[],
           ${arrayLiteral(postings.map((p) => p.balanceAfterMinor))}::bigint[],
           ${arrayLiteral(postings.map((p) => p.fingerprint))}::text[],
           ${arrayLiteral(postings.map((p) => p.transaction.reference))}::text[],
           ${arrayLiteral(postings.map((p) => p.origin.postedAt))}::timestamptz[]))
       INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id, direction,
         amount_minor, currency, posted_at)
       SELECT * FROM unnest(
         ${arrayLiteral(entries.map((e) => e.entry.entryId))}::uuid[],
         ${arrayLiteral(entries.map((e) => e.posting.transaction.transactionId))}::uuid[],
         ${arrayLiteral(entries.map((e) => e.index))}::smallint[],
         ${arrayLiteral(entries.map((e) => e.entry.accountId))}::uuid[],
         ${arrayLiteral(entries.map((e) => e.entry.direction))}::text[],
         ${arrayLiteral(entries.map((e) => e.entry.amountMinor))}::bigint[],
         ${arrayLiteral(entries.map((e) => e.entry.currency))}::text[],
         ${arrayLiteral(entries.map((e) => e.posting.origin.postedAt))}::timestamptz[])`,
  );
}

/** Moves the locked customer balances; they must land exactly where the fold said. */
async function moveCustomerBalances(
  client: PgQueryable,
  effects: BatchEffects,
  view: BatchView,
): Promise<void> {
  const customerMoves = [...effects.balanceMoves.values()].filter(
    (m) => !view.accounts.get(m.accountId)?.isSystem,
  );
  if (customerMoves.length === 0) return;
  const updated = await moveBalances(client, customerMoves);
  invariant(updated.length === customerMoves.length, 'every balance move found its projection row');
  // Paired with decide(): the rows locked at load moved to exactly what the fold computed.
  for (const row of updated) {
    const expected = view.accounts.get(row.account_id)?.balanceMinor;
    invariant(
      expected === row.balance_minor,
      () => `balance of ${row.account_id} is ${row.balance_minor}, the fold says ${expected}`,
    );
  }
}

async function insertRejections(
  client: PgQueryable,
  rejections: BatchEffects['rejections'],
): Promise<void> {
  if (rejections.length === 0) return;
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.rejections (step_key, payment_id, step, sequence, reason, detail,
         account_id, command_id, correlation_id, refund_id, adjustment_id, command_fingerprint,
         rejected_at)
       SELECT * FROM unnest(
         ${arrayLiteral(rejections.map((r) => r.decision.idempotency.stepKey))}::text[],
         ${arrayLiteral(rejections.map((r) => (isUuid(r.decision.paymentId) ? r.decision.paymentId : null)))}::uuid[],
         ${arrayLiteral(rejections.map((r) => r.decision.step))}::text[],
         ${arrayLiteral(rejections.map((r) => (Number.isSafeInteger(r.decision.sequence) ? r.decision.sequence : 0)))}::int[],
         ${arrayLiteral(rejections.map((r) => r.decision.reason))}::text[],
         ${arrayLiteral(rejections.map((r) => r.decision.detail))}::text[],
         ${arrayLiteral(rejections.map((r) => r.decision.accountId))}::text[],
         ${arrayLiteral(rejections.map((r) => r.origin.commandId))}::uuid[],
         ${arrayLiteral(rejections.map((r) => r.origin.correlationId))}::uuid[],
         ${arrayLiteral(rejections.map((r) => r.origin.refundId))}::uuid[],
         ${arrayLiteral(rejections.map((r) => r.origin.adjustmentId))}::uuid[],
         ${arrayLiteral(rejections.map((r) => r.decision.idempotency.fingerprint))}::text[],
         ${arrayLiteral(rejections.map((r) => r.origin.postedAt))}::timestamptz[])`,
  );
}

async function insertConflicts(
  client: PgQueryable,
  conflicts: BatchEffects['conflicts'],
): Promise<void> {
  if (conflicts.length === 0) return;
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.command_conflicts (command_id, step_key, payment_id, step,
         sequence, original_fingerprint, conflicting_fingerprint, source_topic, source_partition,
         source_offset)
       SELECT * FROM unnest(
         ${arrayLiteral(conflicts.map((c) => c.commandId))}::uuid[],
         ${arrayLiteral(conflicts.map((c) => c.stepKey))}::text[],
         ${arrayLiteral(conflicts.map((c) => (isUuid(c.paymentId) ? c.paymentId : null)))}::uuid[],
         ${arrayLiteral(conflicts.map((c) => c.step))}::text[],
         ${arrayLiteral(conflicts.map((c) => (Number.isSafeInteger(c.sequence) ? c.sequence : 0)))}::int[],
         ${arrayLiteral(conflicts.map((c) => c.originalFingerprint))}::text[],
         ${arrayLiteral(conflicts.map((c) => c.conflictingFingerprint))}::text[],
         ${arrayLiteral(conflicts.map((c) => c.source.topic))}::text[],
         ${arrayLiteral(conflicts.map((c) => c.source.partition))}::int[],
         ${arrayLiteral(conflicts.map((c) => c.source.offset))}::bigint[])
       ON CONFLICT DO NOTHING`,
  );
}

/** First decision wins: a command id delivered again keeps what it was answered first. */
async function insertApplied(client: PgQueryable, applied: BatchEffects['applied']): Promise<void> {
  if (applied.length === 0) return;
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.applied_commands (command_id, type, account_id, outcome,
         rejection_reason, detail, adjustment_id, transaction_id, decided_at)
       SELECT * FROM unnest(
         ${arrayLiteral(applied.map((a) => a.commandId))}::uuid[],
         ${arrayLiteral(applied.map((a) => a.type))}::text[],
         ${arrayLiteral(applied.map((a) => a.accountId))}::text[],
         ${arrayLiteral(applied.map((a) => a.outcome))}::text[],
         ${arrayLiteral(applied.map((a) => a.rejectionReason))}::text[],
         ${arrayLiteral(applied.map((a) => a.detail))}::text[],
         ${arrayLiteral(applied.map((a) => a.adjustmentId))}::uuid[],
         ${arrayLiteral(applied.map((a) => a.transactionId))}::uuid[],
         ${arrayLiteral(applied.map((a) => a.decidedAt))}::timestamptz[])
       ON CONFLICT (command_id) DO NOTHING`,
  );
}

/**
 * Moves balances by increments. `lockInIdOrder` first locks the rows in account id order in the
 * same statement (an UPDATE alone locks them in whatever order its join reads them), for rows
 * that batches of every partition move: two batches then never deadlock on them.
 */
async function moveBalances(
  client: PgQueryable,
  moves: readonly BalanceMove[],
  options: { lockInIdOrder: boolean } = { lockInIdOrder: false },
): Promise<{ account_id: string; balance_minor: number }[]> {
  const ids = arrayLiteral(moves.map((m) => m.accountId));
  const locked = options.lockInIdOrder
    ? sql.fragment`WITH locked AS (SELECT account_id FROM ledger.balances
         WHERE account_id = ANY(${ids}::uuid[]) ORDER BY account_id FOR UPDATE)`
    : sql.fragment``;
  const lockedOnly = options.lockInIdOrder
    ? sql.fragment`AND b.account_id IN (SELECT account_id FROM locked)`
    : sql.fragment``;
  const updated = await queryIn(
    client,
    sql.type(balanceRow)`${locked} UPDATE ledger.balances b
        SET balance_minor = b.balance_minor + m.delta,
            debits_minor = b.debits_minor + m.debits,
            credits_minor = b.credits_minor + m.credits,
            entry_count = b.entry_count + m.entries
       FROM unnest(${ids}::uuid[],
                   ${arrayLiteral(moves.map((m) => m.deltaMinor))}::bigint[],
                   ${arrayLiteral(moves.map((m) => m.debitsMinor))}::bigint[],
                   ${arrayLiteral(moves.map((m) => m.creditsMinor))}::bigint[],
                   ${arrayLiteral(moves.map((m) => m.entryCount))}::bigint[])
         AS m(id, delta, debits, credits, entries)
      WHERE b.account_id = m.id ${lockedOnly}
     RETURNING b.account_id::text, b.balance_minor`,
  );
  return updated.rows;
}

/**
 * Moves the system accounts' projection by the batch's increments. Called last in the batch's
 * transaction: their rows are the only ones shared between partitions, so the lock is held
 * only until the commit. Locked in id order first, so two batches never deadlock.
 */
export async function persistSystemBalanceMoves(
  client: PgQueryable,
  effects: BatchEffects,
  view: BatchView,
): Promise<void> {
  const moves = [...effects.balanceMoves.values()]
    .filter((m) => view.accounts.get(m.accountId)?.isSystem)
    .sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  if (moves.length === 0) return;
  const updated = await moveBalances(client, moves, { lockInIdOrder: true });
  invariant(updated.length === moves.length, 'every system balance move found its row');
}
