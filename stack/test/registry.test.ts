// Apicurio Registry through its Confluent-compatible API: per-subject compatibility is enforced
// and the Confluent wire format round-trips with the client the services use.
import { COMPATIBILITY, type SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { schemaRegistryClient } from '@ledgerline/platform/events/serde';
import { registryConnection, type RegistryMethod } from '@ledgerline/platform/transport-security';
import { askRegistry } from '@ledgerline/testkit/testing';
import { startStack } from '../src/index.js';
import { uniqueSuffix } from './support.js';

let baseUrl: string;
let registry: SchemaRegistry;

beforeAll(async () => {
  // Starts the shared stack if needed; never stops it (others may be using it).
  baseUrl = (await startStack()).schemaRegistryUrl;
  // The client as the services configure it (platform/src/events/serde.ts).
  registry = schemaRegistryClient(registryConnection(baseUrl, {}));
}, 300_000);

interface AvroRecord {
  type: 'record';
  name: string;
  namespace: string;
  fields: object[];
}

const paymentV1: AvroRecord = {
  type: 'record',
  name: 'StackTestPayment',
  namespace: 'ledgerline.stacktest.v1',
  fields: [
    { name: 'paymentId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'amountMinor', type: 'long' },
  ],
};

// A new field with a default: old readers ignore it, new readers fill it in (FULL compatible).
const paymentV2Compatible: AvroRecord = {
  ...paymentV1,
  fields: [...paymentV1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
};

// A new field without a default: new readers cannot read old data (not BACKWARD compatible).
const paymentV2Incompatible: AvroRecord = {
  ...paymentV1,
  fields: [...paymentV1.fields, { name: 'payerAccountId', type: 'string' }],
};

/** One request through the platform's registry client (asked again if left unanswered). */
const call = (method: RegistryMethod, path: string, body?: unknown) =>
  askRegistry(baseUrl, method, path, body);

test('the global compatibility default is not NONE', async () => {
  const config = await call('GET', '/config');
  expect(config.status).toBe(200);
  expect((config.json as { compatibilityLevel: string }).compatibilityLevel).not.toBe('NONE');
});

test('a FULL_TRANSITIVE subject refuses an incompatible version with 409 and accepts a compatible one', async () => {
  const subject = `stack-test.payments-${uniqueSuffix()}-value`;
  const configured = await call('PUT', `/config/${subject}`, { compatibility: 'FULL_TRANSITIVE' });
  expect(configured.status).toBe(200);
  expect((await call('GET', `/config/${subject}`)).json).toEqual({
    compatibilityLevel: 'FULL_TRANSITIVE',
  });

  const v1 = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(paymentV1) },
    { subject, compatibility: COMPATIBILITY.FULL_TRANSITIVE },
  );
  expect(v1.id).toBeGreaterThan(0);

  const refused = await call('POST', `/subjects/${subject}/versions`, {
    schema: JSON.stringify(paymentV2Incompatible),
  });
  expect(refused.status).toBe(409);
  await expect(
    registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(paymentV2Incompatible) },
      { subject, compatibility: COMPATIBILITY.FULL_TRANSITIVE },
    ),
  ).rejects.toMatchObject({ status: 409 });

  const v2 = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(paymentV2Compatible) },
    { subject, compatibility: COMPATIBILITY.FULL_TRANSITIVE },
  );
  expect(v2.id).not.toBe(v1.id);
  expect((await call('GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);
});

test('the Confluent wire format round-trips: magic byte 0, schema id, Avro body', async () => {
  const subject = `stack-test.wire-${uniqueSuffix()}-value`;
  await call('PUT', `/config/${subject}`, { compatibility: 'FULL_TRANSITIVE' });
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(paymentV1) },
    { subject, compatibility: COMPATIBILITY.FULL_TRANSITIVE },
  );
  const payment = { paymentId: '0b6f3c8e-4f5c-4d55-9a57-6f1f7d2f8c11', amountMinor: 12_345 };

  const encoded = await registry.encode(id, payment);
  expect(encoded.readUInt8(0)).toBe(0);
  expect(encoded.readUInt32BE(1)).toBe(id);

  // A fresh client knows nothing: it must fetch the writer schema by id from the registry.
  const reader = schemaRegistryClient(registryConnection(baseUrl, {}));
  expect(await reader.decode(encoded)).toEqual(payment);

  // Schema resolution: data written with v1, read with v2, gets v2's default.
  const v2Reader = await reader.decode(encoded, {
    [SchemaType.AVRO]: { readerSchema: paymentV2Compatible },
  });
  expect(v2Reader).toEqual({ ...payment, currency: 'EUR' });
});
