// Recording events in the trail, inside the consumer's transaction: each message becomes a
// record (its facts extracted by the domain), the records are appended to the chain, and every
// checkpoint the append produced is signed and written to the outbox in the same transaction,
// so a checkpoint is published if and only if the records it attests are stored.
import { randomUUID } from 'node:crypto';
import type { RawMessage } from '@ledgerline/platform/consumer';
import type { PoolClient } from '@ledgerline/platform/db';
import type { DecodedMessage, EncodedMessage } from '@ledgerline/platform/events/typed';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import type { Logger } from '@ledgerline/platform/log';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import { signCheckpoint, type SignedCheckpoint, type SigningKey } from '../domain/anchor.js';
import { toJsonValue, type AuditRecordContent, type ChainedRecord } from '../domain/chain.js';
import { baseTopic, eventFacts, UnrecordableEventError } from '../domain/keys.js';
import { AUDIT_SCHEMA } from '../database.js';
import { appendRecords, recordSkippedOffsets } from '../store/trail-store.js';

export { recordSkippedOffsets };

export interface RecordEventsOptions {
  topicPrefix: string;
  checkpointEvery: number;
  signingKey: SigningKey;
  /** The checkpoint as an outbox message for audit.checkpoints (the generated producer). */
  encodeCheckpoint: (signed: SignedCheckpoint) => Promise<EncodedMessage>;
  /** A message that cannot be a record goes to the dead-letter topic, with the reason. */
  deadLetter: (message: RawMessage, reason: string) => void;
  log: Logger;
  onAppended?: (records: readonly ChainedRecord[]) => void;
}

export async function recordEvents(
  client: PoolClient,
  messages: readonly DecodedMessage<AnyTopic>[],
  options: RecordEventsOptions,
): Promise<void> {
  const contents = recordContents(messages, options);
  const { appended, duplicates, checkpoints } = await appendRecords(
    client,
    contents,
    options.checkpointEvery,
  );
  if (checkpoints.length > 0) {
    const signedAt = new Date();
    const encoded = await Promise.all(
      checkpoints.map((c) =>
        options.encodeCheckpoint(signCheckpoint(options.signingKey, c.sequence, c.hash, signedAt)),
      ),
    );
    await appendToOutbox(client, AUDIT_SCHEMA, encoded);
  }
  if (duplicates > 0) {
    const first = messages[0];
    options.log.info(
      { topic: first?.topic, partition: first?.partition, duplicates },
      'records already in the trail were skipped',
    );
  }
  options.onAppended?.(appended);
}

/** One timestamp per batch: the batch is one transaction, so it is recorded at one instant. */
function recordContents(
  messages: readonly DecodedMessage<AnyTopic>[],
  options: RecordEventsOptions,
): AuditRecordContent[] {
  const recordedAt = new Date();
  const contents: AuditRecordContent[] = [];
  for (const m of messages) {
    const topic = baseTopic(m.topic, options.topicPrefix);
    if (topic === undefined) throw new Error(`${m.topic} is not an audited topic`);
    try {
      contents.push({
        recordId: randomUUID(),
        topic: m.topic,
        partition: m.partition,
        offset: m.offset,
        ...eventFacts(topic, m.value),
        payload: toJsonValue(m.value),
        recordedAt,
      });
    } catch (error) {
      if (!(error instanceof UnrecordableEventError)) throw error;
      options.deadLetter(m.raw, `audit: ${error.message}`);
    }
  }
  return contents;
}
