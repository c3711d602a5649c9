// Opaque page cursors: base64url of {"at": <ISO instant>, "id": <uuid>} of the last item on the
// page. Lists are newest first by (instant, id), so the pair says where the next page starts.
import { ProblemError } from '@ledgerline/platform/http/app';
import { isUuid } from '../domain/ids.js';
import type { PageAfter } from '../store/runs-store.js';

const CURSOR_LENGTH_MAX = 512;

export function encodeCursor(after: PageAfter): string {
  return Buffer.from(JSON.stringify({ at: after.at.toISOString(), id: after.id })).toString(
    'base64url',
  );
}

export function decodeCursor(cursor: unknown): PageAfter | null {
  if (cursor === undefined) return null;
  const invalid = new ProblemError(
    400,
    'validation-failed',
    'The request is invalid',
    'cursor is not a cursor this API issued.',
    { errors: [{ pointer: '/query/cursor', message: 'is not a valid cursor' }] },
  );
  if (typeof cursor !== 'string' || cursor.length > CURSOR_LENGTH_MAX) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const { at, id } = (parsed ?? {}) as { at?: unknown; id?: unknown };
  if (typeof at !== 'string' || !isUuid(id)) throw invalid;
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw invalid;
  return { at: date, id };
}
