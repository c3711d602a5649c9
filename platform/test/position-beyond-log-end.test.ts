// A consumer whose position in PostgreSQL lies past the end of its partition (the topic was
// recreated, or its data lost, while the database kept the positions) must not take the new
// records at lower offsets for re-deliveries and skip them: it applies nothing, holds the
// partition, and its readiness says stuck; once the position is put right, the records apply.
import { type Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import type { Pool } from '../src/db.js';
import { ExactlyOnceConsumer } from '../src/consumer.js';
import { createLogger } from '../src/log.js';
import { eventually, type TestEnvironment } from '@ledgerline/testkit/testing';
import { paymentsStatusChangedProducer } from '@ledgerline/generated/topics';
import {
  paymentStatusChange,
  startConsumerTestWorld,
  testDeadLetterEncoder,
  type ConsumerTestWorld,
} from './support/consumer-fixtures.js';

const GROUP = 'beyond';
const STORED_POSITION = 1_000;

let world: ConsumerTestWorld;
let env: TestEnvironment;
let pool: Pool;
let kafka: Kafka;
const log = createLogger('position-beyond-log-end-test');

beforeAll(async () => {
  world = await startConsumerTestWorld('position-beyond', 'probe');
  ({ env, pool, kafka } = world);
});

afterAll(async () => {
  await world.stop();
});

test('records behind a position past the partition end are held, not skipped, and readiness says stuck', async () => {
  const { topic, serde, producer } = world;
  // One key: every record lands on one partition.
  const paymentId = randomUUID();
  const records = [1, 2, 3].map(() => paymentStatusChange({ paymentId }));
  await paymentsStatusChangedProducer(serde, { producer, topicPrefix: env.topicPrefix }).send(
    records.map((value) => ({ key: paymentId, value })),
  );
  const admin = kafka.admin();
  await admin.connect();
  const partition = (await admin.fetchTopicOffsets(topic.name)).find(
    (o) => Number(o.high) > 0,
  )!.partition;
  await admin.disconnect();
  // The database remembers a partition that was much further along than this one is now.
  await pool.query(
    `INSERT INTO probe.consumer_positions (group_id, topic, partition, next_offset)
     VALUES ($1, $2, $3, $4)`,
    [GROUP, topic.name, partition, STORED_POSITION],
  );

  const applied: string[] = [];
  const consumer = new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: 'probe',
    groupId: GROUP,
    topics: [topic],
    fromBeginning: true,
    stuckAfterMs: 1_000,
    retryBackoffMsMax: 200,
    handleBatch: async (messages) => {
      for (const m of messages) applied.push((m.value as { eventId: string }).eventId);
    },
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
  });
  await consumer.start();
  try {
    // Readiness names the held partition; nothing was applied and the position did not move.
    const verdict = await eventually(async () => {
      const v = consumer.health.verdict();
      return v.ok ? undefined : v;
    }, 'the consumer reported stuck');
    expect(JSON.stringify(verdict)).toMatch(new RegExp(`stuck on ${topic.name}\\[${partition}\\]`));
    expect(applied).toEqual([]);
    const stored = await pool.query<{ next_offset: number }>(
      'SELECT next_offset FROM probe.consumer_positions WHERE topic = $1 AND partition = $2',
      [topic.name, partition],
    );
    expect(stored.rows[0]?.next_offset).toBe(STORED_POSITION);

    // An operator puts the position right: the held records apply, each once, in order.
    await pool.query(
      'UPDATE probe.consumer_positions SET next_offset = 0 WHERE topic = $1 AND partition = $2',
      [topic.name, partition],
    );
    await eventually(async () => (applied.length >= 3 ? true : undefined), 'the records applied');
    expect(applied).toEqual(records.map((r) => r.eventId));
  } finally {
    await consumer.stop();
  }
});
