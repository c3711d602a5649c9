// Kafka 4.1 with kafkajs 2.2.4: the exactly-once building blocks the services rely on.
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { startStack } from '../src/index.js';
import { waitFor } from '../src/process.js';
import { uniqueSuffix } from './support.js';

let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  // Starts the shared stack if needed; never stops it (others may be using it).
  const stack = await startStack();
  kafka = new Kafka({
    clientId: 'stack-test',
    brokers: stack.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  admin = kafka.admin();
  await admin.connect();
}, 300_000);

afterAll(async () => {
  await admin?.disconnect();
});

/**
 * kafkajs's waitForLeaders fails on the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker may still
 * answer for a topic it has just created, and metadata names a leader before it serves the
 * partition: ask the leader itself (list offsets) until it answers.
 */
async function awaitLeader(topic: string): Promise<void> {
  await waitFor(
    () =>
      admin.fetchTopicOffsets(topic).then(
        () => true,
        () => undefined,
      ),
    {
      timeoutMs: 30_000,
      intervalMs: 100,
      timeoutError: () => new Error(`${topic} has no leader serving it after 30 s`),
    },
  );
}

async function consumeUntil(
  topic: string,
  readUncommitted: boolean,
  done: (values: string[]) => boolean,
): Promise<string[]> {
  const consumer: Consumer = kafka.consumer({
    groupId: `stack-test-${uniqueSuffix()}`,
    readUncommitted,
  });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolveDone, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after 30 s; got ${JSON.stringify(values)}`)),
        30_000,
      );
      void consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString('utf8') ?? '<null>');
            if (done(values)) {
              clearTimeout(timer);
              resolveDone();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

test('a read_committed consumer receives committed transactions and never an aborted one', async () => {
  const topic = `stack-test.transactions-${uniqueSuffix()}`;
  // One partition: offsets order every record, so reaching the last committed record proves
  // the consumer has passed over the aborted ones.
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: false,
  });
  await awaitLeader(topic);
  const producer = kafka.producer({
    transactionalId: `stack-test-${uniqueSuffix()}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const committedFirst = await producer.transaction();
    await committedFirst.send({
      topic,
      acks: -1,
      messages: [
        { key: 'payment-1', value: 'committed-1' },
        { key: 'payment-2', value: 'committed-2' },
      ],
    });
    await committedFirst.commit();

    const aborted = await producer.transaction();
    await aborted.send({
      topic,
      acks: -1,
      messages: [
        { key: 'payment-3', value: 'aborted-1' },
        { key: 'payment-4', value: 'aborted-2' },
      ],
    });
    await aborted.abort();

    const committedLast = await producer.transaction();
    await committedLast.send({
      topic,
      acks: -1,
      messages: [{ key: 'payment-5', value: 'committed-3' }],
    });
    await committedLast.commit();
  } finally {
    await producer.disconnect();
  }

  const readCommitted = await consumeUntil(topic, false, (values) =>
    values.includes('committed-3'),
  );
  expect(readCommitted).toEqual(['committed-1', 'committed-2', 'committed-3']);

  // The aborted records are really in the log: only the isolation level hides them.
  const readUncommitted = await consumeUntil(topic, true, (values) =>
    values.includes('committed-3'),
  );
  expect(readUncommitted).toEqual([
    'committed-1',
    'committed-2',
    'aborted-1',
    'aborted-2',
    'committed-3',
  ]);

  await admin.deleteTopics({ topics: [topic] });
}, 90_000);

test('the broker does not auto-create topics, even when a client asks it to', async () => {
  const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 1 } });
  await producer.connect();
  try {
    await expect(
      producer.send({
        topic: `stack-test.unknown-${uniqueSuffix()}`,
        messages: [{ value: 'x' }],
      }),
    ).rejects.toThrow();
  } finally {
    await producer.disconnect();
  }
  const topics = await admin.listTopics();
  expect(topics.some((name) => name.startsWith('stack-test.unknown-'))).toBe(false);
}, 60_000);
