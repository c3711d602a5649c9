// The read-only audit API (contracts/openapi/audit.yaml). Every query runs on the
// audit_reader pool, a role that can only SELECT: the API cannot change the trail even if a
// handler had a bug.
import type { Pool } from '@ledgerline/platform/db';
import { ProblemError, type OperationHandler } from '@ledgerline/platform/http/app';
import type { components } from '@ledgerline/generated/openapi/audit.types';
import {
  AnchorNotCaughtUpError,
  SIGNATURE_ALGORITHM,
  type AnchorSource,
  type VerifyingKey,
} from '../domain/anchor.js';
import type { ChainedRecord } from '../domain/chain.js';
import { readTrail, type TrailPageQuery } from '../app/trail.js';
import { verifyStoredChain } from '../app/verification.js';
import { trailCursor } from './cursor.js';

type AuditRecord = components['schemas']['AuditRecord'];
type AuditPage = components['schemas']['AuditPage'];
type SigningKeyBody = components['schemas']['SigningKey'];

const PAGE_LIMIT_DEFAULT = 50;
const PAGE_LIMIT_MAX = 500;

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
  const { records, hasMore } = await readTrail(pool, query);
  const last = records[records.length - 1];
  return {
    items: records.map(toApiRecord),
    nextCursor: hasMore && last ? trailCursor.encode(last.sequence) : null,
  };
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
      try {
        return {
          status: 200,
          body: await verifyStoredChain(readerPool, anchors, fromSequence, toSequence),
        };
      } catch (error) {
        if (!(error instanceof AnchorNotCaughtUpError)) throw error;
        throw new ProblemError(
          503,
          'not-ready',
          'Not ready',
          'The published checkpoints could not be read back from Kafka in time.',
        );
      }
    },
  };
}
