// Opaque list cursors (the platform's codec) of the last payment's (createdAt, id) on the page.
import { cursorCodec, isoInstant } from '@ledgerline/platform/http/cursor';
import { isUuid } from '../domain/index.js';
import type { PagePosition } from '../app/payments.js';

export const paymentsCursor = cursorCodec<PagePosition>({
  toJson: ({ createdAt, id }) => ({ t: createdAt.toISOString(), i: id }),
  fromJson: ({ t, i }) => {
    const createdAt = isoInstant(t);
    return createdAt !== undefined && typeof i === 'string' && isUuid(i)
      ? { createdAt, id: i.toLowerCase() }
      : undefined;
  },
});
