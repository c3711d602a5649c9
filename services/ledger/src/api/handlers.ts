// HTTP API (contracts/openapi/ledger.yaml). Writes never touch the ledger tables: they put a
// LedgerCommand into the ledger's own outbox, keyed by the account, so that they are decided in
// that account's partition order like every payment step; then the handler waits a bounded time
// for the consumer's answer (201/200), or answers 202 with where to look. Adjustments pass dual
// control first (domain/adjustment-control.ts): a daily cap per key, and a second operator's
// approval above a threshold before their command is written at all.
import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from '@ledgerline/platform/db';
import { withTransaction } from '@ledgerline/platform/db';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import {
  ProblemError,
  problems,
  type ApiRequest,
  type OperationHandler,
} from '@ledgerline/platform/http/app';
import { mayActOnAccount } from '@ledgerline/platform/http/auth';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { Queryable } from '@ledgerline/platform/db';
import {
  ledgerAdjustmentRequestsProducer,
  ledgerCommandsProducer,
} from '@ledgerline/generated/topics';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { isSystemAccountId } from '../domain/accounts.js';
import { adjustmentsCursor, entriesCursor, systemAccountsCursor } from './cursor.js';
import {
  decideAdjustmentIntake,
  decideApproval,
  utcDayStart,
  type AdjustmentControlPolicy,
  type ApprovalAction,
  type Operator,
} from '../domain/adjustment-control.js';
import { isCurrencyCode } from '../domain/currencies.js';
import { LEDGERLINE_NAMESPACE, uuidv5 } from '../domain/ids.js';
import { adjustmentRequestChanged } from '../events/adjustment-requests.js';
import { LEDGER_SCHEMA } from '../database.js';
import {
  capHolderOf,
  findAdjustment,
  findRequestByKey,
  insertAdjustmentRequest,
  insertDecision,
  listAdjustments,
  lockApprovalState,
  lockCapHolder,
  requestedSinceMinor,
  type AdjustmentRequestRow,
  type ApprovalStatus,
  type AdjustmentView,
} from '../store/adjustment-requests.js';
import {
  balanceOf,
  findAccount,
  findCommand,
  findTransaction,
  listEntries,
  listSystemAccounts,
  type AccountView,
} from '../store/queries.js';

type Schemas = components['schemas'];

/** How long a write waits for the consumer before answering 202 (bounded, polled). */
export const APPLY_WAIT_MS_MAX = 5_000;
const APPLY_POLL_MS = 25;
const PAGE_LIMIT_DEFAULT = 50;

export interface ApiDeps {
  pool: Pool;
  serde: EventSerde;
  topicPrefix: string;
  /** Wakes the outbox relay after a commit. */
  nudgeRelay: () => void;
  /** Approval threshold and per-key daily caps of adjustments. */
  adjustmentControl: AdjustmentControlPolicy;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** The request fields of an adjustment, as hashed for idempotency and kept with its command. */
function adjustmentRequestBody(row: AdjustmentRequestRow): Schemas['CreateAdjustmentRequest'] {
  return {
    direction: row.direction,
    amountMinor: row.amountMinor,
    currency: row.currency,
    reference: row.reference,
    reason: row.reason,
  };
}

function adjustmentCommand(row: AdjustmentRequestRow, at: Date): LedgerCommandInput {
  const commandId = randomUUID();
  return {
    commandId,
    correlationId: commandId,
    causationId: null,
    occurredAt: at,
    accountId: row.accountId,
    command: {
      'ledgerline.ledger.v1.AdjustmentRequested': {
        adjustmentId: row.adjustmentId,
        accountId: row.accountId,
        direction: row.direction,
        amountMinor: row.amountMinor,
        currency: row.currency,
        reference: row.reference,
        reason: row.reason,
      },
    },
  };
}

/** Waiting for a second operator: nothing will change until one decides, so do not poll. */
function awaitsApproval(adjustment: AdjustmentView): boolean {
  return adjustment.approval?.status === 'AWAITING_APPROVAL';
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

async function requireAccount(pool: Pool, accountId: string): Promise<AccountView> {
  const account = await findAccount(pool, accountId);
  if (account === null) throw problems.notFound(`Account ${accountId}`);
  return account;
}

/**
 * An account a read may show: a key bound to accounts sees only its own; any other answers 404
 * like a missing one, so that other customers' accounts do not even exist for it.
 */
async function requireVisibleAccount(
  pool: Pool,
  request: Parameters<OperationHandler>[0],
): Promise<AccountView> {
  const accountId = request.params['accountId'] ?? '';
  if (!mayActOnAccount(request.principal, accountId))
    throw problems.notFound(`Account ${accountId}`);
  return requireAccount(pool, accountId);
}

export function createHandlers(deps: ApiDeps): Record<string, OperationHandler> {
  const { pool, serde, topicPrefix } = deps;
  const commands = ledgerCommandsProducer(serde, { topicPrefix });
  const adjustmentEvents = ledgerAdjustmentRequestsProducer(serde, { topicPrefix });

  /** Records an accepted command (GET /v1/commands/{id}); its LedgerCommand goes to the outbox. */
  async function insertCommand(
    client: Queryable,
    command: LedgerCommandInput,
    type: Schemas['CommandStatus']['type'],
    request: unknown,
    adjustment: { id: string; idempotencyKey: string; fingerprint: string } | null,
  ): Promise<void> {
    await client.query(
      `INSERT INTO ledger.api_commands (command_id, type, account_id, idempotency_key,
           request_fingerprint, adjustment_id, request, accepted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        command.commandId,
        type,
        command.accountId,
        adjustment?.idempotencyKey ?? null,
        adjustment?.fingerprint ?? null,
        adjustment?.id ?? null,
        JSON.stringify(request),
        command.occurredAt,
      ],
    );
  }

  /** Stores the accepted command and its LedgerCommand in the outbox, in one transaction. */
  async function submit(
    command: LedgerCommandInput,
    type: Schemas['CommandStatus']['type'],
    request: unknown,
  ): Promise<void> {
    const encoded = await commands.encode(command.accountId, command);
    await withTransaction(pool, async (client) => {
      await insertCommand(client, command, type, request, null);
      await appendToOutbox(client, LEDGER_SCHEMA, [encoded]);
    });
    deps.nudgeRelay();
  }

  /** Polls until the consumer decided the command, at most APPLY_WAIT_MS_MAX. */
  async function awaitDecision(commandId: string) {
    const deadline = Date.now() + APPLY_WAIT_MS_MAX;
    for (;;) {
      const found = await findCommand(pool, commandId);
      if (found !== null && found.status !== 'PENDING') return found;
      if (Date.now() >= deadline) return found;
      await sleep(APPLY_POLL_MS);
    }
  }

  /** Polls until the adjustment is no longer PENDING in the ledger, at most APPLY_WAIT_MS_MAX. */
  async function awaitAdjustment(adjustmentId: string): Promise<AdjustmentView> {
    const deadline = Date.now() + APPLY_WAIT_MS_MAX;
    for (;;) {
      const found = await findAdjustment(pool, adjustmentId);
      if (found === null) throw new Error(`adjustment ${adjustmentId} vanished`);
      if (found.status !== 'PENDING' || awaitsApproval(found) || Date.now() >= deadline) {
        return found;
      }
      await sleep(APPLY_POLL_MS);
    }
  }

  /**
   * Approve or decline under a per-adjustment lock (store/adjustment-requests.ts): the first
   * decision is the only one, and an approval writes the command in the same transaction, so
   * the adjustment is sent to the ledger once however many approvers race.
   */
  async function decideOnAdjustment(
    request: ApiRequest,
    action: ApprovalAction,
    note: string | null,
  ): Promise<AdjustmentView> {
    const operator = operatorOf(request);
    const adjustmentId = request.params['adjustmentId'] ?? '';
    const at = new Date();
    const decided = await withTransaction(pool, async (client) => {
      const state = await lockApprovalState(client, adjustmentId);
      if (state === null) return null;
      const decision = decideApproval(state, operator, action);
      if (decision.kind !== 'DECIDE') return { decision, state };
      await insertDecision(client, {
        adjustmentId,
        outcome: decision.outcome,
        by: operator,
        note,
        at,
      });
      const row = state.request;
      const messages = [
        await adjustmentEvents.encode(
          row.accountId,
          adjustmentRequestChanged(row, decision.outcome, at, { by: operator, note }),
        ),
      ];
      if (decision.outcome === 'APPROVED') {
        const command = adjustmentCommand(row, at);
        messages.push(await commands.encode(row.accountId, command));
        await insertCommand(client, command, 'ADJUSTMENT', adjustmentRequestBody(row), {
          id: adjustmentId,
          idempotencyKey: row.idempotencyKey,
          fingerprint: row.requestFingerprint,
        });
      }
      await appendToOutbox(client, LEDGER_SCHEMA, messages);
      return { decision, state };
    });
    if (decided === null) throw problems.notFound(`Adjustment ${adjustmentId}`);
    const { decision, state } = decided;
    if (decision.kind === 'REFUSED') {
      const refusal = APPROVAL_REFUSALS[decision.reason];
      const detail =
        decision.reason === 'SELF_APPROVAL'
          ? `Adjustment ${adjustmentId} was requested by ${state.requestedBy.subject}; a different operator must approve it.`
          : decision.reason === 'APPROVAL_NOT_REQUIRED'
            ? `Adjustment ${adjustmentId} was at or below the approval threshold and went to the ledger when requested.`
            : `Adjustment ${adjustmentId} was ${state.decision?.outcome ?? 'decided'} by ${state.decision?.by.subject ?? 'another operator'}.`;
      request.log.warn(
        { adjustmentId, operator: operator.subject, reason: decision.reason },
        'adjustment decision refused',
      );
      throw new ProblemError(refusal.status, refusal.slug, refusal.title, detail);
    }
    if (decision.kind === 'DECIDE') {
      deps.nudgeRelay();
      request.log.info(
        {
          adjustmentId,
          outcome: decision.outcome,
          requestedBy: state.requestedBy.subject,
          decidedBy: operator.subject,
        },
        'adjustment decided',
      );
    }
    if (action === 'APPROVE') return awaitAdjustment(adjustmentId);
    const declined = await findAdjustment(pool, adjustmentId);
    if (declined === null) throw new Error(`adjustment ${adjustmentId} vanished`);
    return declined;
  }

  function pending(commandId: string, status: Schemas['CommandStatus'] | undefined) {
    if (status === undefined) throw new Error(`command ${commandId} vanished`);
    return {
      status: 202,
      body: status,
      headers: { Location: `/v1/commands/${commandId}` },
    };
  }

  return {
    openAccount: async (request) => {
      const body = request.body as Schemas['OpenAccountRequest'];
      if (!isCurrencyCode(body.currency)) {
        throw new ProblemError(422, 'unknown-currency', 'Unknown currency', body.currency);
      }
      const accountId = body.accountId?.toLowerCase() ?? randomUUID();
      if (isSystemAccountId(accountId)) {
        throw new ProblemError(422, 'system-account', 'Reserved', 'id of a system account');
      }
      const commandId = randomUUID();
      const now = new Date();
      await submit(
        {
          commandId,
          correlationId: commandId,
          causationId: null,
          occurredAt: now,
          accountId,
          command: {
            'ledgerline.ledger.v1.OpenAccountRequested': {
              accountId,
              ownerRef: body.ownerRef,
              type: body.type,
              currency: body.currency,
              balanceFloorMinor: body.balanceFloorMinor ?? 0,
              systemKind: null,
            },
          },
        },
        'OPEN_ACCOUNT',
        body,
      );
      const decided = await awaitDecision(commandId);
      if (decided?.status === 'APPLIED') {
        const account = await requireAccount(pool, accountId);
        const created = decided.detail === null;
        return created
          ? { status: 201, body: account, headers: { Location: `/v1/accounts/${accountId}` } }
          : { status: 200, body: account };
      }
      if (decided?.status === 'REJECTED') {
        throw new ProblemError(
          409,
          'account-conflict',
          'Account conflict',
          decided.detail ?? undefined,
        );
      }
      return pending(commandId, decided ?? undefined);
    },

    changeAccountStatus: async (request) => {
      const accountId = request.params['accountId'] ?? '';
      const body = request.body as Schemas['ChangeAccountStatusRequest'];
      await requireAccount(pool, accountId);
      const commandId = randomUUID();
      const to = body.action === 'FREEZE' ? 'FROZEN' : body.action === 'CLOSE' ? 'CLOSED' : 'OPEN';
      await submit(
        {
          commandId,
          correlationId: commandId,
          causationId: null,
          occurredAt: new Date(),
          accountId,
          command: {
            'ledgerline.ledger.v1.AccountStatusChangeRequested': {
              accountId,
              to,
              reason: body.reason ?? null,
            },
          },
        },
        'CHANGE_ACCOUNT_STATUS',
        body,
      );
      const decided = await awaitDecision(commandId);
      if (decided?.status === 'APPLIED') {
        return { status: 200, body: await requireAccount(pool, accountId) };
      }
      if (decided?.status === 'REJECTED') {
        // The contract's RejectionReason travels as an extension member, so a client can act
        // on BALANCE_NOT_ZERO (pay out first) without parsing the detail text.
        throw new ProblemError(
          409,
          'invalid-status-transition',
          'Invalid status transition',
          decided.detail ?? undefined,
          { rejectionReason: decided.rejectionReason, commandId },
        );
      }
      return pending(commandId, decided ?? undefined);
    },

    createAdjustment: async (request) => {
      const accountId = request.params['accountId'] ?? '';
      const idempotencyKey = headerOf(request.headers, 'Idempotency-Key') ?? '';
      const body = request.body as Schemas['CreateAdjustmentRequest'];
      const account = await requireAccount(pool, accountId);
      if (account.isSystem) {
        throw new ProblemError(422, 'system-account', 'System account', 'adjust customers only');
      }
      if (body.currency !== account.currency) {
        throw new ProblemError(
          422,
          'currency-mismatch',
          'Currency mismatch',
          `account ${accountId} holds ${account.currency}`,
        );
      }
      const fingerprint = createHash('sha256')
        .update(
          JSON.stringify([
            body.direction,
            body.amountMinor,
            body.currency,
            body.reference,
            body.reason,
          ]),
        )
        .digest('hex');
      const adjustmentId = uuidv5(
        `adjustment-request:${accountId}:${idempotencyKey}`,
        LEDGERLINE_NAMESPACE,
      );
      const operator = operatorOf(request);
      const capHolder = capHolderOf(operator);
      const requestedAt = new Date();
      const row: AdjustmentRequestRow = {
        adjustmentId,
        accountId,
        idempotencyKey,
        requestFingerprint: fingerprint,
        direction: body.direction,
        amountMinor: body.amountMinor,
        currency: body.currency,
        reference: body.reference,
        reason: body.reason,
        requestedBy: operator,
        capHolder,
        approvalRequired: false,
        requestedAt,
      };
      // Encoded before the transaction (a registry round trip at most), used if it posts at once.
      const command = adjustmentCommand(row, requestedAt);
      const encodedCommand = await commands.encode(accountId, command);
      // One transaction under the cap holder's lock: the sum the cap is checked against cannot
      // change until this request is stored (or refused, storing nothing).
      const intake = await withTransaction(pool, async (client) => {
        await lockCapHolder(client, capHolder);
        const existing = await findRequestByKey(client, accountId, idempotencyKey);
        if (existing !== null) return { kind: 'REPLAY', ...existing } as const;
        const since = utcDayStart(requestedAt);
        const today = await requestedSinceMinor(client, capHolder, body.currency, since);
        const decision = decideAdjustmentIntake(body, today, deps.adjustmentControl);
        if (decision.kind === 'CAP_EXCEEDED') return decision;
        const stored = { ...row, approvalRequired: decision.kind === 'AWAIT_APPROVAL' };
        await insertAdjustmentRequest(client, stored);
        const messages = [
          await adjustmentEvents.encode(
            accountId,
            adjustmentRequestChanged(
              stored,
              stored.approvalRequired ? 'AWAITING_APPROVAL' : 'SUBMITTED',
              requestedAt,
              null,
            ),
          ),
        ];
        if (!stored.approvalRequired) {
          messages.push(encodedCommand);
          await insertCommand(client, command, 'ADJUSTMENT', adjustmentRequestBody(stored), {
            id: adjustmentId,
            idempotencyKey,
            fingerprint,
          });
        }
        await appendToOutbox(client, LEDGER_SCHEMA, messages);
        return decision;
      }).catch((error: unknown) => {
        // Another key stored a request under this account and Idempotency-Key meanwhile (the
        // cap lock is per key, the key's uniqueness per account): the client retries and replays.
        if ((error as { code?: unknown }).code === '23505') {
          throw problems.conflict(
            'idempotency-key-in-use',
            'A request with this Idempotency-Key is being processed; retry it.',
          );
        }
        throw error;
      });
      if (intake.kind === 'REPLAY' && intake.requestFingerprint !== fingerprint) {
        throw new ProblemError(
          422,
          'idempotency-key-reused',
          'Idempotency key reused',
          'this Idempotency-Key was used with a different body',
        );
      }
      if (intake.kind === 'CAP_EXCEEDED') {
        const resetsAt = new Date(utcDayStart(requestedAt).getTime() + 86_400_000).toISOString();
        request.log.warn(
          { accountId, operator: operator.subject, amountMinor: body.amountMinor },
          'adjustment refused: daily cap',
        );
        throw new ProblemError(
          422,
          'adjustment-cap-exceeded',
          'Daily adjustment cap exceeded',
          `This key may request ${intake.capMinor} ${body.currency} minor units of adjustments ` +
            `per UTC day; it requested ${intake.requestedTodayMinor} today, so at most ` +
            `${intake.remainingMinor} more until ${resetsAt}.`,
          {
            capMinor: intake.capMinor,
            remainingMinor: Number(intake.remainingMinor),
            resetsAt,
            ...(intake.requestedTodayMinor <= BigInt(Number.MAX_SAFE_INTEGER)
              ? { requestedTodayMinor: Number(intake.requestedTodayMinor) }
              : {}),
          },
        );
      }
      if (intake.kind !== 'REPLAY') deps.nudgeRelay();
      if (intake.kind === 'AWAIT_APPROVAL') {
        request.log.info(
          { adjustmentId, accountId, operator: operator.subject, amountMinor: body.amountMinor },
          'adjustment awaits a second operator',
        );
      }
      const adjustment = await awaitAdjustment(adjustmentId);
      return {
        status: adjustment.status === 'PENDING' ? 202 : 201,
        body: adjustment,
        // The contract's header says "true" or is absent: a first answer does not send it.
        headers: {
          Location: `/v1/adjustments/${adjustmentId}`,
          ...(intake.kind === 'REPLAY' ? { 'Idempotent-Replayed': 'true' } : {}),
        },
      };
    },

    listAdjustments: async (request) => {
      const limit = limitOf(request.query);
      const approval = request.query['approval'];
      const after = adjustmentsCursor.decode(request.query['cursor']);
      const items = await listAdjustments(
        pool,
        typeof approval === 'string' ? (approval as ApprovalStatus) : null,
        after,
        limit + 1,
      );
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor =
        items.length > limit && last !== undefined
          ? adjustmentsCursor.encode({ requestedAt: last.createdAt, adjustmentId: last.id })
          : null;
      return { status: 200, body: { items: page, nextCursor } };
    },

    approveAdjustment: async (request) => {
      const adjustment = await decideOnAdjustment(request, 'APPROVE', null);
      return adjustment.status === 'PENDING'
        ? {
            status: 202,
            body: adjustment,
            headers: { Location: `/v1/adjustments/${adjustment.id}` },
          }
        : { status: 200, body: adjustment };
    },

    declineAdjustment: async (request) => {
      const body = request.body as Schemas['DeclineAdjustmentRequest'];
      return { status: 200, body: await decideOnAdjustment(request, 'DECLINE', body.note) };
    },

    getAccount: async (request) => ({
      status: 200,
      body: await requireVisibleAccount(pool, request),
    }),

    getAccountBalance: async (request) => {
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
    },

    listAccountEntries: async (request) => {
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
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor =
        items.length > limit && last !== undefined
          ? entriesCursor.encode({ postedAt: last.postedAt, entryId: last.entryId })
          : null;
      return { status: 200, body: { items: page, nextCursor } };
    },

    getTransaction: async (request) => {
      const transactionId = request.params['transactionId'] ?? '';
      const transaction = await findTransaction(pool, transactionId);
      if (transaction === null) throw problems.notFound(`Transaction ${transactionId}`);
      return { status: 200, body: transaction };
    },

    listSystemAccounts: async (request) => {
      const limit = limitOf(request.query);
      const currency = request.query['currency'];
      const after = systemAccountsCursor.decode(request.query['cursor']);
      const items = await listSystemAccounts(
        pool,
        typeof currency === 'string' ? currency : null,
        after,
        limit + 1,
      );
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor =
        items.length > limit && last !== undefined ? systemAccountsCursor.encode(last.id) : null;
      return { status: 200, body: { items: page, nextCursor } };
    },

    getCommand: async (request) => {
      const commandId = request.params['commandId'] ?? '';
      const found = await findCommand(pool, commandId);
      if (found === null) throw problems.notFound(`Command ${commandId}`);
      return { status: 200, body: found };
    },

    getAdjustment: async (request) => {
      const adjustmentId = request.params['adjustmentId'] ?? '';
      const adjustment = await findAdjustment(pool, adjustmentId);
      if (adjustment === null) throw problems.notFound(`Adjustment ${adjustmentId}`);
      return { status: 200, body: adjustment };
    },
  };
}
