// The trail in PostgreSQL. Writes run in the consumer's transaction as audit_app; reads run
// on the audit_reader pool. Every statement is a slonik `sql` token (values bound, fragments
// composed) run with queryIn on the platform's connection, and every row is checked against
// its zod schema: a column renamed in a migration fails here instead of reading undefined.
import { z } from 'zod';
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
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

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(jsonValue)]),
);

const trailRow = z.object({
  sequence: z.number().int(),
  record_id: z.string(),
  topic: z.string(),
  partition: z.number().int(),
  offset: z.number().int(),
  event_type: z.string(),
  event_id: z.string(),
  correlation_id: z.string(),
  payment_id: z.string().nullable(),
  account_id: z.string().nullable(),
  transaction_id: z.string().nullable(),
  producer: z.string(),
  payload: jsonValue,
  recorded_at: z.date(),
  previous_hash: z.string(),
  hash: z.string(),
});
type TrailRow = z.infer<typeof trailRow>;

const headRow = z.object({ sequence: z.number().int(), hash: z.string() });

const COLUMNS = sql.fragment`sequence, record_id, topic, partition, "offset", event_type, event_id,
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
  client: PgQueryable,
  contents: readonly AuditRecordContent[],
  checkpointEvery: number,
): Promise<AppendResult> {
  if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 1) {
    throw new Error(`checkpointEvery ${checkpointEvery} must be a positive integer`);
  }
  if (contents.length === 0) return { appended: [], duplicates: 0, checkpoints: [] };
  await queryIn(client, sql.unsafe`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_KEY})`);

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
  const document = JSON.stringify(
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
  );
  await queryIn(
    client,
    sql.unsafe`INSERT INTO audit.trail (${COLUMNS})
     SELECT ${COLUMNS} FROM json_to_recordset(${document}::json) AS r(sequence bigint, record_id uuid,
       topic text, partition int, "offset" bigint, event_type text, event_id uuid,
       correlation_id uuid, payment_id uuid, account_id uuid, transaction_id uuid, producer text,
       payload jsonb, recorded_at timestamptz, previous_hash text, hash text)`,
  );
  const checkpoints = records
    .filter((r) => r.sequence % checkpointEvery === 0)
    .map((r) => ({ sequence: r.sequence, hash: r.hash }));
  if (checkpoints.length > 0) {
    await queryIn(
      client,
      sql.unsafe`INSERT INTO audit.chain_checkpoints (sequence, hash, at)
       SELECT s, h, now() FROM ${sql.unnest(
         checkpoints.map((c) => [c.sequence, c.hash]),
         ['int8', 'text'],
       )} AS c(s, h)`,
    );
  }
  return { appended: records, duplicates: contents.length - fresh.length, checkpoints };
}

/** (topic, eventId) pairs among `contents` already in the trail: one index probe each. */
async function recordedEventIds(
  client: PgQueryable,
  contents: readonly AuditRecordContent[],
): Promise<Set<string>> {
  const { rows } = await queryIn(
    client,
    sql.type(z.object({ topic: z.string(), event_id: z.string() }))`
     SELECT t.topic, t.event_id FROM audit.trail t
     JOIN unnest(${arrayLiteral(contents.map((c) => c.topic))}::text[],
                 ${arrayLiteral(contents.map((c) => c.eventId))}::uuid[]) AS c(topic, event_id)
       ON t.topic = c.topic AND t.event_id = c.event_id`,
  );
  return new Set(rows.map((r) => `${r.topic}|${r.event_id}`));
}

/**
 * Coordinates among `contents` already in the trail. One range scan of the unique index per
 * partition: a consumer batch is one partition, so this is one query.
 */
async function recordedCoordinates(
  client: PgQueryable,
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
    const { rows } = await queryIn(
      client,
      sql.type(z.object({ offset: z.number().int() }))`SELECT "offset" FROM audit.trail
       WHERE topic = ${r.topic} AND partition = ${r.partition}
         AND "offset" BETWEEN ${r.min.toString()}::bigint AND ${r.max.toString()}::bigint`,
    );
    for (const row of rows) recorded.add(`${r.topic}:${r.partition}:${row.offset}`);
  }
  return recorded;
}

export async function readHead(db: PgQueryable): Promise<ChainHead> {
  const { rows } = await queryIn(
    db,
    sql.type(headRow)`SELECT sequence, hash FROM audit.trail ORDER BY sequence DESC LIMIT 1`,
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
  db: PgQueryable,
  query: TrailPageQuery,
): Promise<{ records: ChainedRecord[]; hasMore: boolean }> {
  const conditions = [sql.fragment`sequence > ${query.afterSequence}`];
  if (query.paymentId !== undefined) conditions.push(sql.fragment`payment_id = ${query.paymentId}`);
  if (query.accountId !== undefined) conditions.push(sql.fragment`account_id = ${query.accountId}`);
  if (query.topic !== undefined) conditions.push(sql.fragment`topic = ${query.topic}`);
  if (query.from !== undefined)
    conditions.push(sql.fragment`recorded_at >= ${sql.timestamp(query.from)}`);
  if (query.to !== undefined)
    conditions.push(sql.fragment`recorded_at < ${sql.timestamp(query.to)}`);
  const { rows } = await queryIn(
    db,
    sql.type(trailRow)`SELECT ${COLUMNS} FROM audit.trail
     WHERE ${sql.join(conditions, sql.fragment` AND `)}
     ORDER BY sequence LIMIT ${query.limit + 1}`,
  );
  const hasMore = rows.length > query.limit;
  return { records: rows.slice(0, query.limit).map(fromRow), hasMore };
}

/** Records with fromSequence <= sequence <= toSequence, at most `limit`, in chain order. */
export async function readChainRange(
  db: PgQueryable,
  fromSequence: number,
  toSequence: number,
  limit: number,
): Promise<ChainedRecord[]> {
  const { rows } = await queryIn(
    db,
    sql.type(trailRow)`SELECT ${COLUMNS} FROM audit.trail
     WHERE sequence BETWEEN ${fromSequence} AND ${toSequence}
     ORDER BY sequence LIMIT ${limit}`,
  );
  return rows.map(fromRow);
}

export async function readCheckpoints(
  db: PgQueryable,
  fromSequence: number,
  toSequence: number,
): Promise<Map<number, string>> {
  const { rows } = await queryIn(
    db,
    sql.type(headRow)`SELECT sequence, hash FROM audit.chain_checkpoints
     WHERE sequence BETWEEN ${fromSequence} AND ${toSequence}`,
  );
  return new Map(rows.map((r) => [r.sequence, r.hash]));
}

/** Stored hash of each of `sequences` that is in the trail (the anchor's comparison points). */
export async function readHashesAt(
  db: PgQueryable,
  sequences: readonly number[],
): Promise<Map<number, string>> {
  if (sequences.length === 0) return new Map();
  const { rows } = await queryIn(
    db,
    sql.type(headRow)`SELECT sequence, hash FROM audit.trail
     WHERE sequence = ANY(${sql.array(sequences, 'int8')})`,
  );
  return new Map(rows.map((r) => [Number(r.sequence), r.hash]));
}

/** Offsets the consumer could not account for, in its transaction (see audit.skipped_offsets). */
export async function recordSkippedOffsets(
  db: PgQueryable,
  gaps: readonly { topic: string; partition: number; fromOffset: number; toOffset: number }[],
): Promise<void> {
  if (gaps.length === 0) return;
  // A gap found again after a crash before the position moved is the same gap: one row.
  await queryIn(
    db,
    sql.unsafe`INSERT INTO audit.skipped_offsets (topic, partition, from_offset, to_offset)
     SELECT * FROM ${sql.unnest(
       gaps.map((g) => [g.topic, g.partition, g.fromOffset, g.toOffset]),
       ['text', 'int4', 'int8', 'int8'],
     )}
     ON CONFLICT (topic, partition, from_offset) DO NOTHING`,
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
  db: PgQueryable,
  limit: number,
): Promise<SkippedOffsetsRow[]> {
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({
        topic: z.string(),
        partition: z.number().int(),
        from_offset: z.string(),
        to_offset: z.string(),
        detected_at: z.date(),
      }),
    )`SELECT topic, partition, from_offset::text, to_offset::text, detected_at
     FROM audit.skipped_offsets ORDER BY detected_at, topic, partition, from_offset
     LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    fromOffset: r.from_offset,
    toOffset: r.to_offset,
    detectedAt: r.detected_at,
  }));
}
