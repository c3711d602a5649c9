// Kafka over TLS with SCRAM, the way a cloud broker (AWS MSK) is reached: an isolated local
// Kafka with the additional SASL_SSL listener (a certificate from a development CA, a SCRAM
// user), and the platform's real path through it: payment events written to an outbox,
// published by the idempotent relay, consumed exactly once into PostgreSQL, Avro on the wire
// with the shared registry. Client settings come from the same environment variables a
// service reads. A wrong password and an untrusted certificate are refused.
import type { Kafka } from 'kafkajs';
import {
  ledgerlineDeadLetterTopic,
  paymentsStatusChangedProducer,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import { paymentStatusChange, testDeadLetterEncoder } from './support/consumer-fixtures.js';
import { resolveStackConfig, startStack, stopStack } from '@ledgerline/stack';
import { saslSslListener, type SaslSslListener } from '@ledgerline/stack/kafka-sasl-ssl';
import { isolatedStack, type IsolatedStack } from '../../stack/test/support.js';
import { platformEndpoints } from '../src/config.js';
import { ExactlyOnceConsumer } from '../src/consumer.js';
import { createPool, migrate, platformMigrations, type Pool } from '../src/db.js';
import { EventSerde, registerSchema } from '../src/events/serde.js';
import { prefixedTopic } from '../src/events/topic.js';
import { createIdempotentProducer, createKafka, ensureTopics } from '../src/kafka.js';
import { createLogger } from '../src/log.js';
import { OutboxRelay, appendToOutbox } from '../src/outbox.js';
import { createTestEnvironment, freePort, type TestEnvironment } from '@ledgerline/testkit/testing';
import { kafkaSecurity } from '../src/transport-security.js';

const SCRAM_PASSWORD = 'scram-over-tls-test';
const log = createLogger('kafka-sasl-ssl-test');

let stack: IsolatedStack;
let listener: SaslSslListener;
let env: TestEnvironment;
let pool: Pool;
let kafka: Kafka;

/** What a service reads from its environment to reach a SASL_SSL broker. */
function clientEnvironment(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    KAFKA_SSL_CA_FILE: listener.caFile,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: listener.username,
    KAFKA_SASL_PASSWORD: SCRAM_PASSWORD,
    ...overrides,
  };
}

beforeAll(async () => {
  // Only Kafka is isolated: the shared PostgreSQL and registry are named as external.
  const shared = platformEndpoints();
  stack = await isolatedStack({
    DATABASE_URL: shared.databaseUrl,
    SCHEMA_REGISTRY_URL: shared.schemaRegistryUrl,
    LEDGERLINE_KAFKA_SASL_SSL_PORT: String(await freePort()),
    LEDGERLINE_KAFKA_SASL_PASSWORD: SCRAM_PASSWORD,
  });
  await startStack({ env: stack.env });
  listener = saslSslListener(resolveStackConfig(stack.env))!;
  env = await createTestEnvironment('kafka-sasl-ssl', []);
  pool = createPool(env.databaseUrl, { max: 4 });
  await migrate(pool, 'probe', platformMigrations('probe', 'probe_app'), { probe_app: 'probe' });
  await pool.query(
    'CREATE TABLE probe.effects (payment_id uuid PRIMARY KEY, amount_minor bigint NOT NULL)',
  );
  kafka = createKafka(listener.brokers, 'sasl-ssl-test', kafkaSecurity(clientEnvironment()));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [
      prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix),
      prefixedTopic(ledgerlineDeadLetterTopic, env.topicPrefix),
    ]);
  } finally {
    await admin.disconnect();
  }
}, 300_000);

afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
  if (stack) {
    await stopStack({ env: stack.env });
    await stack.remove();
  }
}, 120_000);

/** A payment completing with `amountMinor`. */
const completedPayment = (amountMinor: number) =>
  paymentStatusChange({ version: 3, from: 'DEBITED', to: 'COMPLETED', amountMinor });

async function waitForEffects(count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM probe.effects',
    );
    if (rows[0]!.n >= count) return;
    if (Date.now() > deadline)
      throw new Error(`${rows[0]!.n} of ${count} effects after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('payment events go through outbox, relay and the exactly-once consumer over SCRAM-SHA-512 on TLS, amounts intact', async () => {
  const topic = prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix);
  const deadLetterTopic = prefixedTopic(ledgerlineDeadLetterTopic, env.topicPrefix);
  // Registered beforehand, as the deploy step does outside development.
  for (const t of [topic, deadLetterTopic]) {
    await registerSchema(env.schemaRegistryUrl, t.keySubject, t.keySchema);
    await registerSchema(env.schemaRegistryUrl, t.valueSubject, t.valueSchema);
  }
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: false });
  const payments = [1, 250, 99_999, 1_000_000_00].map(completedPayment);
  const encoder = paymentsStatusChangedProducer(serde, { topicPrefix: env.topicPrefix });
  await appendToOutbox(
    pool,
    'probe',
    await Promise.all(payments.map((p) => encoder.encode(p.paymentId, p))),
  );

  const relay = new OutboxRelay({
    pool,
    schema: 'probe',
    createProducer: () => createIdempotentProducer(kafka),
    log,
  });
  try {
    expect(await relay.publishBatch()).toBe(4);
  } finally {
    await relay.stop();
  }

  const consumer = new ExactlyOnceConsumer({
    kafka,
    pool,
    serde,
    log,
    schema: 'probe',
    groupId: 'probe-sasl-ssl',
    topics: [topic],
    handleBatch: async (messages, { client }) => {
      for (const m of messages) {
        const value = m.value as { paymentId: string; amountMinor: number };
        await client.query('INSERT INTO probe.effects (payment_id, amount_minor) VALUES ($1, $2)', [
          value.paymentId,
          value.amountMinor,
        ]);
      }
    },
    encodeDeadLetter: testDeadLetterEncoder(serde, env.topicPrefix, [topic]),
  });
  await consumer.start();
  try {
    await waitForEffects(4);
  } finally {
    await consumer.stop();
  }
  const { rows } = await pool.query<{ payment_id: string; amount_minor: number }>(
    'SELECT payment_id, amount_minor FROM probe.effects ORDER BY amount_minor',
  );
  expect(rows).toEqual(
    payments.map((p) => ({ payment_id: p.paymentId, amount_minor: p.amountMinor })),
  );
});

test('a client with a wrong SCRAM password is refused by the broker', async () => {
  const intruder = createKafka(
    listener.brokers,
    'sasl-ssl-wrong-password',
    kafkaSecurity(clientEnvironment({ KAFKA_SASL_PASSWORD: 'not-the-password' })),
  ).admin();
  await expect(intruder.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  await intruder.disconnect();
});

test('a client that does not trust the listener certificate is refused before any credential is sent', async () => {
  // No CA file: the system CAs do not know the development CA.
  const untrusting = createKafka(
    listener.brokers,
    'sasl-ssl-untrusted',
    kafkaSecurity(clientEnvironment({ KAFKA_SSL_CA_FILE: '' })),
  ).admin();
  await expect(untrusting.connect()).rejects.toThrow(/certificate/i);
  await untrusting.disconnect();
});
