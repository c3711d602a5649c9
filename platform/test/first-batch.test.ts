// A partition's first batch has no stored position to lock yet. During a rebalance two owners of
// the partition can hold its first batch at once; they must take turns on it like on any later
// batch: the second waits for the first's transaction and applies only what comes after it.
// The first owner here is a transaction the test holds open, as another instance's would be.
import { type Kafka, type Producer } from 'kafkajs';
import type { Pool } from '../src/db.js';
import type { EventSerde } from '../src/events/serde.js';
import { ExactlyOnceConsumer } from '../src/consumer.js';
import { createLogger } from '../src/log.js';
import type { TestEnvironment } from '@ledgerline/testkit/testing';
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
let producer: Producer;
let serde: EventSerde;
let topic: ConsumerTestWorld['topic'];
const log = createLogger('first-batch-test');

beforeAll(async () => {
  world = await startConsumerTestWorld('first-batch', 'claim');
  ({ env, pool, kafka, producer, serde, topic } = world);
  await pool.query(
    `CREATE TABLE claim.effects (group_id text, event_id uuid, PRIMARY KEY (group_id, event_id))`,
  );
});

afterAll(async () => {
  await world.stop();
});

/** Produces `count` status changes to each of `partitions`, in order. */
async function produce(partitions: readonly number[], count: number): Promise<void> {
  const typed = paymentsStatusChangedProducer(serde, { topicPrefix: env.topicPrefix });
  for (const partition of partitions) {
    const encoded = await Promise.all(
      Array.from({ length: count }, () => {
        const value = paymentStatusChange();
        return typed.encode(value.paymentId, value);
      }),
    );
    const sent = await producer.send({
      topic: topic.name,
      acks: -1,
      messages: encoded.map((m) => ({ key: m.key, value: m.value, partition })),
    });
    // kafkajs drops messages for a partition the topic does not have, without an error.
    expect(sent.map((s) => s.partition)).toEqual([partition]);
  }
}

interface Handled {
  partition: number;
  offset: number;
  /** The partitions of the handleBatch call that got this record. */
  together: readonly number[];
}

function consumerFor(groupId: string, coalescePartitions: boolean) {
  const handled: Handled[] = [];
  const consumer = new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: 'claim',
    groupId,
    topics: [topic],
    coalescePartitions,
    handleBatch: async (messages, { client, partitions }) => {
      for (const m of messages) {
        handled.push({ partition: m.partition, offset: Number(m.offset), together: partitions });
        // A plain INSERT: a record applied twice fails loudly.
        await client.query('INSERT INTO claim.effects (group_id, event_id) VALUES ($1, $2)', [
          groupId,
          (m.value as { eventId: string }).eventId,
        ]);
      }
    },
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
  });
  return { consumer, handled };
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const effects = async (groupId: string) =>
  Number(
    (await pool.query('SELECT count(*) FROM claim.effects WHERE group_id = $1', [groupId])).rows[0]
      .count,
  );

/**
 * Runs a consumer of `groupId` while another owner's transaction holds `partition` with its
 * first batch applied up to `appliedUpTo`; commits that transaction once the consumer waits on
 * it. Returns what the consumer handled.
 */
async function raceFirstBatch(
  groupId: string,
  coalescePartitions: boolean,
  partition: number,
  appliedUpTo: number,
  expectedEffects: number,
): Promise<Handled[]> {
  const otherOwner = await pool.connect();
  const { consumer, handled } = consumerFor(groupId, coalescePartitions);
  try {
    await otherOwner.query('BEGIN');
    const pid = (await otherOwner.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
    await otherOwner.query(
      `INSERT INTO claim.consumer_positions (group_id, topic, partition, next_offset)
       VALUES ($1, $2, $3, $4)`,
      [groupId, topic.name, partition, appliedUpTo],
    );
    await consumer.start();
    await waitFor(
      async () =>
        (
          await pool.query<{ waiting: number }>(
            'SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
            [pid],
          )
        ).rows[0]!.waiting > 0,
      'the consumer to wait on the other owner',
    );
    await otherOwner.query('COMMIT');
    await waitFor(async () => (await effects(groupId)) >= expectedEffects, 'every record applied');
    // A record applied twice would have failed its insert; a late one would show here.
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await otherOwner.query('ROLLBACK').catch(() => undefined);
    otherOwner.release();
    await consumer.stop();
  }
  expect(await effects(groupId)).toBe(expectedEffects);
  return handled;
}

/** The group's stored positions, by partition. */
async function positions(groupId: string): Promise<Record<number, number>> {
  const { rows } = await pool.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM claim.consumer_positions WHERE group_id = $1',
    [groupId],
  );
  return Object.fromEntries(rows.map((r) => [r.partition, Number(r.next_offset)]));
}

const offsetsOf = (handled: readonly Handled[], partition: number) =>
  handled.filter((h) => h.partition === partition).map((h) => h.offset);

test("alone: the second owner of a partition's first batch waits for the first, then applies only what follows", async () => {
  await produce([2], 10);
  const handled = await raceFirstBatch('first-alone', false, 2, 4, 6);
  expect(offsetsOf(handled, 2)).toEqual([4, 5, 6, 7, 8, 9]);
  expect(await positions('first-alone')).toEqual({ 2: 10 });
});

test("coalesced: a group transaction holding a partition's first batch waits for its other owner too", async () => {
  await produce([0, 1], 5); // partition 2 holds the first test's 10
  const handled = await raceFirstBatch('first-coalesced', true, 0, 2, 3 + 5 + 10);
  expect(offsetsOf(handled, 0)).toEqual([2, 3, 4]);
  expect(offsetsOf(handled, 1)).toEqual([0, 1, 2, 3, 4]);
  expect(offsetsOf(handled, 2)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Partition 0 went through a transaction of several partitions: the coalesced path.
  expect(handled.find((h) => h.partition === 0)!.together.length).toBeGreaterThan(1);
  expect(await positions('first-coalesced')).toEqual({ 0: 5, 1: 5, 2: 10 });
});
