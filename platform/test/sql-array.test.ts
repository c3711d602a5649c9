// Array literals built by hand must reach PostgreSQL exactly as node-postgres would send them:
// round-tripped through a real server for every element type the batches bind.
import fc from 'fast-check';
import pg from 'pg';
import { platformEndpoints } from '../src/config.js';
import { arrayLiteral } from '../src/sql-array.js';

let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: platformEndpoints().databaseUrl, max: 1 });
});

afterAll(async () => {
  await pool?.end();
});

async function roundTrip(sqlType: string, values: unknown[]): Promise<unknown[]> {
  const { rows } = await pool.query<{ out: unknown[] }>(`SELECT $1::${sqlType}[] AS out`, [
    arrayLiteral(values as never),
  ]);
  return rows[0]?.out ?? [];
}

test('text with quotes, backslashes, commas, braces, spaces, NULL-like words and unicode', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.option(fc.string({ unit: 'grapheme' }), { nil: null })),
      async (values) => {
        const clean = values.map((v) => (v === null ? null : v.replace(/\0/g, '')));
        expect(await roundTrip('text', clean)).toEqual(clean);
      },
    ),
    { numRuns: 200 },
  );
  const tricky = ['NULL', 'null', '', ' ', 'a,b', '{x}', '"', '\\', '\\"', 'é€𝄞'];
  expect(await roundTrip('text', tricky)).toEqual(tricky);
});

test('uuids, safe integers, timestamps, booleans and bytea', async () => {
  const uuids = [
    '00000000-0000-4000-8000-000000000001',
    null,
    'ffffffff-ffff-4fff-bfff-ffffffffffff',
  ];
  expect(await roundTrip('uuid', uuids)).toEqual(uuids);
  const longs = [0, -1, 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, null];
  const { rows } = await pool.query<{ out: string[] }>('SELECT $1::bigint[]::text[] AS out', [
    arrayLiteral(longs),
  ]);
  expect(rows[0]?.out).toEqual(longs.map((n) => (n === null ? null : String(n))));
  const instants = [new Date(0), new Date('2026-11-26T16:36:13.123Z'), null];
  expect(await roundTrip('timestamptz', instants)).toEqual(instants);
  expect(await roundTrip('boolean', [true, false, null])).toEqual([true, false, null]);
  const bytes = [Buffer.from([0, 1, 0x5c, 0x22, 0xff]), Buffer.alloc(0), null];
  expect(await roundTrip('bytea', bytes)).toEqual(bytes);
});

test('a number that is not finite is refused before it reaches the database', () => {
  expect(() => arrayLiteral([Number.NaN])).toThrow(RangeError);
  expect(() => arrayLiteral([Number.POSITIVE_INFINITY])).toThrow(RangeError);
});
