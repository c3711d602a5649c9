// The outbox relay as several instances on the real broker and database: one leader publishes
// (a session lock held by its own connection), a commit made in another instance wakes it
// through that instance's NOTIFY (no nudge in its process, no poll in the wait), a commit
// itself notifies nothing (a notifying commit serialises every commit of the cluster), a
// standby publishes nothing while the leader lives and takes over when it stops, and order per
// key holds.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { createPool, type Pool } from '../src/db.js';
import { createIdempotentProducer, createKafka } from '../src/kafka.js';
import { createLogger } from '../src/log.js';
import { appendToOutbox, outboxChannel, OutboxRelay } from '../src/outbox.js';
import {
  createTestEnvironment,
  deployTestDatabase,
  eventually,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { SERVICE_DATABASES } from '../../scripts/databases.js';
import { createTestTopics } from './support/test-topics.js';

const log = createLogger('outbox-wakeup-test');
/** Far beyond every wait below: only a notification can make a relay publish in time. */
const IDLE_POLL_MS_NEVER = 600_000;

let env: TestEnvironment;
let kafka: Kafka;
let topic: string;
let adminPool: Pool;

beforeAll(async () => {
  env = await createTestEnvironment('platform-outbox-wakeup', []);
  await deployTestDatabase(env, SERVICE_DATABASES);
  adminPool = createPool(env.adminDatabaseUrl, { max: 2 });
  kafka = createKafka(env.kafkaBrokers, 'outbox-wakeup-test');
  topic = `${env.topicPrefix}wakeup`;
  await createTestTopics(kafka, [{ topic, numPartitions: 1, replicationFactor: -1 }]);
});

afterAll(async () => {
  await adminPool?.end();
  await env?.cleanup();
});

/** A relay as one more instance of the processor would run it, with its own pool and producer. */
async function instance(
  name: string,
  idlePollMs: number,
): Promise<{ relay: OutboxRelay; pool: Pool }> {
  const pool = createPool(testRoleUrl(env, 'processor_app'), { max: 2, applicationName: name });
  const createProducer = () => createIdempotentProducer(kafka);
  return {
    relay: new OutboxRelay({ pool, schema: 'processor', createProducer, log, idlePollMs }),
    pool,
  };
}

/** Values on the topic in partition order, once at least `count` are there. */
async function published(count: number): Promise<string[]> {
  const reader = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: 'outbox-wakeup-reader',
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `outbox-wakeup-reader-${randomUUID()}`, maxWaitTimeInMs: 50 });
  const seen: string[] = [];
  await reader.connect();
  try {
    await reader.subscribe({ topic, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
    await eventually(async () => (seen.length >= count ? true : undefined), `${count} records`);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a doubled record would show now
    return seen;
  } finally {
    await reader.disconnect();
  }
}

const record = (value: string) => ({
  topic,
  key: Buffer.from('one-key'),
  value: Buffer.from(value),
});

test('a commit from another process wakes the leader; the standby publishes nothing until the leader stops, then takes over', async () => {
  const leader = await instance('relay-leader', IDLE_POLL_MS_NEVER);
  leader.relay.start();
  // The leader is elected before the standby starts: it holds the lock and listens.
  await eventually(async () => {
    const { rows } = await adminPool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
        WHERE a.application_name = 'relay-leader' AND l.locktype = 'advisory' AND l.granted`,
    );
    return rows[0]?.n === 1 ? true : undefined;
  }, 'the leader holding the lock');
  // The other instance, not started: it polls never, so it cannot publish; its nudge notifies.
  const other = await instance('relay-other', IDLE_POLL_MS_NEVER);
  const standby = await instance('relay-standby', 200);
  standby.relay.start();
  try {
    const startedAt = Date.now();
    // A payment committed in the other instance, which nudges its own relay after the commit.
    await appendToOutbox(other.pool, 'processor', [record('#1'), record('#2')]);
    other.relay.nudge();
    expect(await published(2)).toEqual(['#1', '#2']);
    // Woken by the other instance's NOTIFY, not by a poll (the leader polls every 10 minutes).
    expect(Date.now() - startedAt).toBeLessThan(10_000);

    // The leader goes away: its session ends, the lock is free, the standby leads.
    await leader.relay.stop();
    await appendToOutbox(other.pool, 'processor', [record('#3')]);
    other.relay.nudge();
    expect(await published(3)).toEqual(['#1', '#2', '#3']);
    expect(await standby.relay.backlog()).toBe(0);
  } finally {
    await leader.relay.stop();
    await standby.relay.stop();
    await other.relay.stop();
    await leader.pool.end();
    await standby.pool.end();
    await other.pool.end();
  }
});

test('a commit to the outbox notifies nothing: only a relay that is not the leader does', async () => {
  const channel = outboxChannel('processor');
  const listener = new pg.Client({ connectionString: testRoleUrl(env, 'processor_app') });
  const heard: string[] = [];
  listener.on('notification', (n) => heard.push(n.channel));
  await listener.connect();
  const writer = await instance('relay-writer', IDLE_POLL_MS_NEVER);
  try {
    await listener.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    await appendToOutbox(writer.pool, 'processor', [record('#quiet')]);
    // A notification sent with the commit would be here well within this.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heard).toEqual([]);

    writer.relay.nudge();
    await eventually(async () => (heard.length > 0 ? true : undefined), 'the nudge notifying');
    expect(heard).toEqual([channel]);
  } finally {
    // No relay published it: the next test counts records on the topic.
    await adminPool.query('DELETE FROM processor.outbox');
    await writer.relay.stop();
    await writer.pool.end();
    await listener.end();
  }
});

test('a leader that stops answering (SIGSTOP) loses the lead: PostgreSQL ends its idle session and the standby publishes', async () => {
  const script = fileURLToPath(new URL('./support/relay-leader.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, testRoleUrl(env, 'processor_app'), env.kafkaBrokers.join(',')],
    { stdio: 'ignore' },
  );
  const standby = await instance('relay-standby-2', 200);
  const writer = createPool(testRoleUrl(env, 'processor_app'), { max: 1 });
  try {
    await eventually(
      async () => {
        const { rows } = await adminPool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
            WHERE a.application_name = 'relay-frozen-leader' AND l.locktype = 'advisory' AND l.granted`,
        );
        return rows[0]?.n === 1 ? true : undefined;
      },
      'the child leading',
      30_000,
    );
    standby.relay.start();
    child.kill('SIGSTOP');
    const before = (await published(3)).length;
    await appendToOutbox(writer, 'processor', [record('#frozen')]);
    // Its session idles past the leader's bound (10 s here), PostgreSQL ends it, the lock is
    // free and the standby, trying every 200 ms, publishes.
    const seen = await published(before + 1);
    expect(seen.slice(before)).toEqual(['#frozen']);
  } finally {
    child.kill('SIGKILL');
    await standby.relay.stop();
    await writer.end();
    await standby.pool.end();
  }
}, 60_000);

test('a channel name is cut to 63 bytes, as PostgreSQL cuts an identifier', async () => {
  const schema = 's'.repeat(70);
  const { rows } = await adminPool.query<{ channel: string }>(
    `SELECT left('outbox_' || $1::text, 63) AS channel`,
    [schema],
  );
  expect(outboxChannel(schema)).toBe(rows[0]?.channel);
  expect(outboxChannel(schema)).toHaveLength(63);
});
