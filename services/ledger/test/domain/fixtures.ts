// Builders for ledger domain tests: readable commands and small ledgers.
import type { AccountType, Direction } from '../../src/domain/accounts.js';
import type {
  AccountStatusAction,
  Adjustment,
  ChangeAccountStatus,
  Compensation,
  CreditStep,
  DebitStep,
  LedgerCommand,
  OpenAccount,
  RefundCompensation,
  RefundCredit,
  RefundDebit,
} from '../../src/domain/commands.js';
import type { CurrencyCode } from '../../src/domain/currencies.js';
import { NAMESPACE_URL, transactionIdFor, uuidv5 } from '../../src/domain/ids.js';
import {
  emptyLedgerState,
  handleCommand,
  type LedgerState,
} from '../../src/domain/ledger-state.js';
import type { Decision, PostedDecision, RejectedDecision } from '../../src/domain/posting.js';

/** Stable test ids: uuidv5 of a readable name. */
export function testId(name: string): string {
  return uuidv5(`urn:ledgerline-test:${name}`, NAMESPACE_URL);
}

export const ALICE = testId('account:alice'); // payer
export const BOB = testId('account:bob'); // payee
export const CAROL = testId('account:carol');
export const NOBODY = testId('account:nobody'); // never opened
export const PAYMENT = testId('payment:1');
export const PAYMENT_2 = testId('payment:2');

export function openAccount(
  accountId: string,
  options: { currency?: string; balanceFloorMinor?: number; type?: AccountType } = {},
): OpenAccount {
  return {
    kind: 'OPEN_ACCOUNT',
    accountId,
    type: options.type ?? 'LIABILITY',
    currency: options.currency ?? 'EUR',
    balanceFloorMinor: options.balanceFloorMinor ?? 0,
  };
}

export function adjustment(
  accountId: string,
  direction: Direction,
  amountMinor: number,
  options: {
    currency?: string;
    idempotencyKey?: string;
    reference?: string;
    referencesTransactionId?: string | null;
  } = {},
): Adjustment {
  return {
    kind: 'ADJUSTMENT',
    accountId,
    direction,
    amountMinor,
    currency: options.currency ?? 'EUR',
    idempotencyKey: options.idempotencyKey ?? `adj-${direction}-${amountMinor}`,
    reference: options.reference ?? 'TICKET-1',
    referencesTransactionId: options.referencesTransactionId ?? null,
  };
}

/** Funding: CREDIT the customer, DEBIT settlement. */
export function fund(
  accountId: string,
  amountMinor: number,
  currency = 'EUR',
  idempotencyKey?: string,
): Adjustment {
  return adjustment(accountId, 'CREDIT', amountMinor, {
    currency,
    idempotencyKey: idempotencyKey ?? `fund-${amountMinor}`,
  });
}

export function debitStep(
  paymentId: string,
  payerAccountId: string,
  amountMinor: number,
  currency = 'EUR',
): DebitStep {
  return { kind: 'DEBIT', paymentId, payerAccountId, amountMinor, currency };
}

export function creditStep(
  paymentId: string,
  payeeAccountId: string,
  amountMinor: number,
  currency = 'EUR',
): CreditStep {
  return {
    kind: 'CREDIT',
    paymentId,
    payeeAccountId,
    amountMinor,
    currency,
    debitTransactionId: transactionIdFor(paymentId, 'DEBIT', 0),
  };
}

export function compensation(
  paymentId: string,
  payerAccountId: string,
  amountMinor: number,
  currency = 'EUR',
): Compensation {
  return {
    kind: 'COMPENSATION',
    paymentId,
    payerAccountId,
    amountMinor,
    currency,
    debitTransactionId: transactionIdFor(paymentId, 'DEBIT', 0),
  };
}

export function refundDebit(
  paymentId: string,
  sequence: number,
  payeeAccountId: string,
  amountMinor: number,
  currency = 'EUR',
): RefundDebit {
  return { kind: 'REFUND_DEBIT', paymentId, sequence, payeeAccountId, amountMinor, currency };
}

export function refundCredit(
  paymentId: string,
  sequence: number,
  payerAccountId: string,
  amountMinor: number,
  currency = 'EUR',
): RefundCredit {
  return { kind: 'REFUND_CREDIT', paymentId, sequence, payerAccountId, amountMinor, currency };
}

export function refundCompensation(
  paymentId: string,
  sequence: number,
  payeeAccountId: string,
  amountMinor: number,
  currency = 'EUR',
): RefundCompensation {
  return {
    kind: 'REFUND_COMPENSATION',
    paymentId,
    sequence,
    payeeAccountId,
    amountMinor,
    currency,
  };
}

export function changeStatus(accountId: string, action: AccountStatusAction): ChangeAccountStatus {
  return { kind: 'CHANGE_ACCOUNT_STATUS', accountId, action };
}

export interface Run {
  readonly state: LedgerState;
  readonly decisions: readonly Decision[];
}

/** Feeds commands through handleCommand, in order. */
export function run(
  commands: readonly LedgerCommand[],
  state: LedgerState = emptyLedgerState(),
): Run {
  const decisions: Decision[] = [];
  let current = state;
  for (const command of commands) {
    const result = handleCommand(current, command);
    decisions.push(result.decision);
    current = result.state;
  }
  return { state: current, decisions };
}

/** Alice (EUR, floor 0) funded with 10_000; Bob and Carol (EUR, floor 0) empty. */
export function aliceBobCarol(aliceFundsMinor = 10_000): LedgerState {
  return run([
    openAccount(ALICE),
    openAccount(BOB),
    openAccount(CAROL),
    fund(ALICE, aliceFundsMinor),
  ]).state;
}

export function balanceOf(state: LedgerState, accountId: string): number {
  const account = state.accounts.get(accountId);
  if (account === undefined) throw new Error(`no account ${accountId}`);
  return account.balanceMinor;
}

export function expectPosted(decision: Decision): PostedDecision {
  if (decision.outcome !== 'POSTED') {
    throw new Error(`expected POSTED, got ${JSON.stringify(decision)}`);
  }
  return decision;
}

export function expectRejected(decision: Decision): RejectedDecision {
  if (decision.outcome !== 'REJECTED') {
    throw new Error(`expected REJECTED, got ${decision.outcome}`);
  }
  return decision;
}

export const EUR: CurrencyCode = 'EUR';
export const JPY: CurrencyCode = 'JPY';
