// No message stalls a partition, on the real broker, registry and database: every kind of
// poison on ledger.step-posted (raw bytes, an unknown schema id, valid Avro with a non-uuid
// paymentId or an instant no Date holds, valid Avro breaking a business invariant) lands in
// ledgerline.dead-letter with its reason, source coordinates and original bytes; the good
// message after each is applied; the dead-letter metric counts them; a moment without
// PostgreSQL is retried and applied once; a consumer stuck or crashed on purpose is reported.
import avsc from 'avsc';
import { randomUUID } from 'node:crypto';
import { ATTEMPTS_MAX, ExactlyOnceConsumer, type BatchHandler } from '../src/consumer.js';
import { createPool, migrate, platformMigrations, type Pool } from '../src/db.js';
import { EventSerde } from '../src/events/serde.js';
import { prefixedTopic, type AnyTopic } from '../src/events/topic.js';
import { checkReadiness, consumerProbes } from '../src/http/readiness.js';
import { createIdempotentProducer, createKafka, ensureTopics } from '../src/kafka.js';
import { createLogger } from '../src/log.js';
import { createMetricsRegistry, type MetricsRegistry } from '../src/metrics.js';
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
import { stepPostedEvent, UNKNOWN_SCHEMA } from '@ledgerline/testkit/poison';
import type { Kafka, Producer } from 'kafkajs';

const SCHEMA = 'poison';
const log = createLogger('poison-test');

let env: TestEnvironment;
let pool: Pool;
let adminPool: Pool;
let kafka: Kafka;
let producer: Producer;
let serde: EventSerde;
let deadLetters: TopicReader<ReturnType<typeof ledgerlineDeadLetterConsumer>['topic']>;
let relay: OutboxRelay;

beforeAll(async () => {
  env = await createTestEnvironment('platform-poison', [
    ledgerStepPostedTopic,
    ledgerlineDeadLetterTopic,
  ]);
  adminPool = createPool(env.databaseUrl, { max: 2 });
  await migrate(adminPool, SCHEMA, platformMigrations(SCHEMA, 'poison_app'), {
    poison_app: 'poison',
  });
  await adminPool.query(
    `CREATE TABLE ${SCHEMA}.postings (event_id uuid PRIMARY KEY, payment_id uuid NOT NULL,
       posted_at timestamptz NOT NULL, amount_minor bigint NOT NULL)`,
  );
  pool = createPool(env.databaseUrl, { max: 4 });
  kafka = createKafka(env.kafkaBrokers, 'poison-test');
  producer = createIdempotentProducer(kafka);
  await producer.connect();
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
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
});

afterAll(async () => {
  await deadLetters?.stop();
  await relay?.stop();
  await producer?.disconnect();
  await pool?.end();
  await adminPool?.end();
  await env?.cleanup();
});

/** A step-posted topic of the test's own (each test reads its topic from the beginning). */
async function stepPostedTopic(name: string): Promise<AnyTopic> {
  const topic = prefixedTopic(
    ledgerStepPostedTopic as AnyTopic,
    `${env.topicPrefix.slice(0, -1)}-${name}.`,
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [topic]);
  } finally {
    await admin.disconnect();
  }
  await serde.prepare(topic);
  return topic;
}

/** One payment's key: every message of a test goes to one partition, in order. */
const posting = (paymentId: string, amountMinor = 1_250): PaymentStepPostedInput =>
  stepPostedEvent({ paymentId, amountMinor, balanceMinor: 10_000 - amountMinor });

// A producer that ignores logical types: valid Avro under the registered schema, any string
// in a uuid field and any long in a timestamp field.
async function looseAvro(topic: AnyTopic, value: Record<string, unknown>): Promise<Buffer> {
  const registered = await serde.encodeValue(topic, posting(randomUUID()) as never);
  const body = avsc.Type.forSchema(topic.valueSchema as avsc.Schema).toBuffer(value);
  return Buffer.concat([registered.subarray(0, 5), body]);
}

/** looseAvro, with the bytes of `marker` (a string of the value) replaced by `bytes`. */
async function withBytes(
  topic: AnyTopic,
  value: Record<string, unknown>,
  marker: string,
  bytes: number[],
): Promise<Buffer> {
  const encoded = await looseAvro(topic, value);
  const at = encoded.indexOf(marker);
  if (at < 0 || bytes.length !== marker.length) throw new Error(`no ${marker} to replace`);
  Buffer.from(bytes).copy(encoded, at);
  return encoded;
}

const looseValue = (overrides: Record<string, unknown>) => {
  const value = posting(randomUUID()) as unknown as Record<string, unknown>;
  return {
    ...value,
    occurredAt: Date.now(),
    postedAt: Date.now(),
    ...overrides,
  };
};

async function send(topic: AnyTopic, key: string, value: Buffer | null): Promise<void> {
  await producer.send({
    topic: topic.name,
    acks: -1,
    messages: [{ key: await serde.encodeKey(topic, key as never), value }],
  });
}

const encodeGood = async (topic: AnyTopic, value: PaymentStepPostedInput) =>
  serde.encodeValue(topic, value as never);

/** Applies postings; an amount over 1,000,000.00 breaks a business invariant of this handler. */
const applyPostings: BatchHandler = async (messages, { client }) => {
  for (const m of messages) {
    const value = m.value as {
      eventId: string;
      paymentId: string;
      postedAt: Date;
      amountMinor: number;
    };
    if (value.amountMinor > 100_000_000) {
      throw new Error(`invariant violated: a posting of ${value.amountMinor} exceeds the limit`);
    }
    // A plain INSERT: a doubled effect would fail loudly.
    await client.query(
      `INSERT INTO ${SCHEMA}.postings (event_id, payment_id, posted_at, amount_minor) VALUES ($1, $2, $3, $4)`,
      [value.eventId, value.paymentId, value.postedAt, value.amountMinor],
    );
  }
};

function consumer(
  topic: AnyTopic,
  groupId: string,
  handleBatch: BatchHandler,
  metrics: MetricsRegistry,
  extra: Partial<ConstructorParameters<typeof ExactlyOnceConsumer>[0]> = {},
): ExactlyOnceConsumer {
  return new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: SCHEMA,
    groupId: `${env.topicPrefix}${groupId}`,
    topics: [topic],
    handleBatch,
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
    metrics,
    retryBackoffMsMax: 200,
    onOutboxWritten: () => relay.nudge(),
    ...extra,
  });
}

const applied = async (eventId: string) =>
  (await pool.query(`SELECT 1 FROM ${SCHEMA}.postings WHERE event_id = $1`, [eventId])).rowCount ===
  1;

async function deadLetterCount(metrics: MetricsRegistry): Promise<number> {
  const metric = await metrics.getSingleMetric('ledgerline_consumer_dead_letters_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

test('every kind of poison on ledger.step-posted is dead-lettered with its reason and bytes, and the good message after it is applied', async () => {
  const metrics = createMetricsRegistry('poison-test');
  const topic = await stepPostedTopic('every-poison');
  const paymentId = randomUUID();
  const poisons: { what: string; value: Buffer | null; reason: RegExp; attempts: number }[] = [
    { what: 'raw bytes', value: Buffer.from('{"not":"avro"}'), reason: /wire format/, attempts: 1 },
    { what: 'a tombstone', value: null, reason: /no value \(a tombstone/, attempts: 1 },
    {
      what: 'an unknown schema id',
      value: UNKNOWN_SCHEMA,
      reason: /unknown writer schema id/,
      attempts: 1,
    },
    {
      what: 'valid Avro with paymentId "not-a-uuid"',
      value: await looseAvro(topic, looseValue({ paymentId: 'not-a-uuid' })),
      reason: /not-a-uuid.*not a UUID/,
      attempts: 1,
    },
    {
      what: 'valid Avro with a timestamp no Date holds',
      value: await looseAvro(topic, looseValue({ postedAt: 9_000_000_000_000_000 })),
      reason: /not a representable instant/,
      attempts: 1,
    },
    {
      what: 'valid Avro with U+0000 in a string',
      value: await looseAvro(topic, looseValue({ currency: 'E\u0000R' })),
      reason: /the string at "currency" contains U\+0000/,
      attempts: 1,
    },
    {
      what: 'Avro whose string is not UTF-8',
      value: await withBytes(topic, looseValue({ currency: 'QQQ' }), 'QQQ', [0xed, 0xa0, 0x80]),
      reason: /a string is not valid UTF-8/,
      attempts: 1,
    },
    {
      what: 'valid Avro breaking a business invariant',
      value: await encodeGood(topic, posting(paymentId, 500_000_000)),
      reason: /invariant violated: a posting of 500000000 exceeds the limit/,
      attempts: ATTEMPTS_MAX,
    },
  ];
  const goods = poisons.map(() => posting(paymentId));
  // poison, good, poison, good, ...: each poison is followed by a message that must be applied.
  for (const [i, poison] of poisons.entries()) {
    await send(topic, paymentId, poison.value);
    await send(topic, paymentId, await encodeGood(topic, goods[i]!));
  }

  const reconciliation = consumer(topic, 'reconciliation', applyPostings, metrics);
  await reconciliation.start();
  try {
    for (const good of goods) {
      await eventually(
        async () => ((await applied(good.eventId)) ? true : undefined),
        `${good.eventId} applied`,
      );
    }
    const letters = await deadLetters.waitFor(
      (records) =>
        records.filter((r) => r.value.consumer === `${env.topicPrefix}reconciliation`).length >=
        poisons.length,
    );
    const ours = letters.filter((r) => r.value.consumer === `${env.topicPrefix}reconciliation`);
    expect(ours).toHaveLength(poisons.length);
    for (const [i, poison] of poisons.entries()) {
      const letter = ours[i]!.value;
      expect({ what: poison.what, reason: letter.reason }).toEqual({
        what: poison.what,
        reason: expect.stringMatching(poison.reason),
      });
      expect(letter.sourceTopic).toBe(topic.name);
      expect(
        poison.value === null ? letter.value === null : letter.value?.equals(poison.value),
      ).toBe(true);
      expect(letter.attempts).toBe(poison.attempts);
      expect(ours[i]!.key).toBe(paymentId); // the original key decodes: one payment, one order
    }
    // Coordinates: the poisons sit at every other offset of one partition.
    const partition = ours[0]!.value.partition;
    expect(ours.map((r) => r.value.partition)).toEqual(poisons.map(() => partition));
    const offsets = ours.map((r) => Number(r.value.offset));
    expect(offsets.map((o) => o - offsets[0]!)).toEqual(poisons.map((_, i) => 2 * i));
    expect(await deadLetterCount(metrics)).toBe(poisons.length);
    // Nothing of the poison reached the table; every good message did, once.
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SCHEMA}.postings`,
    );
    expect(rows[0]!.n).toBe(goods.length);
    // The position moved past all ten messages.
    const position = await pool.query<{ next_offset: number }>(
      `SELECT next_offset FROM ${SCHEMA}.consumer_positions WHERE group_id = $1 AND partition = $2`,
      [`${env.topicPrefix}reconciliation`, partition],
    );
    expect(position.rows[0]!.next_offset).toBe(offsets[0]! + 2 * poisons.length);
    const exposition = await metrics.metrics();
    expect(exposition).toMatch(
      /ledgerline_consumer_committed_offset\{[^}]*partition="\d+"[^}]*\} \d+/,
    );
    expect(exposition).toMatch(/ledgerline_consumer_seconds_since_progress\{/);
    expect(exposition).toMatch(/ledgerline_consumer_lag_messages\{/);
  } finally {
    await reconciliation.stop();
  }
});

test('a string that holds U+FFFD in valid UTF-8 decodes; the same string in bytes that are not UTF-8 does not', async () => {
  const topic = await stepPostedTopic('replacement-character');
  const honest = await serde.decodeValue(
    topic,
    await looseAvro(topic, looseValue({ currency: 'E\uFFFD' })),
  );
  expect((honest as { currency: string }).currency).toBe('E\uFFFD');
  await expect(
    serde.decodeValue(
      topic,
      await withBytes(topic, looseValue({ currency: 'QQQQ' }), 'QQQQ', [0x45, 0xef, 0xbf, 0xbd]),
    ),
  ).resolves.toMatchObject({ currency: 'E\uFFFD' });
  await expect(
    serde.decodeValue(
      topic,
      await withBytes(topic, looseValue({ currency: 'QQ' }), 'QQ', [0x45, 0xff]),
    ),
  ).rejects.toThrow(/a string is not valid UTF-8/);
});

test('batches of several partitions are applied in one transaction; a poison among them is still isolated, and a restart re-applies nothing', async () => {
  const metrics = createMetricsRegistry('poison-test');
  const topic = await stepPostedTopic('coalesced');
  const groupId = `${env.topicPrefix}coalesced`;
  const calls: { partitions: number[]; transaction: string; records: number }[] = [];
  const recording: BatchHandler = async (messages, context) => {
    const { rows } = await context.client.query<{ txid: string }>(
      'SELECT txid_current()::text AS txid',
    );
    calls.push({
      partitions: [...context.partitions],
      transaction: rows[0]!.txid,
      records: messages.length,
    });
    // Each partition's records arrive in offset order.
    for (const p of context.partitions) {
      const offsets = messages.filter((m) => m.partition === p).map((m) => Number(m.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    await applyPostings(messages, context);
  };
  const sendAll = async (values: { key: string; value: Buffer }[]) =>
    producer.send({
      topic: topic.name,
      acks: -1,
      messages: await Promise.all(
        values.map(async (v) => ({
          key: await serde.encodeKey(topic, v.key as never),
          value: v.value,
        })),
      ),
    });
  const sent: string[] = [];
  /** This test's postings in the table (other tests share it). */
  const count = async () =>
    (
      await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${SCHEMA}.postings WHERE event_id = ANY($1::uuid[])`,
        [sent],
      )
    ).rows[0]!.n;

  // Waiting before the consumer starts: its first fetch holds every partition's records.
  const first = Array.from({ length: 24 }, () => posting(randomUUID()));
  sent.push(...first.map((p) => p.eventId));
  await sendAll(
    await Promise.all(
      first.map(async (p) => ({ key: p.paymentId!, value: await encodeGood(topic, p) })),
    ),
  );
  let c = consumer(topic, 'coalesced', recording, metrics);
  await c.start();
  try {
    await eventually(
      async () => ((await count()) === first.length ? true : undefined),
      'all applied',
    );
    const widest = calls.reduce((a, b) => (b.partitions.length > a.partitions.length ? b : a));
    expect(widest.partitions.length).toBeGreaterThanOrEqual(2);
    // One handler call per transaction: a group is one transaction, not one per partition.
    expect(new Set(calls.map((call) => call.transaction)).size).toBe(calls.length);
    const used = new Set(calls.flatMap((call) => call.partitions));

    // A poison (breaks the handler's invariant) sent together with good records of other
    // partitions: the group fails, its partitions are applied one by one, the poison alone is
    // dead-lettered after its attempts, every good record is applied once.
    const poisonPayment = randomUUID();
    const second = Array.from({ length: 12 }, () => posting(randomUUID()));
    sent.push(...second.map((p) => p.eventId));
    await sendAll([
      ...(await Promise.all(
        second.map(async (p) => ({ key: p.paymentId!, value: await encodeGood(topic, p) })),
      )),
      { key: poisonPayment, value: await encodeGood(topic, posting(poisonPayment, 500_000_000)) },
    ]);
    await eventually(
      async () => ((await count()) === first.length + second.length ? true : undefined),
      'the good records of the second send applied',
    );
    const letters = await deadLetters.waitFor((records) =>
      records.some((r) => r.value.consumer === groupId),
    );
    const ours = letters.filter((r) => r.value.consumer === groupId);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.key).toBe(poisonPayment);
    expect(ours[0]!.value.attempts).toBe(ATTEMPTS_MAX);
    expect(await deadLetterCount(metrics)).toBe(1);

    // Every partition's stored position is its end: nothing is left behind, nothing skipped.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic.name).finally(() => admin.disconnect());
    const { rows } = await pool.query<{ partition: number; next_offset: number }>(
      `SELECT partition, next_offset FROM ${SCHEMA}.consumer_positions WHERE group_id = $1`,
      [groupId],
    );
    const stored = new Map(rows.map((r) => [r.partition, r.next_offset]));
    for (const end of ends.filter((e) => Number(e.high) > 0)) {
      expect({ partition: end.partition, next: stored.get(end.partition) }).toEqual({
        partition: end.partition,
        next: Number(end.high),
      });
    }
    expect(used.size).toBeGreaterThanOrEqual(2);
  } finally {
    await c.stop();
  }

  // A new member of the group starts from the stored positions: nothing is applied twice (a
  // plain INSERT would fail loudly and end in the dead letters), and a new record is applied.
  calls.length = 0;
  c = consumer(topic, 'coalesced', recording, metrics);
  await c.start();
  try {
    const late = posting(randomUUID());
    sent.push(late.eventId);
    await send(topic, late.paymentId!, await encodeGood(topic, late));
    await eventually(
      async () => ((await applied(late.eventId)) ? true : undefined),
      'late applied',
    );
    expect(calls.reduce((n, call) => n + call.records, 0)).toBe(1);
    expect(await count()).toBe(24 + 12 + 1);
    expect(await deadLetterCount(metrics)).toBe(1);
  } finally {
    await c.stop();
  }
});

test('PostgreSQL dropping the connection in the middle of a batch is retried, and the posting is applied once', async () => {
  const metrics = createMetricsRegistry('poison-test');
  const topic = await stepPostedTopic('transient');
  const good = posting(randomUUID());
  let killed = 0;
  const flaky: BatchHandler = async (messages, context) => {
    if (killed === 0) {
      killed += 1;
      // The server ends this very session: what a PostgreSQL restart does to a consumer.
      const { rows } = await context.client.query<{ pid: number }>(
        'SELECT pg_backend_pid() AS pid',
      );
      await adminPool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    }
    await applyPostings(messages, context);
  };
  await send(topic, good.paymentId!, await encodeGood(topic, good));
  const c = consumer(topic, 'transient', flaky, metrics);
  await c.start();
  try {
    await eventually(
      async () => ((await applied(good.eventId)) ? true : undefined),
      'the posting applied',
    );
    expect(killed).toBe(1);
    const retries = await metrics.getSingleMetric('ledgerline_consumer_retries_total')?.get();
    expect(
      retries?.values.find((v) => v.labels['kind'] === 'transient')?.value,
    ).toBeGreaterThanOrEqual(1);
    expect(await deadLetterCount(metrics)).toBe(0);
  } finally {
    await c.stop();
  }
});

test('a consumer stuck on purpose makes readiness answer not ready, naming the consumer and the partition', async () => {
  const metrics = createMetricsRegistry('poison-test');
  let release: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const stuckHandler: BatchHandler = async () => blocked;
  const topic = await stepPostedTopic('stuck');
  const good = posting(randomUUID());
  await send(topic, good.paymentId!, await encodeGood(topic, good));
  const c = consumer(topic, 'stuck', stuckHandler, metrics, { stuckAfterMs: 1_000 });
  await c.start();
  try {
    const readiness = await eventually(async () => {
      const r = await checkReadiness(consumerProbes([c]));
      return r.status === 'not_ready' ? r : undefined;
    }, 'readiness to report the stuck consumer');
    const check = readiness.checks[`consumer:${env.topicPrefix}stuck`];
    expect(check?.status).toBe('down');
    expect(check?.detail).toMatch(
      new RegExp(
        `consumer ${env.topicPrefix.replace('.', '\\.')}stuck is stuck on ${topic.name.replace(/\./g, '\\.')}\\[\\d\\]`,
      ),
    );
    release();
    await eventually(
      async () =>
        (await checkReadiness(consumerProbes([c]))).status === 'ready' ? true : undefined,
      'readiness back once it moves',
    );
  } finally {
    release();
    await c.stop();
  }
});

test('a consumer that crashes (it cannot record a dead letter) makes readiness answer not ready, naming it', async () => {
  const metrics = createMetricsRegistry('poison-test');
  const topic = await stepPostedTopic('crash');
  await send(topic, randomUUID(), Buffer.from('poison whose dead letter cannot be written'));
  const c = consumer(topic, 'crashing', applyPostings, metrics, {
    encodeDeadLetter: async () => {
      throw new Error('dead-letter topic refused the record');
    },
    crashRetriesMax: 0,
    restartOnCrash: false,
  });
  await c.start();
  try {
    const readiness = await eventually(async () => {
      const r = await checkReadiness(consumerProbes([c]));
      return r.status === 'not_ready' ? r : undefined;
    }, 'readiness to report the crashed consumer');
    expect(readiness.checks[`consumer:${env.topicPrefix}crashing`]?.detail).toMatch(
      /crashed: .*dead-letter topic refused the record/,
    );
  } finally {
    await c.stop();
  }
});
