// Loads what one batch of commands needs and persists what it decided: a handful of statements
// per batch (arrays bound through unnest), never one round trip per command.
import { invariant } from '@ledgerline/platform/invariant';
import type { Queryable } from '@ledgerline/platform/db';
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

interface AccountRow {
  account_id: string;
  type: AccountType;
  currency: CurrencyCode;
  status: AccountStatus;
  balance_floor_minor: number | null;
  is_system: boolean;
  balance_minor: number;
}

interface TransactionRow {
  transaction_id: string;
  payment_id: string | null;
  step: PostingStep;
  sequence: number;
  currency: CurrencyCode;
  references_transaction_id: string | null;
  reference: string | null;
  step_key: string;
  command_id: string;
  correlation_id: string;
  refund_id: string | null;
  adjustment_id: string | null;
  account_id: string;
  account_balance_after_minor: number;
  command_fingerprint: string;
  posted_at: Date;
}

interface EntryRow {
  entry_id: string;
  transaction_id: string;
  account_id: string;
  direction: Direction;
  amount_minor: number;
  currency: CurrencyCode;
  account_type: AccountType;
}

interface RejectionRow {
  step_key: string;
  payment_id: string | null;
  step: PostingStep;
  sequence: number;
  reason: RejectionReason;
  detail: string;
  account_id: string;
  command_id: string;
  correlation_id: string;
  refund_id: string | null;
  adjustment_id: string | null;
  command_fingerprint: string;
  rejected_at: Date;
}

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
  client: Queryable,
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

  // Customer accounts are locked (their floors decide postings). System accounts (clearing,
  // settlement, fees) are shared by every partition and have no floor: they are read without a
  // lock and moved by increments at the very end of the batch, so that batches of different
  // partitions only queue on them for the commit, not for the whole batch.
  const selectAccounts = `SELECT a.account_id::text, a.type, a.currency, a.status,
         a.balance_floor_minor, a.is_system, b.balance_minor
       FROM ledger.accounts a JOIN ledger.balances b USING (account_id)
      WHERE a.account_id = ANY($1::uuid[])`;
  const ids = [[...accountIds]];
  const customers = await client.query<AccountRow>(
    `${selectAccounts} AND NOT a.is_system ORDER BY a.account_id FOR UPDATE OF b`,
    ids,
  );
  const systems = await client.query<AccountRow>(`${selectAccounts} AND a.is_system`, ids);
  const accounts = { rows: [...customers.rows, ...systems.rows] };
  for (const row of accounts.rows) view.accounts.set(row.account_id, accountFromRow(row));

  if (transactionIds.size === 0 && stepKeys.size === 0) return { view, stored };
  // A step key names its transaction (UUIDv5), so one primary-key probe finds both the
  // transactions the commands reference and the earlier postings of their own steps.
  const lookedUp = new Set(transactionIds);
  for (const stepKey of stepKeys) lookedUp.add(transactionIdOfStepKey(stepKey));
  const transactions = await client.query<TransactionRow>(
    `SELECT transaction_id::text, payment_id::text, step, sequence, currency,
            references_transaction_id::text, reference, step_key, command_id::text,
            correlation_id::text, refund_id::text, adjustment_id::text, account_id::text,
            account_balance_after_minor, command_fingerprint, posted_at
       FROM ledger.transactions
      WHERE transaction_id = ANY($1::uuid[])`,
    [[...lookedUp]],
  );
  const entries = await client.query<EntryRow>(
    `SELECT e.entry_id::text, e.transaction_id::text, e.account_id::text, e.direction,
            e.amount_minor, e.currency, a.type AS account_type
       FROM ledger.entries e JOIN ledger.accounts a USING (account_id)
      WHERE e.transaction_id = ANY($1::uuid[])
      ORDER BY e.transaction_id, e.entry_index`,
    [transactions.rows.map((t) => t.transaction_id)],
  );
  const entriesOf = new Map<string, EntryRow[]>();
  for (const row of entries.rows) {
    const list = entriesOf.get(row.transaction_id) ?? [];
    list.push(row);
    entriesOf.set(row.transaction_id, list);
  }
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

  if (stepKeys.size === 0) return { view, stored };
  const rejections = await client.query<RejectionRow>(
    `SELECT step_key, payment_id::text, step, sequence, reason, detail, account_id,
            command_id::text, correlation_id::text, refund_id::text, adjustment_id::text,
            command_fingerprint, rejected_at
       FROM ledger.rejections WHERE step_key = ANY($1::text[])`,
    [[...stepKeys]],
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
  return { view, stored };
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
  client: Queryable,
  effects: BatchEffects,
  view: BatchView,
): Promise<void> {
  if (effects.newAccounts.length > 0) {
    const accounts = effects.newAccounts;
    // System accounts of a currency may already exist (created by another partition): keep them.
    await client.query(
      `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status,
         balance_floor_minor, is_system, system_kind, opened_at, status_changed_at)
       SELECT a.id, a.owner_ref, a.type, a.currency, a.status, a.floor, a.is_system, a.kind,
              a.opened_at, a.opened_at
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                     $7::boolean[], $8::text[], $9::timestamptz[])
           AS a(id, owner_ref, type, currency, status, floor, is_system, kind, opened_at)
       ON CONFLICT (account_id) DO NOTHING`,
      [
        accounts.map((a) => a.account.accountId),
        accounts.map((a) => a.ownerRef),
        accounts.map((a) => a.account.type),
        accounts.map((a) => a.account.currency),
        accounts.map((a) => a.account.status),
        accounts.map((a) => a.account.balanceFloorMinor),
        accounts.map((a) => a.account.isSystem),
        accounts.map((a) => systemKindOf(a.account)),
        accounts.map((a) => a.openedAt),
      ],
    );
    await client.query(
      `INSERT INTO ledger.balances (account_id, balance_minor)
       SELECT id, 0 FROM unnest($1::uuid[]) AS id
       ON CONFLICT (account_id) DO NOTHING`,
      [accounts.map((a) => a.account.accountId)],
    );
  }

  if (effects.statusChanges.size > 0) {
    const changes = [...effects.statusChanges];
    const updated = await client.query(
      `UPDATE ledger.accounts a SET status = u.status, status_changed_at = u.at
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, status, at)
        WHERE a.account_id = u.id`,
      [changes.map(([id]) => id), changes.map(([, c]) => c.status), changes.map(([, c]) => c.at)],
    );
    invariant(updated.rowCount === changes.length, 'every status change found its account');
  }

  if (effects.postings.length > 0) {
    const postings = effects.postings;
    const entries = postings.flatMap((p) =>
      p.transaction.entries.map((entry, index) => ({ entry, index, posting: p })),
    );
    for (const posting of postings) assertTransactionWellFormed(posting.transaction);
    // One statement: the database checks at its end that every new transaction balances and
    // that every new entry belongs to a transaction of this statement (migration 002).
    await client.query(
      `WITH transactions AS (
         INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
           references_transaction_id, step_key, command_id, correlation_id, refund_id,
           adjustment_id, account_id, account_balance_after_minor, command_fingerprint, reference,
           posted_at)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[],
                              $6::uuid[], $7::text[], $8::uuid[], $9::uuid[], $10::uuid[],
                              $11::uuid[], $12::uuid[], $13::bigint[], $14::text[], $15::text[],
                              $16::timestamptz[]))
       INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id, direction,
         amount_minor, currency, posted_at)
       SELECT * FROM unnest($17::uuid[], $18::uuid[], $19::smallint[], $20::uuid[], $21::text[],
                            $22::bigint[], $23::text[], $24::timestamptz[])`,
      [
        arrayLiteral(postings.map((p) => p.transaction.transactionId)),
        arrayLiteral(postings.map((p) => p.transaction.paymentId)),
        arrayLiteral(postings.map((p) => p.transaction.step)),
        arrayLiteral(postings.map((p) => p.transaction.sequence)),
        arrayLiteral(postings.map((p) => p.transaction.currency)),
        arrayLiteral(postings.map((p) => p.transaction.referencesTransactionId)),
        arrayLiteral(postings.map((p) => p.stepKey)),
        arrayLiteral(postings.map((p) => p.origin.commandId)),
        arrayLiteral(postings.map((p) => p.origin.correlationId)),
        arrayLiteral(postings.map((p) => p.origin.refundId)),
        arrayLiteral(postings.map((p) => p.origin.adjustmentId)),
        arrayLiteral(postings.map((p) => p.customerAccountId)),
        arrayLiteral(postings.map((p) => p.balanceAfterMinor)),
        arrayLiteral(postings.map((p) => p.fingerprint)),
        arrayLiteral(postings.map((p) => p.transaction.reference)),
        arrayLiteral(postings.map((p) => p.origin.postedAt)),
        arrayLiteral(entries.map((e) => e.entry.entryId)),
        arrayLiteral(entries.map((e) => e.posting.transaction.transactionId)),
        arrayLiteral(entries.map((e) => e.index)),
        arrayLiteral(entries.map((e) => e.entry.accountId)),
        arrayLiteral(entries.map((e) => e.entry.direction)),
        arrayLiteral(entries.map((e) => e.entry.amountMinor)),
        arrayLiteral(entries.map((e) => e.entry.currency)),
        arrayLiteral(entries.map((e) => e.posting.origin.postedAt)),
      ],
    );
  }

  const customerMoves = [...effects.balanceMoves.values()].filter(
    (m) => !view.accounts.get(m.accountId)?.isSystem,
  );
  if (customerMoves.length > 0) {
    const updated = await moveBalances(client, customerMoves);
    invariant(
      updated.length === customerMoves.length,
      'every balance move found its projection row',
    );
    // Paired with decide(): the rows locked at load moved to exactly what the fold computed.
    for (const row of updated) {
      const expected = view.accounts.get(row.account_id)?.balanceMinor;
      invariant(
        expected === row.balance_minor,
        () => `balance of ${row.account_id} is ${row.balance_minor}, the fold says ${expected}`,
      );
    }
  }

  if (effects.rejections.length > 0) {
    const rejections = effects.rejections;
    await client.query(
      `INSERT INTO ledger.rejections (step_key, payment_id, step, sequence, reason, detail,
         account_id, command_id, correlation_id, refund_id, adjustment_id, command_fingerprint,
         rejected_at)
       SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[],
                            $7::text[], $8::uuid[], $9::uuid[], $10::uuid[], $11::uuid[],
                            $12::text[], $13::timestamptz[])`,
      [
        rejections.map((r) => r.decision.idempotency.stepKey),
        rejections.map((r) => (isUuid(r.decision.paymentId) ? r.decision.paymentId : null)),
        rejections.map((r) => r.decision.step),
        rejections.map((r) =>
          Number.isSafeInteger(r.decision.sequence) ? r.decision.sequence : 0,
        ),
        rejections.map((r) => r.decision.reason),
        rejections.map((r) => r.decision.detail),
        rejections.map((r) => r.decision.accountId),
        rejections.map((r) => r.origin.commandId),
        rejections.map((r) => r.origin.correlationId),
        rejections.map((r) => r.origin.refundId),
        rejections.map((r) => r.origin.adjustmentId),
        rejections.map((r) => r.decision.idempotency.fingerprint),
        rejections.map((r) => r.origin.postedAt),
      ],
    );
  }

  if (effects.conflicts.length > 0) {
    const conflicts = effects.conflicts;
    await client.query(
      `INSERT INTO ledger.command_conflicts (command_id, step_key, payment_id, step, sequence,
         original_fingerprint, conflicting_fingerprint, source_topic, source_partition,
         source_offset)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::int[], $6::text[],
                            $7::text[], $8::text[], $9::int[], $10::bigint[])
       ON CONFLICT DO NOTHING`,
      [
        conflicts.map((c) => c.commandId),
        conflicts.map((c) => c.stepKey),
        conflicts.map((c) => (isUuid(c.paymentId) ? c.paymentId : null)),
        conflicts.map((c) => c.step),
        conflicts.map((c) => (Number.isSafeInteger(c.sequence) ? c.sequence : 0)),
        conflicts.map((c) => c.originalFingerprint),
        conflicts.map((c) => c.conflictingFingerprint),
        conflicts.map((c) => c.source.topic),
        conflicts.map((c) => c.source.partition),
        conflicts.map((c) => c.source.offset),
      ],
    );
  }

  if (effects.applied.length > 0) {
    const applied = effects.applied;
    // First decision wins: a command id delivered again keeps what it was answered first.
    await client.query(
      `INSERT INTO ledger.applied_commands (command_id, type, account_id, outcome,
         rejection_reason, detail, adjustment_id, transaction_id, decided_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::uuid[], $8::uuid[], $9::timestamptz[])
       ON CONFLICT (command_id) DO NOTHING`,
      [
        applied.map((a) => a.commandId),
        applied.map((a) => a.type),
        applied.map((a) => a.accountId),
        applied.map((a) => a.outcome),
        applied.map((a) => a.rejectionReason),
        applied.map((a) => a.detail),
        applied.map((a) => a.adjustmentId),
        applied.map((a) => a.transactionId),
        applied.map((a) => a.decidedAt),
      ],
    );
  }
}

async function moveBalances(
  client: Queryable,
  moves: readonly BalanceMove[],
): Promise<{ account_id: string; balance_minor: number }[]> {
  const updated = await client.query<{ account_id: string; balance_minor: number }>(
    `UPDATE ledger.balances b
        SET balance_minor = b.balance_minor + m.delta,
            debits_minor = b.debits_minor + m.debits,
            credits_minor = b.credits_minor + m.credits,
            entry_count = b.entry_count + m.entries
       FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
         AS m(id, delta, debits, credits, entries)
      WHERE b.account_id = m.id
     RETURNING b.account_id::text, b.balance_minor`,
    [
      arrayLiteral(moves.map((m) => m.accountId)),
      arrayLiteral(moves.map((m) => m.deltaMinor)),
      arrayLiteral(moves.map((m) => m.debitsMinor)),
      arrayLiteral(moves.map((m) => m.creditsMinor)),
      arrayLiteral(moves.map((m) => m.entryCount)),
    ],
  );
  return updated.rows;
}

/**
 * Moves the system accounts' projection by the batch's increments. Called last in the batch's
 * transaction: their rows are the only ones shared between partitions, so the lock is held
 * only until the commit. Locked in id order first, so two batches never deadlock.
 */
export async function persistSystemBalanceMoves(
  client: Queryable,
  effects: BatchEffects,
  view: BatchView,
): Promise<void> {
  const moves = [...effects.balanceMoves.values()]
    .filter((m) => view.accounts.get(m.accountId)?.isSystem)
    .sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  if (moves.length === 0) return;
  await client.query(
    `SELECT account_id FROM ledger.balances WHERE account_id = ANY($1::uuid[])
      ORDER BY account_id FOR UPDATE`,
    [moves.map((m) => m.accountId)],
  );
  const updated = await moveBalances(client, moves);
  invariant(updated.length === moves.length, 'every system balance move found its row');
}
