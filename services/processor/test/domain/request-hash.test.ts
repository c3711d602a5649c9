import { createHash } from 'node:crypto';

import fc from 'fast-check';

import {
  canonicalJson,
  canonicalJsonDepthMax,
  requestHash,
} from '../../src/domain/request-hash.js';

const body = {
  payerAccountId: '8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5e',
  payeeAccountId: 'c7e9a1b3-5d7f-4e1a-9b3c-5d7f9e1a3b5c',
  amountMinor: 12_345,
  currency: 'EUR',
  description: 'Invoice 2025-001',
  metadata: { order: 'A-17', channel: 'web' },
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// The same JSON value with the keys of every object, at every depth, in another order.
function reorderKeys(value: Json, rotate: number): Json {
  if (Array.isArray(value)) return value.map((item) => reorderKeys(item, rotate));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const shift = entries.length === 0 ? 0 : rotate % entries.length;
  const rotated = [...entries.slice(shift), ...entries.slice(0, shift)].reverse();
  return Object.fromEntries(rotated.map(([key, member]) => [key, reorderKeys(member, rotate + 1)]));
}

describe('request hash', () => {
  test('the same body with keys in another order hashes the same', () => {
    const reordered = {
      metadata: { channel: 'web', order: 'A-17' },
      currency: 'EUR',
      description: 'Invoice 2025-001',
      amountMinor: 12_345,
      payeeAccountId: 'c7e9a1b3-5d7f-4e1a-9b3c-5d7f9e1a3b5c',
      payerAccountId: '8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5e',
    };

    expect(requestHash(reordered)).toBe(requestHash(body));
  });

  test('the hash is the sha256 of sorted-key JSON without whitespace', () => {
    const canonical =
      '{"amountMinor":12345,"currency":"EUR","description":"Invoice 2025-001",' +
      '"metadata":{"channel":"web","order":"A-17"},' +
      '"payeeAccountId":"c7e9a1b3-5d7f-4e1a-9b3c-5d7f9e1a3b5c",' +
      '"payerAccountId":"8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5e"}';

    expect(canonicalJson(body)).toBe(canonical);
    expect(requestHash(body)).toBe(createHash('sha256').update(canonical, 'utf8').digest('hex'));
    expect(requestHash(body)).toMatch(/^[0-9a-f]{64}$/);
  });

  test.each<[string, Record<string, unknown>]>([
    ['another amount', { ...body, amountMinor: 12_346 }],
    ['the amount as a string', { ...body, amountMinor: '12345' }],
    ['another currency', { ...body, currency: 'USD' }],
    [
      'payer and payee swapped',
      { ...body, payerAccountId: body.payeeAccountId, payeeAccountId: body.payerAccountId },
    ],
    ['a changed metadata value', { ...body, metadata: { ...body.metadata, order: 'A-18' } }],
    ['an added field', { ...body, reference: 'x' }],
    ['a dropped field', { ...body, description: undefined }],
    ['null instead of a missing field', { ...body, note: null }],
    ['a trailing space in a string', { ...body, description: 'Invoice 2025-001 ' }],
  ])('a body with %s hashes differently', (_change, changed) => {
    expect(requestHash(changed)).not.toBe(requestHash(body));
  });

  test('array order is part of the value', () => {
    expect(requestHash({ tags: ['a', 'b'] })).not.toBe(requestHash({ tags: ['b', 'a'] }));
  });

  test('numbers that JSON cannot tell apart hash the same', () => {
    expect(canonicalJson(JSON.parse('{"a":1.0,"b":-0,"c":1e2}'))).toBe('{"a":1,"b":0,"c":100}');
  });

  test('keys are ordered by UTF-16 code units, as RFC 8785 orders them', () => {
    expect(canonicalJson({ é: 1, z: 2, '😀': 3, A: 4, '\u00ff': 5 })).toBe(
      '{"A":4,"z":2,"é":1,"ÿ":5,"😀":3}',
    );
  });

  test('members whose value is undefined are left out, as they cannot travel in JSON', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  test.each<[string, unknown]>([
    ['NaN', { a: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['a bigint', { a: 1n }],
    ['a Date', { at: new Date(0) }],
    ['a Map', new Map()],
    ['a function', { f: () => 1 }],
    ['undefined in an array', [1, undefined]],
    ['undefined itself', undefined],
  ])('a value that is not JSON (%s) is refused', (_what, value) => {
    expect(() => requestHash(value)).toThrow(TypeError);
  });

  test(`nesting deeper than ${canonicalJsonDepthMax} is refused`, () => {
    let deep: unknown = 1;
    for (let depth = 0; depth <= canonicalJsonDepthMax; depth += 1) deep = [deep];

    expect(() => canonicalJson(deep)).toThrow(RangeError);
  });

  test('the canonical JSON parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  test('any body hashes the same whatever the order of its keys', () => {
    fc.assert(
      fc.property(fc.jsonValue() as fc.Arbitrary<Json>, fc.nat(), (value, rotate) => {
        expect(requestHash(reorderKeys(value, rotate))).toBe(requestHash(value));
      }),
    );
  });

  test('any change of a metadata value or the amount changes the hash', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { minKeys: 1 }),
        fc.string({ maxLength: 8 }),
        fc.integer({ min: 1 }),
        fc.integer({ min: 1 }),
        (metadata, replacement, amountMinor, otherAmountMinor) => {
          const key = Object.keys(metadata)[0] ?? '';
          fc.pre(metadata[key] !== replacement && amountMinor !== otherAmountMinor);
          const original = { ...body, amountMinor, metadata };

          expect(
            requestHash({ ...original, metadata: { ...metadata, [key]: replacement } }),
          ).not.toBe(requestHash(original));
          expect(requestHash({ ...original, amountMinor: otherAmountMinor })).not.toBe(
            requestHash(original),
          );
        },
      ),
    );
  });
});
