// The platform's exactly-once consumption, on the real broker and database: effects and the
// consumer position commit together; a re-delivery (Kafka's offset lost, a restart) applies
// nothing twice; a poison message goes to the dead-letter topic and the partition moves on.
import { type Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { migrate, platformMigrations, type Pool } from '../src/db.js';
import type { EventSerde } from '../src/events/serde.js';
import { prefixedTopic } from '../src/events/topic.js';
import { ExactlyOnceConsumer } from '../src/consumer.js';
import { createLogger } from '../src/log.js';
import { OutboxRelay, appendToOutbox } from '../src/outbox.js';
import { createIdempotentProducer } from '../src/kafka.js';
import type { TestEnvironment } from '@ledgerline/testkit/testing';
import {
  ledgerlineDeadLetterConsumer,
  ledgerlineDeadLetterTopic,
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
const log = createLogger('exactly-once-test');

beforeAll(async () => {
  world = await startConsumerTestWorld('exactly-once', 'probe');
  ({ env, pool, kafka } = world);
  await pool.query(
    'CREATE TABLE probe.effects (event_id uuid PRIMARY KEY, seen_at_offset bigint NOT NULL)',
  );
});

afterAll(async () => {
  await world.stop();
});

function consumerFor(serde: EventSerde, groupId: string): ExactlyOnceConsumer {
  return new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: 'probe',
    groupId,
    topics: [prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix)],
    batchSizeMax: 7,
    handleBatch: async (messages, { client }) => {
      // A plain INSERT, not ON CONFLICT: a doubled effect would fail the batch loudly.
      for (const m of messages) {
        const value = m.value as { eventId: string };
        await client.query('INSERT INTO probe.effects (event_id, seen_at_offset) VALUES ($1, $2)', [
          value.eventId,
          m.offset,
        ]);
      }
    },
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [
      prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix),
    ]),
  });
}

async function waitFor(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const effectCount = async () =>
  Number((await pool.query('SELECT count(*) FROM probe.effects')).rows[0].count);

test('every message is applied exactly once across a restart that re-delivers everything, and poison goes to the dead-letter topic', async () => {
  const { serde, producer } = world;
  const typed = paymentsStatusChangedProducer(serde, { producer, topicPrefix: env.topicPrefix });
  const first = Array.from({ length: 40 }, () => paymentStatusChange());
  await typed.send(first.map((value) => ({ key: value.paymentId, value })));
  // A poison message: not in the Confluent wire format.
  const topicName = world.topic.name;
  await producer.send({
    topic: topicName,
    messages: [{ key: first[0]!.paymentId, value: Buffer.from('not avro') }],
  });
  const second = Array.from({ length: 20 }, () => paymentStatusChange());
  await typed.send(second.map((value) => ({ key: value.paymentId, value })));

  const consumer = consumerFor(serde, 'probe');
  await consumer.start();
  await waitFor(async () => (await effectCount()) === 60, '60 effects');
  await consumer.stop();

  // Lose Kafka's committed offsets entirely: everything is delivered again from offset 0.
  const admin = kafka.admin();
  await admin.connect();
  await admin.resetOffsets({ groupId: 'probe', topic: topicName, earliest: true });
  await admin.disconnect();
  const restarted = consumerFor(serde, 'probe');
  await restarted.start();
  await typed.send([{ key: second[0]!.paymentId, value: paymentStatusChange() }]);
  await waitFor(async () => (await effectCount()) === 61, 'the 61st effect');
  await restarted.stop();
  expect(await effectCount()).toBe(61);

  // The poison message was written to the outbox as a dead letter, with its reason.
  const relay = new OutboxRelay({
    pool,
    schema: 'probe',
    createProducer: () => createIdempotentProducer(kafka),
    log,
  });
  expect(await relay.publishBatch()).toBe(1);
  await relay.stop();
  const dlq = kafka.consumer({ groupId: 'probe-dlq-reader' });
  await dlq.connect();
  await dlq.subscribe({
    topic: `${env.topicPrefix}${ledgerlineDeadLetterTopic.name}`,
    fromBeginning: true,
  });
  const decoder = ledgerlineDeadLetterConsumer(serde, { topicPrefix: env.topicPrefix });
  const letter = await new Promise<{ reason: string; sourceTopic: string; value: Buffer | null }>(
    (resolve) => {
      void dlq.run({
        eachMessage: async ({ message, partition }) =>
          resolve((await decoder.decode({ ...message, partition })).value),
      });
    },
  );
  await dlq.disconnect();
  expect(letter.sourceTopic).toBe(topicName);
  expect(letter.reason).toMatch(/wire format/);
  expect(letter.value?.toString()).toBe('not avro');
});

test('the consumer position and the effects are committed in the same transaction', async () => {
  const { rows } = await pool.query<{ next_offset: number }>(
    "SELECT sum(next_offset)::int AS next_offset FROM probe.consumer_positions WHERE group_id = 'probe'",
  );
  // 40 + 1 poison + 20 + 1 messages were consumed: positions account for every one.
  expect(rows[0]?.next_offset).toBe(62);
  expect(await effectCount()).toBe(61);
});

test('the relay publishes in outbox order past every digit boundary of the id (9 before 10, 99 before 100)', async () => {
  // A fresh schema whose ids start at 1, so one batch spans 1..120.
  await migrate(pool, 'relayorder', platformMigrations('relayorder', 'relayorder_app'), {
    relayorder_app: 'relayorder',
  });
  const topic = `${env.topicPrefix}${ledgerlineDeadLetterTopic.name}`;
  const key = Buffer.from('one-key'); // one key, one partition: Kafka keeps the relay's order
  await appendToOutbox(
    pool,
    'relayorder',
    Array.from({ length: 120 }, (_, i) => ({ topic, key, value: Buffer.from(`#${i + 1}`) })),
  );
  const relay = new OutboxRelay({
    pool,
    schema: 'relayorder',
    createProducer: () => createIdempotentProducer(kafka),
    log,
  });
  expect(await relay.publishBatch()).toBe(120);
  await relay.stop();
  const reader = kafka.consumer({ groupId: `relay-order-${randomUUID()}` });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    void reader.run({
      eachMessage: async ({ message }) => {
        if (message.key?.equals(key)) seen.push(String(message.value));
        if (seen.length === 120) resolve();
      },
    });
  });
  await reader.disconnect();
  expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => `#${i + 1}`));
});
