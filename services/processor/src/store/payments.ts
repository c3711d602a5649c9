// Payments, their sagas and refunds in the processor schema. Values are always bound; rows are
// checked on the way out, so a malformed row fails loudly instead of reaching a client.
import type { Queryable } from '@ledgerline/platform/db';
import {
  assertSagaInvariants,
  invariant,
  sagaStates,
  type Saga,
  type SagaState,
} from '../domain/index.js';

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

export async function insertPayment(db: Queryable, record: PaymentRecord): Promise<void> {
  const { saga } = record;
  invariant(saga.version === 0 && saga.state === 'PENDING', 'a new payment starts its saga');
  await db.query(
    `INSERT INTO processor.payments (id, payer_account_id, payee_account_id, amount_minor,
       currency, description, metadata, state, saga, version, status_version, correlation_id,
       created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      saga.paymentId,
      saga.payerAccountId,
      saga.payeeAccountId,
      saga.amountMinor,
      saga.currency,
      record.description,
      JSON.stringify(record.metadata),
      saga.state,
      JSON.stringify(saga),
      saga.version,
      record.statusVersion,
      record.correlationId,
      record.createdAt,
      record.updatedAt,
    ],
  );
}

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
  const { rowCount } = await db.query(
    `UPDATE processor.payments
     SET state = $3, saga = $4, version = $5, status_version = $6, updated_at = $7
     WHERE id = $1 AND version = $2`,
    [
      saga.paymentId,
      previousVersion,
      saga.state,
      JSON.stringify(saga),
      saga.version,
      statusVersion,
      updatedAt,
    ],
  );
  invariant(rowCount === 1, `payment ${saga.paymentId} was at version ${previousVersion}`);
}

export interface PaymentFilter {
  readonly status?: SagaState;
  readonly payerAccountId?: string;
  readonly payeeAccountId?: string;
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
