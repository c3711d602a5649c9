// The slonik foundation on a real server: rows are validated against their zod schema (a
// column renamed away fails instead of reading undefined), int8 arrives as a safe integer,
// sql.unnest inserts a batch, a failed transaction rolls back, and errors map to one kind.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { platformEndpoints } from '../src/config.js';
import { createPool } from '../src/db.js';
import { classifyFault, DependencyUnavailableError } from '../src/faults.js';
import {
  asRowShapeError,
  createSlonikPool,
  databaseErrorKind,
  queryIn,
  RowShapeError,
  sql,
  type DatabasePool,
} from '../src/database/slonik.js';

let pool: DatabasePool;
const table = `slonik_test_${randomUUID().replaceAll('-', '')}`;
const balanceRow = z.object({ account_id: z.string(), balance: z.number().int() });

beforeAll(async () => {
  pool = await createSlonikPool(platformEndpoints().databaseUrl, { max: 2 });
  await pool.query(
    sql.unsafe`CREATE TABLE ${sql.identifier([table])} (account_id text PRIMARY KEY, balance bigint NOT NULL)`,
  );
});

afterAll(async () => {
  await pool.query(sql.unsafe`DROP TABLE IF EXISTS ${sql.identifier([table])}`);
  await pool.end();
});

test('sql.unnest inserts a batch and rows come back parsed, int8 as a number', async () => {
  await pool.query(sql.unsafe`
    INSERT INTO ${sql.identifier([table])} (account_id, balance)
    SELECT * FROM ${sql.unnest(
      [
        ['acc-1', 1250],
        ['acc-2', 9_007_199_254_740_991],
      ],
      ['text', 'int8'],
    )}`);
  const rows = await pool.any(
    sql.type(
      balanceRow,
    )`SELECT account_id, balance FROM ${sql.identifier([table])} ORDER BY account_id`,
  );
  expect(rows).toEqual([
    { account_id: 'acc-1', balance: 1250 },
    { account_id: 'acc-2', balance: 9_007_199_254_740_991 },
  ]);
});

test('a row missing a schema column (renamed in a migration) fails instead of reading undefined', async () => {
  const renamed = pool.one(
    sql.type(
      balanceRow,
    )`SELECT account_id, balance AS available FROM ${sql.identifier([table])} WHERE account_id = 'acc-1'`,
  );
  const error = await renamed.catch((e: unknown) => asRowShapeError(e));
  expect(error).toBeInstanceOf(RowShapeError);
  expect((error as RowShapeError).message).toMatch(/balance/);
  expect(databaseErrorKind(error)).toBe('row-shape');
});

test('a failed transaction rolls back, and a duplicate key maps to unique-violation', async () => {
  const failed = await pool
    .transaction(async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO ${sql.identifier([table])} VALUES ('acc-3', 1)`);
      await tx.query(sql.unsafe`INSERT INTO ${sql.identifier([table])} VALUES ('acc-1', 1)`);
    })
    .catch((e: unknown) => e);
  expect(databaseErrorKind(failed)).toBe('unique-violation');
  const count = await pool.oneFirst(
    sql.type(
      z.object({ n: z.number() }),
    )`SELECT count(*)::int8 AS n FROM ${sql.identifier([table])} WHERE account_id = 'acc-3'`,
  );
  expect(count).toBe(0);
});

test('queryIn prepares a statement once per session, and the pool plans it once', async () => {
  const pgPool = createPool(platformEndpoints().databaseUrl, { max: 1 });
  const client = await pgPool.connect();
  try {
    // An id-array statement: left to PostgreSQL, each call would get a custom plan.
    for (const ids of [['acc-1'], ['acc-1', 'acc-2'], ['acc-2', 'acc-3', 'acc-4']]) {
      await queryIn(
        client,
        sql.type(balanceRow)`SELECT account_id, balance FROM ${sql.identifier([table])}
          WHERE account_id = ANY(${sql.array(ids, 'text')})`,
      );
    }
    const { rows } = await client.query<{ generic_plans: number; custom_plans: number }>(
      `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE $1`,
      [`%${table}%ANY%`],
    );
    expect(rows).toEqual([{ generic_plans: 3, custom_plans: 0 }]);
  } finally {
    client.release();
    await pgPool.end();
  }
});

test('a migration that changes a prepared statement’s result: a transient fault, then prepared anew', async () => {
  const pgPool = createPool(platformEndpoints().databaseUrl, { max: 1 });
  const client = await pgPool.connect();
  const migrated = `${table}_migrated`;
  try {
    await client.query(
      `CREATE TABLE ${migrated} (id int PRIMARY KEY, amount int NOT NULL); INSERT INTO ${migrated} VALUES (1, 7)`,
    );
    const read = () =>
      queryIn(
        client,
        sql.type(
          z.object({ amount: z.number().int() }),
        )`SELECT amount FROM ${sql.identifier([migrated])} WHERE id = ${1}`,
      );
    expect((await read()).rows).toEqual([{ amount: 7 }]);
    // What a deploy's migration does to a running service: the column's type changes.
    await client.query(`ALTER TABLE ${migrated} ALTER COLUMN amount TYPE bigint`);

    const failure = await read().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DependencyUnavailableError);
    expect(classifyFault(failure)).toBe('transient');
    expect((await read()).rows).toEqual([{ amount: 7 }]);
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${migrated}`);
    client.release();
    await pgPool.end();
  }
});

test('queryIn runs a slonik query inside a transaction opened on a pg client, rows checked', async () => {
  const pgPool = createPool(platformEndpoints().databaseUrl, { max: 1 });
  const client = await pgPool.connect();
  try {
    await client.query('BEGIN');
    await queryIn(
      client,
      sql.unsafe`INSERT INTO ${sql.identifier([table])} (account_id, balance) VALUES ('acc-tx', 7)`,
    );
    const { rows } = await queryIn(
      client,
      sql.type(
        balanceRow,
      )`SELECT account_id, balance FROM ${sql.identifier([table])} WHERE account_id = ${'acc-tx'}`,
    );
    expect(rows).toEqual([{ account_id: 'acc-tx', balance: 7 }]);
    const renamed = queryIn(
      client,
      sql.type(
        balanceRow,
      )`SELECT account_id, balance AS available FROM ${sql.identifier([table])} WHERE account_id = 'acc-tx'`,
    );
    await expect(renamed).rejects.toBeInstanceOf(RowShapeError);
    await client.query('ROLLBACK');
  } finally {
    client.release();
    await pgPool.end();
  }
  // Rolled back with the platform's transaction: the store did not commit on its own.
  const after = await pool.any(
    sql.type(
      balanceRow,
    )`SELECT account_id, balance FROM ${sql.identifier([table])} WHERE account_id = 'acc-tx'`,
  );
  expect(after).toEqual([]);
});
