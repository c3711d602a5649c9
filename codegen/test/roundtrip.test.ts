// Every topic, through the real registry and broker: what the generated producer sends, the
// generated consumer decodes to the same value (logical types and the largest amount included).
import { Kafka, logLevel } from 'kafkajs';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { prefixedTopic } from '@ledgerline/platform/events/topic';
import { TopicConsumer, TopicProducer } from '@ledgerline/platform/events/typed';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { sampleValue } from './support/sample.js';

let env: TestEnvironment;
let kafka: Kafka;

beforeAll(async () => {
  env = await createTestEnvironment('codegen-roundtrip', allTopics);
  kafka = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: 'roundtrip',
    logLevel: logLevel.NOTHING,
  });
});

afterAll(async () => {
  await env.cleanup();
});

test.each(allTopics.map((t) => [t.name, t] as const))(
  '%s: the generated consumer decodes exactly what the generated producer sent',
  async (_name, generatedTopic) => {
    const topic = prefixedTopic(generatedTopic, env.topicPrefix);
    const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const key = sampleValue(topic.keySchema) as string;
    const value = sampleValue(topic.valueSchema) as never;
    await new TopicProducer(topic, serde, producer).send([{ key, value }]);
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${topic.name}-roundtrip`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: topic.name, fromBeginning: true });
    const decoder = new TopicConsumer(
      topic,
      new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: false }),
    );
    const received = await new Promise<{ key: unknown; value: unknown }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nothing arrived on ${topic.name} within 20 s`)),
        20_000,
      );
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          clearTimeout(timer);
          const decoded = await decoder.decode({
            ...message,
            partition,
            key: message.key,
            value: message.value,
          });
          resolve({ key: decoded.key, value: decoded.value });
        },
      });
    });
    await consumer.disconnect();
    expect(received.key).toEqual(key);
    expect(received.value).toEqual(value);
  },
);
