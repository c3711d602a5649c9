// Least privilege on the real PostgreSQL, after the deploy step (the same function `npm run
// migrate` runs): the schemas belong to a NOLOGIN owner no service role can become, and no
// service role can rewrite, remove, alter or unprotect the books or the audit trail.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { dropDatabase, ensureDatabase, urlForRole } from '@ledgerline/platform/db';
import {
  SCHEMA_OWNER_ROLE,
  assertServiceRole,
  deployDatabase,
  developmentPassword,
  leastPrivilegeProblems,
  loginRoles,
  rolePasswordsFromEnv,
  type ServiceDatabase,
} from '@ledgerline/platform/deploy';
import { platformEndpoints } from '@ledgerline/platform/config';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import { SERVICE_DATABASES } from '../scripts/databases.js';

let env: TestEnvironment;
let admin: pg.Pool;

beforeAll(async () => {
  env = await createTestEnvironment('least-privilege', []);
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

async function asRole<T>(role: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: urlForRole(env.adminDatabaseUrl, role, developmentPassword(role)),
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE a statement fails with as `role`, or 'succeeded'. Each in its own transaction. */
async function sqlStateAs(role: string, statement: string): Promise<string> {
  return asRole(role, async (client) => {
    await client.query('BEGIN');
    try {
      await client.query(statement);
      return 'succeeded';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

const SERVICE_ROLES = loginRoles(SERVICE_DATABASES);
/** Each protected table with a column of it (any will do: privileges are checked before rows). */
const BOOKS_AND_TRAIL: ReadonlyArray<readonly [string, string]> = [
  ['ledger.entries', 'entry_id'],
  ['ledger.transactions', 'transaction_id'],
  ['audit.trail', 'sequence'],
  ['audit.chain_checkpoints', 'sequence'],
];
const TAMPERING = (table: string, column: string): Record<string, string> => ({
  UPDATE: `UPDATE ${table} SET ${column} = ${column}`,
  DELETE: `DELETE FROM ${table}`,
  TRUNCATE: `TRUNCATE ${table}`,
  ALTER: `ALTER TABLE ${table} ADD COLUMN forged_note text`,
  'DISABLE TRIGGER': `ALTER TABLE ${table} DISABLE TRIGGER ALL`,
});

describe('the deploy step', () => {
  it('leaves every service schema and object to a NOLOGIN owner, and nothing to fix', async () => {
    expect(await leastPrivilegeProblems(admin, SERVICE_DATABASES)).toEqual([]);
    const owner = await admin.query<{ rolcanlogin: boolean }>(
      'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
      [SCHEMA_OWNER_ROLE],
    );
    expect(owner.rows).toEqual([{ rolcanlogin: false }]);
    const schemas = await admin.query<{ nspname: string; owner: string }>(
      `SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace
        WHERE nspname = ANY($1) ORDER BY nspname`,
      [SERVICE_DATABASES.map((s) => s.schema)],
    );
    expect(schemas.rows).toEqual(
      ['audit', 'ledger', 'processor', 'reconciliation'].map((nspname) => ({
        nspname,
        owner: SCHEMA_OWNER_ROLE,
      })),
    );
  });

  it('is idempotent: a second run applies and changes nothing', async () => {
    const again = await deployDatabase(
      env.adminDatabaseUrl,
      SERVICE_DATABASES,
      rolePasswordsFromEnv({}, SERVICE_DATABASES),
    );
    expect(again.changes).toEqual([]);
    expect(Object.values(again.applied).flat()).toEqual([]);
  });
});

describe('every service role', () => {
  it.each(SERVICE_ROLES)('%s is not a member of the owner and cannot become it', async (role) => {
    const member = await admin.query<{ member: boolean }>(
      `SELECT pg_has_role($1, $2, 'MEMBER') AS member`,
      [role, SCHEMA_OWNER_ROLE],
    );
    expect(member.rows[0]?.member).toBe(false);
    expect(await sqlStateAs(role, `SET ROLE ${SCHEMA_OWNER_ROLE}`)).toBe('42501');
    // Replica mode skips ordinary triggers: only a superuser may set it.
    expect(await sqlStateAs(role, 'SET session_replication_role = replica')).toBe('42501');
  });

  for (const [table, column] of BOOKS_AND_TRAIL) {
    it.each(SERVICE_ROLES)(
      `%s is refused UPDATE/DELETE/TRUNCATE/ALTER/DISABLE TRIGGER on ${table}`,
      async (role) => {
        const refused: Record<string, string> = {};
        for (const [what, statement] of Object.entries(TAMPERING(table, column))) {
          refused[what] = await sqlStateAs(role, statement);
        }
        // 42501 insufficient_privilege: refused by the privilege system itself, before any
        // trigger runs (the triggers are the second line, for the owner).
        expect(refused).toEqual({
          UPDATE: '42501',
          DELETE: '42501',
          TRUNCATE: '42501',
          ALTER: '42501',
          'DISABLE TRIGGER': '42501',
        });
      },
    );
  }

  it('a service connection as the admin is refused, naming what it holds', async () => {
    await expect(assertServiceRole(admin, 'ledger', 'ledger_app')).rejects.toThrow(
      /ledger must connect as ledger_app and nothing more, but it is connected as postgres\. Give it LEDGER_APP_DATABASE_URL/,
    );
    await asRole('ledger_app', (client) => assertServiceRole(client, 'ledger', 'ledger_app'));
  });
});

describe('API keys (the auth schema, deployed with the services)', () => {
  // The roles each service's HTTP edge checks keys as; the audit's API reads the trail as
  // audit_reader but checks keys as audit_app, so the reader stays SELECT-only on the trail.
  const EDGE_ROLES = SERVICE_DATABASES.map((s) => s.appRole);
  const KEY_TAMPERING: Record<string, string> = {
    INSERT: `INSERT INTO auth.api_keys (key_id, name, key_sha256, scopes, expires_at)
             VALUES ('00000000000000aa', 'forged', decode(repeat('ab', 32), 'hex'),
                     ARRAY['ledger:adjust'], now() + interval '1 day')`,
    'UPDATE scopes': `UPDATE auth.api_keys SET scopes = ARRAY['ledger:adjust']`,
    'UPDATE revoked_at': 'UPDATE auth.api_keys SET revoked_at = NULL',
    'UPDATE expires_at': `UPDATE auth.api_keys SET expires_at = now() + interval '10 years'`,
    DELETE: 'DELETE FROM auth.api_keys',
    TRUNCATE: 'TRUNCATE auth.api_keys',
    ALTER: 'ALTER TABLE auth.api_keys ADD COLUMN forged_note text',
  };

  it('belong to the NOLOGIN owner like every service schema', async () => {
    const { rows } = await admin.query<{ schema: string; table: string }>(
      `SELECT pg_get_userbyid(n.nspowner) AS schema, pg_get_userbyid(c.relowner) AS table
         FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
        WHERE n.nspname = 'auth' AND c.relname = 'api_keys'`,
    );
    expect(rows).toEqual([{ schema: SCHEMA_OWNER_ROLE, table: SCHEMA_OWNER_ROLE }]);
  });

  it.each(EDGE_ROLES)(
    '%s may read keys and note their use, and nothing more (no key created, widened, revived or removed)',
    async (role) => {
      expect(await sqlStateAs(role, 'SELECT key_id, key_sha256, scopes FROM auth.api_keys')).toBe(
        'succeeded',
      );
      expect(await sqlStateAs(role, 'UPDATE auth.api_keys SET last_used_at = now()')).toBe(
        'succeeded',
      );
      const refused: Record<string, string> = {};
      for (const [what, statement] of Object.entries(KEY_TAMPERING)) {
        refused[what] = await sqlStateAs(role, statement);
      }
      expect(refused).toEqual(
        Object.fromEntries(Object.keys(KEY_TAMPERING).map((k) => [k, '42501'])),
      );
    },
  );

  it('the audit reader cannot read keys at all', async () => {
    expect(await sqlStateAs('audit_reader', 'SELECT key_id FROM auth.api_keys')).toBe('42501');
  });
});

describe('the deploy step on roles it did not create', () => {
  // A throwaway service with its own role, so correcting and rotating touches no shared role.
  // Letters only: the migrations' ${PASSWORD:role} placeholder takes [a-z_] names.
  const suffix = [...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
  const role = `t_lp_${suffix}_app`;
  let database: string;
  let url: string;
  let dir: string;
  let service: ServiceDatabase;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lp-'));
    await writeFile(
      path.join(dir, '001_books.sql'),
      `CREATE TABLE t_lp.books (id int PRIMARY KEY);\nGRANT SELECT, INSERT ON t_lp.books TO ${role};\n`,
    );
    service = {
      service: 'probe',
      schema: 't_lp',
      appRole: role,
      roles: [{ name: role, login: true }],
      migrationsDir: dir,
    };
    database = `t_lp_${suffix}`;
    url = await ensureDatabase(platformEndpoints().databaseUrl, database);
  });

  afterAll(async () => {
    await dropDatabase(platformEndpoints().databaseUrl, database);
    const cluster = new pg.Client({ connectionString: platformEndpoints().databaseUrl });
    await cluster.connect();
    await cluster.query(`DROP ROLE IF EXISTS ${role}`);
    await cluster.end();
    await rm(dir, { recursive: true, force: true });
  });

  async function canLogIn(password: string): Promise<boolean> {
    const client = new pg.Client({ connectionString: urlForRole(url, role, password) });
    return client.connect().then(
      () => client.end().then(() => true),
      () => false,
    );
  }

  it('strips a cluster-wide power from a service role and applies a rotated password', async () => {
    const cluster = new pg.Client({ connectionString: url });
    await cluster.connect();
    try {
      await cluster.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD 'first-password-1'`);
      const report = await deployDatabase(url, [service], { [role]: 'second-password-2' });
      expect(report.changes).toEqual(
        expect.arrayContaining([
          `corrected the attributes of role ${role}`,
          `set the password of role ${role}`,
        ]),
      );
      expect(await canLogIn('second-password-2')).toBe(true);
      expect(await canLogIn('first-password-1')).toBe(false);
      const attributes = await cluster.query<{ rolcreatedb: boolean }>(
        'SELECT rolcreatedb FROM pg_roles WHERE rolname = $1',
        [role],
      );
      expect(attributes.rows).toEqual([{ rolcreatedb: false }]);
    } finally {
      await cluster.end();
    }
  });

  it('refuses to finish while a service role is a member of the owner, naming it', async () => {
    const cluster = new pg.Client({ connectionString: url });
    await cluster.connect();
    try {
      await cluster.query(`GRANT ${SCHEMA_OWNER_ROLE} TO ${role}`);
      await expect(deployDatabase(url, [service], { [role]: 'second-password-2' })).rejects.toThrow(
        `the database does not hold least privilege: ${role} is a member of ${SCHEMA_OWNER_ROLE}`,
      );
    } finally {
      await cluster.query(`REVOKE ${SCHEMA_OWNER_ROLE} FROM ${role}`);
      await cluster.end();
    }
  });
});
