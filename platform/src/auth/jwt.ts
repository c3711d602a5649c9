// Optional OAuth2/OIDC: JWT access tokens from an identity provider, verified with jose against
// the provider's JWKS (remote URL or a local file): signature with an asymmetric algorithm,
// `iss`, `aud`, `exp` and `nbf` with a bounded clock skew; scopes from the `scope` claim.
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { intSetting } from '../config.js';
import type { Principal } from '../http/auth.js';

/** Only asymmetric algorithms: a shared HMAC secret would let every service mint tokens. */
export const JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
export const CLOCK_SKEW_S_DEFAULT = 30;
export const CLOCK_SKEW_S_MAX = 300;
const SCOPE_CLAIM_LENGTH_MAX = 4_096;
const SCOPES_MAX = 100;

export interface JwtSettings {
  /** Where the provider publishes its keys; or `jwksFile` for a local copy. */
  jwksUrl?: string;
  jwksFile?: string;
  issuer: string;
  audience: string;
  clockSkewS: number;
}

/**
 * JWT verification is on when LEDGERLINE_JWKS_URL or LEDGERLINE_JWKS_FILE is set; issuer and
 * audience are then required, because a token for another API must not be accepted here.
 */
export function jwtSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): JwtSettings | undefined {
  const jwksUrl = env['LEDGERLINE_JWKS_URL'] || undefined;
  const jwksFile = env['LEDGERLINE_JWKS_FILE'] || undefined;
  if (jwksUrl === undefined && jwksFile === undefined) return undefined;
  const issuer = env['LEDGERLINE_JWT_ISSUER'];
  const audience = env['LEDGERLINE_JWT_AUDIENCE'];
  if (!issuer || !audience)
    throw new Error(
      'LEDGERLINE_JWKS_URL/LEDGERLINE_JWKS_FILE need LEDGERLINE_JWT_ISSUER and LEDGERLINE_JWT_AUDIENCE',
    );
  return {
    ...(jwksUrl === undefined ? {} : { jwksUrl }),
    ...(jwksFile === undefined ? {} : { jwksFile }),
    issuer,
    audience,
    clockSkewS: intSetting(
      env,
      'LEDGERLINE_JWT_CLOCK_SKEW_S',
      CLOCK_SKEW_S_DEFAULT,
      0,
      CLOCK_SKEW_S_MAX,
    ),
  };
}

function keySet(settings: JwtSettings): JWTVerifyGetKey {
  if (settings.jwksUrl !== undefined)
    return createRemoteJWKSet(new URL(settings.jwksUrl), {
      timeoutDuration: 5_000,
      // A token signed with an unknown kid refetches at most every 30 s; keys are kept 10 min.
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
    });
  if (settings.jwksFile !== undefined)
    return createLocalJWKSet(JSON.parse(readFileSync(settings.jwksFile, 'utf8')) as JSONWebKeySet);
  throw new Error('JWT settings name neither a JWKS URL nor a JWKS file');
}

/** Scopes of a verified token: the space-separated `scope` claim (RFC 8693, RFC 9068). */
export function scopesOfClaims(payload: JWTPayload): string[] | undefined {
  const scope = payload['scope'];
  if (typeof scope !== 'string' || scope.length > SCOPE_CLAIM_LENGTH_MAX) return undefined;
  const scopes = scope.split(' ').filter((s) => s.length > 0);
  return scopes.length <= SCOPES_MAX ? scopes : undefined;
}

export type JwtVerifier = (token: string) => Promise<Principal | undefined>;

export function createJwtVerifier(settings: JwtSettings): JwtVerifier {
  const keys = keySet(settings);
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        algorithms: [...JWT_ALGORITHMS],
        issuer: settings.issuer,
        audience: settings.audience,
        clockTolerance: settings.clockSkewS,
        requiredClaims: ['exp', 'sub'],
      });
      const scopes = scopesOfClaims(payload);
      if (scopes === undefined || payload.sub === undefined) return undefined;
      return { subject: payload.sub, kind: 'jwt', scopes };
    } catch (error) {
      // Bad signature, wrong issuer or audience, expired, unknown key: not a valid credential.
      // Anything else (the JWKS endpoint is down) is the server's problem, not the caller's.
      if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout))
        return undefined;
      throw error;
    }
  };
}
