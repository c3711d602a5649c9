import { invariant } from '@ledgerline/platform/invariant';
import { assertAccountSnapshot, type AccountSnapshot } from './accounts.js';
import { commandFingerprint, isPostingCommand, stepKeyOf, type LedgerCommand } from './commands.js';
import type { PostingRecord } from './ledger-state.js';
import { addMinor } from './money.js';
import {
  assertProjectionMoves,
  assertTransactionWellFormed,
  decide,
  duplicateConflict,
  type Decision,
  type LedgerTransaction,
  type PostingDecision,
} from './posting.js';

// The live consumer's fold over one batch (up to 2,000 commands of one partition). Same rules and
// idempotency semantics as handleCommand() in ledger-state.ts, but the working view is mutated in
// place: copying the maps per command (what the reference model does) is quadratic in the batch.
// The view holds only what the store loaded for this batch (see requirementsOf) plus what earlier
// commands of the batch produced, which is all decide() ever looks at.

export interface BatchView {
  /** Accounts the batch touches (customer and system), with their projected balances. */
  readonly accounts: Map<string, AccountSnapshot>;
  /** Transactions decide() may compare against: loaded references and this batch's postings. */
  readonly transactions: Map<string, LedgerTransaction>;
  /** Step keys of the batch's posting commands that already have an outcome. */
  readonly postings: Map<string, PostingRecord>;
}

export function emptyBatchView(): BatchView {
  return { accounts: new Map(), transactions: new Map(), postings: new Map() };
}

export interface BatchResult {
  readonly decision: Decision;
  /** The step key was answered before for the same content: decision is the original outcome. */
  readonly duplicate: boolean;
}

/**
 * Decides one command against the view and applies the outcome to it in place. A redelivered
 * step key with the same fingerprint answers its original outcome and changes nothing; with a
 * different fingerprint it answers DUPLICATE_CONFLICT and changes nothing.
 */
export function decideInBatch(view: BatchView, command: LedgerCommand): BatchResult {
  if (isPostingCommand(command)) {
    const existing = view.postings.get(stepKeyOf(command));
    if (existing !== undefined) {
      return existing.fingerprint === commandFingerprint(command)
        ? { decision: existing.decision, duplicate: true }
        : { decision: duplicateConflict(command), duplicate: false };
    }
  }
  const decision = decide(command, view.accounts, view.transactions);
  applyInPlace(view, decision);
  return { decision, duplicate: false };
}

/** Folds commands in offset order; one result per command, in the same order. */
export function decideBatch(view: BatchView, commands: readonly LedgerCommand[]): BatchResult[] {
  return commands.map((command) => decideInBatch(view, command));
}

function applyInPlace(view: BatchView, decision: Decision): void {
  switch (decision.outcome) {
    case 'POSTED':
    case 'REJECTED':
      applyPosting(view, decision);
      return;
    case 'ACCOUNT_OPENED': {
      const { account, systemAccounts } = decision;
      assertAccountSnapshot(account);
      invariant(
        !view.accounts.has(account.accountId),
        () => `account ${account.accountId} opened twice`,
      );
      view.accounts.set(account.accountId, account);
      for (const system of systemAccounts) {
        assertAccountSnapshot(system);
        const existing = view.accounts.get(system.accountId);
        if (existing === undefined) {
          view.accounts.set(system.accountId, system);
        } else {
          invariant(
            existing.isSystem &&
              existing.type === system.type &&
              existing.currency === system.currency,
            () => `system account ${system.accountId} clashes with an existing account`,
          );
        }
      }
      return;
    }
    case 'ACCOUNT_STATUS_CHANGED': {
      const account = view.accounts.get(decision.accountId);
      invariant(
        account?.status === decision.fromStatus,
        () => `account ${decision.accountId} is not ${decision.fromStatus}`,
      );
      view.accounts.set(decision.accountId, { ...account, status: decision.toStatus });
      return;
    }
    case 'ACCOUNT_UNCHANGED':
    case 'ACCOUNT_CHANGE_REJECTED':
      return;
  }
}

function applyPosting(view: BatchView, decision: PostingDecision): void {
  if (decision.outcome === 'REJECTED' && decision.reason === 'DUPLICATE_CONFLICT') return;
  const { stepKey, fingerprint } = decision.idempotency;
  invariant(!view.postings.has(stepKey), () => `step key ${stepKey} decided twice`);
  if (decision.outcome === 'REJECTED') {
    view.postings.set(stepKey, { fingerprint, transactionId: null, decision });
    return;
  }
  const { transaction, balanceChanges } = decision;
  assertTransactionWellFormed(transaction);
  invariant(
    !view.transactions.has(transaction.transactionId),
    () => `transaction ${transaction.transactionId} posted twice`,
  );
  const before = new Map<string, AccountSnapshot>();
  const after = new Map<string, AccountSnapshot>();
  for (const [accountId, deltaMinor] of balanceChanges) {
    const account = view.accounts.get(accountId);
    invariant(account !== undefined, () => `posting to unloaded account ${accountId}`);
    before.set(accountId, account);
    after.set(accountId, { ...account, balanceMinor: addMinor(account.balanceMinor, deltaMinor) });
  }
  // Pair with the check in decide(): the projection moves by exactly what the entries say.
  assertProjectionMoves(before, after, transaction);
  for (const account of after.values()) view.accounts.set(account.accountId, account);
  view.transactions.set(transaction.transactionId, transaction);
  view.postings.set(stepKey, { fingerprint, transactionId: transaction.transactionId, decision });
}
