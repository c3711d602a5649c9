// @ledgerline/events: Ledgerline's events in the Confluent wire format (magic byte 0, 4-byte
// schema id, Avro body) through a Confluent-compatible Schema Registry, with no Kafka client
// of its own: the producer and consumer helpers take anything shaped like kafkajs's
// (`producer.send({ topic, messages })`, `eachMessage({ message })`), which is also the API of
// @confluentinc/kafka-javascript's KafkaJS-compatible mode. Decoding resolves the writer's
// schema (by id) into this package's reader schema, so a consumer keeps working while the
// platform evolves its events compatibly.
import avsc from 'avsc';
import { avroType } from '@ledgerline/platform/avro';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;
/** Bound on one registry request: a hung registry must not hang the consumer forever. */
const REGISTRY_TIMEOUT_MS_DEFAULT = 10_000;

/** One topic of the platform: names, subjects and schemas (see `topics`). */
export interface EventTopic<Key, Value, ValueInput = Value> {
  readonly name: string;
  readonly keySubject: string;
  readonly valueSubject: string;
  readonly keySchema: avsc.Schema;
  readonly valueSchema: avsc.Schema;
  /** Phantom members carrying the TypeScript types; never set at run time. */
  readonly __types?: { key: Key; value: Value; valueInput: ValueInput };
}

type AnyEventTopic = EventTopic<unknown, unknown, unknown>;
export type KeyOf<T> = T extends EventTopic<infer K, unknown, unknown> ? K : never;
export type ValueOf<T> = T extends EventTopic<unknown, infer V, unknown> ? V : never;
export type ValueInputOf<T> = T extends EventTopic<unknown, unknown, infer I> ? I : never;

export class UndecodableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndecodableEventError';
  }
}

export interface SchemaRegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://registry:8081 or .../apis/ccompat/v7. */
  readonly url: string;
  readonly auth?: { readonly username: string; readonly password: string };
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
}

/** The few Confluent REST calls the wire format needs, over fetch. */
export class SchemaRegistryClient {
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly send: typeof globalThis.fetch;

  constructor(options: SchemaRegistryOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.headers = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (options.auth !== undefined) {
      const token = Buffer.from(`${options.auth.username}:${options.auth.password}`).toString(
        'base64',
      );
      this.headers.authorization = `Basic ${token}`;
    }
    this.timeoutMs = options.timeoutMs ?? REGISTRY_TIMEOUT_MS_DEFAULT;
    this.send = options.fetch ?? globalThis.fetch;
  }

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.send(`${this.baseUrl}${path}`, {
      method,
      headers:
        body === undefined
          ? this.headers
          : { ...this.headers, 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  /** The schema registered under `id`, or null when the registry has no such id. */
  async schemaById(id: number): Promise<avsc.Schema | null> {
    const response = await this.call('GET', `/schemas/ids/${id}`);
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`registry: schema ${id}: HTTP ${response.status}`);
    const { schema } = (await response.json()) as { schema: string };
    return JSON.parse(schema) as avsc.Schema;
  }

  /** The id of `schema` as registered under `subject`; refuses an unregistered schema. */
  async idOf(subject: string, schema: avsc.Schema): Promise<number> {
    const response = await this.call('POST', `/subjects/${encodeURIComponent(subject)}`, {
      schema: JSON.stringify(schema),
    });
    if (response.status === 404) {
      throw new Error(`registry: this schema is not registered under ${subject}`);
    }
    if (!response.ok) throw new Error(`registry: ${subject}: HTTP ${response.status}`);
    return ((await response.json()) as { id: number }).id;
  }
}

/** Encodes and decodes the platform's events; caches schema ids and resolvers. */
export class EventCodec {
  private readonly readers = new Map<string, avsc.Type>();
  private readonly writerIds = new Map<string, Promise<number>>();
  private readonly resolvers = new Map<string, Promise<avsc.Resolver | null>>();

  constructor(readonly registry: SchemaRegistryClient) {}

  private reader(subject: string, schema: avsc.Schema): avsc.Type {
    let type = this.readers.get(subject);
    if (type === undefined) {
      type = avroType(schema);
      this.readers.set(subject, type);
    }
    return type;
  }

  private async encode(subject: string, schema: avsc.Schema, value: unknown): Promise<Buffer> {
    let id = this.writerIds.get(subject);
    if (id === undefined) {
      id = this.registry.idOf(subject, schema);
      id.catch(() => this.writerIds.delete(subject));
      this.writerIds.set(subject, id);
    }
    const body = this.reader(subject, schema).toBuffer(value);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(MAGIC_BYTE, 0);
    header.writeUInt32BE(await id, 1);
    return Buffer.concat([header, body]);
  }

  private async decode(
    subject: string,
    schema: avsc.Schema,
    buffer: Buffer | null | undefined,
  ): Promise<unknown> {
    if (!buffer || buffer.length < HEADER_BYTES || buffer.readUInt8(0) !== MAGIC_BYTE) {
      throw new UndecodableEventError(`${subject}: not in Confluent wire format`);
    }
    const writerId = buffer.readUInt32BE(1);
    const reader = this.reader(subject, schema);
    const cacheKey = `${subject}:${writerId}`;
    let resolver = this.resolvers.get(cacheKey);
    if (resolver === undefined) {
      resolver = this.registry.schemaById(writerId).then((writerSchema) => {
        if (writerSchema === null) {
          throw new UndecodableEventError(`${subject}: unknown writer schema id ${writerId}`);
        }
        const writer = avroType(writerSchema);
        return reader.equals(writer) ? null : reader.createResolver(writer);
      });
      resolver.catch(() => this.resolvers.delete(cacheKey));
      this.resolvers.set(cacheKey, resolver);
    }
    const resolved = await resolver;
    try {
      const body = buffer.subarray(HEADER_BYTES);
      return resolved === null ? reader.fromBuffer(body) : reader.fromBuffer(body, resolved);
    } catch (error) {
      throw new UndecodableEventError(`${subject}: ${(error as Error).message}`);
    }
  }

  encodeKey<T extends AnyEventTopic>(topic: T, key: KeyOf<T>): Promise<Buffer> {
    return this.encode(topic.keySubject, topic.keySchema, key);
  }

  encodeValue<T extends AnyEventTopic>(topic: T, value: ValueInputOf<T>): Promise<Buffer> {
    return this.encode(topic.valueSubject, topic.valueSchema, value);
  }

  async decodeKey<T extends AnyEventTopic>(topic: T, buffer: Buffer | null): Promise<KeyOf<T>> {
    return (await this.decode(topic.keySubject, topic.keySchema, buffer)) as KeyOf<T>;
  }

  async decodeValue<T extends AnyEventTopic>(topic: T, buffer: Buffer | null): Promise<ValueOf<T>> {
    return (await this.decode(topic.valueSubject, topic.valueSchema, buffer)) as ValueOf<T>;
  }
}

/** A Kafka message as kafkajs and @confluentinc/kafka-javascript (KafkaJS API) deliver it. */
export interface KafkaMessageLike {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset?: string;
}

/** A producer as kafkajs and @confluentinc/kafka-javascript (KafkaJS API) offer it. */
export interface KafkaProducerLike {
  send(record: {
    topic: string;
    messages: { key: Buffer; value: Buffer; headers?: Record<string, string> }[];
  }): Promise<unknown>;
}

export interface DecodedEvent<T extends AnyEventTopic> {
  readonly topic: string;
  readonly key: KeyOf<T>;
  readonly value: ValueOf<T>;
  readonly offset: string | undefined;
}

/** The topic's name in an environment that prefixes topics (e.g. `staging.`). */
export function topicName(topic: AnyEventTopic, topicPrefix = ''): string {
  return `${topicPrefix}${topic.name}`;
}

/** Typed producer of one topic over a kafkajs-shaped producer. */
export function eventProducer<T extends AnyEventTopic>(
  topic: T,
  codec: EventCodec,
  producer: KafkaProducerLike,
  options: { topicPrefix?: string } = {},
): {
  send(key: KeyOf<T>, value: ValueInputOf<T>, headers?: Record<string, string>): Promise<void>;
} {
  const name = topicName(topic, options.topicPrefix);
  return {
    async send(key, value, headers) {
      const [encodedKey, encodedValue] = await Promise.all([
        codec.encodeKey(topic, key),
        codec.encodeValue(topic, value),
      ]);
      await producer.send({
        topic: name,
        messages: [{ key: encodedKey, value: encodedValue, ...(headers ? { headers } : {}) }],
      });
    },
  };
}

/** Decodes one message of the topic into its typed key and value. */
export async function decodeEvent<T extends AnyEventTopic>(
  topic: T,
  codec: EventCodec,
  message: KafkaMessageLike,
  topicPrefix = '',
): Promise<DecodedEvent<T>> {
  const [key, value] = await Promise.all([
    codec.decodeKey(topic, message.key),
    codec.decodeValue(topic, message.value),
  ]);
  return { topic: topicName(topic, topicPrefix), key, value, offset: message.offset };
}

/**
 * An `eachMessage` handler for `consumer.run({ eachMessage })` that decodes each message of
 * the topic and hands it to `handle` typed.
 */
export function eachEvent<T extends AnyEventTopic>(
  topic: T,
  codec: EventCodec,
  handle: (event: DecodedEvent<T>) => Promise<void> | void,
  options: { topicPrefix?: string } = {},
): (payload: { message: KafkaMessageLike }) => Promise<void> {
  return async ({ message }) => {
    await handle(await decodeEvent(topic, codec, message, options.topicPrefix));
  };
}

/** A codec over a registry URL: the usual way to start. */
export function createEventCodec(options: SchemaRegistryOptions): EventCodec {
  return new EventCodec(new SchemaRegistryClient(options));
}
