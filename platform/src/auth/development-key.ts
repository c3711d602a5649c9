// The development key `npm start` prints: created once per local stack and kept in
// LEDGERLINE_HOME (mode 0600), so the printed curl keeps working across restarts. Never used
// outside development: production keys come from `npx ledgerline keys create`.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ledgerlineHome } from '../config.js';
import { createPool } from '../db.js';
import { authenticateApiKey, createApiKey, migrateAuth } from './api-keys.js';

export function developmentKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(ledgerlineHome(env), 'development-api-key');
}

/** The development key from LEDGERLINE_API_KEY or the file `npm start` wrote, if any. */
export async function readDevelopmentKey(
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (env['LEDGERLINE_API_KEY']) return env['LEDGERLINE_API_KEY'];
  try {
    return (await readFile(developmentKeyFile(env), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stored development key when it is still valid and grants `scopes`; otherwise a new one
 * (stored for next time). `ownerDatabaseUrl` is the admin's: only it may create keys.
 */
export async function ensureDevelopmentKey(
  ownerDatabaseUrl: string,
  scopes: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ secret: string; created: boolean }> {
  const pool = createPool(ownerDatabaseUrl, { max: 1, applicationName: 'development-key' });
  try {
    await migrateAuth(pool, []);
    const stored = await readDevelopmentKey({ ...env, LEDGERLINE_API_KEY: '' });
    if (stored !== undefined) {
      const principal = await authenticateApiKey(pool, stored);
      if (principal !== undefined && scopes.every((s) => principal.scopes.includes(s)))
        return { secret: stored, created: false };
    }
    const { secret } = await createApiKey(pool, {
      name: 'development (npm start)',
      scopes,
      lifetimeDays: 365,
    });
    await writeFile(developmentKeyFile(env), `${secret}\n`, { mode: 0o600 });
    return { secret, created: true };
  } finally {
    await pool.end();
  }
}
