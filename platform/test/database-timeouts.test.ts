// PostgreSQL bounds every service session: a runaway statement is cancelled with a clear error
// and the pool goes on serving, and a transaction abandoned mid-way (a stuck process holding an
// account's lock) is ended by the server, releasing its locks. The deploy step's migrations are
// not held to the services' statement bound.
import { randomBytes } from 'node:crypto';
import { databaseTimeouts, platformEndpoints } from '../src/config.js';
import {
  createPool,
  dropDatabase,
  ensureDatabase,
  migrate,
  withTransaction,
  type Migration,
  type Pool,
} from '../src/db.js';

const TIMEOUTS = { statementTimeoutMs: 300, idleInTransactionTimeoutMs: 600 };
/** Scheduling slack on a shared 2-core machine. */
const SLACK_MS = 1_500;

const adminUrl = platformEndpoints().databaseUrl;
const database = `timeouts_${randomBytes(4).toString('hex')}`;
let databaseUrl: string;
let pool: Pool;

beforeAll(async () => {
  databaseUrl = await ensureDatabase(adminUrl, database);
  pool = createPool(databaseUrl, { max: 2, applicationName: 'timeouts-test', timeouts: TIMEOUTS });
});

afterAll(async () => {
  await pool?.end();
  await dropDatabase(adminUrl, database);
});

describe('PostgreSQL session bounds', () => {
  it('a slow query is cancelled at statement_timeout with a clear error, and the pool keeps serving', async () => {
    const started = Date.now();
    const error = await pool.query('SELECT pg_sleep(10)').then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    const elapsedMs = Date.now() - started;
    expect(error?.code).toBe('57014');
    expect(error?.message).toBe('canceling statement due to statement timeout');
    expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUTS.statementTimeoutMs - 50);
    expect(elapsedMs).toBeLessThan(TIMEOUTS.statementTimeoutMs + SLACK_MS);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a transaction left idle is ended by the server and its account lock released', async () => {
    const stuck = await pool.connect();
    // The server ends the session on its own; without a listener the client's error would crash.
    // It reports the FATAL error, then the closed socket: the first one says why.
    const ended = new Promise<Error>((resolve) => stuck.on('error', resolve));
    const lockKey = 4_242_001;
    await stuck.query('BEGIN');
    await stuck.query('SELECT pg_advisory_xact_lock($1)', [lockKey]);
    const started = Date.now();
    // Another session cannot take the lock while the stuck transaction holds it.
    const other = createPool(databaseUrl, { max: 1, timeouts: TIMEOUTS });
    try {
      const busy = await other.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [
        lockKey,
      ]);
      expect(busy.rows[0]?.got).toBe(false);

      const error = (await ended) as Error & { code?: string };
      expect(error.code).toBe('25P03');
      expect(error.message).toMatch(/idle-in-transaction timeout/);
      expect(Date.now() - started).toBeLessThan(TIMEOUTS.idleInTransactionTimeoutMs + SLACK_MS);

      const free = await other.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [
        lockKey,
      ]);
      expect(free.rows[0]?.got).toBe(true);
      await other.query('SELECT pg_advisory_unlock($1)', [lockKey]);
    } finally {
      stuck.release(true);
      await other.end();
    }
    // The pool replaced the ended session.
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a unit of work that stalls inside its transaction fails cleanly and commits nothing', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS stalled_postings (amount_minor bigint NOT NULL)');
    const outcome = await withTransaction(pool, async (client) => {
      await client.query('INSERT INTO stalled_postings VALUES (1250)');
      // A stuck dependency: longer than the server lets a transaction sit idle.
      await new Promise((resolve) =>
        setTimeout(resolve, TIMEOUTS.idleInTransactionTimeoutMs + 400),
      );
      await client.query('INSERT INTO stalled_postings VALUES (1250)');
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(outcome).toBeInstanceOf(Error);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM stalled_postings',
    );
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('every session of a default pool carries the configured bounds', async () => {
    const defaults = createPool(databaseUrl, { max: 1 });
    try {
      const { rows } = await defaults.query<{ statement: string; idle: string }>(
        `SELECT current_setting('statement_timeout') AS statement,
                current_setting('idle_in_transaction_session_timeout') AS idle`,
      );
      expect(rows).toEqual([{ statement: '30s', idle: '1min' }]);
    } finally {
      await defaults.end();
    }
  });

  it('a pool’s session settings reach every session, after the URL’s own options', async () => {
    const url = new URL(databaseUrl);
    url.searchParams.set('options', '-c work_mem=8MB');
    const settled = createPool(url.toString(), {
      max: 1,
      sessionSettings: { lock_timeout: '250ms' },
    });
    try {
      const { rows } = await settled.query<{ lock: string; plans: string; work: string }>(
        `SELECT current_setting('lock_timeout') AS lock,
                current_setting('plan_cache_mode') AS plans,
                current_setting('work_mem') AS work`,
      );
      // Generic plans on every pool: prepared statements are planned once per session.
      expect(rows).toEqual([{ lock: '250ms', plans: 'force_generic_plan', work: '8MB' }]);
    } finally {
      await settled.end();
    }
    expect(() =>
      createPool(databaseUrl, { sessionSettings: { lock_timeout: '1s -c x=1' } }),
    ).toThrow(/session setting lock_timeout/);
  });

  it('a migration may run longer than the services’ statement bound', async () => {
    const sql = 'CREATE TABLE slow_step AS SELECT 1 AS id FROM pg_sleep(0.6);';
    const migration: Migration = { version: 1, name: 'slow_step', sql, checksum: 'test' };
    expect(await migrate(pool, 'timeouts_schema', [migration])).toEqual([1]);
    // The bound still holds for the statements that follow on the same pool.
    await expect(pool.query('SELECT pg_sleep(10)')).rejects.toMatchObject({ code: '57014' });
  });
});

describe('database bounds from configuration', () => {
  it('defaults to 30 s per statement and 60 s idle in a transaction', () => {
    expect(databaseTimeouts({})).toEqual({
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 60_000,
    });
  });

  it('reads each bound from the environment and refuses nonsense by name', () => {
    expect(
      databaseTimeouts({
        DATABASE_STATEMENT_TIMEOUT_MS: '5000',
        DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0',
      }),
    ).toEqual({ statementTimeoutMs: 5_000, idleInTransactionTimeoutMs: 0 });
    expect(() => databaseTimeouts({ DATABASE_STATEMENT_TIMEOUT_MS: '-1' })).toThrow(
      /DATABASE_STATEMENT_TIMEOUT_MS/,
    );
  });
});
