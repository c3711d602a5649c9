// Verifying the trail: the hash chain recomputed from the stored records, the stored chain
// against the signed checkpoints read back from Kafka, and the offsets the trail never saw.
// Runs on the audit_reader pool.
import type { Pool } from '@ledgerline/platform/db';
import type { components } from '@ledgerline/generated/openapi/audit.types';
import { checkAgainstAnchor, type AnchorBreak, type AnchorSource } from '../domain/anchor.js';
import { verifyChain, EMPTY_HEAD, type ChainHead } from '../domain/chain.js';
import {
  readChainRange,
  readCheckpoints,
  readHashesAt,
  readHead,
  readSkippedOffsets,
} from '../store/trail-store.js';

type VerifyResult = components['schemas']['VerifyResult'];
type Checkpoint = components['schemas']['Checkpoint'];

/** Records read per round trip while verifying: bounds memory whatever the trail's length. */
const VERIFY_PAGE_RECORDS = 5_000;
/** Longest wait for the anchor reader to reach the checkpoints published before a request. */
const ANCHOR_WAIT_MS = 10_000;
/** Gaps listed by /v1/verify (the contract's maxItems). */
const SKIPPED_OFFSETS_LISTED_MAX = 100;

/**
 * Recomputes the chain over [fromSequence, toSequence] page by page, then checks the stored
 * chain against the checkpoints published on Kafka. A break inside the chain is named first
 * (it is the most precise); otherwise the anchor's verdict. AnchorNotCaughtUpError when the
 * checkpoints published before the call could not be read back in time.
 */
export async function verifyStoredChain(
  pool: Pool,
  anchors: AnchorSource,
  fromSequence: number,
  toSequenceAsked: number | undefined,
): Promise<VerifyResult> {
  // The anchor first: everything published before the request is then in the snapshot.
  const snapshot = await anchors.snapshot(ANCHOR_WAIT_MS);
  const signedHighest = snapshot.signed[snapshot.signed.length - 1];
  const anchor: Checkpoint | null = signedHighest
    ? {
        sequence: signedHighest.sequence,
        hash: signedHighest.hash,
        keyId: signedHighest.keyId,
        signedAt: signedHighest.occurredAt.toISOString(),
        offset: signedHighest.offset,
      }
    : null;
  const newest = await readHead(pool);
  const toSequence = Math.min(toSequenceAsked ?? newest.sequence, newest.sequence);
  const verifiedAt = new Date().toISOString();
  const chain = await recomputeChain(pool, fromSequence, toSequence);
  const completeness = await readCompleteness(pool);
  if (chain.broken) {
    return { ...chain.broken, anchorBreak: null, anchor, ...completeness, verifiedAt };
  }

  const compared = snapshot.signed
    .filter((c) => c.sequence >= fromSequence && c.sequence <= toSequence)
    .map((c) => c.sequence);
  if (snapshot.latest) compared.push(snapshot.latest.sequence);
  const anchorBreak = checkAgainstAnchor({
    signed: snapshot.signed,
    latest: snapshot.latest,
    storedHeadSequence: newest.sequence,
    storedHashes: await readHashesAt(pool, compared),
    fromSequence,
    toSequence: toSequenceAsked ?? Number.MAX_SAFE_INTEGER,
  });
  const empty = chain.recordsChecked === 0;
  if (anchorBreak) {
    return {
      valid: false,
      recordsChecked: chain.recordsChecked,
      fromSequence: empty ? null : fromSequence,
      toSequence: empty ? null : toSequence,
      headHash: null,
      firstBrokenRecord: null,
      anchorBreak: await anchorBreakBody(pool, anchorBreak),
      anchor,
      ...completeness,
      verifiedAt,
    };
  }
  return {
    valid: true,
    recordsChecked: chain.recordsChecked,
    fromSequence: empty ? null : fromSequence,
    toSequence: empty ? null : toSequence,
    headHash: chain.head?.hash ?? null,
    firstBrokenRecord: null,
    anchorBreak: null,
    anchor,
    ...completeness,
    verifiedAt,
  };
}

/** Gaps the trail consumer recorded (whole trail: offsets are not sequences). */
async function readCompleteness(
  pool: Pool,
): Promise<Pick<VerifyResult, 'complete' | 'skippedOffsets'>> {
  const skipped = await readSkippedOffsets(pool, SKIPPED_OFFSETS_LISTED_MAX);
  return {
    complete: skipped.length === 0,
    skippedOffsets: skipped.map((g) => ({ ...g, detectedAt: g.detectedAt.toISOString() })),
  };
}

async function anchorBreakBody(pool: Pool, found: AnchorBreak): Promise<AnchorBreakBody> {
  const [record] = await readChainRange(pool, found.sequence, found.sequence, 1);
  return {
    sequence: found.sequence,
    id: record?.recordId ?? null,
    kind: found.kind,
    expectedHash: found.expectedHash,
    foundHash: found.foundHash,
  };
}

type AnchorBreakBody = components['schemas']['AnchorBreak'];

interface ChainRecomputation {
  recordsChecked: number;
  /** The last record verified; undefined when the range is empty. */
  head: ChainHead | undefined;
  /** The verdict when a link inside the chain is broken. */
  broken: Omit<
    VerifyResult,
    'anchorBreak' | 'anchor' | 'complete' | 'skippedOffsets' | 'verifiedAt'
  > | null;
}

async function recomputeChain(
  pool: Pool,
  fromSequence: number,
  toSequence: number,
): Promise<ChainRecomputation> {
  if (toSequence < fromSequence) return { recordsChecked: 0, head: undefined, broken: null };
  const checkpoints = await readCheckpoints(pool, fromSequence, toSequence);
  let head: ChainHead | undefined = fromSequence === 1 ? EMPTY_HEAD : undefined;
  let next = fromSequence;
  let recordsChecked = 0;
  // Bounded: every round trip advances `next` by at least one record or stops.
  while (next <= toSequence) {
    const records = await readChainRange(pool, next, toSequence, VERIFY_PAGE_RECORDS);
    const first = records[0];
    if (!first) break;
    // A range that starts mid-chain trusts the previousHash of its first record.
    head ??= { sequence: fromSequence - 1, hash: first.previousHash };
    const verdict = verifyChain(records, head, checkpoints);
    recordsChecked += verdict.recordsChecked;
    if (verdict.broken) {
      return {
        recordsChecked,
        head,
        broken: {
          valid: false,
          recordsChecked,
          fromSequence,
          toSequence: verdict.broken.sequence,
          headHash: null,
          firstBrokenRecord: {
            sequence: verdict.broken.sequence,
            id: verdict.broken.recordId,
            kind: verdict.broken.kind,
            expectedHash: verdict.broken.expectedHash,
            foundHash: verdict.broken.foundHash,
          },
        },
      };
    }
    head = verdict.head;
    next = verdict.head.sequence + 1;
  }
  if (!head || head.sequence !== toSequence) {
    // Records missing at the end of the range: the range claims more than the table holds.
    throw new Error(`chain ends at ${head?.sequence ?? fromSequence - 1}, expected ${toSequence}`);
  }
  return { recordsChecked, head, broken: null };
}
