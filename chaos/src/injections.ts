// Messages the suite writes to Kafka itself, as an outside producer: a slice of a topic produced
// again (duplicate delivery), and poison on every consumed topic. Poison comes in four kinds:
// raw bytes, an unknown schema id, valid Avro with bad logical values, and valid Avro that breaks
// a business invariant. Each injected message's coordinates are returned, so the checks can
// find exactly these in the dead letters.
import { randomUUID } from 'node:crypto';
import avsc from 'avsc';
import type { Kafka, Producer } from 'kafkajs';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import {
  allTopics,
  auditCheckpointsTopic,
  ledgerCommandsTopic,
  ledgerStepPostedTopic,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import type { Random } from './random.js';

export type PoisonKind =
  'raw-bytes' | 'unknown-schema-id' | 'bad-logical-value' | 'broken-invariant';
export const POISON_KINDS: readonly PoisonKind[] = [
  'raw-bytes',
  'unknown-schema-id',
  'bad-logical-value',
  'broken-invariant',
];

export interface InjectedPoison {
  kind: PoisonKind;
  topic: string;
  partition: number;
  offset: string;
  /** Every uuid the message carries (a discrepancy it causes names one of them). */
  ids: string[];
}

/** Schema id no registry hands out in a test run. */
const UNKNOWN_SCHEMA_ID = 2_000_000_000;
/** A slice produced again is at most this many messages per topic. */
export const DUPLICATE_SLICE_MAX = 50;
const SLICE_READ_MS_MAX = 20_000;

/**
 * Topics with a position-tracked consumer: all but audit.checkpoints, whose only reader is the
 * audit's /v1/verify (it holds no position and dead-letters nothing; a forged checkpoint there
 * is the anchor's own tamper test, services/audit/test/anchor.test.ts).
 */
export function consumedTopics(): AnyTopic[] {
  return (allTopics as readonly AnyTopic[]).filter(
    (t) => t.consumers.length > 0 && t.name !== auditCheckpointsTopic.name,
  );
}

/**
 * The consumer groups that must dead-letter a poison of `kind` on `topic`. Undecodable poison
 * (the first three kinds) is dead-lettered by every consumer of the topic. The broken invariant
 * is a well-formed event whose every string is "chaos" (so its currency is no ISO 4217 code)
 * about a payment nobody made: a consumer dead-letters it where it enforces the invariant. The
 * ledger refuses a command keyed by another account than its own; reconciliation refuses to
 * keep a money fact without a currency (commands, postings, payment states; a rejection
 * carries no amount); the processor counts an outcome for an unknown payment as an anomaly and
 * changes nothing; the audit records it, because it is what the topic carried.
 */
export function expectedDeadLetterGroups(kind: PoisonKind, topic: AnyTopic): string[] {
  if (kind !== 'broken-invariant') return [...topic.consumers];
  return BROKEN_INVARIANT_REFUSED_BY[topic.name] ?? [];
}

const BROKEN_INVARIANT_REFUSED_BY: Record<string, string[]> = {
  [ledgerCommandsTopic.name]: ['ledger', 'reconciliation'],
  [ledgerStepPostedTopic.name]: ['reconciliation'],
  [paymentsStatusChangedTopic.name]: ['reconciliation'],
};

// ---------------------------------------------------------------------------------------------
// Well-formed values from a schema, with every uuid and instant valid (or, on demand, not).

type SchemaNode = avsc.Schema | string | SchemaNode[];

interface SampleContext {
  named: Map<string, SchemaNode>;
  ids: string[];
  badLogical: boolean;
  namespace: string | undefined;
}

function sample(node: SchemaNode, ctx: SampleContext): unknown {
  if (Array.isArray(node)) {
    // A union, written wrapped ({ branch: value }): the first branch that is not null, so
    // optional fields carry something.
    const branch = node.find((b) => b !== 'null');
    if (branch === undefined) return null;
    return { [branchName(branch, ctx.namespace)]: sample(branch, ctx) };
  }
  if (typeof node === 'string') {
    switch (node) {
      case 'null':
        return null;
      case 'boolean':
        return false;
      case 'int':
        return 1;
      case 'long':
        return 1;
      case 'float':
      case 'double':
        return 1;
      case 'string':
        return 'chaos';
      case 'bytes':
        return Buffer.from('chaos');
      default: {
        const named = ctx.named.get(node) ?? ctx.named.get(`${ctx.namespace}.${node}`);
        if (named === undefined) throw new Error(`unknown named type ${node}`);
        return sample(named, ctx);
      }
    }
  }
  const schema = node as Record<string, unknown>;
  const logical = schema['logicalType'];
  if (logical === 'uuid') {
    if (ctx.badLogical) return 'not-a-uuid';
    const id = randomUUID();
    ctx.ids.push(id);
    return id;
  }
  if (logical === 'timestamp-millis') return ctx.badLogical ? 8.64e15 + 1 : Date.now();
  const type = schema['type'];
  const name = typeof schema['name'] === 'string' ? (schema['name'] as string) : undefined;
  const namespace = (schema['namespace'] as string | undefined) ?? ctx.namespace;
  if (name !== undefined) {
    const fullName = name.includes('.') ? name : `${namespace}.${name}`;
    ctx.named.set(fullName, node);
    ctx.named.set(name, node);
  }
  switch (type) {
    case 'record': {
      const inner = { ...ctx, namespace };
      const record: Record<string, unknown> = {};
      for (const f of schema['fields'] as { name: string; type: SchemaNode }[]) {
        record[f.name] = sample(f.type, inner);
      }
      return record;
    }
    case 'enum':
      return (schema['symbols'] as string[])[0];
    case 'array':
      return [];
    case 'map':
      return {};
    case 'fixed':
      return Buffer.alloc(schema['size'] as number);
    default:
      return sample(type as SchemaNode, ctx);
  }
}

/** The name avsc gives a union branch: a primitive's or a named type's full name. */
function branchName(branch: SchemaNode, namespace: string | undefined): string {
  if (typeof branch === 'string') {
    const primitive = ['null', 'boolean', 'int', 'long', 'float', 'double', 'string', 'bytes'];
    if (primitive.includes(branch) || branch.includes('.')) return branch;
    return namespace === undefined ? branch : `${namespace}.${branch}`;
  }
  const schema = branch as Record<string, unknown>;
  const name = schema['name'];
  if (typeof name === 'string') {
    const ns = (schema['namespace'] as string | undefined) ?? namespace;
    return name.includes('.') || ns === undefined ? name : `${ns}.${name}`;
  }
  const type = schema['type'];
  return typeof type === 'string' ? type : 'unknown';
}

/**
 * Avro bytes of a value built from the topic's schema, framed with the schema id the registry
 * gave the topic's value subject. The value is written with the schema's plain types (logical
 * types ignored), so a bad logical value is still valid Avro.
 */
async function avroPoison(
  registryUrl: string,
  topic: AnyTopic,
  badLogical: boolean,
): Promise<{ value: Buffer; ids: string[]; body: Record<string, unknown> }> {
  const ctx: SampleContext = { named: new Map(), ids: [], badLogical, namespace: undefined };
  const body = sample(topic.valueSchema as SchemaNode, ctx) as Record<string, unknown>;
  const plain = avsc.Type.forSchema(topic.valueSchema, { wrapUnions: true });
  const header = await schemaIdHeader(registryUrl, topic);
  return { value: Buffer.concat([header, plain.toBuffer(body)]), ids: ctx.ids, body };
}

/** Magic byte and the id the registry gave the topic's value subject (its latest version). */
async function schemaIdHeader(registryUrl: string, topic: AnyTopic): Promise<Buffer> {
  const response = await fetch(
    `${registryUrl}/subjects/${encodeURIComponent(topic.valueSubject)}/versions/latest`,
    { signal: AbortSignal.timeout(10_000) },
  );
  if (!response.ok) throw new Error(`registry: ${topic.valueSubject}: ${response.status}`);
  const { id } = (await response.json()) as { id: number };
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(id, 1);
  return header;
}

/** Injects one poison of every kind on every consumed topic; answers their coordinates. */
export async function injectPoison(
  producer: Producer,
  serde: EventSerde,
  registryUrl: string,
): Promise<InjectedPoison[]> {
  const injected: InjectedPoison[] = [];
  for (const topic of consumedTopics()) {
    for (const kind of POISON_KINDS) {
      const keyId = randomUUID();
      let value: Buffer;
      let ids: string[] = [keyId];
      if (kind === 'raw-bytes') {
        value = Buffer.from('chaos poison: these bytes are not the Confluent wire format');
      } else if (kind === 'unknown-schema-id') {
        const header = Buffer.alloc(5);
        header.writeUInt8(0, 0);
        header.writeUInt32BE(UNKNOWN_SCHEMA_ID, 1);
        value = Buffer.concat([header, Buffer.from('chaos')]);
      } else {
        const poison = await avroPoison(registryUrl, topic, kind === 'bad-logical-value');
        value = poison.value;
        ids = [...ids, ...poison.ids];
      }
      // The key is well-formed (it routes the message like any other); for ledger.commands the
      // broken invariant is exactly that: a key that is not the command's account.
      const key = await serde.encodeKey(topic, keyId as never);
      const [metadata] = await producer.send({
        topic: topic.name,
        acks: -1,
        messages: [{ key, value, headers: { 'chaos-poison': kind } }],
      });
      if (metadata === undefined || metadata.baseOffset === undefined) {
        throw new Error(`no offset for the poison sent to ${topic.name}`);
      }
      injected.push({
        kind,
        topic: topic.name,
        partition: metadata.partition,
        offset: metadata.baseOffset,
        ids,
      });
    }
  }
  return injected;
}

export interface DuplicatedSlice {
  topic: string;
  partition: number;
  fromOffset: number;
  count: number;
}

/**
 * Reads up to DUPLICATE_SLICE_MAX committed messages of one partition (chosen by the seed,
 * among those holding messages) and produces them again, bytes, key and headers untouched.
 */
export async function duplicateSlice(
  kafka: Kafka,
  producer: Producer,
  topic: AnyTopic,
  random: Random,
): Promise<DuplicatedSlice | null> {
  const admin = kafka.admin();
  await admin.connect();
  let offsets: { partition: number; low: string; high: string }[];
  try {
    offsets = await admin.fetchTopicOffsets(topic.name);
  } finally {
    await admin.disconnect();
  }
  const filled = offsets.filter((o) => Number(o.high) - Number(o.low) > 0);
  if (filled.length === 0) return null;
  const chosen = random.pick(filled.sort((a, b) => a.partition - b.partition));
  const high = Number(chosen.high);
  const count = Math.min(
    DUPLICATE_SLICE_MAX,
    high - Number(chosen.low),
    random.int(5, DUPLICATE_SLICE_MAX),
  );
  const fromOffset = random.int(Number(chosen.low), high - count);
  const messages = await readSlice(kafka, topic.name, chosen.partition, fromOffset, count);
  await producer.send({
    topic: topic.name,
    acks: -1,
    messages: messages.map((m) => ({
      key: m.key,
      value: m.value,
      headers: m.headers,
      partition: chosen.partition,
    })),
  });
  return { topic: topic.name, partition: chosen.partition, fromOffset, count: messages.length };
}

interface SliceMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | undefined>;
}

async function readSlice(
  kafka: Kafka,
  topicName: string,
  partition: number,
  fromOffset: number,
  count: number,
): Promise<SliceMessage[]> {
  const consumer = kafka.consumer({
    groupId: `chaos-slice-${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  const found = new Map<number, SliceMessage>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topicName, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition: p, message }) => {
        const offset = Number(message.offset);
        if (p !== partition || offset < fromOffset || offset >= fromOffset + count) return;
        const headers: SliceMessage['headers'] = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) {
          headers[name] = Array.isArray(value) ? value[0] : value;
        }
        found.set(offset, { key: message.key, value: message.value, headers });
      },
    });
    consumer.seek({ topic: topicName, partition, offset: String(fromOffset) });
    const deadline = Date.now() + SLICE_READ_MS_MAX;
    while (found.size < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  // Transaction markers take offsets too: a slice may hold fewer messages than offsets.
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
}
