// A refund as a use case: under the payment's row lock (which serialises every refund of the
// payment, whatever its key), the key's earlier answer, the caller's right, the refundable
// amount and the saga transition are decided together, and the refund, the saga, its outputs
// and the idempotency record are written in one transaction. Nothing is written otherwise.
import { invariant } from '@ledgerline/platform/invariant';
import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type PoolClient } from '@ledgerline/platform/db';
import {
  refundableMinor,
  transition,
  validateRefundRequest,
  type Violation,
  type Saga,
} from '../domain/index.js';
import { findIdempotencyRecord, insertIdempotencyRecord } from '../store/idempotency.js';
import { findPayment, insertRefund } from '../store/payments.js';
import {
  keyInUseOr,
  type IdempotencyRecord,
  type PaymentRecord,
  type RefundRecord,
  type StoredResponse,
} from './payments.js';
import { storeTransition, type SagaMessages } from './saga-transitions.js';

export interface RefundRequest {
  readonly paymentId: string;
  /** Scoped to the payment: the same key may refund two different payments. */
  readonly key: string;
  readonly amountMinor: number | undefined;
  readonly reason: string | null;
  readonly requestHash: string;
  /** Whether the caller may see the payment (else it answers as missing). */
  readonly maySee: (record: PaymentRecord) => boolean;
  /** Whether the caller may refund from the payee's account. */
  readonly mayRefund: (record: PaymentRecord) => boolean;
  /** The 202 the key will replay. */
  readonly respond: (refund: RefundRecord, saga: Saga) => StoredResponse;
}

export type RefundOutcome =
  | { readonly kind: 'not-found' }
  | { readonly kind: 'not-permitted'; readonly payeeAccountId: string }
  | { readonly kind: 'replay'; readonly existing: IdempotencyRecord }
  | { readonly kind: 'refused'; readonly violations: readonly Violation[] }
  | {
      readonly kind: 'accepted';
      readonly response: StoredResponse;
      readonly refund: RefundRecord;
      readonly commandIds: readonly string[];
    };

export interface RefundDependencies {
  readonly pool: Pool;
  readonly messages: SagaMessages;
  /** Longest wait for another request's uncommitted row (the key, or the payment). */
  readonly lockWaitMsMax: number;
}

export async function requestRefund(
  deps: RefundDependencies,
  request: RefundRequest,
): Promise<RefundOutcome> {
  try {
    return await withTransaction(deps.pool, (client) => refundLocked(deps, client, request), {
      lockTimeoutMs: deps.lockWaitMsMax,
    });
  } catch (error) {
    throw keyInUseOr(error);
  }
}

async function refundLocked(
  deps: RefundDependencies,
  client: PoolClient,
  request: RefundRequest,
): Promise<RefundOutcome> {
  const { paymentId, key } = request;
  const record = await findPayment(client, paymentId, { forUpdate: true });
  if (record === undefined || !request.maySee(record)) return { kind: 'not-found' };
  // A refund pays the payer back from the payee: only the payee's side may ask for it.
  if (!request.mayRefund(record)) {
    return { kind: 'not-permitted', payeeAccountId: record.saga.payeeAccountId };
  }
  const scope = refundScope(paymentId);
  const existing = await findIdempotencyRecord(client, scope, key);
  if (existing !== undefined) return { kind: 'replay', existing };

  const { saga } = record;
  const amountMinor = request.amountMinor ?? refundableMinor(saga);
  const violations = refundViolations(saga, request.amountMinor, amountMinor);
  if (violations.length > 0) return { kind: 'refused', violations };

  const now = new Date();
  const refund: RefundRecord = {
    id: randomUUID(),
    paymentId,
    sequence: saga.refunds.length + 1,
    amountMinor,
    reason: request.reason,
    createdAt: now,
  };
  const result = transition(saga, {
    kind: 'RefundRequested',
    paymentId,
    refundId: refund.id,
    sequence: refund.sequence,
    amountMinor,
    requestedAt: now.toISOString(),
  });
  invariant(result.disposition === 'APPLIED', 'a refund the rules accept is applied');
  await insertRefund(client, refund);
  const cause = { causationId: null, correlationId: record.correlationId, occurredAt: now };
  const stored = await storeTransition(client, deps.messages, record, result, cause, null);
  const response = request.respond(refund, result.saga);
  const inserted = await insertIdempotencyRecord(client, scope, key, {
    requestHash: request.requestHash,
    response,
  });
  invariant(inserted, 'the payment lock serialises refunds with the same key');
  return { kind: 'accepted', response, refund, commandIds: stored.commandIds };
}

/** Idempotency keys of refunds are scoped to their payment. */
export function refundScope(paymentId: string): string {
  return `createRefund:${paymentId}`;
}

function refundViolations(
  saga: Saga,
  asked: number | undefined,
  amountMinor: number,
): readonly Violation[] {
  if (asked === undefined && amountMinor === 0) {
    // Without an amount the client asked for "the rest", and nothing is left.
    const violations = validateRefundRequest(saga, { amountMinor: 1 });
    return violations.length > 0
      ? violations
      : [
          {
            pointer: '/amountMinor',
            code: 'REFUND_EXCEEDS_REMAINING',
            message: 'nothing remains refundable (refunds in flight count against it)',
          },
        ];
  }
  return validateRefundRequest(saga, { amountMinor });
}
