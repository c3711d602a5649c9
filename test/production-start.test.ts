// Fail closed, proven on real service processes: each service's main.ts started with
// LEDGERLINE_ENV=production (the way a deployment runs it, through spawnService) refuses to start
// when it is handed the admin's credential or development secrets, naming each one, and exits
// before it touches Kafka. The database is deployed first (npm run migrate's function), so the
// refusals are the services' own, not a missing schema.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { urlForRole } from '@ledgerline/platform/db';
import {
  SCHEMA_OWNER_ROLE,
  databaseUrlVariable,
  loginRoles,
  type ServiceDatabase,
} from '@ledgerline/platform/deploy';
import {
  createTestEnvironment,
  deployTestDatabase,
  spawnService,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { auditDatabase } from '@ledgerline/audit/database';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { processorDatabase } from '@ledgerline/processor/database';
import { reconciliationDatabase } from '@ledgerline/reconciliation/database';

const SERVICES: readonly ServiceDatabase[] = [
  ledgerDatabase,
  processorDatabase,
  reconciliationDatabase,
  auditDatabase,
];

let env: TestEnvironment;
let logDir: string;
let cluster: pg.Client;
// A deploying role as a cloud database hands it out (RDS's master user): CREATEROLE and able to
// act as the schema owner, with a password of its own, so only the role check can refuse it.
// Letters only, so the role name needs no quoting.
const deployer = `t_deployer_${[...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('')}`;
const deployerPassword = randomBytes(18).toString('base64url');

beforeAll(async () => {
  env = await createTestEnvironment('production-start', []);
  await deployTestDatabase(env, SERVICES);
  logDir = await mkdtemp(path.join(tmpdir(), 'production-start-'));
  cluster = new pg.Client({ connectionString: env.adminDatabaseUrl });
  await cluster.connect();
  await cluster.query(
    `CREATE ROLE ${deployer} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(deployerPassword)}`,
  );
  await cluster.query(`GRANT ${SCHEMA_OWNER_ROLE} TO ${deployer}`);
});

afterAll(async () => {
  await cluster.query(`DROP ROLE IF EXISTS ${deployer}`);
  await cluster.end();
  await env.cleanup();
  await rm(logDir, { recursive: true, force: true });
});

/**
 * Starts the service in production with `settings` and answers why it refused: the message of
 * its fatal 'failed to start' line. Fails when the service became ready instead.
 */
async function refusalOf(
  database: ServiceDatabase,
  label: string,
  settings: Record<string, string>,
): Promise<string> {
  const logFile = path.join(logDir, `${database.service}-${label}.log`);
  const child = await spawnService(database, env, logFile, {
    LEDGERLINE_ENV: 'production',
    ...settings,
  });
  try {
    await expect(child.ready).rejects.toThrow(/exited \(1\) during start-up/);
  } finally {
    await child.stop();
  }
  const lines = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.startsWith('{'));
  const fatal = lines
    .map((l) => JSON.parse(l) as { msg?: string; err?: { message?: string } })
    .find((entry) => entry.msg === 'failed to start');
  if (fatal?.err?.message === undefined) throw new Error(`no refusal in ${logFile}`);
  return fatal.err.message;
}

describe('a service started with LEDGERLINE_ENV=production', () => {
  it.each(SERVICES.map((s) => [s.service, s] as const))(
    '%s refuses a deploying role (the owner’s credential) as its database URL, naming it',
    async (_name, database) => {
      const roles = loginRoles([database]);
      const role = roles[0] as string;
      const message = await refusalOf(database, 'deployer', {
        ...Object.fromEntries(
          roles.map((r) => [
            databaseUrlVariable(r),
            urlForRole(env.adminDatabaseUrl, deployer, deployerPassword),
          ]),
        ),
        // Every other secret is in order: the audit's own signing key, not the development one,
        // and the ledger's dual-control settings.
        AUDIT_SIGNING_KEY: generateKeyPairSync('ed25519')
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
        LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR: '*=1000000',
        LEDGER_ADJUSTMENT_DAILY_CAP_MINOR: '*=10000000',
      });
      expect(message).toContain(
        `${database.service} must connect as ${role} and nothing more, but it is connected as ${deployer}`,
      );
      expect(message).toContain(`Give it ${databaseUrlVariable(role)}`);
    },
  );

  it.each(SERVICES.map((s) => [s.service, s] as const))(
    '%s refuses development secrets and the admin URL, naming every one at once',
    async (_name, database) => {
      const [first, ...others] = loginRoles([database]);
      const message = await refusalOf(database, 'secrets', {
        // The admin URL in the environment: the deploy step's, never a service's.
        DATABASE_URL: env.adminDatabaseUrl,
        // Kafka over SASL (which means TLS) without a user or password, and an https registry
        // without credentials.
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        SCHEMA_REGISTRY_URL: 'https://registry.example.invalid/apis/ccompat/v7',
        // A second role (the audit's reader) with no URL at all.
        ...Object.fromEntries(others.map((role) => [databaseUrlVariable(role), ''])),
      });
      expect(message).toMatch(
        new RegExp(`^${database.service} refuses to start with LEDGERLINE_ENV=production: `),
      );
      const expected = [
        // spawnService hands it its role's URL with the development password.
        `${databaseUrlVariable(first as string)} holds the development password`,
        ...others.map((role) => `${databaseUrlVariable(role)} is missing`),
        'DATABASE_URL (the deploy step’s admin URL) is set',
        'KAFKA_SASL_USERNAME is missing',
        'KAFKA_SASL_PASSWORD is missing',
        'SCHEMA_REGISTRY_PASSWORD is missing',
        ...(database.service === 'audit' ? ['AUDIT_SIGNING_KEY_FILE is required'] : []),
        ...(database.service === 'ledger'
          ? [
              'LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR is missing',
              'LEDGER_ADJUSTMENT_DAILY_CAP_MINOR is missing',
            ]
          : []),
      ];
      for (const problem of expected) expect(message).toContain(problem);
    },
  );

  it('the same process starts in development, so the refusals above are production’s', async () => {
    const child = await spawnService(
      processorDatabase,
      env,
      path.join(logDir, 'processor-development.log'),
    );
    try {
      await child.ready;
    } finally {
      await child.stop();
    }
  });
});
