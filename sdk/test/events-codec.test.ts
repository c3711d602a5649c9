// @ledgerline/events speaks the platform's wire format both ways, through the real registry
// and Kafka: an event another team produces with eventProducer is read by the platform's own
// decoder, and an event the platform encodes is decoded by the SDK; bytes that are not in the
// Confluent wire format are refused by name.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka } from '@ledgerline/platform/kafka';
import {
  createTestEnvironment,
  TopicReader,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import type {
  PaymentStatusChanged,
  PaymentStatusChangedInput,
} from '@ledgerline/generated/avro/types';
import {
  allTopics,
  paymentsStatusChangedConsumer,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import type { Producer } from 'kafkajs';
import {
  createEventCodec,
  decodeEvent,
  eventProducer,
  UndecodableEventError,
  type EventCodec,
  type EventTopic,
} from '../events/src/serde.js';

// The package declares its topics this way (sdk/build.ts); here from the generated definition.
const statusChanged: EventTopic<string, PaymentStatusChanged, PaymentStatusChangedInput> =
  paymentsStatusChangedTopic;

let env: TestEnvironment;
let serde: EventSerde;
let codec: EventCodec;
let producer: Producer;

beforeAll(async () => {
  env = await createTestEnvironment('sdk-events', allTopics);
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  // The platform registers its schemas at deploy; the SDK only looks them up.
  await serde.prepare(paymentsStatusChangedTopic);
  codec = createEventCodec({ url: env.schemaRegistryUrl });
  producer = createKafka(env.kafkaBrokers, 'sdk-events-test').producer();
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await producer?.disconnect();
  await env?.cleanup();
});

function completed(paymentId: string): PaymentStatusChangedInput {
  return {
    eventId: randomUUID(),
    correlationId: randomUUID(),
    causationId: null,
    occurredAt: new Date('2026-12-04T23:00:00.000Z'),
    paymentId,
    version: 3,
    from: 'DEBITED',
    to: 'COMPLETED',
    reason: null,
    rejectionReason: null,
    payerAccountId: randomUUID(),
    payeeAccountId: randomUUID(),
    amountMinor: 1250,
    currency: 'EUR',
    refundedMinor: 0,
  } as PaymentStatusChangedInput;
}

describe('@ledgerline/events on the platform wire format', () => {
  it("produces a status change that the platform's own consumer decodes field for field", async () => {
    const paymentId = randomUUID();
    const event = completed(paymentId);
    const reader = await TopicReader.start(
      env.kafkaBrokers,
      paymentsStatusChangedConsumer(serde, { topicPrefix: env.topicPrefix }),
    );
    try {
      await eventProducer(statusChanged, codec, producer, {
        topicPrefix: env.topicPrefix,
      }).send(paymentId, event);
      const records = await reader.waitFor((rs) => rs.some((r) => r.key === paymentId));
      const record = records.find((r) => r.key === paymentId)!;
      expect(record.value).toMatchObject({ ...event, occurredAt: event.occurredAt });
    } finally {
      await reader.stop();
    }
  });

  it('decodes what the platform encodes, with a Date for the instant', async () => {
    const paymentId = randomUUID();
    const event = completed(paymentId);
    const decoded = await decodeEvent(statusChanged, codec, {
      key: await serde.encodeKey(paymentsStatusChangedTopic, paymentId),
      value: await serde.encodeValue(paymentsStatusChangedTopic, event),
    });
    expect(decoded.key).toBe(paymentId);
    expect(decoded.value.occurredAt).toBeInstanceOf(Date);
    expect(decoded.value).toMatchObject({ paymentId, to: 'COMPLETED', amountMinor: 1250 });
  });

  it('refuses bytes that are not in the Confluent wire format, naming the subject', async () => {
    await expect(
      decodeEvent(statusChanged, codec, {
        key: Buffer.from('not avro'),
        value: Buffer.from('{"to":"COMPLETED"}'),
      }),
    ).rejects.toThrow(UndecodableEventError);
    await expect(
      codec.decodeValue(statusChanged, Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1])),
    ).rejects.toThrow(/payments\.status-changed-value: unknown writer schema id/);
  });
});
