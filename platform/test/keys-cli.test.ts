// `npx ledgerline keys create|list|revoke|rotate`, run as the operator runs it (the real command,
// against the real PostgreSQL of this test), and the edge's answer to the keys it manages: the
// secret is printed once and never listed, a revoked key is refused (401) from the next request,
// and rotation gives a new secret while the old one stops working.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  processorApiDocument,
  processorApiOperations,
} from '@ledgerline/generated/openapi/processor.document';
import { apiKeyId, migrateAuth } from '../src/auth/api-keys.js';
import { createAuthenticator } from '../src/auth/authenticator.js';
import { createPool, type Pool } from '../src/db.js';
import { startBareEdge, type BareEdge } from '@ledgerline/testkit/bare-edge';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = /^llk_[A-Za-z0-9_-]+$/m;

let env: TestEnvironment;
let owner: Pool;
let edge: BareEdge | undefined;
let base: string;

async function keys(...args: string[]): Promise<string> {
  const { stdout } = await run('npx', ['ledgerline', 'keys', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: env.adminDatabaseUrl },
    timeout: 60_000,
    maxBuffer: 1_000_000,
  });
  return stdout;
}

/** Runs a command that must fail; its exit code and what it said on stderr. */
async function keysRefused(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await keys(...args);
  } catch (error) {
    const failed = error as { code?: unknown; stderr?: unknown };
    return { code: Number(failed.code), stderr: String(failed.stderr) };
  }
  throw new Error(`ledgerline keys ${args.join(' ')} succeeded`);
}

function secretOf(output: string): string {
  const secret = SECRET.exec(output)?.[0];
  if (secret === undefined) throw new Error(`no secret in:\n${output}`);
  return secret;
}

async function readPayment(secret: string): Promise<number> {
  const response = await fetch(`${base}/v1/payments/${randomUUID()}`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  await response.text();
  return response.status;
}

beforeAll(async () => {
  env = await createTestEnvironment('keys-cli', []);
  owner = createPool(env.adminDatabaseUrl, { max: 2 });
  await migrateAuth(owner, []);
  edge = await startBareEdge({
    contract: {
      service: 'processor',
      document: processorApiDocument,
      operations: processorApiOperations,
    },
    authenticator: createAuthenticator({ db: owner }),
    name: 'keys-cli',
  });
  base = edge.url;
}, 60_000);

afterAll(async () => {
  await edge?.stop();
  await owner?.end();
  await env?.cleanup();
});

describe('ledgerline keys', () => {
  it('create prints the secret once; list shows the key but never its secret; revoke refuses it from the next request', async () => {
    const created = await keys('create', '--name', 'checkout', '--scopes', 'payments:read');
    const secret = secretOf(created);
    expect(created).toContain('shown once');
    expect(await readPayment(secret)).toBe(418);

    const listed = await keys('list');
    const listedJson = await keys('list', '--json');
    const keyId = apiKeyId(secret) ?? '';
    expect(listed).toContain(keyId);
    expect(listed).toContain('checkout');
    for (const output of [listed, listedJson]) {
      expect(output).not.toContain(secret);
      expect(output).not.toMatch(SECRET);
    }
    expect(listed).toMatch(/last used \d{4}-/);

    expect(await keys('revoke', keyId)).toContain(`revoked ${keyId}`);
    expect(await readPayment(secret)).toBe(401);
    expect(await keys('list')).toMatch(new RegExp(`${keyId}.*revoked`));
  }, 120_000);

  it('refuses a key it cannot make as asked, saying why, and makes none', async () => {
    const before = await keys('list', '--json');
    const misspelt = await keysRefused(
      'create',
      '--name',
      'payouts',
      '--scopes',
      'payments:read,payments:wirte,nope:scope',
    );
    expect(misspelt.code).toBe(1);
    expect(misspelt.stderr).toContain(
      '"payments:wirte", "nope:scope" are not scopes of any API; the scopes are audit:read,',
    );
    for (const [args, said] of [
      [['--scopes', 'PAYMENTS'], '"PAYMENTS" is not a scope of any API'],
      [['--scopes', 'payments:read', '--accounts', 'nope'], '"nope" is not an account id'],
      [['--scopes', 'payments:read', '--days', '0'], 'a key lives 1..730 days'],
    ] as const) {
      const refused = await keysRefused('create', '--name', 'payouts', ...args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(said);
    }
    const usage = await keysRefused('create', '--name', 'payouts');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: ledgerline keys');
    expect(await keys('list', '--json')).toBe(before);
  }, 120_000);

  it('rotate gives a new secret with the same scopes, and the old one stops working', async () => {
    const old = secretOf(await keys('create', '--name', 'payouts', '--scopes', 'payments:read'));
    const oldId = apiKeyId(old) ?? '';
    const rotated = await keys('rotate', oldId);
    const fresh = secretOf(rotated);
    expect(fresh).not.toBe(old);
    expect(rotated).toContain(`rotated ${oldId}`);
    expect(await readPayment(fresh)).toBe(418);
    expect(await readPayment(old)).toBe(401);
  }, 120_000);
});
