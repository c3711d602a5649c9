// `npx ledgerline dead-letters` end to end on the real broker, registry and database: a
// posting over the consumer's limit is dead-lettered after its bounded attempts; the operator
// lists it, shows it (reason, service, coordinates, the decoded original), raises the limit
// (the fix) and replays it; the posting is applied once, and a second replay changes nothing.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { REPO_ROOT } from '../src/config.js';
import { ATTEMPTS_MAX, ExactlyOnceConsumer, type BatchHandler } from '../src/consumer.js';
import { createPool, migrate, platformMigrations, type Pool } from '../src/db.js';
import { EventSerde } from '../src/events/serde.js';
import { prefixedTopic, type AnyTopic } from '../src/events/topic.js';
import { createIdempotentProducer, createKafka } from '../src/kafka.js';
import { createLogger } from '../src/log.js';
import { OutboxRelay } from '../src/outbox.js';
import {
  createTestEnvironment,
  eventually,
  TopicReader,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import {
  ledgerlineDeadLetterConsumer,
  ledgerlineDeadLetterTopic,
  ledgerStepPostedTopic,
} from '@ledgerline/generated/topics';
import { testDeadLetterEncoder } from './support/consumer-fixtures.js';
import type { PaymentStepPostedInput } from '@ledgerline/generated/avro/types';
import { stepPostedEvent } from '@ledgerline/testkit/poison';

const SCHEMA = 'dead_letters_cli';
const log = createLogger('dead-letters-cli-test');
const CLI = path.join(REPO_ROOT, 'codegen', 'bin', 'ledgerline.js');

let env: TestEnvironment;
let pool: Pool;
let kafka: Kafka;
let producer: Producer;
let serde: EventSerde;
let relay: OutboxRelay;
let topic: AnyTopic;
let deadLetters: TopicReader<typeof ledgerlineDeadLetterTopic>;
let consumer: ExactlyOnceConsumer;
/** The consumer's business limit; the "fix" raises it. */
let postingMinorMax = 100_000_000;

/** Applies postings idempotently under their eventId, refusing amounts over the limit. */
const applyPostings: BatchHandler = async (messages, { client }) => {
  for (const m of messages) {
    const value = m.value as { eventId: string; paymentId: string; amountMinor: number };
    if (value.amountMinor > postingMinorMax) {
      throw new Error(
        `posting limit exceeded: ${value.amountMinor} minor units over ${postingMinorMax}`,
      );
    }
    await client.query(
      `INSERT INTO ${SCHEMA}.postings (event_id, payment_id, amount_minor) VALUES ($1, $2, $3)
       ON CONFLICT (event_id) DO NOTHING`,
      [value.eventId, value.paymentId, value.amountMinor],
    );
  }
};

beforeAll(async () => {
  env = await createTestEnvironment('platform-dead-letters-cli', [
    ledgerStepPostedTopic,
    ledgerlineDeadLetterTopic,
  ]);
  pool = createPool(env.databaseUrl, { max: 4 });
  await migrate(pool, SCHEMA, platformMigrations(SCHEMA, 'dead_letters_cli_app'), {
    dead_letters_cli_app: 'dead-letters-cli',
  });
  await pool.query(
    `CREATE TABLE ${SCHEMA}.postings (event_id uuid PRIMARY KEY, payment_id uuid NOT NULL,
       amount_minor bigint NOT NULL)`,
  );
  kafka = createKafka(env.kafkaBrokers, 'dead-letters-cli-test');
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  topic = prefixedTopic(ledgerStepPostedTopic as AnyTopic, env.topicPrefix);
  relay = new OutboxRelay({
    pool,
    schema: SCHEMA,
    createProducer: () => createIdempotentProducer(kafka),
    log,
    idlePollMs: 50,
  });
  relay.start();
  deadLetters = await TopicReader.start(
    env.kafkaBrokers,
    ledgerlineDeadLetterConsumer(serde, { topicPrefix: env.topicPrefix }),
  );
  consumer = new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: SCHEMA,
    groupId: `${env.topicPrefix}ledger`,
    topics: [topic],
    handleBatch: applyPostings,
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
    retryBackoffMsMax: 200,
    onOutboxWritten: () => relay.nudge(),
  });
  await consumer.start();
});

afterAll(async () => {
  await consumer?.stop();
  await deadLetters?.stop();
  await relay?.stop();
  await producer?.disconnect();
  await pool?.end();
  await env?.cleanup();
});

const posting = (amountMinor: number): PaymentStepPostedInput => stepPostedEvent({ amountMinor });

async function send(value: PaymentStepPostedInput): Promise<void> {
  await producer.send({
    topic: topic.name,
    acks: -1,
    messages: [
      {
        key: await serde.encodeKey(topic, value.paymentId as never),
        value: await serde.encodeValue(topic, value as never),
        headers: { 'x-correlation-id': value.correlationId },
      },
    ],
  });
}

/** `npx ledgerline dead-letters ...` as an operator runs it, against the test's topics. */
async function ledgerline(
  ...args: string[]
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'dead-letters', ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
      LEDGERLINE_TOPIC_PREFIX: env.topicPrefix,
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const exitCode = await new Promise<number>((resolve) =>
      child.once('close', (code) => resolve(code ?? -1)),
    );
    return { exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

const appliedCount = async (eventId: string) =>
  (
    await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SCHEMA}.postings WHERE event_id = $1`,
      [eventId],
    )
  ).rows[0]!.n;

async function positionOf(partition: number): Promise<number> {
  const { rows } = await pool.query<{ next_offset: number }>(
    `SELECT next_offset FROM ${SCHEMA}.consumer_positions WHERE topic = $1 AND partition = $2`,
    [topic.name, partition],
  );
  return rows[0]?.next_offset ?? 0;
}

test('a dead-lettered posting is listed, shown, replayed after the fix and applied once; a second replay changes nothing', async () => {
  const poison = posting(500_000_000);
  const good = posting(1_250);
  await send(poison);
  await send(good);
  await eventually(
    async () => ((await appliedCount(good.eventId)) === 1 ? true : undefined),
    'the good posting applied',
  );
  const [letter] = await deadLetters.waitFor((records) => records.length >= 1);
  const id = letter!.value.eventId;
  const source = `${topic.name}[${letter!.value.partition}]@${letter!.value.offset}`;

  const list = await ledgerline('list');
  expect(list).toMatchObject({ exitCode: 0 });
  const line = list.stdout.split('\n').find((l) => l.startsWith(id));
  expect(line).toBeDefined();
  expect(line).toContain('  ledger  '); // the service, without the environment's prefix
  expect(line).toContain(source);
  expect(line).toContain(`attempts=${ATTEMPTS_MAX}`);
  expect(line).toContain('posting limit exceeded: 500000000 minor units over 100000000');
  expect(list.stdout).toMatch(/1 dead letter\(s\) shown of 1 on /);
  // Filters: another consumer's dead letters are not this one.
  const none = await ledgerline('list', '--consumer', `${env.topicPrefix}audit`);
  expect(none.stdout).not.toContain(id);

  const show = await ledgerline('show', '--id', id);
  expect(show.exitCode).toBe(0);
  expect(show.stdout).toMatch(/^service +ledger$/m);
  expect(show.stdout).toMatch(new RegExp(`^source +${source.replace(/[.[\]]/g, '\\$&')}$`, 'm'));
  expect(show.stdout).toMatch(/^reason +Error: posting limit exceeded: 500000000 minor units/m);
  expect(show.stdout).toMatch(/^decoded +yes$/m);
  expect(show.stdout).toContain(`"paymentId": "${poison.paymentId}"`);
  expect(show.stdout).toContain('"amountMinor": 500000000');
  expect(show.stdout).toContain(`"x-correlation-id": "${poison.correlationId}"`);
  expect(await appliedCount(poison.eventId)).toBe(0);

  // The fix: the consumer now accepts the amount. Replay re-publishes the original bytes.
  postingMinorMax = 1_000_000_000;
  const replay = await ledgerline('replay', '--id', id);
  expect(replay.exitCode).toBe(0);
  const landed = /re-published as \S+\[(\d+)\]@(\d+)/.exec(replay.stdout);
  expect(landed).not.toBeNull();
  expect(Number(landed![1])).toBe(letter!.value.partition); // same key, same partition
  await eventually(
    async () => ((await appliedCount(poison.eventId)) === 1 ? true : undefined),
    'the replayed posting applied',
  );

  const again = await ledgerline('replay', '--id', id);
  expect(again.exitCode).toBe(0);
  const second = /re-published as \S+\[(\d+)\]@(\d+)/.exec(again.stdout)!;
  // The consumer moved past the second copy, and the posting is still there once.
  await eventually(
    async () => ((await positionOf(Number(second[1]))) > Number(second[2]) ? true : undefined),
    'the consumer past the second replay',
  );
  expect(await appliedCount(poison.eventId)).toBe(1);
  expect(await appliedCount(good.eventId)).toBe(1);
  expect(deadLetters.records).toHaveLength(1);
}, 240_000);

test('an unknown id, a missing --id or a limit out of bounds is refused with a clear message', async () => {
  const unknown = randomUUID();
  const notFound = await ledgerline('replay', '--id', unknown);
  expect(notFound).toMatchObject({ exitCode: 1 });
  expect(notFound.stderr).toContain(`no dead letter with id ${unknown}`);
  const missing = await ledgerline('show');
  expect(missing.exitCode).toBe(2);
  expect(missing.stderr).toContain('show needs --id <eventId>');
  const badLimit = await ledgerline('list', '--limit', '0');
  expect(badLimit.exitCode).toBe(2);
  expect(badLimit.stderr).toContain('--limit must be a whole number in 1..10000');
}, 120_000);
