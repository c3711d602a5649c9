// contracts/topics.yaml + contracts/avro/ → an AsyncAPI 3.0 document: one channel per topic, one
// message per topic with its Avro value schema (self-contained, docs kept) and its key schema in
// the Kafka binding, Confluent wire format (the schema id travels in the payload, subjects by
// TopicNameStrategy), and one operation per producing or consuming service. Validated in
// npm test by the AsyncAPI project's own parser (codegen/test/asyncapi.test.ts).
import { selfContainedSchema, type AvroJson } from './avro/schema.js';
import { shortName } from './avro/typescript.js';
import type { Contracts } from './generate.js';
import { keySchemaOf, type TopicContract } from './topics.js';

export const AVRO_SCHEMA_FORMAT = 'application/vnd.apache.avro;version=1.9.0';
const KAFKA_BINDING_VERSION = '0.5.0';

/** Topic settings the Kafka channel binding 0.5.0 describes; the rest stays in x-config. */
const BINDING_TOPIC_SETTINGS = new Set([
  'cleanup.policy',
  'retention.ms',
  'retention.bytes',
  'delete.retention.ms',
  'max.message.bytes',
]);

/** `ledger.commands` → `ledgerCommands`: channel and operation ids are identifiers. */
export function channelId(topic: string): string {
  return topic.replace(/[.-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The operation id of `service` producing to (send) or consuming from (receive) a topic. */
export function operationId(service: string, action: 'send' | 'receive', topic: string): string {
  const channel = channelId(topic);
  return `${service}${action === 'send' ? 'Sends' : 'Receives'}${channel[0]!.toUpperCase()}${channel.slice(1)}`;
}

function topicConfiguration(config: Readonly<Record<string, string>>) {
  const binding: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!BINDING_TOPIC_SETTINGS.has(key)) continue;
    binding[key] = key === 'cleanup.policy' ? value.split(',') : Number(value);
  }
  return binding;
}

function channel(topic: TopicContract, messageName: string) {
  const other = Object.fromEntries(
    Object.entries(topic.config).filter(([key]) => !BINDING_TOPIC_SETTINGS.has(key)),
  );
  return {
    address: topic.name,
    title: topic.name,
    description: topic.doc,
    messages: { [messageName]: { $ref: `#/components/messages/${messageName}` } },
    bindings: {
      kafka: {
        topic: topic.name,
        partitions: topic.partitions,
        topicConfiguration: topicConfiguration(topic.config),
        bindingVersion: KAFKA_BINDING_VERSION,
      },
    },
    'x-compatibility': { key: topic.keyCompatibility, value: topic.valueCompatibility },
    ...(Object.keys(other).length > 0 ? { 'x-config': other } : {}),
  };
}

/**
 * The same Avro schema with every named type's full name split into `name` and `namespace`
 * (Apache Avro reads both forms alike; the AsyncAPI Avro schema accepts only a simple name).
 */
export function withSimpleNames(node: AvroJson): AvroJson {
  if (Array.isArray(node)) return node.map(withSimpleNames);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      typeof value === 'object' && value !== null ? withSimpleNames(value as AvroJson) : value;
  }
  const name = out['name'];
  if (
    typeof name === 'string' &&
    name.includes('.') &&
    ['record', 'enum', 'fixed', 'error'].includes(String(out['type']))
  ) {
    const dot = name.lastIndexOf('.');
    out['name'] = name.slice(dot + 1);
    out['namespace'] = name.slice(0, dot);
  }
  return out as AvroJson;
}

function message(contracts: Contracts, topic: TopicContract, key: AvroJson) {
  const schema = withSimpleNames(selfContainedSchema(contracts.catalogue, topic.value));
  const doc = (schema as { doc?: unknown }).doc;
  return {
    name: shortName(topic.value),
    title: topic.value,
    ...(typeof doc === 'string' ? { summary: doc } : {}),
    contentType: 'application/octet-stream',
    payload: { schemaFormat: AVRO_SCHEMA_FORMAT, schema },
    bindings: {
      kafka: {
        key: key as Record<string, unknown>,
        schemaIdLocation: 'payload',
        schemaIdPayloadEncoding: 'confluent',
        schemaLookupStrategy: 'TopicIdStrategy',
        bindingVersion: KAFKA_BINDING_VERSION,
      },
    },
    'x-subjects': { key: `${topic.name}-key`, value: `${topic.name}-value` },
  };
}

/** The AsyncAPI 3.0 document of every topic of contracts/topics.yaml. */
export function asyncapiDocument(contracts: Contracts): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const topic of contracts.topics) {
    const id = channelId(topic.name);
    const messageName = shortName(topic.value);
    const key = keySchemaOf(contracts.catalogue, topic);
    // A record may travel on two topics; its message is then one component per topic.
    const componentName = messageName in messages ? `${messageName}On${id}` : messageName;
    messages[componentName] = message(contracts, topic, key);
    channels[id] = channel(topic, componentName);
    const sides = [
      ...topic.producers.map((service) => ['send', service] as const),
      ...topic.consumers.map((service) => ['receive', service] as const),
    ];
    for (const [action, service] of sides) {
      operations[operationId(service, action, topic.name)] = {
        action,
        channel: { $ref: `#/channels/${id}` },
        messages: [{ $ref: `#/channels/${id}/messages/${componentName}` }],
        summary: `${service} ${action === 'send' ? 'publishes to' : 'consumes'} ${topic.name}`,
        tags: [{ name: service }],
      };
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Ledgerline events',
      version: '1.0.0',
      description:
        'Every Kafka topic of Ledgerline, generated from contracts/topics.yaml and contracts/avro/ ' +
        'by `npm run codegen`. Values and keys are Avro in the Confluent wire format (magic byte 0, ' +
        'then the 4-byte schema id); subjects are `<topic>-key` and `<topic>-value`.',
    },
    defaultContentType: 'application/octet-stream',
    servers: {
      local: {
        host: '127.0.0.1:19092',
        protocol: 'kafka',
        description: 'The local stack (`npm start`).',
      },
      deployment: {
        host: '{broker}',
        protocol: 'kafka',
        description:
          'A deployment: the brokers of KAFKA_BROKERS, with TLS and SASL from KAFKA_SSL, KAFKA_SSL_CA_FILE and KAFKA_SASL_* (README "Security"); subjects and schemas in the registry at SCHEMA_REGISTRY_URL.',
        variables: {
          broker: {
            description: 'host:port of a bootstrap broker (one of KAFKA_BROKERS).',
            examples: ['kafka-1.internal:9093'],
          },
        },
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
