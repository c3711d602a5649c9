// A consumer's positions live in PostgreSQL; its group's offsets in Kafka are a copy, made now and
// then for lag tools, and never where it starts. A partition without a stored position (an empty
// database, for a replay) starts at its first record whatever the group's offset, and an offset
// set by someone else (an operator's reset, another client of the group) moves nothing: a fetch
// that starts past the stored position is read again from it. Only records Kafka no longer holds
// are passed over, and said so.
import { type Kafka, type Admin, type Producer } from 'kafkajs';
import type { Pool } from '../src/db.js';
import type { EventSerde } from '../src/events/serde.js';
import { ExactlyOnceConsumer, readPositions } from '../src/consumer.js';
import { createLogger } from '../src/log.js';
import { eventually, type TestEnvironment } from '@ledgerline/testkit/testing';
import { paymentsStatusChangedProducer } from '@ledgerline/generated/topics';
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
let topic: ConsumerTestWorld['topic'];
const log = createLogger('group-offsets-test');

beforeAll(async () => {
  world = await startConsumerTestWorld('group-offsets', 'hints');
  ({ env, pool, kafka, producer, serde, topic } = world);
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
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

/** A consumer of the topic in `groupId` that counts the records it applies. */
async function startCounting(
  groupId: string,
  {
    onError,
    groupOffsetCopyMs,
  }: { onError?: (msg: string) => void; groupOffsetCopyMs?: number } = {},
) {
  let applied = 0;
  const logged = onError
    ? createLogger('group-offsets-test', {
        write: (line: string) => {
          const entry = JSON.parse(line) as { level: string; msg: string };
          if (entry.level === 'error') onError(entry.msg);
        },
      })
    : log;
  const consumer = new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log: logged,
    schema: 'hints',
    groupId,
    topics: [topic],
    handleBatch: async (messages) => {
      applied += messages.length;
    },
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
    ...(groupOffsetCopyMs !== undefined && { groupOffsetCopyMs }),
  });
  await consumer.start();
  return { consumer, applied: () => applied };
}

/** Each partition's [start, end) in the log, as `partition` -> offsets. */
async function partitionRanges(): Promise<Map<number, { low: number; high: number }>> {
  const offsets = await admin.fetchTopicOffsets(topic.name);
  return new Map(
    offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }] as const),
  );
}

const recordsHeld = async () =>
  [...(await partitionRanges()).values()].reduce((sum, r) => sum + r.high - r.low, 0);

/** Sets the group's Kafka offsets to the end of every partition, as `--reset-offsets --to-latest`. */
async function resetGroupToLatest(groupId: string): Promise<void> {
  const ranges = await partitionRanges();
  await admin.setOffsets({
    groupId,
    topic: topic.name,
    partitions: [...ranges].map(([partition, r]) => ({ partition, offset: String(r.high) })),
  });
  expect((await kafkaOffsets(groupId)).size).toBe(ranges.size);
}

test("a consumer's group offsets in Kafka follow its positions, and one without positions replays from the start", async () => {
  const groupId = `${env.topicPrefix}hints`;
  const run = () => startCounting(groupId, { groupOffsetCopyMs: 200 });
  await produce(30);
  const first = await run();
  try {
    await eventually(async () => (first.applied() >= 30 ? true : undefined), '30 records applied');
    const positions = await readPositions(pool, 'hints', groupId);
    expect([...positions.values()].reduce((a, b) => a + b, 0)).toBe(30);
    // kafkajs commits nothing itself: the copies of the positions are all the group holds.
    const copied = await eventually(async () => {
      const offsets = await kafkaOffsets(groupId);
      return offsets.size === positions.size ? offsets : undefined;
    }, 'the positions copied to the group');
    expect(copied).toEqual(positions);
    await produce(10);
    await eventually(async () => (first.applied() >= 40 ? true : undefined), 'ten more');
    const moved = await readPositions(pool, 'hints', groupId);
    await eventually(async () => {
      const offsets = await kafkaOffsets(groupId);
      return [...moved].every(([key, next]) => offsets.get(key) === next) ? true : undefined;
    }, 'the moved positions copied');
  } finally {
    await first.consumer.stop();
  }

  // The database loses its positions (a replay into an empty one): the same group reads every
  // record again from the beginning of each partition, its offsets in Kafka at their ends.
  await pool.query('DELETE FROM hints.consumer_positions WHERE group_id = $1', [groupId]);
  const second = await run();
  try {
    await eventually(async () => (second.applied() >= 40 ? true : undefined), 'the replay');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(second.applied()).toBe(40);
  } finally {
    await second.consumer.stop();
  }
}, 90_000);

test('a group offset someone else set moves no consumer past records it never applied', async () => {
  const groupId = `${env.topicPrefix}hints-reset`;
  await produce(20);
  // An empty database, and the group's Kafka offsets at the end of every partition.
  await resetGroupToLatest(groupId);
  const held = await recordsHeld();
  const first = await startCounting(groupId);
  try {
    await eventually(async () => (first.applied() >= held ? true : undefined), 'every record');
    await produce(10);
    await eventually(async () => (first.applied() >= held + 10 ? true : undefined), 'ten more');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(first.applied()).toBe(held + 10);
  } finally {
    await first.consumer.stop();
  }
  // Stored positions this time: records written while the consumer was away, and the group's
  // offsets reset past them before it comes back.
  await produce(10);
  await resetGroupToLatest(groupId);
  const second = await startCounting(groupId);
  try {
    await eventually(async () => (second.applied() >= 10 ? true : undefined), 'the ten');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(second.applied()).toBe(10);
  } finally {
    await second.consumer.stop();
  }
  const positions = await readPositions(pool, 'hints', groupId);
  const ends = await partitionRanges();
  for (const [partition, { high }] of ends) {
    expect(positions.get(`${topic.name}:${partition}`) ?? 0).toBe(high);
  }
}, 90_000);

test('records Kafka no longer holds are passed over once, loudly, and the rest applied', async () => {
  const groupId = `${env.topicPrefix}hints-deleted`;
  await produce(20);
  const ranges = await partitionRanges();
  // The oldest records of every partition that holds more than two go (retention would).
  const trimmed = [...ranges].filter(([, r]) => r.high - r.low > 2);
  expect(trimmed.length).toBeGreaterThan(0);
  await admin.deleteTopicRecords({
    topic: topic.name,
    partitions: trimmed.map(([partition, r]) => ({ partition, offset: String(r.low + 2) })),
  });
  const held = await recordsHeld();
  const errors: string[] = [];
  const run = await startCounting(groupId, { onError: (msg) => errors.push(msg) });
  try {
    await eventually(async () => (run.applied() >= held ? true : undefined), 'what is left');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(run.applied()).toBe(held);
  } finally {
    await run.consumer.stop();
  }
  // One line per trimmed partition: the offsets it passed over.
  expect(errors.filter((m) => m.includes('hold no record Kafka delivers'))).toHaveLength(
    trimmed.length,
  );
}, 90_000);
