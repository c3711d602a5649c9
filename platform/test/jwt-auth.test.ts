// JWT access tokens at the HTTP edge: a key pair made here, its JWKS served by this test over
// HTTP (LEDGERLINE_JWKS_URL) and from a file (LEDGERLINE_JWKS_FILE). A valid token with the
// operation's scope passes the edge; a wrong signature, another issuer or audience, an expired
// token, one not valid before a time beyond the clock skew, or one without a sub get 401, and
// a valid token without the scope gets 403 naming it, as the contracts declare.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import {
  processorApiDocument,
  processorApiOperations,
} from '@ledgerline/generated/openapi/processor.document';
import { createAuthenticator } from '../src/auth/authenticator.js';
import { jwtSettingsFromEnv } from '../src/auth/jwt.js';
import { createPool, type Pool } from '../src/db.js';
import { startBareEdge, type BareEdge } from '@ledgerline/testkit/bare-edge';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';

const ISSUER = 'https://idp.test.ledgerline.dev/';
const AUDIENCE = 'ledgerline-api';
const SKEW_S = 30;

let env: TestEnvironment;
let pool: Pool;
let jwksServer: Server;
let jwksDir: string;
let privateKey: CryptoKey;
let otherKey: CryptoKey;
const apps = new Map<'url' | 'file', BareEdge>();

async function token(
  claims: Record<string, unknown>,
  options: {
    key?: CryptoKey;
    iss?: string;
    aud?: string;
    expS?: number;
    nbfS?: number;
    sub?: string | null;
  } = {},
): Promise<string> {
  const nowS = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + (options.expS ?? 300));
  if (options.sub !== null) jwt.setSubject(options.sub ?? 'svc:checkout');
  if (options.nbfS !== undefined) jwt.setNotBefore(nowS + options.nbfS);
  return jwt.sign(options.key ?? privateKey);
}

async function getPayment(
  via: 'url' | 'file',
  bearer: string,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const app = apps.get(via);
  if (app === undefined) throw new Error(`no app for ${via}`);
  const response = await fetch(`${app.url}/v1/payments/${randomUUID()}`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

beforeAll(async () => {
  env = await createTestEnvironment('jwt-auth', []);
  pool = createPool(env.databaseUrl, { max: 2 });
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair('ES256', { extractable: true })).privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'ES256' };
  const jwks = JSON.stringify({ keys: [jwk] });
  jwksServer = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(jwks);
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  jwksDir = await mkdtemp(join(tmpdir(), 'ledgerline-jwks-'));
  const jwksFile = join(jwksDir, 'jwks.json');
  await writeFile(jwksFile, jwks);

  const common = {
    LEDGERLINE_JWT_ISSUER: ISSUER,
    LEDGERLINE_JWT_AUDIENCE: AUDIENCE,
    LEDGERLINE_JWT_CLOCK_SKEW_S: String(SKEW_S),
  };
  const sources = {
    url: { ...common, LEDGERLINE_JWKS_URL: jwksUrl },
    file: { ...common, LEDGERLINE_JWKS_FILE: jwksFile },
  } as const;
  for (const via of ['url', 'file'] as const) {
    const edge = await startBareEdge({
      contract: {
        service: 'processor',
        document: processorApiDocument,
        operations: processorApiOperations,
      },
      authenticator: createAuthenticator({ db: pool, jwt: jwtSettingsFromEnv(sources[via]) }),
      name: `jwt-${via}`,
    });
    apps.set(via, edge);
  }
}, 60_000);

afterAll(async () => {
  for (const edge of apps.values()) await edge.stop();
  await new Promise<void>((resolve) => jwksServer?.close(() => resolve()));
  await rm(jwksDir, { recursive: true, force: true });
  await pool?.end();
  await env?.cleanup();
});

describe.each(['url', 'file'] as const)('JWT with the JWKS from a %s', (via) => {
  it('a valid token with payments:read reads a payment (the edge lets it through)', async () => {
    const answer = await getPayment(via, await token({ scope: 'payments:read refunds:write' }));
    expect(answer.status).toBe(418);
  });

  it('a token signed by another key is 401', async () => {
    const answer = await getPayment(
      via,
      await token({ scope: 'payments:read' }, { key: otherKey }),
    );
    expect(answer.status).toBe(401);
    expect(answer.body['type']).toBe('https://ledgerline.dev/problems/unauthenticated');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="ledgerline"/);
  });

  it('a token from another issuer or for another audience is 401', async () => {
    const scope = { scope: 'payments:read' };
    expect(
      (await getPayment(via, await token(scope, { iss: 'https://evil.example/' }))).status,
    ).toBe(401);
    expect((await getPayment(via, await token(scope, { aud: 'another-api' }))).status).toBe(401);
  });

  it('an expired token is 401; one expired within the clock skew still passes', async () => {
    const scope = { scope: 'payments:read' };
    expect((await getPayment(via, await token(scope, { expS: -(SKEW_S + 5) }))).status).toBe(401);
    // Expired 5 s ago, within the 30 s clock skew: still accepted (clocks differ).
    expect((await getPayment(via, await token(scope, { expS: -5 }))).status).toBe(418);
  });

  it('a token not valid before a time beyond the clock skew is 401', async () => {
    const scope = { scope: 'payments:read' };
    expect((await getPayment(via, await token(scope, { nbfS: SKEW_S + 60 }))).status).toBe(401);
    expect((await getPayment(via, await token(scope, { nbfS: 5 }))).status).toBe(418);
  });

  it('a token without a subject is 401', async () => {
    const answer = await getPayment(via, await token({ scope: 'payments:read' }, { sub: null }));
    expect(answer.status).toBe(401);
  });

  it('a valid token without the scope is 403 naming it', async () => {
    const answer = await getPayment(via, await token({ scope: 'payments:write refunds:write' }));
    expect(answer.status).toBe(403);
    expect(answer.body['type']).toBe('https://ledgerline.dev/problems/insufficient-scope');
    expect(answer.body['scope']).toBe('payments:read');
    expect(answer.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const none = await getPayment(via, await token({}));
    expect(none.status).toBe(401);
  });
});
