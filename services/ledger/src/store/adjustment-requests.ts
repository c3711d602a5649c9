// Adjustment requests and their dual-control decisions (migration 003): what the cap sums, what
// the approver decides on, and the Adjustment the API shows, from the request through the
// approval to the ledger's decision.
import { z } from 'zod';
import { invariant } from '@ledgerline/platform/invariant';
import { queryIn, sql, textSymbol, type PgQueryable } from '@ledgerline/platform/database/slonik';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import type {
  AdjustmentRequestRow,
  ApprovalState,
  Operator,
} from '../domain/adjustment-control.js';

export type { AdjustmentRequestRow };

type Schemas = components['schemas'];
export type AdjustmentView = Schemas['Adjustment'];
export type ApprovalStatus = Schemas['AdjustmentApprovalStatus'];

/** Whose daily cap a request counts against: one bucket per API key, or per token subject. */
export function capHolderOf(operator: Operator): string {
  return operator.keyId !== null ? `key:${operator.keyId}` : `subject:${operator.subject}`;
}

/**
 * Serialises the requests of one cap holder until the transaction ends, so that two concurrent
 * requests cannot both fit under the cap that only one of them fits under.
 */
export async function lockCapHolder(client: PgQueryable, capHolder: string): Promise<void> {
  await queryIn(
    client,
    sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended(${`ledger.adjustment-cap:${capHolder}`}, 0))`,
  );
}

/** What a cap holder requested in one currency since `since`, exactly (a sum may pass 2^53). */
export async function requestedSinceMinor(
  client: PgQueryable,
  capHolder: string,
  currency: string,
  since: Date,
): Promise<bigint> {
  const { rows } = await queryIn(
    client,
    sql.type(z.object({ total: z.string().regex(/^[0-9]+$/) }))`
     SELECT coalesce(sum(amount_minor), 0)::text AS total FROM ledger.adjustment_requests
      WHERE cap_holder = ${capHolder} AND currency = ${currency}
        AND requested_at >= ${sql.timestamp(since)}`,
  );
  return BigInt(rows[0]?.total ?? '0');
}

export async function insertAdjustmentRequest(
  client: PgQueryable,
  row: AdjustmentRequestRow,
): Promise<void> {
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.adjustment_requests (adjustment_id, account_id, idempotency_key,
       request_fingerprint, direction, amount_minor, currency, reference, reason, requested_by,
       requested_by_key_id, cap_holder, approval_required, requested_at)
     VALUES (${row.adjustmentId}, ${row.accountId}, ${row.idempotencyKey},
       ${row.requestFingerprint}, ${row.direction}, ${row.amountMinor}, ${row.currency},
       ${row.reference}, ${row.reason}, ${row.requestedBy.subject}, ${row.requestedBy.keyId},
       ${row.capHolder}, ${row.approvalRequired}, ${sql.timestamp(row.requestedAt)})`,
  );
}

export async function findRequestByKey(
  db: PgQueryable,
  accountId: string,
  idempotencyKey: string,
): Promise<{ adjustmentId: string; requestFingerprint: string } | null> {
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ adjustment_id: z.string(), request_fingerprint: z.string() }))`
     SELECT adjustment_id::text, request_fingerprint FROM ledger.adjustment_requests
      WHERE account_id = ${accountId} AND idempotency_key = ${idempotencyKey}`,
  );
  const row = rows[0];
  return row === undefined
    ? null
    : { adjustmentId: row.adjustment_id, requestFingerprint: row.request_fingerprint };
}

/**
 * The request and its decision, read under a per-adjustment lock held until the transaction
 * ends: two approvers racing see one another's decision, and only the first one sends the
 * command. (An advisory lock, not FOR UPDATE: that needs UPDATE privilege, which ledger_app
 * must not have on an append-only table.)
 */
export async function lockApprovalState(
  client: PgQueryable,
  adjustmentId: string,
): Promise<(ApprovalState & { readonly request: AdjustmentRequestRow }) | null> {
  const lockName = `ledger.adjustment-decision:${adjustmentId}`;
  await queryIn(client, sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended(${lockName}, 0))`);
  const { rows } = await queryIn(
    client,
    sql.type(approvalRow)`SELECT ${REQUEST_COLUMNS}, d.outcome, d.decided_by, d.decided_by_key_id
       FROM ledger.adjustment_requests r
       LEFT JOIN ledger.adjustment_decisions d USING (adjustment_id)
      WHERE r.adjustment_id = ${adjustmentId}`,
  );
  const row = rows[0];
  if (row === undefined) return null;
  return {
    request: requestOf(row),
    requestedBy: { subject: row.requested_by, keyId: row.requested_by_key_id },
    approvalRequired: row.approval_required,
    decision:
      row.outcome === null
        ? null
        : {
            outcome: row.outcome,
            by: { subject: row.decided_by ?? '', keyId: row.decided_by_key_id },
          },
  };
}

export async function insertDecision(
  client: PgQueryable,
  decision: {
    adjustmentId: string;
    outcome: 'APPROVED' | 'DECLINED';
    by: Operator;
    note: string | null;
    at: Date;
  },
): Promise<void> {
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.adjustment_decisions (adjustment_id, outcome, decided_by,
       decided_by_key_id, note, decided_at)
     VALUES (${decision.adjustmentId}, ${decision.outcome}, ${decision.by.subject},
       ${decision.by.keyId}, ${decision.note}, ${sql.timestamp(decision.at)})`,
  );
}

const requestColumns = z.object({
  adjustment_id: z.string(),
  account_id: z.string(),
  idempotency_key: z.string(),
  request_fingerprint: z.string(),
  direction: textSymbol<'DEBIT' | 'CREDIT'>(),
  amount_minor: z.number().int(),
  currency: z.string(),
  reference: z.string(),
  reason: z.string(),
  requested_by: z.string(),
  requested_by_key_id: z.string().nullable(),
  cap_holder: z.string(),
  approval_required: z.boolean(),
  requested_at: z.date(),
});
type RequestColumns = z.infer<typeof requestColumns>;

const approvalRow = requestColumns.extend({
  outcome: textSymbol<'APPROVED' | 'DECLINED'>().nullable(),
  decided_by: z.string().nullable(),
  decided_by_key_id: z.string().nullable(),
});

const REQUEST_COLUMNS = sql.fragment`r.adjustment_id::text, r.account_id::text, r.idempotency_key,
  r.request_fingerprint, r.direction, r.amount_minor, r.currency, r.reference, r.reason,
  r.requested_by, r.requested_by_key_id, r.cap_holder, r.approval_required, r.requested_at`;

function requestOf(row: RequestColumns): AdjustmentRequestRow {
  return {
    adjustmentId: row.adjustment_id,
    accountId: row.account_id,
    idempotencyKey: row.idempotency_key,
    requestFingerprint: row.request_fingerprint,
    direction: row.direction,
    amountMinor: row.amount_minor,
    currency: row.currency,
    reference: row.reference,
    reason: row.reason,
    requestedBy: { subject: row.requested_by, keyId: row.requested_by_key_id },
    capHolder: row.cap_holder,
    approvalRequired: row.approval_required,
    requestedAt: row.requested_at,
  };
}

const viewRow = requestColumns.extend({
  outcome: textSymbol<'APPROVED' | 'DECLINED'>().nullable(),
  decided_by: z.string().nullable(),
  note: z.string().nullable(),
  decision_at: z.date().nullable(),
  command_id: z.string().nullable(),
  status: textSymbol<AdjustmentView['status']>(),
  approval_status: textSymbol<ApprovalStatus>().nullable(),
  rejection_reason: textSymbol<NonNullable<AdjustmentView['rejectionReason']>>().nullable(),
  detail: z.string().nullable(),
  transaction_id: z.string().nullable(),
  ledger_decided_at: z.date().nullable(),
});
type ViewRow = z.infer<typeof viewRow>;

// The request, its approval, the command sent to the ledger (none while awaiting approval or
// once declined) and the ledger's decision on it. Both statuses are derived here and nowhere
// else: an adjustment is PENDING until the ledger decides it, or REJECTED when an operator
// declined it; `approval_status` says where dual control stands.
const VIEW_SELECT = sql.fragment`SELECT ${REQUEST_COLUMNS}, d.outcome, d.decided_by, d.note,
    d.decided_at AS decision_at, c.command_id::text, a.rejection_reason, a.detail,
    a.transaction_id::text, a.decided_at AS ledger_decided_at,
    CASE
      WHEN c.command_id IS NULL AND d.outcome = 'DECLINED' THEN 'REJECTED'
      WHEN a.outcome IS NULL THEN 'PENDING'
      WHEN a.outcome = 'APPLIED' THEN 'POSTED'
      ELSE 'REJECTED'
    END AS status,
    CASE
      WHEN NOT r.approval_required THEN NULL
      WHEN d.outcome IS NULL THEN 'AWAITING_APPROVAL'
      ELSE d.outcome
    END AS approval_status
  FROM ledger.adjustment_requests r
  LEFT JOIN ledger.adjustment_decisions d USING (adjustment_id)
  LEFT JOIN ledger.api_commands c ON c.adjustment_id = r.adjustment_id
  LEFT JOIN ledger.applied_commands a ON a.command_id = c.command_id`;

function viewOf(row: ViewRow): AdjustmentView {
  invariant(
    row.outcome !== 'APPROVED' || row.command_id !== null,
    () => `approved adjustment ${row.adjustment_id} was never sent to the ledger`,
  );
  const declined = row.outcome === 'DECLINED';
  return {
    id: row.adjustment_id,
    accountId: row.account_id,
    direction: row.direction,
    amountMinor: row.amount_minor,
    currency: row.currency,
    reference: row.reference,
    reason: row.reason,
    status: row.status,
    requestedBy: row.requested_by,
    approval:
      row.approval_status === null
        ? null
        : {
            status: row.approval_status,
            decidedBy: row.decided_by,
            decidedAt: row.decision_at?.toISOString() ?? null,
            note: row.note,
          },
    transactionId: row.transaction_id,
    rejectionReason: declined ? 'OTHER' : row.rejection_reason,
    detail: declined
      ? `declined by ${row.decided_by ?? 'an operator'}${row.note === null ? '' : `: ${row.note}`}`
      : row.status === 'REJECTED'
        ? row.detail
        : null,
    createdAt: row.requested_at.toISOString(),
    decidedAt: declined
      ? (row.decision_at?.toISOString() ?? null)
      : (row.ledger_decided_at?.toISOString() ?? null),
  };
}

export async function findAdjustment(
  db: PgQueryable,
  adjustmentId: string,
): Promise<AdjustmentView | null> {
  const { rows } = await queryIn(
    db,
    sql.type(viewRow)`${VIEW_SELECT} WHERE r.adjustment_id = ${adjustmentId}`,
  );
  const row = rows[0];
  return row === undefined ? null : viewOf(row);
}

export interface AdjustmentCursor {
  requestedAt: string;
  adjustmentId: string;
}

/** Newest first; `approval` filters after the joins (the approver's queue is small). */
export async function listAdjustments(
  db: PgQueryable,
  approval: ApprovalStatus | null,
  after: AdjustmentCursor | null,
  limit: number,
): Promise<AdjustmentView[]> {
  invariant(Number.isSafeInteger(limit) && limit >= 1 && limit <= 501, `limit ${limit}`);
  const before =
    after === null
      ? sql.fragment`TRUE`
      : sql.fragment`(r.requested_at, r.adjustment_id) < (${after.requestedAt}::timestamptz, ${after.adjustmentId}::uuid)`;
  const inQueue =
    approval === null ? sql.fragment`TRUE` : sql.fragment`v.approval_status = ${approval}`;
  const { rows } = await queryIn(
    db,
    sql.type(viewRow)`SELECT * FROM (${VIEW_SELECT} WHERE ${before}) v
     WHERE ${inQueue}
     ORDER BY v.requested_at DESC, v.adjustment_id DESC
     LIMIT ${limit}`,
  );
  return rows.map(viewOf);
}
