/**
 * A broken invariant: the code, not the input, is wrong. Callers must not catch this to carry on;
 * the process crashes and the consumer re-reads the message after restart, so a wrong entry is
 * never written (TigerBeetle's "assert in production" habit).
 */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantViolation(typeof message === 'string' ? message : message());
  }
}
