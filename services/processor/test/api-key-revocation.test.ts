// A revoked API key on a real processor: the edge may take a payment's caller from a lookup of
// the last minute (one round trip fewer per payment), so the intake statement itself confirms
// the key. Revoked or expired after it paid, the key's next payment is 401 and writes nothing,
// a replay of its earlier payment is 401 too, and a key in its rotation grace still pays.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { apiKeyId, revokeApiKey, rotateApiKey } from '@ledgerline/platform/auth/api-keys';
import { createPool } from '@ledgerline/platform/db';
import { createTestApiKey } from '@ledgerline/testkit/testing';
import { startProcessor, type RunningProcessor } from '../src/service.js';
import { createTestBed, validPayment, type ProcessorTestBed } from './support.js';

describe('processor API: a key revoked after it paid', () => {
  let bed: ProcessorTestBed;
  let processor: RunningProcessor;
  let owner: pg.Pool;
  const scopes = ['payments:read', 'payments:write'];

  beforeAll(async () => {
    bed = await createTestBed('processor-key-revocation');
    // No relay and no saga: the outbox keeps what each request wrote, for the counts below.
    processor = await startProcessor({
      ...bed.config,
      consumerEnabled: false,
      relayEnabled: false,
    });
    owner = createPool(bed.env.adminDatabaseUrl, { max: 1, applicationName: 'key-owner' });
  });

  afterAll(async () => {
    await processor?.stop();
    await owner?.end();
    await bed?.close();
  });

  async function pay(
    key: string,
    idempotencyKey: string = randomUUID(),
  ): Promise<{ status: number; challenge: string | null; body: Record<string, unknown> }> {
    const response = await fetch(`${processor.url}/v1/payments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body: JSON.stringify(validPayment()),
    });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  function expectCredentialRefused(answer: Awaited<ReturnType<typeof pay>>): void {
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe('Bearer realm="ledgerline", error="invalid_token"');
    expect(answer.body).toMatchObject({
      type: 'https://ledgerline.dev/problems/unauthenticated',
      status: 401,
      detail: 'The credential is unknown, expired or revoked.',
    });
  }

  it('is refused on its next payment and on a replay, and nothing is written', async () => {
    const key = await createTestApiKey(bed.env.adminDatabaseUrl, { scopes });
    const first = randomUUID();
    expect((await pay(key, first)).status).toBe(202);
    // Looked up within the last second: the edge remembers it, the intake is what refuses.
    expect((await pay(key)).status).toBe(202);
    const before = await bed.counts();

    expect(await revokeApiKey(owner, apiKeyId(key) ?? '')).toBe(true);

    expectCredentialRefused(await pay(key));
    expectCredentialRefused(await pay(key, first));
    expectCredentialRefused(await pay(key));
    const read = await fetch(`${processor.url}/v1/payments?limit=1`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(read.status).toBe(401);
    expect(await bed.counts()).toEqual(before);
  });

  it('is refused once expired, and still pays through its rotation grace', async () => {
    const expiring = await createTestApiKey(bed.env.adminDatabaseUrl, { scopes });
    const rotating = await createTestApiKey(bed.env.adminDatabaseUrl, { scopes });
    expect((await pay(expiring)).status).toBe(202);
    expect((await pay(rotating)).status).toBe(202);
    const before = await bed.counts();

    await owner.query(
      `UPDATE auth.api_keys SET created_at = now() - interval '2 days',
              expires_at = now() - interval '1 second' WHERE key_id = $1`,
      [apiKeyId(expiring)],
    );
    const rotated = await rotateApiKey(owner, apiKeyId(rotating) ?? '', { graceS: 60 });

    expectCredentialRefused(await pay(expiring));
    expect(await bed.counts()).toEqual(before);
    expect((await pay(rotating)).status).toBe(202);
    expect((await pay(rotated?.secret ?? '')).status).toBe(202);
  });
});
