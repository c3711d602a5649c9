// Business rules for payment and refund requests. The body has already passed the JSON schema
// (shape, types, unknown fields); these rules judge values. Every rule is checked and every
// violation reported, so a client fixes its request in one round trip.

import { invariant } from '@ledgerline/platform/invariant';
import { Buffer } from 'node:buffer';

import { refundableSagaStates, refundCountMax, type SagaState } from './model.js';
import type { Saga } from './saga.js';

// One RFC 9457 `errors[]` member: `pointer` is an RFC 6901 JSON Pointer into the request body;
// the empty pointer '' means the request as a whole (for refunds: the payment's state).
export interface Violation {
  readonly pointer: string;
  readonly code: ViolationCode;
  readonly message: string;
}

export type ViolationCode =
  | 'AMOUNT_NOT_INTEGER'
  | 'AMOUNT_NOT_POSITIVE'
  | 'AMOUNT_TOO_LARGE'
  | 'CURRENCY_UNKNOWN'
  | 'ID_MALFORMED'
  | 'SAME_PAYER_AND_PAYEE'
  | 'DESCRIPTION_TOO_LONG'
  | 'METADATA_TOO_MANY_KEYS'
  | 'METADATA_KEY_EMPTY'
  | 'METADATA_KEY_TOO_LONG'
  | 'METADATA_VALUE_TOO_LONG'
  | 'METADATA_TOO_LARGE'
  | 'PAYMENT_NOT_REFUNDABLE'
  | 'REFUND_COUNT_EXCEEDED'
  | 'REFUND_EXCEEDS_REMAINING';

export interface PaymentRequest {
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly description?: string | null;
  readonly metadata?: Readonly<Record<string, string>> | null;
}

export interface PaymentRulesConfig {
  readonly amountMinorMax: number;
  // Injected so that the ISO 4217 table lives in one place (the shared platform package).
  readonly isKnownCurrency: (code: string) => boolean;
}

// Lengths count Unicode code points, as JSON Schema `maxLength` does.
export const paymentLimits = {
  descriptionLengthMax: 500,
  metadataKeyCountMax: 20,
  metadataKeyLengthMax: 64,
  metadataValueLengthMax: 256,
  // Sum of the UTF-8 bytes of every key and value.
  metadataSizeBytesMax: 4096,
} as const;

// Canonical textual UUID (RFC 9562), any version, either case; the nil UUID is no account.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uuidNil = '00000000-0000-0000-0000-000000000000';

export function isUuid(value: string): boolean {
  return uuidPattern.test(value) && value !== uuidNil;
}

export function validatePaymentRequest(
  request: PaymentRequest,
  config: PaymentRulesConfig,
): Violation[] {
  invariant(
    Number.isSafeInteger(config.amountMinorMax) && config.amountMinorMax > 0,
    'amountMinorMax is a positive safe integer',
  );
  return [
    ...amountViolations('/amountMinor', request.amountMinor, config.amountMinorMax),
    ...currencyViolations(request.currency, config),
    ...accountViolations(request.payerAccountId, request.payeeAccountId),
    ...descriptionViolations(request.description ?? null),
    ...metadataViolations(request.metadata ?? null),
  ];
}

// What the refund rules need to know about a payment; a Saga satisfies it structurally.
export interface RefundablePayment {
  readonly state: SagaState;
  readonly amountMinor: number;
  // Refund money that reached the payer.
  readonly refundedMinor: number;
  // Refunds requested whose money has neither reached the payer nor gone back to the payee.
  readonly refundInFlightMinor: number;
  // Only the count matters here.
  readonly refunds: readonly unknown[];
}

export interface RefundRequest {
  readonly amountMinor: number;
}

export function validateRefundRequest(
  payment: RefundablePayment,
  request: RefundRequest,
): Violation[] {
  if (!refundableSagaStates.has(payment.state)) {
    return [
      violation(
        '',
        'PAYMENT_NOT_REFUNDABLE',
        `a payment in state ${payment.state} cannot be refunded; it must be COMPLETED or PARTIALLY_REFUNDED`,
      ),
    ];
  }
  if (payment.refunds.length >= refundCountMax) {
    return [
      violation(
        '',
        'REFUND_COUNT_EXCEEDED',
        `a payment can be refunded at most ${refundCountMax} times`,
      ),
    ];
  }
  // In-flight refunds count against what remains: they may still reach the payer.
  const remainingMinor = payment.amountMinor - payment.refundedMinor - payment.refundInFlightMinor;
  invariant(remainingMinor >= 0, 'refunded and in-flight refunds never exceed the payment');
  const amountErrors = amountViolations(
    '/amountMinor',
    request.amountMinor,
    Number.MAX_SAFE_INTEGER,
  );
  if (amountErrors.length > 0) return amountErrors;
  if (request.amountMinor > remainingMinor) {
    return [
      violation(
        '/amountMinor',
        'REFUND_EXCEEDS_REMAINING',
        `refund of ${request.amountMinor} exceeds the ${remainingMinor} that remains refundable ` +
          `(paid ${payment.amountMinor}, refunded ${payment.refundedMinor}, ` +
          `in flight ${payment.refundInFlightMinor})`,
      ),
    ];
  }
  return [];
}

function amountViolations(
  pointer: string,
  amountMinor: number,
  amountMinorMax: number,
): Violation[] {
  if (!Number.isSafeInteger(amountMinor)) {
    return [violation(pointer, 'AMOUNT_NOT_INTEGER', 'must be a whole number of minor units')];
  }
  if (amountMinor <= 0) {
    return [violation(pointer, 'AMOUNT_NOT_POSITIVE', 'must be greater than 0')];
  }
  if (amountMinor > amountMinorMax) {
    return [violation(pointer, 'AMOUNT_TOO_LARGE', `must be at most ${amountMinorMax}`)];
  }
  return [];
}

function currencyViolations(currency: string, config: PaymentRulesConfig): Violation[] {
  if (config.isKnownCurrency(currency)) return [];
  return [
    violation(
      '/currency',
      'CURRENCY_UNKNOWN',
      `'${currency}' is not a known ISO 4217 currency code`,
    ),
  ];
}

function accountViolations(payerAccountId: string, payeeAccountId: string): Violation[] {
  const violations: Violation[] = [];
  if (!isUuid(payerAccountId)) {
    violations.push(violation('/payerAccountId', 'ID_MALFORMED', 'must be a UUID'));
  }
  if (!isUuid(payeeAccountId)) {
    violations.push(violation('/payeeAccountId', 'ID_MALFORMED', 'must be a UUID'));
  }
  // UUIDs compare case-insensitively: the same account spelled twice is still the same account.
  if (payerAccountId.toLowerCase() === payeeAccountId.toLowerCase()) {
    violations.push(
      violation('/payeeAccountId', 'SAME_PAYER_AND_PAYEE', 'must differ from payerAccountId'),
    );
  }
  return violations;
}

function descriptionViolations(description: string | null): Violation[] {
  if (description === null) return [];
  const lengthMax = paymentLimits.descriptionLengthMax;
  if (codePointCount(description) <= lengthMax) return [];
  return [
    violation('/description', 'DESCRIPTION_TOO_LONG', `must be at most ${lengthMax} characters`),
  ];
}

function metadataViolations(metadata: Readonly<Record<string, string>> | null): Violation[] {
  if (metadata === null) return [];
  const entries = Object.entries(metadata);
  // Past the key limit, per-key findings would only bury the one that matters.
  if (entries.length > paymentLimits.metadataKeyCountMax) {
    return [
      violation(
        '/metadata',
        'METADATA_TOO_MANY_KEYS',
        `must have at most ${paymentLimits.metadataKeyCountMax} keys, has ${entries.length}`,
      ),
    ];
  }
  const violations: Violation[] = [];
  let sizeBytes = 0;
  for (const [key, value] of entries) {
    const pointer = `/metadata/${escapePointerToken(key)}`;
    if (key.length === 0) {
      violations.push(violation(pointer, 'METADATA_KEY_EMPTY', 'metadata keys must not be empty'));
    }
    if (codePointCount(key) > paymentLimits.metadataKeyLengthMax) {
      violations.push(
        violation(
          pointer,
          'METADATA_KEY_TOO_LONG',
          `metadata keys must be at most ${paymentLimits.metadataKeyLengthMax} characters`,
        ),
      );
    }
    if (codePointCount(value) > paymentLimits.metadataValueLengthMax) {
      violations.push(
        violation(
          pointer,
          'METADATA_VALUE_TOO_LONG',
          `must be at most ${paymentLimits.metadataValueLengthMax} characters`,
        ),
      );
    }
    sizeBytes += utf8ByteCount(key) + utf8ByteCount(value);
  }
  if (sizeBytes > paymentLimits.metadataSizeBytesMax) {
    violations.push(
      violation(
        '/metadata',
        'METADATA_TOO_LARGE',
        `keys and values together must be at most ${paymentLimits.metadataSizeBytesMax} bytes ` +
          `of UTF-8, are ${sizeBytes}`,
      ),
    );
  }
  return violations;
}

function violation(pointer: string, code: ViolationCode, message: string): Violation {
  return { pointer, code, message };
}

// RFC 6901: '~' and '/' inside a reference token are escaped as '~0' and '~1'.
function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function codePointCount(text: string): number {
  let count = 0;
  for (const _codePoint of text) count += 1;
  return count;
}

function utf8ByteCount(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** What a new refund may still ask for; 0 unless the payment can be refunded at all. */
export function refundableMinor(saga: Saga): number {
  if (!refundableSagaStates.has(saga.state)) return 0;
  const remainingMinor = saga.amountMinor - saga.refundedMinor - saga.refundInFlightMinor;
  invariant(remainingMinor >= 0, 'never more refunded than paid');
  return remainingMinor;
}
