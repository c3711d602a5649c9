// The read-only audit API (contracts/openapi/audit.yaml). Every query runs on the
// audit_reader pool, a role that can only SELECT: the API cannot change the trail even if a
// handler had a bug.
import type { Pool } from '@ledgerline/platform/db';
import { ProblemError, type OperationHandler } from '@ledgerline/platform/http/app';
import type { components } from '@ledgerline/generated/openapi/audit.types';
import {
  checkAgainstAnchor,
  SIGNATURE_ALGORITHM,
  type AnchorBreak,
  type VerifyingKey,
} from '../domain/anchor.js';
import { verifyChain, EMPTY_HEAD, type ChainHead, type ChainedRecord } from '../domain/chain.js';
import { AnchorNotCaughtUpError, type AnchorSnapshot } from '../events/anchor-reader.js';
import {
  readChainRange,
  readCheckpoints,
  readHashesAt,
  readHead,
  readSkippedOffsets,
  readTrailPage,
  type TrailPageQuery,
} from '../store/trail-store.js';
import { trailCursor } from './cursor.js';

type AuditRecord = components['schemas']['AuditRecord'];
type AuditPage = components['schemas']['AuditPage'];
type VerifyResult = components['schemas']['VerifyResult'];
type Checkpoint = components['schemas']['Checkpoint'];
type SigningKeyBody = components['schemas']['SigningKey'];

/** Where the published checkpoints come from: read back from Kafka (AnchorReader). */
export interface AnchorSource {
  snapshot(timeoutMs: number): Promise<AnchorSnapshot>;
}

const PAGE_LIMIT_DEFAULT = 50;
const PAGE_LIMIT_MAX = 500;
/** Records read per round trip while verifying: bounds memory whatever the trail's length. */
const VERIFY_PAGE_RECORDS = 5_000;
/** Longest wait for the anchor reader to reach the checkpoints published before a request. */
const ANCHOR_WAIT_MS = 10_000;
/** Gaps listed by /v1/verify (the contract's maxItems). */
const SKIPPED_OFFSETS_LISTED_MAX = 100;

export function toApiRecord(record: ChainedRecord): AuditRecord {
  return {
    sequence: record.sequence,
    id: record.recordId,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    eventType: record.eventType,
    eventId: record.eventId,
    correlationId: record.correlationId,
    paymentId: record.paymentId,
    accountId: record.accountId,
    transactionId: record.transactionId,
    producer: record.producer,
    payload: record.payload as AuditRecord['payload'],
    recordedAt: record.recordedAt.toISOString(),
    previousHash: record.previousHash,
    hash: record.hash,
  };
}

function pageLimit(value: unknown): number {
  const limit = value === undefined ? PAGE_LIMIT_DEFAULT : Number(value);
  // The contract validated the range already; this guards the SQL against a validator change.
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX) {
    throw new Error(`page limit ${String(value)} escaped validation`);
  }
  return limit;
}

function optionalDate(value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime()))
    throw new Error(`date-time ${String(value)} escaped validation`);
  return date;
}

function assertWindow(from: Date | undefined, to: Date | undefined): void {
  if (from && to && from.getTime() >= to.getTime()) {
    throw new ProblemError(
      422,
      'invalid-window',
      'Invalid time window',
      'from must be before to.',
      {
        errors: [{ pointer: '/query/to', message: 'must be after from' }],
      },
    );
  }
}

async function page(pool: Pool, query: TrailPageQuery): Promise<AuditPage> {
  const { records, hasMore } = await readTrailPage(pool, query);
  const last = records[records.length - 1];
  return {
    items: records.map(toApiRecord),
    nextCursor: hasMore && last ? trailCursor.encode(last.sequence) : null,
  };
}

/**
 * Recomputes the chain over [fromSequence, toSequence] page by page, then checks the stored
 * chain against the checkpoints published on Kafka. A break inside the chain is named first
 * (it is the most precise); otherwise the anchor's verdict.
 */
export async function verifyStoredChain(
  pool: Pool,
  anchors: AnchorSource,
  fromSequence: number,
  toSequenceAsked: number | undefined,
): Promise<VerifyResult> {
  // The anchor first: everything published before the request is then in the snapshot.
  const snapshot = await anchorSnapshot(anchors);
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

async function anchorSnapshot(anchors: AnchorSource): Promise<AnchorSnapshot> {
  try {
    return await anchors.snapshot(ANCHOR_WAIT_MS);
  } catch (error) {
    if (!(error instanceof AnchorNotCaughtUpError)) throw error;
    throw new ProblemError(
      503,
      'not-ready',
      'Not ready',
      'The published checkpoints could not be read back from Kafka in time.',
    );
  }
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

export function auditHandlers(
  readerPool: Pool,
  anchors: AnchorSource,
  verifyingKey: VerifyingKey,
): Record<string, OperationHandler> {
  const signingKeyBody: SigningKeyBody = {
    algorithm: SIGNATURE_ALGORITHM,
    keyId: verifyingKey.keyId,
    publicKeyPem: verifyingKey.publicKeyPem,
  };
  return {
    getCheckpointSigningKey: async () => ({ status: 200, body: signingKeyBody }),
    getPaymentTrail: async ({ params, query }) => ({
      status: 200,
      body: await page(readerPool, {
        paymentId: String(params['paymentId']).toLowerCase(),
        afterSequence: trailCursor.decode(query['cursor']) ?? 0,
        limit: pageLimit(query['limit']),
      }),
    }),
    getAccountTrail: async ({ params, query }) => {
      const from = optionalDate(query['from']);
      const to = optionalDate(query['to']);
      assertWindow(from, to);
      return {
        status: 200,
        body: await page(readerPool, {
          accountId: String(params['accountId']).toLowerCase(),
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          afterSequence: trailCursor.decode(query['cursor']) ?? 0,
          limit: pageLimit(query['limit']),
        }),
      };
    },
    listTrail: async ({ query }) => {
      const from = optionalDate(query['from']);
      const to = optionalDate(query['to']);
      assertWindow(from, to);
      const topic = query['topic'];
      return {
        status: 200,
        body: await page(readerPool, {
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          ...(typeof topic === 'string' ? { topic } : {}),
          afterSequence: trailCursor.decode(query['cursor']) ?? 0,
          limit: pageLimit(query['limit']),
        }),
      };
    },
    verifyChain: async ({ query }) => {
      const fromSequence = query['fromSequence'] === undefined ? 1 : Number(query['fromSequence']);
      const toSequence =
        query['toSequence'] === undefined ? undefined : Number(query['toSequence']);
      if (toSequence !== undefined && toSequence < fromSequence) {
        throw new ProblemError(
          400,
          'validation-failed',
          'Request is not valid',
          'toSequence must not be below fromSequence.',
          {
            errors: [{ pointer: '/query/toSequence', message: 'must be >= fromSequence' }],
          },
        );
      }
      return {
        status: 200,
        body: await verifyStoredChain(readerPool, anchors, fromSequence, toSequence),
      };
    },
  };
}
