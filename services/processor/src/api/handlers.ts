// The processor's HTTP operations. The platform has already checked each request against the
// contract (shape, types, unknown fields, headers) and checks each response; these handlers
// judge values with the domain rules and the caller's rights, call a use case of app/, and
// turn its outcome into a response. Nothing is stored or published for bad input.
import { invariant } from '@ledgerline/platform/invariant';
import type { Pool } from '@ledgerline/platform/db';
import type { ApiRequest, ApiResponse, OperationHandler } from '@ledgerline/platform/http/app';
import { accountNotPermitted, mayActOnAccount } from '@ledgerline/platform/http/auth';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import {
  isUuid,
  requestHash,
  sagaStates,
  validatePaymentRequest,
  type PaymentRulesConfig,
  type SagaState,
} from '../domain/index.js';
import type { ProcessorMetrics } from '../app/metrics.js';
import type { PaymentIntakeQueue } from '../app/payment-intake.js';
import {
  acceptPayment,
  KeyInUseError,
  readPayment,
  readPaymentPage,
  readRefund,
  type IdempotencyRecord,
  type PaymentFilter,
  type PaymentRecord,
  type StoredResponse,
} from '../app/payments.js';
import { requestRefund } from '../app/refunds.js';
import type { SagaMessages } from '../app/saga-transitions.js';
import { paymentsCursor } from './cursor.js';
import {
  idempotencyKeyInUse,
  idempotencyKeyReused,
  invalidParameter,
  notFound,
  paymentRulesProblem,
  refundRulesProblem,
} from './problems.js';
import { paymentView, refundView } from './views.js';

type CreatePaymentRequest = components['schemas']['CreatePaymentRequest'];
type CreateRefundRequest = components['schemas']['CreateRefundRequest'];
type PaymentPage = components['schemas']['PaymentPage'];

export interface HandlerDependencies {
  readonly pool: Pool;
  /** Writes accepted payments, grouped across concurrent requests. */
  readonly paymentIntake: PaymentIntakeQueue;
  readonly messages: SagaMessages;
  readonly metrics: ProcessorMetrics;
  readonly rules: PaymentRulesConfig;
  readonly idempotencyWaitMsMax: number;
  /** Called after a commit that wrote to the outbox. */
  readonly onOutboxWritten: () => void;
}

const pageSizeDefault = 50;
const pageSizeMax = 500;

export function createHandlers(deps: HandlerDependencies): Record<string, OperationHandler> {
  const handlers: Record<string, OperationHandler> = {
    createPayment: (request) => createPayment(deps, request),
    getPayment: (request) => getPayment(deps, request),
    listPayments: (request) => listPaymentsPage(deps, request),
    createRefund: (request) => createRefund(deps, request),
    getRefund: (request) => getRefund(deps, request),
    getCaller: (request) => getCaller(request),
  };
  // A concurrent request held the key (or the payment) past the wait: 409, for every operation.
  return Object.fromEntries(
    Object.entries(handlers).map(([operation, handler]) => [
      operation,
      async (request: ApiRequest) => {
        try {
          return await handler(request);
        } catch (error) {
          throw error instanceof KeyInUseError ? idempotencyKeyInUse() : error;
        }
      },
    ]),
  );
}

async function createPayment(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const key = idempotencyKey(request);
  const body = request.body as CreatePaymentRequest;
  const violations = validatePaymentRequest(body, deps.rules);
  if (violations.length > 0) throw paymentRulesProblem(violations);
  // A key bound to accounts pays only from its own; the payer is the caller's to name.
  if (!mayActOnAccount(request.principal, body.payerAccountId))
    throw accountNotPermitted(`This credential may not pay from account ${body.payerAccountId}.`);

  const callerKeyId = request.principal?.keyId ?? null;
  const outcome = await acceptPayment(deps, key, body, callerKeyId, (record) => ({
    status: 202,
    body: paymentView(record),
    location: `/v1/payments/${record.saga.paymentId}`,
  }));
  if (!outcome.accepted) return replay(deps, 'createPayment', outcome.existing, outcome);
  deps.onOutboxWritten();
  deps.metrics.paymentAccepted();
  request.log.info(
    {
      paymentId: outcome.paymentId,
      amountMinor: body.amountMinor,
      currency: body.currency,
      outputs: outcome.outputs,
    },
    'payment accepted',
  );
  return created(outcome.response);
}

async function getPayment(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const paymentId = pathUuid(request, 'paymentId');
  const record = await readPayment(deps.pool, paymentId);
  if (record === undefined || !involvesCaller(request, record))
    throw notFound(`No payment ${paymentId}.`);
  return { status: 200, body: paymentView(record) };
}

/** The caller as the edge established it; the edge answered 401 before this without one. */
function getCaller(request: ApiRequest): Promise<ApiResponse> {
  const { principal } = request;
  invariant(principal !== undefined, 'getCaller is an authenticated operation');
  const body: components['schemas']['Caller'] = {
    subject: principal.subject,
    kind: principal.kind,
    keyId: principal.keyId ?? null,
    scopes: [...principal.scopes].sort(),
    accountIds: principal.accountIds === undefined ? null : [...principal.accountIds],
  };
  return Promise.resolve({ status: 200, body });
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
    amountMinorMin: optionalAmount(query['amountMinorMin']),
    amountMinorMax: optionalAmount(query['amountMinorMax']),
    createdFrom: optionalDate(query['createdFrom']),
    createdTo: optionalDate(query['createdTo']),
    ...(request.principal?.accountIds === undefined
      ? {}
      : { involvingAccountIds: request.principal.accountIds }),
  };
  invariant(filter.status === undefined || sagaStates.includes(filter.status), 'a known status');
  if (
    filter.amountMinorMin !== undefined &&
    filter.amountMinorMax !== undefined &&
    filter.amountMinorMin > filter.amountMinorMax
  )
    throw invalidParameter('/query/amountMinorMax', 'must not be below amountMinorMin');
  const after = paymentsCursor.decode(optionalString(query['cursor'])) ?? undefined;
  const { records, hasMore } = await readPaymentPage(deps.pool, filter, limit, after);
  const last = records[records.length - 1];
  const body: PaymentPage = {
    items: records.map(paymentView),
    nextCursor:
      hasMore && last !== undefined
        ? paymentsCursor.encode({ createdAt: last.createdAt, id: last.saga.paymentId })
        : null,
  };
  return { status: 200, body };
}

async function createRefund(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const paymentId = pathUuid(request, 'paymentId');
  const body = request.body as CreateRefundRequest;
  const hash = requestHash(body);
  const outcome = await requestRefund(
    { pool: deps.pool, messages: deps.messages, lockWaitMsMax: deps.idempotencyWaitMsMax },
    {
      paymentId,
      key: idempotencyKey(request),
      amountMinor: body.amountMinor,
      reason: body.reason ?? null,
      requestHash: hash,
      maySee: (record) => involvesCaller(request, record),
      mayRefund: (record) => mayActOnAccount(request.principal, record.saga.payeeAccountId),
      respond: (refund, saga) => ({
        status: 202,
        body: refundView(refund, saga),
        location: `/v1/payments/${paymentId}/refunds/${refund.id}`,
      }),
    },
  );
  switch (outcome.kind) {
    case 'not-found':
      throw notFound(`No payment ${paymentId}.`);
    case 'not-permitted':
      throw accountNotPermitted(
        `This credential may not refund from account ${outcome.payeeAccountId} (the payee).`,
      );
    case 'replay':
      return replay(deps, 'createRefund', outcome.existing, { requestHash: hash });
    case 'refused':
      throw refundRulesProblem(outcome.violations);
    case 'accepted':
      break;
  }
  deps.onOutboxWritten();
  deps.metrics.refundAccepted();
  request.log.info(
    {
      paymentId,
      refundId: outcome.refund.id,
      sequence: outcome.refund.sequence,
      amountMinor: outcome.refund.amountMinor,
      commandIds: outcome.commandIds,
    },
    'refund accepted',
  );
  return created(outcome.response);
}

async function getRefund(deps: HandlerDependencies, request: ApiRequest): Promise<ApiResponse> {
  const paymentId = pathUuid(request, 'paymentId');
  const refundId = pathUuid(request, 'refundId');
  const record = await readPayment(deps.pool, paymentId);
  if (record === undefined || !involvesCaller(request, record))
    throw notFound(`No payment ${paymentId}.`);
  const refund = await readRefund(deps.pool, paymentId, refundId);
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

function optionalAmount(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  // The validator has coerced the parameter to the contract's integer.
  const amount = Number(value);
  invariant(Number.isSafeInteger(amount) && amount >= 1, 'amount parameters were validated');
  return amount;
}

function optionalDate(value: unknown): Date | undefined {
  const text = optionalString(value);
  if (text === undefined) return undefined;
  const date = new Date(text);
  invariant(!Number.isNaN(date.getTime()), 'date-time parameters were validated');
  return date;
}
