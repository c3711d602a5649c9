// Read side of the ledger for the HTTP API. Current balances come from the projection; a balance
// as of a past instant is derived from the entries themselves.
import { invariant } from '@ledgerline/platform/invariant';
import type { Queryable } from '@ledgerline/platform/db';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { balanceDelta, type AccountType, type Direction } from '../domain/accounts.js';
import { addMinor } from '../domain/money.js';

type Schemas = components['schemas'];
export type AccountView = Schemas['Account'];
export type EntryView = Schemas['AccountEntry'];
export type TransactionView = Schemas['Transaction'];
export type CommandStatusView = Schemas['CommandStatus'];

interface AccountRow {
  account_id: string;
  owner_ref: string;
  type: AccountType;
  currency: string;
  status: AccountView['status'];
  balance_floor_minor: number | null;
  is_system: boolean;
  system_kind: AccountView['systemKind'];
  opened_at: Date;
  status_changed_at: Date;
}

const ACCOUNT_COLUMNS = `account_id::text, owner_ref, type, currency, status, balance_floor_minor,
  is_system, system_kind, opened_at, status_changed_at`;

function accountView(row: AccountRow): AccountView {
  return {
    id: row.account_id,
    ownerRef: row.owner_ref,
    type: row.type,
    currency: row.currency,
    status: row.status,
    balanceFloorMinor: row.balance_floor_minor,
    isSystem: row.is_system,
    systemKind: row.system_kind,
    openedAt: row.opened_at.toISOString(),
    updatedAt: row.status_changed_at.toISOString(),
  };
}

export async function findAccount(db: Queryable, accountId: string): Promise<AccountView | null> {
  const { rows } = await db.query<AccountRow>(
    `SELECT ${ACCOUNT_COLUMNS} FROM ledger.accounts WHERE account_id = $1`,
    [accountId],
  );
  const row = rows[0];
  return row === undefined ? null : accountView(row);
}

export async function listSystemAccounts(
  db: Queryable,
  currency: string | null,
  afterId: string | null,
  limit: number,
): Promise<AccountView[]> {
  const { rows } = await db.query<AccountRow>(
    `SELECT ${ACCOUNT_COLUMNS} FROM ledger.accounts
      WHERE is_system AND ($1::text IS NULL OR currency = $1)
        AND ($2::uuid IS NULL OR account_id > $2::uuid)
      -- The uuid column, not the text output column of the same name: the cursor compares uuids.
      ORDER BY accounts.account_id LIMIT $3`,
    [currency, afterId, limit],
  );
  return rows.map(accountView);
}

/** The projected balance now, or SUM(entries) posted at or before `asOf`. */
export async function balanceOf(
  db: Queryable,
  account: AccountView,
  asOf: Date | null,
): Promise<number> {
  if (asOf === null) {
    const { rows } = await db.query<{ balance_minor: number }>(
      'SELECT balance_minor FROM ledger.balances WHERE account_id = $1',
      [account.id],
    );
    const row = rows[0];
    invariant(row !== undefined, () => `account ${account.id} has no balance row`);
    return row.balance_minor;
  }
  const { rows } = await db.query<{ direction: Direction; total_minor: number }>(
    `SELECT direction, sum(amount_minor)::bigint AS total_minor FROM ledger.entries
      WHERE account_id = $1 AND posted_at <= $2 GROUP BY direction`,
    [account.id, asOf],
  );
  let balanceMinor = 0;
  for (const row of rows) {
    if (row.total_minor === 0) continue;
    balanceMinor = addMinor(
      balanceMinor,
      balanceDelta({ type: account.type }, row.direction, row.total_minor),
    );
  }
  return balanceMinor;
}

export interface EntryCursor {
  readonly postedAt: string;
  readonly entryId: string;
}

export async function listEntries(
  db: Queryable,
  accountId: string,
  range: { from: Date | null; to: Date | null },
  after: EntryCursor | null,
  limit: number,
): Promise<EntryView[]> {
  const { rows } = await db.query<{
    entry_id: string;
    account_id: string;
    transaction_id: string;
    direction: Direction;
    amount_minor: number;
    currency: string;
    posted_at: Date;
    payment_id: string | null;
    step: EntryView['step'];
  }>(
    `SELECT e.entry_id::text, e.account_id::text, e.transaction_id::text, e.direction,
            e.amount_minor, e.currency, e.posted_at, t.payment_id::text, t.step
       FROM ledger.entries e JOIN ledger.transactions t USING (transaction_id)
      WHERE e.account_id = $1
        AND ($2::timestamptz IS NULL OR e.posted_at >= $2)
        AND ($3::timestamptz IS NULL OR e.posted_at < $3)
        AND ($4::timestamptz IS NULL OR (e.posted_at, e.entry_id) > ($4::timestamptz, $5::uuid))
      ORDER BY e.posted_at, e.entry_id
      LIMIT $6`,
    [accountId, range.from, range.to, after?.postedAt ?? null, after?.entryId ?? null, limit],
  );
  return rows.map((row) => ({
    entryId: row.entry_id,
    accountId: row.account_id,
    transactionId: row.transaction_id,
    direction: row.direction,
    amountMinor: row.amount_minor,
    currency: row.currency,
    postedAt: row.posted_at.toISOString(),
    paymentId: row.payment_id,
    step: row.step,
  }));
}

export async function findTransaction(
  db: Queryable,
  transactionId: string,
): Promise<TransactionView | null> {
  const { rows } = await db.query<{
    transaction_id: string;
    payment_id: string | null;
    refund_id: string | null;
    adjustment_id: string | null;
    step: TransactionView['step'];
    sequence: number;
    currency: string;
    references_transaction_id: string | null;
    posted_at: Date;
    entries: TransactionView['entries'];
    referenced_by: string[];
  }>(
    `SELECT t.transaction_id::text, t.payment_id::text, t.refund_id::text, t.adjustment_id::text,
            t.step, t.sequence, t.currency, t.references_transaction_id::text, t.posted_at,
            (SELECT json_agg(json_build_object('entryId', e.entry_id, 'accountId', e.account_id,
                    'direction', e.direction, 'amountMinor', e.amount_minor,
                    'currency', e.currency) ORDER BY e.entry_index)
               FROM ledger.entries e WHERE e.transaction_id = t.transaction_id) AS entries,
            ARRAY(SELECT r.transaction_id::text FROM ledger.transactions r
                   WHERE r.references_transaction_id = t.transaction_id
                   ORDER BY r.transaction_id) AS referenced_by
       FROM ledger.transactions t WHERE t.transaction_id = $1`,
    [transactionId],
  );
  const row = rows[0];
  if (row === undefined) return null;
  const amountMinor = row.entries.find((e) => e.direction === 'DEBIT')?.amountMinor;
  invariant(amountMinor !== undefined, () => `transaction ${transactionId} has no DEBIT entry`);
  return {
    id: row.transaction_id,
    paymentId: row.payment_id,
    refundId: row.refund_id,
    adjustmentId: row.adjustment_id,
    step: row.step,
    sequence: row.sequence,
    currency: row.currency,
    amountMinor,
    entries: row.entries,
    referencesTransactionId: row.references_transaction_id,
    referencedBy: row.referenced_by,
    postedAt: row.posted_at.toISOString(),
  };
}

interface CommandRow {
  command_id: string;
  type: CommandStatusView['type'];
  account_id: string;
  adjustment_id: string | null;
  accepted_at: Date;
  outcome: 'APPLIED' | 'REJECTED' | null;
  rejection_reason: CommandStatusView['rejectionReason'];
  detail: string | null;
  transaction_id: string | null;
  decided_at: Date | null;
}

const COMMAND_SELECT = `SELECT c.command_id::text, c.type, c.account_id::text, c.adjustment_id::text,
    c.accepted_at, a.outcome, a.rejection_reason, a.detail,
    a.transaction_id::text, a.decided_at
  FROM ledger.api_commands c LEFT JOIN ledger.applied_commands a USING (command_id)`;

function commandView(row: CommandRow): CommandStatusView {
  return {
    commandId: row.command_id,
    type: row.type,
    accountId: row.account_id,
    status: row.outcome ?? 'PENDING',
    rejectionReason: row.rejection_reason,
    detail: row.outcome === 'REJECTED' ? row.detail : null,
    acceptedAt: row.accepted_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
    resource:
      row.adjustment_id !== null
        ? `/v1/adjustments/${row.adjustment_id}`
        : `/v1/accounts/${row.account_id}`,
  };
}

export async function findCommand(
  db: Queryable,
  commandId: string,
): Promise<CommandStatusView | null> {
  const { rows } = await db.query<CommandRow>(`${COMMAND_SELECT} WHERE c.command_id = $1`, [
    commandId,
  ]);
  const row = rows[0];
  return row === undefined ? null : commandView(row);
}
