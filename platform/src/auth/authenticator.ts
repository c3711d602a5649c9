// The edge's authenticator: API keys (`llk_...`) from the auth schema, and JWT access tokens
// when an identity provider is configured. Which one is decided by the credential's shape, so
// a key is never offered to the JWT verifier or the other way round.
import type { Queryable } from '../db.js';
import type { Authenticator, Principal } from '../http/auth.js';
import {
  API_KEY_PREFIX,
  apiKeyDigest,
  LAST_USED_RESOLUTION_S,
  lookUpApiKeys,
  type AuthenticatedKey,
} from './api-keys.js';
import { createJwtVerifier, jwtSettingsFromEnv, type JwtSettings } from './jwt.js';

export function createAuthenticator(options: {
  /** A pool of the service's own role (member of ledgerline_edge). */
  db: Queryable;
  jwt?: JwtSettings | undefined;
  /** The clock recent lookups age by, and how many keys they keep (tests). */
  nowMs?: () => number;
  recentKeysMax?: number;
}): Authenticator {
  const verifyJwt = options.jwt === undefined ? undefined : createJwtVerifier(options.jwt);
  const recent = new RecentKeys(
    options.nowMs ?? Date.now,
    options.recentKeysMax ?? RECENT_KEYS_MAX,
  );
  const lookups = new ApiKeyLookups(options.db, recent);
  return {
    async authenticate(credential, { confirmedInWrite = false } = {}) {
      if (credential.startsWith(API_KEY_PREFIX))
        return lookups.lookup(credential, confirmedInWrite);
      if (verifyJwt !== undefined && credential.split('.').length === 3)
        return verifyJwt(credential);
      return undefined;
    },
    forget(credential) {
      lookups.forget(credential);
    },
  };
}

/** The authenticator a service's edge uses, configured from the environment. */
export function authenticatorFromEnv(
  db: Queryable,
  env: NodeJS.ProcessEnv = process.env,
): Authenticator {
  return createAuthenticator({ db, jwt: jwtSettingsFromEnv(env) });
}

/** Lookups one statement takes at most. */
const LOOKUP_BATCH_MAX = 256;
/** Statements in flight at once: a lone request need not wait for a whole batch. */
const LOOKUPS_IN_FLIGHT_MAX = 2;

interface PendingLookup {
  key: string;
  /** The key's digest, when the lookup already took it to ask the recent keys. */
  digest: string | undefined;
  resolve: (principal: Principal | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * How long a lookup may stand in for another: last_used_at's resolution, so a key in steady use
 * is still looked up, and its use noted, about once a minute.
 */
const RECENT_LOOKUP_MS = LAST_USED_RESOLUTION_S * 1_000;
/** Keys remembered at most; the least recently looked up goes first. */
const RECENT_KEYS_MAX = 10_000;

/**
 * Live keys looked up in the last minute, by the SHA-256 of the key (no secret is kept), each
 * until its expiry or a revocation set for later if that comes sooner. Unknown, expired and
 * revoked keys are never remembered: a key just created works at once, and a flood of made-up
 * keys cannot grow this.
 */
class RecentKeys {
  private readonly keys = new Map<string, { principal: Principal; untilMs: number }>();

  constructor(
    private readonly nowMs: () => number,
    private readonly keysMax: number,
  ) {}

  get(digest: string): Principal | undefined {
    const entry = this.keys.get(digest);
    if (entry === undefined) return undefined;
    if (entry.untilMs > this.nowMs()) return entry.principal;
    this.keys.delete(digest);
    return undefined;
  }

  remember(digest: string, found: AuthenticatedKey): void {
    const untilMs = Math.min(this.nowMs() + RECENT_LOOKUP_MS, found.liveUntil.getTime());
    // Re-inserted, so the Map's order stays the order of the last lookup.
    this.keys.delete(digest);
    if (this.keys.size >= this.keysMax) {
      const oldest = this.keys.keys().next();
      if (oldest.done !== true) this.keys.delete(oldest.value);
    }
    this.keys.set(digest, { principal: found.principal, untilMs });
  }

  forget(digest: string): void {
    this.keys.delete(digest);
  }
}

/**
 * API key lookups of concurrent requests, grouped: a lookup goes at once when fewer than
 * LOOKUPS_IN_FLIGHT_MAX statements are in flight, otherwise with the others that arrive
 * meanwhile in the next statement. A request is checked against the database after it arrived,
 * so a revoked key is refused from the next request; the one exception is an operation whose
 * write confirms the key in its own statement (`confirmedInWrite`, the payment intake), which
 * may take a lookup of the last minute and so skips a round trip before its write. Under load
 * the key lookup, one statement per request before it was grouped, was the processor's most
 * frequent statement.
 */
class ApiKeyLookups {
  private readonly waiting: PendingLookup[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: Queryable,
    private readonly recent: RecentKeys,
  ) {}

  lookup(key: string, recentSuffices: boolean): Promise<Principal | undefined> {
    let digest: string | undefined;
    if (recentSuffices) {
      digest = digestOf(key);
      const principal = this.recent.get(digest);
      if (principal !== undefined) return Promise.resolve(principal);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, digest, resolve, reject });
      if (this.inFlight < LOOKUPS_IN_FLIGHT_MAX) void this.drain();
    });
  }

  forget(key: string): void {
    this.recent.forget(digestOf(key));
  }

  private async drain(): Promise<void> {
    this.inFlight += 1;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, LOOKUP_BATCH_MAX);
        try {
          const found = await lookUpApiKeys(
            this.db,
            batch.map((lookup) => lookup.key),
          );
          batch.forEach((lookup, i) => {
            const key = found[i];
            if (key !== undefined) {
              this.recent.remember(lookup.digest ?? digestOf(lookup.key), key);
            }
            lookup.resolve(key?.principal);
          });
        } catch (error) {
          for (const lookup of batch) lookup.reject(error);
        }
      }
    } finally {
      this.inFlight -= 1;
    }
  }
}

function digestOf(key: string): string {
  return apiKeyDigest(key).toString('hex');
}
