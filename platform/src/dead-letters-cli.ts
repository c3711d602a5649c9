// `npx ledgerline dead-letters list|show|replay`: what an operator does with the records
// consumers gave up on. `list` and `show` read ledgerline.dead-letter from the beginning up to
// its end at the moment of the call (bounded in records and time) and decode each dead letter,
// and for `show` the original record too. `replay --id` re-publishes the original key, value
// and headers, byte for byte, to the original topic (same key, so the same partition as any
// later record of that payment or account), once the cause is fixed. Consumers are idempotent
// under their message keys, so a second replay of an applied record changes nothing.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { IHeaders, Kafka } from 'kafkajs';
import { platformEndpoints } from './config.js';
import type { DeadLetterFields } from './dead-letter.js';
import { EventSerde } from './events/serde.js';
import { prefixedTopic, type AnyTopic, type TopicDefinition } from './events/topic.js';
import { TopicConsumer } from './events/typed.js';
import { createIdempotentProducer, createKafka } from './kafka.js';

/** The dead letter as the platform writes it, less the envelope fields the CLI does not show. */
export type DeadLetterRecord = Omit<
  DeadLetterFields,
  'correlationId' | 'causationId' | 'occurredAt'
>;

export type DeadLetterTopic = TopicDefinition<string, DeadLetterRecord, unknown>;

/** A dead letter and where it sits on the dead-letter topic. */
export interface DeadLetterEntry {
  letter: DeadLetterRecord;
  partition: number;
  offset: string;
}

/** The header a replayed record carries: which dead letter it came from. */
export const REPLAYED_FROM_HEADER = 'ledgerline-replayed-from';

/** Most dead letters one call reads: an operator's tool, not a bulk export. */
export const DEAD_LETTERS_READ_MAX = 100_000;
const READ_WAIT_MS_DEFAULT = 30_000;
const LIST_LIMIT_DEFAULT = 50;
/** Longest reason and value shown per line or field; `show --json` has the bytes in full. */
const REASON_CHARS_LIST_MAX = 160;
const VALUE_BYTES_SHOWN_MAX = 4_096;

export const DEAD_LETTERS_USAGE = `usage: ledgerline dead-letters <command>
  list [--consumer <group>] [--source-topic <topic>] [--limit <1..10000>] [--json]
                      newest dead letters first (default ${LIST_LIMIT_DEFAULT}): id, failed at, consumer,
                      source topic[partition]@offset, attempts, reason
  show --id <eventId> [--json]
                      one dead letter: reason, service, coordinates, attempts, and the original
                      record's key, headers and value (decoded when its schema allows)
  replay --id <eventId>
                      re-publishes the original bytes to the original topic; consumers apply it
                      once, and a second replay of an applied record changes nothing
Options: --topic-prefix <p> (default LEDGERLINE_TOPIC_PREFIX), --wait-seconds <1..600> (default 30).
Connects to KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or to the local stack.`;

export interface DeadLettersIo {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface DeadLetterTopics {
  /** The generated ledgerline.dead-letter topic. */
  deadLetter: DeadLetterTopic;
  /** Every topic of the contracts, to decode the original record for `show`. */
  sources: readonly AnyTopic[];
}

/**
 * Reads the dead-letter topic from the beginning up to the end offsets it had when called,
 * stopping at `recordsMax` records or after `waitMs` (then `complete` is false).
 */
export async function readDeadLetters(options: {
  kafka: Kafka;
  serde: EventSerde;
  topic: DeadLetterTopic;
  recordsMax?: number;
  waitMs?: number;
}): Promise<{ entries: DeadLetterEntry[]; unreadable: string[]; complete: boolean }> {
  const { kafka, topic } = options;
  const recordsMax = options.recordsMax ?? DEAD_LETTERS_READ_MAX;
  const waitMs = options.waitMs ?? READ_WAIT_MS_DEFAULT;
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, number>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic.name);
    ends = new Map(
      offsets
        .filter((p) => Number(p.high) > Number(p.low))
        .map((p) => [p.partition, Number(p.high)]),
    );
  } finally {
    await admin.disconnect();
  }
  const entries: DeadLetterEntry[] = [];
  const unreadable: string[] = [];
  if (ends.size === 0) return { entries, unreadable, complete: true };
  const decoder = new TopicConsumer(topic, options.serde);
  // A throwaway group that commits nothing: reading dead letters moves no one's position.
  const consumer = kafka.consumer({
    groupId: `ledgerline-dead-letters-cli-${randomUUID()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
  });
  const pending = new Set(ends.keys());
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let count = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topic.name, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const end = ends.get(partition);
        if (end === undefined || !pending.has(partition) || count >= recordsMax) return;
        if (Number(message.offset) < end) {
          count += 1;
          try {
            const decoded = await decoder.decodeFetched(partition, message);
            entries.push({ letter: decoded.value, partition, offset: message.offset });
          } catch (error) {
            unreadable.push(`${topic.name}[${partition}]@${message.offset}: ${String(error)}`);
          }
        }
        if (Number(message.offset) + 1 >= end) pending.delete(partition);
        if (pending.size === 0 || count >= recordsMax) finish();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return { entries, unreadable, complete: pending.size === 0 && count < recordsMax };
}

/** Re-publishes the original record of a dead letter to its topic; answers where it landed. */
export async function replayDeadLetter(
  kafka: Kafka,
  letter: DeadLetterRecord,
): Promise<{ topic: string; partition: number; offset: string }> {
  const headers: IHeaders = {};
  for (const h of letter.headers) if (h.value !== null) headers[h.key] = h.value;
  headers[REPLAYED_FROM_HEADER] = letter.eventId;
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    const [landed] = await producer.send({
      topic: letter.sourceTopic,
      acks: -1,
      timeout: 30_000,
      messages: [{ key: letter.key, value: letter.value, headers }],
    });
    if (!landed) throw new Error(`Kafka acknowledged nothing for ${letter.sourceTopic}`);
    return {
      topic: landed.topicName,
      partition: landed.partition,
      offset: landed.baseOffset ?? landed.offset ?? '?',
    };
  } finally {
    await producer.disconnect();
  }
}

/** The service a consumer group belongs to: the group without the environment's prefix. */
function serviceOf(consumer: string, topicPrefix: string): string {
  return topicPrefix !== '' && consumer.startsWith(topicPrefix)
    ? consumer.slice(topicPrefix.length)
    : consumer;
}

function oneLine(text: string, charsMax: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > charsMax ? `${flat.slice(0, charsMax - 1)}…` : flat;
}

/** JSON for an operator: instants as ISO strings, bytes as base64. */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key, v: unknown) {
      const original = this[key];
      if (original instanceof Date) return original.toISOString();
      if (Buffer.isBuffer(original)) return { base64: original.toString('base64') };
      return v;
    },
    2,
  );
}

function listLine(entry: DeadLetterEntry, topicPrefix: string): string {
  const l = entry.letter;
  return [
    l.eventId,
    l.failedAt.toISOString(),
    serviceOf(l.consumer, topicPrefix),
    `${l.sourceTopic}[${l.partition}]@${l.offset}`,
    `attempts=${l.attempts}`,
    oneLine(l.reason, REASON_CHARS_LIST_MAX),
  ].join('  ');
}

async function decodeOriginal(
  serde: EventSerde,
  sources: ReadonlyMap<string, AnyTopic>,
  letter: DeadLetterRecord,
): Promise<{ key: unknown; value: unknown; decoded: boolean; detail?: string }> {
  const topic = sources.get(letter.sourceTopic);
  const raw = {
    key: letter.key === null ? null : { base64: letter.key.toString('base64') },
    value:
      letter.value === null
        ? null
        : {
            base64: letter.value.subarray(0, VALUE_BYTES_SHOWN_MAX).toString('base64'),
            bytes: letter.value.length,
          },
  };
  if (topic === undefined) {
    return { ...raw, decoded: false, detail: `no contract for topic ${letter.sourceTopic}` };
  }
  try {
    const [key, value] = await Promise.all([
      serde.decodeKey(topic, letter.key),
      serde.decodeValue(topic, letter.value),
    ]);
    return { key, value, decoded: true };
  } catch (error) {
    return { ...raw, decoded: false, detail: `does not decode: ${(error as Error).message}` };
  }
}

function integerOption(value: string | undefined, name: string, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new RangeError(`${name} must be a whole number in ${min}..${max}, got ${value}`);
  }
  return n;
}

export async function runDeadLettersCli(
  argv: readonly string[],
  io: DeadLettersIo,
  topics: DeadLetterTopics,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'show' && command !== 'replay') {
    io.stderr(DEAD_LETTERS_USAGE);
    return 2;
  }
  let values: {
    id?: string;
    consumer?: string;
    'source-topic'?: string;
    limit?: string;
    json?: boolean;
    'topic-prefix'?: string;
    'wait-seconds'?: string;
  };
  let limit: number;
  let waitMs: number;
  try {
    values = parseArgs({
      args: [...rest],
      strict: true,
      allowPositionals: false,
      options: {
        id: { type: 'string' },
        consumer: { type: 'string' },
        'source-topic': { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
        'topic-prefix': { type: 'string' },
        'wait-seconds': { type: 'string' },
      },
    }).values;
    limit = integerOption(values.limit, '--limit', 1, 10_000) ?? LIST_LIMIT_DEFAULT;
    waitMs = (integerOption(values['wait-seconds'], '--wait-seconds', 1, 600) ?? 30) * 1_000;
    if (command !== 'list' && values.id === undefined) {
      throw new RangeError(`${command} needs --id <eventId> (see "ledgerline dead-letters list")`);
    }
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${DEAD_LETTERS_USAGE}`);
    return 2;
  }
  const topicPrefix = values['topic-prefix'] ?? env['LEDGERLINE_TOPIC_PREFIX'] ?? '';
  const endpoints = platformEndpoints(env);
  const kafka = createKafka(endpoints.kafkaBrokers, 'ledgerline-dead-letters-cli');
  const serde = new EventSerde({ registryUrl: endpoints.schemaRegistryUrl, autoRegister: false });
  const topic = prefixedTopic(topics.deadLetter, topicPrefix);
  const read = await readDeadLetters({ kafka, serde, topic, waitMs });
  for (const problem of read.unreadable) io.stderr(`unreadable dead letter: ${problem}`);
  if (!read.complete) {
    io.stderr(
      `note: read ${read.entries.length} dead letters of ${topic.name} before the bound (${waitMs / 1000} s or ${DEAD_LETTERS_READ_MAX} records); the list may be incomplete`,
    );
  }

  if (command === 'list') {
    const matching = read.entries
      .filter((e) => values.consumer === undefined || e.letter.consumer === values.consumer)
      .filter(
        (e) =>
          values['source-topic'] === undefined || e.letter.sourceTopic === values['source-topic'],
      )
      .sort((a, b) => b.letter.failedAt.getTime() - a.letter.failedAt.getTime())
      .slice(0, limit);
    if (values.json) {
      io.stdout(toJson(matching.map((e) => e.letter)));
    } else {
      for (const entry of matching) io.stdout(listLine(entry, topicPrefix));
      io.stdout(
        `${matching.length} dead letter(s) shown of ${read.entries.length} on ${topic.name}`,
      );
    }
    return 0;
  }

  // A dead letter written twice (a retried batch) carries the same id: the first is the one.
  const entry = read.entries.find((e) => e.letter.eventId === values.id);
  if (entry === undefined) {
    io.stderr(`no dead letter with id ${values.id} on ${topic.name}`);
    return 1;
  }
  const letter = entry.letter;
  if (command === 'replay') {
    const landed = await replayDeadLetter(kafka, letter);
    io.stdout(
      `replayed ${letter.eventId}: ${letter.sourceTopic}[${letter.partition}]@${letter.offset} re-published as ${landed.topic}[${landed.partition}]@${landed.offset}`,
    );
    return 0;
  }

  const sources = new Map(
    topics.sources.map((t) => {
      const prefixed = prefixedTopic(t, topicPrefix);
      return [prefixed.name, prefixed] as const;
    }),
  );
  const original = await decodeOriginal(serde, sources, letter);
  const headers = Object.fromEntries(
    letter.headers.map((h) => [h.key, h.value === null ? null : h.value.toString('utf8')]),
  );
  if (values.json) {
    io.stdout(
      toJson({
        ...letter,
        service: serviceOf(letter.consumer, topicPrefix),
        deadLetterAt: `${topic.name}[${entry.partition}]@${entry.offset}`,
        original,
      }),
    );
    return 0;
  }
  const lines: [string, string][] = [
    ['dead letter', letter.eventId],
    ['service', serviceOf(letter.consumer, topicPrefix)],
    ['consumer', letter.consumer],
    ['source', `${letter.sourceTopic}[${letter.partition}]@${letter.offset}`],
    ['source time', letter.sourceTimestamp?.toISOString() ?? 'unknown'],
    ['failed at', letter.failedAt.toISOString()],
    ['attempts', String(letter.attempts)],
    ['reason', letter.reason],
    ['stored at', `${topic.name}[${entry.partition}]@${entry.offset}`],
    ['headers', toJson(headers).replace(/\n\s*/g, ' ')],
    ['decoded', original.decoded ? 'yes' : (original.detail ?? 'no')],
    ['key', toJson(original.key)],
    ['value', toJson(original.value)],
  ];
  for (const [name, text] of lines) io.stdout(`${name.padEnd(12)} ${text}`);
  return 0;
}
