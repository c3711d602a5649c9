// PostgreSQL's work per payment: WAL positions parsed exactly, per-payment figures from two
// marks, and marks read from the real server around transactions that write.
import pg from 'pg';
import { platformEndpoints } from '@ledgerline/platform/config';
import {
  markPostgresWork,
  parseLsn,
  postgresWorkPer,
  type PostgresWorkMark,
} from '../src/postgres-work.js';

test('a WAL position as PostgreSQL prints it is the high and the low 32 bits', () => {
  expect(parseLsn('0/0')).toBe(0n);
  expect(parseLsn('0/16B3740')).toBe(0x16b3740n);
  expect(parseLsn('C/2F2254D8')).toBe(0xc_2f22_54d8n);
  expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
  for (const bad of ['', '16B3740', '0/', '/1', '0/1/2', 'G/1', '0/123456789']) {
    expect(() => parseLsn(bad)).toThrow(/not a WAL position/);
  }
});

test('per payment: the bytes and the transactions between two marks, divided', () => {
  const before: PostgresWorkMark = { walLsn: parseLsn('C/00000000'), nextXid: 1_000n };
  const after: PostgresWorkMark = { walLsn: parseLsn('C/00D59F80'), nextXid: 1_490n };
  // 14,000,000 bytes and 490 transactions over 1,000 payments.
  expect(postgresWorkPer(before, after, 1_000)).toEqual({
    walBytesPerPayment: 14_000,
    writeTransactionsPerPayment: 0.49,
  });
  expect(postgresWorkPer(before, after, 0)).toBeNull();
  expect(() => postgresWorkPer(after, before, 1_000)).toThrow(/out of order/);
});

describe('against the server', () => {
  const pool = new pg.Pool({ connectionString: platformEndpoints().databaseUrl, max: 1 });
  afterAll(() => pool.end());

  test('transactions that write move both marks by at least what they wrote', async () => {
    const client = await pool.connect();
    try {
      // A regular table (a temporary one writes no WAL for its rows), this run's own.
      const table = `postgres_work_probe_${process.pid}_${Date.now()}`;
      await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body text NOT NULL)`);
      try {
        const before = await markPostgresWork(client);
        for (let i = 0; i < 5; i += 1) {
          // 1,280 random hex digits: below the size at which PostgreSQL would compress the row.
          await client.query(
            `INSERT INTO ${table}
               SELECT $1, string_agg(md5(random()::text), '') FROM generate_series(1, 40)`,
            [i],
          );
        }
        const after = await markPostgresWork(client);
        // Other tests may write to the same server meanwhile, so at least, not exactly.
        expect(after.nextXid - before.nextXid).toBeGreaterThanOrEqual(5n);
        expect(after.walLsn - before.walLsn).toBeGreaterThanOrEqual(5n * 1_280n);
        const work = postgresWorkPer(before, after, 5)!;
        expect(work.writeTransactionsPerPayment).toBeGreaterThanOrEqual(1);
        expect(work.walBytesPerPayment).toBeGreaterThanOrEqual(1_280);
      } finally {
        await client.query(`DROP TABLE ${table}`);
      }
    } finally {
      client.release();
    }
  });
});
