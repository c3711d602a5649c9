// API keys of machine clients (the Stripe convention: `Authorization: Bearer llk_...`).
// A key is `llk_<keyId>_<secret>`: the prefix makes a leaked key recognisable to secret
// scanners, the key id finds the row without scanning, and the secret carries 256 random bits.
// Only the SHA-256 of the whole key is stored; with that much entropy a slow password hash adds
// nothing, and the lookup stays one primary-key read per request. Revoking a key takes effect on
// the next request: the edge reuses a recent lookup only for a write that asks
// auth.key_is_live in its own statement (authenticator.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate, readMigrations, type Pool, type Queryable } from '../db.js';
import { arrayLiteral } from '../sql-array.js';
import type { Principal } from '../http/auth.js';

export const API_KEY_PREFIX = 'llk_';
export const AUTH_SCHEMA = 'auth';
/** The NOLOGIN group every service role joins to read keys (see the auth migrations). */
export const EDGE_ROLE = 'ledgerline_edge';

const KEY_PATTERN = /^llk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const SCOPE_PATTERN = /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const KEY_NAME_LENGTH_MAX = 100;
export const KEY_SCOPES_MAX = 50;
export const KEY_ACCOUNTS_MAX = 100;
/** Keys live at most two years; a default of 90 days keeps rotation a habit. */
export const KEY_LIFETIME_DAYS_MAX = 730;
export const KEY_LIFETIME_DAYS_DEFAULT = 90;
/** last_used_at is written at most this often per key, so hot keys do not write per request. */
export const LAST_USED_RESOLUTION_S = 60;

const migrationsDir = fileURLToPath(new URL('../../migrations/auth', import.meta.url));

export interface ApiKeySpec {
  name: string;
  scopes: readonly string[];
  /** Accounts the key is bound to; undefined for an unbound key. */
  accountIds?: readonly string[];
  /** Lifetime from now, 1..KEY_LIFETIME_DAYS_MAX days. */
  lifetimeDays?: number;
}

export interface ApiKeyRecord {
  keyId: string;
  name: string;
  scopes: string[];
  accountIds: string[] | null;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  rotatedFrom: string | null;
}

export interface CreatedApiKey {
  /** The whole key: shown once, never stored. */
  secret: string;
  record: ApiKeyRecord;
}

// ---------- pure: format, hash, validation ----------

export function generateApiKey(): { keyId: string; secret: string } {
  const keyId = randomBytes(8).toString('hex');
  return { keyId, secret: `${API_KEY_PREFIX}${keyId}_${randomBytes(32).toString('base64url')}` };
}

/** The key id of a well-formed key, or undefined for anything else. */
export function apiKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

export function apiKeyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Problems with a key specification, as sentences; empty when it is acceptable. */
export function apiKeySpecProblems(spec: ApiKeySpec): string[] {
  const problems: string[] = [];
  const name = spec.name.trim();
  if (name.length === 0 || name.length > KEY_NAME_LENGTH_MAX)
    problems.push(`a key's name has 1..${KEY_NAME_LENGTH_MAX} characters`);
  if (spec.scopes.length === 0 || spec.scopes.length > KEY_SCOPES_MAX)
    problems.push(`a key has 1..${KEY_SCOPES_MAX} scopes`);
  for (const scope of spec.scopes)
    if (!SCOPE_PATTERN.test(scope)) problems.push(`"${scope}" is not a scope (area:action)`);
  if (spec.accountIds !== undefined) {
    if (spec.accountIds.length === 0 || spec.accountIds.length > KEY_ACCOUNTS_MAX)
      problems.push(`a bound key names 1..${KEY_ACCOUNTS_MAX} accounts`);
    for (const id of spec.accountIds)
      if (!UUID_PATTERN.test(id)) problems.push(`"${id}" is not an account id (lowercase UUID)`);
  }
  const days = spec.lifetimeDays ?? KEY_LIFETIME_DAYS_DEFAULT;
  if (!Number.isSafeInteger(days) || days < 1 || days > KEY_LIFETIME_DAYS_MAX)
    problems.push(`a key lives 1..${KEY_LIFETIME_DAYS_MAX} days`);
  return problems;
}

/** The principal a stored key stands for, or undefined when it is revoked or expired. */
export function principalOfKey(record: ApiKeyRecord, now: Date): Principal | undefined {
  if (record.revokedAt !== null && record.revokedAt.getTime() <= now.getTime()) return undefined;
  if (record.expiresAt.getTime() <= now.getTime()) return undefined;
  return {
    subject: `api-key:${record.name}`,
    kind: 'api-key',
    keyId: record.keyId,
    scopes: record.scopes,
    ...(record.accountIds === null ? {} : { accountIds: record.accountIds }),
  };
}

// ---------- I/O: the auth schema ----------

interface ApiKeyRow {
  key_id: string;
  name: string;
  key_sha256: Buffer;
  scopes: string[];
  account_ids: string[] | null;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  rotated_from: string | null;
}

const COLUMNS = `key_id, name, key_sha256, scopes, account_ids, created_at, expires_at,
  last_used_at, revoked_at, rotated_from`;

function recordOf(row: ApiKeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    name: row.name,
    scopes: row.scopes,
    accountIds: row.account_ids,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    rotatedFrom: row.rotated_from,
  };
}

/**
 * Creates the auth schema (as its owner) and lets `appRoles` read keys through the edge group.
 * Idempotent; part of the deploy step. Answers the migration versions applied by this run.
 */
export async function migrateAuth(ownerPool: Pool, appRoles: readonly string[]): Promise<number[]> {
  const applied = await migrate(ownerPool, AUTH_SCHEMA, await readMigrations(migrationsDir));
  for (const role of appRoles)
    await ownerPool.query(`GRANT ${EDGE_ROLE} TO ${pg.escapeIdentifier(role)}`);
  return applied;
}

/**
 * Finds the key a request presented and notes its use. One round trip: the UPDATE (at most once
 * a minute per key, and only for the right, live key) rides along with the read.
 */
export async function authenticateApiKey(
  db: Queryable,
  key: string,
  now: Date = new Date(),
): Promise<Principal | undefined> {
  const [principal] = await authenticateApiKeys(db, [key], now);
  return principal;
}

/**
 * The keys several requests presented, looked up by one statement (the edge groups the lookups
 * of concurrent requests): each answer is that request's own, as if it had been looked up alone.
 */
export async function authenticateApiKeys(
  db: Queryable,
  keys: readonly string[],
  now: Date = new Date(),
): Promise<(Principal | undefined)[]> {
  const found = await lookUpApiKeys(db, keys, now);
  return found.map((key) => key?.principal);
}

/** A key a lookup found live, and until when it stays live unless it is revoked meanwhile. */
export interface AuthenticatedKey {
  principal: Principal;
  liveUntil: Date;
}

/** authenticateApiKeys, with each live key's expiry (or its revocation set for later). */
export async function lookUpApiKeys(
  db: Queryable,
  keys: readonly string[],
  now: Date = new Date(),
): Promise<(AuthenticatedKey | undefined)[]> {
  // The distinct (key id, digest) pairs of the well-formed keys: one row of the statement each.
  const presented = new Map<string, { keyId: string; digest: string }>();
  const digests = keys.map((key) => {
    const keyId = apiKeyId(key);
    if (keyId === undefined) return undefined;
    const digest = apiKeyDigest(key);
    const hex = digest.toString('hex');
    presented.set(`${keyId}:${hex}`, { keyId, digest: hex });
    return { keyId, digest };
  });
  if (presented.size === 0) return keys.map(() => undefined);
  const pairs = [...presented.values()];
  // Named: prepared once per connection, so the statement every request runs is planned once.
  const { rows } = await db.query<ApiKeyRow>({
    name: 'api-keys-authenticate',
    text: `WITH presented AS (
       SELECT p.key_id, decode(p.digest, 'hex') AS digest
         FROM unnest($1::text[], $2::text[]) AS p(key_id, digest)),
     touched AS (
       UPDATE auth.api_keys k SET last_used_at = now()
         FROM presented p
        WHERE k.key_id = p.key_id AND k.key_sha256 = p.digest AND auth.key_is_live(k.key_id)
          AND (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $3))
       RETURNING k.key_id)
     SELECT ${COLUMNS} FROM auth.api_keys WHERE key_id = ANY($1::text[])`,
    values: [
      arrayLiteral(pairs.map((p) => p.keyId)),
      arrayLiteral(pairs.map((p) => p.digest)),
      LAST_USED_RESOLUTION_S,
    ],
  });
  const rowOf = new Map(rows.map((row) => [row.key_id, row]));
  return digests.map((presentedKey) => {
    if (presentedKey === undefined) return undefined;
    const row = rowOf.get(presentedKey.keyId);
    if (row === undefined) return undefined;
    // Constant time, although a digest of a 256-bit secret leaks nothing useful through timing.
    const { digest } = presentedKey;
    if (row.key_sha256.length !== digest.length || !timingSafeEqual(row.key_sha256, digest))
      return undefined;
    const record = recordOf(row);
    const principal = principalOfKey(record, now);
    if (principal === undefined) return undefined;
    const { expiresAt, revokedAt } = record;
    return {
      principal,
      liveUntil: revokedAt !== null && revokedAt < expiresAt ? revokedAt : expiresAt,
    };
  });
}

export async function createApiKey(
  db: Queryable,
  spec: ApiKeySpec,
  rotatedFrom: string | null = null,
): Promise<CreatedApiKey> {
  const problems = apiKeySpecProblems(spec);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const { keyId, secret } = generateApiKey();
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO auth.api_keys (key_id, name, key_sha256, scopes, account_ids, expires_at, rotated_from)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6), $7)
     RETURNING ${COLUMNS}`,
    [
      keyId,
      spec.name.trim(),
      apiKeyDigest(secret),
      [...new Set(spec.scopes)].sort(),
      spec.accountIds === undefined ? null : [...new Set(spec.accountIds)],
      spec.lifetimeDays ?? KEY_LIFETIME_DAYS_DEFAULT,
      rotatedFrom,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('the key was not stored');
  return { secret, record: recordOf(row) };
}

export async function listApiKeys(db: Queryable, limit = 1_000): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM auth.api_keys ORDER BY created_at, key_id LIMIT $1`,
    [limit],
  );
  return rows.map(recordOf);
}

/** Revokes a key now; answers false when there is no such live key. */
export async function revokeApiKey(db: Queryable, keyId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE auth.api_keys SET revoked_at = now()
      WHERE key_id = $1 AND (revoked_at IS NULL OR revoked_at > now())`,
    [keyId],
  );
  return rowCount === 1;
}

/** Longest overlap of an old and a new key during rotation: one day. */
export const ROTATION_GRACE_S_MAX = 86_400;

/**
 * A new key with the same name, scopes and accounts, in one transaction with the old key's
 * revocation: at once (the default), or after `graceS` seconds so clients can switch over.
 */
export async function rotateApiKey(
  pool: Pool,
  keyId: string,
  options: { graceS?: number; lifetimeDays?: number } = {},
): Promise<CreatedApiKey | undefined> {
  const { graceS = 0, lifetimeDays } = options;
  if (!Number.isSafeInteger(graceS) || graceS < 0 || graceS > ROTATION_GRACE_S_MAX)
    throw new RangeError(`the rotation grace is 0..${ROTATION_GRACE_S_MAX} seconds`);
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    const { rows } = await client.query<ApiKeyRow>(
      `UPDATE auth.api_keys SET revoked_at = now() + make_interval(secs => $2)
        WHERE key_id = $1 AND (revoked_at IS NULL OR revoked_at > now()) AND expires_at > now()
       RETURNING ${COLUMNS}`,
      [keyId, graceS],
    );
    const old = rows[0];
    if (old === undefined) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const created = await createApiKey(
      client,
      {
        name: old.name,
        scopes: old.scopes,
        ...(old.account_ids === null ? {} : { accountIds: old.account_ids }),
        ...(lifetimeDays === undefined ? {} : { lifetimeDays }),
      },
      old.key_id,
    );
    await client.query('COMMIT');
    return created;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
