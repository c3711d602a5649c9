import { invariant } from '@ledgerline/platform/invariant';
import { RejectionReasonSymbols } from '@ledgerline/generated/avro/types';
import {
  assertAccountSnapshot,
  balanceDelta,
  isAccountType,
  breachesFloor,
  isDirection,
  isSystemAccountId,
  opposite,
  systemAccountsFor,
  type AccountSnapshot,
  type AccountStatus,
  type Direction,
} from './accounts.js';
import {
  commandAccountId,
  commandFingerprint,
  sequenceOf,
  stepKeyOf,
  type AccountCommand,
  type AccountStatusAction,
  type ChangeAccountStatus,
  type LedgerCommand,
  type OpenAccount,
  type PaymentStepCommand,
  type PostingCommand,
} from './commands.js';
import { isCurrencyCode, type CurrencyCode } from './currencies.js';
import {
  adjustmentTransactionId,
  entryIdFor,
  isIdempotencyKey,
  isUuid,
  systemAccountId,
  transactionIdFor,
  type SystemAccountKind,
} from './ids.js';
import {
  addMinor,
  isAmountMinor,
  isBalanceMinor,
  subMinor,
  sumMinor,
  tryAddMinor,
} from './money.js';
import { isValidSequence, type PaymentStep, type PostingStep } from './steps.js';

// decide() is the ledger's only rule book: a pure function from a command and the current state
// of the accounts it touches to an outcome. The live consumer and replay run the same function,
// so replaying ledger.commands reproduces every outcome. It never throws for bad input (that gets
// a REJECTED outcome); it throws InvariantViolation only when the code or the stored state is
// wrong, because returning a wrong transaction is worse than stopping.

/** Avro enum RejectionReason (default OTHER so the enum can grow). */
export const REJECTION_REASONS = RejectionReasonSymbols;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** Free text kept on adjustment transactions; bounded like every other input. */
export const REFERENCE_LENGTH_MAX = 500;

export interface LedgerEntry {
  readonly entryId: string;
  readonly accountId: string;
  readonly direction: Direction;
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
}

/** Immutable once posted. Payment steps have exactly one DEBIT (index 0) and one CREDIT entry. */
export interface LedgerTransaction {
  readonly transactionId: string;
  /** null for adjustments. */
  readonly paymentId: string | null;
  readonly step: PostingStep;
  /** 0 except refunds (1..n). */
  readonly sequence: number;
  readonly currency: CurrencyCode;
  /** The transaction this one follows or reverses (CREDIT/COMPENSATION -> DEBIT, ...). */
  readonly referencesTransactionId: string | null;
  /** Operator note of an adjustment; null for payment steps. */
  readonly reference: string | null;
  readonly entries: readonly LedgerEntry[];
}

/** Where a posting outcome is remembered: unique step key plus the content that claimed it. */
export interface Idempotency {
  readonly stepKey: string;
  readonly fingerprint: string;
}

export interface PostedDecision {
  readonly outcome: 'POSTED';
  readonly idempotency: Idempotency;
  readonly transaction: LedgerTransaction;
  /** accountId -> signed change of balanceMinor, in entry order. */
  readonly balanceChanges: ReadonlyMap<string, number>;
}

export interface RejectedDecision {
  readonly outcome: 'REJECTED';
  readonly idempotency: Idempotency;
  readonly step: PostingStep;
  readonly paymentId: string | null;
  readonly sequence: number;
  readonly reason: RejectionReason;
  readonly detail: string;
  /** The customer account of the command (the one the reason is about). */
  readonly accountId: string;
}

export type PostingDecision = PostedDecision | RejectedDecision;

export interface AccountOpenedDecision {
  readonly outcome: 'ACCOUNT_OPENED';
  readonly account: AccountSnapshot;
  /**
   * The system accounts of the new account's currency. The store inserts any that are missing
   * (never overwriting), so every currency with a customer account has its clearing account.
   */
  readonly systemAccounts: readonly AccountSnapshot[];
}

export interface AccountStatusChangedDecision {
  readonly outcome: 'ACCOUNT_STATUS_CHANGED';
  readonly accountId: string;
  readonly action: AccountStatusAction;
  readonly fromStatus: AccountStatus;
  readonly toStatus: AccountStatus;
}

/** Idempotent no-op: the account already is what the command asks for. Emits nothing. */
export interface AccountUnchangedDecision {
  readonly outcome: 'ACCOUNT_UNCHANGED';
  readonly accountId: string;
  readonly detail: string;
}

export interface AccountChangeRejectedDecision {
  readonly outcome: 'ACCOUNT_CHANGE_REJECTED';
  readonly accountId: string;
  readonly reason: RejectionReason;
  readonly detail: string;
}

export type AccountDecision =
  | AccountOpenedDecision
  | AccountStatusChangedDecision
  | AccountUnchangedDecision
  | AccountChangeRejectedDecision;

export type Decision = PostingDecision | AccountDecision;

export type AccountsById = ReadonlyMap<string, AccountSnapshot>;
export type TransactionsById = ReadonlyMap<string, LedgerTransaction>;

// ---------------------------------------------------------------------------------------------
// Step policies

/**
 * What a frozen or closed customer account means for a step.
 *
 * BLOCK: the step is refused (ACCOUNT_FROZEN / ACCOUNT_CLOSED) and the saga takes the other path.
 * ALLOW: compensations. They return money that left this very account earlier in the same saga
 *   and is now sitting in clearing. A freeze stops the customer moving money; it must not stop
 *   the platform from undoing its own half-finished movement, or the money would sit in clearing
 *   forever and clearing would never net to zero for that payment. The same holds for CLOSED: we
 *   post the compensation to the closed account rather than reject it. The money belongs to that
 *   customer; a closed account with a positive balance is a visible liability that operations
 *   pays out (see TOWARD_ZERO), whereas a rejected compensation strands funds in clearing where no
 *   one owns them and the saga can never finish. (CLOSE itself requires a zero balance, so this
 *   only happens when an account was emptied by a payment still in flight.)
 * TOWARD_ZERO: adjustments. Operators may correct a FROZEN account (that is often why it was
 *   frozen). A CLOSED account accepts only adjustments that bring its balance closer to zero
 *   without crossing it, so residual funds can be paid out but the account cannot be reused.
 */
type StatusPolicy = 'BLOCK' | 'ALLOW' | 'TOWARD_ZERO';

interface PaymentStepPolicy {
  /** Side of the customer's entry; the clearing account takes the other side. */
  readonly customerDirection: Direction;
  readonly status: StatusPolicy;
  /** The earlier transaction this one follows (id derived, never looked up across partitions). */
  readonly references: { readonly step: PaymentStep; readonly sameSequence: boolean } | null;
}

const PAYMENT_STEP_POLICIES: Readonly<Record<PaymentStep, PaymentStepPolicy>> = {
  DEBIT: { customerDirection: 'DEBIT', status: 'BLOCK', references: null },
  CREDIT: {
    customerDirection: 'CREDIT',
    status: 'BLOCK',
    references: { step: 'DEBIT', sameSequence: false },
  },
  COMPENSATION: {
    customerDirection: 'CREDIT',
    status: 'ALLOW',
    references: { step: 'DEBIT', sameSequence: false },
  },
  REFUND_DEBIT: {
    customerDirection: 'DEBIT',
    status: 'BLOCK',
    references: { step: 'CREDIT', sameSequence: false },
  },
  REFUND_CREDIT: {
    customerDirection: 'CREDIT',
    status: 'BLOCK',
    references: { step: 'REFUND_DEBIT', sameSequence: true },
  },
  REFUND_COMPENSATION: {
    customerDirection: 'CREDIT',
    status: 'ALLOW',
    references: { step: 'REFUND_DEBIT', sameSequence: true },
  },
};

function referencedTransactionIdOf(command: PaymentStepCommand): string | null {
  const policy = PAYMENT_STEP_POLICIES[command.kind];
  if (policy.references === null) return null;
  const sequence = policy.references.sameSequence ? sequenceOf(command) : 0;
  return transactionIdFor(command.paymentId, policy.references.step, sequence);
}

/**
 * Steps whose referenced transaction lives in the same Kafka partition (same customer account,
 * earlier offset) are checked against it: a compensation must mirror exactly the debit it
 * reverses, and a single refund may not take back more than the payee was credited (the
 * cumulative cap is the processor's, proven again by reconciliation). CREDIT and
 * REFUND_CREDIT reference a transaction in the other party's partition; checking it would make
 * the decision depend on partition interleaving and break deterministic replay, so they are not
 * checked here (reconciliation proves clearing nets to zero instead).
 */
const VERIFIED_REFERENCE_STEPS: ReadonlySet<PaymentStep> = new Set([
  'COMPENSATION',
  'REFUND_DEBIT',
  'REFUND_COMPENSATION',
]);

export interface DecisionRequirements {
  /** Accounts to load (customer first, then the system counterparty). */
  readonly accountIds: readonly string[];
  /** Earlier transactions decide() compares against; load each if it exists. */
  readonly transactionIds: readonly string[];
}

/** What the store must load before calling decide() for this command. */
export function requirementsOf(command: LedgerCommand): DecisionRequirements {
  const customerId = commandAccountId(command);
  if (command.kind === 'CHANGE_ACCOUNT_STATUS') {
    return { accountIds: [customerId], transactionIds: [] };
  }
  if (command.kind === 'OPEN_ACCOUNT') {
    // The system accounts of the currency, so that a view built from these ids holds their real
    // balances rather than the zero-balance templates the decision carries.
    const systemIds = isCurrencyCode(command.currency)
      ? systemAccountsFor(command.currency).map((system) => system.accountId)
      : [];
    return { accountIds: [customerId, ...systemIds], transactionIds: [] };
  }
  const accountIds = isCurrencyCode(command.currency)
    ? [...new Set([customerId, systemAccountId(counterpartyKind(command), command.currency)])]
    : [customerId];
  if (command.kind === 'ADJUSTMENT') return { accountIds, transactionIds: [] };
  const wellFormed =
    isUuid(command.paymentId) && isValidSequence(command.kind, sequenceOf(command));
  const verified = wellFormed && VERIFIED_REFERENCE_STEPS.has(command.kind);
  const referenced = verified ? referencedTransactionIdOf(command) : null;
  return { accountIds, transactionIds: referenced === null ? [] : [referenced] };
}

function counterpartyKind(command: PostingCommand): SystemAccountKind {
  return command.kind === 'ADJUSTMENT' ? 'SETTLEMENT' : 'CLEARING';
}

// ---------------------------------------------------------------------------------------------
// decide

export function decide(
  command: PostingCommand,
  accounts: AccountsById,
  transactions: TransactionsById,
): PostingDecision;
export function decide(command: AccountCommand, accounts: AccountsById): AccountDecision;
export function decide(
  command: LedgerCommand,
  accounts: AccountsById,
  transactions: TransactionsById,
): Decision;
export function decide(
  command: LedgerCommand,
  accounts: AccountsById,
  transactions?: TransactionsById,
): Decision {
  switch (command.kind) {
    case 'OPEN_ACCOUNT':
      return decideOpenAccount(command, accounts);
    case 'CHANGE_ACCOUNT_STATUS':
      return decideStatusChange(command, accounts);
    default:
      invariant(transactions !== undefined, 'decide(posting) needs the referenced transactions');
      return decidePosting(command, accounts, transactions);
  }
}

/** Builds a rejection for a posting command. */
function reject(
  command: PostingCommand,
  reason: RejectionReason,
  detail: string,
): RejectedDecision {
  return {
    outcome: 'REJECTED',
    idempotency: { stepKey: stepKeyOf(command), fingerprint: commandFingerprint(command) },
    step: command.kind,
    paymentId: command.kind === 'ADJUSTMENT' ? null : command.paymentId,
    sequence: command.kind === 'ADJUSTMENT' ? 0 : sequenceOf(command),
    reason,
    detail,
    accountId: commandAccountId(command),
  };
}

/**
 * The answer to a redelivered step key whose content differs from the one that claimed it. It
 * changes nothing and is never remembered: the key keeps its original outcome.
 */
export function duplicateConflict(command: PostingCommand): RejectedDecision {
  return reject(
    command,
    'DUPLICATE_CONFLICT',
    `step key ${stepKeyOf(command)} was already used with different content`,
  );
}

// No lone UTF-16 surrogates: they would encode to U+FFFD and make two notes indistinguishable.
const LONE_SURROGATE = /\p{Cs}/u;

function malformation(command: PostingCommand): string | null {
  if (command.kind === 'ADJUSTMENT') {
    if (!isUuid(command.accountId)) return 'accountId is not a canonical UUID';
    if (!isIdempotencyKey(command.idempotencyKey)) {
      return 'idempotencyKey must be 1..255 printable ASCII characters';
    }
    if (!isDirection(command.direction)) return 'direction must be DEBIT or CREDIT';
    if (
      typeof command.reference !== 'string' ||
      command.reference.length === 0 ||
      command.reference.length > REFERENCE_LENGTH_MAX ||
      LONE_SURROGATE.test(command.reference)
    ) {
      return `reference must be 1..${REFERENCE_LENGTH_MAX} characters of well-formed text`;
    }
    if (command.referencesTransactionId !== null && !isUuid(command.referencesTransactionId)) {
      return 'referencesTransactionId is not a canonical UUID';
    }
    return null;
  }
  if (!isUuid(command.paymentId)) return 'paymentId is not a canonical UUID';
  if (!isValidSequence(command.kind, sequenceOf(command))) {
    return `sequence ${sequenceOf(command)} is not valid for ${command.kind}`;
  }
  if (command.kind === 'CREDIT' || command.kind === 'COMPENSATION') {
    const expected = transactionIdFor(command.paymentId, 'DEBIT', 0);
    if (command.debitTransactionId !== expected) {
      return `debitTransactionId ${command.debitTransactionId} is not the DEBIT of payment ${command.paymentId} (${expected})`;
    }
  }
  return null;
}

function decidePosting(
  command: PostingCommand,
  accounts: AccountsById,
  transactions: TransactionsById,
): PostingDecision {
  // Static validity of the request first, then the account's state, then balances. The order
  // is part of the contract (replay must reproduce the same reason): malformed ids/keys (OTHER),
  // AMOUNT_INVALID, unknown currency (CURRENCY_MISMATCH), ACCOUNT_UNKNOWN, not a payment party
  // (OTHER), CURRENCY_MISMATCH, ACCOUNT_CLOSED/ACCOUNT_FROZEN, referenced step mismatch (OTHER),
  // INSUFFICIENT_FUNDS, LIMIT_EXCEEDED.
  const malformed = malformation(command);
  if (malformed !== null) return reject(command, 'OTHER', malformed);
  if (!isAmountMinor(command.amountMinor)) {
    return reject(
      command,
      'AMOUNT_INVALID',
      `amountMinor must be a safe integer > 0, got ${String(command.amountMinor)}`,
    );
  }
  const amountMinor = command.amountMinor;
  if (!isCurrencyCode(command.currency)) {
    return reject(
      command,
      'CURRENCY_MISMATCH',
      `${JSON.stringify(command.currency)} is not an ISO 4217 currency with minor units`,
    );
  }
  const currency = command.currency;

  const customerId = commandAccountId(command);
  const customer = accounts.get(customerId);
  if (customer === undefined) {
    return reject(command, 'ACCOUNT_UNKNOWN', `account ${customerId} does not exist`);
  }
  assertLoaded(customer, customerId);

  const counterpartyId = systemAccountId(counterpartyKind(command), currency);
  if (command.kind === 'ADJUSTMENT') {
    if (
      customer.isSystem &&
      customer.accountId === systemAccountId('SETTLEMENT', customer.currency)
    ) {
      return reject(
        command,
        'OTHER',
        'the settlement account is the other side of every adjustment',
      );
    }
  } else if (customer.isSystem || customer.type !== 'LIABILITY') {
    // Payment parties are customer wallets: the platform owes them (LIABILITY), so DEBIT lowers
    // and CREDIT raises what they hold, and a compensation can never push one below its floor.
    return reject(command, 'OTHER', `account ${customerId} cannot be a payment party`);
  }
  if (customer.currency !== currency) {
    return reject(
      command,
      'CURRENCY_MISMATCH',
      `account ${customerId} holds ${customer.currency}, command is in ${currency}`,
    );
  }

  const customerDirection =
    command.kind === 'ADJUSTMENT'
      ? command.direction
      : PAYMENT_STEP_POLICIES[command.kind].customerDirection;
  const customerDeltaMinor = balanceDelta(customer, customerDirection, amountMinor);
  const statusPolicy: StatusPolicy =
    command.kind === 'ADJUSTMENT' ? 'TOWARD_ZERO' : PAYMENT_STEP_POLICIES[command.kind].status;
  const statusRejection = checkStatus(command, customer, statusPolicy, customerDeltaMinor);
  if (statusRejection !== null) return statusRejection;

  if (command.kind !== 'ADJUSTMENT' && VERIFIED_REFERENCE_STEPS.has(command.kind)) {
    const mismatch = referenceMismatch(command, transactions);
    if (mismatch !== null) return reject(command, 'OTHER', mismatch);
  }

  if (breachesFloor(customer, customerDeltaMinor)) {
    return reject(
      command,
      'INSUFFICIENT_FUNDS',
      `account ${customerId} balance ${customer.balanceMinor} minus ${amountMinor} is below its floor ${String(customer.balanceFloorMinor)}`,
    );
  }

  const counterparty = accounts.get(counterpartyId);
  // System accounts are created with the first customer account of their currency (see
  // AccountOpenedDecision), so a missing one means the store is broken, not the command.
  invariant(
    counterparty !== undefined,
    () => `system account ${counterpartyId} (${currency}) is missing`,
  );
  assertLoaded(counterparty, counterpartyId);
  invariant(counterparty.isSystem, () => `account ${counterpartyId} should be a system account`);

  const counterpartyDeltaMinor = balanceDelta(
    counterparty,
    opposite(customerDirection),
    amountMinor,
  );
  for (const [account, deltaMinor] of [
    [customer, customerDeltaMinor],
    [counterparty, counterpartyDeltaMinor],
  ] as const) {
    if (tryAddMinor(account.balanceMinor, deltaMinor) === null) {
      return reject(
        command,
        'LIMIT_EXCEEDED',
        `balance of account ${account.accountId} would leave the safe integer range`,
      );
    }
  }

  const transaction = buildTransaction(
    command,
    amountMinor,
    currency,
    customerDirection,
    customerId,
    counterpartyId,
  );
  const balanceChanges = new Map<string, number>();
  for (const entry of transaction.entries) {
    const account = entry.accountId === customerId ? customer : counterparty;
    balanceChanges.set(entry.accountId, balanceDelta(account, entry.direction, entry.amountMinor));
  }
  const posted: PostedDecision = {
    outcome: 'POSTED',
    idempotency: { stepKey: stepKeyOf(command), fingerprint: commandFingerprint(command) },
    transaction,
    balanceChanges,
  };
  assertPosted(posted, accounts);
  return posted;
}

function assertLoaded(account: AccountSnapshot, accountId: string): void {
  invariant(
    account.accountId === accountId,
    () => `accounts map key ${accountId} holds ${account.accountId}`,
  );
  assertAccountSnapshot(account);
}

function checkStatus(
  command: PostingCommand,
  account: AccountSnapshot,
  policy: StatusPolicy,
  deltaMinor: number,
): RejectedDecision | null {
  if (account.status === 'OPEN' || policy === 'ALLOW') return null;
  if (account.status === 'FROZEN') {
    if (policy === 'TOWARD_ZERO') return null;
    return reject(command, 'ACCOUNT_FROZEN', `account ${account.accountId} is frozen`);
  }
  if (policy === 'TOWARD_ZERO' && movesTowardZero(account.balanceMinor, deltaMinor)) return null;
  return reject(
    command,
    'ACCOUNT_CLOSED',
    policy === 'TOWARD_ZERO'
      ? `account ${account.accountId} is closed; only adjustments that bring its balance toward zero are accepted`
      : `account ${account.accountId} is closed`,
  );
}

function movesTowardZero(balanceMinor: number, deltaMinor: number): boolean {
  const next = balanceMinor + deltaMinor; // both safe and of opposite sign below, so exact
  if (balanceMinor > 0) return deltaMinor < 0 && next >= 0;
  if (balanceMinor < 0) return deltaMinor > 0 && next <= 0;
  return false;
}

/** The entry of `transaction` on `direction`; payment-step transactions have exactly one. */
function entryOn(transaction: LedgerTransaction, direction: Direction): LedgerEntry | undefined {
  return transaction.entries.find((entry) => entry.direction === direction);
}

function referenceMismatch(
  command: PaymentStepCommand,
  transactions: TransactionsById,
): string | null {
  const policy = PAYMENT_STEP_POLICIES[command.kind];
  const referencedId = referencedTransactionIdOf(command);
  invariant(policy.references !== null && referencedId !== null, 'verified steps reference a step');
  const referenced = transactions.get(referencedId);
  const what = `${policy.references.step} of payment ${command.paymentId}`;
  if (referenced === undefined) return `no posted ${what} to follow`;
  invariant(
    referenced.transactionId === referencedId,
    () => `transactions map key ${referencedId} is wrong`,
  );
  // The referenced step touched the same customer account on the side opposite to this one.
  const customerEntry = entryOn(referenced, opposite(policy.customerDirection));
  if (customerEntry === undefined || customerEntry.accountId !== commandAccountId(command)) {
    return `${what} was not posted against account ${commandAccountId(command)}`;
  }
  if (referenced.currency !== command.currency) {
    return `${what} is in ${referenced.currency}, not ${command.currency}`;
  }
  if (command.kind === 'REFUND_DEBIT') {
    return command.amountMinor > customerEntry.amountMinor
      ? `refund of ${command.amountMinor} exceeds the ${customerEntry.amountMinor} credited by ${what}`
      : null;
  }
  return command.amountMinor !== customerEntry.amountMinor
    ? `a compensation must return exactly ${customerEntry.amountMinor}, the amount of ${what}`
    : null;
}

function buildTransaction(
  command: PostingCommand,
  amountMinor: number,
  currency: CurrencyCode,
  customerDirection: Direction,
  customerId: string,
  counterpartyId: string,
): LedgerTransaction {
  const transactionId =
    command.kind === 'ADJUSTMENT'
      ? adjustmentTransactionId(command.accountId, command.idempotencyKey)
      : transactionIdFor(command.paymentId, command.kind, sequenceOf(command));
  const [debitAccountId, creditAccountId] =
    customerDirection === 'DEBIT' ? [customerId, counterpartyId] : [counterpartyId, customerId];
  // Canonical entry order: DEBIT at index 0, CREDIT at index 1 (entry ids depend on it).
  const entries: readonly LedgerEntry[] = Object.freeze([
    Object.freeze({
      entryId: entryIdFor(transactionId, 0),
      accountId: debitAccountId,
      direction: 'DEBIT',
      amountMinor,
      currency,
    } as const),
    Object.freeze({
      entryId: entryIdFor(transactionId, 1),
      accountId: creditAccountId,
      direction: 'CREDIT',
      amountMinor,
      currency,
    } as const),
  ]);
  if (command.kind === 'ADJUSTMENT') {
    return Object.freeze({
      transactionId,
      paymentId: null,
      step: 'ADJUSTMENT',
      sequence: 0,
      currency,
      referencesTransactionId: command.referencesTransactionId,
      reference: command.reference,
      entries,
    });
  }
  return Object.freeze({
    transactionId,
    paymentId: command.paymentId,
    step: command.kind,
    sequence: sequenceOf(command),
    currency,
    referencesTransactionId: referencedTransactionIdOf(command),
    reference: null,
    entries,
  });
}

// ---------------------------------------------------------------------------------------------
// Account commands

function rejectAccountChange(
  accountId: string,
  reason: RejectionReason,
  detail: string,
): AccountChangeRejectedDecision {
  return { outcome: 'ACCOUNT_CHANGE_REJECTED', accountId, reason, detail };
}

function decideOpenAccount(command: OpenAccount, accounts: AccountsById): AccountDecision {
  const { accountId, type, currency, balanceFloorMinor } = command;
  if (!isUuid(accountId)) {
    return rejectAccountChange(accountId, 'OTHER', 'accountId is not a canonical UUID');
  }
  if (!isAccountType(type)) {
    return rejectAccountChange(
      accountId,
      'OTHER',
      `${JSON.stringify(type)} is not an account type`,
    );
  }
  if (!isCurrencyCode(currency)) {
    return rejectAccountChange(
      accountId,
      'OTHER',
      `${JSON.stringify(currency)} is not an ISO 4217 currency with minor units`,
    );
  }
  if (!isBalanceMinor(balanceFloorMinor) || balanceFloorMinor > 0) {
    return rejectAccountChange(accountId, 'OTHER', 'balanceFloorMinor must be a safe integer <= 0');
  }
  if (isSystemAccountId(accountId)) {
    return rejectAccountChange(accountId, 'OTHER', 'accountId is reserved for a system account');
  }
  const existing = accounts.get(accountId);
  if (existing !== undefined) {
    assertLoaded(existing, accountId);
    const same =
      existing.type === type &&
      existing.currency === currency &&
      existing.balanceFloorMinor === balanceFloorMinor;
    return same
      ? {
          outcome: 'ACCOUNT_UNCHANGED',
          accountId,
          detail: 'account already open with these attributes',
        }
      : rejectAccountChange(
          accountId,
          'DUPLICATE_CONFLICT',
          'account exists with different attributes',
        );
  }
  const systemAccounts = systemAccountsFor(currency);
  const account: AccountSnapshot = {
    accountId,
    type,
    currency,
    status: 'OPEN',
    balanceFloorMinor,
    balanceMinor: 0,
    isSystem: false,
  };
  assertAccountSnapshot(account);
  return { outcome: 'ACCOUNT_OPENED', account, systemAccounts };
}

const STATUS_AFTER: Readonly<Record<AccountStatusAction, AccountStatus>> = {
  FREEZE: 'FROZEN',
  UNFREEZE: 'OPEN',
  CLOSE: 'CLOSED',
};

function decideStatusChange(command: ChangeAccountStatus, accounts: AccountsById): AccountDecision {
  const { accountId, action } = command;
  if (!Object.hasOwn(STATUS_AFTER, action)) {
    return rejectAccountChange(
      accountId,
      'OTHER',
      `${JSON.stringify(action)} is not a status action`,
    );
  }
  const account = accounts.get(accountId);
  if (account === undefined) {
    return rejectAccountChange(accountId, 'ACCOUNT_UNKNOWN', `account ${accountId} does not exist`);
  }
  assertLoaded(account, accountId);
  if (account.isSystem) {
    return rejectAccountChange(accountId, 'OTHER', 'system accounts are always open');
  }
  const toStatus = STATUS_AFTER[action];
  if (account.status === toStatus) {
    return { outcome: 'ACCOUNT_UNCHANGED', accountId, detail: `account is already ${toStatus}` };
  }
  // CLOSED is terminal: reopening would revive an identity whose balance history was settled.
  if (account.status === 'CLOSED') {
    return rejectAccountChange(accountId, 'ACCOUNT_CLOSED', `account ${accountId} is closed`);
  }
  if (action === 'UNFREEZE' && account.status !== 'FROZEN') {
    return { outcome: 'ACCOUNT_UNCHANGED', accountId, detail: 'account is not frozen' };
  }
  if (action === 'CLOSE' && account.balanceMinor !== 0) {
    // Closing with money on the account would strand it; pay it out (adjustment) first.
    return rejectAccountChange(
      accountId,
      'BALANCE_NOT_ZERO',
      `account ${accountId} has balance ${account.balanceMinor}; only a zero balance can be closed`,
    );
  }
  return {
    outcome: 'ACCOUNT_STATUS_CHANGED',
    accountId,
    action,
    fromStatus: account.status,
    toStatus,
  };
}

// ---------------------------------------------------------------------------------------------
// Invariants (production assertions)

/**
 * A transaction's entries balance: at least two, one valid currency, every amount a safe integer
 * > 0, every direction DEBIT or CREDIT, distinct entry ids, and sum(DEBIT) == sum(CREDIT).
 * Call before writing a posting and after reading one back.
 */
export function assertBalanced(entries: readonly LedgerEntry[]): void {
  invariant(
    entries.length >= 2,
    () => `a transaction needs at least two entries, got ${entries.length}`,
  );
  const first = entries[0];
  invariant(first !== undefined && isCurrencyCode(first.currency), 'entries need a valid currency');
  const currency = first.currency;
  const debitsMinor: number[] = [];
  const creditsMinor: number[] = [];
  const entryIds = new Set<string>();
  for (const entry of entries) {
    invariant(entry.currency === currency, () => `entries mix ${currency} and ${entry.currency}`);
    invariant(
      isAmountMinor(entry.amountMinor),
      () => `entry ${entry.entryId} amount ${entry.amountMinor} is not a safe integer > 0`,
    );
    invariant(isDirection(entry.direction), () => `entry ${entry.entryId} has no direction`);
    invariant(!entryIds.has(entry.entryId), () => `entry id ${entry.entryId} repeats`);
    entryIds.add(entry.entryId);
    (entry.direction === 'DEBIT' ? debitsMinor : creditsMinor).push(entry.amountMinor);
  }
  const debitMinor = sumMinor(debitsMinor);
  const creditMinor = sumMinor(creditsMinor);
  invariant(
    debitMinor === creditMinor,
    () => `debits ${debitMinor} != credits ${creditMinor} in ${currency}`,
  );
}

// A posting is checked where it is decided, applied to the batch and written: a transaction
// that passed once and cannot change (frozen, entries too) is not re-derived (SHA-1) each time.
const wellFormed = new WeakSet<LedgerTransaction>();

function isDeeplyFrozen(transaction: LedgerTransaction): boolean {
  return (
    Object.isFrozen(transaction) &&
    Object.isFrozen(transaction.entries) &&
    transaction.entries.every((entry) => Object.isFrozen(entry))
  );
}

/**
 * Everything a stored transaction must satisfy, beyond balance: entries in its currency, entry
 * ids derived from its id and position, and for payment steps exactly one DEBIT (index 0) and
 * one CREDIT (index 1) on two different accounts, with the id derived from the step key.
 */
export function assertTransactionWellFormed(transaction: LedgerTransaction): void {
  if (wellFormed.has(transaction)) return;
  const id = transaction.transactionId;
  assertBalanced(transaction.entries);
  transaction.entries.forEach((entry, index) => {
    invariant(
      entry.currency === transaction.currency,
      () => `transaction ${id}: entry currency differs`,
    );
    invariant(
      entry.entryId === entryIdFor(id, index),
      () => `transaction ${id}: entry ${index} id not derived`,
    );
  });
  const [debit, credit] = transaction.entries;
  invariant(
    transaction.entries.length === 2 &&
      debit?.direction === 'DEBIT' &&
      credit?.direction === 'CREDIT' &&
      debit.accountId !== credit.accountId,
    () => `transaction ${id}: a step is one DEBIT then one CREDIT on two accounts`,
  );
  if (transaction.step === 'ADJUSTMENT') {
    invariant(
      transaction.paymentId === null && transaction.sequence === 0,
      () => `adjustment ${id} has payment fields`,
    );
  } else {
    invariant(transaction.paymentId !== null, () => `transaction ${id} has no paymentId`);
    invariant(
      id === transactionIdFor(transaction.paymentId, transaction.step, transaction.sequence),
      () => `transaction ${id} id is not derived from its step key`,
    );
  }
  if (isDeeplyFrozen(transaction)) wellFormed.add(transaction);
}

function assertPosted(posted: PostedDecision, accounts: AccountsById): void {
  const { transaction, balanceChanges } = posted;
  assertTransactionWellFormed(transaction);
  const before = new Map<string, AccountSnapshot>();
  const after = new Map<string, AccountSnapshot>();
  for (const [accountId, deltaMinor] of balanceChanges) {
    const account = accounts.get(accountId);
    invariant(account !== undefined, () => `balance change for unloaded account ${accountId}`);
    before.set(accountId, account);
    after.set(accountId, { ...account, balanceMinor: addMinor(account.balanceMinor, deltaMinor) });
  }
  assertProjectionMoves(before, after, transaction);
  for (const account of after.values()) {
    const previous = before.get(account.accountId);
    invariant(
      previous === undefined ||
        account.balanceFloorMinor === null ||
        account.balanceMinor >= previous.balanceMinor ||
        account.balanceMinor >= account.balanceFloorMinor,
      () => `posting would take account ${account.accountId} below its floor`,
    );
  }
}

/**
 * The balance projection moved by exactly the posted amounts: for every account in either map,
 * after - before == the sum of this transaction's entries on it (0 for untouched accounts), and
 * nothing but the balance changed. `before`/`after` hold at least every account the entries touch.
 */
export function assertProjectionMoves(
  before: AccountsById,
  after: AccountsById,
  transaction: LedgerTransaction,
): void {
  const expectedMinor = new Map<string, number>();
  for (const entry of transaction.entries) {
    const account = before.get(entry.accountId);
    invariant(account !== undefined, () => `entry account ${entry.accountId} missing from before`);
    invariant(
      account.currency === entry.currency,
      () => `entry on ${entry.accountId} in a foreign currency`,
    );
    const deltaMinor = balanceDelta(account, entry.direction, entry.amountMinor);
    expectedMinor.set(
      entry.accountId,
      addMinor(expectedMinor.get(entry.accountId) ?? 0, deltaMinor),
    );
  }
  for (const accountId of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(accountId);
    const is = after.get(accountId);
    invariant(
      was !== undefined && is !== undefined,
      () => `account ${accountId} appeared or vanished`,
    );
    const movedMinor = subMinor(is.balanceMinor, was.balanceMinor);
    const wantMinor = expectedMinor.get(accountId) ?? 0;
    invariant(
      movedMinor === wantMinor,
      () => `account ${accountId} moved ${movedMinor}, entries say ${wantMinor}`,
    );
    invariant(
      is.accountId === was.accountId &&
        is.type === was.type &&
        is.currency === was.currency &&
        is.status === was.status &&
        is.balanceFloorMinor === was.balanceFloorMinor &&
        is.isSystem === was.isSystem,
      () => `posting changed more than the balance of account ${accountId}`,
    );
  }
}
