// The platform's sessions plan each prepared statement once (force_generic_plan), from the
// statistics of that moment. A plan made while a table looked empty (a new database, an outbox
// just vacuumed) is a sequential scan, and it stays one as the table grows: the hazard these
// tests set up on the real PostgreSQL. The consumers' transactions and the outbox relay find
// every row by key and plan without sequential scans, so they take the index whatever the
// statistics said.
import type { Kafka } from 'kafkajs';
import {
  createPool,
  withKeyedTransaction,
  withTransaction,
  type Pool,
  type Queryable,
} from '../src/db.js';
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
import { ExactlyOnceConsumer } from '../src/consumer.js';
import { paymentsStatusChangedProducer } from '@ledgerline/generated/topics';
import {
  paymentStatusChange,
  startConsumerTestWorld,
  testDeadLetterEncoder,
  type ConsumerTestWorld,
} from './support/consumer-fixtures.js';

const log = createLogger('keyed-access-test');

let env: TestEnvironment;
let admin: Pool;

beforeAll(async () => {
  env = await createTestEnvironment('platform-keyed-access', []);
  await deployTestDatabase(env, SERVICE_DATABASES);
  admin = createPool(env.adminDatabaseUrl, { max: 2 });
});

afterAll(async () => {
  await admin?.end();
  await env?.cleanup();
});

interface Scans {
  seq: number;
  idx: number;
}

/**
 * Scans of the table: this session's own not yet flushed to the statistics
 * (pg_stat_xact_user_tables), or every session's flushed so far (pg_stat_user_tables).
 */
async function scansIn(
  view: 'pg_stat_xact_user_tables' | 'pg_stat_user_tables',
  db: Queryable,
  table: string,
): Promise<Scans> {
  const { rows } = await db.query<{ seq: string; idx: string }>(
    `SELECT coalesce(seq_scan, 0) AS seq, coalesce(idx_scan, 0) AS idx
       FROM ${view} WHERE relid = $1::regclass`,
    [table],
  );
  return { seq: Number(rows[0]?.seq ?? 0), idx: Number(rows[0]?.idx ?? 0) };
}

/** The scans of the table that `work` makes in this session. */
async function scansOf(db: Queryable, table: string, work: () => Promise<void>): Promise<Scans> {
  const before = await scansIn('pg_stat_xact_user_tables', db, table);
  await work();
  const after = await scansIn('pg_stat_xact_user_tables', db, table);
  return { seq: after.seq - before.seq, idx: after.idx - before.idx };
}

describe('a statement planned while its table looked empty', () => {
  const table = 'public.keyed_probe';
  // The same prepared statement in each session: planned at its first call, then reused.
  const probe = (ids: number[]) => ({
    name: 'keyed-probe',
    text: `SELECT body FROM ${table} WHERE id = ANY($1::bigint[])`,
    values: [ids],
  });
  let plain: Pool;
  let keyed: Pool;

  beforeAll(async () => {
    // Autovacuum off for the table: its statistics stay those of the empty table.
    await admin.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, body text NOT NULL)
         WITH (autovacuum_enabled = off)`,
    );
    await admin.query(`ANALYZE ${table}`);
    plain = createPool(env.adminDatabaseUrl, { max: 1, applicationName: 'keyed-probe-plain' });
    keyed = createPool(env.adminDatabaseUrl, { max: 1, applicationName: 'keyed-probe-keyed' });
    // Each session plans the statement now, with the table empty.
    await withTransaction(plain, (client) => client.query(probe([1])));
    await withKeyedTransaction(keyed, (client) => client.query(probe([1])));
    await admin.query(
      `INSERT INTO ${table} SELECT n, repeat('x', 200) FROM generate_series(1, 20000) AS n`,
    );
  });

  afterAll(async () => {
    await plain?.end();
    await keyed?.end();
  });

  test('scans the whole table on every call in an ordinary transaction (the hazard)', async () => {
    const scans = await withTransaction(plain, (client) =>
      scansOf(client, table, async () => {
        const { rows } = await client.query<{ body: string }>(probe([7, 19_999]));
        expect(rows).toHaveLength(2);
      }),
    );
    expect(scans).toEqual({ seq: 1, idx: 0 });
  });

  test('takes the index in a keyed transaction, and finds the same rows', async () => {
    const scans = await withKeyedTransaction(keyed, (client) =>
      scansOf(client, table, async () => {
        const { rows } = await client.query<{ body: string }>(probe([7, 19_999]));
        expect(rows).toHaveLength(2);
      }),
    );
    // PostgreSQL 18 counts one index search per key of the array.
    expect(scans.seq).toBe(0);
    expect(scans.idx).toBeGreaterThan(0);
  });

  test('the setting ends with the keyed transaction: the session plans as usual after it', async () => {
    const setting = await keyed.query<{ enable_seqscan: string }>('SHOW enable_seqscan');
    expect(setting.rows[0]?.enable_seqscan).toBe('on');
    // With a lock timeout as well, both travel with BEGIN and both end with the transaction.
    const inside = await withTransaction(
      keyed,
      async (client) => {
        const seqscan = await client.query<{ enable_seqscan: string }>('SHOW enable_seqscan');
        const lock = await client.query<{ lock_timeout: string }>('SHOW lock_timeout');
        return [seqscan.rows[0]?.enable_seqscan, lock.rows[0]?.lock_timeout];
      },
      { keyedAccess: true, lockTimeoutMs: 250 },
    );
    expect(inside).toEqual(['off', '250ms']);
    const after = await keyed.query<{ enable_seqscan: string }>('SHOW enable_seqscan');
    expect(after.rows[0]?.enable_seqscan).toBe('on');
  });
});

describe('the outbox relay, on an outbox analysed while empty', () => {
  let kafka: Kafka;
  let pool: Pool;

  beforeAll(async () => {
    kafka = createKafka(env.kafkaBrokers, 'keyed-access-test');
    pool = createPool(testRoleUrl(env, 'processor_app'), { max: 2 });
  });

  afterAll(async () => {
    await pool?.end();
  });

  test('reads and deletes its batches through the index, never by scanning the outbox', async () => {
    const topic = `${env.topicPrefix}keyed-relay`;
    await createTestTopics(kafka, [{ topic, numPartitions: 1, replicationFactor: -1 }]);
    // What the planner sees right after an autovacuum of an idle outbox: no rows at all. The
    // relay's first read plans its statement then.
    await admin.query('VACUUM ANALYZE processor.outbox');
    const relay = new OutboxRelay({
      pool,
      schema: 'processor',
      createProducer: () => createIdempotentProducer(kafka),
      log,
      idlePollMs: 60_000,
      batchSizeMax: 10,
    });
    let before: Scans;
    try {
      expect(await relay.publishBatch()).toBe(0);
      // Dead rows at the head of the outbox, as the rows a running relay has sent leave them.
      await appendToOutbox(
        pool,
        'processor',
        Array.from({ length: 2_000 }, (_, n) => ({
          topic,
          key: Buffer.from('dead'),
          value: Buffer.from(`dead ${n}`),
        })),
      );
      // A scan of its own (no keyed access), flushed to the statistics before they are read.
      const cleaner = await admin.connect();
      try {
        await cleaner.query('DELETE FROM processor.outbox');
        await cleaner.query('SELECT pg_stat_force_next_flush()');
      } finally {
        cleaner.release();
      }
      before = await eventually(async () => {
        const scans = await scansIn('pg_stat_user_tables', admin, 'processor.outbox');
        return scans.seq > 0 ? scans : undefined;
      }, 'the DELETE in the statistics');
    } catch (error) {
      await relay.stop();
      throw error;
    }

    const values = Array.from({ length: 60 }, (_, n) => `m${n}`);
    try {
      for (let n = 0; n < values.length; n += 10) {
        await appendToOutbox(
          pool,
          'processor',
          values.slice(n, n + 10).map((value) => ({
            topic,
            key: Buffer.from('k'),
            value: Buffer.from(value),
          })),
        );
        expect(await relay.publishBatch()).toBe(10);
      }
      expect(await relay.publishBatch()).toBe(0);
    } finally {
      // The relay's session ends with it, and its statistics are flushed as it exits.
      await relay.stop();
    }
    expect((await publishedRecords(env.kafkaBrokers, topic, 60)).map((r) => r.value)).toEqual(
      values,
    );
    const after = await eventually(async () => {
      const scans = await scansIn('pg_stat_user_tables', admin, 'processor.outbox');
      // Seven reads, each one scan of some kind, once flushed (the relay's session has ended).
      return scans.idx - before.idx + (scans.seq - before.seq) >= 7 ? scans : undefined;
    }, "the relay's reads in the statistics");
    expect(after.seq - before.seq).toBe(0);
  });
});

describe("a consumer's transactions", () => {
  let world: ConsumerTestWorld;
  let consumerPool: Pool;
  const table = 'keyed.probe';

  beforeAll(async () => {
    world = await startConsumerTestWorld('keyed-access', 'keyed');
    await world.pool.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, body text NOT NULL)
         WITH (autovacuum_enabled = off)`,
    );
    await world.pool.query(`ANALYZE ${table}`);
    // One session: the statement planned in the first batch is the one the later batches run.
    consumerPool = createPool(world.env.databaseUrl, { max: 1 });
  });

  afterAll(async () => {
    await consumerPool?.end();
    await world?.stop();
  });

  test('plan what the batch handler runs without sequential scans, even on a table that looked empty', async () => {
    const { kafka, serde, env, topic, producer } = world;
    const scansPerBatch: Scans[] = [];
    const consumer = new ExactlyOnceConsumer({
      kafka,
      pool: consumerPool,
      serde,
      log,
      schema: 'keyed',
      groupId: 'keyed-access',
      topics: [topic],
      handleBatch: async (messages, { client }) => {
        const scans = await scansOf(client, table, async () => {
          await client.query({
            name: 'keyed-probe',
            text: `SELECT body FROM ${table} WHERE id = ANY($1::bigint[])`,
            values: [messages.map((_, n) => n + 1)],
          });
        });
        scansPerBatch.push(scans);
      },
      encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
    });
    const typed = paymentsStatusChangedProducer(serde, { topicPrefix: env.topicPrefix });
    const send = async (): Promise<void> => {
      const value = paymentStatusChange();
      const encoded = await typed.encode(value.paymentId, value);
      await producer.send({ topic: topic.name, acks: -1, messages: [encoded] });
    };
    try {
      await consumer.start();
      // The first batch plans the statement while the table is empty.
      await send();
      await eventually(async () => (scansPerBatch.length >= 1 ? true : undefined), 'batch 1');
      await world.pool.query(
        `INSERT INTO ${table} SELECT n, repeat('x', 200) FROM generate_series(1, 20000) AS n`,
      );
      for (let sent = 2; sent <= 4; sent += 1) {
        await send();
        await eventually(
          async () => (scansPerBatch.length >= sent ? true : undefined),
          `batch ${sent}`,
        );
      }
    } finally {
      await consumer.stop();
    }
    expect(scansPerBatch.length).toBeGreaterThanOrEqual(4);
    for (const scans of scansPerBatch) expect(scans.seq).toBe(0);
  });
});
