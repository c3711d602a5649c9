// The database deploy step and the least-privilege contract around it. `npm run migrate` (and
// `npm start`, the test setup and the test supports, through deployDatabase) connects with the
// cluster's admin credential, creates the roles with their passwords from configuration, applies
// every service's migrations and hands every schema object to a NOLOGIN owner role that no
// service role is a member of. Services never see that credential: each process connects with
// its own role's URL (roleDatabaseUrl) and refuses to run when the connection holds more than a
// service needs (assertServiceRole).
import pg from 'pg';
import { AUTH_SCHEMA, migrateAuth } from './auth/api-keys.js';
import { isDevelopment, platformEndpoints } from './config.js';
import {
  createPool,
  migrate,
  platformMigrations,
  readMigrations,
  urlForRole,
  type Queryable,
} from './db.js';
import { postgresConnection } from './transport-security.js';

/** Owns every service schema and object; NOLOGIN, so only the deploy step (SET ROLE) can act as it. */
export const SCHEMA_OWNER_ROLE = 'ledgerline_owner';

export interface DatabaseRole {
  readonly name: string;
  /** LOGIN roles are what services connect as (password from configuration); NOLOGIN roles group privileges. */
  readonly login: boolean;
}

/** What a service declares about its database: its schema, its migrations and its roles. */
export interface ServiceDatabase {
  readonly service: string;
  readonly schema: string;
  /** The role the platform migration grants the outbox and consumer positions to. */
  readonly appRole: string;
  /** Every role its migrations grant to; created (or corrected) by the deploy step first. */
  readonly roles: readonly DatabaseRole[];
  readonly migrationsDir: string;
  /**
   * Schemas of read contracts its migrations publish for other services (contracts/sql/), such
   * as the ledger's `ledger_read`: handed to the owner and checked like its own schema.
   */
  readonly readSchemas?: readonly string[];
}

const ROLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** `ledger_app` → `LEDGER_APP_PASSWORD`: what the deploy step sets the role's password to. */
export function passwordVariable(role: string): string {
  return `${role.toUpperCase()}_PASSWORD`;
}

/** `ledger_app` → `LEDGER_APP_DATABASE_URL`: the only database URL a service process receives. */
export function databaseUrlVariable(role: string): string {
  return `${role.toUpperCase()}_DATABASE_URL`;
}

/** The password a role has on a development machine; refused anywhere else. */
export function developmentPassword(role: string): string {
  return `${role}_dev`;
}

/** Every LOGIN role of `services`, each once, in declaration order. */
export function loginRoles(services: readonly ServiceDatabase[]): string[] {
  const names = services.flatMap((s) => s.roles.filter((r) => r.login).map((r) => r.name));
  return [...new Set(names)];
}

/**
 * The password of every LOGIN role from `<ROLE>_PASSWORD`. Development falls back to the
 * development password; anywhere else a missing or development password is refused, naming
 * every variable at once.
 */
export function rolePasswordsFromEnv(
  env: NodeJS.ProcessEnv,
  services: readonly ServiceDatabase[],
): Record<string, string> {
  const development = isDevelopment(env);
  const passwords: Record<string, string> = {};
  const problems: string[] = [];
  for (const role of loginRoles(services)) {
    const variable = passwordVariable(role);
    const value = env[variable];
    if (value === undefined || value === '') {
      if (development) passwords[role] = developmentPassword(role);
      else problems.push(`${variable} is missing`);
    } else if (!development && value === developmentPassword(role)) {
      problems.push(`${variable} is the development default`);
    } else {
      passwords[role] = value;
    }
  }
  if (problems.length > 0) {
    throw new Error(`refusing to deploy with development secrets: ${problems.join('; ')}`);
  }
  return passwords;
}

/**
 * The URL a service connects with as `role`: `<ROLE>_DATABASE_URL`, or on a development machine
 * the platform's database as that role with `<ROLE>_PASSWORD` or its development password.
 */
export function roleDatabaseUrl(env: NodeJS.ProcessEnv, role: string): string {
  const configured = env[databaseUrlVariable(role)];
  if (configured !== undefined && configured !== '') return configured;
  if (!isDevelopment(env)) {
    throw new Error(`${databaseUrlVariable(role)} is required outside development`);
  }
  const password = env[passwordVariable(role)];
  return urlForRole(
    platformEndpoints(env).databaseUrl,
    role,
    password === undefined || password === '' ? developmentPassword(role) : password,
  );
}

// ---------------------------------------------------------------------------------------------
// The deploy step

export interface DeployReport {
  /** Per schema, the migration versions applied by this run (empty when it was up to date). */
  applied: Record<string, number[]>;
  /** Roles created, roles whose attributes or password were corrected, objects handed to the owner. */
  changes: string[];
}

/**
 * Longest wait for a deployment's connection. A deployment runs once, nobody waits on it the way
 * a request does, and a host that stalls for seconds (a busy neighbour, a paused VM) must not
 * fail it: after a stall Node runs the expired timers before it reads the sockets, so a short
 * bound gives up a connection that has in fact arrived.
 */
const DEPLOY_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Creates the owner and service roles, applies every service's migrations and gives every object
 * in the service schemas to the owner role; then checks the result and throws naming what is
 * wrong. Idempotent: a second run changes nothing. `adminUrl` is a superuser (local stack) or a
 * role with CREATEROLE that may create schemas (RDS's master user).
 */
export async function deployDatabase(
  adminUrl: string,
  services: readonly ServiceDatabase[],
  passwords: Readonly<Record<string, string>>,
): Promise<DeployReport> {
  const report: DeployReport = { applied: {}, changes: [] };
  const admin = createPool(adminUrl, {
    max: 1,
    applicationName: 'ledgerline-deploy',
    connectTimeoutMs: DEPLOY_CONNECT_TIMEOUT_MS,
  });
  try {
    await ensureRole(admin, SCHEMA_OWNER_ROLE, { login: false }, report);
    await ensureAdminCanActAsOwner(admin, report);
    const roles = new Map<string, DatabaseRole>();
    for (const role of services.flatMap((s) => s.roles)) roles.set(role.name, role);
    for (const role of roles.values()) {
      const password = passwords[role.name];
      if (role.login && (password === undefined || password === '')) {
        throw new Error(`no password for role ${role.name} (${passwordVariable(role.name)})`);
      }
      await ensureRole(admin, role.name, { login: role.login }, report);
      if (role.login && password !== undefined) {
        await ensurePassword(admin, adminUrl, role.name, password, report);
      }
    }
    for (const service of services) {
      report.applied[service.schema] = await migrate(
        admin,
        service.schema,
        [
          ...platformMigrations(service.schema, service.appRole),
          ...(await readMigrations(service.migrationsDir)),
        ],
        passwords,
      );
      for (const schema of ownedSchemas(service)) await giveSchemaToOwner(admin, schema, report);
    }
    // API keys: one auth schema that every service's HTTP edge reads as its app role (SELECT,
    // and UPDATE of last_used_at, through the ledgerline_edge group).
    report.applied[AUTH_SCHEMA] = await migrateAuth(
      admin,
      services.flatMap((s) => (s.appRole === undefined ? [] : [s.appRole])),
    );
    // Keys are the owner's like every other schema: no service role may create or revoke one.
    await giveSchemaToOwner(admin, AUTH_SCHEMA, report);
    const problems = await leastPrivilegeProblems(admin, services);
    if (problems.length > 0) {
      throw new Error(`the database does not hold least privilege: ${problems.join('; ')}`);
    }
  } finally {
    await admin.end();
  }
  return report;
}

interface RoleRow {
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
}

const FORBIDDEN_ATTRIBUTES = [
  ['rolsuper', 'SUPERUSER'],
  ['rolcreaterole', 'CREATEROLE'],
  ['rolcreatedb', 'CREATEDB'],
  ['rolreplication', 'REPLICATION'],
  ['rolbypassrls', 'BYPASSRLS'],
] as const;

/**
 * Creates `role` without any cluster-wide power, or corrects an existing one. Writes only when
 * something differs: concurrent ALTER ROLEs of one role fail with "tuple concurrently updated",
 * and test files deploy their databases in parallel.
 */
async function ensureRole(
  admin: Queryable,
  role: string,
  options: { login: boolean },
  report: DeployReport,
): Promise<void> {
  if (!ROLE_NAME.test(role)) throw new Error(`role name ${JSON.stringify(role)} is not allowed`);
  const name = pg.escapeIdentifier(role);
  const attributes = `${options.login ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS`;
  const { rows } = await admin.query<RoleRow>(
    `SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
       FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  const existing = rows[0];
  if (existing === undefined) {
    // Roles are cluster-wide: another deploy (a parallel test file) may create it first.
    await admin.query(
      `DO $$ BEGIN CREATE ROLE ${name} ${attributes};
       EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
    );
    report.changes.push(`created role ${role}`);
    return;
  }
  const wrong =
    existing.rolcanlogin !== options.login ||
    FORBIDDEN_ATTRIBUTES.some(([column]) => existing[column]);
  if (wrong) {
    await admin.query(`ALTER ROLE ${name} ${attributes}`);
    report.changes.push(`corrected the attributes of role ${role}`);
  }
}

/**
 * Sets the password when the role cannot log in with it. Trying first (rather than setting it
 * every time) leaves the stored hash alone when it is right, so connections authenticating at
 * that moment are not disturbed; a changed configuration (rotation) is applied.
 */
async function ensurePassword(
  admin: Queryable,
  adminUrl: string,
  role: string,
  password: string,
  report: DeployReport,
): Promise<void> {
  const probe = new pg.Client({
    // The same TLS as every platform connection (sslmode, DATABASE_SSL_CA_FILE): a server that
    // demands TLS would otherwise refuse the probe with 28000 and look like a missing password.
    ...postgresConnection(urlForRole(adminUrl, role, password), process.env),
    connectionTimeoutMillis: DEPLOY_CONNECT_TIMEOUT_MS,
    application_name: 'ledgerline-deploy-probe',
  });
  try {
    await probe.connect();
    return;
  } catch (error) {
    const code = (error as { code?: string }).code;
    // 28P01 invalid_password; 28000 invalid_authorization_specification (a role just created
    // without a password). Anything else (server down, pg_hba) is the caller's to see.
    if (code !== '28P01' && code !== '28000') throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  await admin.query(
    `ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(password)}`,
  );
  report.changes.push(`set the password of role ${role}`);
}

/** A non-superuser admin (a cloud master user) must be a member of the owner to hand it objects. */
async function ensureAdminCanActAsOwner(admin: Queryable, report: DeployReport): Promise<void> {
  const { rows } = await admin.query<{ super: boolean; member: boolean }>(
    `SELECT r.rolsuper AS super, pg_has_role(current_user, $1, 'SET') AS member
       FROM pg_roles r WHERE r.rolname = current_user`,
    [SCHEMA_OWNER_ROLE],
  );
  const self = rows[0];
  if (self === undefined || self.super || self.member) return;
  await admin.query(`GRANT ${pg.escapeIdentifier(SCHEMA_OWNER_ROLE)} TO CURRENT_USER`);
  report.changes.push(`granted ${SCHEMA_OWNER_ROLE} to the deploying role`);
}

/**
 * Migrations run as the deploying role (they create roles and grants, which the NOLOGIN owner
 * may not), so what they create is handed to the owner afterwards: the schema, its tables,
 * views and free-standing sequences (a serial's sequence and every index follow their table),
 * and its functions. Only what is not the owner's yet is touched.
 */
async function giveSchemaToOwner(
  admin: Queryable,
  schema: string,
  report: DeployReport,
): Promise<void> {
  const { rows } = await admin.query<{ statement: string; object: string }>(
    `WITH owner AS (SELECT oid FROM pg_roles WHERE rolname = $2)
     SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, $2) AS statement,
            'schema ' || n.nspname AS object
       FROM pg_namespace n, owner WHERE n.nspname = $1 AND n.nspowner <> owner.oid
     UNION ALL
     SELECT format('ALTER %s %I.%I OWNER TO %I',
                   CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                  ELSE 'TABLE' END,
                   n.nspname, c.relname, $2),
            'relation ' || n.nspname || '.' || c.relname
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, owner
      WHERE n.nspname = $1 AND c.relowner <> owner.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
        AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                 AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
     UNION ALL
     SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $2),
            'routine ' || p.oid::regprocedure::text
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, owner
      WHERE n.nspname = $1 AND p.proowner <> owner.oid`,
    [schema, SCHEMA_OWNER_ROLE],
  );
  for (const row of rows) {
    await admin.query(row.statement);
    report.changes.push(`${row.object} now owned by ${SCHEMA_OWNER_ROLE}`);
  }
}

/** Every schema a service's migrations create: its own and the read contracts it publishes. */
function ownedSchemas(service: ServiceDatabase): string[] {
  return [service.schema, ...(service.readSchemas ?? [])];
}

/**
 * What breaks least privilege in this database, in words an operator can act on (empty: none):
 * the owner can log in; a service role has a cluster-wide power, is a member of the owner or
 * owns anything; a schema or an object in it is not the owner's.
 */
export async function leastPrivilegeProblems(
  db: Queryable,
  services: readonly ServiceDatabase[],
): Promise<string[]> {
  const problems: string[] = [];
  const owner = await db.query<{ rolcanlogin: boolean }>(
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [SCHEMA_OWNER_ROLE],
  );
  const ownerRow = owner.rows[0];
  if (ownerRow === undefined) problems.push(`role ${SCHEMA_OWNER_ROLE} does not exist`);
  else if (ownerRow.rolcanlogin) problems.push(`${SCHEMA_OWNER_ROLE} can log in`);
  const roles = [...new Set(services.flatMap((s) => s.roles.map((r) => r.name)))];
  for (const role of roles) problems.push(...(await serviceRoleProblems(db, role)));
  // The auth schema is every deploy's (API keys for each service's edge).
  for (const schema of [...services.flatMap(ownedSchemas), AUTH_SCHEMA]) {
    const { rows } = await db.query<{ object: string }>(
      `SELECT 'schema ' || n.nspname AS object FROM pg_namespace n
        WHERE n.nspname = $1 AND n.nspowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
       UNION ALL
       SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
       UNION ALL
       SELECT 'routine ' || p.oid::regprocedure::text FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)`,
      [schema, SCHEMA_OWNER_ROLE],
    );
    for (const row of rows) problems.push(`${row.object} is not owned by ${SCHEMA_OWNER_ROLE}`);
  }
  return problems;
}

/** Why `role` holds more than a service role may (empty: nothing). */
async function serviceRoleProblems(db: Queryable, role: string): Promise<string[]> {
  const { rows } = await db.query<
    RoleRow & { owner_member: boolean; owns_schemas: boolean; owns_objects: boolean }
  >(
    `SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication,
            r.rolbypassrls,
            EXISTS (SELECT 1 FROM pg_roles o WHERE o.rolname = $2
                       AND pg_has_role(r.oid, o.oid, 'MEMBER')) AS owner_member,
            EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid) AS owns_schemas,
            EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)
              OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.proowner = r.oid) AS owns_objects
       FROM pg_roles r WHERE r.rolname = $1`,
    [role, SCHEMA_OWNER_ROLE],
  );
  const row = rows[0];
  if (row === undefined) return [`role ${role} does not exist`];
  const problems = FORBIDDEN_ATTRIBUTES.filter(([column]) => row[column]).map(
    ([, attribute]) => `${role} has ${attribute}`,
  );
  if (row.owner_member) problems.push(`${role} is a member of ${SCHEMA_OWNER_ROLE}`);
  if (row.owns_schemas) problems.push(`${role} owns a schema`);
  if (row.owns_objects) problems.push(`${role} owns tables or functions`);
  return problems;
}

/**
 * A service's first act at start: the connection must be its own role and hold nothing more
 * (no superuser, no owner, no cluster-wide power). A service handed the admin's URL refuses to
 * run, in every environment: the triggers that keep the books append-only bind every role, but
 * their owner could disable them.
 */
export async function assertServiceRole(
  db: Queryable,
  service: string,
  role: string,
): Promise<void> {
  const { rows } = await db.query<{ user: string }>('SELECT current_user AS user');
  const user = rows[0]?.user ?? '?';
  const problems =
    user === role ? await serviceRoleProblems(db, role) : [`it is connected as ${user}`];
  if (problems.length > 0) {
    throw new Error(
      `${service} must connect as ${role} and nothing more, but ${problems.join('; ')}. ` +
        `Give it ${databaseUrlVariable(role)}; migrations and roles are the deploy step (npm run migrate).`,
    );
  }
}
