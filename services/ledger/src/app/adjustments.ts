// Adjustments, the only way money enters or leaves, under dual control: a daily cap per key, and
// above a threshold a second operator's approval before their command is written at all. The
// rules are domain/adjustment-control.ts; here they run under the locks that make them hold.
import { createHash, randomUUID } from 'node:crypto';
import { withTransaction } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { LEDGER_SCHEMA } from '../database.js';
import {
  decideAdjustmentIntake,
  decideApproval,
  utcDayStart,
  type AdjustmentRequestRow,
  type ApprovalAction,
  type ApprovalDecision,
  type ApprovalState,
  type IntakeDecision,
  type Operator,
} from '../domain/adjustment-control.js';
import { adjustmentRequestChanged } from '../domain/adjustment-events.js';
import { LEDGERLINE_NAMESPACE, uuidv5 } from '../domain/ids.js';
import {
  capHolderOf,
  findRequestByKey,
  insertAdjustmentRequest,
  insertDecision,
  lockApprovalState,
  lockCapHolder,
  requestedSinceMinor,
} from '../store/adjustment-requests.js';
import { insertApiCommand } from '../store/api-commands.js';
import { awaitAdjustment, type IntakeDependencies } from './intake.js';
import { findAccount, findAdjustment, type AdjustmentView } from './queries.js';

type Schemas = components['schemas'];
type AdjustmentBody = Schemas['CreateAdjustmentRequest'];

// PostgreSQL's unique_violation.
const UNIQUE_VIOLATION = '23505';

export type AdjustmentOutcome =
  | { readonly kind: 'account-not-found' }
  | { readonly kind: 'system-account' }
  | { readonly kind: 'currency-mismatch'; readonly accountCurrency: string }
  /** Another request stored this account and key meanwhile: retry, and it replays. */
  | { readonly kind: 'key-in-use' }
  | { readonly kind: 'key-reused' }
  | (Extract<IntakeDecision, { kind: 'CAP_EXCEEDED' }> & { readonly resetsAt: Date })
  | {
      readonly kind: 'requested';
      readonly adjustment: AdjustmentView;
      readonly replayed: boolean;
      readonly awaitingApproval: boolean;
    };

/** The request fields of an adjustment, as hashed for idempotency and kept with its command. */
function adjustmentRequestBody(row: AdjustmentRequestRow): AdjustmentBody {
  return {
    direction: row.direction,
    amountMinor: row.amountMinor,
    currency: row.currency,
    reference: row.reference,
    reason: row.reason,
  };
}

function adjustmentCommand(row: AdjustmentRequestRow, commandId: string, at: Date) {
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
  } satisfies LedgerCommandInput;
}

function fingerprintOf(body: AdjustmentBody): string {
  return createHash('sha256')
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
}

export async function requestAdjustment(
  deps: IntakeDependencies,
  request: {
    readonly accountId: string;
    readonly idempotencyKey: string;
    readonly body: AdjustmentBody;
    readonly operator: Operator;
  },
): Promise<AdjustmentOutcome> {
  const { accountId, idempotencyKey, body, operator } = request;
  const account = await findAccount(deps.pool, accountId);
  if (account === null) return { kind: 'account-not-found' };
  if (account.isSystem) return { kind: 'system-account' };
  if (body.currency !== account.currency) {
    return { kind: 'currency-mismatch', accountCurrency: account.currency };
  }
  const requestedAt = new Date();
  const row: AdjustmentRequestRow = {
    adjustmentId: uuidv5(`adjustment-request:${accountId}:${idempotencyKey}`, LEDGERLINE_NAMESPACE),
    accountId,
    idempotencyKey,
    requestFingerprint: fingerprintOf(body),
    direction: body.direction,
    amountMinor: body.amountMinor,
    currency: body.currency,
    reference: body.reference,
    reason: body.reason,
    requestedBy: operator,
    capHolder: capHolderOf(operator),
    approvalRequired: false,
    requestedAt,
  };
  const intake = await storeRequest(deps, row, randomUUID());
  if (intake === 'key-in-use') return { kind: 'key-in-use' };
  if (intake.kind === 'REPLAY' && intake.requestFingerprint !== row.requestFingerprint) {
    return { kind: 'key-reused' };
  }
  if (intake.kind === 'CAP_EXCEEDED') {
    return { ...intake, resetsAt: new Date(utcDayStart(requestedAt).getTime() + 86_400_000) };
  }
  if (intake.kind !== 'REPLAY') deps.nudgeRelay();
  return {
    kind: 'requested',
    adjustment: await awaitAdjustment(deps.pool, row.adjustmentId),
    replayed: intake.kind === 'REPLAY',
    awaitingApproval: intake.kind === 'AWAIT_APPROVAL',
  };
}

/** The key was used before: its request's id and fingerprint. */
interface StoredReplay {
  readonly kind: 'REPLAY';
  readonly adjustmentId: string;
  readonly requestFingerprint: string;
}

/**
 * One transaction under the cap holder's lock: the sum the cap is checked against cannot
 * change until this request is stored (or refused, storing nothing).
 */
async function storeRequest(
  deps: IntakeDependencies,
  row: AdjustmentRequestRow,
  commandId: string,
): Promise<IntakeDecision | StoredReplay | 'key-in-use'> {
  // Encoded before the transaction (a registry round trip at most), used if it posts at once.
  const command = adjustmentCommand(row, commandId, row.requestedAt);
  const encodedCommand = await deps.messages.encodeCommand(command);
  try {
    return await withTransaction(deps.pool, async (client) => {
      await lockCapHolder(client, row.capHolder);
      const existing = await findRequestByKey(client, row.accountId, row.idempotencyKey);
      if (existing !== null) return { kind: 'REPLAY', ...existing } as const;
      const since = utcDayStart(row.requestedAt);
      const today = await requestedSinceMinor(client, row.capHolder, row.currency, since);
      const decision = decideAdjustmentIntake(row, today, deps.adjustmentControl);
      if (decision.kind === 'CAP_EXCEEDED') return decision;
      const stored = { ...row, approvalRequired: decision.kind === 'AWAIT_APPROVAL' };
      await insertAdjustmentRequest(client, stored);
      const stage = stored.approvalRequired ? 'AWAITING_APPROVAL' : 'SUBMITTED';
      const messages: EncodedMessage[] = [
        await deps.messages.encodeAdjustmentChange(
          adjustmentRequestChanged(stored, stage, row.requestedAt, null),
        ),
      ];
      if (!stored.approvalRequired) {
        messages.push(encodedCommand);
        await insertApiCommand(client, command, 'ADJUSTMENT', adjustmentRequestBody(stored), {
          id: row.adjustmentId,
          idempotencyKey: row.idempotencyKey,
          fingerprint: row.requestFingerprint,
        });
      }
      await appendToOutbox(client, LEDGER_SCHEMA, messages);
      return decision;
    });
  } catch (error) {
    // The cap lock is per key, the key's uniqueness per account: another key got there first.
    if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) return 'key-in-use';
    throw error;
  }
}

export type ApprovalOutcome =
  | { readonly kind: 'not-found' }
  | {
      readonly kind: 'refused';
      readonly reason: Extract<ApprovalDecision, { kind: 'REFUSED' }>['reason'];
      readonly state: ApprovalState;
    }
  | {
      readonly kind: 'decided';
      /** What this call decided; null when the same decision had been taken already. */
      readonly outcome: 'APPROVED' | 'DECLINED' | null;
      readonly state: ApprovalState;
      readonly adjustment: AdjustmentView;
    };

/**
 * Approve or decline under a per-adjustment lock: the first decision is the only one, and an
 * approval writes the command in the same transaction, so the adjustment is sent to the ledger
 * once however many approvers race.
 */
export async function decideOnAdjustment(
  deps: IntakeDependencies,
  request: {
    readonly adjustmentId: string;
    readonly operator: Operator;
    readonly action: ApprovalAction;
    readonly note: string | null;
  },
): Promise<ApprovalOutcome> {
  const { adjustmentId, operator, action, note } = request;
  const at = new Date();
  const decided = await withTransaction(deps.pool, async (client) => {
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
      await deps.messages.encodeAdjustmentChange(
        adjustmentRequestChanged(row, decision.outcome, at, { by: operator, note }),
      ),
    ];
    if (decision.outcome === 'APPROVED') {
      const command = adjustmentCommand(row, randomUUID(), at);
      messages.push(await deps.messages.encodeCommand(command));
      await insertApiCommand(client, command, 'ADJUSTMENT', adjustmentRequestBody(row), {
        id: adjustmentId,
        idempotencyKey: row.idempotencyKey,
        fingerprint: row.requestFingerprint,
      });
    }
    await appendToOutbox(client, LEDGER_SCHEMA, messages);
    return { decision, state };
  });
  if (decided === null) return { kind: 'not-found' };
  const { decision, state } = decided;
  if (decision.kind === 'REFUSED') return { kind: 'refused', reason: decision.reason, state };
  if (decision.kind === 'DECIDE') deps.nudgeRelay();
  const adjustment =
    action === 'APPROVE'
      ? await awaitAdjustment(deps.pool, adjustmentId)
      : await findAdjustment(deps.pool, adjustmentId);
  if (adjustment === null) throw new Error(`adjustment ${adjustmentId} vanished`);
  return {
    kind: 'decided',
    outcome: decision.kind === 'DECIDE' ? decision.outcome : null,
    state,
    adjustment,
  };
}
