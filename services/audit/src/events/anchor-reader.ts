// Reads audit.checkpoints back from Kafka: the anchor /v1/verify compares the stored chain
// with. Never from the database, whose owner is who the anchor guards against. Every audit
// process reads the whole topic from offset 0 in a consumer group of its own (it commits
// nothing and shares no partition), checks each checkpoint's signature with the public key,
// and keeps what the verdict needs: the signed checkpoints by sequence and the newest record.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { Logger } from '@ledgerline/platform/log';
import { auditCheckpointsConsumer } from '@ledgerline/generated/topics';
import { GENESIS_HASH } from '../domain/chain.js';
import {
  AnchorNotCaughtUpError,
  checkpointSignatureValid,
  type AnchorSnapshot,
  type PublishedCheckpoint,
  type VerifyingKey,
} from '../domain/anchor.js';

/** Signed checkpoints kept in memory; the oldest go first (the newest anchor the most). */
const SIGNED_KEPT_MAX = 1_000_000;
const CATCH_UP_POLL_MS = 25;

export interface AnchorReaderOptions {
  kafka: Kafka;
  admin: Admin;
  serde: EventSerde;
  log: Logger;
  topicPrefix: string;
  verifyingKey: VerifyingKey;
  onForged?: (checkpoint: PublishedCheckpoint) => void;
}

export class AnchorReader {
  private consumer: Consumer | undefined;
  private readonly decoder;
  private readonly signed: PublishedCheckpoint[] = [];
  private readonly signedSequences = new Set<number>();
  private latest: PublishedCheckpoint | null = null;
  /** Next offset of partition 0 to read: everything below it is reflected in the state. */
  private nextOffset = 0n;

  constructor(private readonly options: AnchorReaderOptions) {
    this.decoder = auditCheckpointsConsumer(options.serde, { topicPrefix: options.topicPrefix });
  }

  get topic(): string {
    return this.decoder.topic.name;
  }

  async start(): Promise<void> {
    const { kafka, topicPrefix } = this.options;
    const consumer = kafka.consumer({
      // Its own group per process: every reader sees every checkpoint; nothing is committed.
      groupId: `${topicPrefix}audit-anchor-${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    // kafkajs skips a fetch holding only control records (a transaction marker) or aborted
    // messages without calling eachBatch, but reports it here: those offsets are read too.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic !== this.topic || payload.batchSize !== 0) return;
      const after = BigInt(payload.lastOffset) + 1n;
      if (after > this.nextOffset) this.nextOffset = after;
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          await this.take(message);
        }
        // Past the batch's last offset, control records (a transaction marker) included.
        const after = BigInt(batch.lastOffset()) + 1n;
        if (after > this.nextOffset) this.nextOffset = after;
      },
    });
  }

  private async take(message: KafkaMessage): Promise<void> {
    const { offset } = message;
    let checkpoint: PublishedCheckpoint;
    try {
      const decoded = await this.decoder.decodeFetched(0, message);
      checkpoint = { ...decoded.value, offset, signatureValid: false };
      checkpoint.signatureValid = checkpointSignatureValid(this.options.verifyingKey, checkpoint);
    } catch (error) {
      // Not even a checkpoint: whoever wrote it to the anchor topic did not hold the key.
      this.options.log.error({ err: error, offset }, 'undecodable record on the anchor topic');
      checkpoint = {
        eventId: '00000000-0000-0000-0000-000000000000',
        sequence: 0,
        hash: GENESIS_HASH,
        keyId: '',
        occurredAt: new Date(0),
        signature: Buffer.alloc(0),
        offset,
        signatureValid: false,
      };
    }
    this.latest = checkpoint;
    this.nextOffset = BigInt(offset) + 1n;
    if (!checkpoint.signatureValid) {
      this.options.log.error(
        { offset, sequence: checkpoint.sequence, keyId: checkpoint.keyId },
        'a checkpoint on the anchor topic does not carry a valid signature of the audit key',
      );
      this.options.onForged?.(checkpoint);
      return;
    }
    // The relay may publish a checkpoint twice (a crash before the outbox delete).
    if (this.signedSequences.has(checkpoint.sequence)) return;
    this.signedSequences.add(checkpoint.sequence);
    let at = this.signed.length;
    while (at > 0 && this.signed[at - 1]!.sequence > checkpoint.sequence) at -= 1;
    this.signed.splice(at, 0, checkpoint);
    if (this.signed.length > SIGNED_KEPT_MAX) {
      this.signedSequences.delete(this.signed.shift()!.sequence);
    }
  }

  /**
   * The state once everything published before this call has been read: waits (at most
   * `timeoutMs`) until the reader has passed the topic's high watermark as of now.
   */
  async snapshot(timeoutMs: number): Promise<AnchorSnapshot> {
    const offsets = await this.options.admin.fetchTopicOffsets(this.topic);
    const high = BigInt(offsets.find((o) => o.partition === 0)?.high ?? '0');
    const deadline = Date.now() + timeoutMs;
    // Bounded: returns or throws by the deadline.
    while (this.nextOffset < high) {
      if (Date.now() >= deadline) {
        throw new AnchorNotCaughtUpError(
          `the anchor topic ${this.topic} was read up to offset ${this.nextOffset}, ` +
            `not yet to ${high}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
    }
    return { signed: [...this.signed], latest: this.latest };
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
