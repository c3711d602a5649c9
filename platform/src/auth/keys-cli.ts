// `npx ledgerline keys create|list|revoke|rotate`: API keys for machine clients, managed by an
// operator with the database owner's URL (DATABASE_URL or the local stack's). The secret is
// printed once, at creation or rotation, and is not stored anywhere.
import { parseArgs } from 'node:util';
import { platformEndpoints } from '../config.js';
import { createPool } from '../db.js';
import {
  createApiKey,
  KEY_LIFETIME_DAYS_DEFAULT,
  listApiKeys,
  migrateAuth,
  revokeApiKey,
  rotateApiKey,
  type ApiKeyRecord,
  type CreatedApiKey,
} from './api-keys.js';

export const KEYS_USAGE = `usage: ledgerline keys <command>
  create --name <name> --scopes <s1,s2,...> [--accounts <uuid,...>] [--days <1..730>]
                      a new key; prints its secret once (default lifetime ${KEY_LIFETIME_DAYS_DEFAULT} days)
  list [--json]       every key: id, name, scopes, accounts, created, expires, last used, revoked
  revoke <keyId>      refuses the key from the next request on
  rotate <keyId> [--grace-seconds <0..86400>] [--days <n>]
                      a new key with the same name, scopes and accounts; the old one is revoked
                      now, or after the grace period so clients can switch over
Connects as DATABASE_URL (the owner), or to the local stack.`;

export interface KeysIo {
  stdout(line: string): void;
  stderr(line: string): void;
}

function list(values: string | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new RangeError(`${name} must be a whole number`);
  return Number(value);
}

function describe(record: ApiKeyRecord): string {
  const state =
    record.revokedAt !== null && record.revokedAt.getTime() <= Date.now()
      ? `revoked ${record.revokedAt.toISOString()}`
      : record.expiresAt.getTime() <= Date.now()
        ? 'expired'
        : record.revokedAt !== null
          ? `active until ${record.revokedAt.toISOString()} (rotated)`
          : 'active';
  return [
    record.keyId,
    record.name,
    record.scopes.join(','),
    record.accountIds === null ? 'all accounts' : record.accountIds.join(','),
    `created ${record.createdAt.toISOString()}`,
    `expires ${record.expiresAt.toISOString()}`,
    `last used ${record.lastUsedAt?.toISOString() ?? 'never'}`,
    state,
  ].join('  ');
}

function printCreated(io: KeysIo, created: CreatedApiKey): void {
  io.stdout(describe(created.record));
  io.stdout('');
  io.stdout('Secret (shown once; store it in your secret manager):');
  io.stdout(created.secret);
}

export interface KeysCliOptions {
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The scopes the deployed contracts declare. A key asked for with any other is refused: a
   * misspelt scope would make a key that every request it is meant for gets 403 with.
   */
  readonly knownScopes?: readonly string[];
}

/** The requested scopes no contract declares, as one sentence; undefined when there are none. */
export function unknownScopesProblem(
  scopes: readonly string[],
  knownScopes: readonly string[],
): string | undefined {
  const unknown = scopes.filter((scope) => !knownScopes.includes(scope));
  if (unknown.length === 0) return undefined;
  const named = unknown.map((scope) => `"${scope}"`).join(', ');
  return `${named} ${unknown.length === 1 ? 'is not a scope' : 'are not scopes'} of any API; the scopes are ${knownScopes.join(', ')}`;
}

export async function runKeysCli(
  argv: readonly string[],
  io: KeysIo,
  options: KeysCliOptions = {},
): Promise<number> {
  const env = options.env ?? process.env;
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      accounts: { type: 'string' },
      days: { type: 'string' },
      'grace-seconds': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const pool = createPool(platformEndpoints(env).databaseUrl, {
    max: 2,
    applicationName: 'ledgerline-keys',
  });
  try {
    await migrateAuth(pool, []);
    switch (command) {
      case 'create': {
        const scopes = list(values.scopes);
        if (values.name === undefined || scopes === undefined) {
          io.stderr(KEYS_USAGE);
          return 2;
        }
        const unknown =
          options.knownScopes === undefined
            ? undefined
            : unknownScopesProblem(scopes, options.knownScopes);
        if (unknown !== undefined) throw new RangeError(unknown);
        const accountIds = list(values.accounts)?.map((id) => id.toLowerCase());
        const lifetimeDays = integer(values.days, '--days');
        printCreated(
          io,
          await createApiKey(pool, {
            name: values.name,
            scopes,
            ...(accountIds === undefined ? {} : { accountIds }),
            ...(lifetimeDays === undefined ? {} : { lifetimeDays }),
          }),
        );
        return 0;
      }
      case 'list': {
        const keys = await listApiKeys(pool);
        if (values.json === true) io.stdout(JSON.stringify(keys, null, 2));
        else if (keys.length === 0) io.stdout('no keys');
        else for (const key of keys) io.stdout(describe(key));
        return 0;
      }
      case 'revoke': {
        const keyId = positionals[0];
        if (keyId === undefined) {
          io.stderr(KEYS_USAGE);
          return 2;
        }
        if (!(await revokeApiKey(pool, keyId))) {
          io.stderr(`no active key ${keyId}`);
          return 1;
        }
        io.stdout(`revoked ${keyId}: refused from the next request on`);
        return 0;
      }
      case 'rotate': {
        const keyId = positionals[0];
        if (keyId === undefined) {
          io.stderr(KEYS_USAGE);
          return 2;
        }
        const graceS = integer(values['grace-seconds'], '--grace-seconds');
        const lifetimeDays = integer(values.days, '--days');
        const created = await rotateApiKey(pool, keyId, {
          ...(graceS === undefined ? {} : { graceS }),
          ...(lifetimeDays === undefined ? {} : { lifetimeDays }),
        });
        if (created === undefined) {
          io.stderr(`no active key ${keyId}`);
          return 1;
        }
        io.stdout(`rotated ${keyId} → ${created.record.keyId}`);
        printCreated(io, created);
        return 0;
      }
      default:
        io.stderr(KEYS_USAGE);
        return 2;
    }
  } catch (error) {
    io.stderr(`ledgerline keys ${command ?? ''}: ${(error as Error).message}`);
    return 1;
  } finally {
    await pool.end();
  }
}
