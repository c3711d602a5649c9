// The trail store's rows are checked against their schemas: a migration that renames a column
// or lets it be null makes the store fail loudly instead of handing undefined or a wrong type
// to the chain verifier.
import { createPool, type Pool } from '@ledgerline/platform/db';
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { readCheckpoints, readChainRange } from '../src/store/trail-store.js';
import { deployAuditDatabase } from './support.js';

let env: TestEnvironment;
let owner: Pool;

beforeAll(async () => {
  env = await createTestEnvironment('audit-store-shape', allTopics);
  await deployAuditDatabase(env);
  owner = createPool(env.adminDatabaseUrl, { max: 1 });
  // A checkpoint row without its trail record: foreign keys off for this superuser session.
  await owner.query('SET session_replication_role = replica');
  await owner.query(
    `INSERT INTO audit.chain_checkpoints (sequence, hash, at) VALUES (5, repeat('ab', 32), now())`,
  );
}, 60_000);

afterAll(async () => {
  await owner?.end();
  await env?.cleanup();
});

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  expect(await readCheckpoints(owner, 1, 10)).toEqual(new Map([[5, 'ab'.repeat(32)]]));
  await owner.query('ALTER TABLE audit.chain_checkpoints ALTER COLUMN hash DROP NOT NULL');
  await owner.query('UPDATE audit.chain_checkpoints SET hash = NULL'); // triggers off (replica)
  const error = await readCheckpoints(owner, 1, 10).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('hash');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await owner.query('ALTER TABLE audit.trail RENAME COLUMN producer TO produced_by');
  await expect(readChainRange(owner, 1, 10, 10)).rejects.toThrow(/producer/);
});
