// When to retry and how long to wait: pure, so it is tested without a server.

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  readonly attemptsMax: number;
  /** Backoff of the first retry; doubles each retry. */
  readonly baseDelayMs: number;
  /** Upper bound of one wait, Retry-After included: a longer Retry-After ends the retries. */
  readonly delayMsMax: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attemptsMax: 4,
  baseDelayMs: 200,
  delayMsMax: 10_000,
};

/**
 * Wait before retry number `attempt` (1-based): the server's Retry-After (seconds or an
 * HTTP date) when it sent one, else exponential backoff with full jitter. `null` when the
 * server asks for longer than `delayMsMax`: better to answer the caller than to hang.
 */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | null,
  policy: RetryPolicy,
  random: () => number = Math.random,
  nowMs: number = Date.now(),
): number | null {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    const waitMs = Number.isFinite(seconds)
      ? Math.max(0, seconds * 1000)
      : Math.max(0, Date.parse(retryAfter) - nowMs);
    if (Number.isNaN(waitMs)) return backoffMs(attempt, policy, random);
    return waitMs > policy.delayMsMax ? null : Math.ceil(waitMs);
  }
  return backoffMs(attempt, policy, random);
}

/** Exponential backoff with full jitter for retry number `attempt` (1-based). */
export function backoffMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(policy.delayMsMax, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceilingMs * random());
}
