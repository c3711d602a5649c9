// Opaque page cursors (the platform's codec) of {"seq": <last sequence on the page>}. Trails
// are in chain order, so the sequence alone says where the next page starts.
import { cursorCodec } from '@ledgerline/platform/http/cursor';

export const trailCursor = cursorCodec<number>({
  toJson: (lastSequence) => ({ seq: lastSequence }),
  fromJson: ({ seq }) =>
    typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined,
});
