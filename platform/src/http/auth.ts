// Who is calling: the identity the HTTP edge establishes from a credential before any handler
// runs. Handlers and policies (account binding, dual control, caps, rate limits) read it; they
// never parse credentials themselves.

/** An authenticated caller, as established by the platform's HTTP edge. */
export interface Principal {
  /** Stable identity for logs and audit: the key's name or the token's `sub`. */
  subject: string;
  kind: 'api-key' | 'jwt';
  /** The API key's id (not its secret); absent for JWT callers. */
  keyId?: string;
  /** Scopes granted to this credential, e.g. `payments:write`. */
  scopes: readonly string[];
  /** When present, the accounts this credential is bound to; absent means unbound. */
  accountIds?: readonly string[];
}
