// The outbox relay on the real broker and database, as each service's own role, over each
// service's own migrations: a record Kafka refuses for good (over the topic's
// max.message.bytes) is parked with the broker's error while the rest are published in order;
// the parked count is in /metrics; and no database transaction is open while Kafka answers.
import type { Kafka, Producer } from 'kafkajs';
import { createPool, type Pool } from '../src/db.js';
import { createIdempotentProducer, createKafka } from '../src/kafka.js';
import { createLogger } from '../src/log.js';
import { createMetricsRegistry } from '../src/metrics.js';
import { appendToOutbox, OutboxRelay } from '../src/outbox.js';
import {
  createTestEnvironment,
  deployTestDatabase,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { SERVICE_DATABASES } from '../../scripts/databases.js';
import { createTestTopics, publishedRecords } from './support/test-topics.js';

const log = createLogger('outbox-parking-test');
/** The topic's limit: a 64 KiB record is over it, a few hundred bytes are not. */
const TOPIC_MESSAGE_BYTES_MAX = 16_384;

let env: TestEnvironment;
let kafka: Kafka;
let adminPool: Pool;
let topic: string;
/** A topic without that limit. */
let wideTopic: string;

beforeAll(async () => {
  env = await createTestEnvironment('platform-outbox-parking', []);
  await deployTestDatabase(env, SERVICE_DATABASES);
  adminPool = createPool(env.adminDatabaseUrl, { max: 2 });
  kafka = createKafka(env.kafkaBrokers, 'outbox-parking-test');
  topic = `${env.topicPrefix}small-records`;
  wideTopic = `${env.topicPrefix}wide-records`;
  await createTestTopics(kafka, [
    {
      topic,
      numPartitions: 1,
      replicationFactor: -1,
      configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MESSAGE_BYTES_MAX) }],
    },
    { topic: wideTopic, numPartitions: 1, replicationFactor: -1 },
  ]);
});

afterAll(async () => {
  await adminPool?.end();
  await env?.cleanup();
});

const record = (key: string, text: string) => ({
  topic,
  key: Buffer.from(key),
  value: Buffer.from(text),
});

/** Producers whose every send runs `beforeSend` first (the relay makes a new one after a failed send). */
function observedProducers(beforeSend: () => Promise<void>): () => Producer {
  return () => {
    const producer = createIdempotentProducer(kafka);
    return {
      ...producer,
      sendBatch: async (batch) => {
        await beforeSend();
        return producer.sendBatch(batch);
      },
    };
  };
}

/** Every value on the topic, in partition order (one partition). */
function published(count: number, from: string = topic): Promise<{ key: string; value: string }[]> {
  return publishedRecords(env.kafkaBrokers, from, count);
}

test('a record over the topic limit is parked with the broker error, and the payments after it are published in order', async () => {
  const pool = createPool(testRoleUrl(env, 'processor_app'), {
    max: 2,
    applicationName: 'processor-relay-under-test',
  });
  const metrics = createMetricsRegistry('outbox-parking-test');
  const oversized = 'x'.repeat(64 * 1024);
  // What the relay's session looks like while Kafka is answering: sampled inside each send.
  const sessionsDuringSend: { state: string; inTransaction: boolean }[] = [];
  const relay = new OutboxRelay({
    pool,
    schema: 'processor',
    createProducer: observedProducers(async () => {
      const { rows } = await adminPool.query<{ state: string; in_transaction: boolean }>(
        `SELECT state, xact_start IS NOT NULL AS in_transaction FROM pg_stat_activity
         WHERE application_name = 'processor-relay-under-test' AND datname = current_database()`,
      );
      sessionsDuringSend.push(
        ...rows.map((r) => ({ state: r.state, inTransaction: r.in_transaction })),
      );
    }),
    log,
    metrics,
  });
  try {
    await appendToOutbox(pool, 'processor', [
      record('payment-a', 'a1 accepted'),
      record('payment-a', `a2 ${oversized}`),
      record('payment-a', 'a3 debited'),
      record('payment-b', 'b1 accepted'),
    ]);
    expect(await relay.publishBatch()).toBe(3);

    expect(await published(3)).toEqual([
      { key: 'payment-a', value: 'a1 accepted' },
      { key: 'payment-a', value: 'a3 debited' },
      { key: 'payment-b', value: 'b1 accepted' },
    ]);
    const parked = await adminPool.query<{ key: string; bytes: number; error: string }>(
      'SELECT convert_from(key, $1) AS key, length(value) AS bytes, error FROM processor.outbox_parked',
      ['UTF8'],
    );
    expect(parked.rows).toEqual([
      {
        key: 'payment-a',
        bytes: oversized.length + 3,
        error: expect.stringMatching(/larger than the max message size/),
      },
    ]);
    expect(await relay.backlog()).toBe(0);
    expect(await relay.parked()).toBe(1);
    expect(await metrics.metrics()).toMatch(/^ledgerline_outbox_parked\{[^}]*\} 1$/m);
    // The session was never inside a transaction while a send was waiting for Kafka.
    expect(sessionsDuringSend.length).toBeGreaterThan(0);
    expect(sessionsDuringSend.filter((s) => s.inTransaction)).toEqual([]);
    // A second round has nothing left to send and does not resend the parked record.
    expect(await relay.publishBatch()).toBe(0);
  } finally {
    // The relay's own session holds the leader's lock until it stops.
    await relay.stop();
    await pool.end();
  }
});

test('a batch Kafka wrote in part goes out again through a new producer, and the relay drains', async () => {
  const pool = createPool(testRoleUrl(env, 'processor_app'), { max: 2 });
  const relay = new OutboxRelay({
    pool,
    schema: 'processor',
    createProducer: () => createIdempotentProducer(kafka),
    log,
  });
  try {
    // One produce request: the broker writes the wide topic's three records and refuses the
    // small topic's. kafkajs then winds the wide partition's sequence back to where it was,
    // so the same producer sending w1 alone would reuse a written sequence number and be
    // refused as OUT_OF_ORDER_SEQUENCE_NUMBER on every try after.
    const wide = (text: string) => ({ ...record('payment-w', text), topic: wideTopic });
    await appendToOutbox(pool, 'processor', [
      wide('w1 accepted'),
      wide('w2 debited'),
      record('payment-w', `w-statement ${'x'.repeat(64 * 1024)}`),
      wide('w3 credited'),
    ]);
    expect(await relay.publishBatch()).toBe(3);
    expect(await relay.backlog()).toBe(0);
    // The first three came with the refused batch, the rest one by one, in order: a consumer
    // drops the repeats by event id.
    expect((await published(6, wideTopic)).map((r) => r.value)).toEqual([
      'w1 accepted',
      'w2 debited',
      'w3 credited',
      'w1 accepted',
      'w2 debited',
      'w3 credited',
    ]);
    const parked = await adminPool.query<{ key: string }>(
      `SELECT convert_from(key, 'UTF8') AS key FROM processor.outbox_parked WHERE convert_from(key, 'UTF8') = 'payment-w'`,
    );
    expect(parked.rows).toEqual([{ key: 'payment-w' }]);
  } finally {
    await relay.stop();
    await pool.end();
  }
});

test('every service with an outbox has its parked table from its migrations, writable by its own role only', async () => {
  for (const service of SERVICE_DATABASES) {
    const pool = createPool(testRoleUrl(env, service.appRole), { max: 1 });
    try {
      const relay = new OutboxRelay({
        pool,
        schema: service.schema,
        createProducer: () => createIdempotentProducer(kafka),
        log,
      });
      // The table is there and the role may count it (the two tests above parked one each for processor).
      expect({ service: service.service, parked: await relay.parked() }).toEqual({
        service: service.service,
        parked: service.service === 'processor' ? 2 : 0,
      });
      const { rows } = await adminPool.query<{ version: number; name: string }>(
        `SELECT version, name FROM ${service.schema}.schema_migrations WHERE name = 'outbox_parked'`,
      );
      expect({ service: service.service, migrations: rows.length }).toEqual({
        service: service.service,
        migrations: 1,
      });
      // Parked records are evidence for an operator: the service cannot rewrite or drop them.
      await expect(pool.query(`DELETE FROM ${service.schema}.outbox_parked`)).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await pool.end();
    }
  }
});

test('a commit nudged while the relay is publishing is published at once, not at the next idle poll', async () => {
  const pool = createPool(testRoleUrl(env, 'processor_app'), { max: 2 });
  let committedDuringSend = false;
  // The second payment commits and nudges while the first one's send waits for Kafka.
  // An idle poll far beyond the wait below: only the nudge can publish the second record.
  const relay: OutboxRelay = new OutboxRelay({
    pool,
    schema: 'processor',
    createProducer: observedProducers(async () => {
      if (!committedDuringSend) {
        committedDuringSend = true;
        await appendToOutbox(pool, 'processor', [record('payment-d', 'd1 accepted')]);
        relay.nudge();
      }
    }),
    log,
    idlePollMs: 600_000,
  });
  try {
    await appendToOutbox(pool, 'processor', [record('payment-c', 'c1 accepted')]);
    const startedAt = Date.now();
    relay.start();
    // The first test left three records on the topic.
    const seen = await published(5);
    expect(seen.slice(3)).toEqual([
      { key: 'payment-c', value: 'c1 accepted' },
      { key: 'payment-d', value: 'd1 accepted' },
    ]);
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    expect(await relay.backlog()).toBe(0);
  } finally {
    await relay.stop();
    await pool.end();
  }
});
