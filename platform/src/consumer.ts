// Exactly-once effects from Kafka into PostgreSQL. For every batch of a partition, one
// PostgreSQL transaction holds the effects, the dead letters and the consumer position, so a
// crash at any instant neither loses nor doubles an effect. Positions live in PostgreSQL; the
// consumer seeks to them on every assignment and drops anything already applied (a
// re-delivery after a crash between the PostgreSQL commit and the Kafka offset commit).
//
// No message stalls a partition: a failed batch is classified (faults.ts). A transient failure
// (PostgreSQL, the registry or the broker unavailable) is retried with capped backoff until
// the dependency returns; a permanent one (the message's content) makes the consumer apply the
// batch's messages one at a time, and the one that still fails after `attemptsMax` attempts
// goes to the dead-letter topic with its reason while the position moves past it, in one
// PostgreSQL transaction. ConsumerHealth tells /readyz and /metrics what is going on.
import pg from 'pg';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { withKeyedTransaction, type Pool, type PoolClient, type Queryable } from './db.js';
import { appendToOutbox } from './outbox.js';
import { UndecodableMessageError, type EventSerde } from './events/serde.js';
import type { AnyTopic } from './events/topic.js';
import type { DecodedMessage, EncodedMessage, RawMessage } from './events/typed.js';

export type { RawMessage };
import { TopicConsumer } from './events/typed.js';
import type { Logger } from './log.js';
import type { MetricsRegistry } from './metrics.js';
import { backoffMs, classifyFault, faultReason } from './faults.js';
import { OffsetContinuity, RereadOnce, type OffsetGap } from './consumer-continuity.js';
import { PartitionCoalescer } from './consumer-coalescing.js';
import { GROUP_OFFSET_COPY_MS, GroupOffsetCopies } from './consumer-group-offsets.js';
import { invariant } from './invariant.js';
import {
  CONSUMER_REBALANCE_MS_MAX,
  CONSUMER_STUCK_AFTER_MS,
  ConsumerHealth,
  consumerMetrics,
  type ConsumerMetrics,
} from './consumer-health.js';

export interface DeadLetterRequest {
  message: RawMessage;
  reason: string;
  /** How many times the message was tried before giving up (1 when it never decoded). */
  attempts?: number;
}

/** Attempts at a message that fails for its content before it is dead-lettered. */
export const ATTEMPTS_MAX = 3;
/** Longest wait between two attempts at a failing batch. */
export const RETRY_BACKOFF_MS_MAX = 5_000;

export interface BatchContext {
  client: PoolClient;
  topic: string;
  /** The partitions whose records the batch holds (several when partitions are coalesced). */
  partitions: readonly number[];
  /** Ask for a message to go to the dead-letter topic, with the reason (same transaction). */
  deadLetter(message: RawMessage, reason: string): void;
}

export type { OffsetGap };

/** A consumer that accounts for every offset of its partitions (see consumer-continuity.ts). */
export interface ContinuityCheck {
  /** Records offsets nobody can account for, in the transaction that moves the position past them. */
  recordGaps(client: PoolClient, gaps: readonly OffsetGap[]): Promise<void>;
  /** After that transaction committed (metrics count what is stored, not what was tried). */
  onGapsRecorded?(gaps: readonly OffsetGap[]): void;
}

/** Thrown inside a chunk's transaction: read the partition again from `offset` first. */
/**
 * The position stored in PostgreSQL says records were applied that the partition does not hold
 * (the topic was recreated, or its data lost): new records at lower offsets would be taken for
 * re-deliveries and skipped. Nothing is applied until an operator resolves it.
 */
class PositionBeyondLogEnd extends Error {
  constructor(topic: string, partition: number, position: number, logEnd: number) {
    super(
      `${topic}[${partition}]: the stored position ${position} is past the end of the partition (${logEnd}); the topic was recreated or lost data. Nothing is applied: restore the topic, or move the position in consumer_positions deliberately`,
    );
    this.name = 'PositionBeyondLogEnd';
  }
}

class RereadPartition extends Error {
  constructor(readonly offset: number) {
    super(`offsets before the fetch were not seen; reading again from ${offset}`);
    this.name = 'RereadPartition';
  }
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
  /**
   * Apply the batches of one fetch (several partitions) in one transaction (default true; off
   * with `continuity`). Records of a topic reach handleBatch together, each partition's in
   * offset order; a group that fails is applied again partition by partition.
   */
  coalescePartitions?: boolean;
  /** Partitions whose batches are in work at once (default: 12 coalescing, else 3). */
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
  /** The service's registry: per-partition lag, position, progress and dead-letter series. */
  metrics?: MetricsRegistry;
  /**
   * Account for every offset: an offset between the stored position and a delivered record
   * that was neither delivered nor shown by Kafka as a transaction marker or an aborted record
   * is read again once from the position, then recorded as a gap (the audit trail uses this).
   */
  continuity?: ContinuityCheck;
  /** Attempts at a message failing for its content before it is dead-lettered (default 3). */
  attemptsMax?: number;
  /** A batch in work this long without a commit makes /readyz say stuck (default 60 s). */
  stuckAfterMs?: number;
  /** Joining or rebalancing longer than this makes /readyz say so (default 60 s). */
  rebalanceMsMax?: number;
  /** Cap of the backoff between attempts (default 5 s). */
  retryBackoffMsMax?: number;
  /**
   * kafkajs's own retries of a failure that escapes the consumer (it cannot record a dead
   * letter) before the consumer crashes, and whether it restarts then (defaults: 10, true).
   */
  crashRetriesMax?: number;
  restartOnCrash?: boolean;
  /** How often positions are copied to the group's offsets in Kafka, for lag tools; 0: never. */
  groupOffsetCopyMs?: number;
}

interface BatchControls {
  isRunning(): boolean;
  isStale(): boolean;
  heartbeat(): Promise<void>;
}

/** A partition's chunk waiting to be applied together with other partitions'. */
interface CoalescedChunk {
  topic: string;
  partition: number;
  chunk: KafkaMessage[];
  highWatermark: number;
  controls: BatchControls;
}

/** Decoded records of a chunk, and those that do not decode (dead letters). */
interface DecodedChunk {
  decoded: DecodedMessage<AnyTopic>[];
  undecodable: DeadLetterRequest[];
}

/** The most partitions a coalescing consumer works on at once (the widest topic has 12). */
const COALESCED_PARTITIONS_MAX = 12;

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
  private readonly attemptsMax: number;
  private readonly retryBackoffMsMax: number;
  /** What /readyz and /metrics know about this consumer. */
  readonly health: ConsumerHealth;
  private readonly metrics: ConsumerMetrics | undefined;
  private readonly continuity: OffsetContinuity | undefined;
  /** Re-reads of a fetch that started past the stored position (continuity keeps its own). */
  private readonly rereads = new RereadOnce();
  private readonly coalescer: PartitionCoalescer<CoalescedChunk> | undefined;
  private readonly groupOffsets: GroupOffsetCopies;

  constructor(private readonly options: ExactlyOnceConsumerOptions) {
    this.decoders = new Map(
      options.topics.map((t) => [t.name, new TopicConsumer(t, options.serde)]),
    );
    this.batchSizeMax = options.batchSizeMax ?? 2_000;
    this.attemptsMax = options.attemptsMax ?? ATTEMPTS_MAX;
    this.retryBackoffMsMax = options.retryBackoffMsMax ?? RETRY_BACKOFF_MS_MAX;
    if (!(Number.isSafeInteger(this.attemptsMax) && this.attemptsMax >= 1)) {
      throw new RangeError(`attemptsMax must be a positive integer, got ${this.attemptsMax}`);
    }
    this.health = new ConsumerHealth(options.groupId, {
      stuckAfterMs: options.stuckAfterMs ?? CONSUMER_STUCK_AFTER_MS,
      rebalanceMsMax: options.rebalanceMsMax ?? CONSUMER_REBALANCE_MS_MAX,
    });
    this.metrics = options.metrics ? consumerMetrics(options.metrics, this.health) : undefined;
    this.continuity = options.continuity ? new OffsetContinuity() : undefined;
    this.groupOffsets = new GroupOffsetCopies(
      async (offsets) => {
        await this.consumer?.commitOffsets(offsets);
      },
      (error) =>
        options.log.debug(
          { err: error, groupId: options.groupId },
          'copying positions to the group offsets failed; they are copied next time',
        ),
      options.groupOffsetCopyMs ?? GROUP_OFFSET_COPY_MS,
    );
    // Continuity accounts for offsets partition by partition (and may re-read one): alone.
    this.coalescer =
      (options.coalescePartitions ?? true) && !options.continuity
        ? new PartitionCoalescer<CoalescedChunk>(
            (members) => this.applyCoalesced(members),
            (member) => member.chunk.length,
            this.batchSizeMax,
          )
        : undefined;
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
      // A long poll: the broker answers as soon as a record arrives (minBytes 1), so this
      // bounds only how often an idle consumer asks, not how late a record is seen.
      maxWaitTimeInMs: 500,
      retry: {
        retries: this.options.crashRetriesMax ?? 10,
        initialRetryTime: 300,
        maxRetryTime: 10_000,
        restartOnFailure: async () => this.options.restartOnCrash ?? true,
      },
    });
    this.consumer = consumer;
    const health = this.health;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      health.joined();
      this.groupOffsets.assign(event.payload.memberAssignment);
      void this.seekToStoredPositions(event.payload.memberAssignment).catch((error: unknown) =>
        log.error({ err: error }, 'could not seek to stored positions'),
      );
    });
    consumer.on(consumer.events.REBALANCING, () => health.rebalancing());
    if (this.continuity) {
      const continuity = this.continuity;
      // A fetch of nothing but markers or aborted records never reaches eachBatch; kafkajs
      // announces it (synchronously) before moving past it.
      consumer.on(consumer.events.START_BATCH_PROCESS, (event) => {
        const { topic, partition, batchSize, firstOffset, lastOffset } = event.payload;
        if (batchSize === 0 && firstOffset !== null) {
          continuity.noteFetch(topic, partition, Number(firstOffset), Number(lastOffset), []);
        }
      });
    }
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      log.error({ err: error, restart, groupId }, 'consumer crashed');
      health.crashed(`${faultReason(error, 300)}${restart ? ' (restarting)' : ''}`);
    });
    try {
      await consumer.connect();
      for (const topic of topics) {
        await consumer.subscribe({
          topic: topic.name,
          fromBeginning: this.options.fromBeginning ?? true,
        });
      }
    } catch (error) {
      health.crashed(`could not start: ${faultReason(error, 300)}`);
      throw error;
    }
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently:
        this.options.partitionsConsumedConcurrently ??
        (this.coalescer ? COALESCED_PARTITIONS_MAX : 3),
      eachBatch: async (payload) => {
        // Announced at once, so that the coalescer waits for this batch's first chunk.
        this.coalescer?.arrive();
        let announced = this.coalescer !== undefined;
        try {
          await this.eachBatch(payload, () => {
            const first = announced;
            announced = false;
            return first;
          });
        } finally {
          if (announced) this.coalescer?.leave();
        }
      },
    });
    this.groupOffsets.start();
  }

  private async eachBatch(
    { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
    firstSubmission: () => boolean,
  ): Promise<void> {
    const messages = batch.messages;
    if (messages.length === 0) return;
    const { topic, partition } = batch;
    const highWatermark = Number(batch.highWatermark);
    this.health.fetched(topic, partition, highWatermark, Number(messages[0]!.offset));
    const firstFetched = batch.firstOffset();
    if (this.continuity && firstFetched !== null) {
      const delivered = messages.map((m) => Number(m.offset));
      const last = Number(batch.lastOffset());
      this.continuity.noteFetch(topic, partition, Number(firstFetched), last, delivered);
    }
    const controls: BatchControls = { isRunning, isStale, heartbeat };
    for (let start = 0; start < messages.length; start += this.batchSizeMax) {
      if (!isRunning() || isStale()) return;
      const chunk = messages.slice(start, start + this.batchSizeMax);
      const lastOffset = chunk[chunk.length - 1]!.offset;
      this.health.busy(topic, partition);
      let applied: boolean;
      try {
        const outcome = this.coalescer
          ? await this.coalescer.submit(
              { topic, partition, chunk, highWatermark, controls },
              firstSubmission(),
            )
          : 'alone';
        applied =
          outcome === 'applied' ||
          (await this.applyWithRecovery(topic, partition, chunk, highWatermark, controls));
      } catch (error) {
        if (!(error instanceof RereadPartition)) throw error;
        this.options.log.info({ topic, partition, offset: error.offset }, error.message);
        this.consumer?.seek({ topic, partition, offset: String(error.offset) });
        return;
      } finally {
        this.health.idle(topic, partition);
      }
      if (!applied) return; // stopping or rebalanced: the next owner starts from PostgreSQL
      resolveOffset(lastOffset);
      await heartbeat();
    }
    // Kafka's group offsets are only a copy of the positions, made now and then for lag tools
    // (consumer-group-offsets.ts): kafkajs commits nothing here (autoCommit off).
  }

  private async seekToStoredPositions(assignment: Record<string, number[]>): Promise<void> {
    const positions = await readPositions(
      this.options.pool,
      this.options.schema,
      this.options.groupId,
    );
    const unpositioned = new Map<string, number[]>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const next = positions.get(`${topic}:${partition}`);
        if (next !== undefined) this.consumer?.seek({ topic, partition, offset: String(next) });
        else unpositioned.set(topic, [...(unpositioned.get(topic) ?? []), partition]);
      }
    }
    if (!(this.options.fromBeginning ?? true)) return;
    // No stored position (an empty database, a replay): the partition's first record, not an
    // offset the group may have in Kafka (set by an operator or another client).
    for (const [topic, partitions] of unpositioned) {
      const offsets = await this.topicOffsets(topic);
      for (const partition of partitions) {
        const low = offsets.find((o) => o.partition === partition)?.low;
        if (low !== undefined) this.consumer?.seek({ topic, partition, offset: low });
      }
    }
  }

  /**
   * Applies a chunk, classifying failures: transient ones are retried (capped backoff) while
   * the consumer runs; a permanent one splits the chunk into single messages, and a single
   * message failing `attemptsMax` times is dead-lettered. False when stopped or rebalanced.
   */
  private async applyWithRecovery(
    topic: string,
    partition: number,
    chunk: KafkaMessage[],
    highWatermark: number,
    controls: BatchControls,
  ): Promise<boolean> {
    const { log, groupId } = this.options;
    let transientFailures = 0;
    let permanentFailures = 0;
    for (;;) {
      if (!controls.isRunning() || controls.isStale()) return false;
      try {
        await this.applyChunk(topic, partition, chunk, highWatermark);
        return true;
      } catch (error) {
        if (error instanceof RereadPartition) throw error;
        const where = {
          groupId,
          topic,
          partition,
          firstOffset: chunk[0]!.offset,
          messages: chunk.length,
        };
        if (error instanceof PositionBeyondLogEnd) {
          // Held, never skipped: the partition waits (and /readyz says stuck) until resolved.
          transientFailures += 1;
          this.metrics?.retried(this.health, 'transient');
          log.error({ ...where, err: error, failures: transientFailures }, error.message);
          await this.pause(backoffMs(transientFailures, this.retryBackoffMsMax), controls);
          continue;
        }
        if (classifyFault(error) === 'transient') {
          transientFailures += 1;
          this.metrics?.retried(this.health, 'transient');
          log.warn(
            { ...where, err: error, failures: transientFailures },
            'transient failure: the batch is retried when the dependency answers',
          );
          await this.pause(backoffMs(transientFailures, this.retryBackoffMsMax), controls);
          continue;
        }
        this.metrics?.retried(this.health, 'permanent');
        if (chunk.length > 1) {
          // One of them is at fault: apply them one by one, so the others commit and the
          // culprit is isolated.
          log.warn({ ...where, err: error }, 'a batch failed for its content: isolating');
          for (const message of chunk) {
            const applied = await this.applyWithRecovery(
              topic,
              partition,
              [message],
              highWatermark,
              controls,
            );
            if (!applied) return false;
          }
          return true;
        }
        permanentFailures += 1;
        if (permanentFailures < this.attemptsMax) {
          log.warn(
            { ...where, err: error, attempts: permanentFailures },
            'a message failed for its content; trying again before dead-lettering it',
          );
          await this.pause(backoffMs(permanentFailures, this.retryBackoffMsMax), controls);
          continue;
        }
        return this.deadLetterAfterFailures(
          topic,
          partition,
          chunk[0]!,
          faultReason(error),
          permanentFailures,
          highWatermark,
          controls,
        );
      }
    }
  }

  /**
   * Records a message that could not be applied as a dead letter and moves the position past
   * it, in one transaction; retried while PostgreSQL or the registry is unavailable. A
   * permanent failure here escapes to kafkajs (the consumer crashes and /readyz says so):
   * moving on without the dead letter would lose the message.
   */
  private async deadLetterAfterFailures(
    topic: string,
    partition: number,
    message: KafkaMessage,
    reason: string,
    attempts: number,
    highWatermark: number,
    controls: BatchControls,
  ): Promise<boolean> {
    const request: DeadLetterRequest = {
      message: rawMessage(topic, partition, message),
      reason,
      attempts,
    };
    let failures = 0;
    for (;;) {
      if (!controls.isRunning() || controls.isStale()) return false;
      try {
        await this.inTransaction(
          topic,
          partition,
          [Number(message.offset)],
          async (client) => {
            await this.writeDeadLetters(client, topic, partition, [request]);
            return { applied: 0, deadLetters: 1 };
          },
          highWatermark,
        );
        return true;
      } catch (error) {
        if (error instanceof RereadPartition || classifyFault(error) !== 'transient') throw error;
        failures += 1;
        this.metrics?.retried(this.health, 'transient');
        this.options.log.warn(
          { err: error, topic, partition, offset: message.offset, failures },
          'could not record the dead letter yet; retrying',
        );
        await this.pause(backoffMs(failures, this.retryBackoffMsMax), controls);
      }
    }
  }

  /** Waits `ms`, heartbeating so the group keeps the partition; returns early when stopping. */
  private async pause(ms: number, controls: BatchControls): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && controls.isRunning() && !controls.isStale()) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, deadline - Date.now())));
      await controls.heartbeat();
    }
  }

  private async decodeChunk(
    topic: string,
    partition: number,
    chunk: readonly KafkaMessage[],
  ): Promise<DecodedChunk> {
    const decoder = this.decoders.get(topic);
    if (!decoder) throw new Error(`no decoder for topic ${topic}`);
    const decoded: DecodedMessage<AnyTopic>[] = [];
    const undecodable: DeadLetterRequest[] = [];
    for (const m of chunk) {
      const raw = rawMessage(topic, partition, m);
      try {
        decoded.push(await decoder.decode({ ...raw, timestamp: m.timestamp }));
      } catch (error) {
        // Anything else (the registry unreachable) fails the batch and is classified there.
        if (!(error instanceof UndecodableMessageError)) throw error;
        undecodable.push({ message: raw, reason: error.message, attempts: 1 });
      }
    }
    return { decoded, undecodable };
  }

  private async applyChunk(
    topic: string,
    partition: number,
    chunk: KafkaMessage[],
    highWatermark: number,
  ): Promise<void> {
    const { decoded, undecodable } = await this.decodeChunk(topic, partition, chunk);
    await this.inTransaction(
      topic,
      partition,
      chunk.map((m) => Number(m.offset)),
      async (client, nextOffset) => {
        const fresh = decoded.filter((m) => Number(m.offset) >= nextOffset);
        const deadLetters = undecodable.filter((d) => Number(d.message.offset) >= nextOffset);
        const context: BatchContext = {
          client,
          topic,
          partitions: [partition],
          deadLetter: (message, reason) => deadLetters.push({ message, reason, attempts: 1 }),
        };
        if (fresh.length > 0) await this.options.handleBatch(fresh, context);
        await this.writeDeadLetters(client, topic, partition, deadLetters);
        return { applied: fresh.length, deadLetters: deadLetters.length };
      },
      highWatermark,
    );
  }

  /**
   * Applies chunks of several partitions in one transaction: one statement locks their stored
   * positions, handleBatch runs once per topic with the records not applied before, one
   * statement moves the positions. Returns the chunks applied; the others (stopping or
   * rebalanced) try alone. A position past its fetch's end fails the group: the partition's
   * own transaction asks the broker where the partition ends.
   */
  private async applyCoalesced(
    members: readonly CoalescedChunk[],
  ): Promise<ReadonlySet<CoalescedChunk>> {
    const live = members.filter((m) => m.controls.isRunning() && !m.controls.isStale());
    if (live.length < 2) return new Set();
    const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;
    // One chunk per partition: two would share one position row.
    invariant(
      new Set(live.map((m) => keyOf(m.topic, m.partition))).size === live.length,
      'one chunk per partition in a coalesced batch',
    );
    const decoded = new Map<CoalescedChunk, DecodedChunk>();
    for (const m of live) decoded.set(m, await this.decodeChunk(m.topic, m.partition, m.chunk));
    const { pool, schema, groupId, log } = this.options;
    const positions = pg.escapeIdentifier(schema);
    /** Per partition: the position after the chunk and what it applied; null: applied before. */
    const moves = new Map<string, { next: number; applied: number; deadLetters: number } | null>();
    try {
      await withKeyedTransaction(pool, async (client) => {
        const stored = await this.lockPositions(client, live);
        const byTopic = new Map<
          string,
          { messages: DecodedMessage<AnyTopic>[]; partitions: number[] }
        >();
        const deadLetters = new Map<string, DeadLetterRequest[]>();
        for (const m of live) {
          const key = keyOf(m.topic, m.partition);
          const nextOffset = stored.get(key) ?? 0;
          if (nextOffset > m.highWatermark) {
            throw new Error(`${key}: the stored position is past the fetch; applying it alone`);
          }
          const last = Number(m.chunk[m.chunk.length - 1]!.offset);
          if (last < nextOffset) {
            moves.set(key, null);
            continue;
          }
          if (Number(m.chunk[0]!.offset) > nextOffset) {
            throw new Error(`${key}: the fetch starts past the stored position; applying it alone`);
          }
          const { decoded: records, undecodable } = decoded.get(m)!;
          const fresh = records.filter((r) => Number(r.offset) >= nextOffset);
          const topic = byTopic.get(m.topic) ?? { messages: [], partitions: [] };
          topic.messages.push(...fresh);
          topic.partitions.push(m.partition);
          byTopic.set(m.topic, topic);
          deadLetters.set(
            key,
            undecodable.filter((d) => Number(d.message.offset) >= nextOffset),
          );
          moves.set(key, { next: last + 1, applied: fresh.length, deadLetters: 0 });
        }
        for (const [topic, { messages, partitions }] of byTopic) {
          if (messages.length === 0) continue;
          await this.options.handleBatch(messages, {
            client,
            topic,
            partitions,
            deadLetter: (message, reason) => {
              const list = deadLetters.get(keyOf(message.topic, message.partition));
              // A dead letter for a partition outside the group would be lost: fail the group.
              invariant(
                list !== undefined,
                `a dead letter from ${keyOf(message.topic, message.partition)} outside the batch`,
              );
              list.push({ message, reason, attempts: 1 });
            },
          });
        }
        const moved: { topic: string; partition: number; next: number }[] = [];
        for (const m of live) {
          const key = keyOf(m.topic, m.partition);
          const move = moves.get(key);
          if (!move) continue;
          const requests = deadLetters.get(key) ?? [];
          await this.writeDeadLetters(client, m.topic, m.partition, requests);
          move.deadLetters = requests.length;
          moved.push({ topic: m.topic, partition: m.partition, next: move.next });
        }
        if (moved.length > 0) {
          await client.query({
            name: `positions-move:${positions}`,
            text: `INSERT INTO ${positions}.consumer_positions (group_id, topic, partition, next_offset)
           SELECT $1, m.topic, m.partition, m.next_offset
             FROM unnest($2::text[], $3::int[], $4::bigint[]) AS m(topic, partition, next_offset)
           ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
            values: [
              groupId,
              moved.map((m) => m.topic),
              moved.map((m) => m.partition),
              moved.map((m) => m.next),
            ],
          });
        }
      });
    } catch (error) {
      log.info(
        { groupId, partitions: live.map((m) => keyOf(m.topic, m.partition)), err: error },
        'a coalesced batch failed: its partitions are applied one by one',
      );
      throw error;
    }
    let outboxWritten = false;
    for (const m of live) {
      const move = moves.get(keyOf(m.topic, m.partition));
      if (!move) continue;
      this.positionCommitted(m.topic, m.partition, move.next, move.deadLetters);
      outboxWritten ||= move.applied > 0 || move.deadLetters > 0;
      this.options.onBatchCommitted?.({
        topic: m.topic,
        partition: m.partition,
        applied: move.applied,
        deadLetters: move.deadLetters,
        lag: Math.max(0, m.highWatermark - move.next),
      });
    }
    if (outboxWritten) this.options.onOutboxWritten?.();
    return new Set(live);
  }

  /** The partition's current end (high watermark), asked of the broker. */
  private async partitionEnd(topic: string, partition: number): Promise<number> {
    const found = (await this.topicOffsets(topic)).find((o) => o.partition === partition);
    if (found === undefined) throw new Error(`${topic}[${partition}]: no such partition`);
    return Number(found.high);
  }

  /** Each partition's first offset (low) and end (high), asked of the broker. */
  private async topicOffsets(
    topic: string,
  ): Promise<{ partition: number; low: string; high: string }[]> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      return await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
  }

  private async writeDeadLetters(
    client: PoolClient,
    topic: string,
    partition: number,
    requests: readonly DeadLetterRequest[],
  ): Promise<void> {
    if (requests.length === 0) return;
    const { schema, groupId, log } = this.options;
    const encoded = await Promise.all(
      requests.map((d) => this.options.encodeDeadLetter(d, groupId)),
    );
    await appendToOutbox(client, schema, encoded);
    for (const d of requests) {
      log.warn(
        {
          groupId,
          topic,
          partition,
          offset: d.message.offset,
          reason: d.reason,
          attempts: d.attempts,
        },
        'message sent to the dead-letter topic',
      );
    }
  }

  /**
   * What follows a committed move of a partition's position to `next`, outside PostgreSQL: the
   * health and metrics, the group-offset copy, and forgetting a re-read behind it.
   */
  private positionCommitted(
    topic: string,
    partition: number,
    next: number,
    deadLetters: number,
  ): void {
    this.health.committed(topic, partition, next, deadLetters);
    this.groupOffsets.positionMoved(topic, partition, next);
    this.rereads.advanced(topic, partition, next);
    if (deadLetters > 0) this.metrics?.deadLettered(this.health, topic, partition, deadLetters);
  }

  /**
   * Locks the stored positions of these partitions for the transaction; a partition never
   * committed reads 0. Such a partition has no row to lock, and two owners of it (a rebalance
   * in flight) would apply its first batch at once: its row is inserted first (at 0, ON
   * CONFLICT DO NOTHING, which waits for the other owner's uncommitted row) and locked then,
   * so they take turns like on any later batch. Only a partition's first batch pays for this.
   */
  private async lockPositions(
    client: PoolClient,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<Map<string, number>> {
    const { schema, groupId } = this.options;
    const positions = pg.escapeIdentifier(schema);
    const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;
    const lock = async (): Promise<Map<string, number>> => {
      if (partitions.length === 1) {
        const [{ topic, partition }] = partitions as [{ topic: string; partition: number }];
        const { rows } = await client.query<{ next_offset: number }>({
          name: `position-lock:${positions}`,
          text: `SELECT next_offset FROM ${positions}.consumer_positions
           WHERE group_id = $1 AND topic = $2 AND partition = $3 FOR UPDATE`,
          values: [groupId, topic, partition],
        });
        return new Map(rows.map((r) => [keyOf(topic, partition), Number(r.next_offset)]));
      }
      const { rows } = await client.query<{
        topic: string;
        partition: number;
        next_offset: number;
      }>({
        name: `positions-lock:${positions}`,
        text: `SELECT topic, partition, next_offset FROM ${positions}.consumer_positions
         WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
         ORDER BY topic, partition FOR UPDATE`,
        values: [groupId, partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
      });
      return new Map(rows.map((r) => [keyOf(r.topic, r.partition), Number(r.next_offset)]));
    };
    const stored = await lock();
    if (stored.size === partitions.length) return stored;
    // In the lock's order (topic, partition), so two claims of several rows do not deadlock.
    const missing = partitions
      .filter((p) => !stored.has(keyOf(p.topic, p.partition)))
      .sort((a, b) =>
        a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
      );
    await client.query({
      name: `positions-claim:${positions}`,
      text: `INSERT INTO ${positions}.consumer_positions (group_id, topic, partition, next_offset)
       SELECT $1, m.topic, m.partition, 0 FROM unnest($2::text[], $3::int[]) AS m(topic, partition)
       ON CONFLICT (group_id, topic, partition) DO NOTHING`,
      values: [groupId, missing.map((p) => p.topic), missing.map((p) => p.partition)],
    });
    const claimed = await lock();
    invariant(
      claimed.size === partitions.length,
      'every partition of a consumer transaction has a locked position',
    );
    return claimed;
  }

  /**
   * One PostgreSQL transaction for a partition's `delivered` offsets (ascending): locks the
   * stored position, accounts for the offsets before them when asked to (continuity), runs
   * `work` (told the stored next offset) and moves the position past the last one. A chunk
   * applied before (a re-delivery) changes nothing.
   */
  private async inTransaction(
    topic: string,
    partition: number,
    delivered: readonly number[],
    work: (
      client: PoolClient,
      nextOffset: number,
    ) => Promise<{ applied: number; deadLetters: number }>,
    highWatermark: number,
  ): Promise<void> {
    const { pool, schema, groupId } = this.options;
    const lastOffset = delivered[delivered.length - 1]!;
    const positions = pg.escapeIdentifier(schema);
    let gaps: readonly OffsetGap[] = [];
    const outcome = await withKeyedTransaction(pool, async (client) => {
      const nextOffset = (await this.lockPositions(client, [{ topic, partition }])).get(
        `${topic}:${partition}`,
      )!;
      // Past this fetch's end: another owner moved on since (a stale batch), or the partition
      // lost what the position counts as applied. Only the partition's end now tells which.
      if (nextOffset > highWatermark) {
        const logEnd = await this.partitionEnd(topic, partition);
        if (nextOffset > logEnd)
          throw new PositionBeyondLogEnd(topic, partition, nextOffset, logEnd);
      }
      if (lastOffset < nextOffset) {
        // Applied before (a re-delivery after a crash, or a replay of the same offsets).
        return undefined;
      }
      if (this.continuity) {
        gaps = await this.accountForOffsets(client, topic, partition, nextOffset, delivered);
      } else {
        await this.startsAtPosition(topic, partition, nextOffset, delivered[0]!);
      }
      const applied = await work(client, nextOffset);
      // Named (prepared once per connection): this and the lock run for every batch of every
      // consumer, and PostgreSQL then plans them once instead of on every call.
      await client.query({
        name: `position-move:${positions}`,
        text: `INSERT INTO ${positions}.consumer_positions (group_id, topic, partition, next_offset)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
        values: [groupId, topic, partition, lastOffset + 1],
      });
      return applied;
    });
    if (outcome === undefined) return;
    this.continuity?.advanced(topic, partition, lastOffset + 1);
    if (gaps.length > 0) this.options.continuity?.onGapsRecorded?.(gaps);
    this.positionCommitted(topic, partition, lastOffset + 1, outcome.deadLetters);
    if (outcome.applied > 0 || outcome.deadLetters > 0) this.options.onOutboxWritten?.();
    this.options.onBatchCommitted?.({
      topic,
      partition,
      applied: outcome.applied,
      deadLetters: outcome.deadLetters,
      lag: Math.max(0, highWatermark - lastOffset - 1),
    });
  }

  /**
   * A fetch that starts past the stored position would skip records never applied. When Kafka
   * still holds them, it put the fetch there (a group offset someone set, ahead of the position
   * until the seek to it lands): read again from the position, once. When it holds them no longer
   * (retention or deleteRecords), or starts past them again (a transactional producer's control
   * records), what it delivers is applied and the offsets passed over are logged as an error.
   */
  private async startsAtPosition(
    topic: string,
    partition: number,
    position: number,
    firstDelivered: number,
  ): Promise<void> {
    if (firstDelivered <= position) return;
    if (this.rereads.shouldReread(topic, partition, position)) {
      const logStart = (await this.topicOffsets(topic)).find((o) => o.partition === partition)?.low;
      if (logStart !== undefined && Number(logStart) <= position) {
        throw new RereadPartition(position);
      }
    }
    this.options.log.error(
      {
        groupId: this.options.groupId,
        topic,
        partition,
        fromOffset: position,
        toOffset: firstDelivered - 1,
      },
      'offsets this consumer never applied hold no record Kafka delivers (removed by retention or deleteRecords, or control records): applying from the first record it delivers',
    );
  }

  /**
   * Continuity (when asked for): offsets between the stored position and the delivered ones
   * that nobody accounts for are read again once from the position; still unseen then, they
   * are recorded as gaps in this transaction, and the position moves past them.
   */
  private async accountForOffsets(
    client: PoolClient,
    topic: string,
    partition: number,
    position: number,
    delivered: readonly number[],
  ): Promise<readonly OffsetGap[]> {
    if (!this.continuity || !this.options.continuity) return [];
    const gaps = this.continuity.gaps(topic, partition, position, delivered);
    if (gaps.length === 0) return [];
    if (this.continuity.shouldReread(topic, partition, position)) {
      throw new RereadPartition(position);
    }
    this.options.log.error(
      { groupId: this.options.groupId, gaps },
      'offsets were skipped: Kafka no longer holds records this consumer never saw',
    );
    await this.options.continuity.recordGaps(client, gaps);
    return gaps;
  }

  async stop(): Promise<void> {
    this.groupOffsets.stop();
    await this.consumer?.disconnect();
    this.consumer = undefined;
    this.health.stopped();
  }
}

/** A message as it came off the wire: what a dead letter carries, untouched. */
function rawMessage(topic: string, partition: number, m: KafkaMessage): RawMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    timestamp: m.timestamp,
    headers: m.headers ?? {},
  };
}
