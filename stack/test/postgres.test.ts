// PostgreSQL: reachable with the settings a ledger needs, and its data survives a restart.
import pg from 'pg';
import { startStack } from '../src/index.js';
import { expectSuccess, isolatedStack, runCli, type IsolatedStack } from './support.js';

async function query<T extends pg.QueryResultRow>(
  connectionString: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('the shared stack', () => {
  let databaseUrl: string;

  beforeAll(async () => {
    // Starts the shared stack if needed; never stops it (others may be using it).
    databaseUrl = (await startStack()).databaseUrl;
  }, 300_000);

  test('is reachable, with the ledger and registry databases and crash-safe settings', async () => {
    const databases = await query<{ datname: string }>(
      databaseUrl,
      "SELECT datname FROM pg_database WHERE datname IN ('ledgerline', 'registry') ORDER BY datname",
    );
    expect(databases.map((row) => row.datname)).toEqual(['ledgerline', 'registry']);

    const settings = await query<{ name: string; setting: string; unit: string | null }>(
      databaseUrl,
      `SELECT name, setting, unit FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections',
                       'shared_buffers', 'listen_addresses')`,
    );
    const byName = Object.fromEntries(settings.map((row) => [row.name, row.setting]));
    expect(byName).toEqual({
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
      max_connections: '200',
      shared_buffers: String((512 * 1024) / 8), // in 8 kB pages
      listen_addresses: '127.0.0.1',
    });
  });
});

describe('an isolated stack with only PostgreSQL', () => {
  let stack: IsolatedStack;

  beforeAll(async () => {
    // Kafka and the registry "external": only PostgreSQL starts in this home.
    stack = await isolatedStack({
      KAFKA_BROKERS: '127.0.0.1:9',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:9/apis/ccompat/v7',
    });
  });

  afterAll(async () => {
    await runCli(['stop'], stack.env);
    await stack.remove();
  }, 120_000);

  test('keeps committed rows across a stop and a start', async () => {
    const first = await runCli(['start'], stack.env);
    expectSuccess(first);
    const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${stack.ports.postgres}/ledgerline`;
    expect(first.stdout).toContain(`DATABASE_URL=${databaseUrl}`);

    await query(
      databaseUrl,
      'CREATE TABLE survives (id int PRIMARY KEY, amount_minor bigint NOT NULL)',
    );
    await query(databaseUrl, 'INSERT INTO survives VALUES (1, 12345), (2, 9007199254740991)');

    expect(await runCli(['stop'], stack.env)).toMatchObject({ exitCode: 0 });
    await expect(query(databaseUrl, 'SELECT 1')).rejects.toThrow();

    const second = await runCli(['start'], stack.env);
    expectSuccess(second);
    expect(second.stderr).not.toContain('initialising the cluster');
    const rows = await query<{ id: number; amount_minor: string }>(
      databaseUrl,
      'SELECT id, amount_minor FROM survives ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 1, amount_minor: '12345' },
      { id: 2, amount_minor: '9007199254740991' },
    ]);
  }, 120_000);
});
