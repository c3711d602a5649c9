// Reconciliation's stores check every row against its schema: a migration that renames a column
// or lets it be null makes the read fail loudly instead of feeding undefined to a check.
import { randomUUID } from 'node:crypto';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import {
  createTestEnvironment,
  deployTestDatabase,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { reconciliationDatabase } from '../src/database.js';
import { readWatermark, writeWatermark } from '../src/store/runs-store.js';
import { readPaymentFacts } from '../src/store/ledger-reader.js';

let env: TestEnvironment;
let owner: Pool;

beforeAll(async () => {
  env = await createTestEnvironment('reconciliation-store-shape', allTopics);
  await deployTestDatabase(env, [ledgerDatabase, reconciliationDatabase]);
  owner = createPool(env.adminDatabaseUrl, { max: 1 });
}, 60_000);

afterAll(async () => {
  await owner?.end();
  await env?.cleanup();
});

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  const at = new Date('2026-12-05T08:00:00.000Z');
  await writeWatermark(owner, 'continuous', at);
  expect(await readWatermark(owner, 'continuous')).toEqual(at);
  await owner.query('ALTER TABLE reconciliation.watermarks ALTER COLUMN position DROP NOT NULL');
  await owner.query('UPDATE reconciliation.watermarks SET position = NULL');
  const error = await readWatermark(owner, 'continuous').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('position');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await owner.query(
    'ALTER TABLE reconciliation.payment_requests RENAME COLUMN requested_at TO received_at',
  );
  await expect(readPaymentFacts(owner, [randomUUID()])).rejects.toThrow(/requested_at/);
});
