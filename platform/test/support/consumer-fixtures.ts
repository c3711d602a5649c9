// What the platform's consumer tests share: their world (a test environment with the two topics,
// a schema with the platform's consumer tables, a Kafka client, a serde and a producer), a
// payments.status-changed event to produce, and the dead-letter encoder an ExactlyOnceConsumer needs (the generated
// dead-letter producer behind the platform's deadLetterEncoder), as a service wires it.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import type { DeadLetterEncoder } from '../../src/consumer.js';
import { createPool, migrate, platformMigrations, type Pool } from '../../src/db.js';
import { deadLetterEncoder } from '../../src/dead-letter.js';
import { EventSerde } from '../../src/events/serde.js';
import { prefixedTopic, type AnyTopic } from '../../src/events/topic.js';
import {
  ledgerlineDeadLetterProducer,
  ledgerlineDeadLetterTopic,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import type { PaymentStatusChangedInput } from '@ledgerline/generated/avro/types';

/** A PENDING → DEBITED status change of a new payment; `overrides` replace any field. */
export function paymentStatusChange(
  overrides: Partial<PaymentStatusChangedInput> = {},
): PaymentStatusChangedInput {
  const paymentId = overrides.paymentId ?? randomUUID();
  return {
    eventId: randomUUID(),
    correlationId: paymentId,
    occurredAt: new Date(),
    paymentId,
    version: 2,
    from: 'PENDING',
    to: 'DEBITED',
    reason: null,
    rejectionReason: null,
    payerAccountId: randomUUID(),
    payeeAccountId: randomUUID(),
    amountMinor: 1_000,
    currency: 'EUR',
    refundedMinor: 0,
    ...overrides,
  };
}

/** Dead letters of `sourceTopics` encoded for ledgerline.dead-letter under `topicPrefix`. */
export function testDeadLetterEncoder(
  serde: EventSerde,
  topicPrefix: string,
  sourceTopics: readonly AnyTopic[],
): DeadLetterEncoder {
  const deadLetters = ledgerlineDeadLetterProducer(serde, { topicPrefix });
  return deadLetterEncoder({
    serde,
    sourceTopics,
    encode: (key, value) => deadLetters.encode(key, value),
  });
}

export interface ConsumerTestWorld {
  env: TestEnvironment;
  /** Owner of `schema`, which holds the platform's consumer tables (positions, outbox). */
  pool: Pool;
  kafka: Kafka;
  /** Registers missing schemas, as development does. */
  serde: EventSerde;
  /** payments.status-changed under the environment's prefix. */
  topic: typeof paymentsStatusChangedTopic;
  /** Idempotent, connected; the world's stop disconnects it. */
  producer: Producer;
  stop(): Promise<void>;
}

/** A test environment with payments.status-changed and the dead letters, and `schema` migrated. */
export async function startConsumerTestWorld(
  name: string,
  schema: string,
): Promise<ConsumerTestWorld> {
  const env = await createTestEnvironment(`platform-${name}`, [
    paymentsStatusChangedTopic,
    ledgerlineDeadLetterTopic,
  ]);
  const pool = createPool(env.databaseUrl);
  const role = `${schema}_app`;
  await migrate(pool, schema, platformMigrations(schema, role), { [role]: schema });
  const kafka = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: name,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    env,
    pool,
    kafka,
    serde: new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true }),
    topic: prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix),
    producer,
    stop: async () => {
      await producer.disconnect();
      await pool.end();
      await env.cleanup();
    },
  };
}
