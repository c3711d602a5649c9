// Exactly-once effects from Kafka into PostgreSQL. For every batch of a partition, one
// PostgreSQL transaction holds the effects, the dead letters and the consumer position, so a
// crash at any instant neither loses nor doubles an effect. Positions live in PostgreSQL; the
// consumer seeks to them on every assignment and drops anything already applied (a
// re-delivery after a crash between the PostgreSQL commit and the Kafka offset commit).
import pg from 'pg';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Pool, PoolClient, Queryable } from './db.js';
import { appendToOutbox } from './outbox.js';
import { UndecodableMessageError, type EventSerde } from './events/serde.js';
import type { AnyTopic } from './events/topic.js';
import type { DecodedMessage, EncodedMessage, RawMessage } from './events/typed.js';

export type { RawMessage };
import { TopicConsumer } from './events/typed.js';
import type { Logger } from './log.js';

export interface DeadLetterRequest {
  message: RawMessage;
  reason: string;
}

export interface BatchContext {
  client: PoolClient;
  topic: string;
  partition: number;
  /** Ask for a message to go to the dead-letter topic, with the reason (same transaction). */
  deadLetter(message: RawMessage, reason: string): void;
}

export type BatchHandler = (
  messages: DecodedMessage<AnyTopic>[],
  context: BatchContext,
) => Promise<void>;

/** Encodes a dead letter for the outbox; the caller supplies the generated producer. */
export type DeadLetterEncoder = (
  request: DeadLetterRequest,
  consumer: string,
) => Promise<EncodedMessage>;

export interface ExactlyOnceConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  serde: EventSerde;
  log: Logger;
  /** The service's schema: holds consumer_positions and the outbox for dead letters. */
  schema: string;
  groupId: string;
  topics: readonly AnyTopic[];
  handleBatch: BatchHandler;
  encodeDeadLetter: DeadLetterEncoder;
  /** Most messages handled in one PostgreSQL transaction. */
  batchSizeMax?: number;
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  /** How long the group waits for a silent member (a killed process) before rebalancing. */
  sessionTimeoutMs?: number;
  onBatchCommitted?: (info: {
    topic: string;
    partition: number;
    applied: number;
    deadLetters: number;
    lag: number;
  }) => void;
  /** Called after the outbox got rows, so the relay can publish at once. */
  onOutboxWritten?: () => void;
}

/** Consumer groups are per environment, like topics: the prefix keeps test runs apart. */
export function consumerGroupId(service: string, topicPrefix: string): string {
  return `${topicPrefix}${service}`;
}

export async function readPositions(
  db: Queryable,
  schema: string,
  groupId: string,
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ topic: string; partition: number; next_offset: number }>(
    `SELECT topic, partition, next_offset FROM ${pg.escapeIdentifier(schema)}.consumer_positions WHERE group_id = $1`,
    [groupId],
  );
  return new Map(rows.map((r) => [`${r.topic}:${r.partition}`, r.next_offset]));
}

export class ExactlyOnceConsumer {
  private consumer: Consumer | undefined;
  private readonly decoders: Map<string, TopicConsumer<AnyTopic>>;
  private readonly batchSizeMax: number;

  constructor(private readonly options: ExactlyOnceConsumerOptions) {
    this.decoders = new Map(
      options.topics.map((t) => [t.name, new TopicConsumer(t, options.serde)]),
    );
    this.batchSizeMax = options.batchSizeMax ?? 2_000;
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, log } = this.options;
    const consumer = kafka.consumer({
      groupId,
      readUncommitted: false, // read_committed: never see an aborted transaction's messages.
      allowAutoTopicCreation: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      void this.seekToStoredPositions(event.payload.memberAssignment).catch((error: unknown) =>
        log.error({ err: error }, 'could not seek to stored positions'),
      );
    });
    await consumer.connect();
    for (const topic of topics) {
      await consumer.subscribe({
        topic: topic.name,
        fromBeginning: this.options.fromBeginning ?? true,
      });
    }
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: async ({
        batch,
        resolveOffset,
        heartbeat,
        commitOffsetsIfNecessary,
        isRunning,
        isStale,
      }) => {
        const messages = batch.messages;
        for (let start = 0; start < messages.length; start += this.batchSizeMax) {
          if (!isRunning() || isStale()) return;
          const chunk = messages.slice(start, start + this.batchSizeMax);
          const lastOffset = chunk[chunk.length - 1]!.offset;
          const lag = Number(batch.highWatermark) - Number(lastOffset) - 1;
          await this.applyChunk(batch.topic, batch.partition, chunk, lag);
          resolveOffset(lastOffset);
          await heartbeat();
        }
        // Kafka's own offset is only a hint (and a lag gauge): PostgreSQL holds the truth.
        await commitOffsetsIfNecessary();
      },
    });
  }

  private async seekToStoredPositions(assignment: Record<string, number[]>): Promise<void> {
    const positions = await readPositions(
      this.options.pool,
      this.options.schema,
      this.options.groupId,
    );
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const next = positions.get(`${topic}:${partition}`);
        if (next !== undefined) this.consumer?.seek({ topic, partition, offset: String(next) });
      }
    }
  }

  private async applyChunk(
    topic: string,
    partition: number,
    chunk: KafkaMessage[],
    lag: number,
  ): Promise<void> {
    const { pool, schema, groupId, log } = this.options;
    const decoder = this.decoders.get(topic);
    if (!decoder) throw new Error(`no decoder for topic ${topic}`);
    const decoded: DecodedMessage<AnyTopic>[] = [];
    const deadLetters: DeadLetterRequest[] = [];
    for (const m of chunk) {
      const raw: RawMessage = {
        topic,
        partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
      };
      try {
        decoded.push(await decoder.decode({ ...raw, headers: m.headers, timestamp: m.timestamp }));
      } catch (error) {
        if (!(error instanceof UndecodableMessageError)) throw error; // transient: retry the batch
        deadLetters.push({ message: raw, reason: error.message });
      }
    }
    const lastOffset = Number(chunk[chunk.length - 1]!.offset);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const positions = pg.escapeIdentifier(schema);
      const { rows } = await client.query<{ next_offset: number }>(
        `SELECT next_offset FROM ${positions}.consumer_positions
         WHERE group_id = $1 AND topic = $2 AND partition = $3 FOR UPDATE`,
        [groupId, topic, partition],
      );
      const nextOffset = rows[0]?.next_offset ?? 0;
      const fresh = decoded.filter((m) => Number(m.offset) >= nextOffset);
      const freshDeadLetters = deadLetters.filter((d) => Number(d.message.offset) >= nextOffset);
      if (lastOffset < nextOffset) {
        await client.query('COMMIT');
        return; // the whole chunk was applied before (re-delivery after a crash)
      }
      const context: BatchContext = {
        client,
        topic,
        partition,
        deadLetter: (message, reason) => freshDeadLetters.push({ message, reason }),
      };
      if (fresh.length > 0) await this.options.handleBatch(fresh, context);
      if (freshDeadLetters.length > 0) {
        const encoded = await Promise.all(
          freshDeadLetters.map((d) => this.options.encodeDeadLetter(d, groupId)),
        );
        await appendToOutbox(client, schema, encoded);
        for (const d of freshDeadLetters) {
          log.warn(
            { topic, partition, offset: d.message.offset, reason: d.reason },
            'message sent to the dead-letter topic',
          );
        }
      }
      await client.query(
        `INSERT INTO ${positions}.consumer_positions (group_id, topic, partition, next_offset)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
        [groupId, topic, partition, lastOffset + 1],
      );
      await client.query('COMMIT');
      if (fresh.length > 0 || freshDeadLetters.length > 0) this.options.onOutboxWritten?.();
      this.options.onBatchCommitted?.({
        topic,
        partition,
        applied: fresh.length,
        deadLetters: freshDeadLetters.length,
        lag: Math.max(0, lag),
      });
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
