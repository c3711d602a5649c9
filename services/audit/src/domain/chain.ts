// The hash chain of the audit trail, as plain functions over values: canonical encoding of a
// record, its hash, and verification that names the first broken link. No I/O: the consumer
// uses the same functions to append and the API to verify, so the two cannot drift apart.
import { createHash } from 'node:crypto';

/** previousHash of the first record: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

const SHA256_HEX = /^[0-9a-f]{64}$/;

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Everything a record holds except its place in the chain. */
export interface AuditRecordContent {
  recordId: string;
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (offsets are 64-bit). */
  offset: string;
  eventType: string;
  eventId: string;
  correlationId: string;
  paymentId: string | null;
  accountId: string | null;
  transactionId: string | null;
  producer: string;
  payload: JsonValue;
  recordedAt: Date;
}

export interface ChainedRecord extends AuditRecordContent {
  sequence: number;
  previousHash: string;
  hash: string;
}

/**
 * Converts a decoded Avro value to JSON: Dates as ISO 8601 strings, Buffers as base64, numbers
 * as they are (Avro longs decode to safe integers), objects with their own keys. Anything else
 * (undefined, functions, non-finite numbers) is a bug and throws.
 */
export function toJsonValue(value: unknown): JsonValue {
  if (value === null) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot encode the number ${value}`);
    return value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error('cannot encode an invalid Date');
    return value.toISOString();
  }
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
    return out;
  }
  throw new Error(`cannot encode a value of type ${typeof value}`);
}

/**
 * Deterministic JSON: keys sorted by code unit, no whitespace, same input -> same bytes. Same
 * conversions as toJsonValue, in one pass (this runs for every record appended and verified).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot encode the number ${value}`);
    return JSON.stringify(value);
  }
  if (value instanceof Date || Buffer.isBuffer(value)) return JSON.stringify(toJsonValue(value));
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).sort();
    let out = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      out += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(object[key])}`;
    }
    return `${out}}`;
  }
  throw new Error(`cannot encode a value of type ${typeof value}`);
}

/** The canonical encoding of a record: every field but the hash, previousHash included. */
export function canonicalRecord(record: Omit<ChainedRecord, 'hash'>): string {
  return canonicalJson({
    sequence: record.sequence,
    previousHash: record.previousHash,
    recordId: record.recordId,
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
    payload: record.payload,
    recordedAt: record.recordedAt,
  });
}

/** sha256 hex over the previous hash and the canonical encoding (which contains it as well). */
export function recordHash(previousHash: string, canonical: string): string {
  assertHash(previousHash);
  return createHash('sha256').update(previousHash).update('\n').update(canonical).digest('hex');
}

export function assertHash(hash: string): void {
  if (!SHA256_HEX.test(hash)) throw new Error(`not a sha256 hex digest: ${hash}`);
}

export interface ChainHead {
  sequence: number;
  hash: string;
}

/** The head of an empty chain: sequence 0, genesis hash. */
export const EMPTY_HEAD: ChainHead = { sequence: 0, hash: GENESIS_HASH };

/** Links new records after `head`, in the order given. */
export function appendToChain(
  head: ChainHead,
  contents: readonly AuditRecordContent[],
): ChainedRecord[] {
  assertHash(head.hash);
  if (!Number.isSafeInteger(head.sequence) || head.sequence < 0) {
    throw new Error(`chain head sequence ${head.sequence} is not a non-negative integer`);
  }
  const out: ChainedRecord[] = [];
  let previous = head;
  for (const content of contents) {
    const unhashed = { ...content, sequence: previous.sequence + 1, previousHash: previous.hash };
    const hash = recordHash(unhashed.previousHash, canonicalRecord(unhashed));
    const record: ChainedRecord = { ...unhashed, hash };
    out.push(record);
    previous = { sequence: record.sequence, hash };
  }
  return out;
}

export type BrokenKind = 'HASH_MISMATCH' | 'PREVIOUS_HASH_MISMATCH' | 'SEQUENCE_GAP';

export interface BrokenRecord {
  sequence: number;
  recordId: string;
  kind: BrokenKind;
  /** HASH_MISMATCH: the recomputed hash; otherwise the preceding record's hash. */
  expectedHash: string;
  /** HASH_MISMATCH: the stored hash; otherwise this record's previousHash. */
  foundHash: string;
}

/**
 * Checks one record against the link it must follow. `expected` is the preceding record (or
 * the trusted starting point). Returns the break, or null when the record holds.
 */
export function checkLink(expected: ChainHead, record: ChainedRecord): BrokenRecord | null {
  const at = { sequence: record.sequence, recordId: record.recordId };
  if (record.sequence !== expected.sequence + 1) {
    return {
      ...at,
      kind: 'SEQUENCE_GAP',
      expectedHash: expected.hash,
      foundHash: record.previousHash,
    };
  }
  if (record.previousHash !== expected.hash) {
    return {
      ...at,
      kind: 'PREVIOUS_HASH_MISMATCH',
      expectedHash: expected.hash,
      foundHash: record.previousHash,
    };
  }
  const recomputed = SHA256_HEX.test(record.previousHash)
    ? recordHash(record.previousHash, canonicalRecord(record))
    : GENESIS_HASH;
  if (recomputed !== record.hash) {
    return { ...at, kind: 'HASH_MISMATCH', expectedHash: recomputed, foundHash: record.hash };
  }
  return null;
}

export interface ChainVerdict {
  recordsChecked: number;
  /** Last record that held (the starting point when none did). */
  head: ChainHead;
  broken: BrokenRecord | null;
}

/**
 * Verifies records in order after `start` (default: the empty chain). Stops at the first
 * broken record. Incremental: feed pages by passing the previous verdict's head as `start`.
 * `checkpoints` (sequence -> hash recorded at write time) catch a rewrite of a whole suffix
 * whose links were all recomputed: the record at a checkpoint must still have that hash.
 */
export function verifyChain(
  records: Iterable<ChainedRecord>,
  start: ChainHead = EMPTY_HEAD,
  checkpoints: ReadonlyMap<number, string> = new Map(),
): ChainVerdict {
  let head = start;
  let recordsChecked = 0;
  for (const record of records) {
    recordsChecked += 1;
    let broken = checkLink(head, record);
    const anchored = checkpoints.get(record.sequence);
    if (!broken && anchored !== undefined && anchored !== record.hash) {
      broken = {
        sequence: record.sequence,
        recordId: record.recordId,
        kind: 'HASH_MISMATCH',
        expectedHash: anchored,
        foundHash: record.hash,
      };
    }
    if (broken) return { recordsChecked, head, broken };
    head = { sequence: record.sequence, hash: record.hash };
  }
  return { recordsChecked, head, broken: null };
}
