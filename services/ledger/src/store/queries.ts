// Read side of the ledger for the HTTP API. Current balances come from the projection; a balance
// as of a past instant is derived from the entries themselves.
import { z } from 'zod';
import { invariant } from '@ledgerline/platform/invariant';
import { queryIn, sql, textSymbol, type PgQueryable } from '@ledgerline/platform/database/slonik';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { balanceDelta, type AccountType, type Direction } from '../domain/accounts.js';
import { addMinor } from '../domain/money.js';

type Schemas = components['schemas'];
export type AccountView = Schemas['Account'];
export type EntryView = Schemas['AccountEntry'];
export type TransactionView = Schemas['Transaction'];
export type CommandStatusView = Schemas['CommandStatus'];

const accountRow = z.object({
  account_id: z.string(),
  owner_ref: z.string(),
  type: textSymbol<AccountType>(),
  currency: z.string(),
  status: textSymbol<AccountView['status']>(),
  balance_floor_minor: z.number().int().nullable(),
  is_system: z.boolean(),
  system_kind: textSymbol<NonNullable<AccountView['systemKind']>>().nullable(),
  opened_at: z.date(),
  status_changed_at: z.date(),
});
type AccountRow = z.infer<typeof accountRow>;

const ACCOUNT_COLUMNS = sql.fragment`account_id::text, owner_ref, type, currency, status,
  balance_floor_minor, is_system, system_kind, opened_at, status_changed_at`;

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

export async function findAccount(db: PgQueryable, accountId: string): Promise<AccountView | null> {
  const { rows } = await queryIn(
    db,
    sql.type(accountRow)`SELECT ${ACCOUNT_COLUMNS} FROM ledger.accounts
     WHERE account_id = ${accountId}`,
  );
  const row = rows[0];
  return row === undefined ? null : accountView(row);
}

export async function listSystemAccounts(
  db: PgQueryable,
  currency: string | null,
  afterId: string | null,
  limit: number,
): Promise<AccountView[]> {
  const { rows } = await queryIn(
    db,
    sql.type(accountRow)`SELECT ${ACCOUNT_COLUMNS} FROM ledger.accounts
      WHERE is_system AND (${currency}::text IS NULL OR currency = ${currency}::text)
        AND (${afterId}::uuid IS NULL OR account_id > ${afterId}::uuid)
      -- The uuid column, not the text output column of the same name: the cursor compares uuids.
      ORDER BY accounts.account_id LIMIT ${limit}`,
  );
  return rows.map(accountView);
}

/** The projected balance now, or SUM(entries) posted at or before `asOf`. */
export async function balanceOf(
  db: PgQueryable,
  account: AccountView,
  asOf: Date | null,
): Promise<number> {
  if (asOf === null) {
    const { rows } = await queryIn(
      db,
      sql.type(z.object({ balance_minor: z.number().int() }))`SELECT balance_minor
       FROM ledger.balances WHERE account_id = ${account.id}`,
    );
    const row = rows[0];
    invariant(row !== undefined, () => `account ${account.id} has no balance row`);
    return row.balance_minor;
  }
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ direction: textSymbol<Direction>(), total_minor: z.number().int() }))`
     SELECT direction, sum(amount_minor)::bigint AS total_minor FROM ledger.entries
      WHERE account_id = ${account.id} AND posted_at <= ${sql.timestamp(asOf)}
      GROUP BY direction`,
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

const entryRow = z.object({
  entry_id: z.string(),
  account_id: z.string(),
  transaction_id: z.string(),
  direction: textSymbol<Direction>(),
  amount_minor: z.number().int(),
  currency: z.string(),
  posted_at: z.date(),
  payment_id: z.string().nullable(),
  step: textSymbol<EntryView['step']>(),
});

export async function listEntries(
  db: PgQueryable,
  accountId: string,
  range: { from: Date | null; to: Date | null },
  after: EntryCursor | null,
  limit: number,
): Promise<EntryView[]> {
  const conditions = [sql.fragment`e.account_id = ${accountId}`];
  if (range.from !== null)
    conditions.push(sql.fragment`e.posted_at >= ${sql.timestamp(range.from)}`);
  if (range.to !== null) conditions.push(sql.fragment`e.posted_at < ${sql.timestamp(range.to)}`);
  if (after !== null) {
    conditions.push(
      sql.fragment`(e.posted_at, e.entry_id) > (${after.postedAt}::timestamptz, ${after.entryId}::uuid)`,
    );
  }
  const { rows } = await queryIn(
    db,
    sql.type(entryRow)`SELECT e.entry_id::text, e.account_id::text, e.transaction_id::text,
            e.direction, e.amount_minor, e.currency, e.posted_at, t.payment_id::text, t.step
       FROM ledger.entries e JOIN ledger.transactions t USING (transaction_id)
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY e.posted_at, e.entry_id
      LIMIT ${limit}`,
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

const transactionRow = z.object({
  transaction_id: z.string(),
  payment_id: z.string().nullable(),
  refund_id: z.string().nullable(),
  adjustment_id: z.string().nullable(),
  step: textSymbol<TransactionView['step']>(),
  sequence: z.number().int(),
  currency: z.string(),
  references_transaction_id: z.string().nullable(),
  posted_at: z.date(),
  entries: z.array(
    z.object({
      entryId: z.string(),
      accountId: z.string(),
      direction: textSymbol<Direction>(),
      amountMinor: z.number().int(),
      currency: z.string(),
    }),
  ),
  referenced_by: z.array(z.string()),
});

export async function findTransaction(
  db: PgQueryable,
  transactionId: string,
): Promise<TransactionView | null> {
  const { rows } = await queryIn(
    db,
    sql.type(
      transactionRow,
    )`SELECT t.transaction_id::text, t.payment_id::text, t.refund_id::text, t.adjustment_id::text,
            t.step, t.sequence, t.currency, t.references_transaction_id::text, t.posted_at,
            (SELECT json_agg(json_build_object('entryId', e.entry_id, 'accountId', e.account_id,
                    'direction', e.direction, 'amountMinor', e.amount_minor,
                    'currency', e.currency) ORDER BY e.entry_index)
               FROM ledger.entries e WHERE e.transaction_id = t.transaction_id) AS entries,
            ARRAY(SELECT r.transaction_id::text FROM ledger.transactions r
                   WHERE r.references_transaction_id = t.transaction_id
                   ORDER BY r.transaction_id) AS referenced_by
       FROM ledger.transactions t WHERE t.transaction_id = ${transactionId}`,
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

const commandRow = z.object({
  command_id: z.string(),
  type: textSymbol<CommandStatusView['type']>(),
  account_id: z.string(),
  adjustment_id: z.string().nullable(),
  accepted_at: z.date(),
  outcome: textSymbol<'APPLIED' | 'REJECTED'>().nullable(),
  rejection_reason: textSymbol<NonNullable<CommandStatusView['rejectionReason']>>().nullable(),
  detail: z.string().nullable(),
  transaction_id: z.string().nullable(),
  decided_at: z.date().nullable(),
});
type CommandRow = z.infer<typeof commandRow>;

const COMMAND_SELECT = sql.fragment`SELECT c.command_id::text, c.type, c.account_id::text, c.adjustment_id::text,
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
  db: PgQueryable,
  commandId: string,
): Promise<CommandStatusView | null> {
  const { rows } = await queryIn(
    db,
    sql.type(commandRow)`${COMMAND_SELECT} WHERE c.command_id = ${commandId}`,
  );
  const row = rows[0];
  return row === undefined ? null : commandView(row);
}
