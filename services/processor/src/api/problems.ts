// The processor's RFC 9457 problems, with the types the contract lists.
import { ProblemError } from '@ledgerline/platform/http/problem';
import type { Violation } from '../domain/index.js';

type ProblemErrors = { pointer: string; message: string }[];

function errorsOf(violations: readonly Violation[]): ProblemErrors {
  return violations.map((found) => ({ pointer: found.pointer, message: found.message }));
}

/** Business-rule violations of a payment request: 422, typed by what is wrong when it is one thing. */
export function paymentRulesProblem(violations: readonly Violation[]): ProblemError {
  const codes = new Set(violations.map((found) => found.code));
  const errors = errorsOf(violations);
  const detail = violations.map((found) => `${found.pointer}: ${found.message}`).join('; ');
  if (codes.size === 1 && codes.has('SAME_PAYER_AND_PAYEE')) {
    return new ProblemError(422, 'same-account', 'Payer and payee are the same account', detail, {
      errors,
    });
  }
  if (codes.size === 1 && codes.has('CURRENCY_UNKNOWN')) {
    return new ProblemError(422, 'unknown-currency', 'Unknown currency', detail, { errors });
  }
  return new ProblemError(422, 'validation-failed', 'The request breaks a business rule', detail, {
    errors,
  });
}

/** A refund the payment's state or remaining amount does not allow: 409. */
export function refundRulesProblem(violations: readonly Violation[]): ProblemError {
  const detail = violations.map((found) => found.message).join('; ');
  const errors = errorsOf(violations.filter((found) => found.pointer !== ''));
  const extra = errors.length > 0 ? { errors } : {};
  if (violations.some((found) => found.code === 'REFUND_EXCEEDS_REMAINING')) {
    return new ProblemError(
      409,
      'refund-exceeds-remaining',
      'Refund exceeds the refundable amount',
      detail,
      extra,
    );
  }
  if (violations.some((found) => found.code.startsWith('AMOUNT_'))) {
    return new ProblemError(400, 'validation-failed', 'The request is invalid', detail, extra);
  }
  return new ProblemError(
    409,
    'payment-not-refundable',
    'Payment cannot be refunded',
    detail,
    extra,
  );
}

export function idempotencyKeyReused(): ProblemError {
  return new ProblemError(
    422,
    'idempotency-key-reused',
    'Idempotency-Key reused with a different request',
    'This Idempotency-Key was first used with a different body; use a new key for a new request.',
    {
      errors: [
        { pointer: '/headers/idempotency-key', message: 'already used with a different body' },
      ],
    },
  );
}

export function idempotencyKeyInUse(): ProblemError {
  return new ProblemError(
    409,
    'idempotency-key-in-use',
    'A request with this Idempotency-Key is in progress',
    'Retry once the first request with this key has been answered.',
  );
}

export function notFound(detail: string): ProblemError {
  return new ProblemError(404, 'not-found', 'Not found', detail);
}

export function invalidParameter(pointer: string, message: string): ProblemError {
  return new ProblemError(400, 'validation-failed', 'The request is invalid', message, {
    errors: [{ pointer, message }],
  });
}
