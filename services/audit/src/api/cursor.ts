// Opaque page cursors: base64url of {"seq": <last sequence on the page>}. Trails are in chain
// order, so the sequence alone says where the next page starts.
import { ProblemError } from '@ledgerline/platform/http/app';

const CURSOR_BYTES_MAX = 512;

export function encodeCursor(lastSequence: number): string {
  return Buffer.from(JSON.stringify({ seq: lastSequence })).toString('base64url');
}

/** The sequence after which the page starts; 0 without a cursor. */
export function decodeCursor(cursor: unknown): number {
  if (cursor === undefined) return 0;
  const invalid = new ProblemError(
    400,
    'validation-failed',
    'Request is not valid',
    'cursor is not a cursor this API issued.',
    {
      errors: [{ pointer: '/query/cursor', message: 'is not a valid cursor' }],
    },
  );
  if (typeof cursor !== 'string' || cursor.length > CURSOR_BYTES_MAX) throw invalid;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const seq = (parsed as { seq?: unknown } | null)?.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw invalid;
    return seq;
  } catch {
    throw invalid;
  }
}
