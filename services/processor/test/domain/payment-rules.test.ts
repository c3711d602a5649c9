import fc from 'fast-check';

import {
  isUuid,
  paymentLimits,
  validatePaymentRequest,
  validateRefundRequest,
  type PaymentRequest,
  type PaymentRulesConfig,
  type RefundablePayment,
} from '../../src/domain/payment-rules.js';
import { refundCountMax, sagaStates, type SagaState } from '../../src/domain/model.js';

const payerAccountId = '8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5e';
const payeeAccountId = 'c7e9a1b3-5d7f-4e1a-9b3c-5d7f9e1a3b5c';
const amountMinorMax = 1_000_000_000;
const knownCurrencies = new Set(['EUR', 'USD', 'JPY']);
const config: PaymentRulesConfig = {
  amountMinorMax,
  isKnownCurrency: (code) => knownCurrencies.has(code),
};

function request(overrides: Partial<PaymentRequest> = {}): PaymentRequest {
  return { payerAccountId, payeeAccountId, amountMinor: 12_345, currency: 'EUR', ...overrides };
}

function codes(found: readonly { pointer: string; code: string }[]): string[] {
  return found.map((violation) => `${violation.pointer} ${violation.code}`);
}

describe('payment rules', () => {
  test('a well-formed payment has no violations', () => {
    expect(validatePaymentRequest(request(), config)).toEqual([]);
  });

  test('a payment with a 500-character description and 20 metadata keys is accepted', () => {
    const metadata = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));

    expect(
      validatePaymentRequest(request({ description: 'd'.repeat(500), metadata }), config),
    ).toEqual([]);
  });

  test('metadata of exactly 4 KiB, with keys and values at their longest, is accepted', () => {
    // 16 entries of a 64-character key and a 192-character value: 4,096 bytes.
    const metadata = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [String(i).padStart(64, 'k'), 'v'.repeat(192)]),
    );
    const longestValue = { order: 'v'.repeat(256), [String(99).padStart(64, 'k')]: 'v' };

    expect(validatePaymentRequest(request({ metadata }), config)).toEqual([]);
    expect(validatePaymentRequest(request({ metadata: longestValue }), config)).toEqual([]);
  });

  test('metadata one byte over 4 KiB is refused', () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [String(i).padStart(64, 'k'), 'v'.repeat(192)]),
    );
    metadata['x'] = '';

    expect(codes(validatePaymentRequest(request({ metadata }), config))).toEqual([
      '/metadata METADATA_TOO_LARGE',
    ]);
  });

  test('a payment with null description and metadata has no violations', () => {
    expect(validatePaymentRequest(request({ description: null, metadata: null }), config)).toEqual(
      [],
    );
  });

  test.each([
    [0, 'AMOUNT_NOT_POSITIVE'],
    [-1, 'AMOUNT_NOT_POSITIVE'],
    [-0, 'AMOUNT_NOT_POSITIVE'],
    [10.5, 'AMOUNT_NOT_INTEGER'],
    [Number.MAX_SAFE_INTEGER + 1, 'AMOUNT_NOT_INTEGER'],
    [Number.NaN, 'AMOUNT_NOT_INTEGER'],
    [Number.POSITIVE_INFINITY, 'AMOUNT_NOT_INTEGER'],
    [amountMinorMax + 1, 'AMOUNT_TOO_LARGE'],
  ])('an amount of %p is refused as %s', (amountMinor, code) => {
    const found = validatePaymentRequest(request({ amountMinor }), config);

    expect(codes(found)).toEqual([`/amountMinor ${code}`]);
    expect(found[0]?.message).toEqual(expect.any(String));
  });

  test('an amount of exactly the configured maximum is accepted', () => {
    expect(validatePaymentRequest(request({ amountMinor: amountMinorMax }), config)).toEqual([]);
  });

  test('any whole amount from 1 to the maximum is accepted, and any other number refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: amountMinorMax }), (amountMinor) => {
        expect(validatePaymentRequest(request({ amountMinor }), config)).toEqual([]);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ max: 0 }),
          fc.integer({ min: amountMinorMax + 1 }),
          fc.double().filter((n) => !Number.isInteger(n)),
        ),
        (amountMinor) => {
          const found = validatePaymentRequest(request({ amountMinor }), config);
          expect(found.map((violation) => violation.pointer)).toEqual(['/amountMinor']);
        },
      ),
    );
  });

  test('an unknown currency is refused, as the injected ISO 4217 table says', () => {
    const asked: string[] = [];
    const spying: PaymentRulesConfig = {
      amountMinorMax,
      isKnownCurrency: (code) => {
        asked.push(code);
        return knownCurrencies.has(code);
      },
    };

    expect(codes(validatePaymentRequest(request({ currency: 'XYZ' }), spying))).toEqual([
      '/currency CURRENCY_UNKNOWN',
    ]);
    expect(codes(validatePaymentRequest(request({ currency: 'eur' }), spying))).toEqual([
      '/currency CURRENCY_UNKNOWN',
    ]);
    expect(asked).toEqual(['XYZ', 'eur']);
  });

  test('a payment from an account to itself is refused', () => {
    const found = validatePaymentRequest(request({ payeeAccountId: payerAccountId }), config);

    expect(codes(found)).toEqual(['/payeeAccountId SAME_PAYER_AND_PAYEE']);
  });

  test('a payment from an account to itself spelled in another case is refused', () => {
    const found = validatePaymentRequest(
      request({ payeeAccountId: payerAccountId.toUpperCase() }),
      config,
    );

    expect(codes(found)).toEqual(['/payeeAccountId SAME_PAYER_AND_PAYEE']);
  });

  test.each([
    ['not-a-uuid'],
    [''],
    ['8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5'],
    ['8b2d4f601c3e4a5b8d7f0e1a2b3c4d5e'],
    ['{8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5e}'],
    ['8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5g'],
    ['00000000-0000-0000-0000-000000000000'],
  ])('a payer account id %p is refused as malformed', (id) => {
    expect(codes(validatePaymentRequest(request({ payerAccountId: id }), config))).toEqual([
      '/payerAccountId ID_MALFORMED',
    ]);
  });

  test('a malformed payee account id is refused', () => {
    expect(codes(validatePaymentRequest(request({ payeeAccountId: 'x' }), config))).toEqual([
      '/payeeAccountId ID_MALFORMED',
    ]);
  });

  test('uuids of any version and either case are well formed', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        fc.pre(id !== '00000000-0000-0000-0000-000000000000');
        expect(isUuid(id)).toBe(true);
        expect(isUuid(id.toUpperCase())).toBe(true);
      }),
    );
  });

  test('a description longer than 500 characters is refused', () => {
    expect(
      codes(validatePaymentRequest(request({ description: 'd'.repeat(501) }), config)),
    ).toEqual(['/description DESCRIPTION_TOO_LONG']);
  });

  test('description length counts characters, not UTF-16 units: 500 emoji are accepted', () => {
    const description = '💶'.repeat(500);
    expect(description.length).toBe(1000);

    expect(validatePaymentRequest(request({ description }), config)).toEqual([]);
  });

  test('metadata with more than 20 keys is refused once, at /metadata', () => {
    const metadata = Object.fromEntries(
      Array.from({ length: paymentLimits.metadataKeyCountMax + 1 }, (_, i) => [`k${i}`, 'v']),
    );

    expect(codes(validatePaymentRequest(request({ metadata }), config))).toEqual([
      '/metadata METADATA_TOO_MANY_KEYS',
    ]);
  });

  test('a metadata key longer than 64 characters is refused at its own pointer', () => {
    const key = 'k'.repeat(65);

    expect(codes(validatePaymentRequest(request({ metadata: { [key]: 'v' } }), config))).toEqual([
      `/metadata/${key} METADATA_KEY_TOO_LONG`,
    ]);
  });

  test('a metadata value longer than 256 characters is refused at its key', () => {
    expect(
      codes(validatePaymentRequest(request({ metadata: { order: 'v'.repeat(257) } }), config)),
    ).toEqual(['/metadata/order METADATA_VALUE_TOO_LONG']);
  });

  test('an empty metadata key is refused', () => {
    expect(codes(validatePaymentRequest(request({ metadata: { '': 'v' } }), config))).toEqual([
      '/metadata/ METADATA_KEY_EMPTY',
    ]);
  });

  test('metadata keys with / and ~ are escaped in the JSON pointer (RFC 6901)', () => {
    const found = validatePaymentRequest(
      request({ metadata: { 'a/b~c': 'v'.repeat(257) } }),
      config,
    );

    expect(found.map((violation) => violation.pointer)).toEqual(['/metadata/a~1b~0c']);
  });

  test('metadata larger than 4 KiB in total is refused even when every entry is within limits', () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`key-${String(i).padStart(2, '0')}`, 'v'.repeat(200)]),
    );

    expect(codes(validatePaymentRequest(request({ metadata }), config))).toEqual([
      '/metadata METADATA_TOO_LARGE',
    ]);
  });

  test('the metadata size counts UTF-8 bytes', () => {
    // 17 values of 100 three-byte characters: 5,100 bytes, although only 1,700 characters.
    const metadata = Object.fromEntries(
      Array.from({ length: 17 }, (_, i) => [`k${i}`, '€'.repeat(100)]),
    );

    expect(codes(validatePaymentRequest(request({ metadata }), config))).toEqual([
      '/metadata METADATA_TOO_LARGE',
    ]);
  });

  test('every violation is reported at once', () => {
    const found = validatePaymentRequest(
      {
        payerAccountId: 'nope',
        payeeAccountId: 'nope',
        amountMinor: 0,
        currency: 'ZZZ',
        description: 'd'.repeat(501),
        metadata: { ['k'.repeat(65)]: 'v'.repeat(257) },
      },
      config,
    );

    expect(codes(found)).toEqual([
      '/amountMinor AMOUNT_NOT_POSITIVE',
      '/currency CURRENCY_UNKNOWN',
      '/payerAccountId ID_MALFORMED',
      '/payeeAccountId ID_MALFORMED',
      '/payeeAccountId SAME_PAYER_AND_PAYEE',
      '/description DESCRIPTION_TOO_LONG',
      `/metadata/${'k'.repeat(65)} METADATA_KEY_TOO_LONG`,
      `/metadata/${'k'.repeat(65)} METADATA_VALUE_TOO_LONG`,
    ]);
  });

  test('a configuration without a positive safe amountMinorMax is refused loudly', () => {
    for (const badMax of [0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() =>
        validatePaymentRequest(request(), { ...config, amountMinorMax: badMax }),
      ).toThrow(/amountMinorMax/);
    }
  });
});

describe('refund rules', () => {
  function payment(overrides: Partial<RefundablePayment> = {}): RefundablePayment {
    return {
      state: 'COMPLETED',
      amountMinor: 10_000,
      refundedMinor: 0,
      refundInFlightMinor: 0,
      refunds: [],
      ...overrides,
    };
  }

  test('a refund of part of a completed payment is accepted', () => {
    expect(validateRefundRequest(payment(), { amountMinor: 2_500 })).toEqual([]);
  });

  test('a refund of all of a completed payment is accepted', () => {
    expect(validateRefundRequest(payment(), { amountMinor: 10_000 })).toEqual([]);
  });

  test('a refund of what remains of a partially refunded payment is accepted', () => {
    const partly = payment({ state: 'PARTIALLY_REFUNDED', refundedMinor: 2_500, refunds: [{}] });

    expect(validateRefundRequest(partly, { amountMinor: 7_500 })).toEqual([]);
  });

  test('a refund larger than what remains is refused', () => {
    const partly = payment({ state: 'PARTIALLY_REFUNDED', refundedMinor: 2_500, refunds: [{}] });

    const found = validateRefundRequest(partly, { amountMinor: 7_501 });

    expect(codes(found)).toEqual(['/amountMinor REFUND_EXCEEDS_REMAINING']);
    expect(found[0]?.message).toMatch(/7500/);
  });

  test('a refund larger than the payment is refused', () => {
    expect(codes(validateRefundRequest(payment(), { amountMinor: 10_001 }))).toEqual([
      '/amountMinor REFUND_EXCEEDS_REMAINING',
    ]);
  });

  test('refunds still in flight count against what remains', () => {
    const inFlight = payment({ refundInFlightMinor: 6_000, refunds: [{}] });

    expect(codes(validateRefundRequest(inFlight, { amountMinor: 4_001 }))).toEqual([
      '/amountMinor REFUND_EXCEEDS_REMAINING',
    ]);
    expect(validateRefundRequest(inFlight, { amountMinor: 4_000 })).toEqual([]);
  });

  test.each([
    [0, 'AMOUNT_NOT_POSITIVE'],
    [-100, 'AMOUNT_NOT_POSITIVE'],
    [1.5, 'AMOUNT_NOT_INTEGER'],
    [Number.MAX_SAFE_INTEGER + 2, 'AMOUNT_NOT_INTEGER'],
  ])('a refund of %p is refused as %s', (amountMinor, code) => {
    expect(codes(validateRefundRequest(payment(), { amountMinor }))).toEqual([
      `/amountMinor ${code}`,
    ]);
  });

  const unrefundable = sagaStates.filter(
    (state): state is SagaState => state !== 'COMPLETED' && state !== 'PARTIALLY_REFUNDED',
  );

  test.each(unrefundable)('a refund of a %s payment is refused as a whole', (state) => {
    expect(codes(validateRefundRequest(payment({ state }), { amountMinor: 1 }))).toEqual([
      ' PAYMENT_NOT_REFUNDABLE',
    ]);
  });

  test(`a payment already refunded ${refundCountMax} times takes no further refund`, () => {
    const many = payment({
      state: 'PARTIALLY_REFUNDED',
      refundedMinor: refundCountMax,
      refunds: Array.from({ length: refundCountMax }, () => ({})),
    });

    expect(codes(validateRefundRequest(many, { amountMinor: 1 }))).toEqual([
      ' REFUND_COUNT_EXCEEDED',
    ]);
  });

  test('any refund within what remains is accepted and any beyond it refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (amountMinor, refundedSeed, inFlightSeed, requestSeed) => {
          const refundedMinor = refundedSeed % amountMinor;
          const refundInFlightMinor = inFlightSeed % (amountMinor - refundedMinor);
          const remainingMinor = amountMinor - refundedMinor - refundInFlightMinor;
          const state = refundedMinor === 0 ? 'COMPLETED' : 'PARTIALLY_REFUNDED';
          const subject = payment({
            state,
            amountMinor,
            refundedMinor,
            refundInFlightMinor,
            refunds: [{}],
          });
          const within = 1 + (requestSeed % remainingMinor);

          expect(validateRefundRequest(subject, { amountMinor: within })).toEqual([]);
          expect(
            codes(validateRefundRequest(subject, { amountMinor: remainingMinor + 1 })),
          ).toEqual(['/amountMinor REFUND_EXCEEDS_REMAINING']);
        },
      ),
    );
  });
});
