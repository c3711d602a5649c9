// HTTP API (contracts/openapi/ledger.yaml). Writes never touch the ledger tables: they put a
// LedgerCommand into the ledger's own outbox, keyed by the account, so that they are decided in
// that account's partition order like every payment step; then the handler waits a bounded time
// for the consumer's answer (201/200), or answers 202 with where to look.
import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from '@ledgerline/platform/db';
import { withTransaction } from '@ledgerline/platform/db';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import { ProblemError, problems, type OperationHandler } from '@ledgerline/platform/http/app';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import { ledgerCommandsProducer } from '@ledgerline/generated/topics';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { isSystemAccountId } from '../domain/accounts.js';
import { isCurrencyCode } from '../domain/currencies.js';
import { LEDGERLINE_NAMESPACE, isUuid, uuidv5 } from '../domain/ids.js';
import { LEDGER_SCHEMA } from '../events/command-consumer.js';
import {
  balanceOf,
  findAccount,
  findAdjustment,
  findAdjustmentByKey,
  findCommand,
  findTransaction,
  listEntries,
  listSystemAccounts,
  type AccountView,
  type EntryCursor,
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
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function limitOf(query: Record<string, unknown>): number {
  const raw = query['limit'];
  return typeof raw === 'number' ? raw : raw === undefined ? PAGE_LIMIT_DEFAULT : Number(raw);
}

function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeCursor<T>(raw: unknown, check: (value: unknown) => value is T): T | null {
  if (raw === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8'));
    if (check(value)) return value;
  } catch {
    // fall through to the problem below
  }
  throw problems.validation([{ pointer: '/cursor', message: 'cursor is not valid' }]);
}

function isEntryCursor(value: unknown): value is EntryCursor {
  const v = value as Partial<EntryCursor> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.postedAt === 'string' &&
    !Number.isNaN(Date.parse(v.postedAt)) &&
    isUuid(v.entryId)
  );
}

function isIdCursor(value: unknown): value is { id: string } {
  return typeof value === 'object' && value !== null && isUuid((value as { id?: unknown }).id);
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

async function requireAccount(pool: Pool, accountId: string): Promise<AccountView> {
  const account = await findAccount(pool, accountId);
  if (account === null) throw problems.notFound(`Account ${accountId}`);
  return account;
}

export function createHandlers(deps: ApiDeps): Record<string, OperationHandler> {
  const { pool, serde, topicPrefix } = deps;
  const commands = ledgerCommandsProducer(serde, { topicPrefix });

  /** Stores the accepted command and its LedgerCommand in the outbox, in one transaction. */
  async function submit(
    command: LedgerCommandInput,
    type: Schemas['CommandStatus']['type'],
    request: unknown,
    adjustment: { id: string; idempotencyKey: string; fingerprint: string } | null,
  ): Promise<void> {
    const encoded = await commands.encode(command.accountId, command);
    await withTransaction(pool, async (client) => {
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
      await appendToOutbox(client, LEDGER_SCHEMA, [encoded]);
    });
    deps.nudgeRelay();
  }

  /** Polls until the consumer decided the command, at most APPLY_WAIT_MS_MAX. */
  async function awaitDecision(commandId: string) {
    const deadline = Date.now() + APPLY_WAIT_MS_MAX;
    for (;;) {
      const found = await findCommand(pool, commandId);
      if (found !== null && found.command.status !== 'PENDING') return found;
      if (Date.now() >= deadline) return found;
      await sleep(APPLY_POLL_MS);
    }
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
        null,
      );
      const decided = await awaitDecision(commandId);
      if (decided?.command.status === 'APPLIED') {
        const account = await requireAccount(pool, accountId);
        const created = decided.command.detail === null;
        return created
          ? { status: 201, body: account, headers: { Location: `/v1/accounts/${accountId}` } }
          : { status: 200, body: account };
      }
      if (decided?.command.status === 'REJECTED') {
        throw new ProblemError(
          409,
          'account-conflict',
          'Account conflict',
          decided.command.detail ?? undefined,
        );
      }
      return pending(commandId, decided?.command);
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
        null,
      );
      const decided = await awaitDecision(commandId);
      if (decided?.command.status === 'APPLIED') {
        return { status: 200, body: await requireAccount(pool, accountId) };
      }
      if (decided?.command.status === 'REJECTED') {
        // The contract's RejectionReason travels as an extension member, so a client can act
        // on BALANCE_NOT_ZERO (pay out first) without parsing the detail text.
        throw new ProblemError(
          409,
          'invalid-status-transition',
          'Invalid status transition',
          decided.command.detail ?? undefined,
          { rejectionReason: decided.command.rejectionReason, commandId },
        );
      }
      return pending(commandId, decided?.command);
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
      let commandId: string;
      let replayed = false;
      const existing = await findAdjustmentByKey(pool, accountId, idempotencyKey);
      if (existing !== null) {
        if (existing.requestFingerprint !== fingerprint) {
          throw new ProblemError(
            422,
            'idempotency-key-reused',
            'Idempotency key reused',
            'this Idempotency-Key was used with a different body',
          );
        }
        commandId = existing.commandId;
        replayed = true;
      } else {
        commandId = randomUUID();
        await submit(
          {
            commandId,
            correlationId: commandId,
            causationId: null,
            occurredAt: new Date(),
            accountId,
            command: {
              'ledgerline.ledger.v1.AdjustmentRequested': {
                adjustmentId,
                accountId,
                direction: body.direction,
                amountMinor: body.amountMinor,
                currency: body.currency,
                reference: body.reference,
                reason: body.reason,
              },
            },
          },
          'ADJUSTMENT',
          body,
          { id: adjustmentId, idempotencyKey, fingerprint },
        );
      }
      const decided = await awaitDecision(commandId);
      const adjustment = decided?.adjustment ?? (await findAdjustment(pool, adjustmentId));
      if (adjustment === null) throw new Error(`adjustment ${adjustmentId} vanished`);
      return {
        status: adjustment.status === 'PENDING' ? 202 : 201,
        body: adjustment,
        headers: {
          Location: `/v1/adjustments/${adjustmentId}`,
          'Idempotent-Replayed': String(replayed),
        },
      };
    },

    getAccount: async (request) => ({
      status: 200,
      body: await requireAccount(pool, request.params['accountId'] ?? ''),
    }),

    getAccountBalance: async (request) => {
      const account = await requireAccount(pool, request.params['accountId'] ?? '');
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
      const account = await requireAccount(pool, request.params['accountId'] ?? '');
      const limit = limitOf(request.query);
      const after = decodeCursor(request.query['cursor'], isEntryCursor);
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
          ? encodeCursor({ postedAt: last.postedAt, entryId: last.entryId })
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
      const after = decodeCursor(request.query['cursor'], isIdCursor);
      const items = await listSystemAccounts(
        pool,
        typeof currency === 'string' ? currency : null,
        after?.id ?? null,
        limit + 1,
      );
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor =
        items.length > limit && last !== undefined ? encodeCursor({ id: last.id }) : null;
      return { status: 200, body: { items: page, nextCursor } };
    },

    getCommand: async (request) => {
      const commandId = request.params['commandId'] ?? '';
      const found = await findCommand(pool, commandId);
      if (found === null) throw problems.notFound(`Command ${commandId}`);
      return { status: 200, body: found.command };
    },

    getAdjustment: async (request) => {
      const adjustmentId = request.params['adjustmentId'] ?? '';
      const adjustment = await findAdjustment(pool, adjustmentId);
      if (adjustment === null) throw problems.notFound(`Adjustment ${adjustmentId}`);
      return { status: 200, body: adjustment };
    },
  };
}
