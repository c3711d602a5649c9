// Sums of minor units that fail loudly (a broken invariant) instead of losing precision: a wrong
// total would let a wrong report out.
import { invariant } from '@ledgerline/platform/invariant';

/** Adds minor amounts, failing loudly instead of losing precision. */
export function addMinor(a: number, b: number): number {
  const sum = a + b;
  invariant(Number.isSafeInteger(sum), () => `${a} + ${b} leaves the safe integer range`);
  return sum;
}

export function assertMinor(amountMinor: number, what: string): void {
  invariant(
    Number.isSafeInteger(amountMinor),
    () => `${what} ${amountMinor} is not a safe integer`,
  );
}
