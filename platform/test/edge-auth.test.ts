// The trust boundary at the HTTP edge, on the real PostgreSQL: every operation of every contract
// declares a scope, and the edge answers 401 (no, malformed, unknown, revoked or expired
// credential, with WWW-Authenticate) and 403 (valid credential without the scope, naming it)
// before any handler runs. The operations are walked from the generated contracts, so an
// operation added later without a scope fails this test.
import { randomBytes, randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import pg from 'pg';
import { apiContracts, apiScopes } from '@ledgerline/generated/openapi/contracts';
import {
  apiKeyDigest,
  apiKeyId,
  authenticateApiKey,
  createApiKey,
  migrateAuth,
  revokeApiKey,
  rotateApiKey,
} from '../src/auth/api-keys.js';
import { createAuthenticator } from '../src/auth/authenticator.js';
import { createPool, urlForRole, type Pool } from '../src/db.js';
import { declaredMethods } from '../src/http/app.js';
import { isOpen, operationSecurity, scopesOf } from '../src/http/auth.js';
import type { OpenApiOperation } from '../src/http/openapi.js';
import { REACHED, startBareEdge, type BareEdge } from '@ledgerline/testkit/bare-edge';
import {
  boundedStep,
  createTestEnvironment,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';

const PROBES = new Set(['/healthz', '/readyz']);
/**
 * Operations deliberately open besides the probes, each with its reason. Anything else without
 * a scope fails the first test below: an operation cannot be left open by omission.
 */
const PUBLIC_OPERATIONS: Readonly<Record<string, string>> = {
  // The Ed25519 public key that verifies audit checkpoints: anyone holding a copy of the
  // checkpoints must be able to check them, and a public key reveals nothing.
  'audit getCheckpointSigningKey': 'a public key',
};
/**
 * Operations any valid credential may call, whatever its scopes (still 401 without one), each
 * with its reason.
 */
const SCOPELESS_OPERATIONS: Readonly<Record<string, string>> = {
  // Who the caller is: every client must be able to learn its own scopes.
  'processor getCaller': 'the caller itself',
};
const isScopeless = (service: string, operation: OpenApiOperation) =>
  `${service} ${operation.operationId}` in SCOPELESS_OPERATIONS;
const isPublic = (service: string, operation: OpenApiOperation) =>
  PROBES.has(operation.path) || `${service} ${operation.operationId}` in PUBLIC_OPERATIONS;

let env: TestEnvironment;
let owner: Pool;
/** The edge looks keys up as a login role that only joined ledgerline_edge, like a service. */
let edge: Pool;
const edgeRole = `edge_test_${randomBytes(4).toString('hex')}`;
const servers = new Map<string, BareEdge>();
/** Operations whose handler ran: a refused request must never reach one. */
const reached: string[] = [];

async function key(scopes: readonly string[], extra: { accountIds?: string[] } = {}) {
  return (await createApiKey(owner, { name: `edge-${randomUUID()}`, scopes, ...extra })).secret;
}

function samplePath(path: string): string {
  return path.replace(/\{[^}]+\}/g, () => randomUUID());
}

async function call(
  service: string,
  operation: Pick<OpenApiOperation, 'method' | 'path'>,
  authorization: string | undefined,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const base = servers.get(service)?.url;
  if (base === undefined) throw new Error(`no ${service} server`);
  const response = await fetch(`${base}${samplePath(operation.path)}`, {
    method: operation.method,
    headers: authorization === undefined ? {} : { authorization },
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status: response.status, headers: response.headers, body };
}

beforeAll(async () => {
  env = await createTestEnvironment('edge-auth', []);
  owner = createPool(env.adminDatabaseUrl, { max: 2 });
  await owner.query(`CREATE ROLE ${edgeRole} LOGIN PASSWORD 'edge_test'`);
  await migrateAuth(owner, [edgeRole]);
  edge = createPool(urlForRole(env.databaseUrl, edgeRole, 'edge_test'), { max: 4 });
  const authenticator = createAuthenticator({ db: edge });
  for (const contract of apiContracts) {
    const bare = await startBareEdge({
      contract,
      authenticator,
      name: `edge-${contract.service}`,
      // On every interface, so that /metrics can be asked from a non-loopback address too.
      host: '0.0.0.0',
      onReached: (operationId) => reached.push(operationId),
    });
    servers.set(contract.service, bare);
  }
}, 60_000);

afterAll(async () => {
  // Each step bounded, so that one that hangs is named and the database and role still go.
  const closes = await Promise.all(
    [...servers].map(([service, bare]) =>
      boundedStep(`closing the ${service} edge`, 30_000, () => bare.stop()),
    ),
  );
  const problems = [
    ...closes,
    await boundedStep('ending the edge pool', 30_000, async () => edge?.end()),
  ].filter((problem) => problem !== undefined);
  await owner?.query(`REVOKE ledgerline_edge FROM ${edgeRole}`).catch(() => undefined);
  await owner?.end();
  await env?.cleanup();
  // Roles are cluster-wide: drop the test's own once its database (and grants) are gone.
  const admin = new pg.Client({
    connectionString: env.adminDatabaseUrl.replace(/\/[^/]*$/, '/postgres'),
  });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${edgeRole}`).catch(() => undefined);
  await admin.end();
  expect(problems).toEqual([]);
}, 120_000);

const secured = apiContracts.flatMap((c) =>
  c.operations
    .filter((op) => !isPublic(c.service, op))
    .map((op) => ({ service: c.service, document: c.document, operation: op })),
);
// /metrics among them: a scraper on the same host (like this test) needs metrics:read too.
const named = secured.map((s) => [
  `${s.service} ${s.operation.operationId} (${s.operation.method} ${s.operation.path})`,
  s,
]) as [string, (typeof secured)[number]][];

describe('every operation of every contract', () => {
  it('declares the scopes it needs; only /healthz and /readyz are open', () => {
    for (const { service, document, operation } of secured) {
      const requirements = operationSecurity(document, operation);
      expect({ service, operation: operation.operationId, open: isOpen(requirements) }).toEqual({
        service,
        operation: operation.operationId,
        open: false,
      });
      expect({
        service,
        operation: operation.operationId,
        scoped: scopesOf(requirements).length > 0,
      }).toEqual({
        service,
        operation: operation.operationId,
        scoped: !isScopeless(service, operation),
      });
    }
    for (const contract of apiContracts)
      for (const op of contract.operations.filter((o) => isPublic(contract.service, o)))
        expect(isOpen(operationSecurity(contract.document, op))).toBe(true);
  });

  it('declares 401, 403, 429 and 503 on every authenticated operation: the edge may answer them anywhere', () => {
    for (const { service, document, operation } of secured) {
      const paths = document['paths'] as Record<string, Record<string, { responses?: object }>>;
      const responses = Object.keys(
        paths[operation.path]?.[operation.method.toLowerCase()]?.responses ?? {},
      );
      expect({ service, operation: operation.operationId, declared: responses }).toEqual({
        service,
        operation: operation.operationId,
        declared: expect.arrayContaining(['401', '403', '429', '503']),
      });
    }
  });

  it.each(named)('%s: 401 with WWW-Authenticate without a valid credential', async (_, s) => {
    const revoked = await key(apiScopes);
    await revokeApiKey(owner, apiKeyId(revoked) ?? '');
    const attempts = [
      undefined,
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'bearer llk_lowercase_scheme',
      `Bearer llk_${'0'.repeat(16)}_${'A'.repeat(43)}`,
      `Bearer ${revoked}`,
    ];
    for (const authorization of attempts) {
      const answer = await call(s.service, s.operation, authorization);
      expect({ authorization, status: answer.status }).toEqual({ authorization, status: 401 });
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="ledgerline"/);
      expect(answer.body['type']).toBe('https://ledgerline.dev/problems/unauthenticated');
    }
    expect(reached).not.toContain(s.operation.operationId);
  });

  it.each(named.filter(([, s]) => !isScopeless(s.service, s.operation)))(
    '%s: 403 naming the scope for a valid key without it',
    async (_, s) => {
      const needed = scopesOf(operationSecurity(s.document, s.operation));
      const others = apiScopes.filter((scope) => !needed.includes(scope));
      const answer = await call(s.service, s.operation, `Bearer ${await key(others)}`);
      expect(answer.status).toBe(403);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.body['type']).toBe('https://ledgerline.dev/problems/insufficient-scope');
      expect(answer.body['scope']).toBe(needed.join(' '));
      expect(String(answer.body['detail'])).toContain(needed[0]);
      expect(answer.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      expect(reached).not.toContain(s.operation.operationId);

      // With exactly its scope the edge lets the request through (to validation or the handler).
      const allowed = await call(s.service, s.operation, `Bearer ${await key(needed)}`);
      expect([401, 403]).not.toContain(allowed.status);
    },
  );
});

describe('probes and metrics', () => {
  it('/healthz and /readyz answer without a credential', async () => {
    for (const contract of apiContracts) {
      expect(
        (await call(contract.service, { method: 'GET', path: '/healthz' }, undefined)).status,
      ).toBe(200);
      expect(
        (await call(contract.service, { method: 'GET', path: '/readyz' }, undefined)).status,
      ).toBe(200);
    }
  });

  it('/metrics needs metrics:read from every address, loopback included', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    // A host with no non-loopback interface cannot be asked from elsewhere; this machine has one.
    expect(external).toBeDefined();
    const port = new URL(servers.get('ledger')?.url ?? '').port;
    for (const host of ['127.0.0.1', external]) {
      const url = `http://${host}:${port}/metrics`;
      const anonymous = await fetch(url);
      expect({ host, status: anonymous.status }).toEqual({ host, status: 401 });
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await anonymous.text()).not.toContain('# HELP');
      const withoutScope = await fetch(url, {
        headers: { authorization: `Bearer ${await key(['ledger:read'])}` },
      });
      expect({ host, status: withoutScope.status }).toEqual({ host, status: 403 });
      const scraper = await fetch(url, {
        headers: { authorization: `Bearer ${await key(['metrics:read'])}` },
      });
      expect({ host, status: scraper.status }).toEqual({ host, status: 200 });
      expect(await scraper.text()).toContain('# HELP');
    }
  });
});

describe('every answer', () => {
  it('carries Cache-Control: no-store and X-Content-Type-Options: nosniff, and no ETag', async () => {
    const processor = servers.get('processor')?.url ?? '';
    const metricsKey = `Bearer ${await key(['metrics:read'])}`;
    const readKey = `Bearer ${await key(['payments:read'])}`;
    const answers: [string, Response][] = [
      ['probe', await fetch(`${processor}/healthz`)],
      ['readiness', await fetch(`${processor}/readyz`)],
      ['metrics', await fetch(`${processor}/metrics`, { headers: { authorization: metricsKey } })],
      ['401', await fetch(`${processor}/v1/payments`)],
      ['403', await fetch(`${processor}/metrics`, { headers: { authorization: readKey } })],
      [
        'operation',
        await fetch(`${processor}/v1/payments`, { headers: { authorization: readKey } }),
      ],
      ['404', await fetch(`${processor}/v1/nothing-here`)],
      ['405', await fetch(`${processor}/v1/payments`, { method: 'DELETE' })],
    ];
    for (const [what, answer] of answers) {
      expect({
        what,
        cacheControl: answer.headers.get('cache-control'),
        contentTypeOptions: answer.headers.get('x-content-type-options'),
        etag: answer.headers.get('etag'),
      }).toEqual({ what, cacheControl: 'no-store', contentTypeOptions: 'nosniff', etag: null });
    }
    // The answers above are what they say they are (the headers are not only on one kind).
    expect(answers.map(([, a]) => a.status)).toEqual([200, 200, 200, 401, 403, REACHED, 404, 405]);
  });
});

describe('API keys', () => {
  const getPayment = { method: 'GET', path: '/v1/payments/{paymentId}' } as const;

  it('are stored only as a SHA-256 digest, never as the secret', async () => {
    const secret = await key(['payments:read']);
    expect(secret).toMatch(/^llk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const { rows } = await owner.query<Record<string, unknown>>(
      'SELECT * FROM auth.api_keys WHERE key_id = $1',
      [apiKeyId(secret)],
    );
    const stored = JSON.stringify(rows[0]);
    expect(stored).not.toContain(secret.slice(22));
    expect(rows[0]?.['key_sha256']).toEqual(apiKeyDigest(secret));
  });

  it('a revoked key is refused from the very next request', async () => {
    const secret = await key(['payments:read']);
    expect((await call('processor', getPayment, `Bearer ${secret}`)).status).toBe(418);
    expect(await revokeApiKey(owner, apiKeyId(secret) ?? '')).toBe(true);
    expect((await call('processor', getPayment, `Bearer ${secret}`)).status).toBe(401);
  });

  it('an expired key is refused', async () => {
    const secret = await key(['payments:read']);
    await owner.query(
      `UPDATE auth.api_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second' WHERE key_id = $1`,
      [apiKeyId(secret)],
    );
    expect((await call('processor', getPayment, `Bearer ${secret}`)).status).toBe(401);
  });

  it('rotation issues a new key with the same scopes; the old one works only through the grace', async () => {
    const old = await key(['payments:read', 'payments:write']);
    const rotated = await rotateApiKey(owner, apiKeyId(old) ?? '', { graceS: 60 });
    expect(rotated?.record.scopes).toEqual(['payments:read', 'payments:write']);
    expect(rotated?.record.rotatedFrom).toBe(apiKeyId(old));
    expect((await call('processor', getPayment, `Bearer ${rotated?.secret}`)).status).toBe(418);
    expect((await call('processor', getPayment, `Bearer ${old}`)).status).toBe(418);
    const immediate = await rotateApiKey(owner, apiKeyId(rotated?.secret ?? '') ?? '');
    expect((await call('processor', getPayment, `Bearer ${rotated?.secret}`)).status).toBe(401);
    expect((await call('processor', getPayment, `Bearer ${immediate?.secret}`)).status).toBe(418);
  });

  it('notes when a key was last used, and the edge role can do nothing else with keys', async () => {
    const secret = await key(['payments:read']);
    const before = await owner.query('SELECT last_used_at FROM auth.api_keys WHERE key_id = $1', [
      apiKeyId(secret),
    ]);
    expect(before.rows[0]?.last_used_at).toBeNull();
    expect(await authenticateApiKey(edge, secret)).toMatchObject({ scopes: ['payments:read'] });
    const after = await owner.query('SELECT last_used_at FROM auth.api_keys WHERE key_id = $1', [
      apiKeyId(secret),
    ]);
    expect(after.rows[0]?.last_used_at).toBeInstanceOf(Date);
    await expect(
      edge.query(`UPDATE auth.api_keys SET scopes = '{ledger:adjust}' WHERE key_id = $1`, [
        apiKeyId(secret),
      ]),
    ).rejects.toThrow(/permission denied/);
    await expect(
      createApiKey(edge, { name: 'self-made', scopes: ['ledger:adjust'] }),
    ).rejects.toThrow(/permission denied/);
  });

  it('writes last_used_at at most once a minute per key, not on every request', async () => {
    const secret = await key(['payments:read']);
    const lastUsed = async (): Promise<{ at: Date | null; xmin: string }> => {
      const { rows } = await owner.query<{ last_used_at: Date | null; xmin: string }>(
        'SELECT last_used_at, xmin::text AS xmin FROM auth.api_keys WHERE key_id = $1',
        [apiKeyId(secret)],
      );
      return { at: rows[0]?.last_used_at ?? null, xmin: rows[0]?.xmin ?? '' };
    };
    expect(await authenticateApiKey(edge, secret)).toBeDefined();
    const first = await lastUsed();
    expect(first.at).toBeInstanceOf(Date);
    // Ten more requests within the minute: the row is not rewritten (same xmin, same instant).
    for (let i = 0; i < 10; i += 1) expect(await authenticateApiKey(edge, secret)).toBeDefined();
    expect(await lastUsed()).toEqual(first);
    // Once the last note is older than a minute, the next request notes it again.
    await owner.query(
      `UPDATE auth.api_keys SET last_used_at = now() - interval '61 seconds' WHERE key_id = $1`,
      [apiKeyId(secret)],
    );
    const aged = await lastUsed();
    expect(await authenticateApiKey(edge, secret)).toBeDefined();
    const renewed = await lastUsed();
    expect(renewed.xmin).not.toBe(aged.xmin);
    expect(renewed.at?.getTime()).toBeGreaterThan(aged.at?.getTime() ?? Infinity);
  });

  it('groups the key lookups of concurrent requests into few statements, each request getting its own answer', async () => {
    const reader = await key(['payments:read']);
    const writer = await key(['payments:write']);
    const revoked = await key(['payments:read']);
    await revokeApiKey(owner, apiKeyId(revoked) ?? '');
    const wrongSecret = `${reader.slice(0, -4)}AAAA`;
    let statements = 0;
    const counted = {
      query: ((...args: Parameters<Pool['query']>) => {
        statements += 1;
        return (edge.query as (...a: unknown[]) => unknown)(...args);
      }) as Pool['query'],
    };
    const authenticator = createAuthenticator({ db: counted });
    const credentials = Array.from(
      { length: 60 },
      (_, i) => [reader, writer, revoked, wrongSecret, 'llk_malformed', `${writer}x`][i % 6]!,
    );
    const principals = await Promise.all(credentials.map((c) => authenticator.authenticate(c)));
    principals.forEach((principal, i) => {
      const scopes = { 0: ['payments:read'], 1: ['payments:write'] }[i % 6];
      if (scopes === undefined) expect(principal).toBeUndefined();
      else expect(principal).toMatchObject({ kind: 'api-key', scopes });
    });
    // Two go at once, the other 58 wait together for the next statement.
    expect(statements).toBeLessThanOrEqual(4);
    // Nothing reused unless the write confirms the key: a key revoked now is refused by the
    // next lookup.
    await revokeApiKey(owner, apiKeyId(writer) ?? '');
    expect(await authenticator.authenticate(writer)).toBeUndefined();
  });

  /** An authenticator on the edge pool that counts its statements, on a clock the test moves. */
  function countedAuthenticator(recentKeysMax?: number): {
    authenticator: ReturnType<typeof createAuthenticator>;
    statements: () => number;
    clock: { ms: number };
  } {
    let statements = 0;
    const clock = { ms: Date.now() };
    const counted = {
      query: ((...args: Parameters<Pool['query']>) => {
        statements += 1;
        return (edge.query as (...a: unknown[]) => unknown)(...args);
      }) as Pool['query'],
    };
    const authenticator = createAuthenticator({
      db: counted,
      nowMs: () => clock.ms,
      ...(recentKeysMax === undefined ? {} : { recentKeysMax }),
    });
    return { authenticator, statements: () => statements, clock };
  }

  const confirmedInWrite = { confirmedInWrite: true } as const;

  it('a write that confirms the key in its own statement may reuse a lookup of the last minute; nothing else does', async () => {
    const writer = await key(['payments:write']);
    const { authenticator, statements } = countedAuthenticator();
    const principal = await authenticator.authenticate(writer, confirmedInWrite);
    expect(principal).toMatchObject({ kind: 'api-key', keyId: apiKeyId(writer) });
    expect(statements()).toBe(1);
    expect(await authenticator.authenticate(writer, confirmedInWrite)).toEqual(principal);
    expect(statements()).toBe(1);
    // Any other operation looks the key up again, and that lookup refreshes what is reused.
    expect(await authenticator.authenticate(writer)).toEqual(principal);
    expect(statements()).toBe(2);

    // Revoked: only the write's own statement can tell now, and every other lookup refuses it.
    await revokeApiKey(owner, apiKeyId(writer) ?? '');
    expect(await authenticator.authenticate(writer, confirmedInWrite)).toEqual(principal);
    expect(statements()).toBe(2);
    expect(await authenticator.authenticate(writer)).toBeUndefined();
    // What a write found no longer live is forgotten, and the next lookup refuses it.
    authenticator.forget?.(writer);
    expect(await authenticator.authenticate(writer, confirmedInWrite)).toBeUndefined();
    expect(statements()).toBe(4);
  });

  it('a lookup stands in for a minute at most, and never past the expiry or a revocation set for later', async () => {
    const { authenticator, statements, clock } = countedAuthenticator();
    const steady = await key(['payments:write']);
    await authenticator.authenticate(steady, confirmedInWrite);
    clock.ms += 59_000;
    await authenticator.authenticate(steady, confirmedInWrite);
    expect(statements()).toBe(1);
    clock.ms += 2_000;
    expect(await authenticator.authenticate(steady, confirmedInWrite)).toBeDefined();
    expect(statements()).toBe(2);

    // Rotated with ten seconds' grace: the old key's revocation is ten seconds away.
    const rotating = await key(['payments:write']);
    await rotateApiKey(owner, apiKeyId(rotating) ?? '', { graceS: 10 });
    clock.ms = Date.now();
    expect(await authenticator.authenticate(rotating, confirmedInWrite)).toBeDefined();
    clock.ms += 5_000;
    expect(await authenticator.authenticate(rotating, confirmedInWrite)).toBeDefined();
    expect(statements()).toBe(3);
    // Past the revocation by the test's clock (not yet by the database's): looked up again.
    clock.ms += 6_000;
    expect(await authenticator.authenticate(rotating, confirmedInWrite)).toBeDefined();
    expect(statements()).toBe(4);

    // Expiring in three seconds.
    const expiring = await key(['payments:write']);
    await owner.query(
      `UPDATE auth.api_keys SET expires_at = now() + interval '3 seconds' WHERE key_id = $1`,
      [apiKeyId(expiring)],
    );
    clock.ms = Date.now();
    expect(await authenticator.authenticate(expiring, confirmedInWrite)).toBeDefined();
    clock.ms += 4_000;
    expect(await authenticator.authenticate(expiring, confirmedInWrite)).toBeDefined();
    expect(statements()).toBe(6);
  });

  it('never remembers an unknown, revoked or wrong key, and keeps a bounded number of keys', async () => {
    const { authenticator, statements } = countedAuthenticator(2);
    const reader = await key(['payments:read']);
    const revoked = await key(['payments:read']);
    await revokeApiKey(owner, apiKeyId(revoked) ?? '');
    const refused = [
      revoked,
      `${reader.slice(0, -4)}AAAA`,
      `llk_${'0'.repeat(16)}_${'A'.repeat(43)}`,
    ];
    for (const credential of [...refused, ...refused])
      expect(await authenticator.authenticate(credential, confirmedInWrite)).toBeUndefined();
    expect(statements()).toBe(6);

    // Two kept: a third key pushes out the one looked up longest ago.
    const [first, second, third] = [
      reader,
      await key(['payments:read']),
      await key(['payments:read']),
    ];
    for (const credential of [first!, second!, third!])
      await authenticator.authenticate(credential, confirmedInWrite);
    expect(statements()).toBe(9);
    await authenticator.authenticate(third!, confirmedInWrite);
    await authenticator.authenticate(second!, confirmedInWrite);
    expect(statements()).toBe(9);
    await authenticator.authenticate(first!, confirmedInWrite);
    expect(statements()).toBe(10);
  });

  it('a bound key may not call an operation that does not enforce account binding', async () => {
    const bound = await key(['ledger:read'], { accountIds: [randomUUID()] });
    const answer = await call(
      'ledger',
      { method: 'GET', path: '/v1/system-accounts' },
      `Bearer ${bound}`,
    );
    expect(answer.status).toBe(403);
    expect(answer.body['type']).toBe('https://ledgerline.dev/problems/account-not-permitted');
  });
});

describe('methods a declared path does not declare', () => {
  // fetch refuses to send TRACE and CONNECT; every other method is tried.
  const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const undeclared = apiContracts.flatMap((c) =>
    [...declaredMethods(c.document)].flatMap(([path, allowed]) =>
      METHODS.filter((m) => !allowed.includes(m)).map(
        (method) => [`${c.service} ${method} ${path}`, c.service, method, path, allowed] as const,
      ),
    ),
  );

  it('every GET path also answers HEAD, and Allow says so', () => {
    for (const c of apiContracts)
      for (const [, allowed] of declaredMethods(c.document))
        if (allowed.includes('GET')) expect(allowed).toContain('HEAD');
  });

  it.each(undeclared)(
    '%s: 405 problem+json with Allow, with or without a credential, and no handler runs',
    async (_, service, method, path, allowed) => {
      const before = reached.length;
      const all = await key(apiScopes);
      for (const authorization of [undefined, `Bearer ${all}`, 'Bearer not-a-key']) {
        const answer = await call(service, { method, path }, authorization);
        expect({ authorization, status: answer.status }).toEqual({ authorization, status: 405 });
        expect(answer.headers.get('allow')).toBe(allowed.join(', '));
        expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        // A HEAD answer has no body by definition.
        if (method !== 'HEAD')
          expect(answer.body).toMatchObject({
            type: 'https://ledgerline.dev/problems/method-not-allowed',
            status: 405,
          });
      }
      expect(reached.length).toBe(before);
    },
  );

  it('a path no contract declares stays 404, whatever the method', async () => {
    for (const method of ['GET', 'POST', 'DELETE'])
      expect((await call('ledger', { method, path: '/v1/nowhere' }, undefined)).status).toBe(404);
  });

  it('an operation without a request body refuses one with 400, not 413, however large', async () => {
    const base = servers.get('ledger')?.url;
    const all = await key(apiScopes);
    const answer = await fetch(`${base}/v1/accounts/${randomUUID()}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${all}` },
    });
    expect(answer.status).toBe(405);
    const big = await fetch(`${base}/v1/adjustments/${randomUUID()}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${all}`, 'content-type': 'application/json' },
      body: 'x'.repeat(200 * 1024),
    });
    expect(big.status).toBe(400);
    expect(await big.json()).toMatchObject({ errors: [{ pointer: '/body' }] });
  });
});
