import fc from 'fast-check';
import {
  appendToChain,
  canonicalJson,
  canonicalRecord,
  EMPTY_HEAD,
  GENESIS_HASH,
  recordHash,
  toJsonValue,
  verifyChain,
  type ChainedRecord,
} from '../../src/domain/chain.js';
import { content } from './fixtures.js';

describe('canonical encoding', () => {
  it('sorts keys at every depth, so field order never changes the bytes', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('writes Dates as ISO strings, Buffers as base64 and numbers as they are', () => {
    expect(
      toJsonValue({
        at: new Date('2026-01-15T10:00:00.010Z'),
        raw: Buffer.from([0, 1, 2, 255]),
        amountMinor: 9_007_199_254_740_990,
      }),
    ).toEqual({
      at: '2026-01-15T10:00:00.010Z',
      raw: 'AAEC/w==',
      amountMinor: 9_007_199_254_740_990,
    });
  });

  it('refuses values JSON cannot carry exactly', () => {
    expect(() => canonicalJson({ a: undefined })).toThrow();
    expect(() => canonicalJson({ a: Number.NaN })).toThrow();
    expect(() => canonicalJson({ a: new Date(Number.NaN) })).toThrow();
  });

  it('survives a JSON round trip (what jsonb gives back) byte for byte', () => {
    const record = { ...content(), sequence: 7, previousHash: GENESIS_HASH };
    const roundTripped = {
      ...record,
      payload: JSON.parse(JSON.stringify(record.payload)) as typeof record.payload,
      recordedAt: new Date(record.recordedAt.toISOString()),
    };
    expect(canonicalRecord(roundTripped)).toBe(canonicalRecord(record));
  });
});

describe('hash chain', () => {
  it('starts at the genesis hash and links each record to the one before', () => {
    const records = appendToChain(EMPTY_HEAD, [content(), content(), content()]);
    expect(records.map((r) => r.sequence)).toEqual([1, 2, 3]);
    expect(records[0]!.previousHash).toBe(GENESIS_HASH);
    expect(records[1]!.previousHash).toBe(records[0]!.hash);
    expect(records[2]!.previousHash).toBe(records[1]!.hash);
    for (const r of records) {
      expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.hash).toBe(recordHash(r.previousHash, canonicalRecord(r)));
    }
    expect(verifyChain(records)).toEqual({
      recordsChecked: 3,
      head: { sequence: 3, hash: records[2]!.hash },
      broken: null,
    });
  });

  it('continues after an existing head, and verifies incrementally page by page', () => {
    const first = appendToChain(EMPTY_HEAD, [content(), content()]);
    const head = { sequence: 2, hash: first[1]!.hash };
    const second = appendToChain(head, [content()]);
    expect(second[0]!.sequence).toBe(3);
    const page1 = verifyChain(first);
    expect(verifyChain(second, page1.head).broken).toBeNull();
  });

  it('names a changed payload as HASH_MISMATCH at exactly that record', () => {
    const records = appendToChain(EMPTY_HEAD, [content(), content(), content()]);
    const tampered = records.map((r) => ({ ...r }));
    tampered[1] = { ...tampered[1]!, payload: { step: 'DEBIT', amountMinor: 1, currency: 'EUR' } };
    const verdict = verifyChain(tampered);
    expect(verdict.recordsChecked).toBe(2);
    expect(verdict.broken).toEqual({
      sequence: 2,
      recordId: records[1]!.recordId,
      kind: 'HASH_MISMATCH',
      expectedHash: recordHash(records[1]!.previousHash, canonicalRecord(tampered[1]!)),
      foundHash: records[1]!.hash,
    });
  });

  it('names a removed record as SEQUENCE_GAP at the record after the hole', () => {
    const records = appendToChain(EMPTY_HEAD, [content(), content(), content()]);
    const verdict = verifyChain([records[0]!, records[2]!]);
    expect(verdict.broken).toMatchObject({
      sequence: 3,
      kind: 'SEQUENCE_GAP',
      expectedHash: records[0]!.hash,
      foundHash: records[2]!.previousHash,
    });
  });

  it('names a re-linked record as PREVIOUS_HASH_MISMATCH', () => {
    const records = appendToChain(EMPTY_HEAD, [content(), content()]);
    const relinked = { ...records[1]!, previousHash: 'a'.repeat(64) };
    expect(verifyChain([records[0]!, relinked]).broken).toMatchObject({
      sequence: 2,
      kind: 'PREVIOUS_HASH_MISMATCH',
      expectedHash: records[0]!.hash,
      foundHash: 'a'.repeat(64),
    });
  });

  it('catches a suffix rewritten with recomputed hashes through the checkpoint', () => {
    const records = appendToChain(EMPTY_HEAD, [content(), content(), content()]);
    const checkpoints = new Map([[3, records[2]!.hash]]);
    const head = { sequence: 1, hash: records[0]!.hash };
    const forged = appendToChain(head, [
      { ...records[1]!, payload: { forged: true } },
      { ...records[2]! },
    ]);
    expect(verifyChain([records[0]!, ...forged]).broken).toBeNull();
    expect(verifyChain([records[0]!, ...forged], EMPTY_HEAD, checkpoints).broken).toMatchObject({
      sequence: 3,
      kind: 'HASH_MISMATCH',
      expectedHash: records[2]!.hash,
    });
  });
});

describe('tamper evidence (property)', () => {
  const fields: (keyof ChainedRecord)[] = [
    'sequence',
    'previousHash',
    'hash',
    'recordId',
    'topic',
    'partition',
    'offset',
    'eventType',
    'eventId',
    'correlationId',
    'paymentId',
    'accountId',
    'transactionId',
    'producer',
    'payload',
    'recordedAt',
  ];

  function altered(record: ChainedRecord, field: keyof ChainedRecord, salt: number): ChainedRecord {
    const r = { ...record };
    switch (field) {
      case 'sequence':
      case 'partition':
        return { ...r, [field]: r[field] + salt };
      case 'recordedAt':
        return { ...r, recordedAt: new Date(r.recordedAt.getTime() + salt) };
      case 'payload':
        return { ...r, payload: { ...(r.payload as object), extra: salt } };
      case 'previousHash':
      case 'hash':
        return { ...r, [field]: recordHash(GENESIS_HASH, `${field}:${salt}`) };
      case 'offset':
        return { ...r, offset: String(Number(r.offset) + salt) };
      default:
        return { ...r, [field]: `${String(r[field])}-${salt}` };
    }
  }

  it('any single-field alteration of any record is detected at exactly that record', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        fc.constantFrom(...fields),
        fc.integer({ min: 1, max: 1_000 }),
        (length, pick, field, salt) => {
          const records = appendToChain(
            EMPTY_HEAD,
            Array.from({ length }, (_, i) => content({ offset: String(i) })),
          );
          const index = pick % length;
          const tampered = records.map((r, i) => (i === index ? altered(r, field, salt) : r));
          const verdict = verifyChain(tampered);
          // The broken record is the altered one (its own sequence may be the altered field).
          expect(verdict.broken?.sequence).toBe(tampered[index]!.sequence);
          expect(verdict.broken?.recordId).toBe(tampered[index]!.recordId);
          expect(verdict.recordsChecked).toBe(index + 1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
