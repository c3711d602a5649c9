// Every offset of an audited partition accounted for, on the real stack: transaction markers
// and aborted records (which kafkajs never hands over) are not gaps, a Kafka group offset moved
// ahead skips nothing (positions live in PostgreSQL), and records deleted before the audit read
// them are recorded as exactly that range, reported by /v1/verify and counted in /metrics.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { createKafka } from '@ledgerline/platform/kafka';
import { createPool, type Pool } from '@ledgerline/platform/db';
import {
  createTestApiKey,
  createTestEnvironment,
  type TestEnvironment,
  scrapeMetrics,
} from '@ledgerline/testkit/testing';
import { allTopics, paymentsStatusChangedTopic } from '@ledgerline/generated/topics';
import { createAuditClient, type AuditClient } from '@ledgerline/generated/openapi/audit.client';
import { startAudit, type AuditService } from '../src/service.js';
import { auditGroupId } from '../src/events/trail-consumer.js';
import {
  deployAuditDatabase,
  eventProducers,
  eventually,
  newPayment,
  statusChanged,
  testConfig,
} from './support.js';

const SETUP_MS = 120_000;
const PARTITION = 0;

let env: TestEnvironment;
let service: AuditService | undefined;
let client: AuditClient;
let credential: string;
let scraperKey: string;
let db: Pool;
let kafka: Kafka;
let admin: Admin;
let plain: Producer;
let producers: Awaited<ReturnType<typeof eventProducers>>;
let topic: string;

/** Status events encoded by the generated producer, each with a fresh event id. */
async function encodedEvents(n: number) {
  const events = Array.from({ length: n }, () => {
    const p = newPayment(1_000);
    return { key: p.paymentId, value: statusChanged(p, 1, null, 'PENDING') };
  });
  const messages = await Promise.all(
    events.map(async (e) => ({
      ...(await producers.statusChanged.encode(e.key, e.value)),
      partition: PARTITION,
    })),
  );
  return { eventIds: events.map((e) => e.value.eventId), messages };
}

/** One transaction of `n` events on the partition, committed or aborted. */
async function inTransaction(n: number, outcome: 'commit' | 'abort'): Promise<string[]> {
  const producer = kafka.producer({
    transactionalId: `audit-continuity-${randomUUID()}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const { eventIds, messages } = await encodedEvents(n);
    const transaction = await producer.transaction();
    await transaction.send({ topic, messages });
    if (outcome === 'commit') await transaction.commit();
    else await transaction.abort();
    return eventIds;
  } finally {
    await producer.disconnect();
  }
}

/** `n` events on the partition outside any transaction; their event ids. */
async function plainEvents(n: number): Promise<string[]> {
  const { eventIds, messages } = await encodedEvents(n);
  await plain.send({ topic, messages });
  return eventIds;
}

async function highWatermark(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return Number(offsets.find((o) => o.partition === PARTITION)!.high);
}

async function trailEventIds(): Promise<string[]> {
  const { rows } = await db.query<{ event_id: string }>(
    'SELECT event_id FROM audit.trail WHERE topic = $1 AND partition = $2 ORDER BY sequence',
    [topic, PARTITION],
  );
  return rows.map((r) => r.event_id);
}

async function trailHolds(eventIds: readonly string[]): Promise<void> {
  await eventually(async () => {
    const recorded = new Set(await trailEventIds());
    return eventIds.every((id) => recorded.has(id)) ? true : undefined;
  }, `${eventIds.length} events in the trail`);
}

async function verify() {
  const { data, response } = await client.GET('/v1/verify');
  expect(response.status).toBe(200);
  return data!;
}

async function startService(): Promise<void> {
  service = await startAudit(testConfig(env));
  client = createAuditClient(service.url, { credential });
}

async function stopService(): Promise<void> {
  await service?.stop();
  service = undefined;
}

beforeAll(async () => {
  env = await createTestEnvironment('audit-continuity', allTopics);
  await deployAuditDatabase(env);
  db = createPool(env.adminDatabaseUrl, { max: 2 });
  kafka = createKafka(env.kafkaBrokers, 'audit-continuity-test');
  admin = kafka.admin();
  await admin.connect();
  plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await plain.connect();
  producers = await eventProducers(env);
  topic = `${env.topicPrefix}${paymentsStatusChangedTopic.name}`;
  credential = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'auditor',
    scopes: ['audit:read', 'audit:verify'],
  });
  scraperKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'audit-scraper',
    scopes: ['metrics:read'],
  });
  await startService();
}, SETUP_MS);

afterAll(async () => {
  await stopService();
  await plain?.disconnect();
  await admin?.disconnect();
  await producers?.producer.disconnect();
  await db?.end();
  await env?.cleanup();
}, SETUP_MS);

describe('audit offset continuity', () => {
  it('takes transaction markers and aborted records for what they are, not for gaps', async () => {
    const committed: string[] = [];
    const aborted: string[] = [];
    committed.push(...(await inTransaction(3, 'commit')));
    aborted.push(...(await inTransaction(2, 'abort')));
    committed.push(...(await inTransaction(2, 'commit')));
    // A fetch holding only an aborted record and its marker never reaches the handler.
    aborted.push(...(await inTransaction(1, 'abort')));
    await trailHolds(committed);
    committed.push(...(await inTransaction(1, 'commit')));
    committed.push(...(await plainEvents(2)));
    await trailHolds(committed);

    expect(await trailEventIds()).toEqual(committed);
    const result = await verify();
    expect(result).toMatchObject({ valid: true, complete: true, skippedOffsets: [] });
    // 9 committed, 3 aborted and 5 markers: every offset accounted for without a gap.
    expect(await highWatermark()).toBe(committed.length + aborted.length + 5);
  });

  it('skips nothing when the Kafka group offset is moved ahead: positions live in PostgreSQL', async () => {
    await stopService();
    const events = await plainEvents(4);
    await admin.setOffsets({
      groupId: auditGroupId(env.topicPrefix),
      topic,
      partitions: [{ partition: PARTITION, offset: String(await highWatermark()) }],
    });
    await startService();
    await trailHolds(events);
    expect(await verify()).toMatchObject({ valid: true, complete: true, skippedOffsets: [] });
  });

  it('records exactly the offsets deleted before the audit read them, once', async () => {
    await stopService();
    const first = await highWatermark(); // the audit's stored position: everything before is in the trail
    const events = await plainEvents(6);
    // Deletes offsets first .. first+3: four records the trail never saw.
    await admin.deleteTopicRecords({
      topic,
      partitions: [{ partition: PARTITION, offset: String(first + 4) }],
    });
    await startService();
    await trailHolds(events.slice(4));
    const recorded = new Set(await trailEventIds());
    expect(events.filter((id) => recorded.has(id))).toEqual(events.slice(4));

    const expectedGap = {
      topic,
      partition: PARTITION,
      fromOffset: String(first),
      toOffset: String(first + 3),
    };
    const result = await verify();
    expect(result.valid).toBe(true); // the chain itself is intact ...
    expect(result.complete).toBe(false); // ... but it misses four records
    expect(result.skippedOffsets).toEqual([
      { ...expectedGap, detectedAt: expect.any(String) as unknown as string },
    ]);

    const metrics = await scrapeMetrics(service!.url, scraperKey);
    expect(metrics).toContain(
      `ledgerline_audit_skipped_offsets_total{topic="${topic}",partition="${PARTITION}",service="audit"} 4`,
    );

    // A restart neither forgets the gap nor records it twice, and what follows is complete.
    await stopService();
    await startService();
    const later = await plainEvents(2);
    await trailHolds(later);
    const again = await verify();
    expect(again.skippedOffsets.map(({ detectedAt: _, ...gap }) => gap)).toEqual([expectedGap]);
  });
});
