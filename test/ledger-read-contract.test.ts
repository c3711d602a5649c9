// The ledger's read contract (contracts/sql/ledger_read.yaml) against the real PostgreSQL, after
// the deploy step: the ledger_read views are exactly what the contract documents (names, column
// order, types, nullability), a ledger migration cannot break them unnoticed, the views use the
// ledger's indexes, and reconciliation's role reads the views and nothing of the ledger's tables.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { parse } from 'yaml';
import { urlForRole } from '@ledgerline/platform/db';
import {
  deployDatabase,
  developmentPassword,
  rolePasswordsFromEnv,
} from '@ledgerline/platform/deploy';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import { LEDGER_READ_SCHEMA, LEDGER_READER_ROLE } from '@ledgerline/ledger/database';
import { RECONCILIATION_APP_ROLE } from '@ledgerline/reconciliation/database';
import { SERVICE_DATABASES } from '../scripts/databases.js';

const CONTRACT_FILE = new URL('../contracts/sql/ledger_read.yaml', import.meta.url);

interface ColumnShape {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

interface ViewShape {
  readonly name: string;
  readonly columns: readonly ColumnShape[];
}

interface ReadContract {
  readonly schema: string;
  readonly role: string;
  readonly views: readonly ViewShape[];
}

function field(value: unknown, key: string, where: string): unknown {
  if (typeof value !== 'object' || value === null || !(key in value))
    throw new Error(`${where}: missing ${key}`);
  return (value as Record<string, unknown>)[key];
}

function text(value: unknown, key: string, where: string): string {
  const v = field(value, key, where);
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${where}.${key}: not a string`);
  return v;
}

function list(value: unknown, key: string, where: string): unknown[] {
  const v = field(value, key, where);
  if (!Array.isArray(v) || v.length === 0) throw new Error(`${where}.${key}: not a list`);
  return v;
}

/** The contract file, checked for shape: every view and column has a name, a type and a meaning. */
async function readContract(): Promise<ReadContract> {
  const doc: unknown = parse(await readFile(CONTRACT_FILE, 'utf8'));
  const views = list(doc, 'views', 'contract').map((view, i): ViewShape => {
    const where = `views[${i}]`;
    text(view, 'meaning', where);
    return {
      name: text(view, 'name', where),
      columns: list(view, 'columns', where).map((column, j): ColumnShape => {
        const at = `${where}.columns[${j}]`;
        text(column, 'meaning', at);
        const nullable = field(column, 'nullable', at);
        if (typeof nullable !== 'boolean') throw new Error(`${at}.nullable: not a boolean`);
        return { name: text(column, 'name', at), type: text(column, 'type', at), nullable };
      }),
    };
  });
  return { schema: text(doc, 'schema', 'contract'), role: text(doc, 'role', 'contract'), views };
}

/**
 * The views of `schema` as the database has them, in the contract's shape. Types as format_type
 * prints them. PostgreSQL reports every view column as nullable, so a column's nullability is
 * that of the table column it shows, found through the view's stored query: each output column
 * records its origin (resorigtbl, resorigcol: 0 for a computed column, which counts as
 * nullable). The origin is by attribute number, so it survives a rename of the table column.
 * The last match per column is the view's own target list (nested queries come before it).
 */
async function databaseViews(db: pg.ClientBase | pg.Pool, schema: string): Promise<ViewShape[]> {
  const { rows } = await db.query<{
    view: string;
    column: string;
    type: string;
    not_null: boolean;
  }>(
    `WITH origins AS (
       SELECT DISTINCT ON (r.ev_class, m.match[1]::int)
              r.ev_class AS view_oid, m.match[1]::int AS attnum,
              m.match[2]::oid AS table_oid, m.match[3]::int AS table_attnum
         FROM pg_rewrite r
         CROSS JOIN LATERAL regexp_matches(r.ev_action::text,
           ':resno (\\d+) :resname \\S+ :ressortgroupref \\d+ :resorigtbl (\\d+) :resorigcol (\\d+)',
           'g') WITH ORDINALITY AS m(match, position)
        WHERE r.rulename = '_RETURN'
          AND r.ev_class IN (SELECT v.oid FROM pg_class v
                               JOIN pg_namespace vn ON vn.oid = v.relnamespace
                              WHERE vn.nspname = $1)
        ORDER BY r.ev_class, m.match[1]::int, m.position DESC)
     SELECT c.relname AS view, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            coalesce(ta.attnotnull, false) AS not_null
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN origins o ON o.view_oid = c.oid AND o.attnum = a.attnum
       LEFT JOIN pg_attribute ta ON ta.attrelid = o.table_oid AND ta.attnum = o.table_attnum
      WHERE n.nspname = $1
      ORDER BY c.relname, a.attnum`,
    [schema],
  );
  const views = new Map<string, ColumnShape[]>();
  for (const r of rows) {
    const columns = views.get(r.view) ?? [];
    columns.push({ name: r.column, type: r.type, nullable: !r.not_null });
    views.set(r.view, columns);
  }
  return [...views].map(([name, columns]) => ({ name, columns }));
}

/** Only views: a table in the read schema would be state outside the ledger's books. */
async function relationKinds(db: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ relkind: string }>(
    `SELECT DISTINCT c.relkind::text AS relkind FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
    [schema],
  );
  return rows.map((r) => r.relkind);
}

function byName(views: readonly ViewShape[]): ViewShape[] {
  return [...views].sort((a, b) => a.name.localeCompare(b.name));
}

let env: TestEnvironment;
let admin: pg.Pool;
let contract: ReadContract;

beforeAll(async () => {
  contract = await readContract();
  env = await createTestEnvironment('ledger-read-contract', []);
  await deployDatabase(
    env.adminDatabaseUrl,
    SERVICE_DATABASES,
    rolePasswordsFromEnv({}, SERVICE_DATABASES),
  );
  admin = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
});

afterAll(async () => {
  await admin.end();
  await env.cleanup();
});

/** Runs `work` as the admin in a transaction that is always rolled back: the ledger is untouched. */
async function inRolledBackTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await admin.connect();
  try {
    await client.query('BEGIN');
    return await work(client);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/** The SQLSTATE a statement fails with as `role`, or 'succeeded'. Each in its own transaction. */
async function sqlStateAs(role: string, statement: string): Promise<string> {
  const client = new pg.Client({
    connectionString: urlForRole(env.adminDatabaseUrl, role, developmentPassword(role)),
  });
  await client.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(statement);
      return 'succeeded';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    } finally {
      await client.query('ROLLBACK');
    }
  } finally {
    await client.end();
  }
}

/** SQLSTATE of `statement` as the admin inside a rolled-back transaction, or 'succeeded'. */
async function migrationOutcome(statement: string): Promise<string> {
  return inRolledBackTransaction(async (client) => {
    try {
      await client.query(statement);
      return 'succeeded';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  });
}

describe('the ledger read contract (contracts/sql/ledger_read.yaml)', () => {
  it('names the schema and role the ledger deploys', () => {
    expect(contract.schema).toBe(LEDGER_READ_SCHEMA);
    expect(contract.role).toBe(LEDGER_READER_ROLE);
  });

  it('is exactly what the deployed database holds: views, column order, types, nullability', async () => {
    expect(await relationKinds(admin, contract.schema)).toEqual(['v']);
    expect(byName(await databaseViews(admin, contract.schema))).toEqual(byName(contract.views));
  });

  it('a migration that renames, drops or adds a view column no longer matches it (the build fails)', async () => {
    const changes = [
      'ALTER VIEW ledger_read.v1_entries RENAME COLUMN amount_minor TO amount',
      'DROP VIEW ledger_read.v1_balances',
      `CREATE OR REPLACE VIEW ledger_read.v1_balances AS
       SELECT account_id, balance_minor, debits_minor, credits_minor, entry_count,
              balance_minor AS available_minor FROM ledger.balances`,
      'ALTER TABLE ledger.transactions ALTER COLUMN posted_at DROP NOT NULL',
    ];
    for (const change of changes) {
      const views = await inRolledBackTransaction(async (client) => {
        await client.query(change);
        return databaseViews(client, contract.schema);
      });
      expect({ change, matches: isEqual(byName(views), byName(contract.views)) }).toEqual({
        change,
        matches: false,
      });
    }
  });

  it('PostgreSQL refuses a ledger migration that would drop or retype a column a view shows', async () => {
    expect(await migrationOutcome('ALTER TABLE ledger.entries DROP COLUMN amount_minor')).toBe(
      '2BP01', // dependent_objects_still_exist
    );
    expect(
      await migrationOutcome('ALTER TABLE ledger.entries ALTER COLUMN amount_minor TYPE numeric'),
    ).toBe('0A000'); // feature_not_supported: cannot alter the type of a column a view uses
    expect(await migrationOutcome('DROP TABLE ledger.balances')).toBe('2BP01');
  });

  it('leaves the ledger free to rename its own columns: the view keeps the contract name', async () => {
    const views = await inRolledBackTransaction(async (client) => {
      await client.query('ALTER TABLE ledger.entries RENAME COLUMN amount_minor TO amount_cents');
      return databaseViews(client, contract.schema);
    });
    expect(byName(views)).toEqual(byName(contract.views));
  });

  it.each([
    [
      'transactions of a window, by posted_at',
      `SELECT transaction_id FROM ledger_read.v1_transactions
        WHERE posted_at >= now() - interval '1 hour' AND posted_at < now()
        ORDER BY posted_at, transaction_id LIMIT 100`,
      'transactions_posted_at',
    ],
    [
      'entries of a page of transactions',
      `SELECT entry_id FROM ledger_read.v1_entries
        WHERE transaction_id = ANY(ARRAY[gen_random_uuid()]) ORDER BY transaction_id, entry_index`,
      'entries_transaction_id_entry_index_key',
    ],
    [
      'entries of one account',
      `SELECT count(*) FROM ledger_read.v1_entries WHERE account_id = gen_random_uuid()`,
      'entries_account_history',
    ],
  ])('is a plain view: the %s use the ledger index as on the table', async (_, query, index) => {
    const plan = await inRolledBackTransaction(async (client) => {
      // The tables are empty here, so a sequential scan would be cheapest: forbid it to see
      // whether the index is reachable through the view at all.
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (FORMAT JSON) ${query}`,
      );
      return JSON.stringify(rows[0]?.['QUERY PLAN']);
    });
    expect(plan).toContain(`"Index Name":"${index}"`);
  });
});

describe("reconciliation's role (reconciliation_app, a member of ledger_reader)", () => {
  it('reads every view of the contract', async () => {
    const outcomes = Object.fromEntries(
      await Promise.all(
        contract.views.map(async (v) => [
          v.name,
          await sqlStateAs(RECONCILIATION_APP_ROLE, `SELECT * FROM ${contract.schema}.${v.name}`),
        ]),
      ),
    );
    expect(outcomes).toEqual(Object.fromEntries(contract.views.map((v) => [v.name, 'succeeded'])));
  });

  it('is refused SELECT on every table of the ledger schema', async () => {
    const { rows } = await admin.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'ledger' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname`,
    );
    const tables = rows.map((r) => r.relname);
    expect(tables).toEqual(
      expect.arrayContaining(['accounts', 'balances', 'entries', 'transactions']),
    );
    const refused: Record<string, string> = {};
    for (const table of tables) {
      refused[table] = await sqlStateAs(
        RECONCILIATION_APP_ROLE,
        `SELECT count(*) FROM ledger.${pg.escapeIdentifier(table)}`,
      );
    }
    // 42501 insufficient_privilege: the role has no USAGE on the ledger schema at all.
    expect(refused).toEqual(Object.fromEntries(tables.map((t) => [t, '42501'])));
  });

  it('cannot write through the views', async () => {
    const writes = {
      INSERT: `INSERT INTO ledger_read.v1_balances (account_id, balance_minor)
               VALUES (gen_random_uuid(), 1)`,
      UPDATE: 'UPDATE ledger_read.v1_balances SET balance_minor = balance_minor + 1',
      DELETE: 'DELETE FROM ledger_read.v1_entries',
    };
    const refused: Record<string, string> = {};
    for (const [what, statement] of Object.entries(writes)) {
      refused[what] = await sqlStateAs(RECONCILIATION_APP_ROLE, statement);
    }
    expect(refused).toEqual({ INSERT: '42501', UPDATE: '42501', DELETE: '42501' });
  });
});

function isEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
