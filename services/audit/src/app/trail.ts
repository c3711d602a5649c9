// Reading the trail: pages of records in chain order (by payment, account, topic, window).
import type { Pool } from '@ledgerline/platform/db';
import type { ChainedRecord } from '../domain/chain.js';
import { readTrailPage, type TrailPageQuery } from '../store/trail-store.js';

export type { TrailPageQuery };

/** One page in chain order, and whether another follows. */
export function readTrail(
  pool: Pool,
  query: TrailPageQuery,
): Promise<{ records: ChainedRecord[]; hasMore: boolean }> {
  return readTrailPage(pool, query);
}
