// A statement committed in one round trip (BEGIN, the statement with its values inlined as
// literals, COMMIT in one simple query), against a real server: any string arrives exactly as
// bound parameters would deliver it, a failing statement commits nothing and leaves the
// session clean, and the lock timeout applies.
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { platformEndpoints } from '../src/config.js';
import { commitStatement, createPool, type Pool } from '../src/db.js';
import { inlineLiterals, parseRows, sql } from '../src/database/slonik.js';
import { arrayLiteral } from '../src/sql-array.js';

let pool: Pool;
const table = `commit_statement_${randomUUID().replace(/-/g, '')}`;

beforeAll(async () => {
  pool = createPool(platformEndpoints().databaseUrl, { max: 1 });
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text NOT NULL)`);
});

afterAll(async () => {
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

const echo = (values: readonly string[]) =>
  sql.type(z.object({ out: z.array(z.string()) }))`SELECT ${arrayLiteral(values)}::text[] AS out`;

test('inlined strings (quotes, backslashes, dollars, unicode) arrive as bound ones would', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme' })), async (values) => {
      const clean = values.map((v) => v.replace(/\0/g, ''));
      const statement = echo(clean);
      const rows = parseRows(statement, await commitStatement(pool, inlineLiterals(statement)));
      expect(rows).toEqual([{ out: clean }]);
    }),
    { numRuns: 150 },
  );
  const tricky = ["'", "''; DROP TABLE x; --", '\\', "\\'", '$1', '$$', '$slonik_1', 'é€𝄞'];
  const statement = echo(tricky);
  expect(parseRows(statement, await commitStatement(pool, inlineLiterals(statement)))).toEqual([
    { out: tricky },
  ]);
});

test('only strings are inlined', () => {
  expect(() => inlineLiterals(sql.unsafe`SELECT ${42}::int`)).toThrow(/not a string/);
});

test('a failing statement commits nothing, and the session is usable afterwards', async () => {
  const insert = (ids: string) =>
    inlineLiterals(
      sql.unsafe`INSERT INTO ${sql.identifier([table])} (id, note)
                 SELECT id, 'x' FROM unnest(${ids}::int[]) AS id RETURNING id`,
    );
  expect(await commitStatement(pool, insert('{1,2}'))).toEqual([{ id: 1 }, { id: 2 }]);
  // 3 is new, 2 is taken: the statement fails as a whole.
  await expect(commitStatement(pool, insert('{3,2}'))).rejects.toMatchObject({ code: '23505' });
  const { rows } = await pool.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
  expect(rows.map((r) => r.id)).toEqual([1, 2]);
  // The one pooled connection is out of the aborted transaction (ROLLBACK ran).
  expect(await commitStatement(pool, insert('{4}'))).toEqual([{ id: 4 }]);
});

test('the lock timeout bounds the wait for a row another transaction holds', async () => {
  const holder = createPool(platformEndpoints().databaseUrl, { max: 1 });
  const client = await holder.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${table} (id, note) VALUES (10, 'held')`);
    const started = Date.now();
    await expect(
      commitStatement(
        pool,
        inlineLiterals(
          sql.unsafe`INSERT INTO ${sql.identifier([table])} (id, note) VALUES (10, ${'mine'})`,
        ),
        { lockTimeoutMs: 200 },
      ),
    ).rejects.toMatchObject({ code: '55P03' });
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    await client.query('ROLLBACK');
    client.release();
    await holder.end();
  }
});
