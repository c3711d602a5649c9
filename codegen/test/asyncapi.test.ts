// The generated AsyncAPI document (generated/asyncapi.json) is valid for the AsyncAPI project's
// own parser, says what contracts/topics.yaml says (every topic a channel, every producer and
// consumer an operation) and carries each topic's Avro schema as it is in contracts/avro/.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { AVRO_SCHEMA_FORMAT, channelId, operationId, withSimpleNames } from '../src/asyncapi.js';
import { selfContainedSchema } from '../src/avro/schema.js';
import { loadContracts, type Contracts } from '../src/generate.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

type Json = Record<string, unknown>;
let contracts: Contracts;
let document: Json;

/** Diagnostics at error or warning level (hints such as "a newer version exists" are not). */
async function problemsOf(text: string) {
  const { diagnostics } = await new Parser().parse(text);
  return diagnostics
    .filter((d) => d.severity <= DiagnosticSeverity.Warning)
    .map((d) => `${d.code}: ${d.message} at /${d.path.join('/')}`);
}

beforeAll(async () => {
  contracts = await loadContracts(path.join(ROOT, 'contracts'));
  document = JSON.parse(
    await readFile(path.join(ROOT, 'generated', 'asyncapi.json'), 'utf8'),
  ) as Json;
});

test('the AsyncAPI parser accepts the document without an error or a warning', async () => {
  expect(document['asyncapi']).toBe('3.0.0');
  expect(await problemsOf(JSON.stringify(document))).toEqual([]);
  const { document: parsed } = await new Parser().parse(JSON.stringify(document));
  expect(parsed?.channels().length).toBe(contracts.topics.length);
});

test('the servers are the local stack and a deployment whose broker is a variable', async () => {
  const { document: parsed } = await new Parser().parse(JSON.stringify(document));
  const servers = parsed?.servers();
  expect(servers?.all().map((server) => server.id())).toEqual(['local', 'deployment']);
  const deployment = servers?.get('deployment');
  expect(deployment?.protocol()).toBe('kafka');
  expect(deployment?.host()).toBe('{broker}');
  expect(
    deployment
      ?.variables()
      .all()
      .map((variable) => variable.id()),
  ).toEqual(['broker']);
  expect(servers?.get('local')?.host()).toBe('127.0.0.1:19092');
});

test('every topic is a channel with its partitions, and every producer and consumer an operation', () => {
  const channels = document['channels'] as Record<string, Json>;
  const operations = document['operations'] as Record<string, Json>;
  for (const topic of contracts.topics) {
    const channel = channels[channelId(topic.name)];
    expect(channel?.['address']).toBe(topic.name);
    expect((channel?.['bindings'] as { kafka: Json }).kafka['partitions']).toBe(topic.partitions);
    for (const service of topic.producers) {
      expect(operations[operationId(service, 'send', topic.name)]).toMatchObject({
        action: 'send',
        channel: { $ref: `#/channels/${channelId(topic.name)}` },
      });
    }
    for (const service of topic.consumers) {
      expect(operations[operationId(service, 'receive', topic.name)]).toMatchObject({
        action: 'receive',
        channel: { $ref: `#/channels/${channelId(topic.name)}` },
      });
    }
  }
  const expected = contracts.topics.reduce(
    (n, t) => n + t.producers.length + t.consumers.length,
    0,
  );
  expect(Object.keys(operations)).toHaveLength(expected);
});

test('each message carries its topic Avro schema, docs included, in the Confluent wire format', () => {
  const channels = document['channels'] as Record<string, Json>;
  const messages = (document['components'] as { messages: Record<string, Json> }).messages;
  for (const topic of contracts.topics) {
    const ref = Object.values(
      channels[channelId(topic.name)]!['messages'] as Record<string, Json>,
    )[0]!;
    const message = messages[String(ref['$ref']).split('/').pop()!]!;
    expect(message['payload']).toEqual({
      schemaFormat: AVRO_SCHEMA_FORMAT,
      schema: withSimpleNames(selfContainedSchema(contracts.catalogue, topic.value)),
    });
    expect((message['bindings'] as { kafka: Json }).kafka).toMatchObject({
      schemaIdLocation: 'payload',
      schemaIdPayloadEncoding: 'confluent',
    });
  }
});

test('the parser refuses a document that breaks the specification, so this test can fail', async () => {
  const broken = structuredClone(document);
  const operations = broken['operations'] as Record<string, Json>;
  const [first] = Object.keys(operations);
  operations[first!]!['channel'] = { $ref: '#/channels/noSuchChannel' };
  const channels = broken['channels'] as Record<string, Json>;
  const [firstChannel] = Object.values(channels);
  const messages = (broken['components'] as { messages: Record<string, Json> }).messages;
  const [firstMessage] = Object.values(messages);
  (firstMessage!['payload'] as Json)['schema'] = { type: 'record', name: 'has.dots', fields: 7 };
  expect(firstChannel).toBeDefined();
  const problems = await problemsOf(JSON.stringify(broken));
  expect(problems.length).toBeGreaterThan(0);
});
