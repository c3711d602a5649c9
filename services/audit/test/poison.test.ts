// Poison on every topic the audit trails, on the real broker, registry and database: bytes that
// are not Avro, a value under a schema id the registry never issued, and valid Avro whose uuid
// fields are no UUIDs are dead-lettered by the audit with the reason and their source
// coordinates; every partition's stored position moves past them, and a payment's good event
// behind the poison on its partition is in the trail.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { EventSerde } from '@ledgerline/platform/events/serde';
import {
  createTestEnvironment,
  TopicReader,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { badLogicalValue, NOT_AVRO, UNKNOWN_SCHEMA } from '@ledgerline/testkit/poison';
import { allTopics, ledgerlineDeadLetterConsumer } from '@ledgerline/generated/topics';
import { auditedTopics, auditGroupId } from '../src/events/trail-consumer.js';
import { startAudit, type AuditService } from '../src/service.js';
import {
  deployAuditDatabase,
  eventProducers,
  eventually,
  newPayment,
  statusChanged,
  testConfig,
} from './support.js';

let env: TestEnvironment;
let service: AuditService;
let admin: Pool;
let producers: Awaited<ReturnType<typeof eventProducers>>;
let serde: EventSerde;

beforeAll(async () => {
  env = await createTestEnvironment('audit-poison', allTopics);
  await deployAuditDatabase(env);
  admin = createPool(env.adminDatabaseUrl, { max: 2 });
  service = await startAudit(testConfig(env));
  producers = await eventProducers(env);
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
}, 120_000);

afterAll(async () => {
  await producers?.producer.disconnect();
  await service?.stop();
  await admin?.end();
  await env?.cleanup();
});

describe('audit trail: poison on every trailed topic', () => {
  it('is dead-lettered with reason and coordinates, and every partition moves past it', async () => {
    const payment = newPayment(4_200);
    const topics = auditedTopics(env.topicPrefix);
    const sent = new Map<string, Buffer[]>();
    for (const topic of topics) {
      const poisons = [
        NOT_AVRO,
        UNKNOWN_SCHEMA,
        await badLogicalValue(env.schemaRegistryUrl, topic),
      ];
      sent.set(topic.name, poisons);
      await producers.producer.send({
        topic: topic.name,
        acks: -1,
        messages: await Promise.all(
          poisons.map(async (value) => ({
            key: await serde.encodeKey(topic, payment.paymentId as never),
            value,
          })),
        ),
      });
    }
    // A good event behind the poison, on the same partition of payments.status-changed.
    const good = statusChanged(payment, 1, null, 'PENDING');
    await producers.statusChanged.send([{ key: payment.paymentId, value: good }]);
    await eventually(async () => {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM audit.trail WHERE event_id = $1',
        [good.eventId],
      );
      return rows[0]!.n === 1 ? true : undefined;
    }, 'the good status event in the trail');

    const group = auditGroupId(env.topicPrefix);
    const reader = await TopicReader.start(
      env.kafkaBrokers,
      ledgerlineDeadLetterConsumer(serde, { topicPrefix: env.topicPrefix }),
    );
    try {
      const ours = (records: readonly (typeof reader.records)[number][]) =>
        records.filter((r) => r.value.consumer === group && r.key === payment.paymentId);
      // The dead-letter topic is one of the trailed topics, so it holds this test's own raw
      // poison too: the reader passes over what it cannot decode.
      const letters = ours(
        await reader
          .waitFor((records) => ours(records).length >= 3 * topics.length, 60_000, {
            skipUndecodable: true,
          })
          .catch(async (error: unknown) => {
            // Say where it stands: which topics' dead letters are missing, what the audit says.
            const got = ours(reader.records).map((r) => r.value.sourceTopic);
            const short = topics
              .map((t) => `${t.name} ${got.filter((name) => name === t.name).length}/3`)
              .filter((line) => !line.endsWith(' 3/3'));
            const ready = await fetch(`${service.url}/readyz`).then((r) => r.text());
            throw new Error(
              `${String(error)}; dead letters short: ${short.join(', ')}; audit /readyz: ${ready}`,
            );
          }),
      );
      expect(letters).toHaveLength(3 * topics.length);
      for (const topic of topics) {
        const mine = letters.filter((r) => r.value.sourceTopic === topic.name);
        const reasons = mine.map((r) => r.value.reason);
        expect({ topic: topic.name, reasons }).toEqual({
          topic: topic.name,
          reasons: [
            expect.stringMatching(/wire format/),
            expect.stringMatching(/unknown writer schema id/),
            expect.stringMatching(/not-a-uuid.*not a UUID/),
          ],
        });
        const originals = sent.get(topic.name)!;
        mine.forEach((r, i) => expect(r.value.value?.equals(originals[i]!)).toBe(true));
        // One partition (one key), three consecutive offsets; the stored position is past them.
        const partition = mine[0]!.value.partition;
        expect(mine.map((r) => r.value.partition)).toEqual([partition, partition, partition]);
        const offsets = mine.map((r) => Number(r.value.offset));
        expect(offsets.map((o) => o - offsets[0]!)).toEqual([0, 1, 2]);
        const { rows } = await admin.query<{ next_offset: string }>(
          `SELECT next_offset::text FROM audit.consumer_positions
            WHERE group_id = $1 AND topic = $2 AND partition = $3`,
          [group, topic.name, partition],
        );
        expect(Number(rows[0]?.next_offset)).toBeGreaterThan(offsets[2]!);
      }
    } finally {
      await reader.stop();
    }
    // Its own bound: the two waits above (30 s and 60 s) fail first, saying what is missing.
  }, 120_000);
});
