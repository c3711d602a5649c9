// The typed producer and consumer that the generator instantiates for every topic.
import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import type { EventSerde } from './serde.js';
import type { AnyTopic, KeyOf, ValueInputOf, ValueOf } from './topic.js';

export interface EncodedMessage {
  topic: string;
  key: Buffer;
  value: Buffer;
  headers?: IHeaders;
}

/** A message as it came off the wire: what a dead letter carries, untouched. */
export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp?: string;
  headers?: IHeaders;
}

export interface DecodedMessage<T extends AnyTopic> {
  topic: string;
  partition: number;
  offset: string;
  key: KeyOf<T>;
  value: ValueOf<T>;
  headers: IHeaders;
  timestamp: string;
  /** The original bytes, for a dead letter if the decoded value breaks a business rule. */
  raw: RawMessage;
}

export class TopicProducer<T extends AnyTopic> {
  constructor(
    readonly topic: T,
    private readonly serde: EventSerde,
    private readonly producer?: Producer,
  ) {}

  /** Encodes to the wire format, e.g. to store in a transactional outbox. */
  async encode(key: KeyOf<T>, value: ValueInputOf<T>, headers?: IHeaders): Promise<EncodedMessage> {
    const [k, v] = await Promise.all([
      this.serde.encodeKey(this.topic, key),
      this.serde.encodeValue(this.topic, value),
    ]);
    return headers
      ? { topic: this.topic.name, key: k, value: v, headers }
      : { topic: this.topic.name, key: k, value: v };
  }

  /** Sends directly (acks from all in-sync replicas). Services publish through their outbox. */
  async send(
    messages: ReadonlyArray<{ key: KeyOf<T>; value: ValueInputOf<T>; headers?: IHeaders }>,
  ): Promise<void> {
    if (!this.producer)
      throw new Error(`producer for ${this.topic.name} was built without a Kafka producer`);
    const encoded = await Promise.all(messages.map((m) => this.encode(m.key, m.value, m.headers)));
    await this.producer.send({
      topic: this.topic.name,
      acks: -1,
      messages: encoded.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
    });
  }
}

export class TopicConsumer<T extends AnyTopic> {
  constructor(
    readonly topic: T,
    private readonly serde: EventSerde,
  ) {}

  /** Decodes a record as kafkajs fetched it from `partition`. */
  decodeFetched(partition: number, message: KafkaMessage): Promise<DecodedMessage<T>> {
    return this.decode({
      partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers: message.headers ?? {},
      timestamp: message.timestamp,
    });
  }

  async decode(message: {
    partition: number;
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    headers?: IHeaders;
    timestamp: string;
  }): Promise<DecodedMessage<T>> {
    const [key, value] = await Promise.all([
      this.serde.decodeKey(this.topic, message.key),
      this.serde.decodeValue(this.topic, message.value),
    ]);
    return {
      topic: this.topic.name,
      partition: message.partition,
      offset: message.offset,
      key,
      value,
      headers: message.headers ?? {},
      timestamp: message.timestamp,
      raw: {
        topic: this.topic.name,
        partition: message.partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        timestamp: message.timestamp,
        ...(message.headers ? { headers: message.headers } : {}),
      },
    };
  }
}
