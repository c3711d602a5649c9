// The edge's authenticator: API keys (`llk_...`) from the auth schema, and JWT access tokens
// when an identity provider is configured. Which one is decided by the credential's shape, so
// a key is never offered to the JWT verifier or the other way round.
import type { Queryable } from '../db.js';
import type { Authenticator, Principal } from '../http/auth.js';
import { API_KEY_PREFIX, authenticateApiKeys } from './api-keys.js';
import { createJwtVerifier, jwtSettingsFromEnv, type JwtSettings } from './jwt.js';

export function createAuthenticator(options: {
  /** A pool of the service's own role (member of ledgerline_edge). */
  db: Queryable;
  jwt?: JwtSettings | undefined;
}): Authenticator {
  const verifyJwt = options.jwt === undefined ? undefined : createJwtVerifier(options.jwt);
  const lookups = new ApiKeyLookups(options.db);
  return {
    async authenticate(credential) {
      if (credential.startsWith(API_KEY_PREFIX)) return lookups.lookup(credential);
      if (verifyJwt !== undefined && credential.split('.').length === 3)
        return verifyJwt(credential);
      return undefined;
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
  resolve: (principal: Principal | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * API key lookups of concurrent requests, grouped: a lookup goes at once when fewer than
 * LOOKUPS_IN_FLIGHT_MAX statements are in flight, otherwise with the others that arrive
 * meanwhile in the next statement. Every request is still checked against the database after
 * it arrived (nothing is cached), so a revoked key is refused from the next request; under load
 * the key lookup, one statement per request before, was the processor's most frequent statement.
 */
class ApiKeyLookups {
  private readonly waiting: PendingLookup[] = [];
  private inFlight = 0;

  constructor(private readonly db: Queryable) {}

  lookup(key: string): Promise<Principal | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      if (this.inFlight < LOOKUPS_IN_FLIGHT_MAX) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight += 1;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, LOOKUP_BATCH_MAX);
        try {
          const principals = await authenticateApiKeys(
            this.db,
            batch.map((lookup) => lookup.key),
          );
          batch.forEach((lookup, i) => lookup.resolve(principals[i]));
        } catch (error) {
          for (const lookup of batch) lookup.reject(error);
        }
      }
    } finally {
      this.inFlight -= 1;
    }
  }
}
