// Poison on every topic reconciliation records facts from (ledger.commands, ledger.step-posted,
// ledger.posting-rejected, payments.status-changed), on the real broker, registry and database:
// bytes that are not Avro, a value under a schema id the registry never issued, and valid Avro
// whose uuid fields are no UUIDs are dead-lettered with the reason, the consumer group and their
// source coordinates; the payment's good events after them, on the same partitions (same keys),
// are still recorded.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createTestEnvironment,
  TopicReader,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { badLogicalValue, NOT_AVRO, UNKNOWN_SCHEMA } from '@ledgerline/testkit/poison';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import {
  allTopics,
  ledgerCommandsTopic,
  ledgerlineDeadLetterConsumer,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import type { Pool } from '@ledgerline/platform/db';
import { startReconciliation, type ReconciliationService } from '../src/service.js';
import { consumerGroupId } from '@ledgerline/platform/consumer';
import { RECONCILIATION_GROUP } from '../src/events/fact-consumer.js';
import {
  deployLedgerAndReconciliation,
  eventPublisher,
  eventually,
  LedgerSeed,
  ownerPool,
  testConfig,
} from './support.js';

let env: TestEnvironment;
let owner: Pool;
let service: ReconciliationService;
let publisher: Awaited<ReturnType<typeof eventPublisher>>;
let serde: EventSerde;

beforeAll(async () => {
  env = await createTestEnvironment('reconciliation-poison', allTopics);
  owner = ownerPool(env);
  await deployLedgerAndReconciliation(env);
  service = await startReconciliation(testConfig(env));
  publisher = await eventPublisher(env);
  serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
}, 120_000);

afterAll(async () => {
  await publisher?.producer.disconnect();
  await service?.stop();
  await owner?.end();
  await env?.cleanup();
});

async function sendRaw(topic: AnyTopic, key: string, value: Buffer): Promise<void> {
  const prefixed = prefixedTopic(topic, env.topicPrefix);
  await publisher.producer.send({
    topic: prefixed.name,
    acks: -1,
    messages: [{ key: await serde.encodeKey(prefixed, key as never), value }],
  });
}

describe('reconciliation facts: poison on every consumed topic', () => {
  it('is dead-lettered with reason, group and coordinates, and the good events after it are recorded', async () => {
    const seed = new LedgerSeed('EUR');
    const alice = seed.customer();
    const bob = seed.customer();
    const at = new Date(Date.now() - 60_000);
    seed.adjustment(alice, 'CREDIT', 10_000, 'WIRE-POISON', at);
    const payment = seed.payment(alice, bob, 2_500, at);
    await seed.write(owner);

    // Commands are keyed by the account they touch; outcomes and statuses by the payment.
    const poisoned: [AnyTopic, string][] = [
      [ledgerCommandsTopic, alice],
      [ledgerCommandsTopic, bob],
      [ledgerStepPostedTopic, payment.paymentId],
      [ledgerPostingRejectedTopic, payment.paymentId],
      [paymentsStatusChangedTopic, payment.paymentId],
    ];
    const badValues = new Map<AnyTopic, Buffer>();
    for (const [topic, key] of poisoned) {
      const bad =
        badValues.get(topic) ??
        (await badLogicalValue(env.schemaRegistryUrl, prefixedTopic(topic, env.topicPrefix)));
      badValues.set(topic, bad);
      await sendRaw(topic, key, NOT_AVRO);
      await sendRaw(topic, key, UNKNOWN_SCHEMA);
      await sendRaw(topic, key, bad);
    }
    await publisher.transactions(seed.transactions, seed.payments);
    await publisher.status(payment, 'COMPLETED', 3, at);

    // The good events behind the poison are recorded: the partitions moved on.
    await eventually(
      async () => {
        const { rows } = await owner.query<{ outcomes: number; statuses: number }>(
          `SELECT (SELECT count(*)::int FROM reconciliation.ledger_outcomes
                    WHERE payment_id = $1) AS outcomes,
                  (SELECT count(*)::int FROM reconciliation.payment_statuses
                    WHERE payment_id = $1) AS statuses`,
          [payment.paymentId],
        );
        const r = rows[0]!;
        return r.outcomes === 2 && r.statuses === 1 ? true : undefined;
      },
      'the payment outcomes and status behind the poison',
      30_000,
    );

    const group = consumerGroupId(RECONCILIATION_GROUP, env.topicPrefix);
    const reader = await TopicReader.start(
      env.kafkaBrokers,
      ledgerlineDeadLetterConsumer(serde, { topicPrefix: env.topicPrefix }),
    );
    try {
      const ours = (records: readonly (typeof reader.records)[number][]) =>
        records.filter((r) => r.value.consumer === group);
      const letters = ours(
        await reader.waitFor((records) => ours(records).length >= 3 * poisoned.length),
      );
      expect(letters).toHaveLength(3 * poisoned.length);
      const byTopic = new Map<string, string[]>();
      for (const letter of letters) {
        const reasons = byTopic.get(letter.value.sourceTopic) ?? [];
        reasons.push(letter.value.reason);
        byTopic.set(letter.value.sourceTopic, reasons);
        expect(letter.value.partition).toBeGreaterThanOrEqual(0);
        expect(Number(letter.value.offset)).toBeGreaterThanOrEqual(0);
        const original = letter.value.value;
        const sent = [NOT_AVRO, UNKNOWN_SCHEMA, ...badValues.values()];
        expect(sent.some((bytes) => original?.equals(bytes))).toBe(true);
      }
      for (const [topic] of poisoned) {
        const reasons = byTopic.get(prefixedTopic(topic, env.topicPrefix).name) ?? [];
        expect(reasons.some((r) => /wire format/.test(r))).toBe(true);
        expect(reasons.some((r) => /unknown writer schema id/.test(r))).toBe(true);
        expect(reasons.some((r) => /not-a-uuid.*not a UUID/.test(r))).toBe(true);
      }
    } finally {
      await reader.stop();
    }
  });
});
