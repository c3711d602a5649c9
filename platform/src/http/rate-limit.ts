// Rate limits per credential: a token bucket per (key, scope), sized per scope. The bucket math
// is pure (tokens as a function of the last state and the elapsed time); the limiter keeps a
// bounded map of buckets in this process. Limits are per process: N instances behind a load
// balancer allow up to N times the rate, so size them per instance.

/** A bucket holds at most `burst` requests and refills `perSecond` of them every second. */
export interface TokenBucketLimit {
  readonly burst: number;
  readonly perSecond: number;
}

/** Limits by scope; `*` (when present) applies to every scope without its own limit. */
export type RateLimitPolicy = Readonly<Record<string, TokenBucketLimit>>;

export interface BucketState {
  readonly tokens: number;
  readonly updatedAtMs: number;
}

export type RateDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** The scope whose budget is spent (the one with the longest wait). */
      readonly scope: string;
      readonly limit: TokenBucketLimit;
      /** Whole seconds until one more request is allowed, at least 1 (Retry-After). */
      readonly retryAfterSeconds: number;
    };

const ANY_SCOPE = '*';
const SCOPE_PATTERN = /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/;
export const BURST_MAX = 1_000_000;
export const PER_SECOND_MAX = 1_000_000;
/** Buckets kept per process; beyond it full buckets go first (dropping them loses nothing). */
export const BUCKETS_MAX_DEFAULT = 100_000;

/** Tokens in the bucket at `nowMs`: what was left plus the refill since, never above burst. */
export function tokensAt(state: BucketState, limit: TokenBucketLimit, nowMs: number): number {
  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  return Math.min(limit.burst, state.tokens + (elapsedMs / 1_000) * limit.perSecond);
}

/** Milliseconds until the bucket holds one whole token again (0 when it does). */
export function waitMs(tokens: number, limit: TokenBucketLimit): number {
  return tokens >= 1 ? 0 : ((1 - tokens) / limit.perSecond) * 1_000;
}

/** The limited scopes a request spends from: each of its scopes' own, or the shared `*`. */
export function bucketScopes(policy: RateLimitPolicy, scopes: readonly string[]): string[] {
  const named = new Set<string>();
  for (const scope of scopes.length === 0 ? [ANY_SCOPE] : scopes) {
    if (policy[scope] !== undefined) named.add(scope);
    else if (policy[ANY_SCOPE] !== undefined) named.add(ANY_SCOPE);
  }
  return [...named].sort();
}

export class RateLimiter {
  private readonly buckets = new Map<string, BucketState>();

  constructor(
    readonly policy: RateLimitPolicy,
    private readonly options: { bucketsMax: number; nowMs: () => number },
  ) {
    if (!(Number.isSafeInteger(options.bucketsMax) && options.bucketsMax > 0)) {
      throw new RangeError(`bucketsMax must be a positive integer, got ${options.bucketsMax}`);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  /**
   * Spends one request from every bucket the request's scopes draw on, or none of them: a refused
   * request costs nothing, so a client that honours Retry-After is served when it comes back.
   */
  take(credential: string, scopes: readonly string[]): RateDecision {
    const now = this.options.nowMs();
    const drawn = bucketScopes(this.policy, scopes).map((scope) => {
      const limit = this.policy[scope] as TokenBucketLimit;
      const key = `${credential}\u0000${scope}`;
      const state = this.buckets.get(key);
      const tokens = state === undefined ? limit.burst : tokensAt(state, limit, now);
      return { scope, limit, key, tokens };
    });
    const short = drawn
      .filter((b) => b.tokens < 1)
      .sort((a, b) => waitMs(b.tokens, b.limit) - waitMs(a.tokens, a.limit))[0];
    if (short !== undefined) {
      return {
        allowed: false,
        scope: short.scope,
        limit: short.limit,
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs(short.tokens, short.limit) / 1_000)),
      };
    }
    for (const bucket of drawn) {
      // Re-inserted so that the map's order is least recently used first.
      this.buckets.delete(bucket.key);
      this.makeRoom(now);
      this.buckets.set(bucket.key, { tokens: bucket.tokens - 1, updatedAtMs: now });
    }
    return { allowed: true };
  }

  private makeRoom(now: number): void {
    if (this.buckets.size < this.options.bucketsMax) return;
    for (const [key, state] of this.buckets) {
      const scope = key.slice(key.indexOf('\u0000') + 1);
      const limit = this.policy[scope];
      if (limit !== undefined && tokensAt(state, limit, now) >= limit.burst) {
        this.buckets.delete(key);
      }
    }
    // Still full: forget the least recently used bucket (its credential starts afresh).
    if (this.buckets.size >= this.options.bucketsMax) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }
}

/**
 * `LEDGERLINE_RATE_LIMITS`: JSON, scope (or `*`) → `{ "burst": n, "perSecond": r }`, e.g.
 * `{"*":{"burst":200,"perSecond":100},"ledger:adjust":{"burst":10,"perSecond":0.5}}`. Without it,
 * development has no limits (benches and load tests measure the platform, not the limiter) and
 * every other environment limits the operator scopes that move money into or out of the books.
 * Throws naming the bad entry: a service must not start on a policy it misread.
 */
export function rateLimitPolicyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  development: boolean,
): RateLimitPolicy {
  const raw = env['LEDGERLINE_RATE_LIMITS'];
  if (raw === undefined || raw.trim() === '') {
    return development ? {} : PRODUCTION_RATE_LIMITS_DEFAULT;
  }
  return parseRateLimitPolicy(raw);
}

export const PRODUCTION_RATE_LIMITS_DEFAULT: RateLimitPolicy = {
  'ledger:adjust': { burst: 20, perSecond: 1 },
  'ledger:approve': { burst: 20, perSecond: 1 },
};

export function parseRateLimitPolicy(raw: string): RateLimitPolicy {
  const name = 'LEDGERLINE_RATE_LIMITS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${name} must be an object of scope -> { burst, perSecond }`);
  }
  const policy: Record<string, TokenBucketLimit> = {};
  for (const [scope, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (scope !== ANY_SCOPE && !SCOPE_PATTERN.test(scope)) {
      throw new Error(`${name}: "${scope}" is neither a scope (area:action) nor "*"`);
    }
    const { burst, perSecond, ...rest } = (value ?? {}) as Record<string, unknown>;
    if (typeof value !== 'object' || value === null || Object.keys(rest).length > 0) {
      throw new Error(`${name}: ${scope} must be exactly { "burst": n, "perSecond": r }`);
    }
    if (!(
      Number.isSafeInteger(burst) &&
      (burst as number) >= 1 &&
      (burst as number) <= BURST_MAX
    )) {
      throw new Error(`${name}: ${scope}.burst must be an integer in 1..${BURST_MAX}`);
    }
    if (
      !(typeof perSecond === 'number' && perSecond > 0 && perSecond <= PER_SECOND_MAX) ||
      !Number.isFinite(perSecond)
    ) {
      throw new Error(`${name}: ${scope}.perSecond must be a number in (0, ${PER_SECOND_MAX}]`);
    }
    policy[scope] = { burst: burst as number, perSecond };
  }
  return policy;
}
