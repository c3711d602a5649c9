// Opaque page cursors (the platform's codec) of {"at": <ISO instant>, "id": <uuid>} of the last
// item on the page. Lists are newest first by (instant, id), so the pair says where the next
// page starts.
import { cursorCodec, isoInstant } from '@ledgerline/platform/http/cursor';
import { isUuid } from '../domain/ids.js';
import type { PageAfter } from '../app/queries.js';

export const pageCursor = cursorCodec<PageAfter>({
  toJson: ({ at, id }) => ({ at: at.toISOString(), id }),
  fromJson: ({ at, id }) => {
    const instant = isoInstant(at);
    return instant !== undefined && isUuid(id) ? { at: instant, id } : undefined;
  },
});
