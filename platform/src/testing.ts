// Test isolation on the real stack: every test file gets its own database and its own topic
// namespace (prefixed topics and subjects), so files run in parallel without seeing each
// other's events. Nothing here fakes Kafka, the registry or PostgreSQL.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { createServer } from 'node:net';
import { platformEndpoints } from './config.js';
import { dropDatabase, ensureDatabase } from './db.js';
import { prefixedTopic, type AnyTopic } from './events/topic.js';
import { createKafka, ensureTopics } from './kafka.js';
import type { DecodedMessage, TopicConsumer } from './events/typed.js';

export interface TestEnvironment {
  databaseUrl: string;
  /** Superuser URL of the same test database (for tampering and cleanup). */
  adminDatabaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  topicPrefix: string;
  /** Drops the database (topics stay: Kafka keeps them cheaply; the prefix is never reused). */
  cleanup(): Promise<void>;
}

export async function createTestEnvironment(
  name: string,
  topics: readonly AnyTopic[],
): Promise<TestEnvironment> {
  const endpoints = platformEndpoints();
  const suffix = randomBytes(4).toString('hex');
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 30);
  const database = `test_${slug.replace(/-/g, '_')}_${suffix}`;
  const topicPrefix = `t-${slug}-${suffix}.`;
  const databaseUrl = await ensureDatabase(endpoints.databaseUrl, database);
  const admin = createKafka(endpoints.kafkaBrokers, `test-${slug}`).admin();
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      topics.map((t) => prefixedTopic(t, topicPrefix)),
    );
  } finally {
    await admin.disconnect();
  }
  return {
    databaseUrl,
    adminDatabaseUrl: databaseUrl,
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix,
    cleanup: () => dropDatabase(endpoints.databaseUrl, database),
  };
}

/**
 * Reads one topic from the beginning with a fresh consumer group (read_committed), decoding
 * every record with the generated consumer; notes when each record arrived, and keeps the
 * raw Kafka message beside it.
 */
export class TopicReader<T extends AnyTopic> {
  readonly records: DecodedMessage<T>[] = [];
  /** The undecoded Kafka messages, same index as `records`. */
  readonly raw: KafkaMessage[] = [];
  /** Date.now() when each record (same index as `records`) was decoded. */
  readonly arrivedAtMs: number[] = [];
  private readonly errors: unknown[] = [];
  private readonly consumer: Consumer;
  private listener: ((record: DecodedMessage<T>, arrivedAtMs: number) => void) | undefined;

  private constructor(
    brokers: readonly string[],
    private readonly decoder: TopicConsumer<T>,
  ) {
    this.consumer = createKafka([...brokers], `test-reader-${randomUUID()}`).consumer({
      groupId: `test-reader-${randomUUID()}`,
      readUncommitted: false,
      maxWaitTimeInMs: 20,
    });
  }

  static async start<T extends AnyTopic>(
    brokers: readonly string[],
    decoder: TopicConsumer<T>,
    onRecord?: (record: DecodedMessage<T>, arrivedAtMs: number) => void,
  ): Promise<TopicReader<T>> {
    const reader = new TopicReader(brokers, decoder);
    reader.listener = onRecord;
    await reader.consumer.connect();
    await reader.consumer.subscribe({ topic: decoder.topic.name, fromBeginning: true });
    await reader.consumer.run({
      eachMessage: async ({ partition, message }) => {
        const arrivedAtMs = Date.now();
        try {
          const record = await reader.decoder.decode({
            partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers,
            timestamp: message.timestamp,
          });
          reader.raw.push(message);
          reader.records.push(record);
          reader.arrivedAtMs.push(arrivedAtMs);
          reader.listener?.(record, arrivedAtMs);
        } catch (error) {
          reader.errors.push(error);
        }
      },
    });
    return reader;
  }

  /** Waits until `done` holds for the records read so far (a decoding error fails it). */
  async waitFor(
    done: (records: readonly DecodedMessage<T>[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<DecodedMessage<T>[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.records)) {
      if (this.errors.length > 0) throw this.errors[0];
      if (Date.now() > deadline) {
        throw new Error(`${this.decoder.topic.name}: condition not met after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return [...this.records];
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** A loopback port nobody listens on right now (for a service started by a test or a bench). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
