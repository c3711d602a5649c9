import { InvariantViolation } from '@ledgerline/platform/invariant';

// Currency validation lives next to the ISO table; re-exported so money code imports one module.
export {
  CURRENCY_CODE_LIST,
  isCurrencyCode,
  minorUnitsOf,
  parseCurrencyCode,
  UnknownCurrencyError,
  type CurrencyCode,
} from './currencies.js';

/**
 * Money is an integer count of minor units held in a JS number. Every amount and balance must
 * stay within ±Number.MAX_SAFE_INTEGER (2^53 - 1), where integer arithmetic on doubles is exact;
 * beyond it two different amounts can compare equal, so we refuse rather than round.
 */

/** An amount that can be posted: a safe integer > 0. */
export function isAmountMinor(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}

export function assertAmountMinor(x: unknown, what = 'amountMinor'): asserts x is number {
  if (!isAmountMinor(x)) {
    throw new InvariantViolation(`${what} must be a safe integer > 0, got ${String(x)}`);
  }
}

/** A balance or delta: any safe integer, negative allowed (overdrafts, debit-normal views). */
export function isBalanceMinor(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x);
}

export function assertBalanceMinor(x: unknown, what = 'balanceMinor'): asserts x is number {
  if (!isBalanceMinor(x)) {
    throw new InvariantViolation(`${what} must be a safe integer, got ${String(x)}`);
  }
}

/** The true result of a money operation left the safe-integer range. */
export class MoneyOverflowError extends RangeError {
  constructor(operation: string, a: number, b: number) {
    super(`${operation}(${a}, ${b}) leaves the safe integer range ±${Number.MAX_SAFE_INTEGER}`);
    this.name = 'MoneyOverflowError';
  }
}

// For safe-integer inputs the double result is exact whenever the true result is safe, and rounds
// to a non-safe value whenever it is not, so one isSafeInteger check on the result is sufficient.

/** a + b for balances/amounts in minor units; throws MoneyOverflowError instead of rounding. */
export function addMinor(a: number, b: number): number {
  assertBalanceMinor(a, 'addMinor a');
  assertBalanceMinor(b, 'addMinor b');
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) throw new MoneyOverflowError('addMinor', a, b);
  return sum;
}

/** a - b for balances/amounts in minor units; throws MoneyOverflowError instead of rounding. */
export function subMinor(a: number, b: number): number {
  assertBalanceMinor(a, 'subMinor a');
  assertBalanceMinor(b, 'subMinor b');
  const difference = a - b;
  if (!Number.isSafeInteger(difference)) throw new MoneyOverflowError('subMinor', a, b);
  return difference;
}

/** Like addMinor but answers null on overflow, for deciding (LIMIT_EXCEEDED) rather than crashing. */
export function tryAddMinor(a: number, b: number): number | null {
  assertBalanceMinor(a, 'tryAddMinor a');
  assertBalanceMinor(b, 'tryAddMinor b');
  const sum = a + b;
  return Number.isSafeInteger(sum) ? sum : null;
}

/** Sum of many minor-unit values, overflow-checked at every step. */
export function sumMinor(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total = addMinor(total, value);
  return total;
}
