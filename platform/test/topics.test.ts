// Topic creation on the real broker: ensureTopics returns only when every partition of every
// new topic has a leader, so a producer can write to any of them at once; a topic that never
// settles fails the wait by name instead of hanging or failing on the first metadata answer.
import type { Admin, Kafka } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { ledgerCommandsTopic, paymentsStatusChangedTopic } from '@ledgerline/generated/topics';
import { prefixedTopic } from '../src/events/topic.js';
import { awaitTopicLeaders, createKafka, ensureTopics } from '../src/kafka.js';
import { platformEndpoints } from '../src/config.js';

let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  kafka = createKafka(platformEndpoints().kafkaBrokers, 'topics-test');
  admin = kafka.admin({ retry: { retries: 2 } });
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
});

const prefix = (): string => `t-topics-${randomBytes(4).toString('hex')}.`;

test('ensureTopics creates the missing topics and returns when every partition has a leader', async () => {
  const topicPrefix = prefix();
  const topics = [ledgerCommandsTopic, paymentsStatusChangedTopic].map((t) =>
    prefixedTopic(t, topicPrefix),
  );

  const created = await ensureTopics(admin, topics);

  expect(created.sort()).toEqual(topics.map((t) => t.name).sort());
  const metadata = await admin.fetchTopicMetadata({ topics: created });
  for (const topic of topics) {
    const partitions = metadata.topics.find((t) => t.name === topic.name)?.partitions ?? [];
    expect(partitions).toHaveLength(topic.partitions);
    expect(partitions.every((p) => p.leader >= 0)).toBe(true);
  }
  // Every partition takes a write straight away.
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  try {
    const [first] = topics;
    const acks = await producer.send({
      topic: first!.name,
      acks: -1,
      messages: Array.from({ length: first!.partitions }, (_, partition) => ({
        partition,
        value: 'probe',
      })),
    });
    expect(acks).toHaveLength(first!.partitions);
  } finally {
    await producer.disconnect();
  }

  // Already there: nothing to create.
  expect(await ensureTopics(admin, topics)).toEqual([]);
});

test('a topic that never gets a leader fails the wait, naming it, after the time given', async () => {
  // Auto-creation is off on the stack's broker: this name stays unknown.
  const missing = `${prefix()}never-created`;
  const started = Date.now();

  await expect(awaitTopicLeaders(admin, [missing], 800)).rejects.toThrow(
    `topics ${missing} not ready after 800 ms`,
  );
  // It kept asking rather than failing on the first "unknown topic" answer.
  expect(Date.now() - started).toBeGreaterThanOrEqual(800);
});
