// The trail store's rows are checked against their schemas: a migration that renames a column
// or lets it be null makes the store fail loudly instead of handing undefined or a wrong type
// to the chain verifier.
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import { ownerDatabase } from '@ledgerline/testkit/testing';
import { readCheckpoints, readChainRange } from '../src/store/trail-store.js';
import { auditDatabase } from '../src/database.js';

let db: Awaited<ReturnType<typeof ownerDatabase>>;

beforeAll(async () => {
  db = await ownerDatabase('audit-store-shape', [auditDatabase]);
  // A checkpoint row without its trail record: foreign keys off for this superuser session.
  await db.owner.query('SET session_replication_role = replica');
  await db.owner.query(
    `INSERT INTO audit.chain_checkpoints (sequence, hash, at) VALUES (5, repeat('ab', 32), now())`,
  );
}, 60_000);

afterAll(() => db?.close());

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  expect(await readCheckpoints(db.owner, 1, 10)).toEqual(new Map([[5, 'ab'.repeat(32)]]));
  await db.owner.query('ALTER TABLE audit.chain_checkpoints ALTER COLUMN hash DROP NOT NULL');
  await db.owner.query('UPDATE audit.chain_checkpoints SET hash = NULL'); // triggers off (replica)
  const error = await readCheckpoints(db.owner, 1, 10).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('hash');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await db.owner.query('ALTER TABLE audit.trail RENAME COLUMN producer TO produced_by');
  await expect(readChainRange(db.owner, 1, 10, 10)).rejects.toThrow(/producer/);
});
