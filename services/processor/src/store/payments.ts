// Payments, their sagas and refunds in the processor schema. Values are always bound; rows are
// checked on the way out, so a malformed row fails loudly instead of reaching a client.
import { invariant } from '@ledgerline/platform/invariant';
import type { Queryable } from '@ledgerline/platform/db';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
import { assertSagaInvariants, sagaStates, type Saga, type SagaState } from '../domain/index.js';

export interface PaymentRecord {
  readonly saga: Saga;
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** payments.status-changed events published so far (1 once accepted). */
  readonly statusVersion: number;
  readonly correlationId: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface RefundRecord {
  readonly id: string;
  readonly paymentId: string;
  readonly sequence: number;
  readonly amountMinor: number;
  readonly reason: string | null;
  readonly createdAt: Date;
}

interface PaymentRow {
  saga: unknown;
  description: string | null;
  metadata: unknown;
  status_version: number;
  correlation_id: string;
  created_at: Date;
  updated_at: Date;
}

interface RefundRow {
  id: string;
  payment_id: string;
  sequence: number;
  amount_minor: number;
  reason: string | null;
  created_at: Date;
}

const paymentColumns =
  'saga, description, metadata, status_version, correlation_id, created_at, updated_at';

export async function findPayment(
  db: Queryable,
  paymentId: string,
  options: { forUpdate: boolean },
): Promise<PaymentRecord | undefined> {
  const { rows } = await db.query<PaymentRow>(
    `SELECT ${paymentColumns} FROM processor.payments WHERE id = $1
     ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [paymentId],
  );
  const row = rows[0];
  return row === undefined ? undefined : paymentFromRow(row);
}

/**
 * Every listed payment that exists, read (and locked, when asked) in id order: two batches that
 * lock overlapping payments take the locks in the same order and cannot deadlock.
 */
export async function findPayments(
  db: Queryable,
  paymentIds: readonly string[],
  options: { forUpdate: boolean },
): Promise<Map<string, PaymentRecord>> {
  const found = new Map<string, PaymentRecord>();
  if (paymentIds.length === 0) return found;
  const { rows } = await db.query<PaymentRow>(
    `SELECT ${paymentColumns} FROM processor.payments WHERE id = ANY($1::uuid[])
     ORDER BY id ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [arrayLiteral([...paymentIds])],
  );
  for (const row of rows) {
    const record = paymentFromRow(row);
    found.set(record.saga.paymentId, record);
  }
  return found;
}

export interface SagaUpdate {
  readonly saga: Saga;
  /** The version the row had when it was read (and locked). */
  readonly previousVersion: number;
  readonly statusVersion: number;
  readonly updatedAt: Date;
}

/**
 * Stores several sagas in one statement, each after one or more transitions since it was read.
 * The version check makes a lost update impossible: every row must still be at the version
 * its update was computed from.
 */
export async function updateSagas(db: Queryable, updates: readonly SagaUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  for (const u of updates) {
    invariant(u.saga.version > u.previousVersion, 'a stored transition bumps the version');
  }
  const { rowCount } = await db.query(
    `UPDATE processor.payments p
     SET state = u.state, saga = u.saga, version = u.version, status_version = u.status_version,
         updated_at = u.updated_at
     FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::int[], $6::int[],
                 $7::timestamptz[])
       AS u(id, previous_version, state, saga, version, status_version, updated_at)
     WHERE p.id = u.id AND p.version = u.previous_version`,
    [
      arrayLiteral(updates.map((u) => u.saga.paymentId)),
      arrayLiteral(updates.map((u) => u.previousVersion)),
      arrayLiteral(updates.map((u) => u.saga.state)),
      arrayLiteral(updates.map((u) => JSON.stringify(u.saga))),
      arrayLiteral(updates.map((u) => u.saga.version)),
      arrayLiteral(updates.map((u) => u.statusVersion)),
      arrayLiteral(updates.map((u) => u.updatedAt)),
    ],
  );
  invariant(
    rowCount === updates.length,
    `${updates.length} sagas to store, ${rowCount ?? 0} at the version they were read at`,
  );
}

/**
 * Stores the saga after a transition. The version check makes a lost update impossible even
 * if a caller forgot the row lock: exactly one row must match the version it read.
 */
export async function updateSaga(
  db: Queryable,
  saga: Saga,
  previousVersion: number,
  statusVersion: number,
  updatedAt: Date,
): Promise<void> {
  invariant(saga.version === previousVersion + 1, 'a stored transition bumps the version by one');
  await updateSagas(db, [{ saga, previousVersion, statusVersion, updatedAt }]);
}

export interface PaymentFilter {
  readonly status?: SagaState;
  readonly payerAccountId?: string;
  readonly payeeAccountId?: string;
  /** Only payments whose payer or payee is one of these (a key bound to accounts). */
  readonly involvingAccountIds?: readonly string[];
  readonly createdFrom?: Date;
  readonly createdTo?: Date;
}

export interface PagePosition {
  readonly createdAt: Date;
  readonly id: string;
}

/** Newest first; `after` is the last item of the previous page. Returns up to `limit` rows. */
export async function listPayments(
  db: Queryable,
  filter: PaymentFilter,
  limit: number,
  after: PagePosition | undefined,
): Promise<PaymentRecord[]> {
  invariant(Number.isSafeInteger(limit) && limit >= 1 && limit <= 1_000, 'a bounded page');
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.status !== undefined) conditions.push(`state = ${bind(filter.status)}`);
  if (filter.payerAccountId !== undefined)
    conditions.push(`payer_account_id = ${bind(filter.payerAccountId)}`);
  if (filter.payeeAccountId !== undefined)
    conditions.push(`payee_account_id = ${bind(filter.payeeAccountId)}`);
  if (filter.involvingAccountIds !== undefined) {
    const accounts = bind(filter.involvingAccountIds);
    conditions.push(
      `(payer_account_id = ANY(${accounts}::uuid[]) OR payee_account_id = ANY(${accounts}::uuid[]))`,
    );
  }
  if (filter.createdFrom !== undefined)
    conditions.push(`created_at >= ${bind(filter.createdFrom)}`);
  if (filter.createdTo !== undefined) conditions.push(`created_at < ${bind(filter.createdTo)}`);
  if (after !== undefined)
    conditions.push(`(created_at, id) < (${bind(after.createdAt)}, ${bind(after.id)})`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const { rows } = await db.query<PaymentRow>(
    `SELECT ${paymentColumns} FROM processor.payments ${where}
     ORDER BY created_at DESC, id DESC LIMIT ${bind(limit)}`,
    values,
  );
  return rows.map(paymentFromRow);
}

export async function insertRefund(db: Queryable, refund: RefundRecord): Promise<void> {
  await db.query(
    `INSERT INTO processor.refunds (id, payment_id, sequence, amount_minor, reason, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      refund.id,
      refund.paymentId,
      refund.sequence,
      refund.amountMinor,
      refund.reason,
      refund.createdAt,
    ],
  );
}

export async function refundsOf(db: Queryable, paymentId: string): Promise<RefundRecord[]> {
  const { rows } = await db.query<RefundRow>(
    `SELECT id, payment_id, sequence, amount_minor, reason, created_at FROM processor.refunds
     WHERE payment_id = $1 ORDER BY sequence`,
    [paymentId],
  );
  return rows.map(refundFromRow);
}

function paymentFromRow(row: PaymentRow): PaymentRecord {
  const saga = row.saga as Saga;
  invariant(
    typeof saga === 'object' && saga !== null && sagaStates.includes(saga.state),
    'a stored saga has a known state',
  );
  // A stored saga that breaks its own invariants is corruption: never serve or advance it.
  assertSagaInvariants(saga);
  invariant(
    typeof row.metadata === 'object' && row.metadata !== null && !Array.isArray(row.metadata),
    'metadata is an object',
  );
  return {
    saga,
    description: row.description,
    metadata: row.metadata as Record<string, string>,
    statusVersion: row.status_version,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function refundFromRow(row: RefundRow): RefundRecord {
  invariant(Number.isSafeInteger(row.amount_minor) && row.amount_minor > 0, 'refund amount');
  return {
    id: row.id,
    paymentId: row.payment_id,
    sequence: row.sequence,
    amountMinor: row.amount_minor,
    reason: row.reason,
    createdAt: row.created_at,
  };
}
