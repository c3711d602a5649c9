// A consumer's positions live in PostgreSQL, and its group has no offsets in Kafka: that is what
// makes a partition without a stored position (an empty database, for a replay) start at its
// beginning. A group offset in Kafka would move that start past records never applied, so the
// consumer must never commit one (kafkajs commits after every batch unless told otherwise).
import { type Kafka, type Admin, type Producer } from 'kafkajs';
import type { Pool } from '../src/db.js';
import { EventSerde } from '../src/events/serde.js';
import { prefixedTopic } from '../src/events/topic.js';
import { ExactlyOnceConsumer, readPositions } from '../src/consumer.js';
import { createLogger } from '../src/log.js';
import { eventually, type TestEnvironment } from '@ledgerline/testkit/testing';
import {
  paymentsStatusChangedProducer,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import {
  paymentStatusChange,
  startConsumerTestWorld,
  testDeadLetterEncoder,
  type ConsumerTestWorld,
} from './support/consumer-fixtures.js';

let world: ConsumerTestWorld;
let env: TestEnvironment;
let pool: Pool;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let serde: EventSerde;
let topic: ReturnType<typeof prefixedTopic<typeof paymentsStatusChangedTopic>>;
const log = createLogger('no-group-offsets-test');

beforeAll(async () => {
  world = await startConsumerTestWorld('no-group-offsets', 'hints');
  ({ env, pool, kafka } = world);
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  topic = prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix);
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
  await world.stop();
});

async function produce(count: number): Promise<void> {
  const typed = paymentsStatusChangedProducer(serde, { topicPrefix: env.topicPrefix });
  const encoded = await Promise.all(
    Array.from({ length: count }, () => {
      const value = paymentStatusChange();
      return typed.encode(value.paymentId, value);
    }),
  );
  await producer.send({ topic: topic.name, acks: -1, messages: encoded });
}

/** The group's offsets in Kafka, as `topic:partition` -> offset, the unset ones left out. */
async function kafkaOffsets(groupId: string): Promise<Map<string, number>> {
  const topics = await admin.fetchOffsets({ groupId, topics: [topic.name] });
  return new Map(
    topics.flatMap(({ topic: name, partitions }) =>
      partitions
        .filter((p) => Number(p.offset) >= 0)
        .map((p) => [`${name}:${p.partition}`, Number(p.offset)] as const),
    ),
  );
}

test('a consumer commits no group offset to Kafka, and one without positions replays from the start', async () => {
  const groupId = `${env.topicPrefix}hints`;
  const run = async () => {
    let applied = 0;
    const consumer = new ExactlyOnceConsumer({
      kafka,
      pool,
      serde,
      log,
      schema: 'hints',
      groupId,
      topics: [topic],
      handleBatch: async (messages) => {
        applied += messages.length;
      },
      encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
    });
    await consumer.start();
    return { consumer, applied: () => applied };
  };
  await produce(30);
  const first = await run();
  try {
    await eventually(async () => (first.applied() >= 30 ? true : undefined), '30 records applied');
    const positions = await readPositions(pool, 'hints', groupId);
    expect([...positions.values()].reduce((a, b) => a + b, 0)).toBe(30);
    // Past a few of kafkajs's fetch cycles and its heartbeat, with the batches long applied.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await kafkaOffsets(groupId)).toEqual(new Map());
  } finally {
    await first.consumer.stop();
  }
  expect(await kafkaOffsets(groupId)).toEqual(new Map());

  // The database loses its positions (a replay into an empty one): the same group reads every
  // record again from the beginning of each partition.
  await pool.query('DELETE FROM hints.consumer_positions WHERE group_id = $1', [groupId]);
  const second = await run();
  try {
    await eventually(async () => (second.applied() >= 30 ? true : undefined), 'the replay');
    expect(second.applied()).toBe(30);
  } finally {
    await second.consumer.stop();
  }
}, 90_000);
