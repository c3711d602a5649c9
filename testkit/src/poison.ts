// Poison for the consumers' dead-letter tests: records a consumer must give up on, each of
// another kind (not Avro at all, a schema id the registry never issued, valid Avro carrying a
// logical value that breaks the contract), and a well-formed ledger.step-posted event to
// surround them with.
import { randomUUID } from 'node:crypto';
import avsc from 'avsc';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import type { PaymentStepPostedInput } from '@ledgerline/generated/avro/types';

/** Bytes that are no Confluent-framed Avro at all. */
export const NOT_AVRO = Buffer.from('{"not":"avro"}');

/** Magic byte 0, then a schema id far beyond any the registry has issued. */
export const UNKNOWN_SCHEMA = Buffer.concat([
  Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]),
  Buffer.from('x'),
]);

interface RecordSchema {
  readonly fields: readonly { readonly name: string; readonly type: unknown }[];
}

/**
 * Valid Avro under the topic's registered value schema (registered now if it is not yet) whose
 * top-level uuid fields say "not-a-uuid": it decodes byte for byte, but a logical value is
 * wrong, so it cannot be applied. `topic` is the prefixed topic the test produces to.
 */
export async function badLogicalValue(registryUrl: string, topic: AnyTopic): Promise<Buffer> {
  const response = await fetch(
    `${registryUrl}/subjects/${encodeURIComponent(topic.valueSubject)}/versions`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(topic.valueSchema) }),
    },
  );
  if (response.status !== 200) {
    throw new Error(
      `registering ${topic.valueSubject}: ${response.status} ${await response.text()}`,
    );
  }
  const { id } = (await response.json()) as { id: number };
  const schema = topic.valueSchema as avsc.Schema & RecordSchema;
  const type = avsc.Type.forSchema(schema);
  const value = type.random() as unknown as Record<string, unknown>;
  for (const field of schema.fields) {
    const fieldType = field.type as { logicalType?: string };
    if (fieldType.logicalType === 'uuid') value[field.name] = 'not-a-uuid';
  }
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, type.toBuffer(value)]);
}

/**
 * A well-formed ledger.step-posted event: the payment's DEBIT step of `amountMinor` EUR from a
 * fresh account into a fresh clearing account, leaving `balanceMinor` on the account.
 */
export function stepPostedEvent(
  options: { paymentId?: string; amountMinor?: number; balanceMinor?: number } = {},
): PaymentStepPostedInput {
  const { paymentId = randomUUID(), amountMinor = 1_250, balanceMinor = 0 } = options;
  const accountId = randomUUID();
  const clearing = randomUUID();
  return {
    eventId: randomUUID(),
    correlationId: paymentId,
    causationId: null,
    occurredAt: new Date(),
    paymentId,
    refundId: null,
    adjustmentId: null,
    step: 'DEBIT',
    sequence: 0,
    transactionId: randomUUID(),
    accountId,
    amountMinor,
    currency: 'EUR',
    entries: [
      { entryId: randomUUID(), accountId, direction: 'DEBIT', amountMinor, currency: 'EUR' },
      {
        entryId: randomUUID(),
        accountId: clearing,
        direction: 'CREDIT',
        amountMinor,
        currency: 'EUR',
      },
    ],
    referencesTransactionId: null,
    balances: [{ accountId, balanceMinor }],
    postedAt: new Date(),
  };
}
