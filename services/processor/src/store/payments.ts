// Payments, their sagas and refunds in the processor schema. Statements are slonik `sql` tokens
// (values bound, fragments composed); rows are checked by their zod schemas and the saga by its
// invariants on the way out, so a malformed row fails loudly instead of reaching a client.
// Batch columns are bound as the platform's array literals (see store/intake.ts).
import { z } from 'zod';
import { invariant } from '@ledgerline/platform/invariant';
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';
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

const paymentRow = z.object({
  saga: z.unknown(),
  description: z.string().nullable(),
  metadata: z.record(z.string()),
  status_version: z.number().int(),
  correlation_id: z.string(),
  created_at: z.date(),
  updated_at: z.date(),
});
type PaymentRow = z.infer<typeof paymentRow>;

const refundRow = z.object({
  id: z.string(),
  payment_id: z.string(),
  sequence: z.number().int(),
  amount_minor: z.number().int(),
  reason: z.string().nullable(),
  created_at: z.date(),
});
type RefundRow = z.infer<typeof refundRow>;

const paymentColumns = sql.fragment`saga, description, metadata, status_version, correlation_id,
  created_at, updated_at`;

const lockClause = (forUpdate: boolean) => (forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``);

export async function findPayment(
  db: PgQueryable,
  paymentId: string,
  options: { forUpdate: boolean },
): Promise<PaymentRecord | undefined> {
  const { rows } = await queryIn(
    db,
    sql.type(paymentRow)`SELECT ${paymentColumns} FROM processor.payments
     WHERE id = ${paymentId} ${lockClause(options.forUpdate)}`,
  );
  const row = rows[0];
  return row === undefined ? undefined : paymentFromRow(row);
}

/**
 * Every listed payment that exists, read (and locked, when asked) in id order: two batches that
 * lock overlapping payments take the locks in the same order and cannot deadlock.
 */
export async function findPayments(
  db: PgQueryable,
  paymentIds: readonly string[],
  options: { forUpdate: boolean },
): Promise<Map<string, PaymentRecord>> {
  const found = new Map<string, PaymentRecord>();
  if (paymentIds.length === 0) return found;
  const { rows } = await queryIn(
    db,
    sql.type(paymentRow)`SELECT ${paymentColumns} FROM processor.payments
     WHERE id = ANY(${arrayLiteral([...paymentIds])}::uuid[])
     ORDER BY id ${lockClause(options.forUpdate)}`,
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
export async function updateSagas(db: PgQueryable, updates: readonly SagaUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  for (const u of updates) {
    invariant(u.saga.version > u.previousVersion, 'a stored transition bumps the version');
  }
  const { rowCount } = await queryIn(
    db,
    sql.unsafe`UPDATE processor.payments p
     SET state = u.state, saga = u.saga, version = u.version, status_version = u.status_version,
         updated_at = u.updated_at
     FROM unnest(${arrayLiteral(updates.map((u) => u.saga.paymentId))}::uuid[],
                 ${arrayLiteral(updates.map((u) => u.previousVersion))}::int[],
                 ${arrayLiteral(updates.map((u) => u.saga.state))}::text[],
                 ${arrayLiteral(updates.map((u) => JSON.stringify(u.saga)))}::jsonb[],
                 ${arrayLiteral(updates.map((u) => u.saga.version))}::int[],
                 ${arrayLiteral(updates.map((u) => u.statusVersion))}::int[],
                 ${arrayLiteral(updates.map((u) => u.updatedAt))}::timestamptz[])
       AS u(id, previous_version, state, saga, version, status_version, updated_at)
     WHERE p.id = u.id AND p.version = u.previous_version`,
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
  db: PgQueryable,
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
  /** Inclusive bounds on the amount, in minor units. */
  readonly amountMinorMin?: number;
  readonly amountMinorMax?: number;
  readonly createdFrom?: Date;
  readonly createdTo?: Date;
}

export interface PagePosition {
  readonly createdAt: Date;
  readonly id: string;
}

/** Newest first; `after` is the last item of the previous page. Returns up to `limit` rows. */
export async function listPayments(
  db: PgQueryable,
  filter: PaymentFilter,
  limit: number,
  after: PagePosition | undefined,
): Promise<PaymentRecord[]> {
  invariant(Number.isSafeInteger(limit) && limit >= 1 && limit <= 1_000, 'a bounded page');
  const conditions = [sql.fragment`TRUE`];
  if (filter.status !== undefined) conditions.push(sql.fragment`state = ${filter.status}`);
  if (filter.payerAccountId !== undefined)
    conditions.push(sql.fragment`payer_account_id = ${filter.payerAccountId}`);
  if (filter.payeeAccountId !== undefined)
    conditions.push(sql.fragment`payee_account_id = ${filter.payeeAccountId}`);
  if (filter.involvingAccountIds !== undefined) {
    const accounts = sql.array(filter.involvingAccountIds, 'uuid');
    conditions.push(
      sql.fragment`(payer_account_id = ANY(${accounts}) OR payee_account_id = ANY(${accounts}))`,
    );
  }
  if (filter.amountMinorMin !== undefined)
    conditions.push(sql.fragment`amount_minor >= ${filter.amountMinorMin}`);
  if (filter.amountMinorMax !== undefined)
    conditions.push(sql.fragment`amount_minor <= ${filter.amountMinorMax}`);
  if (filter.createdFrom !== undefined)
    conditions.push(sql.fragment`created_at >= ${sql.timestamp(filter.createdFrom)}`);
  if (filter.createdTo !== undefined)
    conditions.push(sql.fragment`created_at < ${sql.timestamp(filter.createdTo)}`);
  if (after !== undefined) {
    conditions.push(
      sql.fragment`(created_at, id) < (${sql.timestamp(after.createdAt)}, ${after.id}::uuid)`,
    );
  }
  const { rows } = await queryIn(
    db,
    sql.type(paymentRow)`SELECT ${paymentColumns} FROM processor.payments
     WHERE ${sql.join(conditions, sql.fragment` AND `)}
     ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
  );
  return rows.map(paymentFromRow);
}

export async function insertRefund(db: PgQueryable, refund: RefundRecord): Promise<void> {
  await queryIn(
    db,
    sql.unsafe`INSERT INTO processor.refunds
       (id, payment_id, sequence, amount_minor, reason, created_at)
     VALUES (${refund.id}, ${refund.paymentId}, ${refund.sequence}, ${refund.amountMinor},
             ${refund.reason}, ${sql.timestamp(refund.createdAt)})`,
  );
}

export async function refundsOf(db: PgQueryable, paymentId: string): Promise<RefundRecord[]> {
  const { rows } = await queryIn(
    db,
    sql.type(refundRow)`SELECT id, payment_id, sequence, amount_minor, reason, created_at
     FROM processor.refunds WHERE payment_id = ${paymentId} ORDER BY sequence`,
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
  return {
    saga,
    description: row.description,
    metadata: row.metadata,
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

const inFlightCountRow = z.object({ n: z.number().int() });

/**
 * Payments accepted within the last `withinMs` whose saga is still moving (PENDING, DEBITED,
 * COMPENSATING), counted up to `cap` (the partial index payments_in_flight_idx; a backlog far
 * past the bound costs no more).
 */
export async function countPaymentsInFlight(
  db: PgQueryable,
  cap: number,
  withinMs: number,
): Promise<number> {
  invariant(
    Number.isSafeInteger(cap) && cap >= 1,
    `in-flight cap must be a positive integer, got ${cap}`,
  );
  invariant(
    Number.isSafeInteger(withinMs) && withinMs >= 1,
    `window must be positive, got ${withinMs}`,
  );
  const { rows } = await queryIn(
    db,
    sql.type(inFlightCountRow)`SELECT count(*)::int AS n FROM (
       SELECT 1 FROM processor.payments
        WHERE state IN ('PENDING', 'DEBITED', 'COMPENSATING')
          AND created_at > now() - make_interval(secs => ${withinMs / 1000})
        LIMIT ${cap}) AS moving`,
  );
  return rows[0]?.n ?? 0;
}
