// The one `invariant` of every service. A broken invariant means the code (or the stored state),
// not the input, is wrong: callers never catch it to carry on. A consumer fails the record as
// permanent (dead letter) rather than publish or write a wrong state, a request answers 500, a
// reconciliation run is marked FAILED rather than letting a wrong report out (TigerBeetle's
// "assert in production" habit).

export class InvariantViolation extends Error {
  constructor(readonly invariant: string) {
    super(`invariant violated: ${invariant}`);
    this.name = 'InvariantViolation';
  }
}

/**
 * Fails fast, naming the broken invariant, when `condition` does not hold. `brokenInvariant` is
 * a function where building the text costs something on a hot path.
 */
export function invariant(
  condition: unknown,
  brokenInvariant: string | (() => string),
): asserts condition {
  if (!condition) {
    throw new InvariantViolation(
      typeof brokenInvariant === 'string' ? brokenInvariant : brokenInvariant(),
    );
  }
}
