// The outbox relay deletes what Kafka acknowledged with its next read, on the real broker and
// database, as the processor's own role: one round trip per batch. These prove that the
// deferral changes what is sent by nothing: rows go out once each and in order (a lower id that
// commits late is not overtaken), a relay that dies before the delete leaves its rows to the
// next leader, which sends them again, and a running relay deletes the last batch's rows soon
// after a burst, not at its idle poll.
import type { Kafka } from 'kafkajs';
import { createPool, type Pool } from '../src/db.js';
import { createIdempotentProducer, createKafka } from '../src/kafka.js';
import { createLogger } from '../src/log.js';
import { appendToOutbox, OutboxRelay } from '../src/outbox.js';
import {
  createTestEnvironment,
  deployTestDatabase,
  eventually,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { SERVICE_DATABASES } from '../../scripts/databases.js';
import { createTestTopics, publishedRecords } from './support/test-topics.js';

const log = createLogger('outbox-acknowledged-test');
const RELAY_SESSION = 'processor-relay-acknowledged-test';

let env: TestEnvironment;
let kafka: Kafka;
let adminPool: Pool;
let pool: Pool;
let topicCount = 0;

beforeAll(async () => {
  env = await createTestEnvironment('platform-outbox-acknowledged', []);
  await deployTestDatabase(env, SERVICE_DATABASES);
  adminPool = createPool(env.adminDatabaseUrl, { max: 2 });
  pool = createPool(testRoleUrl(env, 'processor_app'), {
    max: 3,
    applicationName: RELAY_SESSION,
  });
  kafka = createKafka(env.kafkaBrokers, 'outbox-acknowledged-test');
});

afterAll(async () => {
  await pool?.end();
  await adminPool?.end();
  await env?.cleanup();
});

/** A fresh one-partition topic per test, with an empty outbox. */
async function freshTopic(): Promise<string> {
  topicCount += 1;
  const topic = `${env.topicPrefix}acknowledged-${topicCount}`;
  await createTestTopics(kafka, [{ topic, numPartitions: 1, replicationFactor: -1 }]);
  await adminPool.query('DELETE FROM processor.outbox');
  return topic;
}

function newRelay(options: { idlePollMs?: number; batchSizeMax?: number } = {}): OutboxRelay {
  return new OutboxRelay({
    pool,
    schema: 'processor',
    createProducer: () => createIdempotentProducer(kafka),
    log,
    idlePollMs: 60_000,
    ...options,
  });
}

const record = (topic: string, key: string, text: string) => ({
  topic,
  key: Buffer.from(key),
  value: Buffer.from(text),
});

/** The values on `topic`, in order, once `count` have come (see publishedRecords). */
async function publishedValues(topic: string, count: number): Promise<string[]> {
  return (await publishedRecords(env.kafkaBrokers, topic, count)).map((r) => r.value);
}

async function outboxRows(): Promise<number> {
  const { rows } = await adminPool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM processor.outbox',
  );
  return rows[0]!.n;
}

test('the rows of a batch stay until the next batch reads, which deletes them; each goes out once', async () => {
  const topic = await freshTopic();
  const relay = newRelay();
  try {
    await appendToOutbox(pool, 'processor', [
      record(topic, 'payment-a', 'a1 accepted'),
      record(topic, 'payment-a', 'a2 debited'),
    ]);
    expect(await relay.publishBatch()).toBe(2);
    expect(await outboxRows()).toBe(2); // acknowledged, not deleted yet

    await appendToOutbox(pool, 'processor', [record(topic, 'payment-a', 'a3 completed')]);
    expect(await relay.publishBatch()).toBe(1);
    expect(await outboxRows()).toBe(1); // a1 and a2 went with the read of a3

    expect(await relay.publishBatch()).toBe(0);
    expect(await outboxRows()).toBe(0);
  } finally {
    await relay.stop();
  }
  expect(await publishedValues(topic, 3)).toEqual(['a1 accepted', 'a2 debited', 'a3 completed']);
});

test('a row with a lower id that commits after a batch was read goes out with the next batch', async () => {
  const topic = await freshTopic();
  const relay = newRelay();
  const late = await pool.connect();
  try {
    // The late transaction takes its id first and commits last.
    await late.query('BEGIN');
    await appendToOutbox(late, 'processor', [record(topic, 'payment-l', 'l1 late')]);
    await appendToOutbox(pool, 'processor', [record(topic, 'payment-e', 'e1 early')]);
    expect(await relay.publishBatch()).toBe(1);
    await late.query('COMMIT');
    // Left out by the ids just acknowledged, not by `id > the last id read`, it is not skipped.
    expect(await relay.publishBatch()).toBe(1);
    await appendToOutbox(pool, 'processor', [record(topic, 'payment-e', 'e2 next')]);
    expect(await relay.publishBatch()).toBe(1);
  } finally {
    late.release();
    await relay.stop();
  }
  expect(await outboxRows()).toBe(0);
  expect(await publishedValues(topic, 3)).toEqual(['e1 early', 'l1 late', 'e2 next']);
});

test('from the sixth read on (a generic plan), batches still leave out exactly what was acknowledged', async () => {
  // From the sixth execution a prepared statement may run a generic plan: every batch here is
  // read by it, and a late row of a lower id still goes out after the batch it missed.
  const topic = await freshTopic();
  const relay = newRelay({ batchSizeMax: 3 });
  const late = await pool.connect();
  const expected: string[] = [];
  try {
    for (let read = 1; read <= 7; read += 1) {
      const values = [1, 2, 3].map((n) => `r${read}.${n}`);
      await appendToOutbox(
        pool,
        'processor',
        values.map((v) => record(topic, 'payment-g', v)),
      );
      expected.push(...values);
      expect(await relay.publishBatch()).toBe(3);
    }
    await late.query('BEGIN');
    await appendToOutbox(late, 'processor', [record(topic, 'payment-g', 'late')]);
    await appendToOutbox(pool, 'processor', [record(topic, 'payment-g', 'early')]);
    expect(await relay.publishBatch()).toBe(1);
    await late.query('COMMIT');
    expect(await relay.publishBatch()).toBe(1);
    expect(await relay.publishBatch()).toBe(0);
    expected.push('early', 'late');
  } finally {
    late.release();
    await relay.stop();
  }
  expect(await outboxRows()).toBe(0);
  expect(await publishedValues(topic, expected.length)).toEqual(expected);
});

test('a relay whose session dies after the send leaves its rows to the next leader, which sends them again', async () => {
  const topic = await freshTopic();
  const first = newRelay();
  const next = newRelay();
  try {
    await appendToOutbox(pool, 'processor', [
      record(topic, 'payment-c', 'c1 accepted'),
      record(topic, 'payment-c', 'c2 debited'),
    ]);
    expect(await first.publishBatch()).toBe(2);
    // The leader's session ends before anything deleted the rows (a crash, a lost connection).
    const { rows } = await adminPool.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
       WHERE application_name = $1 AND query LIKE '%outbox%' AND datname = current_database()`,
      [RELAY_SESSION],
    );
    expect(rows.map((r) => r.ended)).toContain(true);
    // The next leader takes the lock once the session is gone, and sends both again.
    await eventually(async () => ((await next.publishBatch()) === 2 ? true : undefined), 'resend');
    expect(await next.publishBatch()).toBe(0);
    expect(await outboxRows()).toBe(0);
  } finally {
    await first.stop();
    await next.stop();
  }
  // Twice each, in order: the consumers drop the repeats by event id.
  expect(await publishedValues(topic, 4)).toEqual([
    'c1 accepted',
    'c2 debited',
    'c1 accepted',
    'c2 debited',
  ]);
});

test('a running relay deletes the last batch of a burst soon, not at its idle poll', async () => {
  const topic = await freshTopic();
  const relay = newRelay({ idlePollMs: 60_000 });
  relay.start();
  try {
    // The first idle read finds nothing and waits for a nudge or the minute's poll.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await appendToOutbox(pool, 'processor', [
      record(topic, 'payment-d', 'd1 accepted'),
      record(topic, 'payment-d', 'd2 debited'),
    ]);
    relay.nudge();
    await eventually(async () => ((await outboxRows()) === 0 ? true : undefined), 'deleted', 5_000);
  } finally {
    await relay.stop();
  }
  expect(await publishedValues(topic, 2)).toEqual(['d1 accepted', 'd2 debited']);
});

test('a relay that stops deletes what Kafka acknowledged', async () => {
  const topic = await freshTopic();
  const relay = newRelay();
  await appendToOutbox(pool, 'processor', [record(topic, 'payment-s', 's1 accepted')]);
  expect(await relay.publishBatch()).toBe(1);
  expect(await outboxRows()).toBe(1);
  await relay.stop();
  expect(await outboxRows()).toBe(0);
});
