import { InvariantViolation } from '@ledgerline/platform/invariant';
import fc from 'fast-check';

import { POSTING_STEPS } from '../../src/domain/steps.js';
import {
  adjustmentTransactionId,
  entryIdFor,
  isUuid,
  LEDGERLINE_NAMESPACE,
  NAMESPACE_DNS,
  NAMESPACE_OID,
  NAMESPACE_URL,
  NAMESPACE_X500,
  normalizeUuid,
  systemAccountId,
  transactionIdFor,
  uuidv5,
} from '../../src/domain/ids.js';
import { PAYMENT, testId } from './fixtures.js';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv5', () => {
  // RFC 9562 appendix A.4, plus vectors cross-checked with CPython's uuid.uuid5.
  test.each([
    ['www.example.com', NAMESPACE_DNS, '2ed6657d-e927-568b-95e1-2665a8aea6a2'],
    ['python.org', NAMESPACE_DNS, '886313e1-3b8a-5372-9b90-0c9aee199e5d'],
    ['', NAMESPACE_DNS, '4ebd0208-8328-5d69-8c44-ec50939c0967'],
    ['zürich.example — €', NAMESPACE_DNS, '498038ea-ab7d-51b4-9609-e57bb3d84dad'],
    [
      'https://www.rfc-editor.org/rfc/rfc9562',
      NAMESPACE_URL,
      '3349c653-56d8-5f05-8876-e348e193dc56',
    ],
    ['1.3.6.1.4.1', NAMESPACE_OID, '106dd502-8b3e-50db-80ed-1134f5c18eae'],
    ['CN=Ledgerline', NAMESPACE_X500, 'efaa4a9a-f65a-5c26-84ae-7a428c3fcee2'],
  ])('uuidv5(%j, %s) = %s', (name, namespace, expected) => {
    expect(uuidv5(name, namespace)).toBe(expected);
  });

  it('treats the namespace case-insensitively (bytes, not text)', () => {
    expect(uuidv5('www.example.com', NAMESPACE_DNS.toUpperCase())).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => uuidv5('x', 'not-a-uuid')).toThrow(InvariantViolation);
  });

  it('always yields a canonical version-5, RFC-variant UUID', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.uuid(), (name, namespace) => {
        const id = uuidv5(name, namespace);
        expect(id).toMatch(UUID_V5);
        expect(isUuid(id)).toBe(true);
        expect(uuidv5(name, namespace)).toBe(id);
      }),
    );
  });
});

describe('Ledgerline ids', () => {
  it('LEDGERLINE_NAMESPACE is uuidv5("urn:ledgerline:uuid-namespace:v1", URL namespace)', () => {
    expect(uuidv5('urn:ledgerline:uuid-namespace:v1', NAMESPACE_URL)).toBe(LEDGERLINE_NAMESPACE);
  });

  // Golden values: these ids are persisted; a change here breaks replay of every ledger.
  it('derives ids from the documented names (golden values)', () => {
    expect(systemAccountId('CLEARING', 'EUR')).toBe('a0163a58-70a7-5b6d-88a2-538070929171');
    expect(transactionIdFor('00000000-0000-4000-8000-000000000001', 'DEBIT', 0)).toBe(
      '0fc13889-c55d-5958-bb49-87a699c05308',
    );
  });

  it('transaction ids are UUIDv5 of `${paymentId}:${step}:${sequence}`', () => {
    expect(transactionIdFor(PAYMENT, 'CREDIT', 0)).toBe(
      uuidv5(`${PAYMENT}:CREDIT:0`, LEDGERLINE_NAMESPACE),
    );
    expect(transactionIdFor(PAYMENT, 'REFUND_DEBIT', 3)).toBe(
      uuidv5(`${PAYMENT}:REFUND_DEBIT:3`, LEDGERLINE_NAMESPACE),
    );
  });

  it('entry ids are UUIDv5 of `${transactionId}:${index}`', () => {
    const transactionId = transactionIdFor(PAYMENT, 'DEBIT', 0);
    expect(entryIdFor(transactionId, 1)).toBe(uuidv5(`${transactionId}:1`, LEDGERLINE_NAMESPACE));
    expect(entryIdFor(transactionId, 0)).not.toBe(entryIdFor(transactionId, 1));
  });

  it('system account ids are UUIDv5 of `system:${kind}:${currency}`', () => {
    expect(systemAccountId('SETTLEMENT', 'JPY')).toBe(
      uuidv5('system:SETTLEMENT:JPY', LEDGERLINE_NAMESPACE),
    );
    const ids = new Set(
      (['CLEARING', 'FEES', 'SETTLEMENT'] as const).flatMap((kind) =>
        (['EUR', 'USD'] as const).map((currency) => systemAccountId(kind, currency)),
      ),
    );
    expect(ids.size).toBe(6);
  });

  it('adjustment transaction ids are scoped by account', () => {
    const a = adjustmentTransactionId(testId('a'), 'key-1');
    expect(a).toBe(uuidv5(`adjustment:${testId('a')}:key-1`, LEDGERLINE_NAMESPACE));
    expect(adjustmentTransactionId(testId('b'), 'key-1')).not.toBe(a);
  });

  it('every step and refund number of a payment gets its own transaction id', () => {
    const ids = new Set<string>();
    for (const step of POSTING_STEPS) {
      if (step === 'ADJUSTMENT') continue;
      const sequences = step.startsWith('REFUND_') ? [1, 2, 1000] : [0];
      for (const sequence of sequences) ids.add(transactionIdFor(PAYMENT, step, sequence));
    }
    expect(ids.size).toBe(3 + 3 * 3);
  });

  test.each([
    ['a non-canonical payment id', () => transactionIdFor(PAYMENT.toUpperCase(), 'DEBIT', 0)],
    ['a sequence on a non-refund step', () => transactionIdFor(PAYMENT, 'DEBIT', 1)],
    ['refund number 0', () => transactionIdFor(PAYMENT, 'REFUND_CREDIT', 0)],
    ['refund number 1001', () => transactionIdFor(PAYMENT, 'REFUND_CREDIT', 1001)],
    ['a negative entry index', () => entryIdFor(PAYMENT, -1)],
    ['a fractional entry index', () => entryIdFor(PAYMENT, 0.5)],
    ['an empty idempotency key', () => adjustmentTransactionId(PAYMENT, '')],
    ['a non-ASCII idempotency key', () => adjustmentTransactionId(PAYMENT, 'clé')],
    ['an idempotency key with spaces', () => adjustmentTransactionId(PAYMENT, 'a b')],
    ['a 256-character idempotency key', () => adjustmentTransactionId(PAYMENT, 'k'.repeat(256))],
    ['a currency that is not ISO 4217', () => systemAccountId('CLEARING', 'EURO' as 'EUR')],
  ])('refuses %s', (_what, derive) => {
    expect(derive).toThrow(InvariantViolation);
  });

  it('accepts a 255-character idempotency key', () => {
    expect(isUuid(adjustmentTransactionId(PAYMENT, 'k'.repeat(255)))).toBe(true);
  });

  it('normalizeUuid lowercases valid UUIDs and refuses anything else', () => {
    expect(normalizeUuid(PAYMENT.toUpperCase())).toBe(PAYMENT);
    expect(() => normalizeUuid('{' + PAYMENT + '}')).toThrow(RangeError);
    expect(isUuid(PAYMENT.toUpperCase())).toBe(false);
  });
});
