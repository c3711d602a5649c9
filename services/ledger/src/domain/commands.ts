import { InvariantViolation } from '@ledgerline/platform/invariant';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { hash } from 'node:crypto';

import type { AccountType, Direction } from './accounts.js';
import { adjustmentStepKey, isIdempotencyKey, isUuid, paymentStepKey } from './ids.js';
import { isValidSequence, type PaymentStep, type PostingStep } from './steps.js';

// Commands are what the ledger is asked to do, as plain values. Fields that arrive from outside
// (ids, currency, amounts) are deliberately loose (string, number): decide() validates them and
// answers with a rejection, because a command that cannot be trusted must still get an outcome.
// Enums that Avro already constrains (AccountType, Direction, action) are typed.

/** Step 2: DEBIT payer / CREDIT clearing. */
export interface DebitStep {
  readonly kind: 'DEBIT';
  readonly paymentId: string;
  readonly payerAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
}

/** Step 3: DEBIT clearing / CREDIT payee; references the DEBIT transaction. */
export interface CreditStep {
  readonly kind: 'CREDIT';
  readonly paymentId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly debitTransactionId: string;
}

/** Step 4: DEBIT clearing / CREDIT payer after the credit was rejected; mirrors the DEBIT. */
export interface Compensation {
  readonly kind: 'COMPENSATION';
  readonly paymentId: string;
  readonly payerAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly debitTransactionId: string;
}

/** Refund n of a completed payment, first leg: DEBIT payee / CREDIT clearing. */
export interface RefundDebit {
  readonly kind: 'REFUND_DEBIT';
  readonly paymentId: string;
  readonly sequence: number;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
}

/** Refund n, second leg: DEBIT clearing / CREDIT payer. */
export interface RefundCredit {
  readonly kind: 'REFUND_CREDIT';
  readonly paymentId: string;
  readonly sequence: number;
  readonly payerAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
}

/** Refund n, REFUND_CREDIT was rejected: DEBIT clearing / CREDIT payee; mirrors REFUND_DEBIT. */
export interface RefundCompensation {
  readonly kind: 'REFUND_COMPENSATION';
  readonly paymentId: string;
  readonly sequence: number;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
}

/**
 * Manual funding or correction against the currency's SETTLEMENT account. direction is the side
 * of accountId: CREDIT funds a customer (DEBIT settlement / CREDIT customer), DEBIT pays out.
 */
export interface Adjustment {
  readonly kind: 'ADJUSTMENT';
  readonly accountId: string;
  readonly direction: Direction;
  readonly amountMinor: number;
  readonly currency: string;
  readonly idempotencyKey: string;
  /** Why: ticket number or operator note, kept on the transaction. */
  readonly reference: string;
  /** The transaction this adjustment corrects, if any. */
  readonly referencesTransactionId: string | null;
}

export interface OpenAccount {
  readonly kind: 'OPEN_ACCOUNT';
  readonly accountId: string;
  readonly type: AccountType;
  readonly currency: string;
  /** Overdraft policy: a safe integer <= 0; 0 = no overdraft. */
  readonly balanceFloorMinor: number;
}

/** What POST /v1/accounts/{accountId}/status asks for (the ledger contract's own enum). */
export type AccountStatusAction = components['schemas']['ChangeAccountStatusRequest']['action'];

export interface ChangeAccountStatus {
  readonly kind: 'CHANGE_ACCOUNT_STATUS';
  readonly accountId: string;
  readonly action: AccountStatusAction;
}

export type PaymentStepCommand =
  DebitStep | CreditStep | Compensation | RefundDebit | RefundCredit | RefundCompensation;

/** Commands that produce a ledger transaction (or a rejection) under an idempotency key. */
export type PostingCommand = PaymentStepCommand | Adjustment;

/** Commands that change an account's existence or status and produce no entries. */
export type AccountCommand = OpenAccount | ChangeAccountStatus;

export type LedgerCommand = PostingCommand | AccountCommand;

export function isPostingCommand(command: LedgerCommand): command is PostingCommand {
  return command.kind !== 'OPEN_ACCOUNT' && command.kind !== 'CHANGE_ACCOUNT_STATUS';
}

export function isPaymentStepCommand(command: LedgerCommand): command is PaymentStepCommand {
  return isPostingCommand(command) && command.kind !== 'ADJUSTMENT';
}

export function stepOf(command: PostingCommand): PostingStep {
  return command.kind;
}

export function sequenceOf(command: PaymentStepCommand): number {
  switch (command.kind) {
    case 'REFUND_DEBIT':
    case 'REFUND_CREDIT':
    case 'REFUND_COMPENSATION':
      return command.sequence;
    case 'DEBIT':
    case 'CREDIT':
    case 'COMPENSATION':
      return 0;
  }
}

/**
 * The one customer (non-clearing) account a command touches: the Kafka key of ledger.commands,
 * so every decision about an account is made in that account's partition, in offset order.
 */
export function commandAccountId(command: LedgerCommand): string {
  switch (command.kind) {
    case 'DEBIT':
    case 'COMPENSATION':
    case 'REFUND_CREDIT':
      return command.payerAccountId;
    case 'CREDIT':
    case 'REFUND_DEBIT':
    case 'REFUND_COMPENSATION':
      return command.payeeAccountId;
    case 'ADJUSTMENT':
    case 'OPEN_ACCOUNT':
    case 'CHANGE_ACCOUNT_STATUS':
      return command.accountId;
  }
}

/**
 * Idempotency key of a posting command. Payment steps: `${paymentId}:${step}:${sequence}`;
 * adjustments: `adjustment:${accountId}:${idempotencyKey}`: the UUIDv5 names of their
 * transactions (ids.ts). A command whose key parts are malformed still needs a key, so that its
 * rejection is remembered and re-emitted on redelivery; it gets `malformed:<JSON of the parts>`,
 * which is injective and cannot collide with a well-formed key (those start with a hex digit or
 * with 'adjustment:').
 */
export function stepKeyOf(command: PostingCommand): string {
  if (command.kind === 'ADJUSTMENT') {
    const { accountId, idempotencyKey } = command;
    return isUuid(accountId) && isIdempotencyKey(idempotencyKey)
      ? adjustmentStepKey(accountId, idempotencyKey)
      : `malformed:${JSON.stringify([command.kind, accountId, idempotencyKey])}`;
  }
  const step: PaymentStep = command.kind;
  const sequence = sequenceOf(command);
  return isUuid(command.paymentId) && isValidSequence(step, sequence)
    ? paymentStepKey(command.paymentId, step, sequence)
    : `malformed:${JSON.stringify([step, command.paymentId, canonicalNumber(sequence)])}`;
}

function canonicalNumber(value: number): string | number {
  return Number.isFinite(value) ? value : `#${String(value)}`;
}

type FieldsOf<K extends PostingCommand['kind']> = readonly (keyof Extract<
  PostingCommand,
  { kind: K }
>)[];

// The content of each command kind, listed explicitly (not Object.keys) so that an adapter passing
// a richer object (an Avro record with envelope fields) cannot change a fingerprint. Every field of
// the domain type is content: reusing a key with any difference is a conflict.
const CONTENT_FIELDS: { readonly [K in PostingCommand['kind']]: FieldsOf<K> } = {
  DEBIT: ['kind', 'paymentId', 'payerAccountId', 'amountMinor', 'currency'],
  CREDIT: ['kind', 'paymentId', 'payeeAccountId', 'amountMinor', 'currency', 'debitTransactionId'],
  COMPENSATION: [
    'kind',
    'paymentId',
    'payerAccountId',
    'amountMinor',
    'currency',
    'debitTransactionId',
  ],
  REFUND_DEBIT: ['kind', 'paymentId', 'sequence', 'payeeAccountId', 'amountMinor', 'currency'],
  REFUND_CREDIT: ['kind', 'paymentId', 'sequence', 'payerAccountId', 'amountMinor', 'currency'],
  REFUND_COMPENSATION: [
    'kind',
    'paymentId',
    'sequence',
    'payeeAccountId',
    'amountMinor',
    'currency',
  ],
  ADJUSTMENT: [
    'kind',
    'accountId',
    'direction',
    'amountMinor',
    'currency',
    'idempotencyKey',
    'reference',
    'referencesTransactionId',
  ],
};

// Number rendering is explicit so that NaN/Infinity (invalid input that is still fingerprinted)
// cannot collide with null, and -0 renders as 0. undefined (a field an adapter forgot) renders as
// null, which is what the Avro null branch would have said.
function canonicalValue(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'number') {
    return JSON.stringify(canonicalNumber(value === 0 ? 0 : value));
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  throw new InvariantViolation(`command field of type ${typeof value} has no canonical form`);
}

/**
 * Canonical content of a command: its fields (kind included) as JSON with keys sorted. Two
 * deliveries of a step are "the same" exactly when these strings are equal.
 */
export function canonicalCommandContent(command: PostingCommand): string {
  const fields: readonly string[] = CONTENT_FIELDS[command.kind];
  const values: Readonly<Record<string, unknown>> = { ...command };
  const members = [...fields]
    .sort()
    .map((field) => `${JSON.stringify(field)}:${canonicalValue(values[field])}`);
  return `{${members.join(',')}}`;
}

/** Version prefix of the fingerprint: bump it if canonicalCommandContent ever changes meaning. */
const FINGERPRINT_DOMAIN = 'ledgerline.command-fingerprint.v1\n';

/** sha256 (hex) of the canonical content: stored with the step key to detect conflicting reuse. */
export function commandFingerprint(command: PostingCommand): string {
  return hash('sha256', FINGERPRINT_DOMAIN + canonicalCommandContent(command), 'hex');
}

/** Envelope fields the outcome events and the store carry along with the domain command. */
export interface CommandMeta {
  readonly commandId: string;
  readonly correlationId: string;
  /** Kafka message timestamp (LogAppendTime): posted_at, so replay writes the same instant. */
  readonly postedAt: Date;
  /** Present for OPEN_ACCOUNT. */
  readonly ownerRef: string | null;
  /** Present for ADJUSTMENT: the adjustment id is its idempotency key. */
  readonly adjustmentId: string | null;
  /** Present for refund steps. */
  readonly refundId: string | null;
  /** Operator note of an ADJUSTMENT or a status change. */
  readonly reason: string | null;
}

export interface MappedCommand {
  readonly command: LedgerCommand;
  readonly meta: CommandMeta;
}
