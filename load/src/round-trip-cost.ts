// What one PostgreSQL round trip costs in CPU on this machine, back to back and with the
// client idle between round trips. A payment crosses ~10 hand-offs (HTTP, statements, Kafka
// requests); at low rates every one of them wakes a sleeping process, and on a virtual machine
// a wake-up costs several times the work it delivers. The bench prints these figures beside
// its CPU per payment so that a reader can tell the cost of the code from the cost of waking.
//
//   DATABASE_URL=<postgres URL> npx tsx load/src/round-trip-cost.ts   prints the figures as JSON
//
// CPU comes from schedstat (nanoseconds on a CPU) of the client's main thread and of its
// PostgreSQL backend: exact, unlike the 10 ms ticks of /proc/<pid>/stat.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { parseSchedstat } from '@ledgerline/testkit/procstat';

/** The pauses between round trips measured, ms (0: back to back), and how many at each. */
export const ROUND_TRIP_PLAN: readonly { readonly gapMs: number; readonly roundTrips: number }[] = [
  { gapMs: 0, roundTrips: 3_000 },
  { gapMs: 1, roundTrips: 1_000 },
  { gapMs: 10, roundTrips: 300 },
];

export interface RoundTripCost {
  readonly gapMs: number;
  readonly roundTrips: number;
  /** CPU of the client's main thread per round trip, µs (the pause's timer included). */
  readonly clientUs: number;
  /** CPU of the PostgreSQL backend per round trip, µs. */
  readonly serverUs: number;
}

/** Per round trip, from the CPU nanoseconds of both sides before and after `roundTrips`. */
export function costPerRoundTrip(
  gapMs: number,
  roundTrips: number,
  client: { readonly beforeNs: number; readonly afterNs: number },
  server: { readonly beforeNs: number; readonly afterNs: number },
): RoundTripCost {
  if (!(Number.isSafeInteger(roundTrips) && roundTrips > 0)) {
    throw new RangeError(`roundTrips must be a positive integer, got ${roundTrips}`);
  }
  const us = (side: { beforeNs: number; afterNs: number }) => {
    if (side.afterNs < side.beforeNs) throw new RangeError('CPU time went backwards');
    return (side.afterNs - side.beforeNs) / 1_000 / roundTrips;
  };
  return { gapMs, roundTrips, clientUs: us(client), serverUs: us(server) };
}

/** CPU time of a process's main thread (its task whose id is the pid). */
async function onCpuNs(pid: number): Promise<number> {
  return parseSchedstat(await readFile(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')).onCpuNs;
}

/**
 * Measures in this process: one connection, one prepared statement, the plan's round trips at
 * each pause. Run it in a process of its own (measureRoundTripCostApart) so that nothing else
 * the caller does counts as the client's CPU.
 */
export async function measureRoundTripCost(
  databaseUrl: string,
  plan: readonly { gapMs: number; roundTrips: number }[] = ROUND_TRIP_PLAN,
): Promise<RoundTripCost[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'round-trip' });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = rows[0]!.pid;
    const roundTrip = (i: number) =>
      client.query({ name: 'round-trip', text: 'SELECT $1::int + 1 AS n', values: [i] });
    for (let i = 0; i < 500; i += 1) await roundTrip(i); // warm: JIT, plan, buffers
    const costs: RoundTripCost[] = [];
    for (const { gapMs, roundTrips } of plan) {
      const client0 = await onCpuNs(process.pid);
      const server0 = await onCpuNs(backend);
      for (let i = 0; i < roundTrips; i += 1) {
        await roundTrip(i);
        if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      const client1 = await onCpuNs(process.pid);
      const server1 = await onCpuNs(backend);
      costs.push(
        costPerRoundTrip(
          gapMs,
          roundTrips,
          { beforeNs: client0, afterNs: client1 },
          { beforeNs: server0, afterNs: server1 },
        ),
      );
    }
    return costs;
  } finally {
    await client.end();
  }
}

/**
 * The same, measured by a child process (this file as a script), answered from its JSON. The
 * URL travels in the child's environment: on its command line anyone could read the password.
 */
export async function measureRoundTripCostApart(databaseUrl: string): Promise<RoundTripCost[]> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url)],
      { cwd: REPO_ROOT, timeout: 60_000, env: { ...process.env, DATABASE_URL: databaseUrl } },
      (error, out) => (error ? reject(error) : resolve(out)),
    );
  });
  return JSON.parse(stdout) as RoundTripCost[];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env['DATABASE_URL'];
  if (url === undefined) {
    process.stderr.write('usage: DATABASE_URL=<postgres URL> round-trip-cost.ts\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(await measureRoundTripCost(url))}\n`);
}
