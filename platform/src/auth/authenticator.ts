// The edge's authenticator: API keys (`llk_...`) from the auth schema, and JWT access tokens
// when an identity provider is configured. Which one is decided by the credential's shape, so
// a key is never offered to the JWT verifier or the other way round.
import type { Queryable } from '../db.js';
import type { Authenticator } from '../http/auth.js';
import { API_KEY_PREFIX, authenticateApiKey } from './api-keys.js';
import { createJwtVerifier, jwtSettingsFromEnv, type JwtSettings } from './jwt.js';

export function createAuthenticator(options: {
  /** A pool of the service's own role (member of ledgerline_edge). */
  db: Queryable;
  jwt?: JwtSettings | undefined;
}): Authenticator {
  const verifyJwt = options.jwt === undefined ? undefined : createJwtVerifier(options.jwt);
  return {
    async authenticate(credential) {
      if (credential.startsWith(API_KEY_PREFIX)) return authenticateApiKey(options.db, credential);
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
