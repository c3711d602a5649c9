// `npm run bench` as a command: it reads its settings from the environment, and one it cannot use
// stops it before anything starts, naming the setting and the value; none is left out silently
// (BENCH_RATES used to drop "abc" from "250,abc,1000" and run the other steps). And a SIGTERM to
// the bench alone stops the services it started (they used to keep running).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
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

test('a SIGTERM to the bench stops the ledger and the processor it started', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'load/src/bench.ts')], {
    cwd: ROOT,
    env: { ...process.env, BENCH_RATES: '50', BENCH_STEP_S: '60', BENCH_OVERLOAD: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let services: number[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  try {
    // The services are up once the bench measures a round trip or warms up.
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (/round-trip cost|warm-up/.test(stderr)) resolve();
      });
      void exited.then(() => reject(new Error(`the bench exited first:\n${stderr}`)));
    });
    services = serviceChildren(child.pid ?? -1);
    expect(services).toHaveLength(2);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toContain('bench: SIGTERM: stopping the services it started');
    expect(services.filter(alive)).toEqual([]);
  } finally {
    child.kill('SIGKILL');
    for (const pid of services.filter(alive)) process.kill(pid, 'SIGKILL');
  }
}, 120_000);
