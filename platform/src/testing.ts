// Test isolation on the real stack: every test file gets its own database and its own topic
// namespace (prefixed topics and subjects), so files run in parallel without seeing each
// other's events. Nothing here fakes Kafka, the registry or PostgreSQL.
import { randomBytes } from 'node:crypto';
import { platformEndpoints } from './config.js';
import { dropDatabase, ensureDatabase } from './db.js';
import { prefixedTopic, type AnyTopic } from './events/topic.js';
import { createKafka, ensureTopics } from './kafka.js';

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
