// The ledger's stores check every row against its schema: a migration that renames a column or
// lets it be null makes the read fail loudly instead of serving undefined or null to a client.
import { randomUUID } from 'node:crypto';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import {
  createTestEnvironment,
  deployTestDatabase,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { ledgerDatabase } from '../src/database.js';
import { insertApiCommand } from '../src/store/api-commands.js';
import { findAccount, findCommand } from '../src/store/queries.js';

let env: TestEnvironment;
let owner: Pool;

beforeAll(async () => {
  env = await createTestEnvironment('ledger-store-shape', allTopics);
  await deployTestDatabase(env, [ledgerDatabase]);
  owner = createPool(env.adminDatabaseUrl, { max: 1 });
}, 60_000);

afterAll(async () => {
  await owner?.end();
  await env?.cleanup();
});

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  const commandId = randomUUID();
  const accountId = randomUUID();
  await insertApiCommand(
    owner,
    {
      commandId,
      correlationId: commandId,
      causationId: null,
      occurredAt: new Date(),
      accountId,
      command: {
        'ledgerline.ledger.v1.AccountStatusChangeRequested': {
          accountId,
          to: 'FROZEN',
          reason: null,
        },
      },
    },
    'CHANGE_ACCOUNT_STATUS',
    { action: 'FREEZE' },
    null,
  );
  expect(await findCommand(owner, commandId)).toMatchObject({ commandId, status: 'PENDING' });
  await owner.query('ALTER TABLE ledger.api_commands ALTER COLUMN accepted_at DROP NOT NULL');
  // Triggers off for this superuser session: the table is append-only otherwise.
  await owner.query('SET session_replication_role = replica');
  await owner.query('UPDATE ledger.api_commands SET accepted_at = NULL');
  const error = await findCommand(owner, commandId).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('accepted_at');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await owner.query('ALTER TABLE ledger.accounts RENAME COLUMN owner_ref TO owner');
  await expect(findAccount(owner, randomUUID())).rejects.toThrow(/owner_ref/);
});
