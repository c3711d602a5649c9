import { InvariantViolation } from '@ledgerline/platform/invariant';
import fc from 'fast-check';

import {
  addMinor,
  assertAmountMinor,
  assertBalanceMinor,
  isAmountMinor,
  isBalanceMinor,
  MoneyOverflowError,
  subMinor,
  sumMinor,
  tryAddMinor,
} from '../../src/domain/money.js';

const MAX = Number.MAX_SAFE_INTEGER;

describe('amounts in minor units', () => {
  test.each([1, 2, 100, MAX])('%p is a postable amount', (x) => {
    expect(isAmountMinor(x)).toBe(true);
    expect(() => assertAmountMinor(x)).not.toThrow();
  });

  test.each([
    0,
    -0,
    -1,
    1.5,
    0.1,
    NaN,
    Infinity,
    -Infinity,
    MAX + 1,
    2 ** 60,
    '100',
    null,
    undefined,
    10n,
  ])('%p is not a postable amount', (x) => {
    expect(isAmountMinor(x)).toBe(false);
    expect(() => assertAmountMinor(x)).toThrow(InvariantViolation);
  });

  it('a balance may be zero or negative but must be a safe integer', () => {
    expect(isBalanceMinor(0)).toBe(true);
    expect(isBalanceMinor(-MAX)).toBe(true);
    expect(isBalanceMinor(-MAX - 1)).toBe(false);
    expect(isBalanceMinor(0.5)).toBe(false);
    expect(() => assertBalanceMinor(NaN)).toThrow(InvariantViolation);
  });
});

describe('safe money arithmetic', () => {
  it('adds and subtracts exactly up to the safe integer limit', () => {
    expect(addMinor(MAX - 1, 1)).toBe(MAX);
    expect(subMinor(-MAX + 1, 1)).toBe(-MAX);
    expect(addMinor(-5, 3)).toBe(-2);
    expect(subMinor(3, 5)).toBe(-2);
  });

  it('throws MoneyOverflowError rather than rounding past MAX_SAFE_INTEGER', () => {
    expect(() => addMinor(MAX, 1)).toThrow(MoneyOverflowError);
    expect(() => addMinor(MAX, MAX)).toThrow(MoneyOverflowError);
    expect(() => subMinor(-MAX, 1)).toThrow(MoneyOverflowError);
    expect(() => subMinor(MAX, -MAX)).toThrow(MoneyOverflowError);
    expect(() => sumMinor([MAX, 1])).toThrow(MoneyOverflowError);
    expect(tryAddMinor(MAX, 1)).toBeNull();
  });

  it('refuses operands that are not safe integers (a float never enters a money path)', () => {
    expect(() => addMinor(0.1, 0.2)).toThrow(InvariantViolation);
    expect(() => subMinor(MAX + 2, 1)).toThrow(InvariantViolation);
    expect(() => tryAddMinor(NaN, 1)).toThrow(InvariantViolation);
  });

  it('agrees with exact BigInt arithmetic on every pair of safe integers', () => {
    const safe = fc.oneof(
      fc.maxSafeInteger(),
      fc.integer({ min: -1000, max: 1000 }),
      fc.constantFrom(MAX, -MAX, 0),
    );
    fc.assert(
      fc.property(safe, safe, (a, b) => {
        for (const [operation, exact] of [
          [addMinor, BigInt(a) + BigInt(b)],
          [subMinor, BigInt(a) - BigInt(b)],
        ] as const) {
          const fits = exact >= BigInt(-MAX) && exact <= BigInt(MAX);
          if (fits) expect(BigInt(operation(a, b))).toBe(exact);
          else expect(() => operation(a, b)).toThrow(MoneyOverflowError);
        }
      }),
    );
  });
});
