// The positions of the ledger's lists, as opaque page cursors (the platform's codec).
import { cursorCodec, isoInstant } from '@ledgerline/platform/http/cursor';
import { isUuid } from '../domain/ids.js';
import type { AdjustmentCursor, EntryCursor } from '../app/queries.js';

const isInstantText = (value: unknown): value is string => isoInstant(value) !== undefined;

/** An account's entries: (posted at, entry id) of the last entry on the page. */
export const entriesCursor = cursorCodec<EntryCursor>({
  toJson: ({ postedAt, entryId }) => ({ postedAt, entryId }),
  fromJson: ({ postedAt, entryId }) =>
    isInstantText(postedAt) && isUuid(entryId) ? { postedAt, entryId } : undefined,
});

/** Adjustment requests: (requested at, adjustment id) of the last request on the page. */
export const adjustmentsCursor = cursorCodec<AdjustmentCursor>({
  toJson: ({ requestedAt, adjustmentId }) => ({ requestedAt, adjustmentId }),
  fromJson: ({ requestedAt, adjustmentId }) =>
    isInstantText(requestedAt) && isUuid(adjustmentId) ? { requestedAt, adjustmentId } : undefined,
});

/** System accounts: the id of the last account on the page. */
export const systemAccountsCursor = cursorCodec<string>({
  toJson: (id) => ({ id }),
  fromJson: ({ id }) => (isUuid(id) ? id : undefined),
});
