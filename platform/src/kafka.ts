// Kafka clients with explicit settings, and topic creation from the generated topic list.
import { Kafka, logLevel, type Admin, type LogEntry, type Producer } from 'kafkajs';
import type { AnyTopic } from './events/topic.js';
import { createLogger } from './log.js';
import { defaultPartitioner } from './partitioner.js';
import { kafkaSecurity, type KafkaSecurity } from './transport-security.js';

/**
 * A Kafka client; TLS and SASL come from the environment (KAFKA_SSL_*, KAFKA_SASL_*, see
 * transport-security.ts) unless the caller passes its own.
 */
export function createKafka(
  brokers: string[],
  clientId: string,
  security: KafkaSecurity = kafkaSecurity(process.env),
): Kafka {
  return new Kafka({
    clientId,
    brokers,
    ssl: security.ssl,
    sasl: security.sasl,
    // SCRAM's round trips, or a token provider that signs a request (MSK IAM), take a moment.
    authenticationTimeout: 10_000,
    logLevel: logLevel.ERROR,
    logCreator: kafkaLogCreator,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

/**
 * kafkajs's lines through the platform logger. Its connections log every error response at
 * ERROR, also the transient ones it retries (a leader election, a topic just created); the
 * error then reaches the caller, which retries or reports it, so those lines are debug here.
 */
function kafkaLogCreator(): (entry: LogEntry) => void {
  const log = createLogger('kafkajs');
  return ({ namespace, level, log: entry }) => {
    const { message, timestamp: _timestamp, ...extra } = entry;
    const text = `[${namespace}] ${message}`;
    if (namespace === 'Connection' && message.startsWith('Response ')) {
      log.debug(extra, text);
    } else if (level === logLevel.ERROR) {
      log.error(extra, text);
    } else if (level === logLevel.WARN) {
      log.warn(extra, text);
    } else if (level === logLevel.INFO) {
      log.info(extra, text);
    } else {
      log.debug(extra, text);
    }
  };
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

/**
 * Creates missing topics with the partition counts in topics.yaml (kafkajs counts one another
 * process created meanwhile as created), then waits for their leaders: kafkajs's own
 * waitForLeaders retries only LEADER_NOT_AVAILABLE, but a KRaft broker whose metadata cache
 * has not caught up answers UNKNOWN_TOPIC_OR_PARTITION for a topic it has just created.
 */
export async function ensureTopics(admin: Admin, topics: readonly AnyTopic[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  // A topic may be named twice (consumed and produced): Kafka refuses a duplicate in one request.
  const missing = [...new Map(topics.map((t) => [t.name, t])).values()].filter(
    (t) => !existing.has(t.name),
  );
  if (missing.length === 0) return [];
  await createTopics(admin, missing);
  const names = missing.map((t) => t.name);
  await awaitTopicLeaders(admin, names);
  return names;
}

const leaderWaitMs = 30_000;
const metadataNotSettled = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
]);

/**
 * Polls until every partition of the topics has a leader that serves it, bounded. The
 * metadata names a leader before that broker has taken the partition on (a produce then
 * fails with NOT_LEADER_FOR_PARTITION); listing offsets asks the leader itself.
 */
export async function awaitTopicLeaders(
  admin: Admin,
  topics: readonly string[],
  waitMs = leaderWaitMs,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    let unsettled: string;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.topics.flatMap((t) =>
        t.partitions
          .filter((p) => p.leader < 0 || p.partitionErrorCode !== 0)
          .map((p) => `${t.name}[${p.partitionId}]`),
      );
      if (leaderless.length === 0) {
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
      unsettled = `no leader yet for ${leaderless.join(', ')}`;
    } catch (error) {
      if (!isMetadataNotSettled(error)) throw error;
      unsettled = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${topics.join(', ')} not ready after ${waitMs} ms: ${unsettled}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The error, or the one a kafkajs retrier wrapped, says the topic has not settled yet. */
function isMetadataNotSettled(error: unknown): boolean {
  for (let e: unknown = error; typeof e === 'object' && e !== null;) {
    const { type, originalError } = e as { type?: unknown; originalError?: unknown };
    if (typeof type === 'string' && metadataNotSettled.has(type)) return true;
    e = originalError;
  }
  return false;
}

async function createTopics(admin: Admin, missing: readonly AnyTopic[]): Promise<void> {
  await admin.createTopics({
    // Leaders are awaited by awaitTopicLeaders, which tolerates what this wait does not.
    waitForLeaders: false,
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
