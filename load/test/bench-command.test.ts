// `npm run bench` as a command: it reads its settings from the environment, and one it cannot use
// stops it before anything starts, naming the setting and the value; none is left out silently
// (BENCH_RATES used to drop "abc" from "250,abc,1000" and run the other steps). And a SIGTERM to
// the bench alone stops the services it started (they used to keep running), and the database
// and processes of `npm run bench:ledger` too, with the signal's exit code.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { platformEndpoints } from '@ledgerline/platform/config';
import { runScript } from '@ledgerline/testkit/run-script';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

const bench = (env: Record<string, string>) => runScript('load/src/bench.ts', [], { env });

test.each([
  [{ BENCH_RATES: '250,abc,1000' }, 'BENCH_RATES: "abc" is not a rate'],
  [{ BENCH_RATES: '250,,1000' }, 'BENCH_RATES: "" is not a rate'],
  [{ BENCH_RATES: '0' }, 'BENCH_RATES: "0" is not a rate'],
  [{ BENCH_INSTANCES: 'processor:x' }, 'BENCH_INSTANCES: "processor:x" is not <service>:<count>'],
])(
  'npm run bench with %j stops before anything starts, naming it',
  async (env, said) => {
    const answer = await bench(env);
    expect(answer.status).toBe(1);
    expect(answer.stderr).toContain(said);
    expect(answer.stderr).not.toContain('[stack]');
  },
  70_000,
);

/** Live processes whose parent is `pid` and whose command line runs a service. */
function serviceChildren(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('/services/')) {
        found.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The test databases of bench runs (`test_bench_…`, and the raw ceiling's `bench_raw_…`). */
async function benchDatabases(): Promise<string[]> {
  const client = new pg.Client({ connectionString: platformEndpoints().databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'test\\_bench\\_%' OR datname LIKE 'bench\\_raw\\_%'`,
    );
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

/**
 * Starts a bench script, waits until `ready` says it is running its services, sends SIGTERM
 * and returns how it ended: its exit code, its stderr, the service processes it had started
 * (still alive or not) and the bench databases that appeared while it ran.
 */
async function terminated(
  script: string,
  env: Record<string, string>,
  ready: (stderr: string, services: number[]) => boolean,
) {
  const before = new Set(await benchDatabases());
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let services: number[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  let running = true;
  void exited.then(() => (running = false));
  try {
    while (!ready(stderr, (services = serviceChildren(child.pid ?? -1)))) {
      if (!running) throw new Error(`${script} exited first:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    child.kill('SIGTERM');
    const code = await exited;
    const left = (await benchDatabases()).filter((name) => !before.has(name));
    return { code, stderr, services, alive: services.filter(alive), left };
  } finally {
    child.kill('SIGKILL');
    for (const pid of services.filter(alive)) process.kill(pid, 'SIGKILL');
  }
}

test('a SIGTERM to the bench in the middle of a step stops what it started, and exits 143', async () => {
  // In a step the bench's own pool holds connections into the run's database: their end, when
  // the database is dropped, used to crash the bench (exit 1, an unhandled pg error).
  let stepSeenAt = 0;
  const ended = await terminated(
    'load/src/bench.ts',
    { BENCH_RATES: '50', BENCH_STEP_S: '60', BENCH_OVERLOAD: '0', BENCH_WARMUP_S: '2' },
    (stderr) => {
      if (!stderr.includes('step 1/1')) return false;
      stepSeenAt ||= Date.now();
      return Date.now() - stepSeenAt > 3_000;
    },
  );
  expect(ended.services).toHaveLength(2);
  expect(ended.code).toBe(143);
  expect(ended.stderr).toContain('bench: SIGTERM: stopping the services it started');
  expect(ended.stderr).not.toMatch(/Unhandled|node:events/);
  expect(ended.alive).toEqual([]);
  expect(ended.left).toEqual([]);
}, 180_000);

test('a SIGTERM to the ledger bench while it posts stops its ledgers and drops its database', async () => {
  const ended = await terminated(
    'services/ledger/bench/ledger-bench.ts',
    {},
    (_stderr, services) => services.length === 2,
  );
  expect(ended.code).toBe(143);
  expect(ended.stderr).toContain('ledger bench: SIGTERM: stopping the services it started');
  expect(ended.stderr).not.toMatch(/Unhandled|node:events/);
  expect(ended.alive).toEqual([]);
  expect(ended.left).toEqual([]);
}, 240_000);
