// Who is calling, and may they: the HTTP edge establishes the caller from a credential before
// any handler runs, and enforces exactly what the operation's contract declares (its `security`
// requirements). Handlers and policies (account binding, dual control, caps, rate limits) read
// the resulting Principal; they never parse credentials themselves.
import type { OpenApiDocument, OpenApiOperation } from './openapi.js';
import { ProblemError, type ProblemDetails } from './problem.js';

/** An authenticated caller, as established by the platform's HTTP edge. */
export interface Principal {
  /** Stable identity for logs and audit: `api-key:<name>` or the token's `sub`. */
  subject: string;
  kind: 'api-key' | 'jwt';
  /** The API key's id (not its secret); absent for JWT callers. */
  keyId?: string;
  /** Scopes granted to this credential, e.g. `payments:write`. */
  scopes: readonly string[];
  /** When present, the accounts this credential is bound to; absent means unbound. */
  accountIds?: readonly string[];
}

/** Turns a presented credential into a principal; undefined when it is not (or no longer) valid. */
export interface Authenticator {
  authenticate(credential: string, options?: AuthenticateOptions): Promise<Principal | undefined>;
  /** Drops what it remembers of a credential a write found no longer live. */
  forget?(credential: string): void;
}

export interface AuthenticateOptions {
  /**
   * The operation's write confirms in its own statement that the caller's API key is still live
   * (auth.key_is_live), so a lookup of the last minute may stand in for a new one: a revoked key
   * is still refused from the next request on, by that statement (KeyNoLongerLive).
   */
  readonly confirmedInWrite?: boolean;
}

/**
 * Thrown by a handler whose write found the caller's API key revoked or expired since the edge
 * looked it up: nothing was written, and the edge answers 401 as for any refused credential.
 */
export class KeyNoLongerLive extends Error {
  constructor() {
    super('the API key was revoked or expired since the edge looked it up');
    this.name = 'KeyNoLongerLive';
  }
}

/** One alternative of an OpenAPI `security` list: scheme name → scopes, all required. */
export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

export const AUTH_REALM = 'ledgerline';
/** Longest Authorization header accepted; a JWT with many scopes fits comfortably. */
export const CREDENTIAL_LENGTH_MAX = 8_192;
const PROBLEM_BASE = 'https://ledgerline.dev/problems/';
// RFC 6750 b64token.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/**
 * The security requirements of an operation: its own `security` when it declares one (an empty
 * list opens it), otherwise the document's. A document without any means open: the contract
 * test refuses such documents, so an operation cannot be left open by accident.
 */
export function operationSecurity(
  document: OpenApiDocument,
  operation: Pick<OpenApiOperation, 'method' | 'path'>,
): readonly SecurityRequirement[] {
  const paths = (document['paths'] ?? {}) as Record<string, Record<string, unknown>>;
  const declared = paths[operation.path]?.[operation.method.toLowerCase()] as
    { security?: SecurityRequirement[] } | undefined;
  const security =
    declared?.security ?? (document['security'] as SecurityRequirement[] | undefined);
  return security ?? [];
}

/** Open when there is no requirement, or one alternative is the empty (anonymous) requirement. */
export function isOpen(requirements: readonly SecurityRequirement[]): boolean {
  return requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0);
}

/** Every scope any alternative names (for documentation and the contract test). */
export function scopesOf(requirements: readonly SecurityRequirement[]): string[] {
  return [...new Set(requirements.flatMap((r) => Object.values(r).flat()))].sort();
}

/** The scopes of the first alternative the principal does not satisfy fully, or none. */
export function missingScopes(
  requirements: readonly SecurityRequirement[],
  principal: Principal,
): string[] {
  let missing: string[] = [];
  for (const requirement of requirements) {
    const needed = Object.values(requirement).flat();
    const lacking = needed.filter((scope) => !principal.scopes.includes(scope));
    if (lacking.length === 0) return [];
    if (missing.length === 0) missing = lacking;
  }
  return missing;
}

export type BearerCredential =
  { kind: 'missing' } | { kind: 'malformed' } | { kind: 'present'; credential: string };

/** Reads `Authorization: Bearer <credential>` (RFC 6750 section 2.1). */
export function bearerCredential(header: string | string[] | undefined): BearerCredential {
  if (header === undefined || header === '') return { kind: 'missing' };
  if (typeof header !== 'string' || header.length > CREDENTIAL_LENGTH_MAX)
    return { kind: 'malformed' };
  const match = BEARER.exec(header);
  return match ? { kind: 'present', credential: match[1] as string } : { kind: 'malformed' };
}

export type AccessDecision =
  | { allowed: true; principal: Principal | undefined }
  | { allowed: false; problem: ProblemDetails; challenge: string };

/** The 401 of a credential that is unknown, expired or revoked. */
export function credentialRefused(): AccessDecision & { allowed: false } {
  return unauthenticated('The credential is unknown, expired or revoked.', 'invalid_token');
}

function unauthenticated(
  detail: string,
  error?: 'invalid_token',
): AccessDecision & { allowed: false } {
  return {
    allowed: false,
    problem: {
      type: `${PROBLEM_BASE}unauthenticated`,
      title: 'Authentication required',
      status: 401,
      detail,
    },
    challenge:
      error === undefined
        ? `Bearer realm="${AUTH_REALM}"`
        : `Bearer realm="${AUTH_REALM}", error="${error}"`,
  };
}

/** 403 for a valid credential that lacks a scope; names the scope(s) to ask for. */
export function insufficientScope(scopes: readonly string[]): AccessDecision {
  const list = scopes.join(' ');
  return {
    allowed: false,
    problem: {
      type: `${PROBLEM_BASE}insufficient-scope`,
      title: 'Insufficient scope',
      status: 403,
      detail: `This operation needs the scope ${scopes.join(' and ')}, which the credential does not grant.`,
      scope: list,
    },
    challenge: `Bearer realm="${AUTH_REALM}", error="insufficient_scope", scope="${list}"`,
  };
}

/**
 * The edge's decision for one request: open operations pass without a principal; otherwise the
 * credential must be well-formed and valid (401) and grant the declared scopes (403).
 */
export async function decideAccess(
  requirements: readonly SecurityRequirement[],
  authorization: string | string[] | undefined,
  authenticator: Authenticator,
  options: AuthenticateOptions = {},
): Promise<AccessDecision> {
  if (isOpen(requirements)) return { allowed: true, principal: undefined };
  const bearer = bearerCredential(authorization);
  if (bearer.kind === 'missing')
    return unauthenticated('Send Authorization: Bearer with an API key or an access token.');
  if (bearer.kind === 'malformed')
    return unauthenticated(
      'The Authorization header is not "Bearer <credential>" (RFC 6750).',
      'invalid_token',
    );
  const principal = await authenticator.authenticate(bearer.credential, options);
  if (principal === undefined) return credentialRefused();
  const missing = missingScopes(requirements, principal);
  if (missing.length > 0) return insufficientScope(missing);
  return { allowed: true, principal };
}

/**
 * Account binding: may this caller see or move money of `accountId`? An unbound credential may
 * (its scopes already limit what it does); a bound one only for its own accounts.
 */
export function mayActOnAccount(principal: Principal | undefined, accountId: string): boolean {
  if (principal === undefined) return false;
  if (principal.accountIds === undefined) return true;
  return principal.accountIds.includes(accountId.toLowerCase());
}

/** The accounts a bound principal is limited to; undefined when it is not bound. */
export function boundAccounts(principal: Principal | undefined): readonly string[] | undefined {
  return principal?.accountIds;
}

/**
 * 403 for a bound credential acting outside its accounts, where the account's existence is
 * the caller's own knowledge (it named it); reads of others' resources answer 404 instead.
 */
export function accountNotPermitted(detail: string): ProblemError {
  return new ProblemError(403, 'account-not-permitted', 'Account not permitted', detail);
}

/** Every scope the operations of a document declare, sorted (an operator key's full set). */
export function documentScopes(document: OpenApiDocument): string[] {
  const paths = (document['paths'] ?? {}) as Record<string, Record<string, unknown>>;
  const requirements: SecurityRequirement[] = [];
  for (const [path, item] of Object.entries(paths))
    for (const method of Object.keys(item))
      requirements.push(...operationSecurity(document, { method, path }));
  return scopesOf(requirements);
}
