// Commands from the API: a write never touches the ledger tables. It records the accepted
// command and puts its LedgerCommand into the ledger's own outbox, keyed by the account, so that
// it is decided in that account's partition order like every payment step; then the use case
// waits a bounded time for the consumer's decision, or answers that it is still pending.
import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type {
  AdjustmentRequestChangedInput,
  LedgerCommandInput,
} from '@ledgerline/generated/avro/types';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { LEDGER_SCHEMA } from '../database.js';
import type { AdjustmentControlPolicy } from '../domain/adjustment-control.js';
import { insertApiCommand, type ApiCommandType } from '../store/api-commands.js';
import { findAccount, findAdjustment, findCommand, type AccountView } from './queries.js';

type Schemas = components['schemas'];
export type CommandStatus = Schemas['CommandStatus'];
type AdjustmentView = Schemas['Adjustment'];

/** How long a write waits for the consumer before answering pending (bounded, polled). */
export const APPLY_WAIT_MS_MAX = 5_000;
const APPLY_POLL_MS = 25;

/**
 * The API's outbox messages, encoded by the generated producers (events/api-messages.ts
 * implements this port; app/ does not depend on Kafka adapters).
 */
export interface LedgerApiMessages {
  encodeCommand(command: LedgerCommandInput): Promise<EncodedMessage>;
  encodeAdjustmentChange(value: AdjustmentRequestChangedInput): Promise<EncodedMessage>;
}

export interface IntakeDependencies {
  readonly pool: Pool;
  readonly messages: LedgerApiMessages;
  /** Wakes the outbox relay after a commit. */
  readonly nudgeRelay: () => void;
  /** Approval threshold and per-key daily caps of adjustments. */
  readonly adjustmentControl: AdjustmentControlPolicy;
}

/** A decided command, or the status to poll while the consumer has not decided it yet. */
export type Decision =
  | { readonly kind: 'applied'; readonly status: CommandStatus }
  | { readonly kind: 'rejected'; readonly status: CommandStatus }
  | { readonly kind: 'pending'; readonly status: CommandStatus };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Stores the accepted command and its LedgerCommand in the outbox, in one transaction. */
async function submitCommand(
  deps: IntakeDependencies,
  command: LedgerCommandInput,
  type: ApiCommandType,
  request: unknown,
): Promise<void> {
  const encoded = await deps.messages.encodeCommand(command);
  await withTransaction(deps.pool, async (client) => {
    await insertApiCommand(client, command, type, request, null);
    await appendToOutbox(client, LEDGER_SCHEMA, [encoded]);
  });
  deps.nudgeRelay();
}

/** Polls until the consumer decided the command, at most APPLY_WAIT_MS_MAX. */
async function awaitDecision(pool: Pool, commandId: string): Promise<Decision> {
  const deadline = Date.now() + APPLY_WAIT_MS_MAX;
  for (;;) {
    const found = await findCommand(pool, commandId);
    if (found === null) throw new Error(`command ${commandId} vanished`);
    if (found.status === 'APPLIED') return { kind: 'applied', status: found };
    if (found.status === 'REJECTED') return { kind: 'rejected', status: found };
    if (Date.now() >= deadline) return { kind: 'pending', status: found };
    await sleep(APPLY_POLL_MS);
  }
}

/** Waiting for a second operator: nothing will change until one decides, so do not poll. */
function awaitsApproval(adjustment: AdjustmentView): boolean {
  return adjustment.approval?.status === 'AWAITING_APPROVAL';
}

/** Polls until the adjustment is no longer PENDING in the ledger, at most APPLY_WAIT_MS_MAX. */
export async function awaitAdjustment(pool: Pool, adjustmentId: string): Promise<AdjustmentView> {
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

function commandEnvelope(accountId: string, at: Date) {
  const commandId = randomUUID();
  return { commandId, correlationId: commandId, causationId: null, occurredAt: at, accountId };
}

export interface OpenAccountRequest {
  readonly accountId: string;
  readonly ownerRef: string;
  readonly type: Schemas['OpenAccountRequest']['type'];
  readonly currency: string;
  readonly balanceFloorMinor: number;
}

/** Opens an account; `created` is false when the same account existed already (idempotent). */
export async function openAccount(
  deps: IntakeDependencies,
  body: OpenAccountRequest,
  request: unknown,
): Promise<Decision | { readonly kind: 'opened'; account: AccountView; created: boolean }> {
  const command: LedgerCommandInput = {
    ...commandEnvelope(body.accountId, new Date()),
    command: {
      'ledgerline.ledger.v1.OpenAccountRequested': {
        accountId: body.accountId,
        ownerRef: body.ownerRef,
        type: body.type,
        currency: body.currency,
        balanceFloorMinor: body.balanceFloorMinor,
        systemKind: null,
      },
    },
  };
  await submitCommand(deps, command, 'OPEN_ACCOUNT', request);
  const decided = await awaitDecision(deps.pool, command.commandId);
  if (decided.kind !== 'applied') return decided;
  const account = await findAccount(deps.pool, body.accountId);
  if (account === null) throw new Error(`account ${body.accountId} vanished`);
  return { kind: 'opened', account, created: decided.status.detail === null };
}

/** Freezes, unfreezes or closes an account; undefined when there is no such account. */
export async function changeAccountStatus(
  deps: IntakeDependencies,
  accountId: string,
  body: Schemas['ChangeAccountStatusRequest'],
): Promise<Decision | { readonly kind: 'changed'; account: AccountView } | undefined> {
  if ((await findAccount(deps.pool, accountId)) === null) return undefined;
  const to = body.action === 'FREEZE' ? 'FROZEN' : body.action === 'CLOSE' ? 'CLOSED' : 'OPEN';
  const command: LedgerCommandInput = {
    ...commandEnvelope(accountId, new Date()),
    command: {
      'ledgerline.ledger.v1.AccountStatusChangeRequested': {
        accountId,
        to,
        reason: body.reason ?? null,
      },
    },
  };
  await submitCommand(deps, command, 'CHANGE_ACCOUNT_STATUS', body);
  const decided = await awaitDecision(deps.pool, command.commandId);
  if (decided.kind !== 'applied') return decided;
  const account = await findAccount(deps.pool, accountId);
  if (account === null) throw new Error(`account ${accountId} vanished`);
  return { kind: 'changed', account };
}
