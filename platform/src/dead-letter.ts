// What every consumer sends to the dead-letter topic: the original bytes untouched, where they
// came from, and why they could not be used. The id is derived from the Kafka coordinates, so
// a dead letter written twice (a retried batch) is recognisably the same one.
import type { DeadLetterEncoder, DeadLetterRequest } from './consumer.js';
import type { EncodedMessage } from './events/typed.js';
import type { EventSerde } from './events/serde.js';
import type { AnyTopic } from './events/topic.js';
import { uuidv5 } from './ids.js';

/** The dead-letter record as the platform fills it (structurally the generated DeadLetter). */
export interface DeadLetterFields {
  eventId: string;
  correlationId: string;
  causationId: null;
  occurredAt: Date;
  sourceTopic: string;
  partition: number;
  offset: string;
  sourceTimestamp: Date | null;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  reason: string;
  consumer: string;
  attempts: number;
  failedAt: Date;
}

export function deadLetterFields(
  request: DeadLetterRequest,
  consumer: string,
  now: Date,
): DeadLetterFields {
  const { message, reason } = request;
  const eventId = uuidv5(
    `dead-letter:${consumer}:${message.topic}:${message.partition}:${message.offset}`,
  );
  return {
    eventId,
    correlationId: eventId,
    causationId: null,
    occurredAt: now,
    sourceTopic: message.topic,
    partition: message.partition,
    offset: message.offset,
    sourceTimestamp: message.timestamp === undefined ? null : new Date(Number(message.timestamp)),
    key: message.key,
    value: message.value,
    headers: Object.entries(message.headers ?? {}).map(([key, value]) => ({
      key,
      value:
        value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(String(value)),
    })),
    reason: reason.slice(0, 2_000),
    consumer,
    attempts: Math.max(1, request.attempts ?? 1),
    failedAt: now,
  };
}

/**
 * Builds a consumer's dead-letter encoder from the generated dead-letter producer's `encode`.
 * The dead letter is keyed by the original record's key when that key decodes (so dead letters
 * of one payment or account stay in order), else by its own id.
 */
export function deadLetterEncoder(options: {
  serde: EventSerde;
  sourceTopics: readonly AnyTopic[];
  encode: (key: string, value: DeadLetterFields) => Promise<EncodedMessage>;
}): DeadLetterEncoder {
  const topicsByName = new Map(options.sourceTopics.map((t) => [t.name, t]));
  return async (request, consumer) => {
    const fields = deadLetterFields(request, consumer, new Date());
    let key = fields.eventId;
    const source = topicsByName.get(request.message.topic);
    if (source && request.message.key) {
      try {
        const decoded = await options.serde.decodeKey(source, request.message.key);
        if (typeof decoded === 'string') key = decoded;
      } catch {
        // An undecodable key: the dead letter keeps its own id as key.
      }
    }
    return options.encode(key, fields);
  };
}
