// Consumer side of a message pact: the consumer states the decoded event its handler needs
// (matchers for types and formats), and its real handler runs on the example Pact reifies,
// converted to exactly what avsc would hand it (see avro-json.ts). Reading a field the pact does
// not state fails the test, so the pact is the complete list of what the consumer relies on.
import type avsc from 'avsc';
import { Matchers, MessageConsumerPact } from '@pact-foundation/pact';
import { avroType } from '@ledgerline/platform/avro';
import type { AnyTopic, KeyOf, ValueOf } from '@ledgerline/platform/events/topic';
import { fromPactJson, strictView } from './avro-json.js';
import { PactDraft } from './files.js';

export const ISO_MILLIS = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

/** Matchers for the JSON representation of decoded Avro values. */
export const m = {
  uuid: (example: string) => Matchers.uuid(example),
  /** timestamp-millis, as an ISO 8601 UTC string with milliseconds. */
  instant: (example = '2026-03-01T09:30:00.000Z') => Matchers.datetime(ISO_MILLIS, example),
  /** long / int. */
  integer: (example: number) => Matchers.integer(example),
  string: (example: string) => Matchers.string(example),
  currency: (example = 'EUR') => Matchers.regex(/^[A-Z]{3}$/, example),
  /** An enum symbol from a closed list. */
  oneOf: (symbols: readonly string[], example: string) =>
    Matchers.regex(new RegExp(`^(${symbols.join('|')})$`), example),
  equal: <T>(value: T) => Matchers.equal(value),
  eachLike: <T>(template: T) => Matchers.eachLike(template),
  like: <T>(template: T) => Matchers.like(template),
};

export interface MessageExpectation<T extends AnyTopic> {
  /** The provider state: which real situation the provider reproduces. */
  readonly state: string;
  readonly description: string;
  /** The topic (its generated definition carries the consumer's reader schema). */
  readonly topic: T;
  /** Example Kafka key (matched as a UUID). */
  readonly key: string;
  /** The decoded value's JSON representation, with Pact matchers. */
  readonly content: Record<string, unknown>;
  /**
   * Top-level fields the handler reads and handles when null (Pact v3 has no "null or X"
   * matcher): left out of the pact, given to the handler as null, and checked to be
   * nullable in the reader schema.
   */
  readonly nullable?: readonly string[];
}

export interface ReceivedMessage<T extends AnyTopic> {
  readonly topic: string;
  readonly key: KeyOf<T>;
  readonly value: ValueOf<T>;
}

function withNulls(reader: avsc.Type, value: unknown, fields: readonly string[]): unknown {
  const record = reader as avsc.types.RecordType;
  const out = { ...(value as Record<string, unknown>) };
  for (const name of fields) {
    const field = record.fields.find((f) => f.name === name);
    if (field === undefined || !field.type.isValid(null)) {
      throw new Error(`${record.name}.${name} is not a nullable field of the reader schema`);
    }
    if (name in out) throw new Error(`${name} is stated in the pact and listed as nullable`);
    out[name] = null;
  }
  return out;
}

/** One consumer-provider message pact (see PactDraft for where it is written). */
export class ConsumerMessagePact {
  private readonly draft: PactDraft;

  constructor(
    readonly consumer: string,
    readonly provider: string,
  ) {
    this.draft = new PactDraft(consumer, provider);
  }

  async receive<T extends AnyTopic, R>(
    expectation: MessageExpectation<T>,
    handler: (message: ReceivedMessage<T>) => R | Promise<R>,
  ): Promise<R> {
    const pact = new MessageConsumerPact({
      consumer: this.consumer,
      provider: this.provider,
      dir: this.draft.dir,
      logLevel: 'error',
    });
    const reader = avroType(expectation.topic.valueSchema);
    const keyType = avroType(expectation.topic.keySchema);
    let result: { value: R } | undefined;
    const test = pact
      .given(expectation.state)
      .expectsToReceive(expectation.description)
      .withContent(expectation.content)
      .withMetadata({ topic: expectation.topic.name, key: Matchers.uuid(expectation.key) })
      .verify(async (message) => {
        const key = String(message.metadata?.['key'] ?? '');
        if (!keyType.isValid(key)) throw new Error(`key ${key} is not valid under the key schema`);
        const value = withNulls(
          reader,
          fromPactJson(reader, message.contents),
          expectation.nullable ?? [],
        ) as ValueOf<T>;
        result = {
          value: await handler({
            topic: expectation.topic.name,
            key: key as KeyOf<T>,
            value: strictView(value),
          }),
        };
      });
    await this.draft.record(() => test);
    if (result === undefined) throw new Error(`${expectation.description}: handler did not run`);
    return result.value;
  }

  /** Moves the pact into pacts/ (see PactDraft); call it in afterAll. */
  publish(): void {
    this.draft.publish();
  }
}
