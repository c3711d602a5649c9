// One partition batch of ledger.commands, as values: the domain fold (decideInBatch) plus what
// the store must write and the events the outbox must carry. No I/O here: the store loads the
// view before and persists the effects after, in the consumer's PostgreSQL transaction.
import { invariant } from '@ledgerline/platform/invariant';
import type { AccountSnapshot } from './accounts.js';
import { decideInBatch, type BatchView } from './batch.js';
import {
  commandAccountId,
  isPostingCommand,
  stepKeyOf,
  type LedgerCommand,
  type MappedCommand,
} from './commands.js';
import { isCurrencyCode } from './currencies.js';
import { SYSTEM_ACCOUNT_KINDS, systemAccountId, transactionIdOfStepKey } from './ids.js';
import { addMinor } from './money.js';
import type { LedgerTransaction, RejectedDecision, RejectionReason } from './posting.js';
import {
  SYSTEM_OWNER_REF,
  accountChangeRejectedEvent,
  accountOpenedEvent,
  accountStatusChangedEvent,
  postingRejectedEvent,
  stepPostedEvent,
  type OutcomeEvent,
  type OutcomeOrigin,
} from './outcome-events.js';

export interface SourcePosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface BatchCommand extends MappedCommand {
  readonly source: SourcePosition;
}

/** What the store remembers about a decided step key, to re-emit its outcome identically. */
export interface StoredOrigin {
  readonly origin: OutcomeOrigin;
  /** The customer account and its balance after the posting; null for rejections. */
  readonly balanceAfter: { readonly accountId: string; readonly balanceMinor: number } | null;
}

export interface NewAccount {
  readonly account: AccountSnapshot;
  readonly ownerRef: string;
  readonly openedAt: Date;
}

export interface NewPosting {
  readonly transaction: LedgerTransaction;
  readonly stepKey: string;
  readonly fingerprint: string;
  readonly origin: OutcomeOrigin;
  readonly customerAccountId: string;
  readonly balanceAfterMinor: number;
}

export interface NewRejection {
  readonly decision: RejectedDecision;
  readonly origin: OutcomeOrigin;
}

export interface NewConflict {
  readonly commandId: string;
  readonly stepKey: string;
  readonly paymentId: string | null;
  readonly step: string;
  readonly sequence: number;
  readonly originalFingerprint: string;
  readonly conflictingFingerprint: string;
  readonly source: SourcePosition;
}

export type ApiCommandType = 'OPEN_ACCOUNT' | 'CHANGE_ACCOUNT_STATUS' | 'ADJUSTMENT';

export interface AppliedCommand {
  readonly commandId: string;
  readonly type: ApiCommandType;
  readonly accountId: string;
  readonly outcome: 'APPLIED' | 'REJECTED';
  readonly rejectionReason: RejectionReason | null;
  readonly detail: string | null;
  readonly adjustmentId: string | null;
  readonly transactionId: string | null;
  readonly decidedAt: Date;
}

export interface BalanceMove {
  readonly accountId: string;
  deltaMinor: number;
  debitsMinor: number;
  creditsMinor: number;
  entryCount: number;
}

export interface BatchEffects {
  readonly newAccounts: NewAccount[];
  /** Last status of each account whose status changed, and when. */
  readonly statusChanges: Map<string, { status: AccountSnapshot['status']; at: Date }>;
  readonly postings: NewPosting[];
  readonly rejections: NewRejection[];
  readonly conflicts: NewConflict[];
  readonly applied: AppliedCommand[];
  readonly balanceMoves: Map<string, BalanceMove>;
  readonly events: OutcomeEvent[];
  /** For metrics. */
  readonly rejectionReasons: RejectionReason[];
  duplicates: number;
}

function originOf(command: BatchCommand): OutcomeOrigin {
  return {
    commandId: command.meta.commandId,
    correlationId: command.meta.correlationId,
    postedAt: command.meta.postedAt,
    refundId: command.meta.refundId,
    adjustmentId: command.meta.adjustmentId,
  };
}

/** Accounts a batch may look at beyond requirementsOf: the system accounts of new accounts. */
export function extraAccountIdsOf(command: LedgerCommand): string[] {
  if (command.kind !== 'OPEN_ACCOUNT' || !isCurrencyCode(command.currency)) return [];
  const currency = command.currency;
  return SYSTEM_ACCOUNT_KINDS.map((kind) => systemAccountId(kind, currency));
}

function apiTypeOf(command: LedgerCommand): ApiCommandType | null {
  switch (command.kind) {
    case 'OPEN_ACCOUNT':
    case 'CHANGE_ACCOUNT_STATUS':
    case 'ADJUSTMENT':
      return command.kind;
    default:
      return null;
  }
}

/**
 * Decides the batch's commands in offset order against `view` (mutated) and collects the effects.
 * `stored` holds the origins of step keys decided before this batch (mutated as keys are claimed).
 */
export function applyCommands(
  view: BatchView,
  stored: Map<string, StoredOrigin>,
  commands: readonly BatchCommand[],
): BatchEffects {
  const effects: BatchEffects = {
    newAccounts: [],
    statusChanges: new Map(),
    postings: [],
    rejections: [],
    conflicts: [],
    applied: [],
    balanceMoves: new Map(),
    events: [],
    rejectionReasons: [],
    duplicates: 0,
  };
  for (const batchCommand of commands) {
    const { command, meta } = batchCommand;
    const origin = originOf(batchCommand);
    const missingSystemIds = extraAccountIdsOf(command).filter((id) => !view.accounts.has(id));
    const claimedBefore = isPostingCommand(command)
      ? view.postings.get(stepKeyOf(command))
      : undefined;
    const { decision, duplicate } = decideInBatch(view, command);
    const apiType = apiTypeOf(command);
    const record = (
      outcome: AppliedCommand['outcome'],
      rejectionReason: RejectionReason | null,
      detail: string | null,
      transactionId: string | null,
    ): void => {
      if (apiType === null) return;
      effects.applied.push({
        commandId: meta.commandId,
        type: apiType,
        accountId: commandAccountId(command),
        outcome,
        rejectionReason,
        detail,
        adjustmentId: meta.adjustmentId,
        transactionId,
        decidedAt: meta.postedAt,
      });
    };

    switch (decision.outcome) {
      case 'POSTED': {
        const { transaction } = decision;
        const stepKey = decision.idempotency.stepKey;
        record('APPLIED', null, null, transaction.transactionId);
        if (duplicate) {
          effects.duplicates += 1;
          const original = stored.get(stepKey);
          invariant(
            original !== undefined && original.balanceAfter !== null,
            () => `posted step key ${stepKey} has no stored origin`,
          );
          effects.events.push(
            stepPostedEvent(
              decision,
              original.origin,
              original.balanceAfter.accountId,
              original.balanceAfter.balanceMinor,
            ),
          );
          break;
        }
        const customerAccountId = commandAccountId(command);
        const customer = view.accounts.get(customerAccountId);
        invariant(customer !== undefined, () => `posted to unloaded ${customerAccountId}`);
        effects.postings.push({
          transaction,
          stepKey,
          fingerprint: decision.idempotency.fingerprint,
          origin,
          customerAccountId,
          balanceAfterMinor: customer.balanceMinor,
        });
        stored.set(stepKey, {
          origin,
          balanceAfter: { accountId: customerAccountId, balanceMinor: customer.balanceMinor },
        });
        for (const entry of transaction.entries) {
          const move = effects.balanceMoves.get(entry.accountId) ?? {
            accountId: entry.accountId,
            deltaMinor: 0,
            debitsMinor: 0,
            creditsMinor: 0,
            entryCount: 0,
          };
          const deltaMinor = decision.balanceChanges.get(entry.accountId);
          invariant(deltaMinor !== undefined, () => `no balance change for ${entry.accountId}`);
          move.deltaMinor = addMinor(move.deltaMinor, deltaMinor);
          if (entry.direction === 'DEBIT') {
            move.debitsMinor = addMinor(move.debitsMinor, entry.amountMinor);
          } else {
            move.creditsMinor = addMinor(move.creditsMinor, entry.amountMinor);
          }
          move.entryCount += 1;
          effects.balanceMoves.set(entry.accountId, move);
        }
        effects.events.push(
          stepPostedEvent(decision, origin, customerAccountId, customer.balanceMinor),
        );
        break;
      }
      case 'REJECTED': {
        const stepKey = decision.idempotency.stepKey;
        record('REJECTED', decision.reason, decision.detail, null);
        if (duplicate) {
          effects.duplicates += 1;
          const original = stored.get(stepKey);
          invariant(original !== undefined, () => `rejected step key ${stepKey} has no origin`);
          effects.events.push(
            postingRejectedEvent(decision, original.origin, wouldBeTransactionId(command)),
          );
          break;
        }
        effects.rejectionReasons.push(decision.reason);
        effects.events.push(postingRejectedEvent(decision, origin, wouldBeTransactionId(command)));
        if (decision.reason === 'DUPLICATE_CONFLICT') {
          invariant(claimedBefore !== undefined, () => `conflict on unclaimed key ${stepKey}`);
          effects.conflicts.push({
            commandId: meta.commandId,
            stepKey,
            paymentId: decision.paymentId,
            step: decision.step,
            sequence: decision.sequence,
            originalFingerprint: claimedBefore.fingerprint,
            conflictingFingerprint: decision.idempotency.fingerprint,
            source: batchCommand.source,
          });
          break;
        }
        effects.rejections.push({ decision, origin });
        stored.set(stepKey, { origin, balanceAfter: null });
        break;
      }
      case 'ACCOUNT_OPENED': {
        record('APPLIED', null, null, null);
        const ownerRef = meta.ownerRef ?? SYSTEM_OWNER_REF;
        effects.newAccounts.push({ account: decision.account, ownerRef, openedAt: meta.postedAt });
        effects.events.push(accountOpenedEvent(decision.account, ownerRef, origin));
        for (const system of decision.systemAccounts) {
          if (!missingSystemIds.includes(system.accountId)) continue;
          effects.newAccounts.push({
            account: system,
            ownerRef: SYSTEM_OWNER_REF,
            openedAt: meta.postedAt,
          });
          effects.events.push(accountOpenedEvent(system, SYSTEM_OWNER_REF, origin));
        }
        break;
      }
      case 'ACCOUNT_STATUS_CHANGED':
        record('APPLIED', null, null, null);
        effects.statusChanges.set(decision.accountId, {
          status: decision.toStatus,
          at: meta.postedAt,
        });
        effects.events.push(accountStatusChangedEvent(decision, meta.reason, origin));
        break;
      case 'ACCOUNT_UNCHANGED':
        record('APPLIED', null, decision.detail, null);
        break;
      case 'ACCOUNT_CHANGE_REJECTED':
        record('REJECTED', decision.reason, decision.detail, null);
        effects.rejectionReasons.push(decision.reason);
        effects.events.push(accountChangeRejectedEvent(decision, origin));
        break;
    }
  }
  return effects;
}

/** The id the step's transaction has or would have had (PostingRejected.transactionId). */
function wouldBeTransactionId(command: LedgerCommand): string | null {
  if (!isPostingCommand(command)) return null;
  const key = stepKeyOf(command);
  if (key.startsWith('malformed:')) return null;
  return transactionIdOfStepKey(key);
}
