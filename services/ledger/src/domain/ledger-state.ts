import { invariant } from '@ledgerline/platform/invariant';
import { createHash } from 'node:crypto';

import {
  assertAccountSnapshot,
  balanceDelta,
  creditNormalBalance,
  type AccountSnapshot,
} from './accounts.js';
import {
  commandFingerprint,
  isPostingCommand,
  stepKeyOf,
  type AccountCommand,
  type LedgerCommand,
  type PostingCommand,
} from './commands.js';
import type { CurrencyCode } from './currencies.js';
import { systemAccountId } from './ids.js';
import { addMinor } from './money.js';
import {
  assertProjectionMoves,
  assertTransactionWellFormed,
  decide,
  duplicateConflict,
  type AccountDecision,
  type Decision,
  type LedgerTransaction,
  type PostingDecision,
} from './posting.js';

// A pure, in-memory ledger: the reference model the tests run against, and the fold that replay
// and verification use. Every function returns a new state; nothing is mutated in place.

/** What a step key has been answered with; redelivery of the same content gets it again. */
export interface PostingRecord {
  readonly fingerprint: string;
  /** Set when the outcome was POSTED. */
  readonly transactionId: string | null;
  readonly decision: PostingDecision;
}

export interface LedgerState {
  readonly accounts: ReadonlyMap<string, AccountSnapshot>;
  /** In posting order. */
  readonly transactions: ReadonlyMap<string, LedgerTransaction>;
  /** By step key (`${paymentId}:${step}:${sequence}` or `adjustment:${accountId}:${key}`). */
  readonly postings: ReadonlyMap<string, PostingRecord>;
}

export function emptyLedgerState(): LedgerState {
  return { accounts: new Map(), transactions: new Map(), postings: new Map() };
}

/**
 * Applies a decision made against `state`. Posting outcomes claim their step key first-writer-wins,
 * like the unique index the store has: applying the same decision again changes nothing, a
 * DUPLICATE_CONFLICT rejection never claims a key, and a different decision for a claimed key is
 * a bug (InvariantViolation).
 */
export function applyDecision(state: LedgerState, decision: Decision): LedgerState {
  switch (decision.outcome) {
    case 'POSTED':
    case 'REJECTED':
      return applyPostingDecision(state, decision);
    case 'ACCOUNT_OPENED':
      return applyAccountOpened(state, decision.account, decision.systemAccounts);
    case 'ACCOUNT_STATUS_CHANGED': {
      const account = state.accounts.get(decision.accountId);
      invariant(
        account?.status === decision.fromStatus,
        () => `account ${decision.accountId} is not ${decision.fromStatus}`,
      );
      const accounts = new Map(state.accounts);
      accounts.set(decision.accountId, { ...account, status: decision.toStatus });
      return { ...state, accounts };
    }
    case 'ACCOUNT_UNCHANGED':
    case 'ACCOUNT_CHANGE_REJECTED':
      return state;
  }
}

function applyPostingDecision(state: LedgerState, decision: PostingDecision): LedgerState {
  if (decision.outcome === 'REJECTED' && decision.reason === 'DUPLICATE_CONFLICT') return state;
  const { stepKey, fingerprint } = decision.idempotency;
  const existing = state.postings.get(stepKey);
  if (existing !== undefined) {
    invariant(
      existing.fingerprint === fingerprint,
      () => `step key ${stepKey} already claimed by other content`,
    );
    return state;
  }
  const postings = new Map(state.postings);
  if (decision.outcome === 'REJECTED') {
    postings.set(stepKey, { fingerprint, transactionId: null, decision });
    return { ...state, postings };
  }

  const { transaction, balanceChanges } = decision;
  assertTransactionWellFormed(transaction);
  invariant(
    !state.transactions.has(transaction.transactionId),
    () => `transaction ${transaction.transactionId} posted twice`,
  );
  const before = new Map<string, AccountSnapshot>();
  const after = new Map<string, AccountSnapshot>();
  for (const [accountId, deltaMinor] of balanceChanges) {
    const account = state.accounts.get(accountId);
    invariant(account !== undefined, () => `posting to unknown account ${accountId}`);
    before.set(accountId, account);
    after.set(accountId, { ...account, balanceMinor: addMinor(account.balanceMinor, deltaMinor) });
  }
  // Pair with the check in decide(): the projection moves by exactly what the entries say.
  assertProjectionMoves(before, after, transaction);

  const accounts = new Map(state.accounts);
  for (const account of after.values()) accounts.set(account.accountId, account);
  const transactions = new Map(state.transactions);
  transactions.set(transaction.transactionId, transaction);
  postings.set(stepKey, { fingerprint, transactionId: transaction.transactionId, decision });
  return { accounts, transactions, postings };
}

function applyAccountOpened(
  state: LedgerState,
  account: AccountSnapshot,
  systemAccounts: readonly AccountSnapshot[],
): LedgerState {
  assertAccountSnapshot(account);
  invariant(
    !state.accounts.has(account.accountId),
    () => `account ${account.accountId} opened twice`,
  );
  const accounts = new Map(state.accounts);
  accounts.set(account.accountId, account);
  for (const system of systemAccounts) {
    assertAccountSnapshot(system);
    const existing = accounts.get(system.accountId);
    if (existing === undefined) {
      accounts.set(system.accountId, system);
    } else {
      invariant(
        existing.isSystem && existing.type === system.type && existing.currency === system.currency,
        () => `system account ${system.accountId} clashes with an existing account`,
      );
    }
  }
  return { ...state, accounts };
}

export interface CommandResult<D extends Decision = Decision> {
  readonly state: LedgerState;
  /** On a duplicate: the original outcome, re-emitted unchanged. */
  readonly decision: D;
  /** True when the step key was already answered for the same content; state is unchanged. */
  readonly duplicate: boolean;
}

/**
 * One command through the ledger, with step-key idempotency: the same key with the same content
 * answers the original outcome (POSTED or REJECTED) again and changes nothing; the same key with
 * different content answers DUPLICATE_CONFLICT and changes nothing.
 */
export function handleCommand(
  state: LedgerState,
  command: PostingCommand,
): CommandResult<PostingDecision>;
export function handleCommand(
  state: LedgerState,
  command: AccountCommand,
): CommandResult<AccountDecision>;
export function handleCommand(state: LedgerState, command: LedgerCommand): CommandResult;
export function handleCommand(state: LedgerState, command: LedgerCommand): CommandResult {
  if (isPostingCommand(command)) {
    const existing = state.postings.get(stepKeyOf(command));
    if (existing !== undefined) {
      return existing.fingerprint === commandFingerprint(command)
        ? { state, decision: existing.decision, duplicate: true }
        : { state, decision: duplicateConflict(command), duplicate: false };
    }
  }
  const decision = decide(command, state.accounts, state.transactions);
  return { state: applyDecision(state, decision), decision, duplicate: false };
}

/** Folds commands, in order, into a state (replay). */
export function replayCommands(
  commands: Iterable<LedgerCommand>,
  state = emptyLedgerState(),
): LedgerState {
  let current = state;
  for (const command of commands) current = handleCommand(current, command).state;
  return current;
}

/** An account's balance derived from entries alone (what the projection must equal). */
export function balanceFromEntries(state: LedgerState, accountId: string): number {
  const account = state.accounts.get(accountId);
  invariant(account !== undefined, () => `unknown account ${accountId}`);
  let balanceMinor = 0;
  for (const transaction of state.transactions.values()) {
    for (const entry of transaction.entries) {
      if (entry.accountId === accountId) {
        balanceMinor = addMinor(
          balanceMinor,
          balanceDelta(account, entry.direction, entry.amountMinor),
        );
      }
    }
  }
  return balanceMinor;
}

/**
 * Per currency, the sum of credits - debits over all accounts: 0 in a sound ledger. Summed
 * exactly (bigint): every balance is a safe integer, but a partial sum over many accounts need
 * not be (clearing at -(2^53 - 1) and a system account at -1 are both sound).
 */
export function trialBalance(state: LedgerState): ReadonlyMap<CurrencyCode, bigint> {
  const totals = new Map<CurrencyCode, bigint>();
  for (const account of state.accounts.values()) {
    totals.set(
      account.currency,
      (totals.get(account.currency) ?? 0n) + BigInt(creditNormalBalance(account)),
    );
  }
  return totals;
}

/**
 * Net movement of the clearing account per payment, as credits - debits on clearing. A payment
 * whose saga is terminal (COMPLETED, REJECTED, COMPENSATED, REFUNDED...) nets to 0.
 */
export function clearingNetByPayment(state: LedgerState): ReadonlyMap<string, number> {
  const net = new Map<string, number>();
  for (const transaction of state.transactions.values()) {
    if (transaction.paymentId === null) continue;
    const clearingId = systemAccountId('CLEARING', transaction.currency);
    for (const entry of transaction.entries) {
      if (entry.accountId !== clearingId) continue;
      const signedMinor = entry.direction === 'CREDIT' ? entry.amountMinor : -entry.amountMinor;
      net.set(transaction.paymentId, addMinor(net.get(transaction.paymentId) ?? 0, signedMinor));
    }
  }
  return net;
}

/**
 * Everything reconciliation would prove, on the model: every transaction well-formed and
 * balanced, entries only on known accounts of their currency, every projected balance equal to
 * the sum of its entries, every currency's trial balance 0, and posting records consistent with
 * the transactions. Throws InvariantViolation on the first failure.
 */
export function verifyLedger(state: LedgerState): void {
  const derivedMinor = new Map<string, number>();
  for (const transaction of state.transactions.values()) {
    assertTransactionWellFormed(transaction);
    for (const entry of transaction.entries) {
      const account = state.accounts.get(entry.accountId);
      invariant(account !== undefined, () => `entry ${entry.entryId} on unknown account`);
      invariant(
        account.currency === entry.currency,
        () => `entry ${entry.entryId} in a foreign currency`,
      );
      const deltaMinor = balanceDelta(account, entry.direction, entry.amountMinor);
      derivedMinor.set(
        entry.accountId,
        addMinor(derivedMinor.get(entry.accountId) ?? 0, deltaMinor),
      );
    }
  }
  for (const account of state.accounts.values()) {
    assertAccountSnapshot(account);
    const wantMinor = derivedMinor.get(account.accountId) ?? 0;
    invariant(
      account.balanceMinor === wantMinor,
      () =>
        `account ${account.accountId}: projection ${account.balanceMinor} != entries ${wantMinor}`,
    );
  }
  for (const [currency, totalMinor] of trialBalance(state)) {
    invariant(totalMinor === 0n, () => `trial balance of ${currency} is ${totalMinor}`);
  }
  let postedCount = 0;
  for (const [stepKey, record] of state.postings) {
    invariant(
      record.decision.idempotency.stepKey === stepKey,
      () => `posting ${stepKey} filed under the wrong key`,
    );
    if (record.decision.outcome === 'POSTED') {
      postedCount += 1;
      invariant(
        state.transactions.get(record.transactionId ?? '') === record.decision.transaction,
        () => `posting ${stepKey} lost its transaction`,
      );
    }
  }
  invariant(
    postedCount === state.transactions.size,
    'every transaction has exactly one posting record',
  );
}

function canonicalTransaction(transaction: LedgerTransaction): string {
  return JSON.stringify([
    transaction.transactionId,
    transaction.paymentId,
    transaction.step,
    transaction.sequence,
    transaction.currency,
    transaction.referencesTransactionId,
    transaction.reference,
    transaction.entries.map((entry) => [
      entry.entryId,
      entry.accountId,
      entry.direction,
      entry.amountMinor,
      entry.currency,
    ]),
  ]);
}

function canonicalAccount(account: AccountSnapshot): string {
  return JSON.stringify([
    account.accountId,
    account.type,
    account.currency,
    account.status,
    account.balanceFloorMinor,
    account.balanceMinor,
    account.isSystem,
  ]);
}

function canonicalPosting(stepKey: string, record: PostingRecord): string {
  const { decision } = record;
  const outcome =
    decision.outcome === 'POSTED'
      ? ['POSTED', decision.transaction.transactionId]
      : ['REJECTED', decision.reason, decision.detail];
  return JSON.stringify([stepKey, record.fingerprint, ...outcome]);
}

/**
 * sha256 over transactions, accounts and posting outcomes, each sorted by id, so two ledgers that
 * replayed the same commands compare equal whatever order their partitions interleaved in.
 */
export function ledgerChecksum(state: LedgerState): string {
  const hash = createHash('sha256');
  const sortedKeys = <V>(map: ReadonlyMap<string, V>): string[] => [...map.keys()].sort();
  hash.update('transactions\n');
  for (const id of sortedKeys(state.transactions)) {
    const transaction = state.transactions.get(id);
    if (transaction !== undefined) hash.update(`${canonicalTransaction(transaction)}\n`);
  }
  hash.update('accounts\n');
  for (const id of sortedKeys(state.accounts)) {
    const account = state.accounts.get(id);
    if (account !== undefined) hash.update(`${canonicalAccount(account)}\n`);
  }
  hash.update('postings\n');
  for (const stepKey of sortedKeys(state.postings)) {
    const record = state.postings.get(stepKey);
    if (record !== undefined) hash.update(`${canonicalPosting(stepKey, record)}\n`);
  }
  return hash.digest('hex');
}
