// Topics of the outbox tests: created on the real broker, and read from the beginning with a
// consumer group of their own (what the relay really published, in partition order).
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type ITopicConfig } from 'kafkajs';
import { eventually } from '@ledgerline/testkit/testing';
import { awaitTopicLeaders } from '../../src/kafka.js';

/** Creates the topics and waits until each partition has a leader. */
export async function createTestTopics(kafka: Kafka, topics: ITopicConfig[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // kafkajs's own wait fails on the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers for a
    // topic it has just created; the platform's wait tolerates it.
    await admin.createTopics({ waitForLeaders: false, topics });
    await awaitTopicLeaders(
      admin,
      topics.map((t) => t.topic),
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * The records on `topic` (key, and the value's first 40 characters) once at least `count` have
 * come, and half a second more: a record beyond `count` (doubled or unexpected) is then in the
 * list for the caller's assertion to see.
 */
export async function publishedRecords(
  brokers: string[],
  topic: string,
  count: number,
): Promise<{ key: string; value: string }[]> {
  const reader = new Kafka({
    brokers,
    clientId: 'outbox-test-reader',
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `outbox-test-reader-${randomUUID()}`, maxWaitTimeInMs: 50 });
  const seen: { key: string; value: string }[] = [];
  await reader.connect();
  try {
    await reader.subscribe({ topic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: String(message.key), value: String(message.value).slice(0, 40) });
      },
    });
    await eventually(async () => (seen.length >= count ? true : undefined), `${count} records`);
    // A moment more: anything beyond `count` would be a doubled or unexpected record.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return seen;
  } finally {
    await reader.disconnect();
  }
}
