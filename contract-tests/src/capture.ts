// A stand-in for the platform's EventSerde that records what a provider's real producer code
// hands to `encode` (key and decoded value) instead of talking to a Schema Registry. The
// verification then does the Avro part itself, with the writer schema it is told to use.
import type { PoolClient } from '@ledgerline/platform/db';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { AnyTopic } from '@ledgerline/platform/events/topic';

export interface ProducedMessage {
  /** The topic definition the provider's producer encoded for (writer schema, name). */
  readonly topic: AnyTopic;
  readonly key: unknown;
  /** The value exactly as the provider's code built it (Dates, Buffers, wrapped unions). */
  readonly value: unknown;
}

export class CapturingSerde {
  readonly produced: ProducedMessage[] = [];
  private readonly keys: unknown[] = [];

  // TopicProducer.encode calls encodeKey then encodeValue for the same message, in that order.
  async encodeKey(_topic: AnyTopic, key: unknown): Promise<Buffer> {
    this.keys.push(key);
    return Buffer.from(JSON.stringify(key));
  }

  async encodeValue(topic: AnyTopic, value: unknown): Promise<Buffer> {
    const key = this.keys[this.produced.length];
    this.produced.push({ topic, key, value });
    return Buffer.alloc(0);
  }

  /** Dead-letter encoders try to decode the original key; ours never decodes (they fall back). */
  async decodeKey(): Promise<never> {
    throw new Error('the capturing serde decodes nothing');
  }

  async prepare(): Promise<void> {}

  asSerde(): EventSerde {
    return this as unknown as EventSerde;
  }

  /** The one message a scenario produced on `topicName` (fails when there is not exactly one). */
  only(topicName: string): ProducedMessage {
    const found = this.produced.filter((p) => p.topic.name === topicName);
    if (found.length !== 1) {
      const seen = this.produced.map((p) => p.topic.name).join(', ') || 'nothing';
      throw new Error(`expected one message on ${topicName}, the provider produced: ${seen}`);
    }
    return found[0]!;
  }
}

/** A database stand-in: answers SELECTs from `rows`, accepts writes, records every statement. */
export class RecordingDb {
  readonly statements: { text: string; values: unknown[] }[] = [];

  constructor(private readonly rows: (text: string) => unknown[] = () => []) {}

  // Both of pg's forms: (text, values) and a (prepared) statement object, as queryIn sends.
  async query(
    statement: string | { text: string; values?: unknown[] },
    parameters: unknown[] = [],
  ): Promise<{ rows: unknown[]; rowCount: number }> {
    const text = typeof statement === 'string' ? statement : statement.text;
    const values = typeof statement === 'string' ? parameters : (statement.values ?? []);
    this.statements.push({ text, values });
    const rows = /^\s*SELECT/i.test(text) ? this.rows(text) : [];
    return { rows, rowCount: /^\s*SELECT/i.test(text) ? rows.length : 1 };
  }

  release(): void {}

  /** As the platform's pg types, which the stand-in satisfies for the calls services make. */
  asQueryable(): PoolClient {
    return this as unknown as PoolClient;
  }
}

/** The elements of a one-dimensional PostgreSQL array literal, as arrayLiteral writes them. */
export function arrayElements(literal: string): (string | null)[] {
  const elements: (string | null)[] = [];
  let i = 1; // after '{'
  while (i < literal.length - 1) {
    if (literal[i] === '"') {
      let text = '';
      for (i += 1; literal[i] !== '"'; i += 1) {
        if (literal[i] === '\\') i += 1;
        text += literal[i];
      }
      elements.push(text);
      i += 1;
    } else {
      const comma = literal.indexOf(',', i);
      const end = comma === -1 ? literal.length - 1 : comma;
      const raw = literal.slice(i, end);
      elements.push(raw === 'NULL' ? null : raw);
      i = end;
    }
    if (literal[i] === ',') i += 1;
  }
  return elements;
}
