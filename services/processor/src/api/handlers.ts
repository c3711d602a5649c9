// The processor's HTTP operations. The platform has already checked each request against the
// contract (shape, types, unknown fields, headers) and checks each response; these handlers
// judge values with the domain rules and store every effect, its idempotency record and its
// outbox rows in one PostgreSQL transaction. Nothing is stored or published for bad input.
import { invariant } from '@ledgerline/platform/invariant';
import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type PoolClient } from '@ledgerline/platform/db';
import type { ApiRequest, ApiResponse, OperationHandler } from '@ledgerline/platform/http/app';
import { accountNotPermitted, mayActOnAccount } from '@ledgerline/platform/http/auth';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import {
  isUuid,
  requestHash,
  sagaStates,
  startSaga,
  transition,
  validatePaymentRequest,
  validateRefundRequest,
  type PaymentRulesConfig,
  type SagaState,
} from '../domain/index.js';
import type { ProcessorMessages } from '../events/messages.js';
import { storeTransition } from '../app/saga-transitions.js';
import type { ProcessorMetrics } from '../metrics.js';
import {
  findIdempotencyRecord,
  insertIdempotencyRecord,
  type IdempotencyRecord,
  type StoredResponse,
} from '../store/idempotency.js';
import {
  findPayment,
  insertRefund,
  listPayments,
  refundsOf,
  type PaymentFilter,
  type PaymentRecord,
  type RefundRecord,
} from '../store/payments.js';
import { paymentsCursor } from './cursor.js';
import type { PaymentIntakeQueue } from './payment-intake.js';
import {
  idempotencyKeyInUse,
  idempotencyKeyReused,
  invalidParameter,
  notFound,
  paymentRulesProblem,
  refundRulesProblem,
} from './problems.js';
import { paymentView, refundableMinor, refundView } from './views.js';

type CreatePaymentRequest = components['schemas']['CreatePaymentRequest'];
type CreateRefundRequest = components['schemas']['CreateRefundRequest'];
type PaymentPage = components['schemas']['PaymentPage'];

export interface HandlerDependencies {
  readonly pool: Pool;
  /** Writes accepted payments, grouped across concurrent requests. */
  readonly paymentIntake: PaymentIntakeQueue;
  readonly messages: ProcessorMessages;
  readonly metrics: ProcessorMetrics;
  readonly rules: PaymentRulesConfig;
  readonly idempotencyWaitMsMax: number;
  /** Called after a commit that wrote to the outbox. */
  readonly onOutboxWritten: () => void;
}

const pageSizeDefault = 50;
const pageSizeMax = 500;
// PostgreSQL's lock_not_available: the wait for a concurrent request with the same key ran out.
const lockNotAvailable = '55P03';

export function createHandlers(deps: HandlerDependencies): Record<string, OperationHandler> {
  return {
    createPayment: (request) => createPayment(deps, request),
    getPayment: (request) => getPayment(deps, request),
    listPayments: (request) => listPaymentsPage(deps, request),
    createRefund: (request) => createRefund(deps, request),
    getRefund: (request) => getRefund(deps, request),
  };
}

async function createPayment(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const key = idempotencyKey(request);
  const body = request.body as CreatePaymentRequest;
  const violations = validatePaymentRequest(body, deps.rules);
  if (violations.length > 0) throw paymentRulesProblem(violations);
  // A key bound to accounts pays only from its own; the payer is the caller's to name.
  if (!mayActOnAccount(request.principal, body.payerAccountId))
    throw accountNotPermitted(`This credential may not pay from account ${body.payerAccountId}.`);

  // Everything the transaction writes is decided and encoded before it starts, so the row
  // locks are held only for the inserts.
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
  const cause = { causationId: null, correlationId: paymentId, occurredAt: now };
  invariant(started.commands.length === 1, 'a new payment requests its DEBIT step');
  const outbox = [
    ...(await Promise.all(
      started.commands.map((command) =>
        deps.messages.encodeCommand(started.saga, command, cause, record),
      ),
    )),
    await deps.messages.encodeStatusChange(
      started.saga,
      { version: 1, from: null, to: 'PENDING', reason: 'ACCEPTED', rejectionReason: null },
      cause,
    ),
  ];
  const response: StoredResponse = {
    status: 202,
    body: paymentView(record),
    location: `/v1/payments/${paymentId}`,
  };
  const idempotency: IdempotencyRecord = { requestHash: requestHash(body), response };
  const log = request.log.child({ paymentId });

  const outcome = await deps.paymentIntake
    .submit({ key, idempotency, record, outbox })
    .catch((error: unknown) => {
      throw keyInUseProblemOr(error);
    });
  if (!outcome.accepted) return replay(deps, 'createPayment', outcome.existing, idempotency);
  deps.onOutboxWritten();
  deps.metrics.paymentAccepted();
  log.info(
    { amountMinor: body.amountMinor, currency: body.currency, commandIds: outbox.length },
    'payment accepted',
  );
  return created(response);
}

async function getPayment(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const paymentId = pathUuid(request, 'paymentId');
  const record = await findPayment(deps.pool, paymentId, { forUpdate: false });
  if (record === undefined || !involvesCaller(request, record))
    throw notFound(`No payment ${paymentId}.`);
  return { status: 200, body: paymentView(record) };
}

async function listPaymentsPage(
  deps: HandlerDependencies,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { query } = request;
  const limit = query['limit'] === undefined ? pageSizeDefault : Number(query['limit']);
  invariant(Number.isSafeInteger(limit) && limit >= 1 && limit <= pageSizeMax, 'limit in range');
  const filter: PaymentFilter = {
    status: optionalString(query['status']) as SagaState | undefined,
    payerAccountId: queryUuid(query['payerAccountId'], 'payerAccountId'),
    payeeAccountId: queryUuid(query['payeeAccountId'], 'payeeAccountId'),
    createdFrom: optionalDate(query['createdFrom']),
    createdTo: optionalDate(query['createdTo']),
    ...(request.principal?.accountIds === undefined
      ? {}
      : { involvingAccountIds: request.principal.accountIds }),
  };
  invariant(filter.status === undefined || sagaStates.includes(filter.status), 'a known status');
  const after = paymentsCursor.decode(optionalString(query['cursor'])) ?? undefined;
  // One row more than the page tells whether another page follows.
  const records = await listPayments(deps.pool, filter, limit + 1, after);
  const page = records.slice(0, limit);
  const last = page[page.length - 1];
  const body: PaymentPage = {
    items: page.map(paymentView),
    nextCursor:
      records.length > limit && last !== undefined
        ? paymentsCursor.encode({ createdAt: last.createdAt, id: last.saga.paymentId })
        : null,
  };
  return { status: 200, body };
}

async function createRefund(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const key = idempotencyKey(request);
  const paymentId = pathUuid(request, 'paymentId');
  const body = request.body as CreateRefundRequest;
  const hash = requestHash(body);
  // Keys are scoped to the payment: the same key may refund two different payments.
  const scope = `createRefund:${paymentId}`;
  const log = request.log.child({ paymentId });

  const outcome = await inTransactionWithKeyWait(deps, async (client) => {
    // The payment's row lock serialises every refund of this payment, whatever its key, so
    // the key check and the refundable amount below cannot race.
    const record = await findPayment(client, paymentId, { forUpdate: true });
    if (record === undefined || !involvesCaller(request, record))
      throw notFound(`No payment ${paymentId}.`);
    // A refund pays the payer back from the payee: only the payee's side may ask for it.
    if (!mayActOnAccount(request.principal, record.saga.payeeAccountId))
      throw accountNotPermitted(
        `This credential may not refund from account ${record.saga.payeeAccountId} (the payee).`,
      );
    const existing = await findIdempotencyRecord(client, scope, key);
    if (existing !== undefined) return { existing, created: undefined };

    const { saga } = record;
    const amountMinor = body.amountMinor ?? refundableMinor(saga);
    if (body.amountMinor === undefined && amountMinor === 0) {
      // Without an amount the client asked for "the rest", and nothing is left.
      const violations = validateRefundRequest(saga, { amountMinor: 1 });
      throw refundRulesProblem(
        violations.length > 0
          ? violations
          : [
              {
                pointer: '/amountMinor',
                code: 'REFUND_EXCEEDS_REMAINING',
                message: 'nothing remains refundable (refunds in flight count against it)',
              },
            ],
      );
    }
    const violations = validateRefundRequest(saga, { amountMinor });
    if (violations.length > 0) throw refundRulesProblem(violations);

    const now = new Date();
    const refund: RefundRecord = {
      id: randomUUID(),
      paymentId,
      sequence: saga.refunds.length + 1,
      amountMinor,
      reason: body.reason ?? null,
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
    const stored = await storeTransition(
      client,
      deps.messages,
      record,
      result,
      { causationId: null, correlationId: record.correlationId, occurredAt: now },
      null,
    );
    const response: StoredResponse = {
      status: 202,
      body: refundView(refund, result.saga),
      location: `/v1/payments/${paymentId}/refunds/${refund.id}`,
    };
    const inserted = await insertIdempotencyRecord(client, scope, key, {
      requestHash: hash,
      response,
    });
    invariant(inserted, 'the payment lock serialises refunds with the same key');
    return { existing: undefined, created: { response, refund, commandIds: stored.commandIds } };
  });
  if (outcome.existing !== undefined) {
    return replay(deps, 'createRefund', outcome.existing, { requestHash: hash });
  }
  const { created: accepted } = outcome;
  invariant(accepted !== undefined, 'a refund is either replayed or accepted');
  deps.onOutboxWritten();
  deps.metrics.refundAccepted();
  log.info(
    {
      refundId: accepted.refund.id,
      sequence: accepted.refund.sequence,
      amountMinor: accepted.refund.amountMinor,
      commandIds: accepted.commandIds,
    },
    'refund accepted',
  );
  return created(accepted.response);
}

async function getRefund(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const paymentId = pathUuid(request, 'paymentId');
  const refundId = pathUuid(request, 'refundId');
  const record = await findPayment(deps.pool, paymentId, { forUpdate: false });
  if (record === undefined || !involvesCaller(request, record))
    throw notFound(`No payment ${paymentId}.`);
  const refund = (await refundsOf(deps.pool, paymentId)).find((found) => found.id === refundId);
  if (refund === undefined) throw notFound(`No refund ${refundId} of payment ${paymentId}.`);
  return { status: 200, body: refundView(refund, record.saga) };
}

// ---------- helpers ----------

/**
 * Account binding for reads: a bound key sees a payment only when its payer or payee is one of
 * the key's accounts. Others' payments answer 404 like missing ones, so their existence does
 * not leak.
 */
function involvesCaller(request: ApiRequest, record: PaymentRecord): boolean {
  return (
    mayActOnAccount(request.principal, record.saga.payerAccountId) ||
    mayActOnAccount(request.principal, record.saga.payeeAccountId)
  );
}

/**
 * Runs `work` in a transaction in which waiting for another request's uncommitted row (the same
 * Idempotency-Key, or the same payment) is bounded; past the bound the client gets 409.
 */
async function inTransactionWithKeyWait<T>(
  deps: HandlerDependencies,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  try {
    return await withTransaction(deps.pool, work, { lockTimeoutMs: deps.idempotencyWaitMsMax });
  } catch (error) {
    throw keyInUseProblemOr(error);
  }
}

/** The wait for a concurrent request's uncommitted row ran out: 409; anything else as is. */
function keyInUseProblemOr(error: unknown): unknown {
  return (error as { code?: unknown }).code === lockNotAvailable ? idempotencyKeyInUse() : error;
}

function replay(
  deps: HandlerDependencies,
  operation: string,
  existing: IdempotencyRecord,
  current: Pick<IdempotencyRecord, 'requestHash'>,
): ApiResponse {
  if (existing.requestHash !== current.requestHash) throw idempotencyKeyReused();
  deps.metrics.idempotentReplay(operation);
  return {
    status: existing.response.status,
    body: existing.response.body,
    headers: { Location: existing.response.location, 'Idempotent-Replayed': 'true' },
  };
}

function created(response: StoredResponse): ApiResponse {
  return { status: response.status, body: response.body, headers: { Location: response.location } };
}

function idempotencyKey(request: ApiRequest): string {
  const key = request.headers['idempotency-key'];
  // The contract validation has checked presence, length and characters.
  invariant(typeof key === 'string' && key.length >= 8 && key.length <= 128, 'a valid key');
  return key;
}

// The contract's `uuid` format also admits a `urn:uuid:` prefix; ids here are plain UUIDs.
function pathUuid(request: ApiRequest, name: string): string {
  const value = request.params[name];
  invariant(typeof value === 'string', `path parameter ${name} is present`);
  if (!isUuid(value)) throw invalidParameter(`/path/${name}`, 'must be a UUID');
  return value.toLowerCase();
}

function queryUuid(value: unknown, name: string): string | undefined {
  const text = optionalString(value);
  if (text === undefined) return undefined;
  if (!isUuid(text)) throw invalidParameter(`/query/${name}`, 'must be a UUID');
  return text.toLowerCase();
}

function optionalString(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  invariant(typeof value === 'string', 'query parameters are strings');
  return value;
}

function optionalDate(value: unknown): Date | undefined {
  const text = optionalString(value);
  if (text === undefined) return undefined;
  const date = new Date(text);
  invariant(!Number.isNaN(date.getTime()), 'date-time parameters were validated');
  return date;
}
