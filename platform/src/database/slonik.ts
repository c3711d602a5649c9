// Slonik for the stores: one pool factory and one query convention for every service.
//
// Convention (issue 16):
// - A store writes its SQL with slonik's `sql` tag and reads rows through a zod row schema:
//   `sql.type(accountRow)\`SELECT ...\`` with `const accountRow = z.object({...})`. The result
//   parser interceptor below validates every row, so a column renamed or dropped in a migration
//   fails with SchemaValidationError (mapped to RowShapeError) instead of reading `undefined`.
// - Batch inserts use `sql.unnest(rows, columnTypes)`: one statement, one round trip.
// - Transactions use `pool.transaction(async (tx) => ...)`; slonik commits, rolls back, and
//   retries serialization failures up to `transactionRetryLimit` (0 here: retries are the
//   caller's decision, the ledger's command consumer already redelivers).
// - Errors: `databaseErrorKind` maps slonik's error classes to the few cases a store branches on
//   (unique violation = a duplicate, foreign key, check, timeout, connection lost).
// - A hot-path statement whose slonik overhead is measurable may stay on the raw pg driver
//   behind the same store function; it says so in a comment (README "Database access").
import {
  CheckIntegrityConstraintViolationError,
  ConnectionError,
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  createPool,
  ForeignKeyIntegrityConstraintViolationError,
  IdleTransactionTimeoutError,
  NotFoundError,
  SchemaValidationError,
  StatementCancelledError,
  StatementTimeoutError,
  UniqueIntegrityConstraintViolationError,
  type DatabasePool,
  type DriverTypeParser,
  type Interceptor,
  type QueryResultRow,
} from 'slonik';
import { createHash } from 'node:crypto';
import { z, type ZodTypeAny } from 'zod';
import type { QuerySqlToken } from 'slonik';
import { DependencyUnavailableError } from '../faults.js';
import { postgresConnection } from '../transport-security.js';
import { databaseConnectTimeoutMs, databaseTimeouts, type DatabaseTimeouts } from '../config.js';

export { sql } from 'slonik';
export type {
  CommonQueryMethods,
  DatabasePool,
  DatabaseTransactionConnection,
  FragmentSqlToken,
} from 'slonik';

/** A row did not match its store's row schema: the schema and the code disagree. */
export class RowShapeError extends Error {
  constructor(
    readonly sqlText: string,
    readonly issues: readonly { path: readonly (string | number)[]; message: string }[],
  ) {
    const where = issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ');
    super(`row does not match its schema (${where}) for: ${sqlText.slice(0, 200)}`);
    this.name = 'RowShapeError';
  }
}

// Validates each row against the query's `sql.type(...)` schema (slonik leaves this to an
// interceptor); parsed values replace the raw row, so zod transforms apply.
const rowSchemaInterceptor: Interceptor = {
  name: 'row-schema',
  transformRow: (context, query, row: QueryResultRow) => {
    const parser = context.resultParser;
    if (parser === undefined) return row;
    const parsed = parser.safeParse(row);
    if (!parsed.success) throw new SchemaValidationError(query, row, parsed.error.issues);
    return parsed.data as QueryResultRow;
  },
};

// int8 as a safe integer (money is integer minor units), as platform/src/db.ts does for pg.
// Other types keep pg's parsers (timestamptz as Date), so row schemas match the raw mappers.
const int8AsSafeInteger: DriverTypeParser = {
  name: 'int8',
  parse: (value: string) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n))
      throw new Error(`int8 ${value} is outside the safe integer range`);
    return n;
  },
};

export interface SlonikPoolOptions {
  max?: number;
  applicationName?: string;
  timeouts?: DatabaseTimeouts;
  connectTimeoutMs?: number;
  /** Each failed query is also emitted on the pool; it is rethrown to its caller anyway. */
  onError?: (error: Error) => void;
}

/**
 * A slonik pool for one service role, with the same TLS, timeouts and sizing as the pg pool of
 * platform/src/db.ts `createPool`. A plain function: the service skeleton calls it with the
 * role's URL. The search_path comes from the role (ALTER ROLE ... SET search_path in the
 * service's migrations), as for the pg pool.
 */
export async function createSlonikPool(
  databaseUrl: string,
  options: SlonikPoolOptions = {},
): Promise<DatabasePool> {
  const timeouts = options.timeouts ?? databaseTimeouts();
  const connection = postgresConnection(databaseUrl, process.env);
  const url = new URL(connection.connectionString);
  url.searchParams.set('application_name', options.applicationName ?? 'ledgerline');
  const pool = await createPool(url.toString(), {
    ...(connection.ssl === false ? {} : { ssl: connection.ssl }),
    maximumPoolSize: options.max ?? 10,
    connectionTimeout: options.connectTimeoutMs ?? databaseConnectTimeoutMs(),
    idleTimeout: 30_000,
    statementTimeout: timeouts.statementTimeoutMs,
    idleInTransactionSessionTimeout: timeouts.idleInTransactionTimeoutMs,
    interceptors: [rowSchemaInterceptor],
    typeParsers: [int8AsSafeInteger],
    // Retries hide failures from the caller that owns the retry policy (consumer redelivery).
    transactionRetryLimit: 0,
    queryRetryLimit: 0,
    // A stack trace per query costs throughput on the posting path; errors carry the SQL.
    captureStackTrace: false,
  });
  // slonik emits every failed query as 'error' on the pool: without a listener Node's
  // EventEmitter would throw ERR_UNHANDLED_ERROR in place of the query's own error.
  pool.on('error', (error: Error) => options.onError?.(error));
  return pool;
}

export type DatabaseErrorKind =
  | 'unique-violation'
  | 'foreign-key-violation'
  | 'check-violation'
  | 'timeout'
  | 'connection-lost'
  | 'not-found'
  | 'row-shape'
  | 'other';

/** The one mapping from slonik's (and pg's) errors to what a store or use case branches on. */
export function databaseErrorKind(error: unknown): DatabaseErrorKind {
  if (error instanceof UniqueIntegrityConstraintViolationError) return 'unique-violation';
  if (error instanceof ForeignKeyIntegrityConstraintViolationError) return 'foreign-key-violation';
  if (error instanceof CheckIntegrityConstraintViolationError) return 'check-violation';
  if (error instanceof StatementTimeoutError || error instanceof StatementCancelledError)
    return 'timeout';
  if (error instanceof IdleTransactionTimeoutError) return 'timeout';
  if (
    error instanceof ConnectionError ||
    error instanceof BackendTerminatedError ||
    error instanceof BackendTerminatedUnexpectedlyError
  ) {
    return 'connection-lost';
  }
  if (error instanceof NotFoundError) return 'not-found';
  if (error instanceof SchemaValidationError || error instanceof RowShapeError) return 'row-shape';
  // Raw pg errors (the statements kept on the raw driver) carry the SQLSTATE.
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '23505') return 'unique-violation';
  if (code === '23503') return 'foreign-key-violation';
  if (code === '23514') return 'check-violation';
  if (code === '57014' || code === '25P03') return 'timeout';
  return 'other';
}

/** Rethrows a SchemaValidationError as RowShapeError (names the columns); others unchanged. */
export function asRowShapeError(error: unknown): unknown {
  if (error instanceof SchemaValidationError) {
    return new RowShapeError(
      error.sql,
      error.issues.map((i) => ({ path: i.path, message: i.message })),
    );
  }
  return error;
}

/** What `queryIn` needs of a connection: the pg client of a transaction someone else opened. */
export interface PgQueryable {
  query(statement: {
    name: string;
    text: string;
    values: unknown[];
  }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

// Moves on when PostgreSQL refuses a prepared statement whose result a migration changed: each
// statement is then prepared again under a new name (the old ones end with their sessions).
let statementGeneration = 0;

/**
 * The prepared statement name of a statement text. A store's statement texts are fixed (values
 * travel as parameters, batches as array parameters), so each connection prepares each of them
 * once: PostgreSQL parses it once instead of on every call, and with the pools' generic plans
 * (platform/src/db.ts) plans it once too. A name is derived from the text, so one name never
 * stands for two texts.
 */
export function statementName(text: string): string {
  const digest = createHash('sha256').update(text).digest('base64url').slice(0, 22);
  return `s${statementGeneration}_${digest}`;
}

/** PostgreSQL refusing a prepared statement whose result columns changed type since (0A000). */
function isStalePreparedStatement(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === '0A000' &&
    typeof e.message === 'string' &&
    e.message.includes('cached plan must not change result type')
  );
}

/**
 * Runs a slonik query inside a transaction that the platform opened on a pg client: the
 * exactly-once consumer's batch transaction (effects, dead letters and position commit
 * together, so the store cannot open its own). Same `sql` tag, same row schema check as the
 * slonik pool (a mismatch is a RowShapeError), rows typed by the token's zod schema.
 */
export async function queryIn<T extends ZodTypeAny>(
  client: PgQueryable,
  query: QuerySqlToken<T>,
): Promise<{ rows: z.infer<T>[]; rowCount: number }> {
  // slonik numbers its placeholders $slonik_1, ... and turns them into $1, ... on execution.
  const text = query.sql.replaceAll('$slonik_', '$');
  let result: { rows: unknown[]; rowCount: number | null };
  try {
    result = await client.query({ name: statementName(text), text, values: [...query.values] });
  } catch (error) {
    if (!isStalePreparedStatement(error)) throw error;
    // A migration changed a column's type under a running service. Not the message's fault:
    // transient, so a consumer tries again, and the next attempt prepares the statement anew.
    statementGeneration += 1;
    throw new DependencyUnavailableError(
      'postgres',
      'a migration changed the result of a prepared statement; it is prepared again',
      { cause: error },
    );
  }
  const rows = result.rows.map((row) => {
    const parsed = query.parser.safeParse(row);
    if (!parsed.success) {
      throw new RowShapeError(
        query.sql,
        parsed.error.issues.map((i) => ({ path: i.path, message: i.message })),
      );
    }
    return parsed.data as z.infer<T>;
  });
  return { rows, rowCount: result.rowCount ?? rows.length };
}

/**
 * A row column holding one of a contract's symbols (a CHECK constraint keeps the column to
 * them): checked as text, typed as the symbol union the store's callers use.
 */
export const textSymbol = <T extends string>() =>
  z.custom<T>((value) => typeof value === 'string', { message: 'expected a text symbol' });
