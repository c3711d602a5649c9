// The one page-cursor codec of every API. A cursor is opaque to clients (the contracts say only
// "opaque string"): base64url of a small JSON object naming where the next page starts. Clients
// hand back only what they were given; anything else (too long, not base64url, not JSON, not the
// shape this list issues) is refused with 400 on /query/cursor, never guessed at.
import { Buffer } from 'node:buffer';
import { problems } from './problem.js';

const CURSOR_LENGTH_MAX = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export type CursorJson = Readonly<Record<string, string | number>>;

export interface CursorCodec<Position> {
  encode(position: Position): string;
  /** The position a cursor names; null without a cursor; 400 for one this API did not issue. */
  decode(cursor: unknown): Position | null;
}

/**
 * A codec for one list's position: `toJson` writes the position, `fromJson` reads it back and
 * answers undefined for anything that is not a position of that list.
 */
export function cursorCodec<Position>(shape: {
  toJson(position: Position): CursorJson;
  fromJson(json: Readonly<Record<string, unknown>>): Position | undefined;
}): CursorCodec<Position> {
  return {
    encode: (position) =>
      Buffer.from(JSON.stringify(shape.toJson(position)), 'utf8').toString('base64url'),
    decode(cursor) {
      if (cursor === undefined) return null;
      if (
        typeof cursor !== 'string' ||
        cursor.length > CURSOR_LENGTH_MAX ||
        !BASE64URL.test(cursor)
      ) {
        throw invalidCursor();
      }
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      } catch {
        throw invalidCursor();
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidCursor();
      const position = shape.fromJson(json as Record<string, unknown>);
      if (position === undefined) throw invalidCursor();
      return position;
    },
  };
}

function invalidCursor() {
  return problems.validation(
    [{ pointer: '/query/cursor', message: 'is not a cursor returned by this API' }],
    'cursor is not a cursor this API issued.',
  );
}

/** An instant written by Date.prototype.toISOString, read back exactly (no other formats). */
export function isoInstant(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const instant = new Date(value);
  return !Number.isNaN(instant.getTime()) && instant.toISOString() === value ? instant : undefined;
}

/**
 * One page from `items` read as `limit + 1` rows (the extra row says another page follows),
 * with the cursor of the next page taken from its last item.
 */
export function pageOf<T>(
  items: readonly T[],
  limit: number,
  cursorOf: (last: T) => string,
): { items: T[]; nextCursor: string | null } {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page,
    nextCursor: items.length > limit && last !== undefined ? cursorOf(last) : null,
  };
}
