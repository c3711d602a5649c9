// Opaque list cursors: base64url of the last item's (createdAt, id). Clients only hand back
// what they were given; anything else is refused, never guessed at.
import { Buffer } from 'node:buffer';
import { isUuid } from '../domain/index.js';
import type { PagePosition } from '../store/payments.js';

export function encodeCursor(position: PagePosition): string {
  const json = JSON.stringify({ t: position.createdAt.toISOString(), i: position.id });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** The position a cursor names, or undefined when it is not a cursor of this API. */
export function decodeCursor(cursor: string): PagePosition | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { t, i } = parsed as { t?: unknown; i?: unknown };
  if (typeof t !== 'string' || typeof i !== 'string' || !isUuid(i)) return undefined;
  const createdAt = new Date(t);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== t) return undefined;
  return { createdAt, id: i.toLowerCase() };
}
