import fc from 'fast-check';

import {
  bucketScopes,
  parseRateLimitPolicy,
  PRODUCTION_RATE_LIMITS_DEFAULT,
  RateLimiter,
  rateLimitPolicyFromEnv,
  tokensAt,
  waitMs,
  type RateLimitPolicy,
} from '../src/http/rate-limit.js';

const policy: RateLimitPolicy = {
  '*': { burst: 5, perSecond: 5 },
  'ledger:adjust': { burst: 2, perSecond: 0.5 },
};

function limiter(p: RateLimitPolicy = policy, bucketsMax = 1_000) {
  const clock = { ms: 0 };
  return { clock, limiter: new RateLimiter(p, { bucketsMax, nowMs: () => clock.ms }) };
}

describe('token buckets per key and scope', () => {
  test('a key may spend its burst at once, then is refused with the wait for one more', () => {
    const { limiter: l } = limiter();
    expect(l.take('key-a', ['ledger:adjust'])).toEqual({ allowed: true });
    expect(l.take('key-a', ['ledger:adjust'])).toEqual({ allowed: true });
    expect(l.take('key-a', ['ledger:adjust'])).toEqual({
      allowed: false,
      scope: 'ledger:adjust',
      limit: { burst: 2, perSecond: 0.5 },
      retryAfterSeconds: 2,
    });
  });

  test('the bucket refills at its rate: after Retry-After the next request passes', () => {
    const { clock, limiter: l } = limiter();
    l.take('key-a', ['ledger:adjust']);
    l.take('key-a', ['ledger:adjust']);
    clock.ms = 1_999;
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(false);
    clock.ms = 2_000;
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(true);
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(false);
  });

  test('a refused request costs nothing', () => {
    const { clock, limiter: l } = limiter();
    l.take('key-a', ['ledger:adjust']);
    l.take('key-a', ['ledger:adjust']);
    for (let i = 0; i < 100; i += 1) l.take('key-a', ['ledger:adjust']);
    clock.ms = 2_000;
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(true);
  });

  test("one key's spending leaves another key's budget alone", () => {
    const { limiter: l } = limiter();
    l.take('key-a', ['ledger:adjust']);
    l.take('key-a', ['ledger:adjust']);
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(false);
    expect(l.take('key-b', ['ledger:adjust']).allowed).toBe(true);
  });

  test('scopes without their own limit share the key\'s "*" bucket; a scope with one is apart', () => {
    expect(bucketScopes(policy, ['ledger:read'])).toEqual(['*']);
    expect(bucketScopes(policy, ['ledger:read', 'payments:read'])).toEqual(['*']);
    expect(bucketScopes(policy, ['ledger:adjust'])).toEqual(['ledger:adjust']);
    expect(bucketScopes(policy, [])).toEqual(['*']);
    expect(bucketScopes({ 'ledger:adjust': policy['ledger:adjust']! }, ['ledger:read'])).toEqual(
      [],
    );
    const { limiter: l } = limiter();
    for (let i = 0; i < 5; i += 1) expect(l.take('key-a', ['ledger:read']).allowed).toBe(true);
    expect(l.take('key-a', ['payments:read'])).toMatchObject({ allowed: false, scope: '*' });
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(true);
  });

  test('without a limit for the scope nothing is limited', () => {
    const { limiter: l } = limiter({});
    for (let i = 0; i < 1_000; i += 1)
      expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(true);
    expect(l.size).toBe(0);
  });

  test('the buckets kept are bounded; full ones are forgotten first', () => {
    const { clock, limiter: l } = limiter(policy, 3);
    l.take('key-a', ['ledger:adjust']);
    l.take('key-a', ['ledger:adjust']); // key-a is empty
    l.take('key-b', ['ledger:read']);
    l.take('key-c', ['ledger:read']);
    clock.ms = 1_000; // key-b and key-c are full again, key-a is not
    l.take('key-d', ['ledger:read']);
    expect(l.size).toBeLessThanOrEqual(3);
    expect(l.take('key-a', ['ledger:adjust']).allowed).toBe(false);
    for (let i = 0; i < 50; i += 1) l.take(`key-${i}`, ['ledger:read']);
    expect(l.size).toBeLessThanOrEqual(3);
  });

  test('property: over any schedule, a key never gets more than burst + rate x elapsed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 200 }),
        (gapsMs) => {
          const { clock, limiter: l } = limiter();
          let allowed = 0;
          for (const gap of gapsMs) {
            clock.ms += gap;
            if (l.take('key-a', ['ledger:adjust']).allowed) allowed += 1;
          }
          expect(allowed).toBeLessThanOrEqual(2 + Math.floor((clock.ms / 1_000) * 0.5));
        },
      ),
    );
  });

  test('tokens never exceed the burst and the wait is what the rate implies', () => {
    const limit = { burst: 10, perSecond: 4 };
    expect(tokensAt({ tokens: 0, updatedAtMs: 0 }, limit, 1_000)).toBe(4);
    expect(tokensAt({ tokens: 9, updatedAtMs: 0 }, limit, 60_000)).toBe(10);
    expect(tokensAt({ tokens: 3, updatedAtMs: 5_000 }, limit, 1_000)).toBe(3); // clock went back
    expect(waitMs(0.5, limit)).toBe(125);
    expect(waitMs(1, limit)).toBe(0);
  });
});

describe('the rate limit settings', () => {
  test('per scope and "*"', () => {
    expect(
      parseRateLimitPolicy(
        '{"*":{"burst":200,"perSecond":100},"ledger:adjust":{"burst":10,"perSecond":0.5}}',
      ),
    ).toEqual({
      '*': { burst: 200, perSecond: 100 },
      'ledger:adjust': { burst: 10, perSecond: 0.5 },
    });
  });

  test.each([
    ['not json', /not JSON/],
    ['[]', /must be an object/],
    ['{"ledger":{"burst":1,"perSecond":1}}', /neither a scope/],
    ['{"ledger:adjust":{"burst":0,"perSecond":1}}', /burst must be an integer/],
    ['{"ledger:adjust":{"burst":1.5,"perSecond":1}}', /burst must be an integer/],
    ['{"ledger:adjust":{"burst":1,"perSecond":0}}', /perSecond must be a number/],
    ['{"ledger:adjust":{"burst":1,"perSecond":"1"}}', /perSecond must be a number/],
    ['{"ledger:adjust":{"burst":1,"perSecond":1,"x":1}}', /exactly/],
    ['{"ledger:adjust":null}', /exactly/],
  ])('%p is refused', (raw, message) => {
    expect(() => parseRateLimitPolicy(raw)).toThrow(message);
  });

  test('unset: none in development, the operator scopes limited everywhere else', () => {
    expect(rateLimitPolicyFromEnv({}, true)).toEqual({});
    expect(rateLimitPolicyFromEnv({}, false)).toEqual(PRODUCTION_RATE_LIMITS_DEFAULT);
    expect(
      rateLimitPolicyFromEnv({ LEDGERLINE_RATE_LIMITS: '{"*":{"burst":1,"perSecond":1}}' }, true),
    ).toEqual({ '*': { burst: 1, perSecond: 1 } });
  });
});
