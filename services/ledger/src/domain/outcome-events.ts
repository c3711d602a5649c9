// Decisions -> outcome events. Every eventId is derived (UUIDv5) from what the event announces, so
// a redelivered command re-emits byte-identical events and consumers deduplicate on eventId.
import { invariant } from '@ledgerline/platform/invariant';
import type {
  AccountOpenedInput,
  AccountStatusChangedInput,
  PaymentStepPostedInput,
  PostingRejectedInput,
} from '@ledgerline/generated/avro/types';
import { systemKindOf, type AccountSnapshot } from './accounts.js';
import { LEDGERLINE_NAMESPACE, isUuid, uuidv5 } from './ids.js';
import type {
  AccountChangeRejectedDecision,
  AccountStatusChangedDecision,
  PostedDecision,
  RejectedDecision,
} from './posting.js';

/** Who asked for an outcome and when it was decided: from the command that first claimed it. */
export interface OutcomeOrigin {
  readonly commandId: string;
  readonly correlationId: string;
  readonly postedAt: Date;
  readonly refundId: string | null;
  readonly adjustmentId: string | null;
}

export type OutcomeEvent =
  | { readonly topic: 'step-posted'; readonly key: string; readonly value: PaymentStepPostedInput }
  | {
      readonly topic: 'posting-rejected';
      readonly key: string;
      readonly value: PostingRejectedInput;
    }
  | { readonly topic: 'account-opened'; readonly key: string; readonly value: AccountOpenedInput }
  | {
      readonly topic: 'account-status-changed';
      readonly key: string;
      readonly value: AccountStatusChangedInput;
    };

export function outcomeEventId(name: string, kind: string): string {
  return uuidv5(`${name}:${kind}`, LEDGERLINE_NAMESPACE);
}

function uuidOrNull(value: string | null): string | null {
  return value !== null && isUuid(value) ? value : null;
}

export function stepPostedEvent(
  decision: PostedDecision,
  origin: OutcomeOrigin,
  customerAccountId: string,
  customerBalanceAfterMinor: number,
): OutcomeEvent {
  const { transaction } = decision;
  const customerEntry = transaction.entries.find((e) => e.accountId === customerAccountId);
  invariant(customerEntry !== undefined, () => `no entry on ${customerAccountId}`);
  const value: PaymentStepPostedInput = {
    eventId: outcomeEventId(transaction.transactionId, 'step-posted'),
    correlationId: origin.correlationId,
    causationId: origin.commandId,
    occurredAt: origin.postedAt,
    paymentId: transaction.paymentId,
    refundId: origin.refundId,
    adjustmentId: origin.adjustmentId,
    step: transaction.step,
    sequence: transaction.sequence,
    transactionId: transaction.transactionId,
    accountId: customerAccountId,
    amountMinor: customerEntry.amountMinor,
    currency: transaction.currency,
    entries: transaction.entries.map((entry) => ({ ...entry })),
    referencesTransactionId: transaction.referencesTransactionId,
    balances: [{ accountId: customerAccountId, balanceMinor: customerBalanceAfterMinor }],
    postedAt: origin.postedAt,
  };
  return { topic: 'step-posted', key: transaction.paymentId ?? customerAccountId, value };
}

/**
 * A remembered rejection is announced under its step key; a DUPLICATE_CONFLICT (never
 * remembered) under the conflicting command's id.
 */
export function postingRejectedEvent(
  decision: RejectedDecision,
  origin: OutcomeOrigin,
  transactionId: string | null,
): OutcomeEvent {
  const name =
    decision.reason === 'DUPLICATE_CONFLICT' ? origin.commandId : decision.idempotency.stepKey;
  const paymentId = uuidOrNull(decision.paymentId);
  const value: PostingRejectedInput = {
    eventId: outcomeEventId(name, `posting-rejected:${decision.reason}`),
    correlationId: origin.correlationId,
    causationId: origin.commandId,
    occurredAt: origin.postedAt,
    paymentId,
    refundId: origin.refundId,
    adjustmentId: origin.adjustmentId,
    step: decision.step,
    sequence: Number.isSafeInteger(decision.sequence) ? decision.sequence : 0,
    transactionId,
    accountId: decision.accountId,
    reason: decision.reason,
    detail: decision.detail,
  };
  return { topic: 'posting-rejected', key: paymentId ?? decision.accountId, value };
}

export function accountChangeRejectedEvent(
  decision: AccountChangeRejectedDecision,
  origin: OutcomeOrigin,
): OutcomeEvent {
  const value: PostingRejectedInput = {
    eventId: outcomeEventId(origin.commandId, 'account-change-rejected'),
    correlationId: origin.correlationId,
    causationId: origin.commandId,
    occurredAt: origin.postedAt,
    paymentId: null,
    refundId: null,
    adjustmentId: null,
    step: null,
    sequence: 0,
    transactionId: null,
    accountId: decision.accountId,
    reason: decision.reason,
    detail: decision.detail,
  };
  return { topic: 'posting-rejected', key: decision.accountId, value };
}

export const SYSTEM_OWNER_REF = 'ledgerline';

export function accountOpenedEvent(
  account: AccountSnapshot,
  ownerRef: string,
  origin: OutcomeOrigin,
): OutcomeEvent {
  const value: AccountOpenedInput = {
    eventId: outcomeEventId(account.accountId, 'account-opened'),
    correlationId: origin.correlationId,
    causationId: origin.commandId,
    occurredAt: origin.postedAt,
    accountId: account.accountId,
    ownerRef,
    type: account.type,
    currency: account.currency,
    status: account.status,
    balanceFloorMinor: account.balanceFloorMinor,
    isSystem: account.isSystem,
    systemKind: systemKindOf(account),
  };
  return { topic: 'account-opened', key: account.accountId, value };
}

export function accountStatusChangedEvent(
  decision: AccountStatusChangedDecision,
  reason: string | null,
  origin: OutcomeOrigin,
): OutcomeEvent {
  const value: AccountStatusChangedInput = {
    eventId: outcomeEventId(origin.commandId, 'account-status-changed'),
    correlationId: origin.correlationId,
    causationId: origin.commandId,
    occurredAt: origin.postedAt,
    accountId: decision.accountId,
    from: decision.fromStatus,
    to: decision.toStatus,
    reason,
  };
  return { topic: 'account-status-changed', key: decision.accountId, value };
}
