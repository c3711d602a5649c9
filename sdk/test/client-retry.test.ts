// The client's retry rules on a real processor: a payment whose answer is lost on the way back
// is resent with the same Idempotency-Key and exists once; a request without a key the SDK
// could reuse is never resent; the wait honours Retry-After and is bounded.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fundAccount,
  openCustomerAccount,
  startPlatform,
  type InProcessPlatform,
} from '@ledgerline/testkit/platform';
import {
  createProcessorClient,
  DEFAULT_RETRY_POLICY,
  LedgerlineProblem,
  ledgerlineFetch,
  retryDelayMs,
  unwrap,
} from '../client/src/index.js';

let platform: InProcessPlatform;
const payerAccountId = randomUUID();
const payeeAccountId = randomUUID();

beforeAll(async () => {
  platform = await startPlatform('sdk-client-retry');
  await openCustomerAccount(platform.ledgerApi, payerAccountId, 'retry-payer');
  await openCustomerAccount(platform.ledgerApi, payeeAccountId, 'retry-payee');
  await fundAccount(platform.ledgerApi, payerAccountId, 10_000, randomUUID());
}, 120_000);

afterAll(async () => {
  await platform?.stop();
});

/** A fetch that delivers each request to the server but loses the first `lost` answers. */
function losingAnswers(lost: number) {
  const seen: { method: string; key: string | null }[] = [];
  const send = async (request: Request): Promise<Response> => {
    seen.push({ method: request.method, key: request.headers.get('idempotency-key') });
    const response = await fetch(request);
    if (seen.length <= lost) {
      await response.arrayBuffer();
      throw new TypeError('fetch failed: socket hang up');
    }
    return response;
  };
  return { seen, send };
}

describe('@ledgerline/client retries', () => {
  it('resends a payment whose answer was lost with the same Idempotency-Key, and it exists once', async () => {
    const network = losingAnswers(2);
    const processor = createProcessorClient(platform.processor.url, {
      credential: platform.operatorKey,
      fetch: network.send,
      retry: { baseDelayMs: 10 },
    });
    const result = await processor.POST('/v1/payments', {
      body: { payerAccountId, payeeAccountId, amountMinor: 700, currency: 'EUR' },
    });
    const payment = unwrap(result);
    expect(network.seen).toHaveLength(3);
    const keys = new Set(network.seen.map((s) => s.key));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    // The third attempt is answered from the stored first response.
    expect(result.response.headers.get('idempotent-replayed')).toBe('true');
    const page = unwrap(
      await platform.processorApi.GET('/v1/payments', {
        params: { query: { payerAccountId, limit: 50 } },
      }),
    );
    expect(page.items.filter((p) => p.amountMinor === 700).map((p) => p.id)).toEqual([payment.id]);
  });

  it('gives up after attemptsMax and surfaces the connection error', async () => {
    const network = losingAnswers(10);
    const processor = createProcessorClient(platform.processor.url, {
      credential: platform.operatorKey,
      fetch: network.send,
      retry: { attemptsMax: 3, baseDelayMs: 1 },
    });
    await expect(
      processor.GET('/v1/payments', { params: { query: { payerAccountId } } }),
    ).rejects.toThrow(/socket hang up/);
    expect(network.seen).toHaveLength(3);
  });

  it('answers a refused request as a typed problem with the pointer of the bad member', async () => {
    const processor = createProcessorClient(platform.processor.url, {
      credential: platform.operatorKey,
    });
    const result = await processor.POST('/v1/payments', {
      body: { payerAccountId, payeeAccountId, amountMinor: 0, currency: 'EUR' },
    });
    let problem: unknown;
    try {
      unwrap(result);
    } catch (error) {
      problem = error;
    }
    expect(problem).toBeInstanceOf(LedgerlineProblem);
    const typed = problem as LedgerlineProblem;
    expect(typed.status).toBe(400);
    expect(typed.type).not.toBe('about:blank');
    expect(typed.errors.map((e) => e.pointer)).toContain('/amountMinor');
  });

  it('refuses a wrong credential with a 401 problem and does not retry it', async () => {
    const network = losingAnswers(0);
    const processor = createProcessorClient(platform.processor.url, {
      credential: 'llk_not-a-key',
      fetch: network.send,
    });
    const result = await processor.GET('/v1/payments', {});
    expect(() => unwrap(result)).toThrow(LedgerlineProblem);
    expect(result.response.status).toBe(401);
    expect(network.seen).toHaveLength(1);
  });

  it('keeps a caller-chosen Idempotency-Key on every attempt', async () => {
    const seen: (string | null)[] = [];
    const send = ledgerlineFetch({
      retry: { attemptsMax: 2, baseDelayMs: 1 },
      fetch: async (request) => {
        seen.push(request.headers.get('idempotency-key'));
        if (seen.length === 1) throw new TypeError('fetch failed');
        return new Response(null, { status: 204 });
      },
    });
    await send(
      new Request('http://example.invalid/x', {
        method: 'POST',
        headers: { 'Idempotency-Key': 'chosen-by-caller-1' },
      }),
    );
    expect(seen).toEqual(['chosen-by-caller-1', 'chosen-by-caller-1']);
  });
});

describe('retry waits', () => {
  const policy = DEFAULT_RETRY_POLICY;
  it('honour Retry-After in seconds and as an HTTP date', () => {
    expect(retryDelayMs(1, '2', policy)).toBe(2000);
    const now = Date.parse('2026-12-05T00:00:00Z');
    expect(retryDelayMs(1, 'Sat, 05 Dec 2026 00:00:03 GMT', policy, Math.random, now)).toBe(3000);
  });
  it('stop retrying when the server asks for longer than the bound', () => {
    expect(retryDelayMs(1, String(policy.delayMsMax / 1000 + 1), policy)).toBeNull();
  });
  it('back off exponentially within the bound otherwise', () => {
    const top = () => 0.999_999;
    expect(retryDelayMs(1, null, policy, top)).toBe(policy.baseDelayMs);
    expect(retryDelayMs(3, null, policy, top)).toBe(policy.baseDelayMs * 4);
    expect(retryDelayMs(30, null, policy, top)).toBe(policy.delayMsMax);
  });
});
