// The trail in PostgreSQL. Writes run in the consumer's transaction as audit_app; reads run
// on the audit_reader pool. SQL values are always bound; the schema name is a constant.
import type { Queryable } from '@ledgerline/platform/db';
import {
  appendToChain,
  EMPTY_HEAD,
  type AuditRecordContent,
  type ChainHead,
  type ChainedRecord,
  type JsonValue,
} from '../domain/chain.js';

/** One lock for the whole chain: whoever holds it is the only writer of the head. */
const CHAIN_LOCK_KEY = 0x61756474; // 'audt'

interface TrailRow {
  sequence: number;
  record_id: string;
  topic: string;
  partition: number;
  offset: number;
  event_type: string;
  event_id: string;
  correlation_id: string;
  payment_id: string | null;
  account_id: string | null;
  transaction_id: string | null;
  producer: string;
  payload: JsonValue;
  recorded_at: Date;
  previous_hash: string;
  hash: string;
}

const COLUMNS = `sequence, record_id, topic, partition, "offset", event_type, event_id,
  correlation_id, payment_id, account_id, transaction_id, producer, payload, recorded_at,
  previous_hash, hash`;

function fromRow(row: TrailRow): ChainedRecord {
  return {
    sequence: row.sequence,
    recordId: row.record_id,
    topic: row.topic,
    partition: row.partition,
    offset: String(row.offset),
    eventType: row.event_type,
    eventId: row.event_id,
    correlationId: row.correlation_id,
    paymentId: row.payment_id,
    accountId: row.account_id,
    transactionId: row.transaction_id,
    producer: row.producer,
    payload: row.payload,
    recordedAt: row.recorded_at,
    previousHash: row.previous_hash,
    hash: row.hash,
  };
}

export interface AppendResult {
  appended: ChainedRecord[];
  /** Records skipped: their Kafka coordinates, or their topic and eventId, already recorded. */
  duplicates: number;
  /** The appended records that are checkpoints (sequence a multiple of checkpointEvery). */
  checkpoints: ChainHead[];
}

/**
 * Appends records in the order given, inside the caller's transaction. Takes the chain lock,
 * drops records already recorded, by Kafka coordinates or by (topic, eventId) (before hashing:
 * a record hashed and then discarded by ON CONFLICT would leave a hole in the chain), links the
 * rest after the head and writes them in one statement, with a checkpoint at every multiple
 * of `checkpointEvery`.
 */
export async function appendRecords(
  client: Queryable,
  contents: readonly AuditRecordContent[],
  checkpointEvery: number,
): Promise<AppendResult> {
  if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 1) {
    throw new Error(`checkpointEvery ${checkpointEvery} must be a positive integer`);
  }
  if (contents.length === 0) return { appended: [], duplicates: 0, checkpoints: [] };
  await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK_KEY]);

  const recorded = await recordedCoordinates(client, contents);
  const recordedEvents = await recordedEventIds(client, contents);
  const batchSeen = new Set<string>();
  const fresh = contents.filter((c) => {
    // A producer that publishes the same event again gives it new coordinates, same eventId.
    const coordinates = `${c.topic}:${c.partition}:${c.offset}`;
    const event = `${c.topic}|${c.eventId}`;
    if (recorded.has(coordinates) || recordedEvents.has(event)) return false;
    if (batchSeen.has(coordinates) || batchSeen.has(event)) return false;
    batchSeen.add(coordinates);
    batchSeen.add(event);
    return true;
  });
  if (fresh.length === 0) return { appended: [], duplicates: contents.length, checkpoints: [] };

  const head = await readHead(client);
  const records = appendToChain(head, fresh);
  // One JSON document for the whole batch: PostgreSQL parses it once, which is several times
  // faster than sixteen array parameters with a jsonb[] of escaped payloads.
  await client.query(
    `INSERT INTO audit.trail (${COLUMNS})
     SELECT ${COLUMNS} FROM json_to_recordset($1::json) AS r(sequence bigint, record_id uuid,
       topic text, partition int, "offset" bigint, event_type text, event_id uuid,
       correlation_id uuid, payment_id uuid, account_id uuid, transaction_id uuid, producer text,
       payload jsonb, recorded_at timestamptz, previous_hash text, hash text)`,
    [
      JSON.stringify(
        records.map((r) => ({
          sequence: r.sequence,
          record_id: r.recordId,
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          event_type: r.eventType,
          event_id: r.eventId,
          correlation_id: r.correlationId,
          payment_id: r.paymentId,
          account_id: r.accountId,
          transaction_id: r.transactionId,
          producer: r.producer,
          payload: r.payload,
          recorded_at: r.recordedAt.toISOString(),
          previous_hash: r.previousHash,
          hash: r.hash,
        })),
      ),
    ],
  );
  const checkpoints = records
    .filter((r) => r.sequence % checkpointEvery === 0)
    .map((r) => ({ sequence: r.sequence, hash: r.hash }));
  if (checkpoints.length > 0) {
    await client.query(
      `INSERT INTO audit.chain_checkpoints (sequence, hash, at)
       SELECT s, h, now() FROM unnest($1::bigint[], $2::text[]) AS c(s, h)`,
      [checkpoints.map((r) => r.sequence), checkpoints.map((r) => r.hash)],
    );
  }
  return { appended: records, duplicates: contents.length - fresh.length, checkpoints };
}

/** (topic, eventId) pairs among `contents` already in the trail: one index probe each. */
async function recordedEventIds(
  client: Queryable,
  contents: readonly AuditRecordContent[],
): Promise<Set<string>> {
  const { rows } = await client.query<{ topic: string; event_id: string }>(
    `SELECT t.topic, t.event_id FROM audit.trail t
     JOIN unnest($1::text[], $2::uuid[]) AS c(topic, event_id)
       ON t.topic = c.topic AND t.event_id = c.event_id`,
    [contents.map((c) => c.topic), contents.map((c) => c.eventId)],
  );
  return new Set(rows.map((r) => `${r.topic}|${r.event_id}`));
}

/**
 * Coordinates among `contents` already in the trail. One range scan of the unique index per
 * partition: a consumer batch is one partition, so this is one query.
 */
async function recordedCoordinates(
  client: Queryable,
  contents: readonly AuditRecordContent[],
): Promise<Set<string>> {
  const ranges = new Map<string, { topic: string; partition: number; min: bigint; max: bigint }>();
  for (const c of contents) {
    const offset = BigInt(c.offset);
    const key = `${c.topic}:${c.partition}`;
    const range = ranges.get(key);
    if (!range)
      ranges.set(key, { topic: c.topic, partition: c.partition, min: offset, max: offset });
    else {
      if (offset < range.min) range.min = offset;
      if (offset > range.max) range.max = offset;
    }
  }
  const recorded = new Set<string>();
  for (const r of ranges.values()) {
    const { rows } = await client.query<{ offset: number }>(
      `SELECT "offset" FROM audit.trail
       WHERE topic = $1 AND partition = $2 AND "offset" BETWEEN $3 AND $4`,
      [r.topic, r.partition, r.min.toString(), r.max.toString()],
    );
    for (const row of rows) recorded.add(`${r.topic}:${r.partition}:${row.offset}`);
  }
  return recorded;
}

export async function readHead(db: Queryable): Promise<ChainHead> {
  const { rows } = await db.query<{ sequence: number; hash: string }>(
    'SELECT sequence, hash FROM audit.trail ORDER BY sequence DESC LIMIT 1',
  );
  return rows[0] ?? EMPTY_HEAD;
}

export interface TrailPageQuery {
  paymentId?: string;
  accountId?: string;
  topic?: string;
  /** recorded_at >= from */
  from?: Date;
  /** recorded_at < to */
  to?: Date;
  afterSequence: number;
  limit: number;
}

/** One page in chain order; `limit + 1` rows are read to know whether another page follows. */
export async function readTrailPage(
  db: Queryable,
  query: TrailPageQuery,
): Promise<{ records: ChainedRecord[]; hasMore: boolean }> {
  const conditions = ['sequence > $1'];
  const values: unknown[] = [query.afterSequence];
  const bind = (sql: string, value: unknown): void => {
    values.push(value);
    conditions.push(sql.replace('?', `$${values.length}`));
  };
  if (query.paymentId !== undefined) bind('payment_id = ?', query.paymentId);
  if (query.accountId !== undefined) bind('account_id = ?', query.accountId);
  if (query.topic !== undefined) bind('topic = ?', query.topic);
  if (query.from !== undefined) bind('recorded_at >= ?', query.from);
  if (query.to !== undefined) bind('recorded_at < ?', query.to);
  values.push(query.limit + 1);
  const { rows } = await db.query<TrailRow>(
    `SELECT ${COLUMNS} FROM audit.trail WHERE ${conditions.join(' AND ')}
     ORDER BY sequence LIMIT $${values.length}`,
    values,
  );
  const hasMore = rows.length > query.limit;
  return { records: rows.slice(0, query.limit).map(fromRow), hasMore };
}

/** Records with fromSequence <= sequence <= toSequence, at most `limit`, in chain order. */
export async function readChainRange(
  db: Queryable,
  fromSequence: number,
  toSequence: number,
  limit: number,
): Promise<ChainedRecord[]> {
  const { rows } = await db.query<TrailRow>(
    `SELECT ${COLUMNS} FROM audit.trail WHERE sequence BETWEEN $1 AND $2
     ORDER BY sequence LIMIT $3`,
    [fromSequence, toSequence, limit],
  );
  return rows.map(fromRow);
}

export async function readCheckpoints(
  db: Queryable,
  fromSequence: number,
  toSequence: number,
): Promise<Map<number, string>> {
  const { rows } = await db.query<{ sequence: number; hash: string }>(
    'SELECT sequence, hash FROM audit.chain_checkpoints WHERE sequence BETWEEN $1 AND $2',
    [fromSequence, toSequence],
  );
  return new Map(rows.map((r) => [r.sequence, r.hash]));
}

/** Stored hash of each of `sequences` that is in the trail (the anchor's comparison points). */
export async function readHashesAt(
  db: Queryable,
  sequences: readonly number[],
): Promise<Map<number, string>> {
  if (sequences.length === 0) return new Map();
  const { rows } = await db.query<{ sequence: number; hash: string }>(
    'SELECT sequence, hash FROM audit.trail WHERE sequence = ANY($1::bigint[])',
    [sequences],
  );
  return new Map(rows.map((r) => [Number(r.sequence), r.hash]));
}

/** Offsets the consumer could not account for, in its transaction (see audit.skipped_offsets). */
export async function recordSkippedOffsets(
  db: Queryable,
  gaps: readonly { topic: string; partition: number; fromOffset: number; toOffset: number }[],
): Promise<void> {
  if (gaps.length === 0) return;
  // A gap found again after a crash before the position moved is the same gap: one row.
  await db.query(
    `INSERT INTO audit.skipped_offsets (topic, partition, from_offset, to_offset)
     SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[])
     ON CONFLICT (topic, partition, from_offset) DO NOTHING`,
    [
      gaps.map((g) => g.topic),
      gaps.map((g) => g.partition),
      gaps.map((g) => g.fromOffset),
      gaps.map((g) => g.toOffset),
    ],
  );
}

export interface SkippedOffsetsRow {
  topic: string;
  partition: number;
  fromOffset: string;
  toOffset: string;
  detectedAt: Date;
}

/** The oldest `limit` recorded gaps of the whole trail. */
export async function readSkippedOffsets(
  db: Queryable,
  limit: number,
): Promise<SkippedOffsetsRow[]> {
  const { rows } = await db.query<{
    topic: string;
    partition: number;
    from_offset: string;
    to_offset: string;
    detected_at: Date;
  }>(
    `SELECT topic, partition, from_offset::text, to_offset::text, detected_at
     FROM audit.skipped_offsets ORDER BY detected_at, topic, partition, from_offset LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    fromOffset: r.from_offset,
    toOffset: r.to_offset,
    detectedAt: r.detected_at,
  }));
}
