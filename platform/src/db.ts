// PostgreSQL: pools, transactions, versioned migrations, and per-service roles.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { postgresConnection } from './transport-security.js';
import { databaseConnectTimeoutMs, databaseTimeouts, type DatabaseTimeouts } from './config.js';
import { invariant } from './invariant.js';
import type { Logger } from './log.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

// bigint (int8) columns come back as strings by default: money is a safe integer here and
// anything outside the safe range is a bug worth crashing on.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 ${value} is outside the safe integer range`);
  return n;
});

/**
 * The `onIdleError` of a service's pools: an idle connection PostgreSQL terminates (restart,
 * failover) is logged, and must not crash the process.
 */
export function logIdleConnectionLoss(log: Logger): (error: Error) => void {
  return (error) => log.warn({ err: error }, 'idle PostgreSQL connection lost');
}

export function createPool(
  connectionString: string,
  options: {
    max?: number;
    applicationName?: string;
    onIdleError?: (error: Error) => void;
    /** Server-side bounds on every session of this pool; from DATABASE_* settings by default. */
    timeouts?: DatabaseTimeouts;
    /** Longest wait for a connection; DATABASE_CONNECT_TIMEOUT_MS (5 s) by default. */
    connectTimeoutMs?: number;
    /** Settings of every session of this pool, sent at connection (e.g. lock_timeout). */
    sessionSettings?: Readonly<Record<string, string>>;
  } = {},
): Pool {
  const timeouts = options.timeouts ?? databaseTimeouts();
  // TLS from the URL's sslmode/sslrootcert or PGSSLMODE, DATABASE_SSL_CA_FILE, PGSSLROOTCERT.
  const connection = postgresConnection(connectionString, process.env);
  const pool = new pg.Pool({
    ...connection,
    connectionString: withSessionSettings(connection.connectionString, {
      ...GENERIC_PLANS,
      ...options.sessionSettings,
    }),
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'ledgerline',
    // Bounded: with PostgreSQL away a request fails in this time (a 503), it does not hang.
    connectionTimeoutMillis: options.connectTimeoutMs ?? databaseConnectTimeoutMs(),
    idleTimeoutMillis: 30_000,
    // Sent in the startup message, so PostgreSQL enforces them on every session at no extra
    // round trip: a runaway query is cancelled (57014) instead of holding a connection and its
    // locks, and a transaction left open by a stuck process is ended (25P03) instead of holding
    // row locks on accounts and blocking vacuum.
    statement_timeout: timeouts.statementTimeoutMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
  });
  // An idle connection killed by the server (restart, failover) must not crash the process:
  // the pool drops it and the next query opens a new one.
  pool.on('error', (error) => options.onIdleError?.(error));
  return pool;
}

/**
 * Sessions plan each prepared statement once. The statements on these pools are prepared
 * (queryIn, the platform's named statements) and keyed by ids or id arrays, where a generic
 * plan is the plan a custom one would be. Left to PostgreSQL's choice, a statement with an
 * array parameter is planned again on every call, because the custom plan's row estimate from
 * the actual array always looks cheaper: 0.1 to 0.6 ms of planning per statement, about 0.7 ms
 * per payment at 250 payments/s (pg_stat_statements; README "What we tried").
 */
const GENERIC_PLANS = { plan_cache_mode: 'force_generic_plan' } as const;

/**
 * For sessions and transactions whose every statement finds its rows by key (the consumers'
 * transactions, the outbox relay): no sequential scans. A generic plan is made once per
 * session, from the statistics of that moment, and kept until the table is analysed again.
 * Made while a table looked empty (a new database, or an outbox just vacuumed, which it nearly
 * always is), it scans the whole table on every call: the relay's read walked every dead row of
 * the outbox, and the saga's update every payment, more with every call until the next
 * autovacuum (README "What we tried"). With sequential scans off the planner takes the index
 * whatever the statistics say; a table with no usable index is still scanned.
 */
export const KEYED_ACCESS = { enable_seqscan: 'off' } as const;

/** Session settings in the startup message, after the URL's own `options` (pg lets those win). */
function withSessionSettings(
  connectionString: string,
  settings: Readonly<Record<string, string>>,
): string {
  const url = new URL(connectionString);
  const own = url.searchParams.get('options') ?? process.env.PGOPTIONS ?? '';
  const ours = Object.entries(settings).map(([name, value]) => {
    // No quoting in a startup option: a name or value outside these would be a bug here.
    invariant(/^[a-z_.]+$/.test(name) && /^[A-Za-z0-9_.]+$/.test(value), `session setting ${name}`);
    return `-c ${name}=${value}`;
  });
  url.searchParams.set('options', [own, ...ours].join(' ').trim());
  return url.toString();
}

export interface TransactionOptions {
  isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  /** Longest wait for a row lock before the statement fails (55P03 lock_not_available). */
  lockTimeoutMs?: number;
  /** Every statement finds its rows by key: planned without sequential scans (KEYED_ACCESS). */
  keyedAccess?: boolean;
}

/** Runs `work` in one transaction; commits on success, rolls back and rethrows on failure. */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const { isolation = 'READ COMMITTED', lockTimeoutMs, keyedAccess = false } = options;
  if (lockTimeoutMs !== undefined && !(Number.isSafeInteger(lockTimeoutMs) && lockTimeoutMs > 0)) {
    throw new RangeError(`lockTimeoutMs must be a positive integer, got ${lockTimeoutMs}`);
  }
  return withSession(pool, async (client) => {
    try {
      // One round trip: the statements travel in one simple query (no parameters to bind).
      const begin = [`BEGIN ISOLATION LEVEL ${isolation}`];
      if (lockTimeoutMs !== undefined) begin.push(`SET LOCAL lock_timeout = '${lockTimeoutMs}ms'`);
      if (keyedAccess) begin.push(`SET LOCAL enable_seqscan = ${KEYED_ACCESS.enable_seqscan}`);
      await client.query(begin.join('; '));
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * withTransaction for work that reads and writes every row by key (a consumer's batch: its
 * positions and the batch's ids), planned without sequential scans (KEYED_ACCESS).
 */
export function withKeyedTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  return withTransaction(pool, work, { keyedAccess: true });
}

/**
 * Runs `work` on a pooled session and releases it. A session the server ends while we hold it
 * (idle-in-transaction timeout, restart) is reported by an 'error' event: caught here, so it
 * cannot crash the process; the next statement fails instead, and the client is destroyed,
 * not pooled.
 */
async function withSession<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let sessionError: Error | undefined;
  const onSessionError = (error: Error): void => {
    sessionError ??= error;
  };
  client.on('error', onSessionError);
  try {
    return await work(client);
  } finally {
    client.off('error', onSessionError);
    client.release(sessionError);
  }
}

/** The same server and database, as another role. */
export function urlForRole(databaseUrl: string, role: string, password: string): string {
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

export function urlForDatabase(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const MIGRATION_FILE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export async function readMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of names) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) throw new Error(`${path.join(dir, file)}: migration files are named NNN_name.sql`);
    const sql = await readFile(path.join(dir, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2] as string,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
}

/**
 * Applies the pending migrations of one service schema, each in its own transaction, under an
 * advisory lock so that two instances starting together do not race. An applied migration
 * whose file changed is refused: migrations are append-only like the ledger.
 * `${PASSWORD:role}` placeholders are replaced with the passwords given.
 */
export async function migrate(
  pool: Pool,
  schema: string,
  migrations: readonly Migration[],
  passwords: Readonly<Record<string, string>> = {},
): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    const lockKey = createHash('sha256').update(`migrate:${schema}`).digest().readInt32BE(0);
    await client.query('SELECT pg_advisory_lock($1)', [lockKey]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${pg.escapeIdentifier(schema)}.schema_migrations (
           version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number; checksum: string }>(
        `SELECT version, checksum FROM ${pg.escapeIdentifier(schema)}.schema_migrations`,
      );
      const done = new Map(rows.map((r) => [r.version, r.checksum]));
      for (const m of migrations) {
        const previous = done.get(m.version);
        if (previous !== undefined) {
          if (previous !== m.checksum) {
            throw new Error(
              `migration ${schema}/${m.version}_${m.name} changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        const sql = m.sql.replace(/\$\{PASSWORD:([a-z_]+)\}/g, (_, role: string) => {
          const password = passwords[role];
          if (password === undefined)
            throw new Error(`migration ${m.version}_${m.name} needs a password for role ${role}`);
          return pg.escapeLiteral(password);
        });
        // A migration is the deploy step, watched by an operator: the services' statement
        // bound does not apply to it (an index on a large table may take minutes).
        await client.query('BEGIN; SET LOCAL statement_timeout = 0');
        try {
          await client.query(sql);
          await client.query(
            `INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
            [m.version, m.name, m.checksum],
          );
          await client.query('COMMIT');
          applied.push(m.version);
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(
            `migration ${schema}/${m.version}_${m.name} failed: ${(error as Error).message}`,
          );
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [lockKey]);
    }
  } finally {
    client.release();
  }
  return applied;
}

/** Creates a database if it does not exist (test isolation, replay into an empty ledger). */
export async function ensureDatabase(adminUrl: string, database: string): Promise<string> {
  const client = new pg.Client(postgresConnection(adminUrl, process.env));
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
  return urlForDatabase(adminUrl, database);
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client(postgresConnection(adminUrl, process.env));
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * The platform's migrations of a service schema, applied before the service's own: the first
 * (version 0) creates the outbox and the consumer positions; later ones are numbered from
 * 10001, apart from the services' own NNN files, because an applied migration never changes.
 */
export function platformMigrations(schema: string, appRole: string): Migration[] {
  return [
    platformMigration(schema, appRole),
    outboxWakeupMigration(schema),
    outboxWakeupTriggerDroppedMigration(schema),
  ];
}

/**
 * The outbox's insert trigger notified on every commit that wrote to the outbox. PostgreSQL
 * serialises the commits of notifying transactions (a cluster-wide lock from the commit's start
 * until its WAL flush), so every write of every service waited for the previous one's flush.
 * The relays wake each other instead (OutboxRelay.nudge).
 */
function outboxWakeupTriggerDroppedMigration(schema: string): Migration {
  const s = pg.escapeIdentifier(schema);
  const sql = `
DROP TRIGGER outbox_wakeup ON ${s}.outbox;
DROP FUNCTION ${s}.outbox_wakeup();
`;
  return {
    version: 10_002,
    name: 'platform_outbox_wakeup_trigger_dropped',
    sql,
    checksum: createHash('sha256').update(sql).digest('hex'),
  };
}

/**
 * Every commit that writes to the outbox wakes the relay's leader, in whichever instance it
 * runs (LISTEN on `outbox_<schema>`, see outboxChannel): no polling on the hot path. One
 * notification per statement, and PostgreSQL folds equal ones within a transaction. Applied
 * migrations never change: 10_002 drops the trigger again.
 */
function outboxWakeupMigration(schema: string): Migration {
  const s = pg.escapeIdentifier(schema);
  const sql = `
CREATE FUNCTION ${s}.outbox_wakeup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(left('outbox_' || TG_TABLE_SCHEMA, 63), '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_wakeup AFTER INSERT ON ${s}.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.outbox_wakeup();
`;
  return {
    version: 10_001,
    name: 'platform_outbox_wakeup',
    sql,
    checksum: createHash('sha256').update(sql).digest('hex'),
  };
}

/**
 * Tables every service schema has, created before the service's own migrations: the
 * service's login role, the transactional outbox and the consumer positions that make
 * consumption exactly-once.
 */
function platformMigration(schema: string, appRole: string): Migration {
  const s = pg.escapeIdentifier(schema);
  const role = pg.escapeIdentifier(appRole);
  const sql = `
-- Roles are cluster-wide: parallel migrations of two databases may race to create it. The
-- password is set only at creation: re-setting it would re-salt the hash under connections
-- authenticating at that moment. Rotating it is an operator's step.
DO $$
BEGIN
  CREATE ROLE ${role} LOGIN PASSWORD \${PASSWORD:${appRole}};
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
CREATE TABLE ${s}.outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  headers jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ${s}.consumer_positions (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL CHECK (next_offset >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
GRANT USAGE ON SCHEMA ${s} TO ${role};
-- UPDATE only because the relay locks rows (SELECT ... FOR UPDATE) before deleting them.
GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.outbox TO ${role};
GRANT USAGE ON SEQUENCE ${s}.outbox_id_seq TO ${role};
GRANT SELECT, INSERT, UPDATE ON ${s}.consumer_positions TO ${role};
`;
  return {
    version: 0,
    name: 'platform_outbox_and_positions',
    sql,
    checksum: createHash('sha256').update(sql).digest('hex'),
  };
}
