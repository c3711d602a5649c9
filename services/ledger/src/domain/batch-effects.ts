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
import type {
  AccountOpenedDecision,
  LedgerTransaction,
  PostedDecision,
  RejectedDecision,
  RejectionReason,
} from './posting.js';
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

/** One command of the batch as the effect collectors see it. */
interface Applying {
  readonly command: BatchCommand;
  readonly origin: OutcomeOrigin;
  /** Whether the decision repeats one taken before (the same step key and fingerprint). */
  readonly duplicate: boolean;
}

function emptyEffects(): BatchEffects {
  return {
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
  const effects = emptyEffects();
  for (const batchCommand of commands) {
    const { command } = batchCommand;
    const missingSystemIds = extraAccountIdsOf(command).filter((id) => !view.accounts.has(id));
    const claimedBefore = isPostingCommand(command)
      ? view.postings.get(stepKeyOf(command))
      : undefined;
    const { decision, duplicate } = decideInBatch(view, command);
    const applying: Applying = { command: batchCommand, origin: originOf(batchCommand), duplicate };
    switch (decision.outcome) {
      case 'POSTED':
        recordApplied(
          effects,
          batchCommand,
          'APPLIED',
          null,
          null,
          decision.transaction.transactionId,
        );
        collectPosting(effects, view, stored, applying, decision);
        break;
      case 'REJECTED':
        recordApplied(effects, batchCommand, 'REJECTED', decision.reason, decision.detail, null);
        collectRejection(effects, stored, applying, decision, claimedBefore);
        break;
      case 'ACCOUNT_OPENED':
        recordApplied(effects, batchCommand, 'APPLIED', null, null, null);
        collectOpenedAccounts(effects, applying, decision, missingSystemIds);
        break;
      case 'ACCOUNT_STATUS_CHANGED':
        recordApplied(effects, batchCommand, 'APPLIED', null, null, null);
        effects.statusChanges.set(decision.accountId, {
          status: decision.toStatus,
          at: batchCommand.meta.postedAt,
        });
        effects.events.push(
          accountStatusChangedEvent(decision, batchCommand.meta.reason, applying.origin),
        );
        break;
      case 'ACCOUNT_UNCHANGED':
        recordApplied(effects, batchCommand, 'APPLIED', null, decision.detail, null);
        break;
      case 'ACCOUNT_CHANGE_REJECTED':
        recordApplied(effects, batchCommand, 'REJECTED', decision.reason, decision.detail, null);
        effects.rejectionReasons.push(decision.reason);
        effects.events.push(accountChangeRejectedEvent(decision, applying.origin));
        break;
    }
  }
  return effects;
}

/** What GET /v1/commands/{id} answers for a command the API accepted (others: nothing). */
function recordApplied(
  effects: BatchEffects,
  { command, meta }: BatchCommand,
  outcome: AppliedCommand['outcome'],
  rejectionReason: RejectionReason | null,
  detail: string | null,
  transactionId: string | null,
): void {
  const type = apiTypeOf(command);
  if (type === null) return;
  effects.applied.push({
    commandId: meta.commandId,
    type,
    accountId: commandAccountId(command),
    outcome,
    rejectionReason,
    detail,
    adjustmentId: meta.adjustmentId,
    transactionId,
    decidedAt: meta.postedAt,
  });
}

/** A posting: new (rows, balance moves, event) or a duplicate (its original event again). */
function collectPosting(
  effects: BatchEffects,
  view: BatchView,
  stored: Map<string, StoredOrigin>,
  { command: batchCommand, origin, duplicate }: Applying,
  decision: PostedDecision,
): void {
  const stepKey = decision.idempotency.stepKey;
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
    return;
  }
  const customerAccountId = commandAccountId(batchCommand.command);
  const customer = view.accounts.get(customerAccountId);
  invariant(customer !== undefined, () => `posted to unloaded ${customerAccountId}`);
  effects.postings.push({
    transaction: decision.transaction,
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
  for (const entry of decision.transaction.entries) {
    const deltaMinor = decision.balanceChanges.get(entry.accountId);
    invariant(deltaMinor !== undefined, () => `no balance change for ${entry.accountId}`);
    addBalanceMove(effects, entry.accountId, entry.direction, entry.amountMinor, deltaMinor);
  }
  effects.events.push(stepPostedEvent(decision, origin, customerAccountId, customer.balanceMinor));
}

function addBalanceMove(
  effects: BatchEffects,
  accountId: string,
  direction: 'DEBIT' | 'CREDIT',
  amountMinor: number,
  deltaMinor: number,
): void {
  const move = effects.balanceMoves.get(accountId) ?? {
    accountId,
    deltaMinor: 0,
    debitsMinor: 0,
    creditsMinor: 0,
    entryCount: 0,
  };
  move.deltaMinor = addMinor(move.deltaMinor, deltaMinor);
  if (direction === 'DEBIT') move.debitsMinor = addMinor(move.debitsMinor, amountMinor);
  else move.creditsMinor = addMinor(move.creditsMinor, amountMinor);
  move.entryCount += 1;
  effects.balanceMoves.set(accountId, move);
}

/** A rejection: new (row, event), a conflicting reuse of a step key, or a duplicate. */
function collectRejection(
  effects: BatchEffects,
  stored: Map<string, StoredOrigin>,
  { command: batchCommand, origin, duplicate }: Applying,
  decision: RejectedDecision,
  claimedBefore: { readonly fingerprint: string } | undefined,
): void {
  const stepKey = decision.idempotency.stepKey;
  const transactionId = wouldBeTransactionId(batchCommand.command);
  if (duplicate) {
    effects.duplicates += 1;
    const original = stored.get(stepKey);
    invariant(original !== undefined, () => `rejected step key ${stepKey} has no origin`);
    effects.events.push(postingRejectedEvent(decision, original.origin, transactionId));
    return;
  }
  effects.rejectionReasons.push(decision.reason);
  effects.events.push(postingRejectedEvent(decision, origin, transactionId));
  if (decision.reason === 'DUPLICATE_CONFLICT') {
    invariant(claimedBefore !== undefined, () => `conflict on unclaimed key ${stepKey}`);
    effects.conflicts.push({
      commandId: batchCommand.meta.commandId,
      stepKey,
      paymentId: decision.paymentId,
      step: decision.step,
      sequence: decision.sequence,
      originalFingerprint: claimedBefore.fingerprint,
      conflictingFingerprint: decision.idempotency.fingerprint,
      source: batchCommand.source,
    });
    return;
  }
  effects.rejections.push({ decision, origin });
  stored.set(stepKey, { origin, balanceAfter: null });
}

/** A new account, and the system accounts of its currency that do not exist yet. */
function collectOpenedAccounts(
  effects: BatchEffects,
  { command: batchCommand, origin }: Applying,
  decision: AccountOpenedDecision,
  missingSystemIds: readonly string[],
): void {
  const { meta } = batchCommand;
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
}

/** The id the step's transaction has or would have had (PostingRejected.transactionId). */
function wouldBeTransactionId(command: LedgerCommand): string | null {
  if (!isPostingCommand(command)) return null;
  const key = stepKeyOf(command);
  if (key.startsWith('malformed:')) return null;
  return transactionIdOfStepKey(key);
}
