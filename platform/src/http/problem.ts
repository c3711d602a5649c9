// RFC 9457 problem details: every error a client sees has this shape.
import { classifyFault } from '../faults.js';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Which part of the request is wrong: a JSON pointer, or a parameter/header name. */
  errors?: ProblemFieldError[];
  [extension: string]: unknown;
}

export interface ProblemFieldError {
  pointer?: string;
  parameter?: string;
  line?: number;
  field?: string;
  message: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const PROBLEM_BASE = 'https://ledgerline.dev/problems/';

/** An error that becomes a problem+json response. Throw it from a handler. */
export class ProblemError extends Error {
  readonly problem: ProblemDetails;

  constructor(
    status: number,
    slug: string,
    title: string,
    detail?: string,
    extra: Partial<ProblemDetails> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
    this.problem = {
      type: `${PROBLEM_BASE}${slug}`,
      title,
      status,
      ...(detail ? { detail } : {}),
      ...extra,
    };
  }
}

export const problems = {
  validation: (
    errors: { pointer: string; message: string }[],
    detail = 'The request does not match the API contract.',
  ) => new ProblemError(400, 'validation-failed', 'Request is not valid', detail, { errors }),
  businessRule: (
    errors: { pointer: string; message: string }[],
    detail = 'The request breaks a business rule.',
  ) =>
    new ProblemError(422, 'business-rule-violated', 'Request breaks a business rule', detail, {
      errors,
    }),
  notFound: (what: string) =>
    new ProblemError(404, 'not-found', 'Not found', `${what} does not exist.`),
  conflict: (slug: string, detail: string) => new ProblemError(409, slug, 'Conflict', detail),
};

/** What a client is told to wait before retrying while a dependency is away. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

/**
 * A failure because PostgreSQL, Kafka or the registry is unavailable (faults.ts: transient) is
 * a 503 the client may retry with the same Idempotency-Key, not a 500: nothing was stored (the
 * transaction did not commit). Undefined for any other error.
 */
export function dependencyUnavailable(error: unknown): ProblemError | undefined {
  if (error instanceof ProblemError || classifyFault(error) !== 'transient') return undefined;
  return new ProblemError(
    503,
    'dependency-unavailable',
    'Service temporarily unavailable',
    `A dependency of this service is unavailable; nothing was changed. Retry in ${DEPENDENCY_RETRY_AFTER_SECONDS} s with the same Idempotency-Key.`,
    { retryAfterSeconds: DEPENDENCY_RETRY_AFTER_SECONDS },
  );
}
