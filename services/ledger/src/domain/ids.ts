import { InvariantViolation } from '@ledgerline/platform/invariant';
import { SystemAccountKindSymbols } from '@ledgerline/generated/avro/types';
import { symbolsWithout } from '@ledgerline/platform/contract-enums';
import { uuidv5 as platformUuidv5 } from '@ledgerline/platform/ids';

import { isCurrencyCode, type CurrencyCode } from './currencies.js';
import { isValidSequence, type PaymentStep } from './steps.js';

// Deterministic ids: replaying ledger.commands into an empty ledger must reproduce every id byte
// for byte, so ids are UUIDv5 of a name that is a pure function of the command. The name shapes
// below never collide: payment steps start with a hex UUID, system accounts with 'system:'
// ('s' is not hex), adjustments with 'adjustment:' ('j' is not hex), and entry names are
// '<uuid>:<integer>' while step names are '<uuid>:<STEP>:<integer>'.
//
// Changing any name format or LEDGERLINE_NAMESPACE changes every id ever issued: don't.

/** Canonical textual UUID: lowercase hex, 8-4-4-4-12. The ledger only stores this form. */
const UUID_CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** RFC 9562 §6.6 well-known namespaces. */
export const NAMESPACE_DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
export const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
export const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';
export const NAMESPACE_X500 = '6ba7b814-9dad-11d1-80b4-00c04fd430c8';

/** = uuidv5('urn:ledgerline:uuid-namespace:v1', NAMESPACE_URL); a test pins the derivation. */
export const LEDGERLINE_NAMESPACE = '1acde56c-7638-58b4-a8d6-5df570a174f9';

/** True only for the canonical lowercase form; ids in commands must already be canonical. */
export function isUuid(x: unknown): x is string {
  return typeof x === 'string' && x.length === 36 && UUID_CANONICAL.test(x);
}

/** Lowercases a UUID in any case to canonical form (for adapters); throws on anything else. */
export function normalizeUuid(x: string): string {
  if (!UUID_ANY_CASE.test(x)) throw new RangeError(`not a UUID: ${JSON.stringify(x)}`);
  return x.toLowerCase();
}

/**
 * RFC 9562 §5.5 name-based UUID (SHA-1): sha1(namespace bytes || UTF-8 name), truncated to 128
 * bits, version nibble 5, variant bits 10. One implementation for the whole platform.
 */
export function uuidv5(name: string, namespace: string): string {
  try {
    return platformUuidv5(name, namespace);
  } catch (error) {
    // A malformed namespace is a programming error here, not bad input.
    throw new InvariantViolation(`namespace is not a UUID: ${namespace} (${String(error)})`);
  }
}

function assertCanonicalUuid(x: string, what: string): void {
  if (!isUuid(x)) throw new InvariantViolation(`${what} must be a canonical UUID, got ${x}`);
}

/** Idempotency key of a payment step; also the UUIDv5 name of its transaction. */
export function paymentStepKey(paymentId: string, step: PaymentStep, sequence: number): string {
  assertCanonicalUuid(paymentId, 'paymentId');
  if (!isValidSequence(step, sequence)) {
    throw new InvariantViolation(`sequence ${sequence} is not valid for step ${step}`);
  }
  return `${paymentId}:${step}:${sequence}`;
}

/**
 * Idempotency keys of adjustments are scoped by account (they come from an HTTP Idempotency-Key
 * header on /accounts/{id}/adjustments). Printable ASCII only: UTF-8 encoding maps lone
 * surrogates to U+FFFD, so two different keys could otherwise name the same transaction.
 */
export const IDEMPOTENCY_KEY_LENGTH_MAX = 255;

const IDEMPOTENCY_KEY_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${IDEMPOTENCY_KEY_LENGTH_MAX}}$`);

export function isIdempotencyKey(x: unknown): x is string {
  return typeof x === 'string' && IDEMPOTENCY_KEY_PATTERN.test(x);
}

export function adjustmentStepKey(accountId: string, idempotencyKey: string): string {
  assertCanonicalUuid(accountId, 'accountId');
  if (!isIdempotencyKey(idempotencyKey)) {
    throw new InvariantViolation(
      `idempotencyKey must be 1..${IDEMPOTENCY_KEY_LENGTH_MAX} printable ASCII characters`,
    );
  }
  return `adjustment:${accountId}:${idempotencyKey}`;
}

/** The id of the transaction a step key posts: UUIDv5(stepKey, LEDGERLINE_NAMESPACE). */
export function transactionIdOfStepKey(stepKey: string): string {
  return uuidv5(stepKey, LEDGERLINE_NAMESPACE);
}

/** UUIDv5(`${paymentId}:${step}:${sequence}`, LEDGERLINE_NAMESPACE). */
export function transactionIdFor(paymentId: string, step: PaymentStep, sequence: number): string {
  return transactionIdOfStepKey(paymentStepKey(paymentId, step, sequence));
}

/** UUIDv5(`adjustment:${accountId}:${idempotencyKey}`, LEDGERLINE_NAMESPACE). */
export function adjustmentTransactionId(accountId: string, idempotencyKey: string): string {
  return transactionIdOfStepKey(adjustmentStepKey(accountId, idempotencyKey));
}

/** UUIDv5(`${transactionId}:${index}`, LEDGERLINE_NAMESPACE); index is the entry's position. */
export function entryIdFor(transactionId: string, index: number): string {
  assertCanonicalUuid(transactionId, 'transactionId');
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new InvariantViolation(`entry index must be a safe integer >= 0, got ${index}`);
  }
  return uuidv5(`${transactionId}:${index}`, LEDGERLINE_NAMESPACE);
}

// Every posting needs its clearing or settlement id; memoised because the domain is tiny and
// fixed (3 kinds x 165 currencies).
const systemAccountIdMemo = new Map<string, string>();

// OTHER is the open enum's default for kinds a reader does not know; no such account exists.
export const SYSTEM_ACCOUNT_KINDS = symbolsWithout(SystemAccountKindSymbols, 'OTHER');

export type SystemAccountKind = (typeof SYSTEM_ACCOUNT_KINDS)[number];

/** UUIDv5(`system:${kind}:${currency}`, LEDGERLINE_NAMESPACE): one per kind and currency. */
export function systemAccountId(kind: SystemAccountKind, currency: CurrencyCode): string {
  if (!isCurrencyCode(currency)) {
    throw new InvariantViolation(`not a currency: ${String(currency)}`);
  }
  const name = `system:${kind}:${currency}`;
  let id = systemAccountIdMemo.get(name);
  if (id === undefined) {
    id = uuidv5(name, LEDGERLINE_NAMESPACE);
    systemAccountIdMemo.set(name, id);
  }
  return id;
}
