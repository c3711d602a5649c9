// Schema evolution on the real registry: a consumer built with an older schema keeps reading
// what a newer compatible producer writes, and the registry refuses exactly what the checker
// refuses, under the same compatibility mode.
import { Kafka, logLevel } from 'kafkajs';
import type avsc from 'avsc';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { defineTopic, prefixedTopic } from '@ledgerline/platform/events/topic';
import { TopicConsumer, TopicProducer } from '@ledgerline/platform/events/typed';
import {
  askRegistry,
  createTestEnvironment,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { paymentsStatusChangedTopic } from '@ledgerline/generated/topics';
import type { PaymentStatusChanged } from '@ledgerline/generated/avro/types';
import { checkCompatibility } from '../src/compat/modes.js';
import { registerSubject } from '../src/register.js';
import { sampleValue } from './support/sample.js';

let env: TestEnvironment;

beforeAll(async () => {
  env = await createTestEnvironment('codegen-evolution', [paymentsStatusChangedTopic]);
});

afterAll(async () => {
  await env.cleanup();
});

type RecordSchema = { type: 'record'; name: string; fields: Record<string, unknown>[] };

/** The next version of PaymentStatusChanged: one more optional field, with a default. */
function newerSchema(): RecordSchema {
  const current = structuredClone(
    paymentsStatusChangedTopic.valueSchema,
  ) as unknown as RecordSchema;
  current.fields.push({
    name: 'channel',
    type: ['null', 'string'],
    default: null,
    doc: 'Where the change came from (added in the next version).',
  });
  return current;
}

test('a consumer with the older schema reads events written with a newer compatible one', async () => {
  const readerTopic = prefixedTopic(paymentsStatusChangedTopic, env.topicPrefix);
  const writerTopic = defineTopic<
    string,
    PaymentStatusChanged & { channel: string | null },
    unknown
  >({
    ...readerTopic,
    valueSchema: newerSchema() as unknown as avsc.Schema,
  });
  const kafka = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: 'evolution',
    logLevel: logLevel.NOTHING,
  });
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  // The old version is registered first, as it would have been released.
  await serde.prepare(readerTopic);
  const producer = kafka.producer();
  await producer.connect();
  const value = {
    ...(sampleValue(readerTopic.valueSchema) as PaymentStatusChanged),
    channel: 'api',
  };
  const key = value.paymentId;
  await new TopicProducer(writerTopic, serde, producer).send([{ key, value }]);
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${readerTopic.name}-old-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: readerTopic.name, fromBeginning: true });
  const decoder = new TopicConsumer(
    readerTopic,
    new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: false }),
  );
  const decoded = await new Promise<PaymentStatusChanged>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('nothing arrived within 20 s')), 20_000);
    void consumer.run({
      eachMessage: async ({ message, partition }) => {
        clearTimeout(timer);
        resolve((await decoder.decode({ ...message, partition })).value);
      },
    });
  });
  await consumer.disconnect();
  const { channel: _channel, ...expected } = value;
  expect(decoded).toEqual(expected);
  expect(decoded).not.toHaveProperty('channel');
});

describe('the registry refuses what the checker refuses (FULL_TRANSITIVE)', () => {
  const base: RecordSchema = {
    type: 'record',
    name: 'Probe',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'amountMinor', type: 'long' },
    ],
  };
  const compatible: RecordSchema = {
    ...base,
    fields: [...base.fields, { name: 'note', type: ['null', 'string'], default: null }],
  };
  // A new field without a default: old data cannot be read with it (BACKWARD fails).
  const incompatible: RecordSchema = {
    ...base,
    fields: [...base.fields, { name: 'fee', type: 'long' }],
  };

  test.each([
    ['a new optional field with a default', compatible, true],
    ['a new required field without a default', incompatible, false],
  ] as const)('%s: checker and registry agree', async (_label, next, expectedCompatible) => {
    const subject = `${env.topicPrefix}probe-${expectedCompatible ? 'ok' : 'bad'}-value`;
    await registerSubject(
      env.schemaRegistryUrl,
      subject,
      base as unknown as avsc.Schema,
      'FULL_TRANSITIVE',
    );
    const verdict = checkCompatibility('FULL_TRANSITIVE', next as unknown as avsc.Schema, [
      base as unknown as avsc.Schema,
    ]);
    expect(verdict.compatible).toBe(expectedCompatible);
    const response = await askRegistry(
      env.schemaRegistryUrl,
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      { schema: JSON.stringify(next) },
    );
    expect(response.status).toBe(expectedCompatible ? 200 : 409);
    if (!expectedCompatible)
      expect(verdict.problems.map((p) => p.rule)).toContain('READER_FIELD_MISSING_DEFAULT_VALUE');
  });
});
