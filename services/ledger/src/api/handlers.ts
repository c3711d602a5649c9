// HTTP API (contracts/openapi/ledger.yaml): each handler checks what the schema cannot say and
// the caller's rights, calls a use case of app/ (intake.ts: commands decided by the consumer,
// answered 201/200 or 202 with where to look; adjustments.ts: dual control; queries.ts: reads),
// and turns its outcome into a response or a problem.
import { randomUUID } from 'node:crypto';
import type { Pool } from '@ledgerline/platform/db';
import {
  ProblemError,
  problems,
  type ApiRequest,
  type ApiResponse,
  type OperationHandler,
} from '@ledgerline/platform/http/app';
import { mayActOnAccount } from '@ledgerline/platform/http/auth';
import { pageOf } from '@ledgerline/platform/http/cursor';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { isSystemAccountId } from '../domain/accounts.js';
import type {
  AdjustmentControlPolicy,
  ApprovalAction,
  Operator,
} from '../domain/adjustment-control.js';
import { isCurrencyCode } from '../domain/currencies.js';
import {
  decideOnAdjustment,
  requestAdjustment,
  type AdjustmentOutcome,
} from '../app/adjustments.js';
import {
  changeAccountStatus,
  openAccount,
  type CommandStatus,
  type IntakeDependencies,
  type LedgerApiMessages,
} from '../app/intake.js';
import {
  balanceOf,
  findAccount,
  findAdjustment,
  findCommand,
  findTransaction,
  listAdjustments,
  listEntries,
  listSystemAccounts,
  type AccountView,
  type ApprovalStatus,
} from '../app/queries.js';
import { adjustmentsCursor, entriesCursor, systemAccountsCursor } from './cursor.js';

type Schemas = components['schemas'];

const PAGE_LIMIT_DEFAULT = 50;

export interface ApiDeps {
  pool: Pool;
  /** The API's outbox messages (events/api-messages.ts). */
  messages: LedgerApiMessages;
  /** Wakes the outbox relay after a commit. */
  nudgeRelay: () => void;
  /** Approval threshold and per-key daily caps of adjustments. */
  adjustmentControl: AdjustmentControlPolicy;
}

function limitOf(query: Record<string, unknown>): number {
  const raw = query['limit'];
  return typeof raw === 'number' ? raw : raw === undefined ? PAGE_LIMIT_DEFAULT : Number(raw);
}

function dateParam(query: Record<string, unknown>, name: string): Date | null {
  const raw = query[name];
  if (raw === undefined) return null;
  const date = new Date(String(raw));
  if (Number.isNaN(date.getTime())) {
    throw problems.validation([{ pointer: `/${name}`, message: 'not a date-time' }]);
  }
  return date;
}

function headerOf(headers: Record<string, unknown>, name: string): string | null {
  const value = headers[name.toLowerCase()];
  return typeof value === 'string' ? value : null;
}

/**
 * The operator behind a request. The edge authenticates every operation whose contract declares
 * a scope; reaching an adjustment handler without a principal means the edge was bypassed or
 * misconfigured, and dual control must not run on an anonymous caller.
 */
function operatorOf(request: ApiRequest): Operator {
  const principal = request.principal;
  if (principal === undefined) {
    throw new ProblemError(
      401,
      'unauthenticated',
      'Authentication required',
      'Adjustments need a credential: send Authorization Bearer with an API key or a token.',
    );
  }
  return { subject: principal.subject, keyId: principal.keyId ?? null };
}

const APPROVAL_REFUSALS = {
  SELF_APPROVAL: { status: 403, slug: 'self-approval', title: 'Self-approval refused' },
  APPROVAL_NOT_REQUIRED: {
    status: 409,
    slug: 'approval-not-required',
    title: 'Adjustment needs no approval',
  },
  DECIDED_OTHERWISE: {
    status: 409,
    slug: 'adjustment-decided-otherwise',
    title: 'Adjustment already decided',
  },
} as const;

/**
 * An account a read may show: a key bound to accounts sees only its own; any other answers 404
 * like a missing one, so that other customers' accounts do not even exist for it.
 */
async function requireVisibleAccount(
  pool: Pool,
  request: Parameters<OperationHandler>[0],
): Promise<AccountView> {
  const accountId = request.params['accountId'] ?? '';
  const account = mayActOnAccount(request.principal, accountId)
    ? await findAccount(pool, accountId)
    : null;
  if (account === null) throw problems.notFound(`Account ${accountId}`);
  return account;
}

/** The command is accepted but not decided yet: where to look for its decision. */
function pending(status: CommandStatus) {
  return {
    status: 202,
    body: status,
    headers: { Location: `/v1/commands/${status.commandId}` },
  };
}

/** The daily cap refusal, with what remains and when the cap resets. */
function capExceeded(
  refusal: Extract<AdjustmentOutcome, { kind: 'CAP_EXCEEDED' }>,
  currency: string,
): ProblemError {
  const resetsAt = refusal.resetsAt.toISOString();
  return new ProblemError(
    422,
    'adjustment-cap-exceeded',
    'Daily adjustment cap exceeded',
    `This key may request ${refusal.capMinor} ${currency} minor units of adjustments ` +
      `per UTC day; it requested ${refusal.requestedTodayMinor} today, so at most ` +
      `${refusal.remainingMinor} more until ${resetsAt}.`,
    {
      capMinor: refusal.capMinor,
      remainingMinor: Number(refusal.remainingMinor),
      resetsAt,
      ...(refusal.requestedTodayMinor <= BigInt(Number.MAX_SAFE_INTEGER)
        ? { requestedTodayMinor: Number(refusal.requestedTodayMinor) }
        : {}),
    },
  );
}

/** What every handler works with: the pool and the use cases' dependencies. */
interface HandlerContext {
  readonly pool: Pool;
  readonly intake: IntakeDependencies;
}

async function decide(
  ctx: HandlerContext,
  request: ApiRequest,
  action: ApprovalAction,
  note: string | null,
) {
  const { intake } = ctx;
  const operator = operatorOf(request);
  const adjustmentId = request.params['adjustmentId'] ?? '';
  const outcome = await decideOnAdjustment(intake, { adjustmentId, operator, action, note });
  if (outcome.kind === 'not-found') throw problems.notFound(`Adjustment ${adjustmentId}`);
  const { state } = outcome;
  if (outcome.kind === 'refused') {
    const refusal = APPROVAL_REFUSALS[outcome.reason];
    const detail =
      outcome.reason === 'SELF_APPROVAL'
        ? `Adjustment ${adjustmentId} was requested by ${state.requestedBy.subject}; a different operator must approve it.`
        : outcome.reason === 'APPROVAL_NOT_REQUIRED'
          ? `Adjustment ${adjustmentId} was at or below the approval threshold and went to the ledger when requested.`
          : `Adjustment ${adjustmentId} was ${state.decision?.outcome ?? 'decided'} by ${state.decision?.by.subject ?? 'another operator'}.`;
    request.log.warn(
      { adjustmentId, operator: operator.subject, reason: outcome.reason },
      'adjustment decision refused',
    );
    throw new ProblemError(refusal.status, refusal.slug, refusal.title, detail);
  }
  if (outcome.outcome !== null) {
    request.log.info(
      {
        adjustmentId,
        outcome: outcome.outcome,
        requestedBy: state.requestedBy.subject,
        decidedBy: operator.subject,
      },
      'adjustment decided',
    );
  }
  return outcome.adjustment;
}

async function handleOpenAccount(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { intake } = ctx;
  const body = request.body as Schemas['OpenAccountRequest'];
  if (!isCurrencyCode(body.currency)) {
    throw new ProblemError(422, 'unknown-currency', 'Unknown currency', body.currency);
  }
  const accountId = body.accountId?.toLowerCase() ?? randomUUID();
  if (isSystemAccountId(accountId)) {
    throw new ProblemError(422, 'system-account', 'Reserved', 'id of a system account');
  }
  const opened = await openAccount(
    intake,
    {
      accountId,
      ownerRef: body.ownerRef,
      type: body.type,
      currency: body.currency,
      balanceFloorMinor: body.balanceFloorMinor ?? 0,
    },
    body,
  );
  switch (opened.kind) {
    case 'opened':
      return opened.created
        ? {
            status: 201,
            body: opened.account,
            headers: { Location: `/v1/accounts/${accountId}` },
          }
        : { status: 200, body: opened.account };
    case 'rejected':
      throw new ProblemError(
        409,
        'account-conflict',
        'Account conflict',
        opened.status.detail ?? undefined,
      );
    default:
      return pending(opened.status);
  }
}

async function handleChangeAccountStatus(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { intake } = ctx;
  const accountId = request.params['accountId'] ?? '';
  const body = request.body as Schemas['ChangeAccountStatusRequest'];
  const changed = await changeAccountStatus(intake, accountId, body);
  if (changed === undefined) throw problems.notFound(`Account ${accountId}`);
  switch (changed.kind) {
    case 'changed':
      return { status: 200, body: changed.account };
    case 'rejected':
      // The contract's RejectionReason travels as an extension member, so a client can act
      // on BALANCE_NOT_ZERO (pay out first) without parsing the detail text.
      throw new ProblemError(
        409,
        'invalid-status-transition',
        'Invalid status transition',
        changed.status.detail ?? undefined,
        {
          rejectionReason: changed.status.rejectionReason,
          commandId: changed.status.commandId,
        },
      );
    default:
      return pending(changed.status);
  }
}

async function handleCreateAdjustment(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { intake } = ctx;
  const accountId = request.params['accountId'] ?? '';
  const body = request.body as Schemas['CreateAdjustmentRequest'];
  const operator = operatorOf(request);
  const outcome = await requestAdjustment(intake, {
    accountId,
    idempotencyKey: headerOf(request.headers, 'Idempotency-Key') ?? '',
    body,
    operator,
  });
  switch (outcome.kind) {
    case 'account-not-found':
      throw problems.notFound(`Account ${accountId}`);
    case 'system-account':
      throw new ProblemError(422, 'system-account', 'System account', 'adjust customers only');
    case 'currency-mismatch':
      throw new ProblemError(
        422,
        'currency-mismatch',
        'Currency mismatch',
        `account ${accountId} holds ${outcome.accountCurrency}`,
      );
    case 'key-in-use':
      throw problems.conflict(
        'idempotency-key-in-use',
        'A request with this Idempotency-Key is being processed; retry it.',
      );
    case 'key-reused':
      throw new ProblemError(
        422,
        'idempotency-key-reused',
        'Idempotency key reused',
        'this Idempotency-Key was used with a different body',
      );
    case 'CAP_EXCEEDED':
      request.log.warn(
        { accountId, operator: operator.subject, amountMinor: body.amountMinor },
        'adjustment refused: daily cap',
      );
      throw capExceeded(outcome, body.currency);
    case 'requested':
      break;
  }
  const { adjustment } = outcome;
  if (outcome.awaitingApproval) {
    request.log.info(
      {
        adjustmentId: adjustment.id,
        accountId,
        operator: operator.subject,
        amountMinor: body.amountMinor,
      },
      'adjustment awaits a second operator',
    );
  }
  return {
    status: adjustment.status === 'PENDING' ? 202 : 201,
    body: adjustment,
    // The contract's header says "true" or is absent: a first answer does not send it.
    headers: {
      Location: `/v1/adjustments/${adjustment.id}`,
      ...(outcome.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
    },
  };
}

async function handleListAdjustments(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { pool } = ctx;
  const limit = limitOf(request.query);
  const approval = request.query['approval'];
  const after = adjustmentsCursor.decode(request.query['cursor']);
  const items = await listAdjustments(
    pool,
    typeof approval === 'string' ? (approval as ApprovalStatus) : null,
    after,
    limit + 1,
  );
  return {
    status: 200,
    body: pageOf(items, limit, (last) =>
      adjustmentsCursor.encode({ requestedAt: last.createdAt, adjustmentId: last.id }),
    ),
  };
}

async function handleApproveAdjustment(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const adjustment = await decide(ctx, request, 'APPROVE', null);
  return adjustment.status === 'PENDING'
    ? {
        status: 202,
        body: adjustment,
        headers: { Location: `/v1/adjustments/${adjustment.id}` },
      }
    : { status: 200, body: adjustment };
}

async function handleDeclineAdjustment(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const body = request.body as Schemas['DeclineAdjustmentRequest'];
  return { status: 200, body: await decide(ctx, request, 'DECLINE', body.note) };
}

async function handleGetAccount(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { pool } = ctx;
  return {
    status: 200,
    body: await requireVisibleAccount(pool, request),
  };
}

async function handleGetAccountBalance(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { pool } = ctx;
  const account = await requireVisibleAccount(pool, request);
  const asOf = dateParam(request.query, 'asOf');
  const balanceMinor = await balanceOf(pool, account, asOf);
  const body: Schemas['Balance'] = {
    accountId: account.id,
    currency: account.currency,
    type: account.type,
    balanceMinor,
    asOf: (asOf ?? new Date()).toISOString(),
  };
  return { status: 200, body };
}

async function handleListAccountEntries(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { pool } = ctx;
  const account = await requireVisibleAccount(pool, request);
  const limit = limitOf(request.query);
  const after = entriesCursor.decode(request.query['cursor']);
  const items = await listEntries(
    pool,
    account.id,
    { from: dateParam(request.query, 'from'), to: dateParam(request.query, 'to') },
    after,
    limit + 1,
  );
  return {
    status: 200,
    body: pageOf(items, limit, (last) =>
      entriesCursor.encode({ postedAt: last.postedAt, entryId: last.entryId }),
    ),
  };
}

async function handleGetTransaction(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { pool } = ctx;
  const transactionId = request.params['transactionId'] ?? '';
  const transaction = await findTransaction(pool, transactionId);
  if (transaction === null) throw problems.notFound(`Transaction ${transactionId}`);
  return { status: 200, body: transaction };
}

async function handleListSystemAccounts(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { pool } = ctx;
  const limit = limitOf(request.query);
  const currency = request.query['currency'];
  const after = systemAccountsCursor.decode(request.query['cursor']);
  const items = await listSystemAccounts(
    pool,
    typeof currency === 'string' ? currency : null,
    after,
    limit + 1,
  );
  return {
    status: 200,
    body: pageOf(items, limit, (last) => systemAccountsCursor.encode(last.id)),
  };
}

async function handleGetCommand(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { pool } = ctx;
  const commandId = request.params['commandId'] ?? '';
  const found = await findCommand(pool, commandId);
  if (found === null) throw problems.notFound(`Command ${commandId}`);
  return { status: 200, body: found };
}

async function handleGetAdjustment(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { pool } = ctx;
  const adjustmentId = request.params['adjustmentId'] ?? '';
  const adjustment = await findAdjustment(pool, adjustmentId);
  if (adjustment === null) throw problems.notFound(`Adjustment ${adjustmentId}`);
  return { status: 200, body: adjustment };
}

export function createHandlers(deps: ApiDeps): Record<string, OperationHandler> {
  const intake: IntakeDependencies = {
    pool: deps.pool,
    messages: deps.messages,
    nudgeRelay: deps.nudgeRelay,
    adjustmentControl: deps.adjustmentControl,
  };
  const ctx: HandlerContext = { pool: deps.pool, intake };
  const handlers = {
    openAccount: handleOpenAccount,
    changeAccountStatus: handleChangeAccountStatus,
    createAdjustment: handleCreateAdjustment,
    listAdjustments: handleListAdjustments,
    approveAdjustment: handleApproveAdjustment,
    declineAdjustment: handleDeclineAdjustment,
    getAccount: handleGetAccount,
    getAccountBalance: handleGetAccountBalance,
    listAccountEntries: handleListAccountEntries,
    getTransaction: handleGetTransaction,
    listSystemAccounts: handleListSystemAccounts,
    getCommand: handleGetCommand,
    getAdjustment: handleGetAdjustment,
  };
  return Object.fromEntries(
    Object.entries(handlers).map(([operation, handle]) => [
      operation,
      (request: ApiRequest) => handle(ctx, request),
    ]),
  );
}
