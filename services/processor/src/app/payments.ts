// Payments as use cases: accepting one (its saga started, its first command and status event
// encoded before the transaction, then written by the grouped intake), and reading them. The
// HTTP layer judges the request against the rules and the caller first, and turns the
// outcomes here into responses.
import { KeyNoLongerLive } from '@ledgerline/platform/http/auth';
import { invariant } from '@ledgerline/platform/invariant';
import { randomUUID } from 'node:crypto';
import type { Pool } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import { requestHash, startSaga, type Saga, type StepCommand } from '../domain/index.js';
import type { IdempotencyRecord, StoredResponse } from '../store/idempotency.js';
import {
  findPayment,
  listPayments,
  refundsOf,
  type PagePosition,
  type PaymentFilter,
  type PaymentRecord,
  type RefundRecord,
} from '../store/payments.js';
import type { PaymentIntakeQueue } from './payment-intake.js';
import type { SagaMessages } from './saga-transitions.js';

export type {
  IdempotencyRecord,
  PagePosition,
  PaymentFilter,
  PaymentRecord,
  RefundRecord,
  StoredResponse,
};

// PostgreSQL's lock_not_available: the wait for a concurrent request with the same key ran out.
const LOCK_NOT_AVAILABLE = '55P03';

/** Another request with the same key (or on the same payment) held its row past the wait. */
export class KeyInUseError extends Error {
  constructor(cause: unknown) {
    super('a concurrent request holds the idempotency key', { cause });
    this.name = 'KeyInUseError';
  }
}

/** A lock wait that ran out as KeyInUseError; anything else as it is. */
export function keyInUseOr(error: unknown): unknown {
  return (error as { code?: unknown }).code === LOCK_NOT_AVAILABLE
    ? new KeyInUseError(error)
    : error;
}

export interface PaymentRequest {
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly description?: string | null;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type AcceptOutcome =
  | {
      readonly accepted: true;
      readonly paymentId: string;
      readonly response: StoredResponse;
      readonly outputs: number;
    }
  | {
      readonly accepted: false;
      readonly existing: IdempotencyRecord;
      readonly requestHash: string;
    };

export interface AcceptPaymentDependencies {
  readonly paymentIntake: PaymentIntakeQueue;
  readonly messages: SagaMessages;
}

/**
 * Accepts a payment the rules allow under `key`, or answers the key's first record. Everything
 * the transaction writes is decided and encoded before it starts, so row locks are held only
 * for the inserts. `respond` is the 202 the key will replay. Throws KeyNoLongerLive, having
 * written nothing, when `callerKeyId` was revoked or expired before the write.
 */
export async function acceptPayment(
  deps: AcceptPaymentDependencies,
  key: string,
  body: PaymentRequest,
  callerKeyId: string | null,
  respond: (record: PaymentRecord) => StoredResponse,
): Promise<AcceptOutcome> {
  const now = new Date();
  const paymentId = randomUUID();
  const started = startSaga({
    paymentId,
    // Account ids are keys on ledger.commands: one spelling per account keeps its partition.
    payerAccountId: body.payerAccountId.toLowerCase(),
    payeeAccountId: body.payeeAccountId.toLowerCase(),
    amountMinor: body.amountMinor,
    currency: body.currency,
    acceptedAt: now.toISOString(),
  });
  const record: PaymentRecord = {
    saga: started.saga,
    description: body.description ?? null,
    metadata: body.metadata ?? {},
    statusVersion: 1,
    correlationId: paymentId,
    createdAt: now,
    updatedAt: now,
  };
  const [debit] = started.commands;
  invariant(
    started.commands.length === 1 && debit !== undefined,
    'a new payment requests its DEBIT step',
  );
  const outbox = await acceptedOutputs(deps.messages, started.saga, debit, record, now);
  const response = respond(record);
  const idempotency: IdempotencyRecord = { requestHash: requestHash(body), response };
  const outcome = await deps.paymentIntake
    .submit({ key, callerKeyId, idempotency, record, outbox })
    .catch((error: unknown) => {
      throw keyInUseOr(error);
    });
  if ('keyNotLive' in outcome) throw new KeyNoLongerLive();
  if (!outcome.accepted) {
    return { accepted: false, existing: outcome.existing, requestHash: idempotency.requestHash };
  }
  return { accepted: true, paymentId, response, outputs: outbox.length };
}

/** The DEBIT command and the PENDING status event of a payment just accepted. */
async function acceptedOutputs(
  messages: SagaMessages,
  saga: Saga,
  debit: StepCommand,
  record: PaymentRecord,
  now: Date,
): Promise<EncodedMessage[]> {
  const cause = { causationId: null, correlationId: saga.paymentId, occurredAt: now };
  return [
    await messages.encodeCommand(saga, debit, cause, record),
    await messages.encodeStatusChange(
      saga,
      { version: 1, from: null, to: 'PENDING', reason: 'ACCEPTED', rejectionReason: null },
      cause,
    ),
  ];
}

export function readPayment(pool: Pool, paymentId: string): Promise<PaymentRecord | undefined> {
  return findPayment(pool, paymentId, { forUpdate: false });
}

/** One page, newest first, and whether another follows (one row more is read to know). */
export async function readPaymentPage(
  pool: Pool,
  filter: PaymentFilter,
  limit: number,
  after: PagePosition | undefined,
): Promise<{ records: PaymentRecord[]; hasMore: boolean }> {
  const records = await listPayments(pool, filter, limit + 1, after);
  return { records: records.slice(0, limit), hasMore: records.length > limit };
}

export async function readRefund(
  pool: Pool,
  paymentId: string,
  refundId: string,
): Promise<RefundRecord | undefined> {
  return (await refundsOf(pool, paymentId)).find((found) => found.id === refundId);
}
