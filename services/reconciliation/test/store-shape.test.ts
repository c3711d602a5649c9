// Reconciliation's stores check every row against its schema: a migration that renames a column
// or lets it be null makes the read fail loudly instead of feeding undefined to a check.
import { randomUUID } from 'node:crypto';
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import { ownerDatabase } from '@ledgerline/testkit/testing';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { reconciliationDatabase } from '../src/database.js';
import { readWatermark, writeWatermark } from '../src/store/runs-store.js';
import { readPaymentFacts } from '../src/store/ledger-reader.js';

let db: Awaited<ReturnType<typeof ownerDatabase>>;

beforeAll(async () => {
  db = await ownerDatabase('reconciliation-store-shape', [ledgerDatabase, reconciliationDatabase]);
}, 60_000);

afterAll(() => db?.close());

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  const at = new Date('2026-12-05T08:00:00.000Z');
  await writeWatermark(db.owner, 'continuous', at);
  expect(await readWatermark(db.owner, 'continuous')).toEqual(at);
  await db.owner.query('ALTER TABLE reconciliation.watermarks ALTER COLUMN position DROP NOT NULL');
  await db.owner.query('UPDATE reconciliation.watermarks SET position = NULL');
  const error = await readWatermark(db.owner, 'continuous').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('position');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await db.owner.query(
    'ALTER TABLE reconciliation.payment_requests RENAME COLUMN requested_at TO received_at',
  );
  await expect(readPaymentFacts(db.owner, [randomUUID()])).rejects.toThrow(/requested_at/);
});
