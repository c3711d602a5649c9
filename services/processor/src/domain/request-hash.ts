// The fingerprint stored next to an Idempotency-Key: a retry with the same key must carry the
// same request, whatever order its JSON keys arrive in; any change of value is a different
// request (409/422), including a field added or dropped.

import { createHash } from 'node:crypto';

// A parsed JSON body never nests this deep; the bound keeps recursion finite on hostile input.
export const canonicalJsonDepthMax = 64;

// Canonical JSON in the manner of RFC 8785 (JCS): object keys sorted by UTF-16 code units,
// no whitespace, strings and numbers as ECMAScript JSON.stringify writes them. Object members
// whose value is `undefined` are left out, as JSON.stringify does, since they cannot travel
// in JSON. Anything that is not JSON (NaN, Infinity, bigint, functions, Dates, Maps, undefined
// in an array) is refused rather than silently coerced.
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

// Hex sha256 of the canonical JSON (64 lowercase hex characters).
export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}

function write(value: unknown, depth: number): string {
  if (depth > canonicalJsonDepthMax) {
    throw new RangeError(`canonical JSON: nesting deeper than ${canonicalJsonDepthMax}`);
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not JSON`);
      // -0 and 0 are the same JSON number; JSON.stringify writes both as 0.
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) return writeArray(value, depth);
      if (!isPlainObject(value)) {
        throw new TypeError('canonical JSON: only plain objects and arrays are JSON containers');
      }
      return writeObject(value, depth);
    default:
      throw new TypeError(`canonical JSON: a ${typeof value} is not JSON`);
  }
}

function writeArray(items: readonly unknown[], depth: number): string {
  const parts: string[] = [];
  for (const item of items) {
    if (item === undefined) throw new TypeError('canonical JSON: undefined in an array');
    parts.push(write(item, depth + 1));
  }
  return `[${parts.join(',')}]`;
}

function writeObject(object: object, depth: number): string {
  const parts: string[] = [];
  // Comparing strings with < orders them by UTF-16 code units, which is the JCS key order.
  const entries = Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, member] of entries) {
    if (member === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${write(member, depth + 1)}`);
  }
  return `{${parts.join(',')}}`;
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
