// The processor's store checks every row against its schema: a migration that renames a column
// or lets it be null makes the read fail loudly instead of serving undefined to a client.
import { randomUUID } from 'node:crypto';
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import { ownerDatabase } from '@ledgerline/testkit/testing';
import { processorDatabase } from '../src/database.js';
import { findIdempotencyRecord, insertIdempotencyRecord } from '../src/store/idempotency.js';
import { refundsOf } from '../src/store/payments.js';

let db: Awaited<ReturnType<typeof ownerDatabase>>;

beforeAll(async () => {
  db = await ownerDatabase('processor-store-shape', [processorDatabase]);
}, 60_000);

afterAll(() => db?.close());

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  const record = {
    requestHash: 'a'.repeat(64),
    response: { status: 202, body: { id: 'x' }, location: '/v1/payments/x' },
  };
  expect(await insertIdempotencyRecord(db.owner, 'createPayment', 'key-0001', record)).toBe(true);
  expect(await findIdempotencyRecord(db.owner, 'createPayment', 'key-0001')).toEqual(record);
  await db.owner.query(
    'ALTER TABLE processor.idempotency_keys ALTER COLUMN response_location DROP NOT NULL',
  );
  await db.owner.query('UPDATE processor.idempotency_keys SET response_location = NULL');
  const error = await findIdempotencyRecord(db.owner, 'createPayment', 'key-0001').catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('response_location');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await db.owner.query('ALTER TABLE processor.refunds RENAME COLUMN reason TO note');
  await expect(refundsOf(db.owner, randomUUID())).rejects.toThrow(/reason/);
});
