// Kafka clients with explicit settings, and topic creation from the generated topic list.
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import type { AnyTopic } from './events/topic.js';
import { defaultPartitioner } from './partitioner.js';

export function createKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.ERROR,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

/**
 * Idempotent producer: the broker drops duplicates of a retried send, and one request in
 * flight keeps each partition in the order the outbox wrote it.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Same partitions as kafkajs's DefaultPartitioner and the Java client, without its Long
    // emulation (partitioner.ts).
    createPartitioner: defaultPartitioner,
  });
}

/** Creates missing topics with the partition counts in topics.yaml. */
export async function ensureTopics(admin: Admin, topics: readonly AnyTopic[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.name));
  if (missing.length === 0) return [];
  await createTopicsWithRetry(admin, missing);
  return missing.map((t) => t.name);
}

/** A new topic's leaders may not be known to every broker listener yet: retry, bounded. */
async function createTopicsWithRetry(admin: Admin, missing: readonly AnyTopic[]): Promise<void> {
  const attemptsMax = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await createTopics(admin, missing);
      return;
    } catch (error) {
      if (attempt >= attemptsMax) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      const existing = new Set(await admin.listTopics());
      missing = missing.filter((t) => !existing.has(t.name));
      if (missing.length === 0) return;
    }
  }
}

async function createTopics(admin: Admin, missing: readonly AnyTopic[]): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({
      topic: t.name,
      numPartitions: t.partitions,
      replicationFactor: -1,
      // Events are the source of truth: never delete them by age (replay needs offset 0),
      // whatever else topics.yaml sets.
      configEntries: Object.entries({ ...t.config, 'retention.ms': '-1' }).map(([name, value]) => ({
        name,
        value,
      })),
    })),
  });
}
