// The ledger's stores check every row against its schema: a migration that renames a column or
// lets it be null makes the read fail loudly instead of serving undefined or null to a client.
import { randomUUID } from 'node:crypto';
import { RowShapeError } from '@ledgerline/platform/database/slonik';
import { ownerDatabase } from '@ledgerline/testkit/testing';
import { ledgerDatabase } from '../src/database.js';
import { insertApiCommand } from '../src/store/api-commands.js';
import { findAccount, findCommand } from '../src/store/queries.js';

let db: Awaited<ReturnType<typeof ownerDatabase>>;

beforeAll(async () => {
  db = await ownerDatabase('ledger-store-shape', [ledgerDatabase]);
}, 60_000);

afterAll(() => db?.close());

test('a column a migration made nullable fails with RowShapeError naming it', async () => {
  const commandId = randomUUID();
  const accountId = randomUUID();
  await insertApiCommand(
    db.owner,
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
  expect(await findCommand(db.owner, commandId)).toMatchObject({ commandId, status: 'PENDING' });
  await db.owner.query('ALTER TABLE ledger.api_commands ALTER COLUMN accepted_at DROP NOT NULL');
  // Triggers off for this superuser session: the table is append-only otherwise.
  await db.owner.query('SET session_replication_role = replica');
  await db.owner.query('UPDATE ledger.api_commands SET accepted_at = NULL');
  const error = await findCommand(db.owner, commandId).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toContain('accepted_at');
});

test('a column a migration renamed fails the read instead of reading undefined', async () => {
  await db.owner.query('ALTER TABLE ledger.accounts RENAME COLUMN owner_ref TO owner');
  await expect(findAccount(db.owner, randomUUID())).rejects.toThrow(/owner_ref/);
});
