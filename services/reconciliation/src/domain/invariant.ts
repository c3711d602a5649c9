// Assertions on invariants in production code: a broken invariant crashes the run (it is marked
// FAILED) rather than letting a wrong report out.
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new InvariantViolation(message());
}

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
